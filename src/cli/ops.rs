//! `pipewright status`, `replay`, `dlq`, `probe`: arguments and printing; the work is in `crate::ops`.

use super::{AwsArgs, env, load_valid, parse_duration};
use crate::Exit;
use crate::ops::{self, OpsError};
use clap::{Args, ValueEnum};
use serde_json::json;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

/// Output of the operating commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OpsFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The spec (default: `PIPEWRIGHT_SPEC`, else `pipewright.yaml` in the working directory).
    #[arg(env = env::SPEC)]
    pub spec: Option<PathBuf>,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Only this stage.
    #[arg(long)]
    pub stage: Option<String>,
    /// Window of the function metrics and error lines (`15m`, `1h`, `1d`).
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub since: crate::spec::duration::Duration,
    /// Output format (`json` is also a status document for `graph --status`).
    #[arg(long, value_enum, default_value_t = OpsFormat::Human)]
    pub format: OpsFormat,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The spec (default: `PIPEWRIGHT_SPEC`, else `pipewright.yaml` in the working directory).
    #[arg(env = env::SPEC)]
    pub spec: Option<PathBuf>,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// The stage: a triggered stage (its queue receives the events) or a scheduled Lambda stage (its
    /// function runs once per date).
    #[arg(long)]
    pub stage: String,
    /// The (first) date, YYYY-MM-DD.
    #[arg(long)]
    pub date: String,
    /// The last date (inclusive; default: --date).
    #[arg(long)]
    pub to: Option<String>,
    /// List what would be sent; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// SendMessageBatch calls (a scheduled stage: invocations) in flight.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OpsFormat::Human)]
    pub format: OpsFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DlqAction {
    /// Show the dead letters (S3 keys or a scheduled stage's runs and their errors, receive counts,
    /// sent time) without consuming them.
    Peek,
    /// Move them back to the stage's queue (a scheduled stage: invoke its function again with each run).
    Redrive,
    /// Delete them (asks first, unless --yes).
    Purge,
}

#[derive(Debug, Args)]
#[command(override_usage = "pipewright dlq [SPEC] --stage <STAGE> <peek|redrive|purge> [OPTIONS]")]
pub struct DlqArgs {
    /// `[SPEC] ACTION`: the spec (default: `PIPEWRIGHT_SPEC`, else `pipewright.yaml` in the working directory),
    /// then `peek`, `redrive` or `purge`.
    #[arg(value_name = "[SPEC] ACTION", num_args = 1..=2, required = true)]
    pub words: Vec<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// The stage whose dead-letter queue to work on.
    #[arg(long)]
    pub stage: String,
    /// Purge without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Peek: at most this many messages.
    #[arg(long, default_value_t = 100)]
    pub max: usize,
    /// Redrive with the receive -> send -> delete loop, not StartMessageMoveTask.
    #[arg(long)]
    pub no_move_task: bool,
    /// Redrive: how long to wait for the move task (`5m`).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: crate::spec::duration::Duration,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OpsFormat::Human)]
    pub format: OpsFormat,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The spec (default: `PIPEWRIGHT_SPEC`, else `pipewright.yaml` in the working directory).
    #[arg(env = env::SPEC)]
    pub spec: Option<PathBuf>,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Only this stage's trigger.
    #[arg(long)]
    pub stage: Option<String>,
    /// How long to wait for each canary's message (`30s`).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: crate::spec::duration::Duration,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OpsFormat::Human)]
    pub format: OpsFormat,
}

fn fail(err: &mut dyn Write, e: &OpsError) -> std::io::Result<Exit> {
    writeln!(err, "error: {e}")?;
    Ok(Exit::from(e))
}

fn json_out(out: &mut dyn Write, v: &serde_json::Value) -> std::io::Result<()> {
    writeln!(out, "{}", serde_json::to_string_pretty(v).unwrap_or_default())
}

pub fn status(args: &StatusArgs, color: bool, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    use crate::ops::status::Level;
    let (source, pipeline) = match load_valid(args.spec.as_ref(), "reading the status of", color, err)? {
        Ok(v) => v,
        Err(exit) => return Ok(exit),
    };
    let stage = match args.stage.as_deref().map(|s| ops::find_stage(&pipeline, s)).transpose() {
        Ok(s) => s,
        Err(e) => return fail(err, &e),
    };
    let spec = source.path.display().to_string();
    let settings = args.aws.settings(&pipeline.region.value);
    let started = std::time::Instant::now();
    let report = super::runtime()?.block_on(async {
        let aws = crate::aws::Aws::connect(&settings).await;
        let account = if pipeline.tables.is_some() { aws.account().await.ok() } else { None };
        let readers = aws.readers();
        ops::status::status(&readers, &pipeline, &spec, stage, args.since.secs(), account.as_deref()).await
    });
    if args.format == OpsFormat::Json {
        json_out(out, &report.to_json(&spec))?;
    } else {
        let paint = |level: Level| {
            let text = level.as_str().to_uppercase();
            if !color {
                return text;
            }
            let code = match level {
                Level::Healthy => "32",
                Level::Unknown => "35",
                Level::Degraded => "33",
                Level::Broken => "31",
            };
            format!("\x1b[1;{code}m{text}\x1b[0m")
        };
        writeln!(
            out,
            "{}: {} (metrics and logs over the last {})",
            pipeline.project.value,
            paint(report.verdict),
            args.since
        )?;
        for s in &report.stages {
            writeln!(out, "\n{}  {}", s.stage, paint(s.verdict))?;
            for f in &s.facts {
                writeln!(out, "  {:<9} {}", f.label, f.value)?;
                if f.label == "log" {
                    for line in &s.errors {
                        writeln!(out, "            {line}")?;
                    }
                }
            }
            for f in &s.findings {
                writeln!(out, "  ! {} [{}]: {}", Level::of(f.severity).as_str(), f.code, f.message)?;
                if let Some(h) = &f.hint {
                    writeln!(out, "    -> {h}")?;
                }
            }
        }
    }
    writeln!(err, "status read in {:.2}s", started.elapsed().as_secs_f64())?;
    Ok(Exit::from(&report))
}

pub fn replay(args: &ReplayArgs, color: bool, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    let (_, pipeline) = match load_valid(args.spec.as_ref(), "replaying", color, err)? {
        Ok(v) => v,
        Err(exit) => return Ok(exit),
    };
    let prepared = ops::find_stage(&pipeline, &args.stage).and_then(|stage| {
        let from = ops::parse_date(&args.date)?;
        let to = args.to.as_deref().map(ops::parse_date).transpose()?;
        let dates = ops::date_range(from, to)?;
        match (&stage.queue, &stage.schedule, &stage.function) {
            (None, Some(_), Some(f)) => Ok((stage, dates, Some(f))),
            (None, _, None) => Err(OpsError::LocalReplay { stage: stage.name.value.clone() }),
            _ => ops::stage_queue(stage, "replay").map(|_| (stage, dates, None)),
        }
    });
    let (stage, dates) = match prepared {
        Ok((stage, dates, None)) => (stage, dates),
        Ok((stage, dates, Some(function))) => return replay_runs(args, &pipeline, stage, function, &dates, out, err),
        Err(e) => return fail(err, &e),
    };
    let settings = args.aws.settings(&pipeline.region.value);
    let started = std::time::Instant::now();
    let result = super::runtime()?.block_on(async {
        let aws = crate::aws::Aws::connect(&settings).await;
        let readers = aws.readers();
        let plan = ops::replay::plan(&readers, &pipeline, stage, dates).await?;
        let listed = started.elapsed();
        if args.dry_run || plan.objects.is_empty() {
            return Ok((plan, None, listed));
        }
        let queue = ops::existing_queue(&readers, &plan.queue, "queue").await?;
        let keys: Vec<String> = plan.objects.iter().map(|o| o.key.clone()).collect();
        let messages = plan.messages(&aws.region());
        let mut last = std::time::Instant::now();
        let mut progress = |sent: usize, total: usize| {
            if last.elapsed().as_secs() >= 2 {
                last = std::time::Instant::now();
                eprintln!("sent {sent} of {total}");
            }
        };
        let outcome = ops::replay::send(&readers, &queue, &keys, messages, args.concurrency, &mut progress).await?;
        Ok::<_, OpsError>((plan, Some(outcome), listed))
    });
    let (plan, outcome, listed) = match result {
        Ok(v) => v,
        Err(e) => return fail(err, &e),
    };
    let elapsed = started.elapsed().as_secs_f64();
    let range = date_range(&plan.dates);
    show_replay(args, &plan, outcome.as_ref(), listed, elapsed, out, err)?;
    if plan.objects.is_empty() {
        writeln!(
            err,
            "error: no object of {range} in `{}` matches the trigger of `{}` (under {})",
            plan.bucket,
            plan.stage,
            plan.prefixes.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
        )?;
        return Ok(Exit::Findings);
    }
    Ok(if outcome.is_some_and(|o| !o.failed.is_empty()) { Exit::Failure } else { Exit::Clean })
}

/// The replay of a scheduled Lambda stage: its function invoked asynchronously with the run of each date.
fn replay_runs(
    args: &ReplayArgs,
    pipeline: &crate::spec::Pipeline,
    stage: &crate::spec::resolve::Stage,
    function: &crate::spec::resolve::Function,
    dates: &[chrono::NaiveDate],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    let name = &function.name.value;
    let range = date_range(dates);
    let payloads: Vec<serde_json::Value> =
        dates.iter().map(|d| pipewright_stage::schedule::ScheduledRun::Date(*d).to_payload()).collect();
    let started = std::time::Instant::now();
    let outcome = if args.dry_run {
        None
    } else {
        let settings = args.aws.settings(&pipeline.region.value);
        let result = super::runtime()?.block_on(async {
            let aws = crate::aws::Aws::connect(&settings).await;
            ops::replay::invoke_runs(&aws.readers(), name, dates, args.concurrency).await
        });
        match result {
            Ok(o) => Some(o),
            Err(e) => return fail(err, &e),
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    if args.format == OpsFormat::Json {
        let failed: Vec<_> = outcome
            .iter()
            .flat_map(|o| &o.failed)
            .map(|(date, e)| serde_json::json!({"date": date, "code": e.code, "message": e.message}))
            .collect();
        json_out(
            out,
            &serde_json::json!({"stage": stage.name.value, "function": name, "dry_run": args.dry_run,
                                "runs": payloads, "invoked": outcome.as_ref().map_or(0, |o| o.sent),
                                "failed": failed, "seconds": elapsed}),
        )?;
    } else if let Some(o) = &outcome {
        writeln!(
            out,
            "invoked `{name}` asynchronously for {} run(s) of {range} ({} of stage `{}`), {elapsed:.2}s",
            o.sent,
            dates.len(),
            stage.name.value
        )?;
    } else {
        for p in &payloads {
            writeln!(out, "{p}")?;
        }
        writeln!(out, "dry run: would invoke `{name}` asynchronously for {} run(s) of {range}", dates.len())?;
    }
    if let Some(o) = &outcome {
        for (date, e) in &o.failed {
            writeln!(err, "error: the run for {date} was not invoked: {}: {}", e.code, e.message)?;
        }
        if !o.failed.is_empty() {
            return Ok(Exit::Failure);
        }
    }
    Ok(Exit::Clean)
}

/// `2024-01-15..2024-01-20`, or the one date.
fn date_range(dates: &[chrono::NaiveDate]) -> String {
    match (dates.first(), dates.last()) {
        (Some(a), Some(b)) if a != b => format!("{a}..{b}"),
        (Some(a), _) => a.to_string(),
        _ => String::new(),
    }
}

/// What a replay listed and sent: the JSON document, the dry run's objects, or the summary line.
fn show_replay(
    args: &ReplayArgs,
    plan: &ops::replay::Plan,
    outcome: Option<&ops::replay::Outcome>,
    listed: std::time::Duration,
    elapsed: f64,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<()> {
    let range = date_range(&plan.dates);
    let sent = outcome.map_or(0, |o| o.sent);
    if args.format == OpsFormat::Json {
        json_out(out, &ops::replay::report_json(plan, outcome, args.dry_run, listed, elapsed))?;
    } else if args.dry_run {
        for o in &plan.objects {
            writeln!(out, "s3://{}/{}", plan.bucket, o.key)?;
        }
        writeln!(
            out,
            "dry run: would send {} S3 event message(s) for {} of {range} in `{}` to `{}`",
            plan.objects.len(),
            plan.stage,
            plan.bucket,
            plan.queue
        )?;
    } else if let Some(o) = outcome {
        writeln!(
            out,
            "sent {sent} S3 event message(s) for {range} ({} object(s) in `{}`) to `{}` in {} SendMessageBatch call(s), {elapsed:.2}s ({:.0} messages/s)",
            plan.objects.len(),
            plan.bucket,
            plan.queue,
            o.batches,
            sent as f64 / elapsed.max(0.001)
        )?;
        for (key, e) in &o.failed {
            writeln!(err, "error: not sent: s3://{}/{key}: {}: {}", plan.bucket, e.code, e.message)?;
        }
    }
    Ok(())
}

impl DlqArgs {
    /// The spec and the action from `[SPEC] ACTION`.
    fn split(&self) -> Result<(Option<PathBuf>, DlqAction), String> {
        let (spec, action) = match self.words.as_slice() {
            [action] => (std::env::var_os(env::SPEC).map(PathBuf::from), action),
            [spec, action] => (Some(PathBuf::from(spec)), action),
            _ => return Err("expected `[SPEC] peek|redrive|purge`".to_string()),
        };
        let action = DlqAction::from_str(action, false)
            .map_err(|_| format!("`{action}` is not an action: peek, redrive or purge"))?;
        Ok((spec, action))
    }
}

pub fn dlq(args: &DlqArgs, color: bool, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    let (spec_path, action) = match args.split() {
        Ok(v) => v,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(Exit::Usage);
        }
    };
    let (source, pipeline) = match load_valid(spec_path.as_ref(), "operating", color, err)? {
        Ok(v) => v,
        Err(exit) => return Ok(exit),
    };
    let (dlq_name, redrive) = match ops::find_stage(&pipeline, &args.stage).and_then(ops::stage_dlq) {
        Ok(v) => v,
        Err(e) => return fail(err, &e),
    };
    let spec = source.path.display().to_string();
    let settings = args.aws.settings(&pipeline.region.value);
    let rt = super::runtime()?;
    let aws = rt.block_on(crate::aws::Aws::connect(&settings));
    let readers = aws.readers();
    let dlq = match rt.block_on(ops::existing_queue(&readers, dlq_name, "dead-letter queue")) {
        Ok(q) => q,
        Err(e) => return fail(err, &e),
    };
    let ctx = DlqContext { rt: &rt, readers: &readers, dlq: &dlq, redrive, spec: &spec };
    match action {
        DlqAction::Peek => dlq_peek(args, &ctx, out, err),
        DlqAction::Redrive => dlq_redrive(args, &ctx, out, err),
        DlqAction::Purge => dlq_purge(args, &ctx, out, err),
    }
}

/// What every `dlq` action works on.
struct DlqContext<'a> {
    rt: &'a tokio::runtime::Runtime,
    readers: &'a crate::aws::live::Readers,
    dlq: &'a crate::aws::ops::QueueRef,
    /// Where redrive sends the dead letters.
    redrive: ops::Redrive<'a>,
    /// The spec as the user gave it (for hints).
    spec: &'a str,
}

/// `dlq peek`: the dead letters, decoded, left in the queue.
fn dlq_peek(args: &DlqArgs, ctx: &DlqContext, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    let DlqContext { rt, readers, dlq, spec, .. } = *ctx;
    let letters = match rt.block_on(ops::dlq::peek(readers, dlq, args.max.max(1))) {
        Ok(l) => l,
        Err(e) => return fail(err, &e),
    };
    if args.format == OpsFormat::Json {
        json_out(out, &ops::dlq::letters_json(&dlq.name, &letters))?;
    } else {
        writeln!(out, "{}: {} dead letter(s) (peeked, still there)", dlq.name, letters.len())?;
        for l in &letters {
            writeln!(
                out,
                "  {}  received {:>2}x  {}  {}",
                l.sent_ms.map(ops::iso_ms).unwrap_or_else(|| "?".into()),
                l.receive_count,
                l.message_id,
                l.body.describe()
            )?;
            if let Some(e) = &l.error {
                writeln!(out, "      failed: {e}")?;
            }
        }
        if !letters.is_empty() {
            writeln!(out, "after fixing the cause: pipewright dlq {spec} --stage {} redrive", args.stage)?;
        }
    }
    Ok(Exit::Clean)
}

/// `dlq redrive`: the dead letters moved back to the stage's queue, or a scheduled stage's failed
/// runs invoked again.
fn dlq_redrive(args: &DlqArgs, ctx: &DlqContext, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    let DlqContext { rt, readers, dlq, redrive, .. } = *ctx;
    let mut progress = |line: &str| eprintln!("{line}");
    let timeout = std::time::Duration::from_secs(args.timeout.secs());
    let started = std::time::Instant::now();
    let result = rt.block_on(async {
        match redrive {
            ops::Redrive::Queue(queue) => {
                let target = ops::existing_queue(readers, &queue.name.value, "queue").await?;
                let r = ops::dlq::redrive(readers, dlq, &target, !args.no_move_task, timeout, &mut progress).await?;
                Ok::<_, OpsError>((r, format!("`{}`", target.name), ("queue", target.name)))
            }
            ops::Redrive::Function(f) => {
                let r = ops::dlq::rerun(readers, dlq, &f.name.value, &mut progress).await?;
                Ok((r, format!("function `{}`", f.name.value), ("function", f.name.value.clone())))
            }
        }
    });
    let (r, to, target) = match result {
        Ok(v) => v,
        Err(e) => return fail(err, &e),
    };
    let secs = started.elapsed().as_secs_f64();
    if args.format == OpsFormat::Json {
        json_out(out, &r.to_json(&dlq.name, (target.0, &target.1), secs))?;
    } else {
        writeln!(out, "moved {} message(s) from `{}` to {to} ({}, {secs:.2}s)", r.moved, dlq.name, r.method.as_str())?;
    }
    if !r.not_runs.is_empty() {
        writeln!(
            err,
            "error: {} message(s) are not runs of the stage and stay in `{}`: {}",
            r.not_runs.len(),
            dlq.name,
            r.not_runs.join("; ")
        )?;
    }
    if let Some(e) = r.not_sent.first() {
        writeln!(
            err,
            "error: {} message(s) could not be sent (or their runs invoked) and stay in `{}`: {}: {}",
            r.not_sent.len(),
            dlq.name,
            e.code,
            e.message
        )?;
    }
    if let Some(e) = r.not_deleted.first() {
        let (what, after) = match redrive {
            ops::Redrive::Queue(_) => ("sent", "now in both queues"),
            ops::Redrive::Function(_) => ("invoked again", "the next redrive runs them once more"),
        };
        writeln!(
            err,
            "error: {} message(s) were {what} but not deleted from `{}` ({after}): {}: {}",
            r.not_deleted.len(),
            dlq.name,
            e.code,
            e.message
        )?;
    }
    Ok(if r.not_sent.is_empty() && r.not_deleted.is_empty() && r.not_runs.is_empty() {
        Exit::Clean
    } else {
        Exit::Failure
    })
}

/// `dlq purge`: the dead letters deleted, after confirmation.
fn dlq_purge(args: &DlqArgs, ctx: &DlqContext, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    let DlqContext { rt, readers, dlq, .. } = *ctx;
    let depth = match rt.block_on(readers.visible_messages(dlq)) {
        Ok(n) => n,
        Err(e) => return fail(err, &OpsError::Aws(e)),
    };
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            writeln!(
                err,
                "error: not purged: purging `{}` ({depth} message(s)) needs confirmation: pass `--yes`",
                dlq.name
            )?;
            return Ok(Exit::Usage);
        }
        eprint!("delete the {depth} message(s) of `{}` for good? [y/N] ", dlq.name);
        let mut line = String::new();
        let yes = std::io::stdin().lock().read_line(&mut line).is_ok() && matches!(line.trim(), "y" | "Y" | "yes");
        if !yes {
            writeln!(err, "error: not purged")?;
            return Ok(Exit::Usage);
        }
    }
    match rt.block_on(ops::dlq::purge(readers, dlq)) {
        Ok(n) => {
            writeln!(out, "purged `{}` ({n} message(s))", dlq.name)?;
            Ok(Exit::Clean)
        }
        Err(e) => fail(err, &e),
    }
}

pub fn probe(args: &ProbeArgs, color: bool, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    let (_, pipeline) = match load_valid(args.spec.as_ref(), "probing", color, err)? {
        Ok(v) => v,
        Err(exit) => return Ok(exit),
    };
    let stages = match ops::queued_stages(&pipeline, args.stage.as_deref(), "probe") {
        Ok(s) => s,
        Err(e) => return fail(err, &e),
    };
    let settings = args.aws.settings(&pipeline.region.value);
    let timeout = std::time::Duration::from_secs(args.timeout.secs());
    let id = ops::probe::canary_id();
    let results = super::runtime()?.block_on(async {
        let aws = crate::aws::Aws::connect(&settings).await;
        let readers = aws.readers();
        let probes = stages.iter().map(|s| ops::probe::probe(&readers, &pipeline, s, &id, timeout));
        futures::future::join_all(probes).await
    });
    let mut exit = Exit::Clean;
    let mut items = Vec::new();
    for (stage, r) in stages.iter().zip(results) {
        match r {
            Ok(p) => {
                if p.arrived.is_none() {
                    exit = exit.worst(Exit::Findings);
                }
                if args.format == OpsFormat::Human {
                    let what = match p.arrived {
                        Some((ms, ops::probe::Via::Queue)) => format!("arrived in {ms} ms"),
                        Some((ms, _)) => {
                            format!("arrived: consumed by the function first, seen in its log after {ms} ms")
                        }
                        None => format!("did NOT arrive within {}", args.timeout),
                    };
                    writeln!(out, "{}: s3://{}/{} -> `{}`: {what}", p.stage, p.bucket, p.key, p.queue)?;
                }
                if let Some(c) = &p.cleanup {
                    writeln!(err, "warning: {c}")?;
                }
                items.push(p.to_json());
            }
            Err(e) => {
                writeln!(err, "error: {}: {e}", stage.name.value)?;
                exit = exit.worst(Exit::from(&e));
                items.push(json!({"stage": stage.name.value, "error": e.to_string()}));
            }
        }
    }
    if args.format == OpsFormat::Json {
        json_out(out, &json!({"probes": items}))?;
    }
    Ok(exit)
}
