//! The programs of the stages `run-local` runs: each stage's own crate (`lambdas/<stage>`, binary
//! `<stage>`) built for this machine with cargo, in the target directory of the workspace it belongs
//! to; or, for a stage written in another language, an executable `lambdas/<stage>/bootstrap` that
//! speaks the Lambda Runtime API (run as it is).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
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
    #[error("building stage `{stage}`: `{command}` failed ({status}); cargo's errors are above")]
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

/// Builds the crates among `sources` (release or debug) and returns each stage's executable. The
/// crates of one cargo workspace are built by one `cargo build`, so their dependencies are
/// resolved and compiled once. cargo's progress goes to this process's stderr; a summary line per
/// build to `err`.
pub fn build(
    sources: &BTreeMap<String, Source>,
    release: bool,
    err: &mut dyn Write,
) -> Result<BTreeMap<String, PathBuf>, ProgramError> {
    let mut programs = BTreeMap::new();
    let mut workspaces: BTreeMap<PathBuf, Vec<(&str, &Path)>> = BTreeMap::new();
    for (stage, source) in sources {
        match source {
            Source::Bootstrap(path) => {
                let _ = writeln!(err, "run-local: {stage}: {}", path.display());
                let path =
                    std::path::absolute(path).map_err(|source| ProgramError::Io { stage: stage.clone(), source })?;
                programs.insert(stage.clone(), path);
            }
            Source::Crate { manifest } => {
                let workspace = workspace_of(stage, manifest)?;
                workspaces.entry(workspace).or_default().push((stage, manifest));
            }
        }
    }
    for (workspace, stages) in workspaces {
        let started = Instant::now();
        let built = cargo_build(&workspace, &stages, release)?;
        let names: Vec<&str> = stages.iter().map(|(s, _)| *s).collect();
        let _ = writeln!(
            err,
            "run-local: built {} ({}) in {:.1} s",
            names.join(", "),
            if release { "release" } else { "debug" },
            started.elapsed().as_secs_f64()
        );
        programs.extend(built);
    }
    Ok(programs)
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The manifest of the workspace the package at `manifest` belongs to (itself when standalone).
fn workspace_of(stage: &str, manifest: &Path) -> Result<PathBuf, ProgramError> {
    let io = |source| ProgramError::Io { stage: stage.to_string(), source };
    let out = crate::build::cargo_command(cargo())
        .args(["locate-project", "--workspace", "--message-format", "plain", "--manifest-path"])
        .arg(manifest)
        .stderr(Stdio::inherit())
        .output()
        .map_err(io)?;
    if !out.status.success() {
        return Err(ProgramError::Build {
            stage: stage.to_string(),
            command: format!("cargo locate-project --workspace --manifest-path {}", manifest.display()),
            status: out.status.to_string(),
        });
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// `cargo build -p <package> --bin <stage> ...` of the stages of one workspace; each stage's
/// executable, as cargo reports it.
fn cargo_build(
    workspace: &Path,
    stages: &[(&str, &Path)],
    release: bool,
) -> Result<BTreeMap<String, PathBuf>, ProgramError> {
    let first = stages.first().map_or("", |(s, _)| *s).to_string();
    let mut command = crate::build::cargo_command(cargo());
    command.arg("build").arg("--manifest-path").arg(workspace);
    for (stage, manifest) in stages {
        // The package is named by its manifest's directory through `--manifest-path` of the
        // workspace, so select it by its own manifest: `-p` takes a package name or a path spec.
        let spec = std::path::absolute(manifest.parent().unwrap_or(manifest))
            .map_err(|source| ProgramError::Io { stage: (*stage).to_string(), source })?;
        command.arg("-p").arg(format!("path+file://{}", spec.display()));
        command.args(["--bin", stage]);
    }
    command.args(["--message-format", "json-render-diagnostics"]).stdout(Stdio::piped()).stderr(Stdio::inherit());
    if release {
        command.arg("--release");
    }
    let shown = format!(
        "cargo build --manifest-path {}{} ({})",
        workspace.display(),
        if release { " --release" } else { "" },
        stages.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(", ")
    );
    let io = |source| ProgramError::Io { stage: first.clone(), source };
    let mut child = command.spawn().map_err(io)?;
    let mut built = BTreeMap::new();
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.map_err(io)?;
            for (stage, _) in stages {
                if let Some(path) = executable_of(&line, stage) {
                    built.insert((*stage).to_string(), path);
                }
            }
        }
    }
    let status = child.wait().map_err(io)?;
    if !status.success() {
        return Err(ProgramError::Build { stage: first, command: shown, status: status.to_string() });
    }
    for (stage, manifest) in stages {
        if !built.contains_key(*stage) {
            return Err(ProgramError::NoBinary { stage: (*stage).to_string(), manifest: manifest.to_path_buf() });
        }
    }
    Ok(built)
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
        assert_eq!(
            locate(dir.path(), "curate").expect("bootstrap"),
            Source::Bootstrap(dir.path().join("curate/bootstrap"))
        );
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
