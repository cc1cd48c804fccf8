//! `pipewright docs [--check]`: the runbook of a spec, `generated/<spec>/RUNBOOK.md`.

use super::generate::{DEFAULT_OUT, out_flag};
use super::{env, load_valid};
use crate::Exit;
use crate::cfn::fresh;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DocsArgs {
    /// The spec (default: `PIPEWRIGHT_SPEC`, else `pipewright.yaml` in the working directory).
    #[arg(env = env::SPEC)]
    pub spec: Option<PathBuf>,
    /// Output directory; the runbook goes to `<out>/<spec-name>/RUNBOOK.md`.
    #[arg(long, default_value = DEFAULT_OUT, env = env::OUT)]
    pub out: PathBuf,
    /// Do not write: exit 1 with a unified diff when the runbook on disk is stale.
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: &DocsArgs, color: bool, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    let (source, pipeline) = match load_valid(args.spec.as_ref(), "documenting", color, err)? {
        Ok(loaded) => loaded,
        Err(exit) => return Ok(exit),
    };
    let path = source.path.display().to_string();
    let files = match crate::docs::files(&pipeline, &source.name(), &source.recorded) {
        Ok(files) => files,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(Exit::Failure);
        }
    };
    if args.check {
        let changed = fresh::changed_files(&args.out, &files);
        if changed.is_empty() {
            for f in &files {
                writeln!(err, "{}: fresh", args.out.join(&f.path).display())?;
            }
            return Ok(Exit::Clean);
        }
        for (_, diff) in &changed {
            write!(out, "{diff}")?;
        }
        writeln!(
            err,
            "error: the runbook is stale\nhint: run `pipewright docs {path}{}` and commit the result",
            out_flag(&args.out)
        )?;
        return Ok(Exit::Findings);
    }
    match fresh::write_files(&args.out, &files) {
        Ok(written) => {
            for f in &files {
                let what = if written > 0 { "wrote" } else { "unchanged" };
                writeln!(err, "{}: {what}", args.out.join(&f.path).display())?;
            }
            Ok(Exit::Clean)
        }
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(Exit::Failure)
        }
    }
}
