//! Issue 19: does sonic-rs or simd-json pay over serde_json on netposture's
//! lean read of a big `List`? Each decoder below does the work that
//! `input/json_items.rs` + `json_header.rs` + `lean_pod.rs` do for
//! `netposture scan -f`, on a file named on the command line, best of N runs.
//! Reading the file is not timed (every decoder needs the text first);
//! everything after it is, including simd-json's mutable copy of the text
//! and the freeing of what a decoder built.
//!
//! Usage: json-decoders FILE [RUNS [LABEL...]]
//! RUNS defaults to 5; LABELs (`a`, `b2`, ...) pick decoders, for profiling.

mod model;
mod stream;
mod summary;

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;

use model::{Header, LeanPod, OnePass, SeenHeader};
use summary::Summary;

/// The header and, for a v1 Pod, the lean Pod of one item, from its own text.
/// `header_of` and `pod_of` wrap the library's `from_str`: the item's text is
/// decoded twice, as the real reader does.
fn header_then_pod<E: std::fmt::Debug>(
    text: &str,
    summary: &mut Summary,
    header_of: impl Fn(&str) -> Result<SeenHeader, E>,
    pod_of: impl Fn(&str) -> Result<LeanPod, E>,
) {
    // The real reader reads an undecodable header as empty and reports the
    // item later; the generated files have none, so here it is a failure.
    let seen = header_of(text).expect("header");
    let header = seen.header;
    let pod = header.is_pod().then(|| pod_of(text).expect("lean pod"));
    summary.add(&header, pod.as_ref());
}

/// a. What netposture does today: items as borrowed `&RawValue` slices, each
/// decoded twice from its slice (header, then LeanPod).
fn serde_json_lean(text: &str) -> Summary {
    let mut summary = Summary::default();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    stream::each_item(&mut deserializer, &mut |raw: &RawValue| {
        header_then_pod(
            raw.get(),
            &mut summary,
            |t| serde_json::from_str::<SeenHeader>(t),
            |t| serde_json::from_str::<LeanPod>(t),
        )
    })
    .expect("serde_json: list");
    deserializer.end().expect("serde_json: trailing text");
    summary
}

/// a2. Today's item scan, then one decode per item for header and Pod
/// fields together (the one-pass struct below) instead of two: what
/// netposture could adopt while keeping items as raw text for other kinds.
fn serde_json_scan_then_one_pass(text: &str) -> Summary {
    let mut summary = Summary::default();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    stream::each_item(&mut deserializer, &mut |raw: &RawValue| {
        let item: OnePass = serde_json::from_str(raw.get()).expect("serde_json: item");
        let (header, pod) = item.split();
        summary.add(&header, pod.as_ref());
    })
    .expect("serde_json: list");
    deserializer.end().expect("serde_json: trailing text");
    summary
}

/// b. sonic-rs the same way: its `LazyValue` is the borrowed raw slice.
fn sonic_lean(text: &str) -> Summary {
    let mut summary = Summary::default();
    let mut deserializer = sonic_rs::Deserializer::from_str(text);
    stream::each_item(&mut deserializer, &mut |raw: sonic_rs::LazyValue<'_>| {
        header_then_pod(
            raw.as_raw_str(),
            &mut summary,
            |t| sonic_rs::from_str::<SeenHeader>(t),
            |t| sonic_rs::from_str::<LeanPod>(t),
        )
    })
    .expect("sonic-rs: list");
    deserializer.end().expect("sonic-rs: trailing text");
    summary
}

/// b2. sonic-rs with its own lazy API instead of serde for the top level:
/// `get` finds `items`, `to_array_iter` yields each item's slice.
fn sonic_lazy_iter(text: &str) -> Summary {
    let mut summary = Summary::default();
    let items = sonic_rs::get(text, ["items"]).expect("sonic-rs: items");
    for item in sonic_rs::to_array_iter(items.as_raw_str()) {
        let item = item.expect("sonic-rs: item");
        header_then_pod(
            item.as_raw_str(),
            &mut summary,
            |t| sonic_rs::from_str::<SeenHeader>(t),
            |t| sonic_rs::from_str::<LeanPod>(t),
        );
    }
    summary
}

/// b3. sonic-rs at its fastest: through serde it only skips with its checked
/// scalar skipper (`skip_one(true)`); the SIMD skipper runs only in the
/// `unsafe` unchecked lazy API. The items are still validated, by the serde
/// decodes of each item; what is not is the text around `items`.
fn sonic_unchecked_iter(text: &str) -> Summary {
    let mut summary = Summary::default();
    // SAFETY (as sonic-rs asks): the text is valid UTF-8, being a `&str`.
    // The JSON outside `items` goes unvalidated: acceptable for a bench
    // only, which is why the real reader could not do this as it stands.
    #[allow(unsafe_code)]
    let items = unsafe { sonic_rs::get_unchecked(text, ["items"]) }.expect("sonic-rs: items");
    #[allow(unsafe_code)]
    let iter = unsafe { sonic_rs::to_array_iter_unchecked(items.as_raw_str()) };
    for item in iter {
        let item = item.expect("sonic-rs: item");
        header_then_pod(
            item.as_raw_str(),
            &mut summary,
            |t| sonic_rs::from_str::<SeenHeader>(t),
            |t| sonic_rs::from_str::<LeanPod>(t),
        );
    }
    summary
}

/// One pass per item through a serde `Deserializer` over the whole text:
/// simd-json has no raw-slice type, so this is how it would stream; run for
/// the other two as well to separate the library from the reading pattern.
fn one_pass<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Summary, D::Error> {
    let mut summary = Summary::default();
    stream::each_item(deserializer, &mut |item: OnePass| {
        let (header, pod) = item.split();
        summary.add(&header, pod.as_ref());
    })?;
    Ok(summary)
}

/// c1. simd-json's serde path (`from_slice`), one pass per item.
fn simd_one_pass(text: &str) -> Summary {
    // simd-json rewrites its input in place (unescaping strings), so it
    // needs its own copy of the text: a cost the real reader would pay too.
    let mut bytes = text.as_bytes().to_vec();
    let mut deserializer =
        simd_json::Deserializer::from_slice(&mut bytes).expect("simd-json: parse");
    one_pass(&mut deserializer).expect("simd-json: list")
}

/// c2. simd-json's borrowed value of the whole file, then the same two serde
/// decodes per item as (a), from the item's value instead of its text.
fn simd_borrowed_value(text: &str) -> Summary {
    let mut bytes = text.as_bytes().to_vec();
    let whole = simd_json::to_borrowed_value(&mut bytes).expect("simd-json: parse");
    let mut summary = Summary::default();
    let items = match &whole {
        simd_json::BorrowedValue::Object(list) => list.get("items").expect("simd-json: items"),
        other => other,
    };
    let simd_json::BorrowedValue::Array(items) = items else {
        panic!("simd-json: items is not an array")
    };
    for item in items.iter() {
        let header = SeenHeader::deserialize(item)
            .expect("simd-json: header")
            .header;
        let pod = header
            .is_pod()
            .then(|| LeanPod::deserialize(item).expect("simd-json: lean pod"));
        summary.add(&header, pod.as_ref());
    }
    summary
}

/// d. Reference: the whole file as a `serde_json::Value`, then the same two
/// decodes per item from the tree (what reading without RawValue costs).
fn serde_json_value(text: &str) -> Summary {
    let whole: serde_json::Value = serde_json::from_str(text).expect("serde_json: value");
    let items = whole.get("items").unwrap_or(&whole);
    let mut summary = Summary::default();
    for item in items.as_array().expect("serde_json: items is not an array") {
        let header = SeenHeader::deserialize(item)
            .expect("serde_json: header")
            .header;
        let pod = header
            .is_pod()
            .then(|| LeanPod::deserialize(item).expect("serde_json: lean pod"));
        summary.add(&header, pod.as_ref());
    }
    summary
}

/// This thread's CPU time so far, from the scheduler's own account (ns);
/// None where /proc does not have it.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// A whole read of the text, giving what it decoded.
type Decoder = fn(&str) -> Summary;

struct Measured {
    name: &'static str,
    best: Duration,
    median: Duration,
    /// Least CPU time of the runs. On a shared machine the wall time also
    /// holds time spent waiting for a core; CPU time is closer to the work.
    best_cpu: Option<Duration>,
    summary: Summary,
}

fn measure(name: &'static str, runs: usize, text: &str, decode: Decoder) -> Measured {
    let mut walls = Vec::with_capacity(runs);
    let mut cpus = Vec::with_capacity(runs);
    let mut summary = None;
    for _ in 0..runs {
        let cpu_before = thread_cpu();
        let start = Instant::now();
        let this = std::hint::black_box(decode(std::hint::black_box(text)));
        let wall = start.elapsed();
        let cpu = cpu_before
            .zip(thread_cpu())
            .map(|(before, after)| after - before);
        walls.push(wall);
        cpus.extend(cpu);
        if let Some(earlier) = &summary {
            assert_eq!(earlier, &this, "{name} differs between runs");
        }
        summary = Some(this);
    }
    walls.sort();
    Measured {
        name,
        best: walls[0],
        median: walls[walls.len() / 2],
        best_cpu: cpus.into_iter().min(),
        summary: summary.expect("at least one run"),
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.0} ms", duration.as_secs_f64() * 1e3)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: json-decoders FILE [RUNS]");
    let runs: usize = args
        .next()
        .map_or(5, |r| r.parse().expect("RUNS is a number"));
    let only: Vec<String> = args.collect();
    assert!(runs > 0, "RUNS must be at least 1");
    let text = std::fs::read_to_string(&path).expect("read the file");
    let mib = text.len() as f64 / (1024.0 * 1024.0);
    println!("{path}: {mib:.1} MiB, best of {runs}");

    let decoders: [(&'static str, Decoder); 14] = [
        (
            "a  serde_json RawValue + header + LeanPod (today)",
            serde_json_lean,
        ),
        ("b  sonic-rs LazyValue + header + LeanPod", sonic_lean),
        (
            "b2 sonic-rs get/to_array_iter + header + LeanPod",
            sonic_lazy_iter,
        ),
        (
            "b3 sonic-rs unchecked lazy iter + header + LeanPod",
            sonic_unchecked_iter,
        ),
        ("c1 simd-json from_slice, one pass per item", simd_one_pass),
        (
            "c2 simd-json BorrowedValue + header + LeanPod",
            simd_borrowed_value,
        ),
        ("a1 serde_json one pass per item", |text| {
            one_pass(&mut serde_json::Deserializer::from_str(text)).expect("serde_json: list")
        }),
        (
            "a2 serde_json RawValue + one pass per item",
            serde_json_scan_then_one_pass,
        ),
        ("b1 sonic-rs one pass per item", |text| {
            one_pass(&mut sonic_rs::Deserializer::from_str(text)).expect("sonic-rs: list")
        }),
        (
            "d  serde_json::Value whole file + header + LeanPod",
            serde_json_value,
        ),
        ("d0 serde_json::Value whole file only", |text| {
            // The tree alone, items counted: no per-item decode.
            let whole: serde_json::Value = serde_json::from_str(text).expect("serde_json: value");
            let count = whole["items"].as_array().map_or(0, Vec::len);
            let mut summary = Summary::default();
            (0..count).for_each(|_| summary.add(&Header::default(), None));
            summary
        }),
        ("e  serde_json: items as RawValue only", |text| {
            // The top-level scan alone: the floor under (a).
            let mut summary = Summary::default();
            let mut deserializer = serde_json::Deserializer::from_str(text);
            stream::each_item(&mut deserializer, &mut |_: &RawValue| {
                summary.add(&Header::default(), None)
            })
            .expect("serde_json: list");
            summary
        }),
        ("f  sonic-rs: items as LazyValue only", |text| {
            // The same floor for sonic-rs: what it could save on the scan.
            let mut summary = Summary::default();
            let mut deserializer = sonic_rs::Deserializer::from_str(text);
            stream::each_item(&mut deserializer, &mut |_: sonic_rs::LazyValue<'_>| {
                summary.add(&Header::default(), None)
            })
            .expect("sonic-rs: list");
            summary
        }),
        ("g  simd-json: copy + tape only", |text| {
            // simd-json's parse without serde: its floor, copy included.
            let mut bytes = text.as_bytes().to_vec();
            let tape = simd_json::to_tape(&mut bytes).expect("simd-json: parse");
            let count = tape
                .as_value()
                .get("items")
                .and_then(|items| items.as_array())
                .map_or(0, |items| items.len());
            let mut summary = Summary::default();
            (0..count).for_each(|_| summary.add(&Header::default(), None));
            summary
        }),
    ];

    let mut results = Vec::new();
    for (name, decode) in decoders {
        let label = name.split_whitespace().next().unwrap_or_default();
        if !only.is_empty() && !only.iter().any(|o| o == label) {
            continue;
        }
        let measured = measure(name, runs, &text, decode);
        eprintln!("{:<52} {:>8}", measured.name, ms(measured.best));
        results.push(measured);
    }
    assert!(!results.is_empty(), "no decoder has those labels");

    // Relative to the first row, today's reader (a) unless LABELs say otherwise.
    let versus = |this: Duration, reference: Duration| {
        format!(
            "{:+.0}%",
            (this.as_secs_f64() / reference.as_secs_f64() - 1.0) * 100.0
        )
    };
    let (wall_a, cpu_a) = (results[0].best, results[0].best_cpu);
    println!();
    println!(
        "| {:<52} | {:>8} | {:>8} | {:>7} | {:>8} | {:>6} | {:>6} |",
        "decoder", "best", "median", "MiB/s", "best CPU", "wall", "CPU"
    );
    println!(
        "|{:-<54}|{:->10}|{:->10}|{:->9}|{:->10}|{:->8}|{:->8}|",
        "", "", "", "", "", "", ""
    );
    for m in &results {
        println!(
            "| {:<52} | {:>8} | {:>8} | {:>7.0} | {:>8} | {:>6} | {:>6} |",
            m.name,
            ms(m.best),
            ms(m.median),
            mib / m.best.as_secs_f64(),
            m.best_cpu.map_or("-".to_string(), ms),
            versus(m.best, wall_a),
            m.best_cpu
                .zip(cpu_a)
                .map_or("-".to_string(), |(c, a)| versus(c, a)),
        );
    }
    println!("(wall, CPU: against the first row; negative is faster)");

    // Every full decoder must agree with today's reader (or the first one
    // picked) on everything the engine reads; the partial ones (d0, e, f, g)
    // only decode enough to agree on the item count.
    let partial = |m: &Measured| {
        ["d0", "e ", "f ", "g "]
            .iter()
            .any(|p| m.name.starts_with(p))
    };
    let reference = results.iter().find(|m| !partial(m)).unwrap_or(&results[0]);
    println!();
    println!("checked: {:?}", reference.summary);
    for m in &results {
        if partial(m) || partial(reference) {
            assert_eq!(m.summary.items, reference.summary.items, "{}", m.name);
        } else {
            assert_eq!(m.summary, reference.summary, "{} differs", m.name);
        }
    }
    println!("all decoders agree");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a user would see for a syntax error in the middle of a List,
    /// the case `json_items.rs` tests for line and column. Run with
    /// `cargo test --release -- --nocapture` to read the messages.
    #[test]
    fn syntax_error_messages() {
        let broken = "{\"kind\":\"List\",\"items\": [\n{\"kind\": }]}";

        let serde_json_error = {
            let mut deserializer = serde_json::Deserializer::from_str(broken);
            stream::each_item(&mut deserializer, &mut |_: &RawValue| {}).unwrap_err()
        };
        println!("serde_json: {serde_json_error}");
        assert_eq!(
            (serde_json_error.line(), serde_json_error.column()),
            (2, 10)
        );

        let sonic_error = {
            let mut deserializer = sonic_rs::Deserializer::from_str(broken);
            stream::each_item(&mut deserializer, &mut |_: sonic_rs::LazyValue<'_>| {}).unwrap_err()
        };
        println!("sonic-rs: {sonic_error}");
        println!(
            "sonic-rs line/column: {}:{}",
            sonic_error.line(),
            sonic_error.column()
        );

        let mut bytes = broken.as_bytes().to_vec();
        let simd_error = match simd_json::Deserializer::from_slice(&mut bytes) {
            Err(error) => error,
            Ok(mut deserializer) => {
                stream::each_item(&mut deserializer, &mut |_: OnePass| {}).unwrap_err()
            }
        };
        // simd-json gives a byte offset only; a line would have to be
        // counted from the text by the caller.
        println!("simd-json: {simd_error} (offset {})", simd_error.index());
    }
}
