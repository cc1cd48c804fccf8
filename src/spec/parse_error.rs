//! The parser's errors in plain words: what was found, where, and what the spec expects there.

use crate::report::Diagnostic;
use crate::report::codes;
use crate::report::suggest;
use crate::spec::Span;
use serde_saphyr::Error;

/// The most text of all the spec's values together (a spec of 1,000 stages holds about 100 KiB).
pub const MAX_SCALAR_BYTES: usize = 4 * 1024 * 1024;

/// The parser's options: YAML 1.2 booleans only (`true`/`false`; `yes`, `no`, `on`, `off` are refused), no
/// duplicate keys, and bounded input.
pub fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_total_scalar_bytes = MAX_SCALAR_BYTES;
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.budget = Some(budget);
    options
}

/// One diagnostic for a parse error of `text`, at the node it is about.
pub fn diagnostic(e: &Error, text: &str) -> Diagnostic {
    let span = e.location().map(|l| Span::at(l.line(), l.column())).unwrap_or(Span { line: 1, column: 1 });
    let found = scalar_at(text, span);
    let (message, hint) = describe(e, found.as_deref());
    let d = Diagnostic::error(codes::SPEC_SYNTAX, span, message);
    match hint {
        Some(h) => d.with_hint(h),
        None => d,
    }
}

/// The value written at `span` (the rest of its line, without a comment), when it is a plain one-line value.
fn scalar_at(text: &str, span: Span) -> Option<String> {
    let line = text.lines().nth((span.line as usize).checked_sub(1)?)?;
    let column = (span.column as usize).checked_sub(1)?;
    let rest: String = line.chars().skip(column).collect();
    let rest = rest.split(" #").next().unwrap_or("").trim_end();
    // At a key (the line's first character): its value follows the colon.
    let at_key = line.chars().take(column).all(|c| c == ' ' || c == '-');
    let rest = if at_key { rest.split_once(": ").map_or(rest, |(_, v)| v) } else { rest }.trim();
    (!rest.is_empty() && !rest.ends_with(':')).then(|| crate::report::shown(rest))
}

/// What a scalar type of the model is, in the spec's words.
fn expected(ty: &str) -> String {
    match ty {
        "boolean" | "bool" => "`true` or `false`".to_string(),
        "u8" | "u16" | "u32" | "u64" | "usize" => {
            let max = match ty {
                "u8" => u64::from(u8::MAX),
                "u16" => u64::from(u16::MAX),
                "u32" => u64::from(u32::MAX),
                _ => u64::MAX,
            };
            format!("a whole number from 0 to {max}")
        }
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_string(),
        "floating point" | "f32" | "f64" => "a number".to_string(),
        "char" => "one character".to_string(),
        other => format!("a {other}"),
    }
}

/// A kind of YAML node the parser expected, in the spec's words.
fn node(expected: &str) -> &'static str {
    if expected.contains("scalar") {
        "a single value here, not a list or a mapping"
    } else if expected.contains("sequence") {
        "a list here (`- item` lines or `[a, b]`)"
    } else if expected.contains("mapping") {
        "a mapping here (`key: value` lines or `{key: value}`)"
    } else {
        "another kind of value here"
    }
}

fn with_found(found: Option<&str>, what: String) -> String {
    match found {
        Some(f) => format!("`{f}` is not {what}"),
        None => format!("expected {what}"),
    }
}

/// The message and hint of one parser error.
fn describe(e: &Error, found: Option<&str>) -> (String, Option<String>) {
    match e {
        Error::WithSnippet { error, .. } => describe(error, found),
        Error::AliasError { error, .. } => describe(error, found),
        Error::SerdeUnknownField { field, expected, .. } => {
            let field = crate::report::shown(field);
            let hint = suggest::did_you_mean(&field, expected.iter().copied())
                .unwrap_or_else(|| format!("the keys here: {}", expected.join(", ")));
            (format!("unknown key `{field}`"), Some(hint))
        }
        Error::SerdeUnknownVariant { variant, expected, .. } => {
            let variant = crate::report::shown(variant);
            let hint = suggest::did_you_mean(&variant, expected.iter().copied())
                .unwrap_or_else(|| format!("write one of: {}", expected.join(", ")));
            (format!("`{variant}` is not a value this key takes"), Some(hint))
        }
        Error::SerdeMissingField { field, .. } => (
            format!("missing key `{field}`"),
            Some(format!("add `{field}:` here (`pipewright schema` lists every key)")),
        ),
        Error::SerdeInvalidType { unexpected, expected, .. } => {
            (format!("expected {expected}, found {}", crate::report::shown(unexpected)), None)
        }
        Error::SerdeInvalidValue { unexpected, expected, .. } => {
            (format!("{} is not {expected}", crate::report::shown(unexpected)), None)
        }
        Error::SerdeInvalidLength { len, expected, .. } => (format!("{len} entries, expected {expected}"), None),
        Error::InvalidBooleanStrict { .. } => (
            with_found(found, "`true` or `false`".into()),
            Some("booleans are `true` or `false` (YAML 1.1's yes/no/on/off are not)".into()),
        ),
        Error::InvalidScalar { ty, .. } => (with_found(found, expected(ty)), None),
        Error::NullIntoString { .. } => {
            ("a value is missing here".into(), Some("write the value after the colon".into()))
        }
        Error::DuplicateMappingKey { key, .. } => (
            match key {
                Some(k) => format!("key `{}` appears twice in this mapping", crate::report::shown(k)),
                None => "a key appears twice in this mapping".to_string(),
            },
            Some("keep one of them".into()),
        ),
        Error::MultipleDocuments { .. } => (
            "the spec holds more than one YAML document".into(),
            Some("a spec is one document: remove the `---` line and what follows it, or merge them".into()),
        ),
        Error::Unexpected { expected, .. } => (format!("expected {}", node(expected)), None),
        Error::Eof { .. } => ("the spec ends in the middle of a value".into(), None),
        Error::IndentationError { required, actual, .. } => {
            (format!("indentation: expected {required}, found {actual} spaces"), None)
        }
        Error::Budget { .. } => (
            format!("the spec is too large: its values hold more than {} MiB of text", MAX_SCALAR_BYTES >> 20),
            Some("a spec describes resources; data belongs in S3".into()),
        ),
        Error::InvalidUtf8Input => ("the spec is not UTF-8 text".into(), None),
        other => {
            let text = other.render_with_formatter(&serde_saphyr::UserMessageFormatter);
            (clean(&text), None)
        }
    }
}

/// The first line of the parser's message, without its `line L column C` (the diagnostic shows it).
fn clean(text: &str) -> String {
    let first = text.lines().next().unwrap_or(text);
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let msg = match first.find(": ") {
        Some(i) if first.starts_with("line ") => &first[i + 2..],
        _ => first,
    };
    let msg = match msg.rfind(" at line ") {
        Some(i) if msg[i + 9..].chars().next().is_some_and(|c| c.is_ascii_digit()) => &msg[..i],
        _ => msg,
    };
    crate::report::shown(msg.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_shown_is_the_one_at_the_position() {
        let text = "buckets:\n  raw:\n    versioning: \"a: b\"  # note\n";
        // At the value: the whole value, colon and all, without the comment.
        assert_eq!(scalar_at(text, Span { line: 3, column: 17 }).as_deref(), Some("\"a: b\""));
        // At the key: what follows its colon.
        assert_eq!(scalar_at(text, Span { line: 3, column: 5 }).as_deref(), Some("\"a: b\""));
        // A mapping's key with nothing after it: no value.
        assert_eq!(scalar_at(text, Span { line: 2, column: 3 }), None);
    }
}
