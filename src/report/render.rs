//! The renderers of findings, one per format, for every command: human (snippets of the spec),
//! JSON, SARIF 2.1.0, JUnit XML, GitHub workflow annotations.

use super::codes;
use super::diagnostic::{Diagnostic, Severity};
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde_json::json;

/// Output formats of diagnostics (the command line's values are declared by the CLI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Snippets of the spec with the offending node underlined.
    Human,
    /// One JSON document.
    Json,
    /// SARIF 2.1.0 (code-scanning upload); locations are the spec's lines.
    Sarif,
    /// GitHub Actions workflow commands (annotations on the pull request).
    Github,
    /// JUnit XML: one test case per check (or per verified aspect).
    Junit,
}

/// What a report is about: the spec's path and text.
pub struct Subject<'a> {
    pub path: &'a str,
    pub text: &'a str,
}

/// Counts by severity.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
}

impl Counts {
    pub fn of(diags: &[Diagnostic]) -> Self {
        let mut c = Counts::default();
        for d in diags {
            match d.severity {
                Severity::Error => c.errors += 1,
                Severity::Warning => c.warnings += 1,
                Severity::Note => c.notes += 1,
            }
        }
        c
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("{n} {word}") } else { format!("{n} {word}s") }
}

/// Renders `diags` in `format`.
pub fn render(format: Format, subject: &Subject, diags: &[Diagnostic], color: bool) -> String {
    match format {
        Format::Human => human(subject, diags, color),
        Format::Json => json(subject, diags),
        Format::Sarif => sarif(subject, diags),
        Format::Github => github(subject, diags),
        Format::Junit => junit(subject, "pipewright check", &check_cases(diags)),
    }
}

/// One test case of a JUnit report: what was checked, and what checking it found.
pub struct Case {
    pub class: String,
    pub name: String,
    /// The spec line that declared it (0: none).
    pub line: u32,
    pub findings: Vec<Diagnostic>,
}

/// `check`'s test cases: one per spec check, failed by its findings.
fn check_cases(diags: &[Diagnostic]) -> Vec<Case> {
    codes::ALL
        .iter()
        .filter(|c| codes::Family::of(c.code) == codes::Family::Check)
        .map(|c| Case {
            class: "pipewright check".to_string(),
            name: format!("{} {}", c.code, c.name),
            line: diags.iter().find(|d| d.code == c.code).map_or(0, |d| d.span.line),
            findings: diags.iter().filter(|d| d.code == c.code).cloned().collect(),
        })
        .collect()
}

/// Whether a finding says something could not be read: unknown rather than wrong.
fn is_unknown(d: &Diagnostic) -> bool {
    [codes::COULD_NOT_VERIFY, codes::COULD_NOT_READ].contains(&d.code)
}

/// The message with what it is about and what it compared, on one line each.
fn full_message(d: &Diagnostic) -> String {
    let mut text = match &d.resource {
        Some(r) => {
            format!("{} `{}`{}: {}", r.kind, r.name, r.aspect.map(|a| format!(" {a}")).unwrap_or_default(), d.message)
        }
        None => d.message.clone(),
    };
    if let Some(c) = &d.compared {
        text.push_str(&format!("\nexpected: {}\nactual: {}", c.expected.trim(), c.actual.trim()));
    }
    if let Some(h) = &d.hint {
        text.push_str("\nhint: ");
        text.push_str(h);
    }
    text
}

/// Byte offset of each line start.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect()
}

/// The byte range a diagnostic underlines: from its column to the end of the token there.
fn byte_range(text: &str, starts: &[usize], d: &Diagnostic) -> std::ops::Range<usize> {
    let line_idx = (d.span.line.max(1) as usize - 1).min(starts.len() - 1);
    let line_start = starts[line_idx];
    let line_end = text[line_start..].find('\n').map(|i| line_start + i).unwrap_or(text.len());
    let line = &text[line_start..line_end];
    let col_byte = line.char_indices().nth(d.span.column.max(1) as usize - 1).map(|(i, _)| i).unwrap_or(line.len());
    let rest = &line[col_byte..];
    let in_flow = line[..col_byte].contains(['{', '[']);
    let end = if let Some(q @ ('"' | '\'')) = rest.chars().next() {
        rest[1..].find(q).map(|i| i + 2).unwrap_or(rest.len())
    } else {
        let mut end = rest.len();
        for stop in [" #", ": "] {
            if let Some(i) = rest.find(stop) {
                end = end.min(i);
            }
        }
        if rest.ends_with(':') {
            end = end.min(rest.len() - 1);
        }
        if in_flow && let Some(i) = rest.find([',', '}', ']']) {
            end = end.min(i);
        }
        rest[..end].trim_end().len()
    };
    let start = line_start + col_byte;
    let len = if rest.is_empty() { 0 } else { end.clamp(1, rest.len()) };
    start..start + len
}

/// The most characters of a spec's line a snippet shows: a longer line is cut around what it underlines.
const EXCERPT_CHARS: usize = 160;

/// The line a snippet shows.
struct Excerpt {
    number: usize,
    text: String,
}

/// The line holding `range` (a range within one line of `text`) and the range within it. A line longer
/// than [`EXCERPT_CHARS`] is cut to a window around the range, marked with `...`, so a report stays small
/// whatever the spec holds.
fn excerpt(text: &str, starts: &[usize], range: std::ops::Range<usize>) -> (Excerpt, std::ops::Range<usize>) {
    let index = starts.partition_point(|s| *s <= range.start).saturating_sub(1);
    let start = starts[index];
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = &text[start..end];
    let (from, to) = (range.start - start, (range.end - start).min(line.len()));
    let number = index + 1;
    if line.chars().count() <= EXCERPT_CHARS {
        return (Excerpt { number, text: line.to_string() }, from..to);
    }
    let boundary = |mut i: usize| {
        while !line.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let cut_from = boundary(from.saturating_sub(EXCERPT_CHARS / 4));
    let cut_to = boundary((cut_from + EXCERPT_CHARS).min(line.len()));
    let prefix = if cut_from > 0 { "..." } else { "" };
    let suffix = if cut_to < line.len() { "..." } else { "" };
    let shown = format!("{prefix}{}{suffix}", &line[cut_from..cut_to]);
    let at = |i: usize| prefix.len() + i.clamp(cut_from, cut_to) - cut_from;
    (Excerpt { number, text: shown }, at(from)..at(to))
}

/// Human-readable report: one snippet per diagnostic, then a summary line.
pub fn human(subject: &Subject, diags: &[Diagnostic], color: bool) -> String {
    let mut out = human_findings(subject, diags, color);
    let c = Counts::of(diags);
    if diags.is_empty() {
        out.push_str(&format!("{}: no findings\n", subject.path));
    } else {
        let notes = if c.notes > 0 { format!(", {}", plural(c.notes, "note")) } else { String::new() };
        out.push_str(&format!(
            "{}: {}, {}{notes}\n",
            subject.path,
            plural(c.errors, "error"),
            plural(c.warnings, "warning")
        ));
    }
    out
}

/// One snippet per diagnostic: the spec's line, the resource it is about, expected and actual (or the
/// diff), the hint.
pub fn human_findings(subject: &Subject, diags: &[Diagnostic], color: bool) -> String {
    let renderer = if color { Renderer::styled() } else { Renderer::plain() };
    let starts = line_starts(subject.text);
    let mut out = String::new();
    for d in diags {
        let level = match d.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
            Severity::Note => Level::NOTE,
        };
        let title = level.primary_title(d.message.as_str()).id(d.code);
        let group = if d.span.is_known() && !subject.text.is_empty() {
            let range = byte_range(subject.text, &starts, d);
            let (line, range) = excerpt(subject.text, &starts, range);
            title.element(
                Snippet::source(line.text)
                    .line_start(line.number)
                    .path(subject.path)
                    .annotation(AnnotationKind::Primary.span(range)),
            )
        } else {
            Group::with_title(title)
        };
        let mut notes = Vec::new();
        if let Some(r) = &d.resource {
            let aspect = r.aspect.map(|a| format!(" ({a})")).unwrap_or_default();
            notes.push(format!("resource: {} `{}`{aspect}", r.kind, r.name));
        }
        match &d.compared {
            Some(c) if c.diff.is_some() => notes.push(c.diff.clone().unwrap_or_default().trim_end().to_string()),
            Some(c) => notes.push(format!("expected: {}\nactual:   {}", c.expected.trim(), c.actual.trim())),
            None => {}
        }
        let mut report = vec![group];
        report.extend(notes.iter().map(|n| Group::with_title(Level::NOTE.secondary_title(n.as_str()))));
        if let Some(h) = &d.hint {
            report.push(Group::with_title(Level::HELP.secondary_title(h.as_str())));
        }
        out.push_str(&renderer.render(&report));
        out.push_str("\n\n");
    }
    out
}

/// One finding as JSON, the same in every command's report.
pub fn json_item(subject: &Subject, d: &Diagnostic) -> serde_json::Value {
    let mut item = json!({
        "code": d.code,
        "name": codes::find(d.code).map(|c| c.name),
        "severity": d.severity,
        "message": d.message,
        "file": subject.path,
        "line": d.span.line,
        "column": d.span.column,
        "hint": d.hint,
    });
    if let Some(r) = &d.resource {
        item["resource"] = json!(r.name);
        item["resource_type"] = json!(r.kind);
        if let Some(a) = r.aspect {
            item["aspect"] = json!(a);
        }
    }
    if let Some(c) = &d.compared {
        item["expected"] = json!(c.expected);
        item["actual"] = json!(c.actual);
        if let Some(diff) = &c.diff {
            item["diff"] = json!(diff);
        }
    }
    item
}

/// The JSON report.
pub fn json(subject: &Subject, diags: &[Diagnostic]) -> String {
    let c = Counts::of(diags);
    let items: Vec<_> = diags.iter().map(|d| json_item(subject, d)).collect();
    let doc = json!({
        "file": subject.path,
        "diagnostics": items,
        "summary": { "errors": c.errors, "warnings": c.warnings, "notes": c.notes },
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// SARIF 2.1.0 log with one run; every code is a rule, locations are the spec's lines (and the resource,
/// as a logical location, when a finding is about one).
pub fn sarif(subject: &Subject, diags: &[Diagnostic]) -> String {
    let rules: Vec<_> = codes::ALL
        .iter()
        .map(|c| {
            json!({
                "id": c.code,
                "name": c.name,
                "shortDescription": { "text": c.name },
                "fullDescription": { "text": c.what },
                "help": { "text": format!("{}\n\nExample:\n{}", c.fix, c.example) },
                "defaultConfiguration": { "level": c.severity.as_str() },
                "helpUri": format!("https://github.com/pipewright/pipewright/blob/main/generated/checks.md#{}", c.code.to_lowercase()),
            })
        })
        .collect();
    let results: Vec<_> = diags
        .iter()
        .map(|d| {
            let mut result = json!({
                "ruleId": d.code,
                "level": d.severity.as_str(),
                "message": { "text": full_message(d) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": subject.path },
                        "region": {
                            "startLine": d.span.line.max(1),
                            "startColumn": d.span.column.max(1),
                        }
                    }
                }],
            });
            if let Some(i) = codes::ALL.iter().position(|c| c.code == d.code) {
                result["ruleIndex"] = json!(i);
            }
            if let Some(r) = &d.resource {
                let qualified =
                    format!("{}/{}{}", r.kind, r.name, r.aspect.map(|a| format!("/{a}")).unwrap_or_default());
                result["locations"][0]["logicalLocations"] =
                    json!([{ "name": r.name, "fullyQualifiedName": qualified, "kind": "resource" }]);
            }
            result
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "pipewright",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/pipewright/pipewright",
                "rules": rules,
            }},
            "artifacts": [{ "location": { "uri": subject.path } }],
            "results": results,
        }],
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions workflow commands: one annotation per diagnostic.
pub fn github(subject: &Subject, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let kind = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let msg = full_message(d);
        out.push_str(&format!(
            "::{kind} file={},line={},col={},title={}::{}\n",
            escape_property(subject.path),
            d.span.line.max(1),
            d.span.column.max(1),
            escape_property(&format!("{} {}", d.code, codes::find(d.code).map(|c| c.name).unwrap_or(""))),
            escape_data(&msg)
        ));
    }
    out
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// JUnit XML: one test case per [`Case`]. A case with an error fails; one that only could not be read
/// (D000 as a warning) is skipped; other warnings and notes are its output.
pub fn junit(subject: &Subject, suite: &str, cases: &[Case]) -> String {
    let failed = |c: &Case| c.findings.iter().any(|d| d.severity == Severity::Error);
    let skipped = |c: &Case| !failed(c) && c.findings.iter().any(is_unknown);
    let (failures, skips) = (cases.iter().filter(|c| failed(c)).count(), cases.iter().filter(|c| skipped(c)).count());
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skips}\">\n  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skips}\" file=\"{}\">\n",
        xml(suite),
        cases.len(),
        xml(suite),
        cases.len(),
        xml(subject.path)
    );
    for c in cases {
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\"",
            xml(&c.class),
            xml(&c.name),
            xml(subject.path),
            c.line
        ));
        if c.findings.is_empty() {
            out.push_str("/>\n");
            continue;
        }
        out.push_str(">\n");
        let mut output = Vec::new();
        for d in &c.findings {
            match d.severity {
                Severity::Error => out.push_str(&format!(
                    "      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
                    xml(&d.message),
                    d.code,
                    xml(&full_message(d))
                )),
                _ if skipped(c) && is_unknown(d) => {
                    out.push_str(&format!("      <skipped message=\"{}\"/>\n", xml(&d.message)))
                }
                _ => output.push(format!("{} {}: {}", d.severity, d.code, full_message(d))),
            }
        }
        if !output.is_empty() {
            out.push_str(&format!("      <system-out>{}</system-out>\n", xml(&output.join("\n"))));
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
