//! `pipewright build`.

use super::{env, read_spec};
use crate::Exit;
use crate::build::inspect::Runtime;
use crate::build::manifest::Manifest;
use crate::build::{self, BuildError, Built};
use crate::check::handler;
use crate::report::Severity;
use crate::report::render::{Subject, human};
use crate::spec::model::Architecture;
use clap::Args;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

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
    let reporting = handler::reporting_stages(pipeline);
    let findings: Vec<_> = targets
        .iter()
        .filter_map(|t| handler::check_crate(t.stage, reporting.contains(t.name()), &t.crate_dir))
        .collect();
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
    let base = manifest_path.parent().unwrap_or(Path::new("."));
    // Absolute: cargo-lambda resolves a relative --lambda-dir against the crate.
    let lambda_dir = std::path::absolute(base.join("lambda"))?;
    let runtime = Runtime::from_name(crate::cfn::RUNTIME).unwrap_or(Runtime::ProvidedAl2023);

    let mut built: Vec<Built> = Vec::new();
    for target in &targets {
        writeln!(err, "building {} ({}) with cargo-lambda", target.name(), target.architecture.as_str())?;
        let started = Instant::now();
        let result = build::run_cargo_lambda(&cargo_lambda, target, &lambda_dir)
            .and_then(|zip| build::examine(target, &zip, runtime, started.elapsed()));
        match result {
            Ok(mut b) => {
                // Relative to the working directory when possible: the manifest stays portable.
                if let Ok(cwd) = std::env::current_dir()
                    && let Ok(rel) = b.artifact.zip.strip_prefix(&cwd)
                {
                    b.artifact.zip = rel.to_path_buf();
                }
                built.push(b);
            }
            Err(e) => return fail(err, &e),
        }
    }

    let unfit: Vec<_> = built.iter().flat_map(|b| &b.unfit).collect();
    if !unfit.is_empty() {
        for u in &unfit {
            writeln!(err, "error: {u}\nhint: {}", u.hint())?;
        }
        writeln!(err, "error: not writing the build manifest: {} bootstrap(s) cannot run on Lambda", unfit.len())?;
        write_summary(args, &built, None, runtime, out)?;
        return Ok(Exit::Findings);
    }

    let previous = Manifest::read(&manifest_path).ok();
    let artifacts: Vec<_> = built.iter().map(|b| b.artifact.clone()).collect();
    let manifest = build::merge(pipeline, previous, &artifacts);
    if let Err(source) = manifest.write(&manifest_path) {
        return fail(err, &BuildError::Manifest { path: manifest_path, source });
    }
    write_summary(args, &built, Some(&manifest_path), runtime, out)?;
    Ok(Exit::Clean)
}

fn write_summary(
    args: &BuildArgs,
    built: &[Built],
    manifest: Option<&Path>,
    runtime: Runtime,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if args.format == super::deploy::PlanFormat::Json {
        let artifacts: Vec<_> = built
            .iter()
            .map(|b| {
                json!({
                    "stage": b.artifact.stage,
                    "architecture": b.artifact.architecture,
                    "zip": b.artifact.zip,
                    "size": b.artifact.size,
                    "sha256": b.artifact.sha256,
                    "key": b.artifact.key(),
                    "build_seconds": (b.duration.as_secs_f64() * 10.0).round() / 10.0,
                    "machine": b.inspection.machine.to_string(),
                    "glibc": b.inspection.glibc.map(|v| v.to_string()),
                    "problems": b.unfit.iter().map(ToString::to_string).collect::<Vec<_>>(),
                })
            })
            .collect();
        let doc = json!({
            "manifest": manifest,
            "runtime": runtime.name(),
            "runtime_glibc": runtime.glibc().to_string(),
            "artifacts": artifacts,
        });
        let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
        return writeln!(out, "{text}");
    }
    writeln!(out, "{:<24} {:<8} {:>10} {:<14} {:>8}  glibc", "stage", "arch", "size", "sha256", "time")?;
    for b in built {
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
    if let Some(m) = manifest {
        writeln!(out, "manifest: {}", m.display())?;
    }
    Ok(())
}
