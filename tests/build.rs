//! `pipewright build` end to end on a tiny fixture crate (`tests/fixtures/hello-lambda`, not a
//! workspace member): cargo-lambda builds it for x86_64 in about a minute, the zip's bootstrap is
//! inspected and the manifest written. The real stages take many minutes in release and are built
//! by hand (README, "Building the stages").

mod support;

use pipewright::Exit;
use pipewright::build::inspect::{self, GlibcVersion, Machine, Runtime, Unfit};
use pipewright::build::manifest::Manifest;
use pipewright::spec::model::Architecture;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::cli;

const FIXTURES: &str = "tests/fixtures";

/// A spec with the one stage `hello-lambda`, scheduled or triggered, on `architecture`.
fn write_spec(dir: &Path, name: &str, architecture: &str, triggered: bool) -> PathBuf {
    let start = if triggered {
        "    trigger:\n      bucket: in\n      pattern: in/*.json\n      external: true\n"
    } else {
        "    schedule:\n      expression: rate(1 day)\n"
    };
    let text = format!(
        "project: hello\nalerts:\n  email: parameter\nbuckets:\n  in: {{}}\n  out: {{}}\nstages:\n  hello-lambda:\n{start}    function:\n      architecture: {architecture}\n    writes:\n      - bucket: out\n        key: out/{{date}}.json\n"
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).expect("write spec");
    path
}

/// Runs the pipewright binary (a separate process: cargo-lambda's target directory is set in its
/// environment, so the fixture's build is cached between runs and kept out of the worktree).
fn pipewright(args: &[&str]) -> (i32, String, String) {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("hello-lambda");
    let out = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["--color", "never"])
        .args(args)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .expect("pipewright runs");
    let code = out.status.code().unwrap_or(-1);
    (code, String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
#[ignore = "needs cargo-lambda on PATH (pip install cargo-lambda==1.9.2); builds the fixture for about a minute"]
fn builds_inspects_and_records_the_fixture_lambda() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = write_spec(dir.path(), "hello", "x86_64", false);
    let manifest = dir.path().join("out").join("manifest.json");
    let (code, out, err) = pipewright(&[
        "build",
        spec.to_str().expect("utf8"),
        "--lambdas",
        FIXTURES,
        "--manifest",
        manifest.to_str().expect("utf8"),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");

    // The summary.
    let doc: Value = serde_json::from_str(&out).expect("JSON summary");
    assert_eq!(doc["runtime"], "provided.al2023");
    let a = &doc["artifacts"][0];
    assert_eq!((a["stage"].as_str(), a["architecture"].as_str()), (Some("hello-lambda"), Some("x86_64")));
    assert_eq!(a["machine"], "x86_64");
    let glibc = a["glibc"].as_str().expect("a dynamically linked bootstrap needs glibc");
    let (major, minor) = glibc.split_once('.').expect("x.y");
    let glibc = GlibcVersion::new(major.parse().expect("major"), minor.parse().expect("minor"));
    assert!(glibc <= GlibcVersion::new(2, 34), "zig links for old glibc, found {glibc}");
    assert!(a["problems"].as_array().is_some_and(Vec::is_empty), "{a}");

    // The manifest: content-addressed, the zip where it says, size and hash of the file.
    let m = Manifest::read(&manifest).expect("manifest");
    assert_eq!(m.artifacts.len(), 1);
    let artifact = &m.artifacts[0];
    let zip = std::fs::read(&artifact.zip).expect("the zip of the manifest exists");
    assert_eq!(artifact.zip, dir.path().join("out/lambda/hello-lambda/bootstrap.zip"));
    assert_eq!(artifact.size, zip.len() as u64);
    assert_eq!(artifact.sha256, pipewright::build::sha256_hex(&zip));
    assert_eq!(artifact.key(), format!("hello-lambda/{}.zip", artifact.sha256));
    assert!(artifact.size < 10 * 1024 * 1024, "a hello function's zip is small: {}", artifact.size);

    // The bootstrap itself, read again from the zip.
    let bootstrap = inspect::read_bootstrap(&artifact.zip).expect("bootstrap");
    let i = inspect::inspect(&bootstrap).expect("ELF");
    assert_eq!(i.machine, Machine::X86_64);
    assert_eq!(i.glibc, Some(glibc));
    assert!(inspect::verify("hello-lambda", &i, Architecture::X86_64, Runtime::ProvidedAl2023).is_empty());
    assert!(
        inspect::verify("hello-lambda", &i, Architecture::Arm64, Runtime::ProvidedAl2023)
            .iter()
            .any(|u| matches!(u, Unfit::WrongArchitecture { .. })),
        "an x86_64 bootstrap on arm64 is reported"
    );

    // Human output: the table names the stage, the architecture, the hash prefix and the manifest.
    let (code, out, err) = pipewright(&[
        "build",
        spec.to_str().expect("utf8"),
        "--lambdas",
        FIXTURES,
        "--manifest",
        manifest.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0, "{err}");
    let row = out.lines().find(|l| l.starts_with("hello-lambda")).expect("a row");
    assert!(row.contains("x86_64") && row.contains(&artifact.sha256[..12]), "{out}");
    assert!(out.contains(&format!("manifest: {}", manifest.display())), "{out}");
    // The same sources build the same zip (the key does not change, deploy uploads nothing new).
    assert_eq!(Manifest::read(&manifest).expect("manifest").artifacts[0].sha256, artifact.sha256, "reproducible");

    // Building for another architecture than the spec's is allowed, warned about and recorded.
    let arm_spec = write_spec(dir.path(), "hello-arm", "arm64", false);
    let arm_manifest = dir.path().join("arm").join("manifest.json");
    let (code, _, err) = pipewright(&[
        "build",
        arm_spec.to_str().expect("utf8"),
        "--lambdas",
        FIXTURES,
        "--x86-64",
        "--manifest",
        arm_manifest.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning: stage `hello-lambda` is deployed as arm64"), "{err}");
    assert_eq!(Manifest::read(&arm_manifest).expect("manifest").artifacts[0].architecture, "x86_64");
}

#[test]
fn a_triggered_stage_whose_handler_answers_no_batch_response_is_not_built() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = write_spec(dir.path(), "hello", "x86_64", true);
    let manifest = dir.path().join("manifest.json");
    let (exit, _, err) = cli(&[
        "--color",
        "never",
        "build",
        spec.to_str().expect("utf8"),
        "--lambdas",
        FIXTURES,
        "--manifest",
        manifest.to_str().expect("utf8"),
    ]);
    assert_eq!(exit, Exit::Findings, "{err}");
    assert!(err.contains("error[PW701]") && err.contains("stage `hello-lambda`"), "{err}");
    assert!(err.contains("not building"), "{err}");
    assert!(!manifest.exists());
}

#[test]
fn missing_crates_and_unknown_stages_are_usage_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = write_spec(dir.path(), "hello", "x86_64", false);
    let spec = spec.to_str().expect("utf8");
    let (exit, _, err) = cli(&["build", spec, "--lambdas", "/nonexistent"]);
    assert_eq!(exit, Exit::Usage);
    assert!(
        err.contains("stage `hello-lambda` has no crate: expected `/nonexistent/hello-lambda/Cargo.toml`"),
        "{err}"
    );
    let (exit, _, err) = cli(&["build", spec, "--lambdas", FIXTURES, "--stage", "goodbye"]);
    assert_eq!(exit, Exit::Usage);
    assert!(err.contains("no stage `goodbye`"), "{err}");
    // The flagship's local stage has no zip to build.
    let (exit, _, err) = cli(&["build", "specs/hoopstat-haus.yaml", "--stage", "bronze-ingestion"]);
    assert_eq!(exit, Exit::Usage);
    assert!(err.contains("runs locally"), "{err}");
    // --arm64 and --x86-64 exclude each other.
    assert!(
        <pipewright::cli::Cli as clap::Parser>::try_parse_from(["pipewright", "build", "--arm64", "--x86-64"]).is_err()
    );
}

#[test]
fn a_missing_cargo_lambda_says_how_to_install_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = write_spec(dir.path(), "hello", "x86_64", false);
    let out = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["build", spec.to_str().expect("utf8"), "--lambdas", FIXTURES])
        .env("PATH", dir.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`cargo-lambda` is not on PATH; install it with `pip install cargo-lambda==1.9.2`"), "{err}");
}
