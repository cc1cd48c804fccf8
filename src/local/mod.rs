//! `pipewright run-local`: the whole pipeline on one machine, against the local emulator.
//!
//! 1. Deploy the generated stack to the emulator through the normal change-set flow. The functions'
//!    code is never run by the emulator (its event source mappings are inert), so the artifacts are
//!    placeholder zips whose `bootstrap` says so; a real build manifest can be given instead.
//! 2. Read what was deployed: each function's environment (the stage contract as CloudFormation
//!    set it), its queue and its event source mapping (batch size, window, response types, state).
//! 3. Construct the real handlers of `lambdas/` in process from that environment ([`handlers`]).
//! 4. Write the source layer: a generated day of games per date (as the bronze stage writes it) or
//!    the files of a directory. S3 notifies the queues, as on AWS.
//! 5. Emulate every enabled mapping ([`esm`]) until all queues are empty and no handler runs.
//! 6. Report: per stage batches, records, failures and handler time; dead letters; the objects of
//!    each layer for the dates; the gold tables' rows for the dates (read back through Iceberg); then
//!    `verify` of the whole stack. Handler logs go to each function's log group, as Lambda's would.

pub mod esm;
pub mod handlers;

use crate::aws::{Aws, AwsError};
use crate::build::manifest::{Artifact, Manifest};
use crate::deploy;
use crate::drift::report::Summary;
use crate::spec::Pipeline;
use chrono::NaiveDate;
use esm::{Invocation, Mapping, Shared, Stats};
use handlers::{Handler, Local};
use pipewright_common::log::Captured;
use serde::Serialize;
use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The access key (and secret) run-local uses: the emulator accepts any.
pub const EMULATOR_KEY: &str = "testing";

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The dates to generate games for.
    pub dates: Vec<NaiveDate>,
    /// Games per generated date.
    pub games: usize,
    /// Seed of the generator.
    pub seed: u64,
    /// Put these files instead (key = path relative to the directory).
    pub from_dir: Option<PathBuf>,
    /// How soon a failed message is retried (instead of the queue's visibility timeout).
    pub retry_after: Duration,
    /// Give up when the pipeline has not settled after this long.
    pub timeout: Duration,
    /// Verify the stack at the end.
    pub verify: bool,
    /// Where the placeholder artifacts and their manifest go.
    pub work_dir: PathBuf,
    /// A real build manifest to deploy instead of placeholders.
    pub manifest: Option<PathBuf>,
}

/// Why run-local stopped.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The spec or the input cannot run locally (usage).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Deploy(#[from] deploy::DeployError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Handler(#[from] handlers::HandlerError),
    #[error("the pipeline did not settle within {timeout:?}: {waiting}")]
    Timeout { timeout: Duration, waiting: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// One stage's part of the run.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    pub stage: String,
    pub queue: String,
    /// `Enabled`, or the mapping's state when it is not (then nothing was polled).
    pub mapping: String,
    pub batch_size: usize,
    pub batching_window_s: u64,
    pub report_batch_item_failures: bool,
    #[serde(flatten)]
    pub stats: Stats,
    /// Messages left in the queue (a disabled mapping) and in its DLQ at the end.
    pub left_in_queue: u64,
    pub dead_letters: u64,
    pub dlq: String,
}

/// The objects a stage wrote for the run's dates.
#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    pub stage: String,
    pub output: String,
    pub bucket: String,
    /// The key template with the run's dates.
    pub template: String,
    pub objects: usize,
    pub bytes: u64,
}

/// A gold table, read back through Iceberg.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub table: String,
    /// Rows of the run's dates.
    pub rows: usize,
    /// Rows of the run's dates, per date.
    pub per_date: Vec<(String, usize)>,
    pub total_rows: usize,
    pub snapshot_id: Option<i64>,
}

/// Everything run-local did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub endpoint: String,
    pub stack: String,
    /// Source objects put (`s3://bucket/key`).
    pub sources: Vec<String>,
    pub stages: Vec<StageReport>,
    pub layers: Vec<LayerReport>,
    pub tables: Vec<TableReport>,
    /// The whole run.
    #[serde(serialize_with = "ser_secs")]
    pub elapsed: Duration,
    /// Deploying the stack (change set, or nothing when up to date).
    #[serde(serialize_with = "ser_secs")]
    pub deploy: Duration,
    /// From the first source object put until every queue was empty.
    #[serde(serialize_with = "ser_secs")]
    pub flow: Duration,
    /// `verify`'s summary line and whether it was clean.
    pub verify: Option<VerifyReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub summary: String,
    pub clean: bool,
    pub drifted: Vec<String>,
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

impl Report {
    /// Every record was processed and nothing is dead or drifted.
    pub fn clean(&self) -> bool {
        self.stages.iter().all(|s| s.dead_letters == 0 && s.left_in_queue == 0)
            && self.verify.as_ref().is_none_or(|v| v.clean)
    }
}

/// A stage that runs in process, with what was deployed for it.
struct Wired {
    mapping: Mapping,
    enabled: String,
    dlq: String,
    handler: Handler,
    captured: Captured,
    log_group: String,
    /// The S3 Tables the deployed function writes (its `PIPEWRIGHT_TABLE_*` contract).
    tables: Option<pipewright_common::TablesEnv>,
}

/// Runs the pipeline of `spec` on the emulator behind `aws` (at `endpoint`).
pub async fn run(
    aws: &Aws,
    endpoint: &str,
    spec: &deploy::Spec<'_>,
    opts: &Options,
    err: &mut dyn Write,
) -> Result<Report, LocalError> {
    let started = Instant::now();
    let p = spec.pipeline;
    preflight(p, opts)?;

    // 1. Deploy.
    let manifest = match &opts.manifest {
        Some(m) => m.clone(),
        None => placeholder_manifest(p, &opts.work_dir)?,
    };
    let deploy_opts = deploy::Options {
        stack: None,
        yes: true,
        dry_run: false,
        json: false,
        manifest: Some(manifest),
        artifact_bucket: None,
        parameters: Vec::new(),
        timeout: Duration::from_secs(600),
    };
    let mut sink = Vec::new();
    let deploy_started = Instant::now();
    deploy::deploy(aws, spec, &deploy_opts, &mut sink, err, &mut |_| true).await?;
    let stack = deploy::stack_name(p, &deploy_opts);
    let deploy_time = deploy_started.elapsed();
    writeln!(err, "run-local: stack `{stack}` deployed on {endpoint}")?;

    // 2-3. What was deployed, and the handlers.
    let readers = aws.readers();
    let region = aws.region();
    let local = Local { sdk: &aws.config, endpoint, region: &region };
    let mut wired = Vec::new();
    for stage in p.stages.iter().filter(|s| s.trigger.is_some()) {
        let (Some(f), Some(q)) = (&stage.function, &stage.queue) else { continue };
        let name = &stage.name.value;
        let function = readers
            .function(&f.name.value)
            .await?
            .ok_or_else(|| LocalError::Usage(format!("function `{}` was not deployed", f.name.value)))?;
        let queue = readers
            .queue(&q.name.value)
            .await?
            .ok_or_else(|| LocalError::Usage(format!("queue `{}` was not deployed", q.name.value)))?;
        let queue_arn = queue.get("QueueArn").cloned().unwrap_or_default();
        let live = readers.mappings(Some(&f.name.value), None).await?;
        let m = live.iter().find(|m| m.source_arn == queue_arn).ok_or_else(|| {
            LocalError::Usage(format!("no event source mapping connects `{}` to `{}`", q.name.value, f.name.value))
        })?;
        let (handler, captured, stage_env) = Handler::connect(name, &function.env, &local).await?;
        wired.push(Wired {
            mapping: Mapping {
                stage: name.clone(),
                function: f.name.value.clone(),
                queue_url: queue.get("QueueUrl").cloned().unwrap_or_default(),
                queue_arn,
                region: region.clone(),
                batch_size: m.batch_size.max(1) as usize,
                window: Duration::from_secs(m.window.max(0) as u64),
                report_failures: m.response_types.iter().any(|t| t == "ReportBatchItemFailures"),
            },
            enabled: m.state.clone(),
            dlq: q.dlq_name.value.clone(),
            handler,
            captured,
            log_group: f.log_group.value.clone(),
            tables: stage_env.tables,
        });
    }
    for w in &wired {
        let m = &w.mapping;
        writeln!(
            err,
            "run-local: {} <- {} (batch {}, window {}s{}){}",
            m.stage,
            short_queue(&m.queue_url),
            m.batch_size,
            m.window.as_secs(),
            if m.report_failures { ", ReportBatchItemFailures" } else { "" },
            if w.enabled == "Enabled" { String::new() } else { format!(": mapping {}, not polled", w.enabled) }
        )?;
    }

    // 4. The source layer.
    let flow_started = Instant::now();
    let sources = put_sources(aws, p, opts, err).await?;

    // 5. The mappings, until everything settled.
    let shared = Shared::default();
    let stats: Vec<RefCell<Stats>> = wired.iter().map(|_| RefCell::new(Stats::default())).collect();
    let progress = RefCell::new(err);
    let on_invocation = |i: &Invocation| {
        let mut w = progress.borrow_mut();
        let keys = match i.keys.as_slice() {
            [] => String::new(),
            [one] => format!(" {one}"),
            [one, rest @ ..] => format!(" {one} (+{} more)", rest.len()),
        };
        let outcome = match (&i.error, i.failed) {
            (Some(e), _) => format!("FAILED: {e}"),
            (None, 0) => "ok".to_string(),
            (None, n) => format!("{n} failed (retried in {:?})", opts.retry_after),
        };
        let _ = writeln!(
            w,
            "  {:<18} batch {:>3}: {:>2} record(s){keys} -> {outcome} in {:.0} ms",
            i.stage,
            i.batch,
            i.records,
            i.duration.as_secs_f64() * 1000.0
        );
    };
    let sqs = &readers.sqs;
    let pollers = wired
        .iter()
        .zip(&stats)
        .filter(|(w, _)| w.enabled == "Enabled")
        .map(|(w, s)| esm::poll(sqs, &w.mapping, &w.handler, opts.retry_after, &shared, s, &on_invocation));
    let polled: Vec<&Mapping> = wired.iter().filter(|w| w.enabled == "Enabled").map(|w| &w.mapping).collect();
    let supervise = supervise(sqs, &polled, &shared, opts.timeout);
    let (_, settled) = futures::join!(futures::future::join_all(pollers), supervise);
    let err = progress.into_inner();
    if let Some(e) = shared.error.borrow_mut().take() {
        return Err(e.into());
    }
    settled?;
    let flow = flow_started.elapsed();

    // Handler logs to the functions' log groups.
    for w in &wired {
        ship_logs(&readers.logs, &w.log_group, &w.captured).await?;
    }

    // 6. The report.
    let mut stages = Vec::new();
    for (w, s) in wired.iter().zip(stats) {
        let dead_letters = match readers.queue(&w.dlq).await? {
            Some(attrs) => queue_depth(&readers.sqs, attrs.get("QueueUrl").map_or("", String::as_str)).await?,
            None => 0,
        };
        stages.push(StageReport {
            stage: w.mapping.stage.clone(),
            queue: short_queue(&w.mapping.queue_url).to_string(),
            mapping: w.enabled.clone(),
            batch_size: w.mapping.batch_size,
            batching_window_s: w.mapping.window.as_secs(),
            report_batch_item_failures: w.mapping.report_failures,
            stats: s.into_inner(),
            left_in_queue: queue_depth(&readers.sqs, &w.mapping.queue_url).await?,
            dead_letters,
            dlq: w.dlq.clone(),
        });
    }
    let layers = layers(aws, p, opts).await?;
    let tables = match wired.iter().find_map(|w| w.tables.as_ref()) {
        Some(env) => tables(env, &local, opts).await?,
        None => Vec::new(),
    };
    let verify = if opts.verify {
        writeln!(err, "run-local: verifying the stack")?;
        let aspects = crate::verify::verify(aws, &readers, p, spec.path).await?;
        let summary = Summary::of(&aspects);
        let drifted = aspects
            .iter()
            .filter(|a| !a.findings.is_empty())
            .flat_map(|a| a.findings.iter().map(move |f| format!("{} {}: {}", f.code, a.resource, f.message)))
            .collect();
        Some(VerifyReport { summary: summary.line(), clean: summary.exit(false) == crate::Exit::Clean, drifted })
    } else {
        None
    };
    Ok(Report {
        endpoint: endpoint.to_string(),
        stack,
        sources,
        stages,
        layers,
        tables,
        elapsed: started.elapsed(),
        deploy: deploy_time,
        flow,
        verify,
    })
}

/// Refuses what cannot run locally, before anything is deployed.
fn preflight(p: &Pipeline, opts: &Options) -> Result<(), LocalError> {
    for stage in p.stages.iter().filter(|s| s.trigger.is_some() && s.function.is_some()) {
        if !handlers::KNOWN.contains(&stage.name.value.as_str()) {
            return Err(handlers::HandlerError::Unknown(stage.name.value.clone()).into());
        }
    }
    if opts.from_dir.is_none() && p.stage(handlers::SOURCE).is_none_or(|s| s.writes.is_empty()) {
        return Err(LocalError::Usage(format!(
            "the spec has no stage `{}` writing box scores to generate; give the source objects with --from-dir",
            handlers::SOURCE
        )));
    }
    if opts.from_dir.is_none() && opts.dates.is_empty() {
        return Err(LocalError::Usage("no date to generate games for".into()));
    }
    Ok(())
}

/// Zips whose `bootstrap` only says that run-local runs the stage in process, and their manifest.
fn placeholder_manifest(p: &Pipeline, dir: &Path) -> Result<PathBuf, LocalError> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir)?;
    let mut artifacts = Vec::new();
    for stage in &p.stages {
        let Some(f) = &stage.function else { continue };
        let name = &stage.name.value;
        let path = dir.join(format!("{name}.zip"));
        let mut bytes = std::io::Cursor::new(Vec::new());
        {
            let mut zip = zip::ZipWriter::new(&mut bytes);
            let options = zip::write::SimpleFileOptions::default()
                .unix_permissions(0o755)
                .last_modified_time(zip::DateTime::default());
            zip.start_file("bootstrap", options).map_err(std::io::Error::other)?;
            write!(
                zip,
                "#!/bin/sh\necho 'placeholder of stage {name}: `pipewright run-local` runs its handler in process; deploy a real build with `pipewright build`' >&2\nexit 1\n"
            )?;
            zip.finish().map_err(std::io::Error::other)?;
        }
        let bytes = bytes.into_inner();
        std::fs::write(&path, &bytes)?;
        artifacts.push(Artifact {
            stage: name.clone(),
            zip: path,
            sha256: crate::build::sha256_hex(&bytes),
            size: bytes.len() as u64,
            architecture: f.architecture.value.as_str().to_string(),
        });
    }
    let path = dir.join("manifest.json");
    Manifest { version: 1, artifacts }.write(&path)?;
    Ok(path)
}

/// The source stage's output the generated games go to: (bucket, key template).
fn source_output(p: &Pipeline) -> Option<(String, String)> {
    let w = p.stage(handlers::SOURCE)?.writes.first()?;
    Some((p.bucket_name(&w.bucket.value), w.key.value.template.clone()))
}

/// Puts the source objects; returns their `s3://` URLs.
async fn put_sources(aws: &Aws, p: &Pipeline, opts: &Options, err: &mut dyn Write) -> Result<Vec<String>, LocalError> {
    let mut objects: Vec<(String, String, Vec<u8>, String)> = Vec::new();
    if let Some(dir) = &opts.from_dir {
        let bucket = source_output(p)
            .map(|(b, _)| b)
            .or_else(|| p.stages.iter().find_map(|s| s.trigger.as_ref()).map(|t| p.bucket_name(&t.bucket.value)))
            .ok_or_else(|| LocalError::Usage("the spec has no bucket to put the files into".into()))?;
        let mut files = Vec::new();
        walk(dir, &mut files).map_err(|e| LocalError::Usage(format!("cannot read `{}`: {e}", dir.display())))?;
        if files.is_empty() {
            return Err(LocalError::Usage(format!("`{}` has no files", dir.display())));
        }
        files.sort();
        for file in files {
            let key = file
                .strip_prefix(dir)
                .unwrap_or(&file)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let body = std::fs::read(&file)
                .map_err(|e| LocalError::Usage(format!("cannot read `{}`: {e}", file.display())))?;
            let triggered = p.stages.iter().filter_map(|s| s.trigger.as_ref()).any(|t| {
                p.bucket_name(&t.bucket.value) == bucket && pipewright_common::glob_match(&t.pattern.pattern, &key)
            });
            if !triggered {
                writeln!(err, "warning: s3://{bucket}/{key} matches no trigger of the spec: nothing will process it")?;
            }
            objects.push((bucket.clone(), key, body, content_type(&file).to_string()));
        }
    } else if let Some((bucket, template)) = source_output(p) {
        let generator = hoopstat_fixtures::Generator::new(opts.seed);
        for date in &opts.dates {
            let day = generator.day(*date, opts.games);
            let d = date.format("%Y-%m-%d").to_string();
            let key = pipewright_common::render_template(&template, &[("date", &d)])
                .map_err(|e| LocalError::Usage(format!("stage `{}` writes `{template}`: {e}", handlers::SOURCE)))?;
            writeln!(err, "run-local: {}: {} games of {d} -> s3://{bucket}/{key}", handlers::SOURCE, day.games.len())?;
            objects.push((bucket.clone(), key, day.to_bronze(), "application/json".to_string()));
        }
    }
    let mut urls = Vec::new();
    for (bucket, key, body, content_type) in objects {
        aws.s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .content_type(content_type)
            .body(body.into())
            .send()
            .await
            .map_err(|e| AwsError::new("s3:PutObject", format!("s3://{bucket}/{key}"), e))?;
        urls.push(format!("s3://{bucket}/{key}"));
    }
    Ok(urls)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        Some("parquet") => "application/vnd.apache.parquet",
        _ => "application/octet-stream",
    }
}

/// Waits until every polled queue is empty (visible, in flight, delayed) and no handler runs, twice
/// in a row; then stops the pollers.
async fn supervise(
    sqs: &aws_sdk_sqs::Client,
    polled: &[&Mapping],
    shared: &Shared,
    timeout: Duration,
) -> Result<(), LocalError> {
    let started = Instant::now();
    let mut quiet = 0;
    let result = loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if shared.stop.get() {
            break Ok(()); // a poller failed; its error is reported
        }
        let mut waiting = Vec::new();
        for m in polled {
            match queue_depth(sqs, &m.queue_url).await {
                Ok(0) => {}
                Ok(n) => waiting.push(format!("{} holds {n} message(s)", short_queue(&m.queue_url))),
                Err(e) => {
                    shared.stop.set(true);
                    return Err(e.into());
                }
            }
        }
        if waiting.is_empty() && shared.busy.get() == 0 {
            quiet += 1;
            if quiet >= 2 {
                break Ok(());
            }
        } else {
            quiet = 0;
        }
        if started.elapsed() > timeout {
            if shared.busy.get() > 0 {
                waiting.push(format!("{} handler(s) still running", shared.busy.get()));
            }
            break Err(LocalError::Timeout { timeout, waiting: waiting.join(", ") });
        }
    };
    shared.stop.set(true);
    result
}

/// Messages visible, in flight and delayed.
async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<u64, AwsError> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(A::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .map_err(|e| AwsError::new("sqs:GetQueueAttributes", url, e))?;
    Ok(out.attributes.unwrap_or_default().values().filter_map(|v| v.parse::<u64>().ok()).sum())
}

fn short_queue(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// Puts the handler's log lines into the function's log group (one stream per run), as Lambda does.
async fn ship_logs(logs: &aws_sdk_cloudwatchlogs::Client, group: &str, captured: &Captured) -> Result<(), LocalError> {
    use aws_sdk_cloudwatchlogs::types::InputLogEvent;
    let lines = captured.lines();
    if lines.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now();
    let stream = format!("{}/[$LATEST]run-local-{}", now.format("%Y/%m/%d"), now.timestamp_millis());
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name(&stream)
        .send()
        .await
        .map_err(|e| AwsError::new("logs:CreateLogStream", group, e))?;
    let events: Vec<InputLogEvent> = lines
        .iter()
        .filter_map(|l| InputLogEvent::builder().timestamp(now.timestamp_millis()).message(l.to_string()).build().ok())
        .collect();
    for chunk in events.chunks(1000) {
        logs.put_log_events()
            .log_group_name(group)
            .log_stream_name(&stream)
            .set_log_events(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::new("logs:PutLogEvents", group, e))?;
    }
    Ok(())
}

/// The objects each stage wrote for the run's dates.
async fn layers(aws: &Aws, p: &Pipeline, opts: &Options) -> Result<Vec<LayerReport>, LocalError> {
    let mut out = Vec::new();
    for stage in &p.stages {
        for w in &stage.writes {
            let bucket = p.bucket_name(&w.bucket.value);
            let template = &w.key.value.template;
            let prefix = template.split('{').next().unwrap_or_default();
            let mut keys = Vec::new();
            let mut pages = aws.s3.list_objects_v2().bucket(&bucket).prefix(prefix).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::new("s3:ListObjectsV2", &bucket, e))?;
                keys.extend(
                    page.contents().iter().filter_map(|o| Some((o.key()?.to_string(), o.size().unwrap_or(0) as u64))),
                );
            }
            let globs: Vec<String> = if opts.from_dir.is_some() {
                vec![glob_of(template, None)]
            } else {
                opts.dates.iter().map(|d| glob_of(template, Some(&d.format("%Y-%m-%d").to_string()))).collect()
            };
            let matching: Vec<&(String, u64)> =
                keys.iter().filter(|(k, _)| globs.iter().any(|g| pipewright_common::glob_match(g, k))).collect();
            out.push(LayerReport {
                stage: stage.name.value.clone(),
                output: w.name.clone(),
                bucket,
                template: template.clone(),
                objects: matching.len(),
                bytes: matching.iter().map(|(_, s)| s).sum(),
            });
        }
    }
    Ok(out)
}

/// A key template as a glob: `{date}` is `date` when given, every other placeholder `*`.
fn glob_of(template: &str, date: Option<&str>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else { break };
        let name = &rest[open + 1..open + close];
        match (name, date) {
            ("date", Some(d)) => out.push_str(d),
            _ => out.push('*'),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// The gold tables' rows of the run's dates, read back through Iceberg.
async fn tables(
    env: &pipewright_common::TablesEnv,
    local: &Local<'_>,
    opts: &Options,
) -> Result<Vec<TableReport>, LocalError> {
    use arrow::array::AsArray;
    use arrow::datatypes::Date32Type;
    let gold =
        gold_analytics::table::GoldTables::with_client(handlers::tables_config(env, local), handlers::s3tables(local))
            .await
            .map_err(|e| {
                LocalError::Usage(format!("reading the tables: {}", pipewright_common::log::error_chain(&e)))
            })?;
    let mut out = Vec::new();
    for name in &env.tables {
        let read_err = |e: gold_analytics::table::TableError| {
            LocalError::Usage(format!("reading table `{name}`: {}", pipewright_common::log::error_chain(&e)))
        };
        let snapshot_id = gold.load(name).await.map_err(read_err)?.metadata().current_snapshot_id();
        let batches = gold.scan_all(name).await.map_err(read_err)?;
        let mut per_date: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        let mut total = 0;
        for b in &batches {
            total += b.num_rows();
            let Some(col) = b.column_by_name(gold_analytics::table::GAME_DATE) else { continue };
            let Some(dates) = col.as_primitive_opt::<Date32Type>() else { continue };
            for i in 0..dates.len() {
                if let Some(d) = dates.value_as_date(i) {
                    *per_date.entry(d.format("%Y-%m-%d").to_string()).or_default() += 1;
                }
            }
        }
        let wanted: Vec<(String, usize)> = if opts.from_dir.is_some() {
            per_date.into_iter().collect()
        } else {
            opts.dates
                .iter()
                .map(|d| {
                    let d = d.format("%Y-%m-%d").to_string();
                    let n = per_date.get(&d).copied().unwrap_or(0);
                    (d, n)
                })
                .collect()
        };
        out.push(TableReport {
            table: name.clone(),
            rows: wanted.iter().map(|(_, n)| n).sum(),
            per_date: wanted,
            total_rows: total,
            snapshot_id,
        });
    }
    Ok(out)
}
