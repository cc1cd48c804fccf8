//! `pipewright run-local`.

use super::env;
use crate::Exit;
use crate::aws::emulator::Detached;
use crate::local::{self, Options, Report};
use chrono::NaiveDate;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct RunLocalArgs {
    /// The spec (default: `PIPEWRIGHT_SPEC`, else `pipewright.yaml` in the working directory).
    #[arg(env = env::SPEC)]
    pub spec: Option<PathBuf>,
    /// First date the source stages run for (YYYY-MM-DD; default: yesterday, UTC).
    #[arg(long, value_parser = parse_date)]
    pub date: Option<NaiveDate>,
    /// Consecutive dates, from --date (7: a week).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=366))]
    pub days: u32,
    /// Put the files of this directory instead of running the source stages (key = path under the
    /// directory, e.g. `DIR/raw/box_scores/date=2024-01-15/data.json`).
    #[arg(long, conflicts_with_all = ["date", "days"])]
    pub from_dir: Option<PathBuf>,
    /// Directory of the stage crates (`<dir>/<stage>/Cargo.toml`, or an executable
    /// `<dir>/<stage>/bootstrap`; default: `lambdas` in the spec's project root).
    #[arg(long)]
    pub lambdas: Option<PathBuf>,
    /// Build the stages with `--release` (slower to build, faster to run).
    #[arg(long)]
    pub release: bool,
    /// An environment variable for every stage process, `NAME=VALUE` (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// A running emulator (default: the one `pipewright emulator start` runs, else one is started).
    /// Only a loopback address: run-local never deploys to AWS.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Where the emulator's state, and run-local's placeholder artifacts, live.
    #[arg(long, default_value = ".pipewright", env = env::STATE_DIR)]
    pub state_dir: PathBuf,
    /// A failed message is retried after this long, instead of the queue's visibility timeout.
    #[arg(long, default_value = "2s", value_parser = super::parse_duration)]
    pub retry_after: crate::spec::duration::Duration,
    /// Give up when the pipeline has not settled after this long.
    #[arg(long, default_value = "10m", value_parser = super::parse_duration)]
    pub timeout: crate::spec::duration::Duration,
    /// Deploy this build manifest (`pipewright build`) instead of placeholder artifacts.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Skip the final `verify`.
    #[arg(long)]
    pub no_verify: bool,
    /// Report format (progress goes to stderr).
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
    /// Print every AWS call (service:operation) on stderr.
    #[arg(long)]
    pub trace_aws: bool,
    /// Print every stack event of the deploy (default: one line per resource).
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Human,
    Json,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() && !k.contains(char::is_whitespace) => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{text}` is not NAME=VALUE")),
    }
}

fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| format!("`{text}` is not a date YYYY-MM-DD: {e}"))
}

/// Whether `url` points at this machine.
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| h.trim_start_matches('[')).unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

pub fn run(args: &RunLocalArgs, color: bool, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    let (source, pipeline) = match super::load_valid(args.spec.as_ref(), "running", color, err)? {
        Ok(v) => v,
        Err(exit) => return Ok(exit),
    };
    let endpoint = match &args.endpoint_url {
        Some(url) if !is_loopback(url) => {
            writeln!(
                err,
                "error: run-local deploys only to a local emulator, and `{url}` is not a loopback address\nhint: unset AWS_ENDPOINT_URL, or `pipewright emulator start`"
            )?;
            return Ok(Exit::Usage);
        }
        Some(url) => url.clone(),
        None => match Detached::find(&args.state_dir) {
            Some(d) => {
                writeln!(err, "run-local: using the emulator at {} (pid {})", d.endpoint, d.pid)?;
                d.endpoint
            }
            None => match Detached::start(&args.state_dir, 0) {
                Ok(d) => {
                    writeln!(
                        err,
                        "run-local: emulator started at {} (pid {}, log {}); it keeps running for `pipewright status`, `verify` and the aws CLI: `eval \"$(pipewright emulator start)\"`; stop it with `pipewright emulator stop`",
                        d.endpoint,
                        d.pid,
                        d.log.display()
                    )?;
                    d.endpoint
                }
                Err(e) => {
                    writeln!(err, "error: cannot start the emulator: {e}")?;
                    return Ok(Exit::Usage);
                }
            },
        },
    };
    let first = args.date.unwrap_or_else(|| chrono::Utc::now().date_naive() - chrono::Days::new(1));
    let dates = (0..args.days).filter_map(|i| first.checked_add_days(chrono::Days::new(u64::from(i)))).collect();
    let opts = Options {
        dates,
        from_dir: args.from_dir.clone(),
        lambdas: args.lambdas.clone().or_else(|| source.stage_crates()).unwrap_or_else(|| crate::spec::LAMBDAS.into()),
        release: args.release,
        env: args.env.clone(),
        retry_after: Duration::from_secs(args.retry_after.secs()),
        timeout: Duration::from_secs(args.timeout.secs()),
        verify: !args.no_verify,
        work_dir: args.state_dir.join("run-local").join(source.name()),
        manifest: args.manifest.clone(),
        verbose: args.verbose,
    };
    let path = source.recorded.clone();
    let name = source.name();
    let result = super::runtime()?.block_on(async {
        let aws = connect(&endpoint, &pipeline.region.value, args.trace_aws).await;
        let spec = crate::deploy::Spec { pipeline: &pipeline, name: &name, path: &path };
        local::run(&aws, &endpoint, &spec, &opts, err).await
    });
    match result {
        Ok(report) => {
            let spec_arg = source.path.display().to_string();
            match args.format {
                ReportFormat::Human => write!(out, "{}", human(&report, &spec_arg))?,
                ReportFormat::Json => {
                    writeln!(out, "{}", serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?)?
                }
            }
            Ok(if report.clean() { Exit::Clean } else { Exit::Findings })
        }
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(Exit::from(&e))
        }
    }
}

/// Clients of the emulator: static credentials (it accepts any), the spec's region, 5 attempts.
async fn connect(endpoint: &str, region: &str, trace: bool) -> crate::aws::Aws {
    crate::aws::Aws::connect(&crate::aws::AwsSettings {
        profile: None,
        region: Some(region.to_string()),
        endpoint_url: Some(endpoint.to_string()),
        trace,
        static_key: Some(local::EMULATOR_KEY.to_string()),
    })
    .await
}

/// The source runs that failed, each with where its run went.
fn failed_source_runs(s: &mut String, r: &Report, spec: &str) {
    use std::fmt::Write as _;
    for run in r.source_runs.iter().filter(|run| run.error.is_some()) {
        let _ = writeln!(
            s,
            "{} ({}) for {} FAILED: {}",
            run.stage,
            run.runs,
            run.date,
            run.error.as_deref().unwrap_or_default()
        );
        if let Some(dlq) = &run.dead_lettered {
            let _ = writeln!(
                s,
                "  its run is in `{dlq}`: pipewright dlq {spec} --stage {} peek; after the fix: redrive",
                run.stage
            );
        }
        let _ = writeln!(s);
    }
}

/// The report for people; hints name the spec as `spec` (as the user gave it).
pub fn human(r: &Report, spec: &str) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let sources = if r.source_runs.is_empty() {
        format!("{} source object(s)", r.sources.len())
    } else {
        format!("{} source run(s)", r.source_runs.len())
    };
    let _ = writeln!(
        s,
        "\nrun-local: {sources} through stack `{}` in {:.1} s (deploy {:.1} s, flow {:.1} s)\n",
        r.stack,
        r.elapsed.as_secs_f64(),
        r.deploy.as_secs_f64(),
        r.flow.as_secs_f64()
    );
    failed_source_runs(&mut s, r, spec);
    let _ = writeln!(
        s,
        "{:<20} {:>7} {:>7} {:>6} {:>6} {:>11} {:>5} {:>11}  {:>5} {:>5}",
        "stage", "batches", "records", "ok", "failed", "invoke ms", "procs", "max MB", "queue", "DLQ"
    );
    for st in &r.stages {
        let _ = writeln!(
            s,
            "{:<20} {:>7} {:>7} {:>6} {:>6} {:>11.1} {:>5} {:>11}  {:>5} {:>5}{}",
            st.stage,
            st.stats.batches,
            st.stats.records,
            st.stats.succeeded,
            st.stats.failed,
            st.stats.handler_time.as_secs_f64() * 1000.0,
            st.processes,
            format!("{} / {}", st.max_memory_mb, st.memory_mb),
            st.left_in_queue,
            st.dead_letters,
            if st.mapping == "Enabled" { String::new() } else { format!("  (mapping {})", st.mapping) }
        );
    }
    let _ = writeln!(s, "\nobjects of the run's dates:");
    for l in &r.layers {
        let _ = writeln!(
            s,
            "  {:<20} {:<13} {:>4} object(s) {:>10}  s3://{}/{}",
            l.stage,
            l.output,
            l.objects,
            crate::build::human_size(l.bytes),
            l.bucket,
            l.template
        );
    }
    if !r.tables.is_empty() {
        let _ = writeln!(s, "\ntables (their current Iceberg snapshot):");
        for t in &r.tables {
            let _ = writeln!(
                s,
                "  {:<40} {:>8} row(s); {} snapshot(s), current {}",
                t.table,
                t.total_rows,
                t.snapshots,
                t.snapshot_id.map_or_else(|| "none".to_string(), |i| i.to_string())
            );
        }
    }
    for st in r.stages.iter().filter(|st| st.dead_letters > 0) {
        let _ = writeln!(
            s,
            "\n{} message(s) of {} ended in its DLQ `{}` after maxReceiveCount\nhint: `pipewright dlq {spec} --stage {} peek`, fix, then `pipewright dlq {spec} --stage {} redrive`",
            st.dead_letters, st.stage, st.dlq, st.stage, st.stage
        );
    }
    if let Some(v) = &r.verify {
        let _ = writeln!(s, "\nverify: {}", v.summary);
        for d in &v.drifted {
            let _ = writeln!(s, "  {d}");
        }
    }
    let _ = writeln!(
        s,
        "\n{}",
        if r.clean() { "clean: every source ran, every record processed, nothing dead, no drift" } else { "NOT clean" }
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_endpoints() {
        for ok in ["http://127.0.0.1:5000", "http://localhost:4566/", "http://[::1]:5000", "127.0.0.2:80"] {
            assert!(is_loopback(ok), "{ok}");
        }
        for no in ["https://sqs.us-east-1.amazonaws.com", "http://10.0.0.5:5000", "http://localhost.evil.com"] {
            assert!(!is_loopback(no), "{no}");
        }
    }
}
