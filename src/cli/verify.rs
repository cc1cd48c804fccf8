//! `pipewright verify`.

use super::VerifyArgs;
use crate::Exit;
use crate::drift::report::{Summary, render};
use crate::report::render::Subject;
use std::io::Write;

pub fn run(args: &VerifyArgs, color: bool, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    let (source, pipeline) = match super::load_valid(args.spec.as_ref(), "verifying against", color, err)? {
        Ok(v) => v,
        Err(exit) => return Ok(exit),
    };
    let pipeline = &pipeline;
    let path = source.path.display().to_string();
    let settings = args.aws.settings(&pipeline.region.value);
    let started = std::time::Instant::now();
    let stack = args.stack.clone().unwrap_or_else(|| pipeline.stack_name.clone());
    let result = super::runtime()?.block_on(async {
        let aws = crate::aws::Aws::connect(&settings).await;
        let readers = aws.readers();
        crate::verify::verify(&aws, &readers, pipeline, &stack).await
    });
    match result {
        Ok(aspects) => {
            let subject = Subject { path: &path, text: &source.text };
            write!(out, "{}", render(args.format, &aspects, &subject, &stack, args.strict, color))?;
            let summary = Summary::of(&aspects);
            writeln!(err, "{} in {:.2}s", summary.line(), started.elapsed().as_secs_f64())?;
            Ok(Exit::of_verification(summary.drifted, summary.unverifiable, args.strict))
        }
        Err(e) => {
            writeln!(err, "error: could not verify: {e}")?;
            if let Some(hint) = e.hint() {
                writeln!(err, "hint: {hint}")?;
            }
            Ok(Exit::from(&e))
        }
    }
}
