//! Where a finding points in the spec.

use std::fmt;

/// A 1-based line and column in the spec file. `line == 0` means "not from the file" (a built-in
/// default); diagnostics then point at the closest enclosing node instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct Span {
    pub line: u32,
    pub column: u32,
}

impl Span {
    pub const UNKNOWN: Span = Span { line: 0, column: 0 };

    /// From the parser's 1-based positions (saturating at `u32::MAX`).
    pub fn at(line: u64, column: u64) -> Span {
        Span { line: u32::try_from(line).unwrap_or(u32::MAX), column: u32::try_from(column).unwrap_or(u32::MAX) }
    }

    pub fn is_known(self) -> bool {
        self.line > 0
    }

    /// `self` when known, `fallback` otherwise.
    pub fn or(self, fallback: Span) -> Span {
        if self.is_known() { self } else { fallback }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}
