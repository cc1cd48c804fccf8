//! Diagnostics as data, and one renderer per output format.

pub mod diagnostic;
pub mod render;
pub mod status;

pub use diagnostic::{Diagnostic, Severity};
