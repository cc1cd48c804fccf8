//! The programs of the stages `run-local` runs: each stage's own crate (`lambdas/<stage>`, binary
//! `<stage>`) built for this machine with cargo, in the target directory of the workspace it belongs
//! to; or, for a stage written in another language, an executable `lambdas/<stage>/bootstrap` that
//! speaks the Lambda Runtime API (run as it is).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Where a stage's program comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A cargo package whose binary is named after the stage.
    Crate { manifest: PathBuf },
    /// An executable run as it is.
    Bootstrap(PathBuf),
}

/// A stage's program could not be found or built.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    #[error(
        "stage `{stage}` has no crate: expected `{}` (binary `{stage}`) or an executable `{}` that speaks the Lambda Runtime API\nhint: `pipewright new` scaffolds a project with a crate per stage; `--lambdas DIR` looks elsewhere",
        dir.join("Cargo.toml").display(),
        dir.join("bootstrap").display()
    )]
    Missing { stage: String, dir: PathBuf },
    #[error("building stage `{stage}`: `{command}` failed ({status})")]
    Build { stage: String, command: String, status: String },
    #[error("building stage `{stage}`: cargo reported no binary `{stage}` in `{}`", manifest.display())]
    NoBinary { stage: String, manifest: PathBuf },
    #[error("building stage `{stage}`: {source}")]
    Io { stage: String, source: std::io::Error },
}

impl ProgramError {
    /// A missing crate is the user's to fix (usage), a failed build is operational.
    pub fn is_usage(&self) -> bool {
        matches!(self, ProgramError::Missing { .. })
    }
}

/// Finds the program of `stage` under `lambdas`.
pub fn locate(lambdas: &Path, stage: &str) -> Result<Source, ProgramError> {
    let dir = lambdas.join(stage);
    let manifest = dir.join("Cargo.toml");
    if manifest.is_file() {
        return Ok(Source::Crate { manifest });
    }
    let bootstrap = dir.join("bootstrap");
    if bootstrap.is_file() {
        return Ok(Source::Bootstrap(bootstrap));
    }
    Err(ProgramError::Missing { stage: stage.to_string(), dir })
}

/// Builds the crates among `sources` (release or debug) and returns each stage's executable.
/// cargo's progress goes to this process's stderr; one summary line per stage to `err`.
pub fn build(
    sources: &BTreeMap<String, Source>,
    release: bool,
    err: &mut dyn Write,
) -> Result<BTreeMap<String, PathBuf>, ProgramError> {
    let mut programs = BTreeMap::new();
    for (stage, source) in sources {
        let path = match source {
            Source::Bootstrap(path) => {
                let _ = writeln!(err, "run-local: {stage}: {}", path.display());
                std::path::absolute(path).map_err(|source| ProgramError::Io { stage: stage.clone(), source })?
            }
            Source::Crate { manifest } => {
                let started = Instant::now();
                let path = cargo_build(stage, manifest, release)?;
                let _ = writeln!(
                    err,
                    "run-local: {stage}: built {} in {:.1} s",
                    path.display(),
                    started.elapsed().as_secs_f64()
                );
                path
            }
        };
        programs.insert(stage.clone(), path);
    }
    Ok(programs)
}

/// `cargo build --bin <stage>` of the package at `manifest`; the executable cargo reports.
fn cargo_build(stage: &str, manifest: &Path, release: bool) -> Result<PathBuf, ProgramError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(manifest)
        .args(["--bin", stage, "--message-format", "json-render-diagnostics"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if release {
        command.arg("--release");
    }
    let shown = format!(
        "cargo build --manifest-path {} --bin {stage}{}",
        manifest.display(),
        if release { " --release" } else { "" }
    );
    let io = |source| ProgramError::Io { stage: stage.to_string(), source };
    let mut child = command.spawn().map_err(io)?;
    let mut executable = None;
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.map_err(io)?;
            if let Some(path) = executable_of(&line, stage) {
                executable = Some(path);
            }
        }
    }
    let status = child.wait().map_err(io)?;
    if !status.success() {
        return Err(ProgramError::Build { stage: stage.to_string(), command: shown, status: status.to_string() });
    }
    executable.ok_or_else(|| ProgramError::NoBinary { stage: stage.to_string(), manifest: manifest.to_path_buf() })
}

/// The executable of a `compiler-artifact` message for the binary target `stage`.
fn executable_of(line: &str, stage: &str) -> Option<PathBuf> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v["reason"] != "compiler-artifact" || v["target"]["name"] != stage {
        return None;
    }
    if !v["target"]["kind"].as_array()?.iter().any(|k| k == "bin") {
        return None;
    }
    v["executable"].as_str().map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_without_a_crate_names_the_expected_paths() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = locate(dir.path(), "curate").expect_err("no crate");
        let text = e.to_string();
        assert!(text.contains("curate/Cargo.toml") && text.contains("curate/bootstrap"), "{text}");
        assert!(text.contains("pipewright new"), "{text}");
        assert!(e.is_usage());
        std::fs::create_dir_all(dir.path().join("curate")).expect("mkdir");
        std::fs::write(dir.path().join("curate/bootstrap"), "#!/bin/sh\n").expect("write");
        assert_eq!(locate(dir.path(), "curate").expect("bootstrap"), Source::Bootstrap(dir.path().join("curate/bootstrap")));
        std::fs::write(dir.path().join("curate/Cargo.toml"), "").expect("write");
        assert!(matches!(locate(dir.path(), "curate").expect("crate"), Source::Crate { .. }));
    }

    #[test]
    fn the_executable_comes_from_cargos_artifact_message() {
        let line = r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"curate"},"executable":"/t/debug/curate"}"#;
        assert_eq!(executable_of(line, "curate"), Some(PathBuf::from("/t/debug/curate")));
        assert_eq!(executable_of(line, "other"), None);
        let lib = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"curate"},"executable":null}"#;
        assert_eq!(executable_of(lib, "curate"), None);
        assert_eq!(executable_of("not json", "curate"), None);
    }
}
