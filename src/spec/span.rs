//! Source locations of spec nodes.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
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

/// A value with the location of the YAML node it came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sp<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }

    /// A built-in value that has no location in the file.
    pub fn builtin(value: T) -> Self {
        Self { value, span: Span::UNKNOWN }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Sp<U> {
        Sp { value: f(self.value), span: self.span }
    }

    pub fn as_ref(&self) -> Sp<&T> {
        Sp { value: &self.value, span: self.span }
    }
}

impl<T> std::ops::Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Display> fmt::Display for Sp<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        let loc = spanned.referenced;
        Ok(Sp { value: spanned.value, span: Span::at(loc.line(), loc.column()) })
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}
