//! The project's local AWS for the stages' integration tests: `scripts/emulator/pipewright_moto.py`
//! (moto 5.2.1 in server mode with pipewright's patches: S3 Tables shapes, AWS-format S3 events, ...),
//! started as `src/aws/emulator.rs` starts it: `python3 SCRIPT --host 127.0.0.1 --port 0`, ready when
//! it prints `pipewright-moto ready <endpoint>`. `PIPEWRIGHT_PYTHON` overrides `python3`. Needs
//! `pip install -r requirements-dev.txt` (moto[server] 5.2.1, cbor2).
//!
//! The lambda crates do not depend on the `pipewright` crate, so the script is run from the
//! repository (this crate is `crates/pipewright-stage`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The line the launcher prints once it accepts requests, followed by the endpoint.
const READY: &str = "pipewright-moto ready ";
/// How long the launcher may take to start (moto's imports are slow on a loaded machine).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The launcher in this repository.
pub fn launcher() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/emulator/pipewright_moto.py")
}

/// A running local AWS, stopped when dropped.
#[derive(Debug)]
pub struct LocalAws {
    child: Child,
    /// `http://127.0.0.1:PORT`: the endpoint of every service (dummy credentials, `us-east-1`,
    /// account 123456789012, S3 path style).
    pub endpoint: String,
}

impl LocalAws {
    /// Starts the launcher of this repository on a free port and waits until it is ready; the error
    /// says why not (with the launcher's stderr).
    pub fn start() -> Result<Self, String> {
        Self::start_script(&launcher())
    }

    /// Starts the launcher at `script` (pipewright writes its embedded copy into a state directory).
    pub fn start_script(script: &Path) -> Result<Self, String> {
        let python = std::env::var("PIPEWRIGHT_PYTHON").unwrap_or_else(|_| "python3".to_string());
        let mut child = Command::new(&python)
            .arg(script)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot run `{python} {}`: {e}\nhint: install Python 3 and `pip install -r requirements-dev.txt`",
                    script.display()
                )
            })?;
        let stdout = child.stdout.take().ok_or("the launcher has no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let ready = lines.by_ref().map_while(Result::ok).find_map(|l| l.strip_prefix(READY).map(str::to_string));
            let _ = tx.send(ready);
            // Keep draining so the launcher never blocks on a full pipe.
            for _ in lines {}
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(Some(endpoint)) => {
                if let Some(mut stderr) = child.stderr.take() {
                    std::thread::spawn(move || {
                        let mut sink = Vec::new();
                        let _ = stderr.read_to_end(&mut sink);
                    });
                }
                Ok(Self { child, endpoint: endpoint.trim().to_string() })
            }
            Ok(None) => {
                let mut stderr = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut stderr);
                }
                let _ = child.wait();
                Err(format!("the launcher exited before it was ready: {}", stderr.trim()))
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("the launcher was not ready after {START_TIMEOUT:?}"))
            }
        }
    }
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
