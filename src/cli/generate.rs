//! `pipewright generate [--check]`.

use super::{GenerateArgs, load_valid};
use crate::Exit;
use crate::cfn::files::{global_files, spec_files};
use crate::cfn::fresh;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where generated files go unless `--out` says otherwise.
pub const DEFAULT_OUT: &str = "generated";

pub fn run(args: &GenerateArgs, color: bool, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    let (source, pipeline) = match load_valid(args.spec.as_ref(), "generating", color, err)? {
        Ok(loaded) => loaded,
        Err(exit) => return Ok(exit),
    };
    let path = source.path.display().to_string();
    let name = source.name();
    let mut files = global_files();
    files.extend(spec_files(&pipeline, &name, &source.recorded));
    match crate::docs::files(&pipeline, &name, &source.recorded) {
        Ok(docs) => files.extend(docs),
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(Exit::Failure);
        }
    }
    let spec_dir = PathBuf::from(&name);

    if args.check {
        let stale = fresh::compare(&args.out, &spec_dir, &files);
        if stale.is_fresh() {
            writeln!(err, "{}: {} generated files are fresh", args.out.join(&spec_dir).display(), files.len())?;
            return Ok(Exit::Clean);
        }
        for (_, diff) in &stale.changed {
            write!(out, "{diff}")?;
        }
        for p in &stale.extra {
            writeln!(out, "stale file (no longer generated): {}", p.display())?;
        }
        writeln!(
            err,
            "error: {} generated file(s) are stale\nhint: run `pipewright generate {path}{}` and commit the result",
            stale.changed.len() + stale.extra.len(),
            out_flag(&args.out)
        )?;
        return Ok(Exit::Findings);
    }

    let written = match fresh::write_files(&args.out, &files) {
        Ok(n) => n,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(Exit::Failure);
        }
    };
    match fresh::remove_extra(&args.out, &spec_dir, &files) {
        Ok(removed) => {
            for path in removed {
                writeln!(err, "removed stale {}", path.display())?;
            }
        }
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(Exit::Failure);
        }
    }
    writeln!(
        err,
        "{}: wrote {written} file(s), {} unchanged",
        args.out.join(&spec_dir).display(),
        files.len() - written
    )?;
    Ok(Exit::Clean)
}

/// ` --out DIR` when `out` is not the default, so a hint reproduces the command the user ran.
pub fn out_flag(out: &Path) -> String {
    if out == Path::new(DEFAULT_OUT) { String::new() } else { format!(" --out {}", out.display()) }
}
