//! `pipewright new`: a project that runs. For `specs/minimal.yaml` and for a pipeline of another shape
//! (a local source and a chain of three Lambda stages whose last writes back into its trigger's bucket,
//! another region): new, then check, generate and run-local, which builds the project's own crates
//! for this machine and runs them against the emulator: exit 0, every record processed, every write
//! template has objects, verify clean. The second pipeline is `tests/fixtures/sensor-chain.yaml`.

mod support;

use pipewright::Exit;
use pipewright::aws::emulator::Emulator;
use serde_json::Value;
use std::path::Path;
use support::cli;

/// The `pipewright` binary in `dir` (no SPEC: the project's `pipewright.yaml`); the projects of
/// this test share one target directory, so their dependencies compile once.
fn pipewright(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let target = std::path::absolute("target/new-projects").expect("path");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(args)
        .current_dir(dir)
        .env_remove("PIPEWRIGHT_SPEC")
        .env("CARGO_TARGET_DIR", target)
        .output()
        .expect("pipewright runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

fn new_project_runs(spec: &Path, stages: &[&str], sources: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = dir.path().join("project");
    let (exit, _, err) = cli(&["new", project.to_str().expect("utf8"), "--spec", spec.to_str().expect("utf8")]);
    assert_eq!(exit, Exit::Clean, "{err}");
    for stage in stages {
        assert!(project.join("lambdas").join(stage).join("src/main.rs").is_file(), "{stage}");
    }
    // The same dependency versions as this workspace (the registry may hold newer ones).
    std::fs::copy("Cargo.lock", project.join("Cargo.lock")).expect("copy the lock file");

    let (code, out, err) = pipewright(&project, &["check", "--deny-warnings"]);
    assert_eq!(code, 0, "check: {out}{err}");
    let (code, _, err) = pipewright(&project, &["generate"]);
    assert_eq!(code, 0, "generate: {err}");
    assert!(project.join("generated/pipewright/template.yaml").is_file());

    let emulator = Emulator::start(&dir.path().join("emulator")).expect("the emulator starts");
    let (code, out, err) = pipewright(
        &project,
        &[
            "run-local",
            "--endpoint-url",
            &emulator.endpoint,
            "--state-dir",
            dir.path().join("state").to_str().expect("utf8"),
            "--date",
            "2024-03-01",
            "--days",
            "2",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "run-local: {err}\n{out}");
    let r: Value = serde_json::from_str(&out).expect("json report");
    assert_eq!(r["source_runs"].as_array().map(Vec::len), Some(sources * 2), "{r:#}");
    for s in r["stages"].as_array().expect("stages") {
        assert_eq!(s["failed"], 0, "{s}");
        assert_eq!(s["dead_letters"], 0, "{s}");
        assert_eq!(s["left_in_queue"], 0, "{s}");
    }
    for l in r["layers"].as_array().expect("layers") {
        assert_eq!(l["objects"], 2, "every write template has an object for each date: {l}");
    }
    assert_eq!(r["verify"]["clean"], true, "{r:#}");
}

#[test]
#[ignore = "needs python3 with moto[server]==5.2.1 (CI runs it with --include-ignored)"]
fn new_projects_of_two_shapes_check_generate_build_and_run_locally() {
    new_project_runs(Path::new("specs/minimal.yaml"), &["export", "curate"], 1);
    new_project_runs(Path::new("tests/fixtures/sensor-chain.yaml"), &["collect", "parse", "enrich", "publish"], 1);
}

#[test]
fn new_refuses_a_directory_with_files_and_starts_from_a_starter_spec() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("keep.txt"), "mine").expect("write");
    let (exit, _, err) = cli(&["new", dir.path().to_str().expect("utf8")]);
    assert_eq!(exit, Exit::Usage, "{err}");
    assert!(err.contains("exists and is not empty"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.path().join("keep.txt")).expect("kept"), "mine");

    let project = dir.path().join("Acme Orders");
    let (exit, _, err) = cli(&["new", project.to_str().expect("utf8")]);
    assert_eq!(exit, Exit::Clean, "{err}");
    let spec = std::fs::read_to_string(project.join("pipewright.yaml")).expect("spec");
    assert!(spec.contains("project: acme-orders"), "{spec}");
    let (exit, out, err) = cli(&["check", project.join("pipewright.yaml").to_str().expect("utf8"), "--deny-warnings"]);
    assert_eq!(exit, Exit::Clean, "{out}{err}");
    let workspace = std::fs::read_to_string(project.join("Cargo.toml")).expect("workspace");
    assert!(workspace.contains("\"lambdas/export\"") && workspace.contains("\"lambdas/curate\""), "{workspace}");
    assert!(project.join("README.md").is_file());
}
