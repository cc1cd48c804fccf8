//! `pipewright deploy`.

use super::{AwsArgs, DeployArgs};
use crate::Exit;
use crate::deploy::{self, Options, Outcome};
use std::io::{BufRead, IsTerminal, Write};

pub fn run(args: &DeployArgs, color: bool, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    let (source, pipeline) = match super::load_valid(args.spec.as_ref(), "deploying", color, err)? {
        Ok(v) => v,
        Err(exit) => return Ok(exit),
    };
    let pipeline = &pipeline;
    let mut parameters = Vec::new();
    for p in &args.parameter {
        match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => parameters.push((k.to_string(), v.to_string())),
            _ => {
                writeln!(err, "error: `--parameter {p}` is not `NAME=VALUE`")?;
                return Ok(Exit::Usage);
            }
        }
    }
    let opts = Options {
        stack: args.stack.clone(),
        yes: args.yes,
        dry_run: args.dry_run,
        json: args.format == PlanFormat::Json,
        manifest: args.manifest.clone(),
        artifact_bucket: args.artifact_bucket.clone(),
        parameters,
        timeout: std::time::Duration::from_secs(args.timeout.secs()),
        all_events: true,
    };
    let settings = args.aws.settings(&pipeline.region.value);
    let mut confirm = |question: &str| -> bool {
        if !std::io::stdin().is_terminal() {
            return false;
        }
        eprint!("{question} [y/N] ");
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).is_ok() && matches!(line.trim(), "y" | "Y" | "yes")
    };
    let result = super::runtime()?.block_on(async {
        let aws = crate::aws::Aws::connect(&settings).await;
        let spec = deploy::Spec { pipeline, name: &source.name(), path: &source.recorded };
        deploy::deploy(&aws, &spec, &opts, out, err, &mut confirm).await
    });
    match result {
        Ok(Outcome::NoChanges | Outcome::Planned | Outcome::Deployed { .. }) => Ok(Exit::Clean),
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(Exit::from(&e))
        }
    }
}

/// Plan output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Human,
    Json,
}

impl AwsArgs {
    /// Settings for the SDK: flags first, then the environment, then the spec's region.
    pub fn settings(&self, spec_region: &str) -> crate::aws::AwsSettings {
        let env_region = std::env::var("AWS_REGION").or_else(|_| std::env::var("AWS_DEFAULT_REGION")).ok();
        crate::aws::AwsSettings {
            profile: self.profile.clone(),
            region: self.region.clone().or(env_region).or_else(|| Some(spec_region.to_string())),
            endpoint_url: self.endpoint_url.clone(),
            trace: self.trace_aws,
            static_key: None,
        }
    }
}
