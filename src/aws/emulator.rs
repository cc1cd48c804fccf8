//! The local AWS: moto 5.2.1 in server mode with the patches of `scripts/emulator/pipewright_moto.py`
//! (embedded here, so the binary carries its own emulator). Needs `python3` with `moto[server]==5.2.1`
//! (`pip install -r requirements-dev.txt`).

use pipewright_stage::local_aws::LocalAws;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The launcher script.
pub const LAUNCHER: &str = include_str!("../../scripts/emulator/pipewright_moto.py");
/// The line the launcher prints once it accepts requests, followed by the endpoint.
const READY: &str = "pipewright-moto ready ";
/// How long the launcher may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the emulator did not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot run `{python}`: {source}\nhint: install Python 3 and `pip install -r requirements-dev.txt`")]
    Spawn { python: String, source: std::io::Error },
    #[error("the emulator exited before it was ready: {stderr}")]
    Exited { stderr: String },
    #[error("the emulator was not ready after {0:?}")]
    Timeout(Duration),
    /// The owned emulator did not start (why, with the launcher's stderr).
    #[error("{0}")]
    Start(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Writes the launcher into `dir` and returns its path.
pub fn write_launcher(dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("pipewright_moto.py");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(LAUNCHER) {
        std::fs::write(&path, LAUNCHER)?;
    }
    Ok(path)
}

fn python() -> String {
    std::env::var("PIPEWRIGHT_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// An emulator owned by this process, stopped when dropped (tests): the embedded launcher, started
/// by `pipewright_stage::local_aws` as the stages' tests start the repository's copy.
#[derive(Debug)]
pub struct Emulator {
    _running: LocalAws,
    pub endpoint: String,
}

impl Emulator {
    /// Starts the launcher on a free port of 127.0.0.1 and waits until it is ready.
    pub fn start(dir: &Path) -> Result<Emulator, EmulatorError> {
        let script = write_launcher(dir)?;
        let running = LocalAws::start_script(&script).map_err(EmulatorError::Start)?;
        Ok(Emulator { endpoint: running.endpoint.clone(), _running: running })
    }
}

/// The state of a detached emulator (`pipewright emulator start`), kept in a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Detached {
    pub pid: u32,
    pub endpoint: String,
    pub log: PathBuf,
}

impl Detached {
    fn state_file(dir: &Path) -> PathBuf {
        dir.join("emulator.json")
    }

    /// The running emulator recorded in `dir`, if its process is alive.
    pub fn find(dir: &Path) -> Option<Detached> {
        let text = std::fs::read_to_string(Self::state_file(dir)).ok()?;
        let d: Detached = serde_json::from_str(&text).ok()?;
        Path::new(&format!("/proc/{}", d.pid)).exists().then_some(d)
    }

    /// Starts a detached emulator on `port` (0: a free one); it outlives this process.
    pub fn start(dir: &Path, port: u16) -> Result<Detached, EmulatorError> {
        let script = write_launcher(dir)?;
        let log = dir.join("emulator.log");
        let out = std::fs::File::create(&log)?;
        let python = python();
        let mut child = Command::new(&python)
            .arg(&script)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .map_err(|source| EmulatorError::Spawn { python: python.clone(), source })?;
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(endpoint) = text.lines().find_map(|l| l.strip_prefix(READY)) {
                let d = Detached { pid: child.id(), endpoint: endpoint.trim().to_string(), log: log.clone() };
                std::fs::write(Self::state_file(dir), serde_json::to_string_pretty(&d).unwrap_or_default())?;
                return Ok(d);
            }
            if let Some(_status) = child.try_wait()? {
                return Err(EmulatorError::Exited { stderr: text.trim().to_string() });
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                return Err(EmulatorError::Timeout(START_TIMEOUT));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops it (SIGTERM through `kill`) and forgets it.
    pub fn stop(&self, dir: &Path) -> std::io::Result<()> {
        let status = Command::new("kill").arg(self.pid.to_string()).status()?;
        let started = Instant::now();
        while Path::new(&format!("/proc/{}", self.pid)).exists() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::fs::remove_file(Self::state_file(dir))?;
        if status.success() { Ok(()) } else { Err(std::io::Error::other(format!("kill {} failed", self.pid))) }
    }
}
