//! JUnit XML, the test-report format CI systems show: one test suite per
//! namespace, one test case per check. A failing check is a failure; a
//! check that does not apply is skipped; warnings and accepted risks pass
//! with their message as output.

use std::io::Write;

use netposture_engine::{CheckStatus, NamespacePosture};

use crate::locations::Locations;

pub fn write(
    out: &mut impl Write,
    postures: &[(&str, &NamespacePosture)],
    locations: &Locations,
) -> std::io::Result<()> {
    let count = |status: CheckStatus| {
        postures
            .iter()
            .flat_map(|(_, p)| &p.checks)
            .filter(|c| c.status == status)
            .count()
    };
    let tests: usize = postures.iter().map(|(_, p)| p.checks.len()).sum();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="netposture" tests="{tests}" failures="{}" skipped="{}">"#,
        count(CheckStatus::Fail),
        count(CheckStatus::NotApplicable)
    )?;
    for (namespace, posture) in postures {
        let of = |status| posture.checks.iter().filter(|c| c.status == status).count();
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{}" failures="{}" skipped="{}">"#,
            escape(namespace),
            posture.checks.len(),
            of(CheckStatus::Fail),
            of(CheckStatus::NotApplicable)
        )?;
        for check in &posture.checks {
            let mut attributes = format!(
                r#"classname="netposture.{}" name="{}""#,
                escape(namespace),
                escape(&check.id)
            );
            let origin = locations
                .of_evidence(namespace, &check.evidence)
                .map(|(_, origin)| origin)
                .or_else(|| locations.namespace(namespace));
            if let Some(origin) = origin {
                attributes.push_str(&format!(r#" file="{}""#, escape(&origin.file)));
                if let Some(line) = origin.line {
                    attributes.push_str(&format!(r#" line="{line}""#));
                }
            }
            let mut details = check.evidence.join("\n");
            if !check.remediation.is_empty() {
                details.push_str(&format!("\nremediation: {}", check.remediation));
            }
            match check.status {
                CheckStatus::Pass => writeln!(out, "    <testcase {attributes}/>")?,
                CheckStatus::Fail => {
                    writeln!(out, "    <testcase {attributes}>")?;
                    writeln!(
                        out,
                        r#"      <failure message="{}" type="{:?}">{}</failure>"#,
                        escape(&check.message),
                        check.severity,
                        escape(details.trim_start())
                    )?;
                    writeln!(out, "    </testcase>")?;
                }
                CheckStatus::NotApplicable => writeln!(
                    out,
                    r#"    <testcase {attributes}><skipped message="{}"/></testcase>"#,
                    escape(&check.message)
                )?,
                CheckStatus::Warn | CheckStatus::Accepted => writeln!(
                    out,
                    r#"    <testcase {attributes}><system-out>{:?}: {}</system-out></testcase>"#,
                    check.status,
                    escape(&check.message)
                )?,
            }
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

/// Text safe in XML content and attribute values.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            // Control characters XML 1.0 does not allow.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => escaped.push(' '),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot; ");
    }
}
