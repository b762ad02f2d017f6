// netposture report: table filters and the reachability matrix, drawn from
// the JSON in #matrix-data. Every value from the cluster is set as text
// (textContent, setAttribute), never parsed as markup.
"use strict";

// Namespaces per page of the matrix, in each direction.
const PAGE = 40;
const DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function element(tag, attributes, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    node.setAttribute(name, value);
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

// Hides the rows of the table a filter box names whose namespace lacks its text.
for (const box of document.querySelectorAll("input.filter")) {
  const table = document.getElementById(box.dataset.filter);
  box.addEventListener("input", () => {
    const text = box.value.trim();
    for (const row of table.tBodies[0].rows) {
      row.hidden = text !== "" && !(row.dataset.namespace || "").includes(text);
    }
  });
}

function drawMatrix(data, view) {
  const digit = new Map([...DIGITS].map((c, i) => [c, i]));
  const namespaces = data.namespaces;
  const undetermined = data.enforcement === "Unknown";

  function valueAt(source, destination) {
    const row = data.rows[source];
    let id = 0;
    for (let i = 0; i < data.width; i++) {
      id = id * 64 + digit.get(row[destination * data.width + i]);
    }
    return data.values[id];
  }

  // Heat from white (nothing) to deep red (every port), on a log scale.
  function heat(ports) {
    if (ports === 0) {
      return "";
    }
    const share = Math.log(ports + 1) / Math.log(data.allPorts + 1);
    return "hsl(" + Math.round(45 - 45 * share) + ", 90%, " + Math.round(88 - 43 * share) + "%)";
  }

  const state = { filter: "", rowPage: 0, columnPage: 0 };
  const controls = element("div", { class: "controls" });
  const filter = element("input", {
    type: "search",
    placeholder: "filter namespaces (rows and columns)",
    "aria-label": "filter matrix namespaces",
  });
  const status = element("span", { class: "page-status" });
  controls.append(filter, status);
  const overview = element("div", { class: "overview" });
  const table = element("table", { class: "matrix" });
  const legend = element("p", { class: "legend note" });
  legend.append(
    element("span", { style: "background:" + heat(1) }), " 1 port  ",
    element("span", { style: "background:" + heat(100) }), " 100 ports  ",
    element("span", { style: "background:" + heat(data.allPorts) }), " all ports  ",
    "~ CNI-dependent  ",
    undetermined ? "? undetermined" : "",
  );
  view.replaceChildren(controls, overview, table, legend);

  function visible() {
    const text = state.filter;
    const shown = [];
    namespaces.forEach((name, index) => {
      if (text === "" || name.includes(text)) {
        shown.push(index);
      }
    });
    return shown;
  }

  function pager(label, key, pages) {
    const box = element("span", { class: "pager", "data-pager": key });
    const previous = element("button", { type: "button" }, "◀");
    const next = element("button", { type: "button" }, "▶");
    previous.disabled = state[key] === 0;
    next.disabled = state[key] >= pages - 1;
    previous.addEventListener("click", () => { state[key]--; render(); });
    next.addEventListener("click", () => { state[key]++; render(); });
    box.append(label + " page " + (state[key] + 1) + " of " + pages + " ", previous, next);
    return box;
  }

  // Per page pair, the share of its cells that reach anything; computed
  // once per filter, since paging does not change it.
  let sharesOf = { filter: null, shares: [] };
  function blockShares(shown, pages) {
    if (sharesOf.filter === state.filter) {
      return sharesOf.shares;
    }
    const shares = [];
    for (let r = 0; r < pages; r++) {
      for (let c = 0; c < pages; c++) {
        const rows = shown.slice(r * PAGE, (r + 1) * PAGE);
        const columns = shown.slice(c * PAGE, (c + 1) * PAGE);
        let open = 0;
        for (const s of rows) {
          for (const d of columns) {
            const value = valueAt(s, d);
            if (value.allowed + value.cniDependent > 0) {
              open++;
            }
          }
        }
        shares.push(open / (rows.length * columns.length));
      }
    }
    sharesOf = { filter: state.filter, shares: shares };
    return shares;
  }

  // One square per page pair, shaded by the share of its cells that reach anything.
  function drawOverview(shown, pages) {
    overview.replaceChildren();
    overview.hidden = pages < 2;
    if (pages < 2) {
      return;
    }
    overview.style.gridTemplateColumns = "repeat(" + pages + ", 8px)";
    const shares = blockShares(shown, pages);
    // Shaded against the busiest square, so sparse clusters still show contrast.
    const most = Math.max(...shares) || 1;
    for (let r = 0; r < pages; r++) {
      for (let c = 0; c < pages; c++) {
        const rows = shown.slice(r * PAGE, (r + 1) * PAGE);
        const columns = shown.slice(c * PAGE, (c + 1) * PAGE);
        const share = shares[r * pages + c];
        const block = element("button", {
          type: "button",
          title: namespaces[rows[0]] + "… → " + namespaces[columns[0]] + "…: " + Math.round(share * 100) + "% of namespace pairs reach",
          "data-block": r + "," + c,
          style: "background:hsl(0, 80%, " + Math.round(97 - 52 * share / most) + "%)",
        });
        if (r === state.rowPage && c === state.columnPage) {
          block.classList.add("current");
        }
        block.addEventListener("click", () => {
          state.rowPage = r;
          state.columnPage = c;
          render();
        });
        overview.append(block);
      }
    }
  }

  function render() {
    const shown = visible();
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    state.rowPage = Math.min(state.rowPage, pages - 1);
    state.columnPage = Math.min(state.columnPage, pages - 1);
    status.replaceChildren(
      shown.length + " of " + namespaces.length + " namespaces ",
      pager("rows", "rowPage", pages),
      " ",
      pager("columns", "columnPage", pages),
    );
    drawOverview(shown, pages);
    const rows = shown.slice(state.rowPage * PAGE, (state.rowPage + 1) * PAGE);
    const columns = shown.slice(state.columnPage * PAGE, (state.columnPage + 1) * PAGE);
    const head = element("tr");
    head.append(element("th", {}, "from \\ to"));
    for (const d of columns) {
      head.append(element("th", { scope: "col" }, namespaces[d]));
    }
    const body = element("tbody");
    for (const s of rows) {
      const row = element("tr", { "data-source": namespaces[s] });
      row.append(element("th", { scope: "row" }, namespaces[s]));
      for (const d of columns) {
        const value = valueAt(s, d);
        let text = value.allowed === data.allPorts ? "all" : value.allowed > 0 ? String(value.allowed) : "";
        let title = namespaces[s] + " → " + namespaces[d] + ": " + (value.ports || "nothing");
        if (value.cniDependent > 0) {
          text += "~";
          title += "; only through an ipBlock holding pod IPs (CNI-dependent): " + value.cniPorts;
        }
        const reaches = value.allowed + value.cniDependent > 0;
        if (undetermined && reaches) {
          text += "?";
        }
        const cell = element("td", {
          class: "cell",
          "data-source": namespaces[s],
          "data-destination": namespaces[d],
          "data-ports": String(value.allowed),
          "data-cni-ports": String(value.cniDependent),
          title: title,
        }, text);
        if (value.cniDependent > 0) {
          cell.classList.add("cni");
        }
        if (undetermined && reaches) {
          cell.classList.add("undetermined");
        }
        cell.style.background = heat(value.allowed + value.cniDependent);
        row.append(cell);
      }
      body.append(row);
    }
    const thead = element("thead");
    thead.append(head);
    table.replaceChildren(thead, body);
  }

  filter.addEventListener("input", () => {
    state.filter = filter.value.trim();
    state.rowPage = 0;
    state.columnPage = 0;
    render();
  });
  render();
}

const matrixData = document.getElementById("matrix-data");
const matrixView = document.getElementById("matrix-view");
if (matrixData && matrixView) {
  drawMatrix(JSON.parse(matrixData.textContent), matrixView);
  document.body.dataset.matrix = "drawn";
}
