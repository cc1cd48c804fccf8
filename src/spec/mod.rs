//! YAML -> typed model -> pipeline graph. Every node keeps its span (line, column).

pub mod duration;
pub mod model;
pub mod partition;
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

/// The spec a command uses when given none: `pipewright.yaml` in the working directory.
pub const DEFAULT_SPEC: &str = "pipewright.yaml";

/// A spec's text and where it came from.
#[derive(Debug, Clone)]
pub struct Source {
    /// Path as given by the user (used in diagnostics and hints).
    pub path: PathBuf,
    pub text: String,
    /// The spec's project root: the nearest directory above the spec that holds a `Cargo.toml` or
    /// `.git`, else the spec's own directory; relative to the working directory when under it (empty
    /// when it is the working directory). The stage crates (`lambdas/<stage>`) are found there.
    pub root: PathBuf,
    /// The spec's path relative to `root`, with `/`: what generated files and the deployed template
    /// record, so they do not depend on how the path was spelled or where the command ran.
    pub recorded: String,
}

impl Source {
    /// The spec's name: the file stem (`hoopstat-haus`), used for `generated/<name>/`.
    pub fn name(&self) -> String {
        self.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "spec".to_string())
    }

    /// Reads a spec file.
    pub fn read(path: &Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        let (root, recorded) = project_path(path)?;
        Ok(Source { path: path.to_path_buf(), text, root, recorded })
    }

    /// A spec that is not a file (tests, README snippets): its root is the working directory (empty) and
    /// `path` is recorded as given.
    pub fn text(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let path = path.into();
        let recorded = path.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        Source { path, text: text.into(), root: PathBuf::new(), recorded }
    }
}

/// The project root of the spec at `path` and the spec's path relative to it (see [`Source`]).
fn project_path(path: &Path) -> std::io::Result<(PathBuf, String)> {
    let absolute = std::fs::canonicalize(path)?;
    let dir = absolute.parent().unwrap_or(Path::new("/"));
    let root = dir
        .ancestors()
        .find(|a| a.join("Cargo.toml").is_file() || a.join(".git").exists())
        .unwrap_or(dir)
        .to_path_buf();
    let relative = absolute.strip_prefix(&root).unwrap_or(&absolute);
    let recorded = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
    // Shown relative to the working directory when under it (`lambdas/x/src`, not `/home/.../lambdas/x/src`).
    let cwd = std::env::current_dir().and_then(std::fs::canonicalize);
    let root = match cwd.as_ref().map(|cwd| root.strip_prefix(cwd)) {
        Ok(Ok(under)) => under.to_path_buf(),
        _ => root,
    };
    Ok((root, recorded))
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
