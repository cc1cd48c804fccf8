//! Helpers shared by the integration tests.

use pipewright::Exit;
use pipewright::cli::{Cli, run};

/// Runs `pipewright ARGS` in process; returns the exit code, stdout and stderr.
pub fn cli(args: &[&str]) -> (Exit, String, String) {
    use clap::Parser;
    let cli = Cli::try_parse_from(std::iter::once("pipewright").chain(args.iter().copied())).expect("parses");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let exit = run(cli, &mut out, &mut err);
    (exit, String::from_utf8(out).expect("utf8"), String::from_utf8(err).expect("utf8"))
}
