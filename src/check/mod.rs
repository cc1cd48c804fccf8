//! Semantic checks over the pipeline graph: pure, no I/O, one stable code each.

mod alarms;
pub mod codes;
mod filters;
mod graph;
mod names;
mod queues;
mod schedule;

use crate::report::{Diagnostic, diagnostic};
use crate::spec::Pipeline;

/// Runs every check and returns the findings, sorted by position.
pub fn run(pipeline: &Pipeline) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    filters::check(pipeline, &mut out);
    graph::check(pipeline, &mut out);
    queues::check(pipeline, &mut out);
    alarms::check(pipeline, &mut out);
    names::check(pipeline, &mut out);
    schedule::check(pipeline, &mut out);
    diagnostic::sort(&mut out);
    out
}
