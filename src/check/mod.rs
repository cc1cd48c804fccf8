//! Semantic checks over the pipeline graph, one stable code each: pure, no I/O, except [`handler`],
//! which reads the stage crates' sources (PW701/PW702).

mod alarms;
pub use crate::report::codes;
mod filters;
mod graph;
pub mod handler;
mod names;
mod queues;
mod schedule;

use crate::report::{Diagnostic, Severity, diagnostic};
use crate::spec::{self, Pipeline, Source};
use std::path::Path;

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
    diagnostic::merge_same_cause(&mut out);
    out
}

/// Parses, resolves and checks a spec; every finding, sorted, in `diagnostics`. The stage crates of a spec
/// read from a file are checked too (PW701/PW702), where its project root has them.
pub fn diagnose(source: Source) -> spec::Loaded {
    let crates = source.stage_crates();
    diagnose_with_crates(source, crates.as_deref())
}

/// [`diagnose`] with the stage crates in `crates` (`<crates>/<stage>`), or none.
pub fn diagnose_with_crates(source: Source, crates: Option<&Path>) -> spec::Loaded {
    let mut loaded = spec::load(source);
    // Graph checks on a spec with broken references would only add noise.
    let resolved = !loaded.diagnostics.iter().any(|d| d.severity == Severity::Error);
    if let (Some(p), true) = (&loaded.pipeline, resolved) {
        loaded.diagnostics.extend(run(p));
        if let Some(crates) = crates {
            loaded.diagnostics.extend(handler::check(p, crates));
        }
    }
    diagnostic::sort(&mut loaded.diagnostics);
    loaded
}
