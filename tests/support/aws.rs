//! A local AWS for the integration tests that call it: the emulator (moto 5.2.1 with pipewright's
//! patches) and a build manifest with two small artifacts, as `pipewright build` writes them.

use pipewright::aws::emulator::Emulator;
use std::path::PathBuf;
use std::process::{Command, Output};

pub struct Env {
    _dir: tempfile::TempDir,
    /// The temporary directory of this environment.
    #[allow(dead_code)] // not every test crate writes files of its own
    pub root: PathBuf,
    pub emulator: Emulator,
    /// The flagship's build manifest.
    #[allow(dead_code)] // a test crate of another spec writes its own
    pub manifest: PathBuf,
}

/// Dummy credentials, and no shared config files of the machine.
pub fn creds() -> [(&'static str, &'static str); 5] {
    [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ]
}

/// A started emulator and a manifest of zips with a `bootstrap`, content-addressed, for the
/// flagship's two Lambda stages.
pub fn setup() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    let emulator = Emulator::start(&root.join("emulator")).expect("the emulator starts");
    let manifest = write_manifest(&root, "manifest.json", &["silver-processing", "gold-analytics"]);
    Env { manifest, root, _dir: dir, emulator }
}

/// Writes `root/file`, a build manifest (as `pipewright build` writes it) of small arm64 zips, one
/// per stage, under `root`.
pub fn write_manifest(root: &std::path::Path, file: &str, stages: &[&str]) -> PathBuf {
    let script = r##"
import hashlib, json, os, sys, zipfile
root, file, stages = sys.argv[1], sys.argv[2], sys.argv[3:]
artifacts = []
for stage in stages:
    path = os.path.join(root, stage + ".zip")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    data = open(path, "rb").read()
    artifacts.append({"stage": stage, "zip": path, "sha256": hashlib.sha256(data).hexdigest(),
                      "size": len(data), "architecture": "arm64"})
json.dump({"version": 1, "artifacts": artifacts}, open(os.path.join(root, file), "w"))
"##;
    let ok = Command::new("python3")
        .args(["-c", script])
        .arg(root)
        .arg(file)
        .args(stages)
        .status()
        .expect("python3")
        .success();
    assert!(ok, "the manifest is written");
    root.join(file)
}

impl Env {
    /// `pipewright ARGS --endpoint-url <the emulator>` as a process, with the dummy credentials and
    /// none of the machine's endpoint, profile or spec.
    #[allow(dead_code)] // not every test crate runs the binary this way
    pub fn pipewright(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_pipewright"))
            .args(args)
            .args(["--endpoint-url", &self.emulator.endpoint])
            .envs(creds())
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_PROFILE")
            .env_remove("PIPEWRIGHT_SPEC")
            .output()
            .expect("runs")
    }

    /// Deploys `spec` with a manifest of small zips for `stages` (and an alert address).
    #[allow(dead_code)] // a test crate of the flagship deploys with its own manifest
    pub fn deploy(&self, spec: &str, stages: &[&str]) {
        let manifest = write_manifest(&self.root, &format!("{}.json", stages.join("-")), stages);
        let manifest = manifest.to_str().expect("utf8");
        let o = self.pipewright(&[
            "deploy",
            spec,
            "--yes",
            "--parameter",
            "AlertEmail=ops@example.com",
            "--manifest",
            manifest,
        ]);
        assert!(o.status.success(), "deploy: {}", String::from_utf8_lossy(&o.stderr));
    }

    /// `verify SPEC --format json`: its exit code, and each finding as `resource aspect code`, sorted
    /// (no aspect may be unverifiable).
    #[allow(dead_code)] // not every test crate verifies
    pub fn findings(&self, spec: &str) -> (i32, Vec<String>) {
        let o = self.pipewright(&["verify", spec, "--format", "json"]);
        let report: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
        let mut found = Vec::new();
        for a in report["aspects"].as_array().expect("aspects") {
            assert_ne!(a["status"], "unverifiable", "{a}");
            for f in a["findings"].as_array().expect("findings") {
                found.push(format!(
                    "{} {} {}",
                    a["resource"].as_str().unwrap_or_default(),
                    a["aspect"].as_str().unwrap_or_default(),
                    f["code"].as_str().unwrap_or_default()
                ));
            }
        }
        found.sort();
        (o.status.code().unwrap_or(-1), found)
    }
}
