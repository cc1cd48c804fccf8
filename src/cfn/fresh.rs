//! Whether the generated files on disk are what the spec generates (`generate --check`, `docs --check`),
//! and writing those that are not.

use super::files::GeneratedFile;
use similar::TextDiff;
use std::path::{Path, PathBuf};

/// What a comparison with the files on disk found.
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

/// Compares `files` with what is on disk under `out`; `spec_dir` (under `out`) is searched for files no
/// longer generated.
pub fn compare(out: &Path, spec_dir: &Path, files: &[GeneratedFile]) -> Staleness {
    Staleness { changed: changed_files(out, files), extra: extra_files(&out.join(spec_dir), out, files) }
}

/// (path, unified diff) of the files whose content on disk under `out` differs or that are missing. The
/// diff's headers name the file as `a/<path>` and `b/<path>` for a relative path (as git does), else by
/// the path itself.
pub fn changed_files(out: &Path, files: &[GeneratedFile]) -> Vec<(PathBuf, String)> {
    let mut changed = Vec::new();
    for f in files {
        let path = out.join(&f.path);
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        if old != f.contents {
            let shown = path.display().to_string();
            let (a, b) =
                if path.is_absolute() { (shown.clone(), shown) } else { (format!("a/{shown}"), format!("b/{shown}")) };
            let diff =
                TextDiff::from_lines(&old, &f.contents).unified_diff().context_radius(3).header(&a, &b).to_string();
            changed.push((path, diff));
        }
    }
    changed
}

/// A file that could not be written or removed.
#[derive(Debug, thiserror::Error)]
#[error("cannot {verb} `{}`: {source}", path.display())]
pub struct WriteError {
    pub verb: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Writes the files that differ from what is on disk under `out`; the number written.
pub fn write_files(out: &Path, files: &[GeneratedFile]) -> Result<usize, WriteError> {
    let mut written = 0;
    for f in files {
        let path = out.join(&f.path);
        if std::fs::read_to_string(&path).is_ok_and(|old| old == f.contents) {
            continue;
        }
        path.parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, &f.contents))
            .map_err(|source| WriteError { verb: "write", path: path.clone(), source })?;
        written += 1;
    }
    Ok(written)
}

/// Removes the files of `spec_dir` (under `out`) that are not among `files`; the files removed.
pub fn remove_extra(out: &Path, spec_dir: &Path, files: &[GeneratedFile]) -> Result<Vec<PathBuf>, WriteError> {
    let extra = extra_files(&out.join(spec_dir), out, files);
    for path in &extra {
        std::fs::remove_file(path).map_err(|source| WriteError { verb: "remove", path: path.clone(), source })?;
    }
    Ok(extra)
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
