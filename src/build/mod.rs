//! Building the Lambda stages: each stage's crate (`lambdas/<stage>`) is built with cargo-lambda into
//! a zip, its `bootstrap` is inspected (machine, glibc) before anything is deployed, and the manifest
//! that `pipewright deploy` reads records each zip's SHA-256 (its content-addressed key).

pub mod inspect;
pub mod manifest;

use crate::spec::Pipeline;
use crate::spec::model::Architecture;
use crate::spec::resolve::Stage;
use inspect::{Inspection, Runtime, Unfit};
use manifest::{Artifact, Manifest};
use sha2::{Digest, Sha256};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How `cargo-lambda` is installed when it is missing (the version the project tests with).
pub const INSTALL_HINT: &str = "pip install cargo-lambda==1.9.2";

/// One stage to build.
#[derive(Debug, Clone)]
pub struct Target<'p> {
    pub stage: &'p Stage,
    /// `<lambdas>/<stage>`.
    pub crate_dir: PathBuf,
    /// What to build for: the flag's, else the spec's.
    pub architecture: Architecture,
    /// What the spec deploys the function as.
    pub spec_architecture: Architecture,
}

impl Target<'_> {
    pub fn name(&self) -> &str {
        &self.stage.name.value
    }
}

/// Why a build could not run or its result cannot be deployed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{message}")]
    UnknownStage { stage: String, message: String },
    #[error("stage `{stage}` runs locally (`runs: local`): it is not deployed as a Lambda, so it has no zip to build")]
    LocalStage { stage: String },
    #[error("the spec has no Lambda stage to build")]
    NothingToBuild,
    #[error("stage `{stage}` has no crate: expected `{}` (a crate named after the stage, with a binary `{stage}`)", path.display())]
    MissingCrate { stage: String, path: PathBuf },
    #[error("`cargo-lambda` is not on PATH; install it with `{INSTALL_HINT}`")]
    CargoLambdaMissing,
    #[error("stage `{stage}`: cannot run `{}`: {source}", program.display())]
    Spawn {
        stage: String,
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("stage `{stage}`: cannot remove the zip of an earlier build `{}`: {source}", path.display())]
    Stale {
        stage: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("stage `{stage}`: `cargo lambda build` failed ({status}); its output is above")]
    CargoLambdaFailed { stage: String, status: String },
    #[error("stage `{stage}`: cargo-lambda finished but wrote no zip at `{}`", path.display())]
    ZipMissing { stage: String, path: PathBuf },
    #[error("stage `{stage}`: {source}")]
    Zip {
        stage: String,
        #[source]
        source: inspect::ZipError,
    },
    #[error("stage `{stage}`: the bootstrap in `{}`: {source}", path.display())]
    Inspect {
        stage: String,
        path: PathBuf,
        #[source]
        source: inspect::InspectError,
    },
    #[error("cannot write the build manifest `{}`: {source}", path.display())]
    Manifest {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl BuildError {
    /// Whether the error is the user's to fix before anything runs (exit 2), not a failure (exit 3).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            BuildError::UnknownStage { .. }
                | BuildError::LocalStage { .. }
                | BuildError::NothingToBuild
                | BuildError::MissingCrate { .. }
                | BuildError::CargoLambdaMissing
        )
    }
}

/// The stages to build: every Lambda stage (`runs: local` stages are skipped: they run from cron on
/// a machine that builds them with `cargo install`), or the named ones; each must have its crate.
pub fn plan<'p>(
    p: &'p Pipeline,
    lambdas_dir: &Path,
    only: &[String],
    architecture: Option<Architecture>,
) -> Result<Vec<Target<'p>>, BuildError> {
    for name in only {
        match p.stages.iter().find(|s| s.name.value == *name) {
            None => {
                return Err(BuildError::UnknownStage { stage: name.clone(), message: p.no_stage(name) });
            }
            Some(s) if s.function.is_none() => return Err(BuildError::LocalStage { stage: name.clone() }),
            Some(_) => {}
        }
    }
    let mut targets = Vec::new();
    for stage in &p.stages {
        let Some(function) = &stage.function else { continue };
        if !only.is_empty() && !only.contains(&stage.name.value) {
            continue;
        }
        let crate_dir = lambdas_dir.join(&stage.name.value);
        if !crate_dir.join("Cargo.toml").is_file() {
            return Err(BuildError::MissingCrate {
                stage: stage.name.value.clone(),
                path: crate_dir.join("Cargo.toml"),
            });
        }
        let spec_architecture = function.architecture.value;
        targets.push(Target {
            stage,
            crate_dir,
            architecture: architecture.unwrap_or(spec_architecture),
            spec_architecture,
        });
    }
    if targets.is_empty() {
        return Err(BuildError::NothingToBuild);
    }
    Ok(targets)
}

/// `cargo-lambda` in one of the directories of `path` (the `PATH` variable's value).
pub fn find_cargo_lambda(path: Option<&OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path?)
        .map(|dir| dir.join("cargo-lambda"))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// The cargo-lambda flag of an architecture.
pub fn architecture_flag(a: Architecture) -> &'static str {
    match a {
        Architecture::Arm64 => "--arm64",
        Architecture::X86_64 => "--x86-64",
    }
}

/// The variables Cargo sets for the crate it builds or runs (`CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`,
/// `OUT_DIR`, ...), among `names`. pipewright run through `cargo run` or from a test inherits them; a
/// cargo it starts must not: build scripts that watch them (`cargo:rerun-if-env-changed`, e.g. ring's)
/// would see the pipewright crate's values, rerun, and rebuild what depends on them.
pub fn crate_env<I: IntoIterator<Item = std::ffi::OsString>>(names: I) -> Vec<std::ffi::OsString> {
    const EXACT: [&str; 8] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "OUT_DIR",
    ];
    const PREFIXES: [&str; 3] = ["CARGO_PKG_", "CARGO_CFG_", "CARGO_BIN_"];
    names
        .into_iter()
        .filter(|n| n.to_str().is_some_and(|n| EXACT.contains(&n) || PREFIXES.iter().any(|p| n.starts_with(p))))
        .collect()
}

/// A cargo (or cargo-lambda) command without this process's [`crate_env`].
pub fn cargo_command(program: impl AsRef<OsStr>) -> Command {
    let mut c = Command::new(program);
    for name in crate_env(std::env::vars_os().map(|(k, _)| k)) {
        c.env_remove(name);
    }
    c
}

/// `cargo lambda build --release --output-format zip --bin <stage> --<arch>` for the stage's crate,
/// the zip going to `<lambda_dir>/<stage>/bootstrap.zip`.
pub fn command(cargo_lambda: &Path, target: &Target, lambda_dir: &Path) -> Command {
    let mut c = cargo_command(cargo_lambda);
    c.arg("lambda")
        .arg("build")
        .arg("--release")
        .args(["--output-format", "zip"])
        .arg("--bin")
        .arg(target.name())
        .arg(architecture_flag(target.architecture))
        .arg("--manifest-path")
        .arg(target.crate_dir.join("Cargo.toml"))
        .arg("--lambda-dir")
        .arg(lambda_dir);
    c
}

/// Where cargo-lambda writes a stage's zip.
pub fn zip_path(lambda_dir: &Path, stage: &str) -> PathBuf {
    lambda_dir.join(stage).join("bootstrap.zip")
}

/// Runs cargo-lambda for one target (its output goes to this process's stderr).
pub fn run_cargo_lambda(cargo_lambda: &Path, target: &Target, lambda_dir: &Path) -> Result<PathBuf, BuildError> {
    let zip = zip_path(lambda_dir, target.name());
    // A zip of an earlier build must not pass for this one's.
    if zip.exists() {
        std::fs::remove_file(&zip).map_err(|source| BuildError::Stale {
            stage: target.name().to_string(),
            path: zip.clone(),
            source,
        })?;
    }
    let mut cmd = command(cargo_lambda, target, lambda_dir);
    cmd.stdout(std::io::stderr());
    let status = cmd.status().map_err(|source| BuildError::Spawn {
        stage: target.name().to_string(),
        program: cargo_lambda.to_path_buf(),
        source,
    })?;
    if !status.success() {
        return Err(BuildError::CargoLambdaFailed { stage: target.name().to_string(), status: status.to_string() });
    }
    if !zip.is_file() {
        return Err(BuildError::ZipMissing { stage: target.name().to_string(), path: zip });
    }
    Ok(zip)
}

/// A built, inspected stage.
#[derive(Debug, Clone)]
pub struct Built {
    pub artifact: Artifact,
    pub inspection: Inspection,
    pub duration: Duration,
    /// Why it must not be deployed (empty when fit).
    pub unfit: Vec<Unfit>,
}

/// The handler findings of the targets' crates (PW701/PW702): a build stops on them before it compiles.
pub fn handler_findings(p: &Pipeline, targets: &[Target]) -> Vec<crate::report::Diagnostic> {
    let reporting = crate::check::handler::reporting_stages(p);
    targets
        .iter()
        .filter_map(|t| crate::check::handler::check_crate(t.stage, reporting.contains(t.name()), &t.crate_dir))
        .collect()
}

/// What a build produced: each stage's artifact and inspection, and the manifest when it was written (it
/// is not when a bootstrap cannot run on Lambda).
pub struct Report {
    pub built: Vec<Built>,
    pub manifest: Option<PathBuf>,
    pub runtime: Runtime,
}

impl Report {
    /// Why artifacts must not be deployed.
    pub fn unfit(&self) -> Vec<&Unfit> {
        self.built.iter().flat_map(|b| &b.unfit).collect()
    }

    /// The report as one JSON document.
    pub fn to_json(&self) -> serde_json::Value {
        let artifacts: Vec<_> = self
            .built
            .iter()
            .map(|b| {
                serde_json::json!({
                    "stage": b.artifact.stage,
                    "architecture": b.artifact.architecture,
                    "zip": b.artifact.zip,
                    "size": b.artifact.size,
                    "sha256": b.artifact.sha256,
                    "key": b.artifact.key(),
                    "build_seconds": (b.duration.as_secs_f64() * 10.0).round() / 10.0,
                    "machine": b.inspection.machine.to_string(),
                    "glibc": b.inspection.glibc.map(|v| v.to_string()),
                    "problems": b.unfit.iter().map(ToString::to_string).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::json!({
            "manifest": self.manifest,
            "runtime": self.runtime.name(),
            "runtime_glibc": self.runtime.glibc().to_string(),
            "artifacts": artifacts,
        })
    }
}

/// Builds every target with cargo-lambda into `lambda/` beside the manifest, inspects each bootstrap,
/// and, when every one can run on Lambda, merges them into the manifest at `manifest_path`. `starting`
/// is told of each target before it compiles.
pub fn build(
    p: &Pipeline,
    targets: &[Target],
    cargo_lambda: &Path,
    manifest_path: &Path,
    starting: &mut dyn FnMut(&Target),
) -> Result<Report, BuildError> {
    let base = manifest_path.parent().unwrap_or(Path::new("."));
    // Absolute: cargo-lambda resolves a relative --lambda-dir against the crate.
    let lambda_dir = std::path::absolute(base.join("lambda"))
        .map_err(|source| BuildError::Manifest { path: manifest_path.to_path_buf(), source })?;
    let runtime = Runtime::from_name(crate::cfn::RUNTIME).unwrap_or(Runtime::ProvidedAl2023);
    let mut built = Vec::new();
    for target in targets {
        starting(target);
        let started = std::time::Instant::now();
        let zip = run_cargo_lambda(cargo_lambda, target, &lambda_dir)?;
        let mut b = examine(target, &zip, runtime, started.elapsed())?;
        // Relative to the working directory when possible: the manifest stays portable.
        if let Ok(cwd) = std::env::current_dir()
            && let Ok(rel) = b.artifact.zip.strip_prefix(&cwd)
        {
            b.artifact.zip = rel.to_path_buf();
        }
        built.push(b);
    }
    let mut report = Report { built, manifest: None, runtime };
    if report.unfit().is_empty() {
        let previous = Manifest::read(manifest_path).ok();
        let artifacts: Vec<_> = report.built.iter().map(|b| b.artifact.clone()).collect();
        merge(p, previous, &artifacts)
            .write(manifest_path)
            .map_err(|source| BuildError::Manifest { path: manifest_path.to_path_buf(), source })?;
        report.manifest = Some(manifest_path.to_path_buf());
    }
    Ok(report)
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes the zip, reads its `bootstrap` and inspects it against the target's architecture and the
/// runtime's glibc.
pub fn examine(target: &Target, zip: &Path, runtime: Runtime, duration: Duration) -> Result<Built, BuildError> {
    let stage = target.name().to_string();
    let bytes = std::fs::read(zip).map_err(|source| BuildError::Zip {
        stage: stage.clone(),
        source: inspect::ZipError::Io { path: zip.to_path_buf(), source },
    })?;
    let bootstrap = inspect::read_bootstrap(zip).map_err(|source| BuildError::Zip { stage: stage.clone(), source })?;
    let inspection = inspect::inspect(&bootstrap).map_err(|source| BuildError::Inspect {
        stage: stage.clone(),
        path: zip.to_path_buf(),
        source,
    })?;
    let unfit = inspect::verify(&stage, &inspection, target.architecture, runtime);
    let artifact = Artifact {
        stage,
        zip: zip.to_path_buf(),
        sha256: sha256_hex(&bytes),
        size: bytes.len() as u64,
        architecture: target.architecture.as_str().to_string(),
    };
    Ok(Built { artifact, inspection, duration, unfit })
}

/// The manifest after a build: the new artifacts, plus those of an earlier manifest for Lambda stages
/// of the spec that were not rebuilt (`--stage`), in the spec's stage order.
pub fn merge(p: &Pipeline, previous: Option<Manifest>, built: &[Artifact]) -> Manifest {
    let previous = previous.map(|m| m.artifacts).unwrap_or_default();
    let mut artifacts = Vec::new();
    for stage in p.stages.iter().filter(|s| s.function.is_some()) {
        let name = &stage.name.value;
        let found = built.iter().find(|a| a.stage == *name).or_else(|| previous.iter().find(|a| a.stage == *name));
        artifacts.extend(found.cloned());
    }
    Manifest { version: 1, artifacts }
}

/// Human-readable size: `6.2 MiB`, `512 KiB`.
pub fn human_size(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes as f64 >= MIB { format!("{:.1} MiB", bytes as f64 / MIB) } else { format!("{} KiB", bytes.div_ceil(1024)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Source;

    fn flagship() -> Pipeline {
        crate::spec::load(Source::read(std::path::Path::new("specs/hoopstat-haus.yaml")).expect("the flagship spec"))
            .pipeline
            .expect("flagship")
    }

    fn lambdas() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("lambdas")
    }

    #[test]
    fn plans_the_lambda_stages_with_their_architecture() {
        let p = flagship();
        let targets = plan(&p, &lambdas(), &[], None).expect("plan");
        let names: Vec<&str> = targets.iter().map(Target::name).collect();
        assert_eq!(names, ["silver-processing", "gold-analytics"], "bronze-ingestion runs locally");
        assert!(
            targets.iter().all(|t| t.architecture == Architecture::Arm64 && t.spec_architecture == Architecture::Arm64)
        );
        assert_eq!(targets[0].crate_dir, lambdas().join("silver-processing"));

        let only = plan(&p, &lambdas(), &["gold-analytics".into()], Some(Architecture::X86_64)).expect("plan");
        assert_eq!(only.len(), 1);
        assert_eq!((only[0].architecture, only[0].spec_architecture), (Architecture::X86_64, Architecture::Arm64));
    }

    #[test]
    fn plan_errors_name_the_stage_and_path() {
        let p = flagship();
        let e = plan(&p, &lambdas(), &["silver".into()], None).expect_err("unknown");
        assert!(e.to_string().contains("no stage `silver`") && e.to_string().contains("silver-processing"), "{e}");
        let e = plan(&p, &lambdas(), &["bronze-ingestion".into()], None).expect_err("local");
        assert!(matches!(e, BuildError::LocalStage { .. }) && e.is_usage());
        let e = plan(&p, Path::new("/nonexistent/lambdas"), &[], None).expect_err("no crate");
        assert_eq!(
            e.to_string(),
            "stage `silver-processing` has no crate: expected `/nonexistent/lambdas/silver-processing/Cargo.toml` \
             (a crate named after the stage, with a binary `silver-processing`)"
        );
        assert!(e.is_usage());
    }

    #[test]
    fn the_command_builds_the_stage_binary_for_its_architecture() {
        let p = flagship();
        let targets = plan(&p, &lambdas(), &["silver-processing".into()], None).expect("plan");
        let c = command(Path::new("/x/cargo-lambda"), &targets[0], Path::new("/out/lambda"));
        let args: Vec<String> = c.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        let crate_toml = lambdas().join("silver-processing/Cargo.toml").display().to_string();
        assert_eq!(
            args,
            [
                "lambda",
                "build",
                "--release",
                "--output-format",
                "zip",
                "--bin",
                "silver-processing",
                "--arm64",
                "--manifest-path",
                &crate_toml,
                "--lambda-dir",
                "/out/lambda"
            ]
        );
        assert_eq!(zip_path(Path::new("/out/lambda"), "s"), Path::new("/out/lambda/s/bootstrap.zip"));
    }

    #[test]
    fn cargo_is_started_without_the_variables_cargo_sets_for_a_crate() {
        let names = ["CARGO_PKG_NAME", "CARGO_MANIFEST_DIR", "OUT_DIR", "CARGO_CFG_TARGET_OS", "CARGO_BIN_EXE_x"]
            .into_iter()
            .chain(["CARGO", "CARGO_HOME", "CARGO_TARGET_DIR", "CARGO_INCREMENTAL", "PATH", "CC"]);
        let removed = crate_env(names.map(std::ffi::OsString::from));
        assert_eq!(
            removed,
            ["CARGO_PKG_NAME", "CARGO_MANIFEST_DIR", "OUT_DIR", "CARGO_CFG_TARGET_OS", "CARGO_BIN_EXE_x"]
        );
    }

    #[test]
    fn finds_cargo_lambda_on_path_only_when_executable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = tempfile::tempdir().expect("tempdir");
        let exe = dir.path().join("cargo-lambda");
        std::fs::write(&exe, "#!/bin/sh\n").expect("write");
        let path = std::env::join_paths([empty.path(), dir.path()]).expect("join");
        assert_eq!(find_cargo_lambda(Some(&path)), None, "not executable");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(find_cargo_lambda(Some(&path)), Some(exe));
        assert_eq!(find_cargo_lambda(Some(empty.path().as_os_str())), None);
        assert_eq!(find_cargo_lambda(None), None);
        assert!(BuildError::CargoLambdaMissing.to_string().contains("pip install cargo-lambda==1.9.2"));
    }

    #[test]
    fn sha256_and_sizes() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(human_size(600_000), "586 KiB");
        assert_eq!(human_size(6 * 1024 * 1024 + 300_000), "6.3 MiB");
    }

    fn artifact(stage: &str, sha: &str) -> Artifact {
        Artifact {
            stage: stage.into(),
            zip: format!("{stage}.zip").into(),
            sha256: sha.into(),
            size: 1,
            architecture: "arm64".into(),
        }
    }

    #[test]
    fn merge_keeps_unbuilt_stages_in_spec_order_and_drops_stale_ones() {
        let p = flagship();
        let previous = Manifest {
            version: 1,
            artifacts: vec![
                artifact("gold-analytics", "old-gold"),
                artifact("silver-processing", "old"),
                artifact("gone", "x"),
            ],
        };
        let m = merge(&p, Some(previous), &[artifact("silver-processing", "new")]);
        assert_eq!(m.artifacts, vec![artifact("silver-processing", "new"), artifact("gold-analytics", "old-gold")]);
        assert_eq!(m.artifact("silver-processing").map(Artifact::key).as_deref(), Some("silver-processing/new.zip"));
        assert_eq!(merge(&p, None, &[]).artifacts, vec![]);
    }

    #[test]
    fn examine_hashes_the_zip_and_inspects_its_bootstrap() {
        use std::io::Write;
        let p = flagship();
        let targets = plan(&p, &lambdas(), &["silver-processing".into()], None).expect("plan");
        let dir = tempfile::tempdir().expect("tempdir");
        let zip_file = dir.path().join("bootstrap.zip");
        let me = std::fs::read(std::env::current_exe().expect("exe")).expect("read");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_file).expect("create"));
        zip.start_file("bootstrap", zip::write::SimpleFileOptions::default().unix_permissions(0o755)).expect("start");
        zip.write_all(&me).expect("write");
        zip.finish().expect("finish");
        let bytes = std::fs::read(&zip_file).expect("read zip");

        // This test binary is x86_64; the spec deploys silver-processing on arm64.
        let built = examine(&targets[0], &zip_file, Runtime::ProvidedAl2023, Duration::from_secs(3)).expect("examine");
        assert_eq!(built.artifact.sha256, sha256_hex(&bytes));
        assert_eq!(built.artifact.size, bytes.len() as u64);
        assert_eq!(built.artifact.architecture, "arm64");
        assert_eq!(built.inspection.machine, inspect::Machine::X86_64);
        assert!(
            built
                .unfit
                .iter()
                .any(|u| matches!(u, Unfit::WrongArchitecture { stage, .. } if stage == "silver-processing"))
        );
    }
}
