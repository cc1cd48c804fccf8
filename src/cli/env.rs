//! Every environment variable the tool reads, in one place (the README's table lists these, and a
//! test keeps the two in step).

/// Default spec path for commands that take one.
pub const SPEC: &str = "PIPEWRIGHT_SPEC";
/// Default output directory of `generate`.
pub const OUT: &str = "PIPEWRIGHT_OUT";

/// Directory of the emulator's state and log.
pub const STATE_DIR: &str = "PIPEWRIGHT_STATE_DIR";

/// Name and meaning of each variable.
pub const VARS: &[(&str, &str)] = &[
    (
        SPEC,
        "spec used when a command is given no SPEC argument (else `pipewright.yaml` in the working directory; without either, exit 2)",
    ),
    (OUT, "output directory of `generate` (default `generated`)"),
    (STATE_DIR, "directory of the local emulator's launcher, state and log (default `.pipewright`)"),
    ("PIPEWRIGHT_PYTHON", "Python interpreter that runs the local emulator (default `python3`)"),
    ("AWS_ENDPOINT_URL", "endpoint of every AWS service, e.g. the local emulator (`--endpoint-url`)"),
    ("AWS_PROFILE", "named profile of the shared AWS config files (`--profile`)"),
    ("AWS_REGION", "region (`--region`; default: the spec's `region`)"),
    ("NO_COLOR", "any value turns colour off (with `--color auto`)"),
    ("CLICOLOR_FORCE", "any value but `0` forces colour on (with `--color auto`)"),
];
