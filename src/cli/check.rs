//! `pipewright check`.

use super::{CheckArgs, read_spec};
use crate::Exit;
use crate::report::render::{Counts, Subject, render};
use crate::report::{Severity, diagnostic};
use crate::spec::{self, Source};
use std::io::Write;

/// Where the stage crates are (`lambdas/<stage>`), relative to the spec's project root.
pub const LAMBDAS: &str = "lambdas";

/// Parses, resolves and checks a spec: every finding, sorted, in `diagnostics`.
pub fn diagnose(source: Source) -> spec::Loaded {
    let mut loaded = spec::load(source);
    // Graph checks on a spec with broken references would only add noise.
    let resolved = !loaded.diagnostics.iter().any(|d| d.severity == Severity::Error);
    if let (Some(p), true) = (&loaded.pipeline, resolved) {
        loaded.diagnostics.extend(crate::check::run(p));
        // The stage crates' handlers, when the crates are at hand.
        let lambdas = loaded.source.root.join(LAMBDAS);
        loaded.diagnostics.extend(crate::build::handler::check(p, &lambdas));
    }
    diagnostic::sort(&mut loaded.diagnostics);
    loaded
}

pub fn run(args: &CheckArgs, color: bool, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    let source = match read_spec(args.spec.as_ref(), err)? {
        Ok(s) => s,
        Err(exit) => return Ok(exit),
    };
    let spec::Loaded { source, diagnostics: diags, .. } = diagnose(source);
    let path = source.path.display().to_string();
    let subject = Subject { path: &path, text: &source.text };
    write!(out, "{}", render(args.format, &subject, &diags, color))?;
    let c = Counts::of(&diags);
    Ok(if c.errors > 0 || (args.deny_warnings && c.warnings > 0) { Exit::Findings } else { Exit::Clean })
}
