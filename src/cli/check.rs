//! `pipewright check`.

use super::{CheckArgs, read_spec};
use crate::Exit;
use crate::report::render::{Counts, Subject, render};
use crate::spec;
use std::io::Write;

pub fn run(args: &CheckArgs, color: bool, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    let source = match read_spec(args.spec.as_ref(), err)? {
        Ok(s) => s,
        Err(exit) => return Ok(exit),
    };
    let spec::Loaded { source, diagnostics: diags, .. } = crate::check::diagnose(source);
    let path = source.path.display().to_string();
    let subject = Subject { path: &path, text: &source.text };
    write!(out, "{}", render(args.format, &subject, &diags, color))?;
    Ok(Exit::of_diagnostics(Counts::of(&diags), args.deny_warnings))
}
