//! pipewright: event-driven AWS data pipelines, correct by construction.
//!
//! The modules follow the data's trip: [`spec`] (YAML -> typed model with spans -> pipeline
//! graph), [`check`] (semantic checks, pure), [`cfn`] (CloudFormation, pure), [`report`]
//! (diagnostics and their renderers), [`cli`] (the only place that knows clap and terminals).

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "aws")]
pub mod build;
pub mod cfn;
pub mod check;
pub mod cli;
#[cfg(feature = "aws")]
pub mod deploy;
pub mod docs;
#[cfg(feature = "aws")]
pub mod drift;
pub mod graph;
#[cfg(feature = "aws")]
pub mod local;
pub mod new;
#[cfg(feature = "aws")]
pub mod ops;
pub mod report;
pub mod spec;
#[cfg(feature = "aws")]
pub mod verify;

/// The exit codes of every command (documented in the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Clean (warnings allowed unless `--deny-warnings`).
    Clean = 0,
    /// Findings: spec errors, stale generated files, drift.
    Findings = 1,
    /// Usage error (bad arguments, unreadable input), or could not verify.
    Usage = 2,
    /// Operational failure (I/O while writing, AWS).
    Failure = 3,
}
