//! The exit policy of every command, in one place: what each outcome and each error means as an exit
//! code (documented in the README and in `pipewright --help`).

use crate::report::render::Counts;

/// The exit codes of every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Clean (warnings allowed unless `--deny-warnings`); a healthy pipeline.
    Clean = 0,
    /// Findings: spec errors, stale generated files, drift, a degraded or broken pipeline.
    Findings = 1,
    /// Usage error (bad arguments, unreadable input), or something could not be read or verified.
    Usage = 2,
    /// Operational failure (I/O while writing, AWS).
    Failure = 3,
}

impl Exit {
    /// A spec's diagnostics: errors fail, warnings only with `--deny-warnings`.
    pub fn of_diagnostics(counts: Counts, deny_warnings: bool) -> Exit {
        if counts.errors > 0 || (deny_warnings && counts.warnings > 0) { Exit::Findings } else { Exit::Clean }
    }

    /// Files compared with what the spec generates (`--check`).
    pub fn of_freshness(fresh: bool) -> Exit {
        if fresh { Exit::Clean } else { Exit::Findings }
    }

    /// verify's aspects: drift fails; something that could not be verified is never clean (a failure
    /// with `--strict`).
    pub fn of_verification(drifted: usize, unverifiable: usize, strict: bool) -> Exit {
        if drifted > 0 || (strict && unverifiable > 0) {
            Exit::Findings
        } else if unverifiable > 0 {
            Exit::Usage
        } else {
            Exit::Clean
        }
    }

    /// The worse of two exits (several stages, several canaries).
    pub fn worst(self, other: Exit) -> Exit {
        self.max(other)
    }
}

#[cfg(feature = "aws")]
mod errors {
    use super::Exit;
    use crate::aws::{AwsError, ErrorKind};

    /// An AWS call that failed: "could not read" (access denied, throttled, unreachable) is a usage exit
    /// (the answer is unknown, never clean), anything else a failure.
    impl From<&AwsError> for Exit {
        fn from(e: &AwsError) -> Exit {
            match e.kind {
                ErrorKind::AccessDenied | ErrorKind::Throttling | ErrorKind::Unreachable => Exit::Usage,
                _ => Exit::Failure,
            }
        }
    }

    impl From<&crate::ops::OpsError> for Exit {
        fn from(e: &crate::ops::OpsError) -> Exit {
            use crate::ops::OpsError as E;
            match e {
                E::Aws(e) => e.into(),
                E::UnknownStage(_)
                | E::NoQueue { .. }
                | E::NoDlq { .. }
                | E::LocalReplay { .. }
                | E::BadDate { .. }
                | E::ToBeforeFrom { .. }
                | E::TooManyDays { .. }
                | E::NotDated { .. }
                | E::TooManyKeys { .. }
                | E::ExactKey { .. } => Exit::Usage,
                E::NotDeployed { .. } | E::MoveTask { .. } => Exit::Failure,
            }
        }
    }

    /// status's verdict: healthy 0; degraded or broken 1; something could not be read (and nothing is
    /// wrong) 2.
    impl From<&crate::ops::status::Report> for Exit {
        fn from(r: &crate::ops::status::Report) -> Exit {
            use crate::ops::status::Level;
            match r.verdict {
                Level::Healthy => Exit::Clean,
                Level::Unknown => Exit::Usage,
                Level::Degraded | Level::Broken => Exit::Findings,
            }
        }
    }

    impl From<&crate::deploy::DeployError> for Exit {
        fn from(e: &crate::deploy::DeployError) -> Exit {
            use crate::deploy::DeployError as E;
            match e {
                E::Precondition(_) | E::Declined(_) => Exit::Usage,
                E::Aws(_) | E::ChangeSet { .. } | E::Stack { .. } | E::Io(_) => Exit::Failure,
            }
        }
    }

    impl From<&crate::verify::VerifyError> for Exit {
        fn from(e: &crate::verify::VerifyError) -> Exit {
            use crate::verify::VerifyError as E;
            match e {
                E::NoStack { .. } => Exit::Usage,
                E::Aws(e) => e.into(),
            }
        }
    }

    impl From<&crate::build::BuildError> for Exit {
        fn from(e: &crate::build::BuildError) -> Exit {
            if e.is_usage() { Exit::Usage } else { Exit::Failure }
        }
    }

    impl From<&crate::local::LocalError> for Exit {
        fn from(e: &crate::local::LocalError) -> Exit {
            if e.is_usage() { Exit::Usage } else { Exit::Failure }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_verification_and_freshness() {
        let c = |errors, warnings| Counts { errors, warnings, notes: 0 };
        assert_eq!(Exit::of_diagnostics(c(0, 0), true), Exit::Clean);
        assert_eq!(Exit::of_diagnostics(c(0, 2), false), Exit::Clean);
        assert_eq!(Exit::of_diagnostics(c(0, 2), true), Exit::Findings);
        assert_eq!(Exit::of_diagnostics(c(1, 0), false), Exit::Findings);
        assert_eq!(Exit::of_verification(0, 0, true), Exit::Clean);
        assert_eq!(Exit::of_verification(1, 1, false), Exit::Findings);
        assert_eq!(Exit::of_verification(0, 1, false), Exit::Usage, "could not verify is never clean");
        assert_eq!(Exit::of_verification(0, 1, true), Exit::Findings, "--strict makes it a failure");
        assert_eq!(Exit::of_freshness(false), Exit::Findings);
        assert_eq!(Exit::Clean.worst(Exit::Usage).worst(Exit::Findings), Exit::Usage);
    }
}
