//! A local AWS for the integration tests that call it: the emulator (moto 5.2.1 with pipewright's
//! patches) and a build manifest with two small artifacts, as `pipewright build` writes them.

use pipewright::aws::emulator::Emulator;
use std::path::PathBuf;
use std::process::Command;

pub struct Env {
    _dir: tempfile::TempDir,
    /// The temporary directory of this environment.
    #[allow(dead_code)] // not every test crate writes files of its own
    pub root: PathBuf,
    pub emulator: Emulator,
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

/// A started emulator and a manifest of zips with a `bootstrap`, content-addressed.
pub fn setup() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    let emulator = Emulator::start(&root.join("emulator")).expect("the emulator starts");
    let script = r##"
import hashlib, json, os, sys, zipfile
root = sys.argv[1]
artifacts = []
for stage in ["silver-processing", "gold-analytics"]:
    path = os.path.join(root, stage + ".zip")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    data = open(path, "rb").read()
    artifacts.append({"stage": stage, "zip": path, "sha256": hashlib.sha256(data).hexdigest(),
                      "size": len(data), "architecture": "arm64"})
json.dump({"version": 1, "artifacts": artifacts}, open(os.path.join(root, "manifest.json"), "w"))
"##;
    assert!(Command::new("python3").args(["-c", script]).arg(&root).status().expect("python3").success());
    Env { manifest: root.join("manifest.json"), root, _dir: dir, emulator }
}
