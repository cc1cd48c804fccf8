//! Findings as data: the one finding type of every command. `check` reports spec problems, `verify`
//! drift of live resources, `deploy` the hazards of a change set, `status` what is wrong now; each is a
//! [`Diagnostic`] with a code of the one registry ([`super::codes`]), rendered by [`super::render`].

use super::span::Span;
use serde::Serialize;
use std::fmt;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Note,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The AWS resource a finding is about (drift, hazards, status), when it is about one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    /// The resource's real name (or its logical id in a change set).
    pub name: String,
    /// `AWS::SQS::Queue`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The part of it that was judged (`attributes`, `notifications`, ...), when one part was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aspect: Option<&'static str>,
}

/// What the spec says and what was found, when a finding compares them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Compared {
    pub expected: String,
    pub actual: String,
    /// A unified diff (expected -> live) of documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// One finding: a stable code, where (the spec's line, and the resource when there is one), what,
/// expected against actual when it compares, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// Where in the spec (1-based line and column); unknown (0) when nothing in the spec declared it.
    pub span: Span,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Box<Resource>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared: Option<Box<Compared>>,
    /// How to fix it, when there is a fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(code: &'static str, severity: Severity, span: Span, message: impl Into<String>) -> Self {
        Self { code, severity, message: message.into(), span, resource: None, compared: None, hint: None }
    }

    /// A finding about a resource, with its code's severity and documented fix as the hint.
    pub fn about(code: &'static str, resource: Resource, span: Span, message: impl Into<String>) -> Self {
        let doc = super::codes::find(code);
        debug_assert!(doc.is_some(), "code {code} is not in the registry");
        let severity = doc.map_or(Severity::Error, |d| d.severity);
        let d = Self::new(code, severity, span, message);
        let d = Self { resource: Some(Box::new(resource)), ..d };
        match doc {
            Some(doc) => d.with_hint(doc.fix),
            None => d,
        }
    }

    pub fn compared(mut self, expected: impl ToString, actual: impl ToString, diff: Option<String>) -> Self {
        self.compared = Some(Box::new(Compared { expected: expected.to_string(), actual: actual.to_string(), diff }));
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, span, message)
    }

    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, span, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl Resource {
    pub fn new(name: impl Into<String>, kind: impl Into<String>) -> Self {
        Resource { name: name.into(), kind: kind.into(), aspect: None }
    }

    pub fn aspect(mut self, aspect: &'static str) -> Self {
        self.aspect = Some(aspect);
        self
    }
}

/// Sorts diagnostics by position, then code, and removes exact duplicates.
pub fn sort(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| (a.span, a.code, &a.message).cmp(&(b.span, b.code, &b.message)));
    diags.dedup();
}

/// Merges the findings one value causes: a value in `defaults:` that breaks a rule for every stage taking
/// it is one finding at that value, which names what else it applies to. Findings are the same but for
/// their subject when they share code and position and their messages differ only inside backticks.
/// Expects sorted input.
pub fn merge_same_cause(diags: &mut Vec<Diagnostic>) {
    let mut merged: Vec<(Diagnostic, Vec<String>)> = Vec::with_capacity(diags.len());
    for d in diags.drain(..) {
        match merged.last_mut() {
            Some((first, also))
                if d.span.is_known()
                    && first.span == d.span
                    && first.code == d.code
                    && masked(&first.message) == masked(&d.message) =>
            {
                let (a, b) = (quoted(&first.message), quoted(&d.message));
                if let Some((_, subject)) = a.iter().zip(&b).find(|(x, y)| x != y) {
                    also.push(format!("`{subject}`"));
                }
            }
            _ => merged.push((d, Vec::new())),
        }
    }
    diags.extend(merged.into_iter().map(|(mut d, also)| {
        if !also.is_empty() {
            d.message.push_str(&format!(" (the same value: also {})", also.join(", ")));
        }
        d
    }));
}

/// A message without what its backticks quote.
fn masked(message: &str) -> String {
    message.split('`').step_by(2).collect::<Vec<_>>().join("``")
}

/// What a message's backticks quote.
fn quoted(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}
