//! YAML -> typed model -> pipeline graph. Every node keeps its span (line, column).

pub mod duration;
pub mod model;
pub mod parse_error;
pub mod partition;
pub mod pattern;
pub mod resolve;
pub mod schedule;
pub mod span;
pub mod synthetic;

pub use resolve::{Pipeline, resolve};
pub use span::{Sp, Span};

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
    /// when it is the working directory). The stage crates (`lambdas/<stage>`) are found there. `None`
    /// for a spec that is not a file (standard input, text in tests): no stage crates belong to it.
    pub root: Option<PathBuf>,
    /// The spec's path relative to `root`, with `/`: what generated files and the deployed template
    /// record, so they do not depend on how the path was spelled or where the command ran.
    pub recorded: String,
}

impl Source {
    /// The spec's name: the file stem (`hoopstat-haus`), used for `generated/<name>/`.
    pub fn name(&self) -> String {
        self.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "spec".to_string())
    }

    /// Reads a spec file; `-` reads standard input.
    pub fn read(path: &Path) -> std::io::Result<Self> {
        if path == Path::new(STDIN) {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)?;
            return Ok(Source::text(STDIN_NAME, utf8(bytes)?));
        }
        let text = utf8(std::fs::read(path)?)?;
        let (root, recorded) = project_path(path)?;
        Ok(Source { path: path.to_path_buf(), text, root: Some(root), recorded })
    }

    /// Where the spec's stage crates are: `lambdas/` under its project root.
    pub fn stage_crates(&self) -> Option<PathBuf> {
        self.root.as_ref().map(|r| r.join(LAMBDAS))
    }

    /// Whether the spec came from standard input (`-`).
    pub fn is_stdin(&self) -> bool {
        self.path == Path::new(STDIN_NAME) && self.root.is_none()
    }

    /// A spec that is not a file (tests, README snippets): it has no project root and `path` is
    /// recorded as given.
    pub fn text(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let path = path.into();
        let recorded = path.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        Source { path, text: text.into(), root: None, recorded }
    }
}

/// Where the stage crates are (`lambdas/<stage>`), relative to the spec's project root.
pub const LAMBDAS: &str = "lambdas";

/// The spec argument that means standard input.
pub const STDIN: &str = "-";

/// How diagnostics name a spec read from standard input.
pub const STDIN_NAME: &str = "<stdin>";

/// The spec's text, or an error that says where it stops being UTF-8 (line, column and byte offset).
fn utf8(bytes: Vec<u8>) -> std::io::Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line_start = bytes[..at].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
        let column = String::from_utf8_lossy(&bytes[line_start..at]).chars().count() + 1;
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text: byte 0x{:02X} at line {line}, column {column} (byte offset {at}); save the spec as UTF-8",
                bytes[at]
            ),
        )
    })
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
/// diagnostic with the location of the offending node, in plain words ([`parse_error`]).
pub fn parse(source: &Source) -> Result<model::SpecFile, Diagnostic> {
    serde_saphyr::from_str_with_options::<model::SpecFile>(&source.text, parse_error::options())
        .map_err(|e| parse_error::diagnostic(&e, &source.text))
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
