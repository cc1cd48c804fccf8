//! Findings as data: diagnostics, their stable codes and where they point (the bottom layer: it
//! depends on no other module), and one renderer per output format.

pub mod codes;
pub mod diagnostic;
pub mod render;
pub mod span;
pub mod status;
pub mod suggest;

pub use diagnostic::{Compared, Diagnostic, Resource, Severity};

/// The most characters of one value a message quotes.
pub const SHOWN_CHARS: usize = 80;

/// `value` as a message quotes it: whole when short, else its first characters and its length, so a
/// report stays small whatever the spec holds.
pub fn shown(value: &str) -> String {
    match value.char_indices().nth(SHOWN_CHARS) {
        None => value.to_string(),
        Some((cut, _)) => format!("{}... ({} characters)", &value[..cut], value.chars().count()),
    }
}
