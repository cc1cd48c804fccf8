//! `pipewright run-local`: the whole pipeline on one machine, against the local emulator.
//!
//! 1. Find each stage's program ([`programs`]: its crate under `lambdas/`, built for this machine, or
//!    an executable `bootstrap`) and build them, before anything is deployed.
//! 2. Deploy the generated stack to the emulator through the normal change-set flow. The emulator
//!    never runs function code (its event source mappings are inert), so the artifacts are
//!    placeholder zips whose `bootstrap` says so; a real build manifest can be given instead.
//! 3. Read what was deployed: each function's environment (the stage contract as CloudFormation
//!    set it), timeout, memory, its queue and its event source mapping (batch size, window,
//!    response types, state). Each function gets an execution environment ([`runtime`]): its
//!    program as a child process behind a Lambda Runtime API served on 127.0.0.1.
//! 4. Write the source layer: each stage without a trigger runs once per date (a `runs: local`
//!    stage as a process with `--date D`, a scheduled Lambda stage invoked with `{"date": "D"}`), or
//!    the files of a directory are put. S3 notifies the queues, as on AWS.
//! 5. Emulate every enabled mapping ([`esm`]) until all queues are empty and no invocation runs.
//! 6. Report: per stage batches, records, failures, invocation time, processes and peak memory;
//!    dead letters; the objects of each write template for the dates; each S3 table's current
//!    snapshot; then `verify` of the whole stack. The functions' output goes to their log groups,
//!    as Lambda's would.

pub mod esm;
pub mod programs;
pub mod runtime;

use crate::aws::{Aws, AwsError};
use crate::build::manifest::{Artifact, Manifest};
use crate::deploy;
use crate::drift::report::Summary;
use crate::spec::Pipeline;
use crate::spec::resolve::Stage;
use chrono::NaiveDate;
use esm::{Invocation, Mapping, Shared, Stats};
use programs::ProgramError;
use runtime::{Environment, Function};
use serde::Serialize;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The access key (and secret) run-local uses: the emulator accepts any.
pub const EMULATOR_KEY: &str = "testing";

/// Set (to `1`) in the environment of the `runs: local` stages run-local runs: a stage whose source
/// is out of reach here (an external API) can write generated data instead.
pub const RUN_LOCAL_VAR: &str = "PIPEWRIGHT_RUN_LOCAL";

/// The address the local stack's alarm topic subscribes when the spec takes it as a stack parameter:
/// a reserved `.invalid` domain, as the emulator sends no e-mail.
pub const LOCAL_ALERT_EMAIL: &str = "alarms@run-local.invalid";

fn alert_parameter(p: &crate::spec::Pipeline) -> Vec<(String, String)> {
    let by_parameter = p
        .alerts
        .as_ref()
        .and_then(|a| a.email.as_ref())
        .is_some_and(|e| e.value == crate::spec::resolve::Email::Parameter);
    if by_parameter { vec![(crate::cfn::ALERT_EMAIL.to_string(), LOCAL_ALERT_EMAIL.to_string())] } else { Vec::new() }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The dates the source stages run for.
    pub dates: Vec<NaiveDate>,
    /// Put these files instead of running the source stages (key = path relative to the directory).
    pub from_dir: Option<PathBuf>,
    /// Where the stage crates are (`<lambdas>/<stage>`).
    pub lambdas: PathBuf,
    /// Build the stages with `--release`.
    pub release: bool,
    /// Extra environment of every stage process (`NAME`, `VALUE`).
    pub env: Vec<(String, String)>,
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
    /// Print every stack event of the deploy (else one line per resource).
    pub verbose: bool,
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
    Verify(#[from] crate::verify::VerifyError),
    #[error(transparent)]
    Program(#[from] ProgramError),
    #[error("the pipeline did not settle within {timeout:?}: {waiting}")]
    Timeout { timeout: Duration, waiting: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl LocalError {
    /// Whether the user can fix it by changing the command or the project (exit 2).
    pub fn is_usage(&self) -> bool {
        match self {
            LocalError::Usage(_) => true,
            LocalError::Program(e) => e.is_usage(),
            _ => false,
        }
    }
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
    /// Processes started for the function (the first, and one after each crash or timeout).
    pub processes: u32,
    /// The highest peak resident set of its processes, in MB, and the function's memory size.
    pub max_memory_mb: u64,
    pub memory_mb: u64,
    /// Messages left in the queue (a disabled mapping) and in its DLQ at the end.
    pub left_in_queue: u64,
    pub dead_letters: u64,
    pub dlq: String,
}

/// One run of a source stage (a stage without a trigger) for a date.
#[derive(Debug, Clone, Serialize)]
pub struct SourceRun {
    pub stage: String,
    pub date: String,
    /// `local` (a process) or `lambda` (an invocation).
    pub runs: &'static str,
    #[serde(serialize_with = "ser_secs")]
    pub duration: Duration,
    /// Why it failed, with the process's last output lines.
    pub error: Option<String>,
    /// The dead-letter queue a failed Lambda run's payload went to, after Lambda's retries.
    pub dead_lettered: Option<String>,
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

/// An S3 table: its current snapshot, read from the table's Iceberg metadata.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    /// `namespace.table`.
    pub table: String,
    pub snapshot_id: Option<i64>,
    /// Snapshots committed so far.
    pub snapshots: usize,
    /// Rows of the current snapshot (its summary's `total-records`).
    pub total_rows: u64,
}

/// Everything run-local did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub endpoint: String,
    pub stack: String,
    /// The runs of the source stages (empty with `--from-dir`).
    pub source_runs: Vec<SourceRun>,
    /// Source objects put from `--from-dir` (`s3://bucket/key`).
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
    /// From the first source run until every queue was empty.
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
    /// Every source ran, every record was processed and nothing is dead or drifted.
    pub fn clean(&self) -> bool {
        self.source_runs.iter().all(|r| r.error.is_none())
            && self.stages.iter().all(|s| s.dead_letters == 0 && s.left_in_queue == 0)
            && self.verify.as_ref().is_none_or(|v| v.clean)
    }
}

/// A triggered Lambda stage, with what was deployed for it.
struct Wired {
    mapping: Mapping,
    enabled: crate::drift::live::MappingState,
    dlq: String,
    function: Environment,
    memory_mb: u64,
    log_group: String,
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

    // 1. The stages' programs, built before anything is deployed.
    let mut sources = BTreeMap::new();
    for stage in p.stages.iter().filter(|s| needs_program(s, opts)) {
        sources.insert(stage.name.value.clone(), programs::locate(&opts.lambdas, &stage.name.value)?);
    }
    let programs = programs::build(&sources, opts.release, err)?;

    // 2. Deploy.
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
        parameters: alert_parameter(p),
        timeout: Duration::from_secs(600),
        all_events: opts.verbose,
    };
    let mut sink = Vec::new();
    let deploy_started = Instant::now();
    deploy::deploy(aws, spec, &deploy_opts, &mut sink, err, &mut |_| true).await?;
    let stack = deploy::stack_name(p, &deploy_opts);
    let deploy_time = deploy_started.elapsed();
    writeln!(err, "run-local: stack `{stack}` deployed on {endpoint}")?;

    // 3. What was deployed, and an execution environment per function.
    let local = Local { endpoint, region: aws.region(), extra: &opts.env };
    let readers = aws.readers();
    let (mut wired, tables_env) = wire(&readers, &local, p, &programs, err).await?;

    // 4. The source layer.
    let flow_started = Instant::now();
    let (source_runs, put) = match &opts.from_dir {
        Some(dir) => (Vec::new(), put_files(aws, p, dir, err).await?),
        None => (run_sources(&readers, &local, p, &programs, opts, err).await?, Vec::new()),
    };

    // 5. The mappings, until everything settled.
    let stats = drain(&readers, &mut wired, opts, err).await?;
    let flow = flow_started.elapsed();

    // The functions' output to their log groups.
    for w in &wired {
        ship_logs(&readers.logs, &w.log_group, &w.function.lines()).await?;
    }

    // 6. The report.
    let stages = stage_reports(&readers, &wired, stats).await?;
    for w in wired {
        w.function.shutdown().await;
    }
    let layers = layers(aws, p, opts).await?;
    let tables = tables(aws, &readers, &tables_env).await?;
    let verify = if opts.verify { Some(verify_report(aws, &readers, spec, &stack, err).await?) } else { None };
    Ok(Report {
        endpoint: endpoint.to_string(),
        stack,
        source_runs,
        sources: put,
        stages,
        layers,
        tables,
        elapsed: started.elapsed(),
        deploy: deploy_time,
        flow,
        verify,
    })
}

/// What was deployed for each triggered stage: its mapping, its queues and an execution environment for
/// its function; and each function's environment (the tables' report reads it).
async fn wire(
    readers: &crate::aws::live::Readers,
    local: &Local<'_>,
    p: &Pipeline,
    programs: &BTreeMap<String, PathBuf>,
    err: &mut dyn Write,
) -> Result<(Vec<Wired>, Vec<BTreeMap<String, String>>), LocalError> {
    let mut wired = Vec::new();
    let mut tables_env = Vec::new();
    for stage in p.stages.iter().filter(|s| s.trigger.is_some()) {
        let (Some(f), Some(q)) = (&stage.function, &stage.queue) else { continue };
        let name = &stage.name.value;
        let (function, deployed) = local.function(readers, stage, programs).await?;
        tables_env.push(deployed.env.clone());
        let queue = readers
            .queue(&q.name.value)
            .await?
            .ok_or_else(|| LocalError::Usage(format!("queue `{}` was not deployed", q.name.value)))?;
        let queue_arn = queue.get("QueueArn").cloned().unwrap_or_default();
        let live = readers.mappings(Some(&f.name.value), None).await?;
        let m = live.iter().find(|m| m.source_arn == queue_arn).ok_or_else(|| {
            LocalError::Usage(format!("no event source mapping connects `{}` to `{}`", q.name.value, f.name.value))
        })?;
        wired.push(Wired {
            mapping: Mapping {
                stage: name.clone(),
                function: f.name.value.clone(),
                queue_url: queue.get("QueueUrl").cloned().unwrap_or_default(),
                queue_arn,
                region: local.region.clone(),
                batch_size: m.batch_size.max(1) as usize,
                window: Duration::from_secs(m.window.max(0) as u64),
                report_failures: m.response_types.iter().any(|t| t == "ReportBatchItemFailures"),
            },
            enabled: m.state.clone(),
            dlq: q.dlq_name.value.clone(),
            memory_mb: function.memory_mb,
            function: Environment::new(function).await?,
            log_group: f.log_group.value.clone(),
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
            if w.enabled.is_enabled() { String::new() } else { format!(": mapping {}, not polled", w.enabled) }
        )?;
    }
    Ok((wired, tables_env))
}

/// Polls every enabled mapping and runs its function until the pipeline settled; each mapping's counts.
async fn drain(
    readers: &crate::aws::live::Readers,
    wired: &mut [Wired],
    opts: &Options,
    err: &mut dyn Write,
) -> Result<Vec<RefCell<Stats>>, LocalError> {
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
    let polled: Vec<Mapping> = wired.iter().filter(|w| w.enabled.is_enabled()).map(|w| w.mapping.clone()).collect();
    let pollers = wired
        .iter_mut()
        .zip(&stats)
        .filter(|(w, _)| w.enabled.is_enabled())
        .map(|(w, s)| esm::poll(sqs, &w.mapping, &mut w.function, opts.retry_after, &shared, s, &on_invocation));
    let supervise = supervise(sqs, &polled, &shared, opts.timeout);
    let (_, settled) = futures::join!(futures::future::join_all(pollers), supervise);
    if let Some(e) = shared.error.borrow_mut().take() {
        return Err(e.into());
    }
    settled?;
    Ok(stats)
}

/// Each stage's part of the run: its mapping, its counts, its processes, what is left in its queue and DLQ.
async fn stage_reports(
    readers: &crate::aws::live::Readers,
    wired: &[Wired],
    stats: Vec<RefCell<Stats>>,
) -> Result<Vec<StageReport>, LocalError> {
    let mut stages = Vec::new();
    for (w, s) in wired.iter().zip(stats) {
        let dead_letters = match readers.queue(&w.dlq).await? {
            Some(attrs) => queue_depth(&readers.sqs, attrs.get("QueueUrl").map_or("", String::as_str)).await?,
            None => 0,
        };
        stages.push(StageReport {
            stage: w.mapping.stage.clone(),
            queue: short_queue(&w.mapping.queue_url).to_string(),
            mapping: w.enabled.to_string(),
            batch_size: w.mapping.batch_size,
            batching_window_s: w.mapping.window.as_secs(),
            report_batch_item_failures: w.mapping.report_failures,
            stats: s.into_inner(),
            processes: w.function.starts,
            max_memory_mb: w.function.max_memory_mb,
            memory_mb: w.memory_mb,
            left_in_queue: queue_depth(&readers.sqs, &w.mapping.queue_url).await?,
            dead_letters,
            dlq: w.dlq.clone(),
        });
    }
    Ok(stages)
}

/// The stack verified at the end of the run.
async fn verify_report(
    aws: &Aws,
    readers: &crate::aws::live::Readers,
    spec: &deploy::Spec<'_>,
    stack: &str,
    err: &mut dyn Write,
) -> Result<VerifyReport, LocalError> {
    writeln!(err, "run-local: verifying the stack")?;
    let aspects = crate::verify::verify(aws, readers, spec.pipeline, stack).await?;
    let summary = Summary::of(&aspects);
    let drifted = aspects
        .iter()
        .filter(|a| !a.findings.is_empty())
        .flat_map(|a| a.findings.iter().map(move |f| format!("{} {}: {}", f.code, a.resource, f.message)))
        .collect();
    Ok(VerifyReport { summary: summary.line(), clean: summary.drifted == 0 && summary.unverifiable == 0, drifted })
}

/// Whether run-local runs `stage`'s program: every triggered Lambda stage, and the source stages
/// (no trigger) unless `--from-dir` stands for their output.
fn needs_program(stage: &Stage, opts: &Options) -> bool {
    match &stage.trigger {
        Some(_) => stage.function.is_some(),
        None => opts.from_dir.is_none(),
    }
}

/// Where the processes run: the emulator, the region, the extra environment.
struct Local<'a> {
    endpoint: &'a str,
    region: String,
    extra: &'a [(String, String)],
}

impl Local<'_> {
    /// What every stage process needs to reach the emulator.
    fn aws_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint),
            ("AWS_ACCESS_KEY_ID", EMULATOR_KEY),
            ("AWS_SECRET_ACCESS_KEY", EMULATOR_KEY),
            ("AWS_REGION", &self.region),
            ("AWS_DEFAULT_REGION", &self.region),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The execution environment's definition of `stage`'s deployed function: its environment as
    /// deployed, the variables Lambda sets (`AWS_LAMBDA_*`, region, credentials: the emulator's),
    /// its timeout and memory.
    async fn function(
        &self,
        readers: &crate::aws::live::Readers,
        stage: &Stage,
        programs: &BTreeMap<String, PathBuf>,
    ) -> Result<(Function, crate::aws::live::LiveFunction), LocalError> {
        let name = &stage.name.value;
        let f = stage.function.as_ref().ok_or_else(|| LocalError::Usage(format!("stage `{name}` runs no function")))?;
        let deployed = readers
            .function(&f.name.value)
            .await?
            .ok_or_else(|| LocalError::Usage(format!("function `{}` was not deployed", f.name.value)))?;
        let program = programs
            .get(name)
            .cloned()
            .ok_or_else(|| LocalError::Usage(format!("stage `{name}` has no program to run")))?;
        let memory = u64::try_from(deployed.memory).unwrap_or(128);
        let mut env: BTreeMap<String, String> = deployed.env.clone();
        let now = chrono::Utc::now();
        let lambda = [
            ("AWS_LAMBDA_FUNCTION_NAME", f.name.value.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory.to_string()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", f.log_group.value.clone()),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("{}/[$LATEST]run-local-{}", now.format("%Y/%m/%d"), now.timestamp_millis()),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string()),
            ("LAMBDA_TASK_ROOT", program.parent().map(|d| d.display().to_string()).unwrap_or_default()),
            ("_HANDLER", deployed.handler.clone()),
            ("TZ", ":UTC".to_string()),
            ("LANG", "en_US.UTF-8".to_string()),
            ("PATH", std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".to_string())),
        ];
        env.extend(lambda.into_iter().map(|(k, v)| (k.to_string(), v)));
        env.extend(self.aws_env());
        env.extend(self.extra.iter().cloned());
        let timeout = Duration::from_secs(u64::try_from(deployed.timeout).unwrap_or(3).max(1));
        Ok((
            Function {
                name: f.name.value.clone(),
                arn: deployed.arn.clone(),
                program,
                env,
                timeout,
                memory_mb: memory,
            },
            deployed,
        ))
    }
}

/// Runs every source stage (no trigger) once per date, in date order: a `runs: local` stage as a
/// process (`--date D`, its contract and the emulator's address in its environment), a scheduled
/// Lambda stage through its execution environment with `{"date": "D"}`.
async fn run_sources(
    readers: &crate::aws::live::Readers,
    local: &Local<'_>,
    p: &Pipeline,
    programs: &BTreeMap<String, PathBuf>,
    opts: &Options,
    err: &mut dyn Write,
) -> Result<Vec<SourceRun>, LocalError> {
    let mut lambdas: BTreeMap<String, (Environment, String)> = BTreeMap::new();
    for stage in p.stages.iter().filter(|s| s.trigger.is_none() && s.function.is_some()) {
        let (function, _) = local.function(readers, stage, programs).await?;
        let group = stage.function.as_ref().map(|f| f.log_group.value.clone()).unwrap_or_default();
        lambdas.insert(stage.name.value.clone(), (Environment::new(function).await?, group));
    }
    let mut runs = Vec::new();
    for date in &opts.dates {
        let d = date.format("%Y-%m-%d").to_string();
        for stage in p.stages.iter().filter(|s| s.trigger.is_none()) {
            let name = &stage.name.value;
            let started = Instant::now();
            let (runs_as, error, dead_lettered) = match lambdas.get_mut(name) {
                Some((env, _)) => {
                    let run = pipewright_stage::schedule::ScheduledRun::Date(*date).to_payload();
                    let (error, dlq) = invoke_async(readers, stage, env, &run).await?;
                    ("lambda", error, dlq)
                }
                None => {
                    let program = programs
                        .get(name)
                        .ok_or_else(|| LocalError::Usage(format!("stage `{name}` has no program to run")))?;
                    ("local", run_local_stage(p, stage, program, local, &d, opts.timeout).await?, None)
                }
            };
            let duration = started.elapsed();
            match (&error, &dead_lettered) {
                (None, _) => writeln!(
                    err,
                    "run-local: {name} ({runs_as}) for {d}: ok in {:.0} ms",
                    duration.as_secs_f64() * 1000.0
                )?,
                (Some(e), None) => writeln!(err, "run-local: {name} ({runs_as}) for {d}: FAILED: {e}")?,
                (Some(e), Some(dlq)) => writeln!(
                    err,
                    "run-local: {name} ({runs_as}) for {d}: FAILED {ASYNC_ATTEMPTS} times, its run is in `{dlq}`: {e}"
                )?,
            }
            let run = SourceRun { stage: name.clone(), date: d.clone(), runs: runs_as, duration, error, dead_lettered };
            runs.push(run);
        }
    }
    for (_, (env, group)) in lambdas {
        ship_logs(&readers.logs, &group, &env.lines()).await?;
        env.shutdown().await;
    }
    Ok(runs)
}

/// How often Lambda runs an asynchronous invocation that fails: the first attempt and two retries.
const ASYNC_ATTEMPTS: usize = 3;

/// A scheduled stage's run as Lambda runs an asynchronous invocation: retried twice when it fails,
/// then its payload sent to the stage's dead-letter queue with the error (`ErrorMessage`, as Lambda
/// sets it). Returns the last error and the DLQ it went to.
async fn invoke_async(
    readers: &crate::aws::live::Readers,
    stage: &Stage,
    env: &mut Environment,
    run: &serde_json::Value,
) -> Result<(Option<String>, Option<String>), LocalError> {
    let payload = serde_json::to_vec(run).unwrap_or_default();
    let mut error = None;
    for _ in 0..ASYNC_ATTEMPTS {
        error = env.invoke(payload.clone()).await?.error();
        if error.is_none() {
            return Ok((None, None));
        }
    }
    let Some(dlq) = stage.dlq_name() else { return Ok((error, None)) };
    let not_sent = |message: String| AwsError::local("sqs:SendMessageBatch", &dlq.value, message);
    let queue = readers
        .queue_ref(&dlq.value)
        .await?
        .ok_or_else(|| not_sent("the dead-letter queue was not deployed".into()))?;
    let message = error.clone().unwrap_or_default();
    let letter = crate::aws::ops::Outgoing::with_attribute(run.to_string(), "ErrorMessage", &message);
    match readers.send_batch(&queue, &[letter]).await?.pop() {
        Some(Ok(())) => Ok((error, Some(dlq.value.clone()))),
        Some(Err(e)) => Err(not_sent(format!("the failed run was refused: {}: {}", e.code, e.message)).into()),
        None => Ok((error, None)),
    }
}

/// Runs a `runs: local` stage's program for one date, as its crontab would (the contract of the
/// generated crontab in its environment), against the emulator; `Some(error)` when it failed.
async fn run_local_stage(
    p: &Pipeline,
    stage: &Stage,
    program: &Path,
    local: &Local<'_>,
    date: &str,
    timeout: Duration,
) -> Result<Option<String>, LocalError> {
    use tokio::io::AsyncReadExt;
    let mut command = tokio::process::Command::new(program);
    command
        .args(["--date", date])
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .envs(p.contract_vars(stage))
        .envs(local.aws_env())
        .env(RUN_LOCAL_VAR, "1")
        .envs(local.extra.iter().cloned())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child =
        command.spawn().map_err(|e| LocalError::Usage(format!("cannot start `{}`: {e}", program.display())))?;
    let (mut out, mut errs) = (Vec::new(), Vec::new());
    let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
    let read = async {
        let read_out = async {
            if let Some(s) = stdout.as_mut() {
                let _ = s.read_to_end(&mut out).await;
            }
        };
        let read_err = async {
            if let Some(s) = stderr.as_mut() {
                let _ = s.read_to_end(&mut errs).await;
            }
        };
        tokio::join!(read_out, read_err);
        child.wait().await
    };
    let status = match tokio::time::timeout(timeout, read).await {
        Ok(status) => status?,
        Err(_) => return Ok(Some(format!("did not finish within {timeout:?}; killed"))),
    };
    if status.success() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&errs);
    let tail: Vec<&str> = text.lines().rev().take(10).collect::<Vec<_>>().into_iter().rev().collect();
    Ok(Some(format!(
        "`{} --date {date}` exited with {status}; last output:
    {}",
        program.display(),
        tail.join(
            "
    "
        )
    )))
}

/// Refuses what cannot run locally, before anything is built or deployed.
fn preflight(p: &Pipeline, opts: &Options) -> Result<(), LocalError> {
    if opts.from_dir.is_none() {
        if !p.stages.iter().any(|s| s.trigger.is_none()) {
            return Err(LocalError::Usage(
                "the spec has no stage without a trigger (a scheduled or `runs: local` stage) to run for the dates; give the source objects with --from-dir".into(),
            ));
        }
        if opts.dates.is_empty() {
            return Err(LocalError::Usage("no date to run the source stages for".into()));
        }
    }
    Ok(())
}

/// Zips whose `bootstrap` only says that run-local runs the stage itself, and their manifest.
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
                "#!/bin/sh\necho 'placeholder of stage {name}: `pipewright run-local` runs the stage itself; deploy a real build with `pipewright build`' >&2\nexit 1\n"
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

/// Puts the files of `dir` (key = path under it) into the bucket of the pipeline's first trigger
/// whose pattern one of them matches, else of the first trigger; returns their `s3://` URLs.
async fn put_files(aws: &Aws, p: &Pipeline, dir: &Path, err: &mut dyn Write) -> Result<Vec<String>, LocalError> {
    let mut files = Vec::new();
    walk(dir, &mut files).map_err(|e| LocalError::Usage(format!("cannot read `{}`: {e}", dir.display())))?;
    if files.is_empty() {
        return Err(LocalError::Usage(format!("`{}` has no files", dir.display())));
    }
    files.sort();
    let triggers: Vec<(String, &str)> = p
        .stages
        .iter()
        .filter_map(|s| s.trigger.as_ref())
        .map(|t| (p.bucket_name(&t.bucket.value), t.pattern.pattern.as_str()))
        .collect();
    let mut urls = Vec::new();
    for file in files {
        let key = file
            .strip_prefix(dir)
            .unwrap_or(&file)
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let body =
            std::fs::read(&file).map_err(|e| LocalError::Usage(format!("cannot read `{}`: {e}", file.display())))?;
        let matching = triggers.iter().find(|(_, pattern)| pipewright_stage::glob_match(pattern, &key));
        let bucket = match (matching, triggers.first()) {
            (Some((bucket, _)), _) => bucket.clone(),
            (None, Some((bucket, _))) => {
                writeln!(err, "warning: s3://{bucket}/{key} matches no trigger of the spec: nothing will process it")?;
                bucket.clone()
            }
            (None, None) => return Err(LocalError::Usage("the spec has no trigger to put the files for".into())),
        };
        aws.s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .content_type(content_type(&file))
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
    polled: &[Mapping],
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

/// Puts a function's output lines into its log group (one stream per run), as Lambda does.
async fn ship_logs(logs: &aws_sdk_cloudwatchlogs::Client, group: &str, lines: &[String]) -> Result<(), LocalError> {
    use aws_sdk_cloudwatchlogs::types::InputLogEvent;
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
                keys.iter().filter(|(k, _)| globs.iter().any(|g| pipewright_stage::glob_match(g, k))).collect();
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
    crate::spec::pattern::KeyTemplate { template: template.to_string() }.render(|name| match (name, date) {
        ("date", Some(d)) => d.to_string(),
        _ => "*".to_string(),
    })
}

/// Each S3 table the functions write (their `PIPEWRIGHT_TABLE_*` contract): the current snapshot
/// of its Iceberg metadata.
async fn tables(
    aws: &Aws,
    readers: &crate::aws::live::Readers,
    envs: &[BTreeMap<String, String>],
) -> Result<Vec<TableReport>, LocalError> {
    let mut seen = std::collections::BTreeSet::new();
    for env in envs {
        let Ok(contract) = pipewright_stage::StageEnv::from_lookup(|k| env.get(k).cloned()) else { continue };
        if let Some(t) = contract.tables {
            for table in &t.tables {
                seen.insert((t.table_bucket_arn.clone(), t.namespace.clone(), table.clone()));
            }
        }
    }
    let mut out = Vec::new();
    for (bucket_arn, namespace, table) in seen {
        let subject = format!("{namespace}.{table}");
        let location = readers
            .s3tables
            .get_table_metadata_location()
            .table_bucket_arn(&bucket_arn)
            .namespace(&namespace)
            .name(&table)
            .send()
            .await
            .map_err(|e| AwsError::new("s3tables:GetTableMetadataLocation", &subject, e))?;
        let Some(metadata) = location.metadata_location().and_then(pipewright_stage::S3Location::parse) else {
            out.push(TableReport { table: subject, snapshot_id: None, snapshots: 0, total_rows: 0 });
            continue;
        };
        let body = aws
            .s3
            .get_object()
            .bucket(&metadata.bucket)
            .key(&metadata.key)
            .send()
            .await
            .map_err(|e| AwsError::new("s3:GetObject", metadata.to_string(), e))?
            .body
            .collect()
            .await
            .map_err(|e| AwsError::local("s3:GetObject", metadata.to_string(), e.to_string()))?
            .into_bytes();
        let doc: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            LocalError::Usage(format!("the metadata of table `{subject}` at {metadata} is not JSON: {e}"))
        })?;
        let snapshot_id = doc["current-snapshot-id"].as_i64().filter(|id| *id >= 0);
        let snapshots = doc["snapshots"].as_array().map_or(0, Vec::len);
        let total_rows = snapshot_id
            .and_then(|id| doc["snapshots"].as_array()?.iter().find(|s| s["snapshot-id"].as_i64() == Some(id)))
            .and_then(|s| s["summary"]["total-records"].as_str()?.parse().ok())
            .unwrap_or(0);
        out.push(TableReport { table: subject, snapshot_id, snapshots, total_rows });
    }
    Ok(out)
}
