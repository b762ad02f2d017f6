//! Escaping for the two places cluster values go in the page: HTML text and
//! attribute values, and JSON inside a `<script>` element. Names, labels,
//! annotations and evidence come from whoever wrote the objects; none of
//! them may end an element or open one.

use std::fmt;

/// Displays `text` with `& < > " '` as character references: safe in text
/// and in quoted attribute values.
pub struct Html<'a>(pub &'a str);

impl fmt::Display for Html<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// `json` made safe inside `<script type="application/json">`: the HTML
/// parser ends a script element at `</script` and treats `<!--` specially,
/// whatever JSON quoting says, so `<`, `>` and `&` become `\u` escapes (JSON
/// has them only inside strings, where the escape means the same).
pub fn json_in_script(json: &str) -> String {
    let mut safe = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => safe.push_str("\\u003c"),
            '>' => safe.push_str("\\u003e"),
            '&' => safe.push_str("\\u0026"),
            // Line and paragraph separators: legal in JSON strings, not in older JS.
            '\u{2028}' => safe.push_str("\\u2028"),
            '\u{2029}' => safe.push_str("\\u2029"),
            c => safe.push(c),
        }
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            Html(r#"<script>a="b" & 'c'</script>"#).to_string(),
            "&lt;script&gt;a=&quot;b&quot; &amp; &#39;c&#39;&lt;/script&gt;"
        );
        assert_eq!(Html("plain-name").to_string(), "plain-name");
    }

    #[test]
    fn json_in_script_cannot_close_the_element_and_parses_to_the_same_value() {
        let value = serde_json::json!({"name": "</script><script>alert(1)</script><!--&"});
        let safe = json_in_script(&value.to_string());
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        let parsed: serde_json::Value = serde_json::from_str(&safe).unwrap_or_default();
        assert_eq!(parsed, value);
    }
}
