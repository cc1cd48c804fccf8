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

pub mod exit;
pub use exit::Exit;
