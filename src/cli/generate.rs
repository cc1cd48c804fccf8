//! `pipewright generate [--check]`.

use super::{GenerateArgs, load_valid};
use crate::Exit;
use crate::cfn::files::{GeneratedFile, global_files, spec_files};
use similar::TextDiff;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `generate --check` found.
#[derive(Debug, Default)]
pub struct Staleness {
    /// (path, unified diff) of files whose content differs or that are missing.
    pub changed: Vec<(PathBuf, String)>,
    /// Files in the spec's directory that generate no longer writes.
    pub extra: Vec<PathBuf>,
}

impl Staleness {
    pub fn is_fresh(&self) -> bool {
        self.changed.is_empty() && self.extra.is_empty()
    }
}

/// Compares the files with what is on disk under `out`.
pub fn compare(out: &Path, spec_dir: &Path, files: &[GeneratedFile]) -> Staleness {
    Staleness { changed: changed_files(out, files), extra: extra_files(&out.join(spec_dir), out, files) }
}

/// (path, unified diff) of the files whose content on disk under `out` differs or that are missing.
pub fn changed_files(out: &Path, files: &[GeneratedFile]) -> Vec<(PathBuf, String)> {
    let mut changed = Vec::new();
    for f in files {
        let path = out.join(&f.path);
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        if old != f.contents {
            let shown = path.display().to_string();
            let diff = TextDiff::from_lines(&old, &f.contents)
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{shown}"), &format!("b/{shown}"))
                .to_string();
            changed.push((path, diff));
        }
    }
    changed
}

/// Writes the files that differ from what is on disk; the number written, or the exit of a failure
/// (reported on `err`).
pub fn write_files(out: &Path, files: &[GeneratedFile], err: &mut dyn Write) -> std::io::Result<Result<usize, Exit>> {
    let mut written = 0;
    for f in files {
        let target = out.join(&f.path);
        if std::fs::read_to_string(&target).is_ok_and(|old| old == f.contents) {
            continue;
        }
        let result =
            target.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(&target, &f.contents));
        if let Err(e) = result {
            writeln!(err, "error: cannot write `{}`: {e}", target.display())?;
            return Ok(Err(Exit::Failure));
        }
        written += 1;
    }
    Ok(Ok(written))
}

/// Files in `dir` that are not among `files`.
fn extra_files(dir: &Path, out: &Path, files: &[GeneratedFile]) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut extra: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && !files.iter().any(|f| out.join(&f.path) == *p))
        .collect();
    extra.sort();
    extra
}

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
        let stale = compare(&args.out, &spec_dir, &files);
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
            "error: {} generated file(s) are stale\nhint: run `pipewright generate {path}` and commit the result",
            stale.changed.len() + stale.extra.len()
        )?;
        return Ok(Exit::Findings);
    }

    let written = match write_files(&args.out, &files, err)? {
        Ok(n) => n,
        Err(exit) => return Ok(exit),
    };
    for extra in extra_files(&args.out.join(&spec_dir), &args.out, &files) {
        if let Err(e) = std::fs::remove_file(&extra) {
            writeln!(err, "error: cannot remove stale `{}`: {e}", extra.display())?;
            return Ok(Exit::Failure);
        }
        writeln!(err, "removed stale {}", extra.display())?;
    }
    writeln!(
        err,
        "{}: wrote {written} file(s), {} unchanged",
        args.out.join(&spec_dir).display(),
        files.len() - written
    )?;
    Ok(Exit::Clean)
}
