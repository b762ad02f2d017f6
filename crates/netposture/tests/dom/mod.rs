//! Reads the HTML Chromium serializes with `--dump-dom` into a flat list of
//! elements: enough to find rows and cells by their attributes. The input
//! is the browser's own serialization, so every element is closed (void
//! elements aside) and script and style bodies hold no tags.

/// One element, with its text and what its ancestors say.
#[derive(Debug, Default)]
pub struct Element {
    pub name: String,
    attributes: Vec<(String, String)>,
    /// All text inside, entities decoded.
    pub text: String,
    /// The text of each `td`/`th` child, for rows.
    cells: Vec<String>,
    /// The ancestors' attributes, nearest first.
    inherited: Vec<(String, String)>,
}

impl Element {
    /// The attribute's value, or "" when absent.
    pub fn attr(&self, name: &str) -> String {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map_or_else(String::new, |(_, v)| v.clone())
    }

    pub fn has_class(&self, class: &str) -> bool {
        self.attr("class").split_whitespace().any(|c| c == class)
    }

    /// The nearest ancestor's value of `name`, or "".
    pub fn ancestor_attr(&self, name: &str) -> String {
        self.inherited
            .iter()
            .find(|(n, _)| n == name)
            .map_or_else(String::new, |(_, v)| v.clone())
    }

    /// Inside the table (or other element) whose id is `id`, the nearest id around it.
    pub fn in_table(&self, id: &str) -> bool {
        self.ancestor_attr("id") == id
    }

    pub fn cells(&self) -> Vec<String> {
        self.cells.clone()
    }
}

const VOID: [&str; 8] = ["meta", "br", "input", "img", "link", "hr", "col", "wbr"];

pub fn parse(html: &str) -> Vec<Element> {
    let mut elements: Vec<Element> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut rest = html;
    while !rest.is_empty() {
        let Some(at) = rest.find('<') else {
            add_text(&mut elements, &open, rest);
            break;
        };
        add_text(&mut elements, &open, &rest[..at]);
        rest = &rest[at..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
        } else if rest.starts_with("<!") {
            rest = rest.find('>').map_or("", |end| &rest[end + 1..]);
        } else if let Some(closing) = rest.strip_prefix("</") {
            let end = closing.find('>').unwrap_or(closing.len());
            let name = closing[..end].trim().to_ascii_lowercase();
            rest = closing.get(end + 1..).unwrap_or("");
            if let Some(position) = open.iter().rposition(|&e| elements[e].name == name) {
                for closed in open.drain(position..).rev().collect::<Vec<_>>() {
                    close(&mut elements, &open, closed);
                }
            }
        } else {
            let (element, after) = open_tag(&rest[1..]);
            rest = after;
            let name = element.name.clone();
            let mut element = element;
            element.inherited = open
                .iter()
                .rev()
                .flat_map(|&e| elements[e].attributes.clone())
                .collect();
            elements.push(element);
            let index = elements.len() - 1;
            if name == "script" || name == "style" {
                // Raw text: the body runs to the closing tag.
                let end = rest.find(&format!("</{name}")).unwrap_or(rest.len());
                elements[index].text = rest[..end].to_string();
                rest = &rest[end..];
                rest = rest.find('>').map_or("", |e| &rest[e + 1..]);
            } else if !VOID.contains(&name.as_str()) {
                open.push(index);
            }
        }
    }
    elements
}

/// A cell's text goes to its row when it closes.
fn close(elements: &mut [Element], open: &[usize], closed: usize) {
    if matches!(elements[closed].name.as_str(), "td" | "th")
        && let Some(&parent) = open.last()
        && elements[parent].name == "tr"
    {
        let text = elements[closed].text.clone();
        elements[parent].cells.push(text);
    }
}

fn add_text(elements: &mut [Element], open: &[usize], raw: &str) {
    if raw.is_empty() {
        return;
    }
    let text = decode(raw);
    for &e in open {
        elements[e].text.push_str(&text);
    }
}

/// Parses `name attr="value" ...>` and returns the element and what follows.
fn open_tag(tag: &str) -> (Element, &str) {
    let name_end = tag
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(tag.len());
    let mut element = Element {
        name: tag[..name_end].to_ascii_lowercase(),
        ..Element::default()
    };
    let mut rest = &tag[name_end..];
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            return (element, rest);
        }
        if let Some(after) = rest.strip_prefix('>') {
            return (element, after);
        }
        let end = rest
            .find(|c: char| c == '=' || c == '>' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = rest[..end].to_ascii_lowercase();
        rest = &rest[end..];
        let value = if let Some(quoted) = rest.strip_prefix("=\"") {
            let close = quoted.find('"').unwrap_or(quoted.len());
            rest = quoted.get(close + 1..).unwrap_or("");
            decode(&quoted[..close])
        } else {
            String::new()
        };
        element.attributes.push((name, value));
    }
}

fn decode(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}
