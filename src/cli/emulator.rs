//! `pipewright emulator start|stop|status`: the local AWS for users.

use super::EmulatorAction;
use crate::Exit;
use crate::aws::emulator::Detached;
use std::io::Write;
use std::path::Path;

pub fn run(action: &EmulatorAction, dir: &Path, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    match action {
        EmulatorAction::Start { port } => {
            let d = match Detached::find(dir) {
                Some(d) => {
                    writeln!(err, "the emulator already runs (pid {}) at {}", d.pid, d.endpoint)?;
                    d
                }
                None => match Detached::start(dir, *port) {
                    Ok(d) => {
                        writeln!(err, "emulator started (pid {}, log {}) at {}", d.pid, d.log.display(), d.endpoint)?;
                        d
                    }
                    Err(e) => {
                        writeln!(err, "error: {e}")?;
                        return Ok(Exit::Failure);
                    }
                },
            };
            // For `eval "$(pipewright emulator start)"`.
            writeln!(out, "export AWS_ENDPOINT_URL={}", d.endpoint)?;
            writeln!(out, "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1")?;
            Ok(Exit::Clean)
        }
        EmulatorAction::Stop => match Detached::find(dir) {
            Some(d) => {
                d.stop(dir)?;
                writeln!(err, "emulator stopped (pid {})", d.pid)?;
                Ok(Exit::Clean)
            }
            None => {
                writeln!(err, "no emulator runs (state in {})", dir.display())?;
                Ok(Exit::Clean)
            }
        },
        EmulatorAction::Status => match Detached::find(dir) {
            Some(d) => {
                writeln!(out, "running: pid {} at {} (log {})", d.pid, d.endpoint, d.log.display())?;
                Ok(Exit::Clean)
            }
            None => {
                writeln!(out, "not running")?;
                Ok(Exit::Findings)
            }
        },
    }
}
