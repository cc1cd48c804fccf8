//! YAML -> typed model -> pipeline graph. Every node keeps its span (line, column).

pub mod duration;
pub mod model;
pub mod pattern;
pub mod resolve;
pub mod schedule;
pub mod span;
pub mod synthetic;

pub use resolve::{Pipeline, resolve};
pub use span::{Sp, Span};

use crate::check::codes;
use crate::report::Diagnostic;
use std::path::{Path, PathBuf};

/// The flagship spec, embedded so the tool has a default to run on.
pub const FLAGSHIP: &str = include_str!("../../specs/hoopstat-haus.yaml");
/// Path under which the embedded flagship spec is reported.
pub const FLAGSHIP_PATH: &str = "specs/hoopstat-haus.yaml";

/// A spec's text and where it came from.
#[derive(Debug, Clone)]
pub struct Source {
    /// Path as given by the user (used in diagnostics).
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    /// The spec's name: the file stem (`hoopstat-haus`), used for `generated/<name>/`.
    pub fn name(&self) -> String {
        self.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "spec".to_string())
    }

    /// Reads a spec file.
    pub fn read(path: &Path) -> std::io::Result<Self> {
        Ok(Source { path: path.to_path_buf(), text: std::fs::read_to_string(path)? })
    }

    pub fn flagship() -> Self {
        Source { path: PathBuf::from(FLAGSHIP_PATH), text: FLAGSHIP.to_string() }
    }
}

/// Parses the YAML strictly: syntax errors, unknown keys, wrong types and bad values are one
/// diagnostic with the location of the offending node.
pub fn parse(source: &Source) -> Result<model::SpecFile, Diagnostic> {
    serde_saphyr::from_str::<model::SpecFile>(&source.text).map_err(|e| {
        let span = e.location().map(|l| Span::at(l.line(), l.column())).unwrap_or(Span { line: 1, column: 1 });
        let text = e.without_snippet().to_string();
        Diagnostic::error(codes::SPEC_SYNTAX, span, clean_parse_message(&text))
            .with_hint("see `pipewright schema` for the spec format")
    })
}

/// Strips the `error: line L column C: ` prefix of the parser's message (we print our own).
fn clean_parse_message(text: &str) -> String {
    let first = text.lines().next().unwrap_or(text);
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let msg = match first.find(": ") {
        Some(i) if first.starts_with("line ") => &first[i + 2..],
        _ => first,
    };
    // The position is shown by the diagnostic itself.
    let msg = match msg.rfind(" at line ") {
        Some(i) if msg[i + 9..].chars().next().is_some_and(|c| c.is_ascii_digit()) => &msg[..i],
        _ => msg,
    };
    msg.trim().to_string()
}

/// A loaded spec: the pipeline when it parsed, and the diagnostics of parsing and resolution.
pub struct Loaded {
    pub source: Source,
    /// `None` when the YAML did not parse (the diagnostics say why).
    pub pipeline: Option<Pipeline>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses and resolves.
pub fn load(source: Source) -> Loaded {
    match parse(&source) {
        Ok(file) => {
            let (pipeline, diagnostics) = resolve(&file);
            Loaded { source, pipeline: Some(pipeline), diagnostics }
        }
        Err(d) => Loaded { source, pipeline: None, diagnostics: vec![d] },
    }
}
