//! `pipewright build`.

use super::{env, read_spec};
use crate::Exit;
use crate::build::manifest::Manifest;
use crate::build::{self, BuildError};
use crate::report::Severity;
use crate::report::render::{Subject, human};
use crate::spec::model::Architecture;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The spec (default: `PIPEWRIGHT_SPEC`, else `pipewright.yaml` in the working directory).
    #[arg(env = env::SPEC)]
    pub spec: Option<PathBuf>,
    /// Build only this stage (repeatable).
    #[arg(long, value_name = "NAME")]
    pub stage: Vec<String>,
    /// Build for arm64 whatever the spec says (the manifest records it; deploy refuses a mismatch).
    #[arg(long, conflicts_with = "x86_64")]
    pub arm64: bool,
    /// Build for x86_64 whatever the spec says.
    #[arg(long = "x86-64")]
    pub x86_64: bool,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t = super::deploy::PlanFormat::Human)]
    pub format: super::deploy::PlanFormat,
    /// Build manifest to write (default `target/pipewright/<spec>/manifest.json`); zips go to
    /// `lambda/<stage>/bootstrap.zip` next to it.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Directory of the stage crates (`<dir>/<stage>/Cargo.toml`; default: `lambdas` in the spec's
    /// project root).
    #[arg(long)]
    pub lambdas: Option<PathBuf>,
}

impl BuildArgs {
    fn architecture(&self) -> Option<Architecture> {
        match (self.arm64, self.x86_64) {
            (true, _) => Some(Architecture::Arm64),
            (_, true) => Some(Architecture::X86_64),
            _ => None,
        }
    }
}

fn fail(err: &mut dyn Write, e: &BuildError) -> std::io::Result<Exit> {
    writeln!(err, "error: {e}")?;
    Ok(Exit::from(e))
}

pub fn run(args: &BuildArgs, color: bool, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    let source = match read_spec(args.spec.as_ref(), err)? {
        Ok(s) => s,
        Err(exit) => return Ok(exit),
    };
    let loaded = crate::check::diagnose(source);
    let path = loaded.source.path.display().to_string();
    let subject = Subject { path: &path, text: &loaded.source.text };
    let errors: Vec<_> = loaded.diagnostics.iter().filter(|d| d.severity == Severity::Error).cloned().collect();
    let pipeline = match (&loaded.pipeline, errors.is_empty()) {
        (Some(p), true) => p,
        _ => {
            write!(err, "{}", human(&subject, &errors, color))?;
            writeln!(err, "error: not building a spec with errors")?;
            return Ok(Exit::Findings);
        }
    };
    let lambdas =
        args.lambdas.clone().or_else(|| loaded.source.stage_crates()).unwrap_or_else(|| crate::spec::LAMBDAS.into());
    let targets = match build::plan(pipeline, &lambdas, &args.stage, args.architecture()) {
        Ok(t) => t,
        Err(e) => return fail(err, &e),
    };

    // The handlers answer as their mappings expect (before spending minutes compiling).
    let findings = build::handler_findings(pipeline, &targets);
    if !findings.is_empty() {
        write!(err, "{}", human(&subject, &findings, color))?;
        writeln!(err, "error: not building: the stage handlers do not match their event source mappings")?;
        return Ok(Exit::Findings);
    }
    for t in targets.iter().filter(|t| t.architecture != t.spec_architecture) {
        writeln!(
            err,
            "warning: stage `{}` is deployed as {} (spec line {}), building {}: `pipewright deploy` will refuse this artifact",
            t.name(),
            t.spec_architecture.as_str(),
            t.stage.function.as_ref().map_or(0, |f| f.architecture.span.line),
            t.architecture.as_str()
        )?;
    }

    let Some(cargo_lambda) = build::find_cargo_lambda(std::env::var_os("PATH").as_deref()) else {
        return fail(err, &BuildError::CargoLambdaMissing);
    };
    let manifest_path = args.manifest.clone().unwrap_or_else(|| Manifest::default_path(&loaded.source.name()));
    let mut starting = |t: &build::Target| {
        let _ = writeln!(err, "building {} ({}) with cargo-lambda", t.name(), t.architecture.as_str());
    };
    let report = match build::build(pipeline, &targets, &cargo_lambda, &manifest_path, &mut starting) {
        Ok(r) => r,
        Err(e) => return fail(err, &e),
    };
    let unfit = report.unfit();
    if !unfit.is_empty() {
        for u in &unfit {
            writeln!(err, "error: {u}\nhint: {}", u.hint())?;
        }
        writeln!(err, "error: not writing the build manifest: {} bootstrap(s) cannot run on Lambda", unfit.len())?;
    }
    write_summary(args, &report, out)?;
    Ok(if unfit.is_empty() { Exit::Clean } else { Exit::Findings })
}

fn write_summary(args: &BuildArgs, report: &build::Report, out: &mut dyn Write) -> std::io::Result<()> {
    if args.format == super::deploy::PlanFormat::Json {
        let text = serde_json::to_string_pretty(&report.to_json()).map_err(std::io::Error::other)?;
        return writeln!(out, "{text}");
    }
    let runtime = report.runtime;
    writeln!(out, "{:<24} {:<8} {:>10} {:<14} {:>8}  glibc", "stage", "arch", "size", "sha256", "time")?;
    for b in &report.built {
        let a = &b.artifact;
        let glibc = match b.inspection.glibc {
            Some(v) => format!("{v} (<= {})", runtime.glibc()),
            None => "none (static)".to_string(),
        };
        writeln!(
            out,
            "{:<24} {:<8} {:>10} {:<14} {:>7.1}s  {glibc}",
            a.stage,
            a.architecture,
            build::human_size(a.size),
            a.sha256.get(..12).unwrap_or(&a.sha256),
            b.duration.as_secs_f64()
        )?;
    }
    if let Some(m) = &report.manifest {
        writeln!(out, "manifest: {}", m.display())?;
    }
    Ok(())
}
