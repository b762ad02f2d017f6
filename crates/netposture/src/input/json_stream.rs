//! Reads a JSON text from a reader in chunks, handing over each element of a
//! top-level array, or of the `items` array of a top-level object (a List),
//! as soon as it is read. A taken element's text is then dropped, so a
//! List holding a whole cluster is never in memory at once: what is held is
//! one chunk and the list's envelope (its fields other than the items).
//!
//! Only the structure around the elements is followed here (brackets,
//! strings, the `items` key); the elements are parsed by their taker, and
//! the envelope, with each taken element replaced by `null`, by
//! [`json_items::for_each_element`] at the end: that parse checks the
//! envelope's syntax and hands over what was not taken (an object without
//! `items` is itself the element), so both paths read the text alike.

use std::io::Read;

use serde::Deserialize;

use crate::input::json_header::Loose;
use crate::input::json_items::{self, ListDefaults};

/// Bytes read at a time; elements longer than this grow the buffer.
const CHUNK: usize = 1 << 20;

/// A syntax or reading error, with its 1-based position in the whole text.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
}

/// The taker of an element: `defaults` is `None` while the list's `kind`
/// is not known yet (it comes after `items`, as kubectl writes it); an
/// element that needs it answers `Ok(false)` and is handed over again at
/// the end, with it. A syntax error in the element is answered as is; its
/// position, relative to the element, is made absolute here.
pub type Take<'f> = dyn FnMut(&str, Option<&ListDefaults>) -> serde_json::Result<bool> + 'f;

/// Calls `take` with every top-level element of the JSON text of `reader`,
/// in order, except those declined until the list's kind is known.
pub fn for_each_element(reader: impl Read, take: &mut Take<'_>) -> Result<(), StreamError> {
    let mut stream = Stream::new(reader);
    stream.scan(take)?;
    stream.finish(take)
}

/// Where a taken element was in the text and where its `null` is in the envelope.
struct Placeholder {
    /// Offset of the `null` in the envelope.
    offset: usize,
    /// Envelope line and column (1-based) just after the `null`.
    line: usize,
    column: usize,
    /// Bytes the text had on that line beyond what the envelope keeps.
    shift: usize,
}

struct Stream<R> {
    reader: R,
    /// Unconsumed text; `buffer[0]` is at offset `base` of the whole text.
    buffer: Vec<u8>,
    base: usize,
    /// Offset of the next byte to scan.
    at: usize,
    eof: bool,
    /// The text with taken elements replaced; bytes before `kept` are in it.
    envelope: Vec<u8>,
    kept: usize,
    placeholders: Vec<Placeholder>,
    state: Scan,
}

/// The scanner's state between chunks.
#[derive(Default)]
struct Scan {
    /// Containers open before the current byte.
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// 1-based line of the current byte, and the offset where that line starts.
    line: usize,
    line_start: usize,
    /// Whether the first byte decided the shape: an array or an object.
    started: bool,
    /// The depth at which elements are streamed, while in their array.
    element_depth: Option<usize>,
    /// The list's defaults, once known; `None` in the items array until then.
    defaults: Option<ListDefaults>,
    /// A string at depth 1 just ended and was `"items"`; then a `:` followed.
    after_items_key: bool,
    items_colon: bool,
    /// Offset of the string at depth 1 being read.
    key_start: usize,
    /// The element being read: its start offset, line and column.
    element: Option<(usize, usize, usize)>,
    /// The element being read is a scalar, which ends at a delimiter.
    scalar: bool,
}

impl<R: Read> Stream<R> {
    fn new(reader: R) -> Self {
        Stream {
            reader,
            buffer: Vec::with_capacity(CHUNK),
            base: 0,
            at: 0,
            eof: false,
            envelope: Vec::new(),
            kept: 0,
            placeholders: Vec::new(),
            state: Scan {
                line: 1,
                ..Scan::default()
            },
        }
    }

    /// Appends the next chunk, first dropping what is consumed: bytes in the
    /// envelope already and not in the element being read.
    fn refill(&mut self) -> std::io::Result<()> {
        let s = &self.state;
        let in_key = s.in_string && s.depth == 1 && s.element_depth.is_none();
        let keep_from = [
            Some(self.at),
            s.element.map(|(start, ..)| start),
            in_key.then_some(s.key_start),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(self.at);
        self.keep_envelope_until(keep_from);
        let drop = keep_from - self.base;
        self.buffer.drain(..drop);
        self.base = keep_from;
        // `read_to_end` fills spare capacity without zeroing it first.
        let read = (&mut self.reader)
            .take(CHUNK as u64)
            .read_to_end(&mut self.buffer)?;
        self.eof = read == 0;
        Ok(())
    }

    fn keep_envelope_until(&mut self, offset: usize) {
        if offset > self.kept {
            let (from, to) = (self.kept - self.base, offset - self.base);
            self.envelope.extend_from_slice(&self.buffer[from..to]);
            self.kept = offset;
        }
    }

    fn byte(&self, offset: usize) -> u8 {
        self.buffer[offset - self.base]
    }

    /// Follows the structure to the end of the text, handing over elements.
    fn scan(&mut self, take: &mut Take<'_>) -> Result<(), StreamError> {
        loop {
            if self.at == self.base + self.buffer.len() {
                if self.eof {
                    return Ok(());
                }
                self.refill()?;
                continue;
            }
            self.skip_inert();
            if self.at == self.base + self.buffer.len() {
                continue;
            }
            let byte = self.byte(self.at);
            self.step(byte, take)?;
            self.at += 1;
        }
    }

    /// Moves over bytes that change nothing here, in bulk: inside a string
    /// to its next quote or backslash, and inside an element's containers
    /// to the next quote, bracket or line break. Most of a text is these.
    fn skip_inert(&mut self) {
        let s = &self.state;
        let rest = &self.buffer[self.at - self.base..];
        let skipped = if s.in_string && !s.escaped {
            memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len())
        } else if !s.in_string && s.element_depth.is_some_and(|depth| s.depth > depth) {
            rest.iter()
                .position(|byte| matches!(byte, b'"' | b'{' | b'}' | b'[' | b']' | b'\n'))
                .unwrap_or(rest.len())
        } else {
            0
        };
        self.at += skipped;
    }

    fn step(&mut self, byte: u8, take: &mut Take<'_>) -> Result<(), StreamError> {
        let s = &mut self.state;
        if byte == b'\n' {
            s.line += 1;
            s.line_start = self.at + 1;
        }
        if s.in_string {
            if s.escaped {
                s.escaped = false;
            } else if byte == b'\\' {
                s.escaped = true;
            } else if byte == b'"' {
                s.in_string = false;
                if s.depth == 1 && s.element_depth.is_none() {
                    let key = &self.buffer[s.key_start + 1 - self.base..self.at - self.base];
                    s.after_items_key = key == b"items";
                } else if s.element.is_some() && Some(s.depth) == s.element_depth {
                    return self.end_element(self.at + 1, take);
                }
            }
            return Ok(());
        }
        if byte.is_ascii_whitespace() {
            if s.scalar {
                return self.end_element(self.at, take);
            }
            return Ok(());
        }
        if !s.started {
            s.started = true;
            if byte == b'[' {
                s.element_depth = Some(1);
                s.defaults = Some(ListDefaults::default());
            }
        }
        let in_array = s.element_depth == Some(s.depth);
        if s.scalar && matches!(byte, b',' | b']' | b'}') {
            self.end_element(self.at, take)?;
        }
        let s = &mut self.state;
        if in_array && s.element.is_none() && !matches!(byte, b',' | b']') {
            let column = self.at - s.line_start + 1;
            s.element = Some((self.at, s.line, column));
            s.scalar = !matches!(byte, b'{' | b'[' | b'"');
        }
        let s = &mut self.state;
        match byte {
            b'"' => {
                s.in_string = true;
                s.key_start = self.at;
            }
            b':' if s.after_items_key => s.items_colon = true,
            b'{' | b'[' => {
                if byte == b'[' && s.depth == 1 && s.items_colon && s.element_depth.is_none() {
                    // `items` is an array: stream it once the list's kind is read.
                    self.keep_envelope_until(self.at + 1);
                    let s = &mut self.state;
                    s.element_depth = Some(2);
                    s.defaults = defaults_so_far(&self.envelope);
                }
                self.state.depth += 1;
            }
            b'}' | b']' => {
                s.depth = s.depth.saturating_sub(1);
                if s.element.is_some() && Some(s.depth) == s.element_depth {
                    return self.end_element(self.at + 1, take);
                }
                if byte == b']' && s.element_depth == Some(s.depth + 1) {
                    s.element_depth = None;
                }
            }
            _ => {}
        }
        let s = &mut self.state;
        if byte != b':' {
            s.items_colon = false;
        }
        if byte != b'"' && byte != b':' {
            s.after_items_key = false;
        }
        Ok(())
    }

    /// The element read ends before `end`: handed over, and if taken,
    /// replaced by `null` in the envelope (keeping its line breaks, so the
    /// envelope's lines are the text's).
    fn end_element(&mut self, end: usize, take: &mut Take<'_>) -> Result<(), StreamError> {
        let s = &mut self.state;
        let Some((start, line, column)) = s.element.take() else {
            return Ok(());
        };
        s.scalar = false;
        let bytes = &self.buffer[start - self.base..end - self.base];
        // Too short for `null`: left in the envelope, handed over at the end
        // (only junk is this short: no object with a kind fits in 3 bytes).
        if bytes.len() < 4 {
            return Ok(());
        }
        let text = std::str::from_utf8(bytes).map_err(|error| {
            let valid = &bytes[..error.valid_up_to()];
            let (line, column) = advance(line, column, valid);
            syntax(line, column, "invalid UTF-8")
        })?;
        let taken = take(text, self.state.defaults.as_ref()).map_err(|error| {
            let column = if error.line() == 1 {
                column + error.column() - 1
            } else {
                error.column()
            };
            syntax(line + error.line() - 1, column, &without_position(&error))
        })?;
        if !taken {
            return Ok(());
        }
        let breaks = memchr::memchr_iter(b'\n', bytes).count();
        let (envelope_column, shift) = match memchr::memrchr(b'\n', bytes) {
            None => (column + 4, bytes.len() - 4),
            Some(last_break) => (1, bytes.len() - last_break - 1),
        };
        self.keep_envelope_until(start);
        let offset = self.envelope.len();
        self.envelope.extend_from_slice(b"null");
        self.envelope.extend(std::iter::repeat_n(b'\n', breaks));
        let envelope_line = line + breaks;
        let earlier_shift = self
            .placeholders
            .last()
            .filter(|p| p.line == envelope_line && breaks == 0)
            .map_or(0, |p| p.shift);
        self.placeholders.push(Placeholder {
            offset,
            line: envelope_line,
            column: envelope_column - earlier_shift,
            shift: earlier_shift + shift,
        });
        self.kept = end;
        Ok(())
    }

    /// Parses the envelope: its syntax, and the elements not taken yet.
    fn finish(mut self, take: &mut Take<'_>) -> Result<(), StreamError> {
        let end = self.base + self.buffer.len();
        self.keep_envelope_until(end);
        let envelope = String::from_utf8(std::mem::take(&mut self.envelope)).map_err(|error| {
            let (line, column) =
                advance(1, 1, &error.as_bytes()[..error.utf8_error().valid_up_to()]);
            let (line, column) = self.in_text(line, column);
            syntax(line, column, "invalid UTF-8")
        })?;
        let start = envelope.as_ptr() as usize;
        let placeholders: Vec<usize> = self.placeholders.iter().map(|p| p.offset).collect();
        json_items::for_each_element(&envelope, &mut |element, defaults| {
            let offset = element.get().as_ptr() as usize - start;
            if placeholders.binary_search(&offset).is_err() {
                // Parsed already, as part of the envelope: no syntax error left.
                let _ = take(element.get(), Some(defaults));
            }
        })
        .map_err(|error| {
            let (line, column) = self.in_text(error.line(), error.column());
            syntax(line, column, &without_position(&error))
        })
    }

    /// The text's position of an envelope position: lines are the same,
    /// columns after a `null` on its line move by what it replaced.
    fn in_text(&self, line: usize, column: usize) -> (usize, usize) {
        let shift = self
            .placeholders
            .iter()
            .rev()
            .find(|p| p.line == line && p.column <= column)
            .map_or(0, |p| p.shift);
        (line, column + shift)
    }
}

/// The list's defaults from the fields before `items` (the envelope so far,
/// ending in `[`), or `None` when `kind` is not among them.
fn defaults_so_far(envelope: &[u8]) -> Option<ListDefaults> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Fields {
        kind: Option<Loose>,
        api_version: Option<Loose>,
    }
    let mut text = envelope.to_vec();
    text.extend_from_slice(b"]}");
    let fields: Fields = serde_json::from_slice(&text).ok()?;
    let kind = fields.kind?.0.unwrap_or_default();
    let api_version = fields.api_version.and_then(|v| v.0);
    Some(ListDefaults::of(&kind, api_version.as_deref()))
}

/// The position after `bytes`, read from `line`, `column`.
fn advance(mut line: usize, mut column: usize, bytes: &[u8]) -> (usize, usize) {
    for byte in bytes {
        if *byte == b'\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

fn syntax(line: usize, column: usize, message: &str) -> StreamError {
    StreamError::Syntax {
        line,
        column,
        message: message.to_string(),
    }
}

/// serde_json's message without its " at line L column C".
pub fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(&position) {
        Some(message) => message.to_string(),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out at most `step` bytes a read, so elements, keys and strings
    /// straddle the reads.
    struct Trickle<'t> {
        text: &'t [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.text.len());
            buf[..n].copy_from_slice(&self.text[..n]);
            self.text = &self.text[n..];
            Ok(n)
        }
    }

    /// What `take` saw, in order: the element and its defaults (`None`
    /// while unknown); elements without `kind` decline until defaults come.
    fn taken(text: &str, step: usize) -> Result<Vec<(String, Option<ListDefaults>)>, StreamError> {
        let mut seen = Vec::new();
        let reader = Trickle {
            text: text.as_bytes(),
            step,
        };
        for_each_element(reader, &mut |element, defaults| {
            let value: serde_json::Value = serde_json::from_str(element)?;
            if defaults.is_none() && value.get("kind").is_none() {
                return Ok(false);
            }
            seen.push((element.to_string(), defaults.cloned()));
            Ok(true)
        })?;
        Ok(seen)
    }

    fn texts(seen: &[(String, Option<ListDefaults>)]) -> Vec<&str> {
        seen.iter().map(|(text, _)| text.as_str()).collect()
    }

    fn position(error: StreamError) -> (usize, usize) {
        match error {
            StreamError::Syntax { line, column, .. } => (line, column),
            StreamError::Io(error) => panic!("not a syntax error: {error}"),
        }
    }

    const KUBECTL_LIST: &str = r#"{
    "apiVersion": "v1",
    "items": [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "a \"quoted\" [name]"}
        },
        {
            "kind": "Pod",
            "metadata": {"name": "web", "labels": {"x": "{["}},
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]}
        },
        {"metadata": {"name": "no-kind"}}
    ],
    "kind": "List",
    "metadata": {"resourceVersion": ""}
}
"#;

    #[test]
    fn list_items_are_handed_over_one_by_one_whatever_the_reads() {
        let whole = taken(KUBECTL_LIST, usize::MAX).unwrap();
        assert_eq!(whole.len(), 3);
        assert!(whole[0].0.starts_with(
            r#"{
            "apiVersion": "v1","#
        ));
        assert!(whole[1].0.ends_with("]}\n        }"));
        for step in [1, 2, 3, 7, 64] {
            assert_eq!(
                taken(KUBECTL_LIST, step).unwrap(),
                whole,
                "reads of {step} bytes"
            );
        }
    }

    #[test]
    fn items_before_the_list_kind_without_their_own_kind_come_last_with_it() {
        let seen = taken(KUBECTL_LIST, 5).unwrap();
        assert_eq!((seen[0].1.as_ref(), seen[1].1.as_ref()), (None, None));
        assert_eq!(seen[2].0, r#"{"metadata": {"name": "no-kind"}}"#);
        assert_eq!(seen[2].1, Some(ListDefaults::default()));
        let typed = r#"{"items":[{"metadata":{"name":"p"}},{"metadata":{"name":"q"}}],"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicyList"}"#;
        let seen = taken(typed, 3).unwrap();
        let defaults = ListDefaults::of("NetworkPolicyList", Some("networking.k8s.io/v1"));
        assert_eq!(
            texts(&seen),
            [
                r#"{"metadata":{"name":"p"}}"#,
                r#"{"metadata":{"name":"q"}}"#
            ]
        );
        assert!(seen.iter().all(|(_, d)| d.as_ref() == Some(&defaults)));
    }

    #[test]
    fn a_list_kind_read_before_items_gives_the_defaults_at_once() {
        let text = r#"{"kind":"PodList","apiVersion":"v1","metadata":{"continue":""},"items":[{"metadata":{"name":"p"}}]}"#;
        let seen = taken(text, 4).unwrap();
        assert_eq!(seen[0].1, Some(ListDefaults::of("PodList", Some("v1"))));
    }

    #[test]
    fn arrays_objects_and_scalars_are_elements_as_in_a_tree_of_values() {
        let seen = taken(
            r#" [ {"kind":"Pod"} , 12345, "text", null ,{"kind":"Namespace"}] "#,
            2,
        )
        .unwrap();
        assert_eq!(
            texts(&seen),
            [
                r#"{"kind":"Pod"}"#,
                "12345",
                r#""text""#,
                "null",
                r#"{"kind":"Namespace"}"#
            ]
        );
        let object = r#"{"kind":"Pod","spec":{"items":[1]}}"#;
        assert_eq!(texts(&taken(object, 3).unwrap()), [object]);
        // Too short to stand in for: handed over from the envelope, at the end.
        let seen = taken(r#"[{}, {"kind":"Pod"}, 7]"#, 1).unwrap();
        assert_eq!(texts(&seen), [r#"{"kind":"Pod"}"#, "{}", "7"]);
    }

    /// The error serde_json gives for the whole text, where it gives it.
    fn whole_text_error(text: &str) -> (usize, usize) {
        let error = serde_json::from_str::<serde::de::IgnoredAny>(text).unwrap_err();
        (error.line(), error.column())
    }

    #[test]
    fn syntax_errors_are_where_a_whole_text_parser_finds_them() {
        let one_line: String = KUBECTL_LIST
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for text in [KUBECTL_LIST.to_string(), one_line] {
            // Each `:` in turn made a `;`: inside an element or in the envelope.
            let colons: Vec<usize> = text.match_indices(':').map(|(at, _)| at).collect();
            for at in colons {
                let mut broken = text.clone();
                broken.replace_range(at..at + 1, ";");
                let error = taken(&broken, 9).unwrap_err();
                assert_eq!(position(error), whole_text_error(&broken), "{broken}");
            }
        }
    }

    #[test]
    fn a_broken_envelope_after_the_items_is_placed_right() {
        let text = "{\"items\": [{\"kind\": \"Pod\"}, {\"kind\": \"Pod\"}], \"kind\" \"List\"}";
        let error = taken(text, 4).unwrap_err();
        assert_eq!(position(error), whole_text_error(text));
        for text in [
            "{} {}",
            r#"{"items": 3}"#,
            r#"{"kind":"List","items": 3}"#,
            "[{\"kind\":\"Pod\"},",
            "{\"items\":[{\"kind\":\"Pod\"}",
        ] {
            assert!(taken(text, 2).is_err(), "{text}");
        }
    }

    #[test]
    fn invalid_utf8_is_a_syntax_error_at_its_line() {
        let mut text = b"[\n{\"kind\": \"Pod\", \"name\": \"".to_vec();
        text.extend_from_slice(&[0xff, b'"', b'}', b']']);
        let reader = Trickle {
            text: &text,
            step: 3,
        };
        let error = for_each_element(reader, &mut |_, _| Ok(true)).unwrap_err();
        assert_eq!(position(error), (2, 26));
    }
}
