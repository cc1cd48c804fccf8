//! `pipewright graph`: the pipeline as a picture (Mermaid, dot, SVG), optionally coloured by a
//! status document.

use super::{env, load_valid};
use crate::Exit;
use crate::graph::Graph;
use crate::report::status::StatusFile;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Mermaid flowchart (renders in GitHub Markdown).
    Mermaid,
    /// Graphviz dot.
    Dot,
    /// A standalone SVG document.
    Svg,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The spec (default: `PIPEWRIGHT_SPEC`, else `pipewright.yaml` in the working directory).
    #[arg(env = env::SPEC)]
    pub spec: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
    /// Colour nodes from a status document: `{"resources": {"<name>": "ok|drift|broken|unknown"}}`.
    #[arg(long, value_name = "FILE")]
    pub status: Option<PathBuf>,
}

pub fn run(args: &GraphArgs, color: bool, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    let (_, pipeline) = match load_valid(args.spec.as_ref(), "drawing", color, err)? {
        Ok(loaded) => loaded,
        Err(exit) => return Ok(exit),
    };
    let graph = Graph::of(&pipeline);
    let status = match &args.status {
        None => None,
        Some(path) => {
            let parsed = std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|text| StatusFile::parse(&text).map_err(|e| e.to_string()));
            match parsed {
                Ok(s) => Some(s),
                Err(e) => {
                    writeln!(err, "error: cannot read status `{}`: {e}", path.display())?;
                    writeln!(
                        err,
                        "hint: the format is {{\"resources\": {{\"<name>\": \"ok|drift|broken|unknown\"}}}}"
                    )?;
                    return Ok(Exit::Usage);
                }
            }
        }
    };
    if let Some(s) = &status {
        for name in graph.unknown_names(s) {
            writeln!(err, "warning: status names `{name}`, which is not a resource of this pipeline")?;
        }
    }
    let text = match args.format {
        GraphFormat::Mermaid => crate::graph::mermaid(&graph, status.as_ref()),
        GraphFormat::Dot => crate::graph::dot(&graph, status.as_ref()),
        GraphFormat::Svg => crate::graph::svg(&graph, status.as_ref()),
    };
    write!(out, "{text}")?;
    Ok(Exit::Clean)
}
