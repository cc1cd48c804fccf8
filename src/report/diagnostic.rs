//! Findings as data: every check and every spec problem produces [`Diagnostic`]s.

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

/// One finding: a stable code, where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// Where in the spec (1-based line and column).
    pub span: Span,
    /// How to fix it, when there is a fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(code: &'static str, severity: Severity, span: Span, message: impl Into<String>) -> Self {
        Self { code, severity, message: message.into(), span, hint: None }
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
