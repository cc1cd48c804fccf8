//! The command line: the only place that knows clap, environment variables, terminals and
//! printing. Commands take settings and writers, so tests call them without spawning a process.

#[cfg(feature = "aws")]
mod build;
#[cfg(feature = "aws")]
pub use build::BuildArgs;
mod check;
#[cfg(feature = "aws")]
mod deploy;
mod docs;
#[cfg(feature = "aws")]
mod emulator;
pub mod env;
mod generate;
mod graph;
mod new;
#[cfg(feature = "aws")]
mod ops;
#[cfg(feature = "aws")]
mod run_local;
#[cfg(feature = "aws")]
mod verify;

use crate::Exit;
use crate::report::render::Format;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes:
  0  clean (warnings allowed unless --deny-warnings); a healthy pipeline
  1  findings: spec errors, stale generated files, drift, a degraded or broken pipeline
  2  usage error: bad arguments, unreadable spec; could not read live state (never \"clean\")
  3  operational failure (writing files, AWS)";

/// Event-driven AWS data pipelines, correct by construction.
///
/// One YAML spec describes the pipeline (buckets, S3 notifications, queues, Lambda stages, alarms,
/// schedule, S3 Tables); pipewright checks it as one graph and generates CloudFormation.
#[derive(Debug, Parser)]
#[command(name = "pipewright", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// When to use colour (`auto` respects NO_COLOR and terminals).
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, global = true)]
    pub color: ColorWhen,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the spec as one graph: filters, data flow, queues, alarms, names, schedules.
    #[command(after_help = "Examples:
  pipewright check specs/hoopstat-haus.yaml
  pipewright check specs/hoopstat-haus.yaml --format sarif > pipewright.sarif
  pipewright check --format github --deny-warnings   # pipewright.yaml, in a GitHub Actions step

Without SPEC: PIPEWRIGHT_SPEC, else pipewright.yaml in the working directory.

Exit codes: 0 clean (warnings allowed unless --deny-warnings), 1 findings, 2 usage error.")]
    Check(CheckArgs),
    /// Generate CloudFormation (and a parameters file) under `generated/<spec-name>/`.
    #[command(after_help = "Examples:
  pipewright generate specs/hoopstat-haus.yaml
  pipewright generate specs/hoopstat-haus.yaml --check   # in CI: fail with a diff when stale
  pipewright generate specs/hoopstat-haus.yaml --out /tmp/out

Also writes `pipewright.schema.json` (the spec's JSON Schema) and `checks.md` (the check
reference) into the output directory. Local stages get a `<stage>.crontab` next to the template.

Exit codes: 0 written or fresh, 1 spec errors or stale files (--check), 2 usage error, 3 write failure.")]
    Generate(GenerateArgs),
    #[cfg(feature = "aws")]
    /// Deploy through a CloudFormation change set: upload artifacts, show the plan and its hazards, execute.
    #[command(after_help = "Examples:
  pipewright deploy specs/hoopstat-haus.yaml --dry-run            # plan and hazards only
  pipewright deploy specs/hoopstat-haus.yaml --yes --parameter AlertEmail=ops@example.com
  pipewright deploy specs/minimal.yaml --endpoint-url http://127.0.0.1:5000 --yes   # the local emulator

Artifacts come from the build manifest (`pipewright build`), uploaded to the artifact bucket under
content-addressed keys. A deploy that changes nothing makes no mutating call.

Exit codes: 0 deployed, planned or up to date, 1 spec errors, 2 missing build/parameter or not
confirmed, 3 AWS or stack failure (with the first failure's reason).")]
    Deploy(DeployArgs),
    #[cfg(feature = "aws")]
    /// Verify live AWS against the spec, aspect by aspect (drift, unmanaged wiring, live relations).
    #[command(after_help = "Examples:
  pipewright verify specs/hoopstat-haus.yaml
  pipewright verify specs/hoopstat-haus.yaml --format junit > verify.xml
  pipewright verify specs/hoopstat-haus.yaml --format sarif --strict > verify.sarif

Reads bucket notifications and settings, queues, DLQs and their policies (compared by meaning), event
source mappings, functions, roles, alarms, log groups, the schedule and S3 Tables, concurrently.

Exit codes: 0 verified clean, 1 drift found, 2 something could not be verified (access denied,
throttled, unreachable: never reported as clean; --strict makes it a failure, exit 1), 3 tool error.")]
    Verify(VerifyArgs),
    #[cfg(feature = "aws")]
    /// The live health of each stage: queue, DLQ, mapping, errors, alarms, newest objects; a verdict.
    #[command(after_help = "Examples:
  pipewright status specs/hoopstat-haus.yaml
  pipewright status specs/hoopstat-haus.yaml --stage silver-processing --since 6h
  pipewright status specs/hoopstat-haus.yaml --format json > status.json   # also for graph --status

Per stage: the schedule (a local stage runs from cron: its newest output is its last run); queue
visible / in flight / oldest message age; DLQ depth; event source mapping state, reason and last
processing result; function invocations, errors and throttles over --since and the newest ERROR lines
of its log group; alarms in ALARM; the newest object of each output, and its newest date partition
against today in the pipeline's time zone (its schedule's).
Broken: a missing resource, a disabled mapping, messages in a DLQ. Degraded: a backlog over the
queue-depth alarm's threshold, errors, throttles, an alarm in ALARM.

Exit codes: 0 healthy, 1 degraded or broken, 2 something could not be read (access denied,
throttled, unreachable: never reported as healthy) or a usage error, 3 tool error.")]
    Status(ops::StatusArgs),
    #[cfg(feature = "aws")]
    /// Re-send S3 events for the existing objects of some dates into a stage's queue, or re-run a
    /// scheduled stage for some dates.
    #[command(after_help = "Examples:
  pipewright replay specs/hoopstat-haus.yaml --stage silver-processing --date 2024-01-15
  pipewright replay specs/hoopstat-haus.yaml --stage silver-processing --date 2023-10-24 --to 2024-04-14 --dry-run
  pipewright replay specs/hoopstat-haus.yaml --stage gold-analytics --date 2024-01-15 --format json
  pipewright replay specs/minimal.yaml --stage export --date 2024-01-15 --to 2024-01-17

Lists the objects of those dates that the stage's trigger matches (through the upstream writes' key
templates) and sends one S3 event notification per object, in S3's format (configurationId
`pipewright-replay`), into the stage's queue with SendMessageBatch: the event source mapping, its
retries and the DLQ apply as for S3's own events. Handlers are idempotent: a replay rewrites the same
outputs. A scheduled Lambda stage is invoked asynchronously once per date with {\"date\": \"YYYY-MM-DD\"}:
Lambda's retries and the stage's DLQ apply as for the runs its schedule starts.

Exit codes: 0 sent (or listed with --dry-run), 1 no object of those dates, 2 usage error (unknown
stage, a stage neither triggered nor a scheduled Lambda, bad date) or could not read, 3 AWS failure,
messages SQS refused or runs Lambda refused.")]
    Replay(ops::ReplayArgs),
    #[cfg(feature = "aws")]
    /// A stage's dead letters: peek (decode, not consume), redrive (to the queue; a scheduled stage's
    /// failed runs to its function), purge.
    #[command(after_help = "Examples:
  pipewright dlq specs/hoopstat-haus.yaml --stage silver-processing peek
  pipewright dlq specs/hoopstat-haus.yaml --stage silver-processing redrive
  pipewright dlq specs/hoopstat-haus.yaml --stage silver-processing redrive --no-move-task
  pipewright dlq specs/hoopstat-haus.yaml --stage silver-processing purge --yes

peek receives the messages, prints their S3 keys, receive counts and first-sent times and makes them
visible again (receive counts include the peek). redrive moves them back to the stage's queue with
SQS's StartMessageMoveTask, or, where that API is unavailable (or with --no-move-task), with a
receive -> send -> delete loop that deletes a dead letter only after its copy was sent. A scheduled
Lambda stage's DLQ holds its failed runs (the payload, with the error Lambda or the schedule
recorded): peek shows the run's date or due time and the error; redrive invokes the function
asynchronously with each run and deletes a dead letter once Lambda accepted it. purge asks first
(or --yes).

Exit codes: 0 done, 2 usage error (a local stage has no DLQ), not confirmed, or could not read, 3 AWS
failure, messages that could not be moved or are not runs of a scheduled stage (the error says where
they are).")]
    Dlq(ops::DlqArgs),
    #[cfg(feature = "aws")]
    /// Prove each S3 trigger delivers: a canary object in, its message out of the stage's queue.
    #[command(after_help = "Examples:
  pipewright probe specs/hoopstat-haus.yaml
  pipewright probe specs/hoopstat-haus.yaml --stage silver-processing --timeout 60s

For each triggered stage, puts a tagged canary object (`pipewright=canary`) whose key fills each `*`
of the trigger pattern with `pipewright-canary-<id>`, so it matches the S3 filter and the whole
pattern; waits for its event in the stage's queue and deletes only that message (other messages it
receives stay hidden until the probe ends, then are made visible again); removes the canary. Handlers
skip canaries (pipewright_stage::is_canary). When the function consumes the canary first, its
log line proves the arrival.

Exit codes: 0 every canary arrived, 1 one did not arrive within --timeout, 2 usage error or could
not read, 3 AWS failure.")]
    Probe(ops::ProbeArgs),
    /// Write the runbook of the spec (`generated/<spec-name>/RUNBOOK.md`), from the spec itself.
    #[command(after_help = "Examples:
  pipewright docs specs/hoopstat-haus.yaml
  pipewright docs specs/hoopstat-haus.yaml --check   # in CI: fail with a diff when stale

The runbook: the architecture (Mermaid), every resource by its real name (buckets, S3 filters as
written and as S3 sees them, queues and DLQs, functions, roles, log groups, alarms, schedules,
tables), and for each symptom the pipewright command that diagnoses and fixes it.
`pipewright generate` writes it too.

Exit codes: 0 written or fresh, 1 spec errors or a stale runbook (--check), 2 usage error, 3 write failure.")]
    Docs(docs::DocsArgs),
    /// Draw the pipeline: buckets, filters, queues, DLQs, functions, tables, alarms.
    #[command(after_help = "Examples:
  pipewright graph specs/hoopstat-haus.yaml                       # Mermaid
  pipewright graph specs/hoopstat-haus.yaml --format dot | dot -Tpng > pipeline.png
  pipewright graph specs/hoopstat-haus.yaml --format svg --status status.json > pipeline.svg

--status colours nodes from {\"resources\": {\"<name>\": \"ok|drift|broken|unknown\"}}, keyed by
the resources' real names (S3 tables as namespace.table), as `verify` and `status` write it.

Exit codes: 0 drawn, 1 spec errors, 2 usage error (an unreadable status file).")]
    Graph(graph::GraphArgs),
    #[cfg(feature = "aws")]
    /// Build each Lambda stage with cargo-lambda into a zip, inspect its bootstrap, write the manifest.
    #[command(after_help = "Examples:
  pipewright build specs/hoopstat-haus.yaml
  pipewright build specs/hoopstat-haus.yaml --stage silver-processing --format json
  pipewright build specs/minimal.yaml --x86-64 --lambdas lambdas

Each stage `S` that runs as a Lambda is built from `<lambdas>/S` (binary `S`) with `cargo lambda
build --release --output-format zip` (install: pip install cargo-lambda==1.9.2). Before anything is
deployed, each bootstrap is checked: its machine matches the architecture, the glibc it needs is
at most the runtime's (2.34 on provided.al2023), and the handler answers SQS batches as its event
source mapping expects (PW701/PW702). Then `target/pipewright/<spec>/manifest.json` is written.

Exit codes: 0 built, 1 spec errors, handler mismatches or bootstraps Lambda cannot run, 2 unknown
stage, missing crate or cargo-lambda, 3 the build failed.")]
    Build(BuildArgs),
    #[cfg(feature = "aws")]
    /// Run the whole pipeline on this machine: each stage a process behind the Lambda Runtime API.
    #[command(after_help = "Examples:
  pipewright run-local specs/hoopstat-haus.yaml --date 2024-01-15
  pipewright run-local specs/hoopstat-haus.yaml --date 2024-01-15 --days 7 --env BRONZE_FIXTURE_GAMES=4
  pipewright run-local specs/hoopstat-haus.yaml --from-dir bronze-files/ --format json

Builds each stage's crate (lambdas/<stage>, binary <stage>) for this machine, or takes an executable
lambdas/<stage>/bootstrap; starts the local emulator unless one runs (it keeps running: `pipewright
emulator stop`); deploys the generated stack through a change set; runs the source stages for the
dates (`runs: local` as `<bin> --date D`, scheduled Lambdas with {\"date\": \"D\"}) or puts the files
of --from-dir; runs each Lambda stage as a process behind a Lambda Runtime API on 127.0.0.1 (its
timeout enforced, the process reused between invocations) and an emulation of its event source
mapping (batch size, batching window, partial batch responses, retries and the DLQ after
maxReceiveCount; a failed message is retried after --retry-after instead of the queue's visibility
timeout); then reports each S3 table's snapshot and verifies the stack.

Exit codes: 0 every source ran, every record processed and the stack verified clean, 1 spec errors,
a failed source, records in a DLQ or left in a queue, or drift, 2 usage error (a stage without a
crate, no emulator), 3 a failed build, an AWS error, deploy failure or the pipeline did not settle in
--timeout.")]
    RunLocal(run_local::RunLocalArgs),
    /// Start a project: the spec and a crate per stage, each a working pass-through skeleton.
    #[command(after_help = "Examples:
  pipewright new my-pipeline                            # a starter pipeline
  pipewright new orders --spec specs/minimal.yaml       # a crate for each stage of a spec

Writes DIR/pipewright.yaml, a Cargo workspace with one crate per stage (lambdas/<stage>, binary
<stage>) on pipewright's stage library, and a README with the next commands. The crates depend on
the stage library by path to the pipewright source this binary was built from.

Exit codes: 0 created, 1 spec errors, 2 DIR exists and is not empty, 3 a file could not be written.")]
    New(new::NewArgs),
    #[cfg(feature = "aws")]
    /// Run the local AWS (moto 5.2.1, patched to behave like AWS where pipelines need it).
    #[command(after_help = "Examples:
  eval \"$(pipewright emulator start)\"     # start it and point the AWS SDKs and CLI at it
  pipewright emulator status
  pipewright emulator stop

Needs python3 with `moto[server]==5.2.1` (pip install -r requirements-dev.txt). It listens on
127.0.0.1 only; its state and log live in `--state-dir` (default `.pipewright`).")]
    Emulator {
        #[command(subcommand)]
        action: EmulatorAction,
        /// Where the emulator's launcher, state and log live.
        #[arg(long, default_value = ".pipewright", env = env::STATE_DIR, global = true)]
        state_dir: PathBuf,
    },
    /// Print the JSON Schema of the spec format (for editors).
    #[command(after_help = "Example:
  pipewright schema > pipewright.schema.json
  # then in the spec: # yaml-language-server: $schema=pipewright.schema.json")]
    Schema,
    /// Explain a check code: what it finds, an example, the fix.
    #[command(after_help = "Examples:
  pipewright explain PW301
  pipewright explain visibility-below-timeout
  pipewright explain --all")]
    Explain {
        /// A code (`PW301`) or its name (`visibility-below-timeout`).
        #[arg(required_unless_present = "all")]
        code: Option<String>,
        /// List every code.
        #[arg(long)]
        all: bool,
    },
    /// Print shell completions.
    #[command(after_help = "Examples:
  pipewright completions bash > ~/.local/share/bash-completion/completions/pipewright
  pipewright completions zsh > ~/.zfunc/_pipewright")]
    Completions { shell: clap_complete::Shell },
    /// Print a synthetic spec of N stages (benchmarks).
    #[command(hide = true)]
    Synth {
        #[arg(long, default_value_t = 10)]
        stages: usize,
    },
}

#[cfg(feature = "aws")]
#[derive(Debug, Subcommand)]
pub enum EmulatorAction {
    /// Start it in the background (prints `export` lines for the shell).
    Start {
        /// Port on 127.0.0.1 (0: a free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Stop it.
    Stop,
    /// Say whether it runs, and where (exit 1 when it does not).
    Status,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The spec (default: `PIPEWRIGHT_SPEC`, else `pipewright.yaml` in the working directory); `-` reads
    /// standard input.
    #[arg(env = env::SPEC)]
    pub spec: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Exit 1 on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
}

#[cfg(feature = "aws")]
/// Where and as whom to call AWS.
#[derive(Debug, Args)]
pub struct AwsArgs {
    /// Named profile of the shared config files.
    #[arg(long, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Region (default: `AWS_REGION`, else the spec's region).
    #[arg(long)]
    pub region: Option<String>,
    /// Endpoint of every AWS service (the local emulator).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Print every AWS call (service:operation) on stderr.
    #[arg(long)]
    pub trace_aws: bool,
}

#[cfg(feature = "aws")]
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The spec (default: `PIPEWRIGHT_SPEC`, else `pipewright.yaml` in the working directory).
    #[arg(env = env::SPEC)]
    pub spec: Option<PathBuf>,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Stack name (default from the spec's `naming.stack`, `{{project}}`).
    #[arg(long)]
    pub stack: Option<String>,
    /// Execute the change set without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Show the plan and hazards, then delete the change set.
    #[arg(long)]
    pub dry_run: bool,
    /// Plan format.
    #[arg(long, value_enum, default_value_t = deploy::PlanFormat::Human)]
    pub format: deploy::PlanFormat,
    /// Build manifest (default `target/pipewright/<spec>/manifest.json`).
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Artifact bucket (default `<project>-artifacts-<account>-<region>`, created when missing).
    #[arg(long)]
    pub artifact_bucket: Option<String>,
    /// A stack parameter, `NAME=VALUE` (repeatable); others keep their previous or default value.
    #[arg(long, value_name = "NAME=VALUE")]
    pub parameter: Vec<String>,
    /// How long to wait for the stack (`30m`, `900s`).
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub timeout: crate::spec::duration::Duration,
}

#[cfg(feature = "aws")]
fn parse_duration(text: &str) -> Result<crate::spec::duration::Duration, crate::spec::duration::DurationError> {
    crate::spec::duration::Duration::parse(text)
}

#[cfg(feature = "aws")]
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The spec (default: `PIPEWRIGHT_SPEC`, else `pipewright.yaml` in the working directory).
    #[arg(env = env::SPEC)]
    pub spec: Option<PathBuf>,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Stack name shown in the report (default from the spec).
    #[arg(long)]
    pub stack: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Treat "could not verify" as a failure (exit 1; JUnit failure, SARIF error).
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The spec (default: `PIPEWRIGHT_SPEC`, else `pipewright.yaml` in the working directory).
    #[arg(env = env::SPEC)]
    pub spec: Option<PathBuf>,
    /// Output directory; files go to `<out>/<spec-name>/`.
    #[arg(long, default_value = generate::DEFAULT_OUT, env = env::OUT)]
    pub out: PathBuf,
    /// Do not write: exit 1 with a unified diff when the files on disk are stale.
    #[arg(long)]
    pub check: bool,
}

/// The values of `--format` for findings (the library's formats know nothing of clap).
impl ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        &[Format::Human, Format::Json, Format::Sarif, Format::Github, Format::Junit]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        use clap::builder::PossibleValue;
        Some(match self {
            Format::Human => {
                PossibleValue::new("human").help("Snippets of the spec with the offending node underlined")
            }
            Format::Json => PossibleValue::new("json").help("One JSON document"),
            Format::Sarif => {
                PossibleValue::new("sarif").help("SARIF 2.1.0 (code-scanning upload); locations are the spec's lines")
            }
            Format::Github => {
                PossibleValue::new("github").help("GitHub Actions workflow commands (annotations on the pull request)")
            }
            Format::Junit => PossibleValue::new("junit").help("JUnit XML: a test case per check (verify: per aspect)"),
        })
    }
}

/// Whether to colour output written to stdout.
pub fn use_color(when: ColorWhen) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never,
    }
}

/// The commands of the `aws` feature (the rest is the offline gate).
const AWS_COMMANDS: [&str; 9] =
    ["deploy", "verify", "status", "replay", "dlq", "probe", "build", "run-local", "emulator"];

/// Parses the process's arguments and runs the command.
pub fn main() -> Exit {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::{ContextKind, ContextValue};
            return match e.get(ContextKind::InvalidSubcommand) {
                Some(ContextValue::String(c)) if !cfg!(feature = "aws") && AWS_COMMANDS.contains(&c.as_str()) => {
                    eprintln!(
                        "error: this pipewright is the offline gate (built without the `aws` feature): it has no \
                         `{c}` command\nhint: install the full tool with `cargo install --locked --path .` from a clone"
                    );
                    Exit::Usage
                }
                _ => e.exit(),
            };
        }
    };
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    run(cli, &mut stdout.lock(), &mut stderr.lock())
}

/// Runs a parsed command line, writing data to `out` and messages to `err`.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let color = use_color(cli.color);
    let result = match cli.command {
        Command::Check(args) => check::run(&args, color, out, err),
        Command::Generate(args) => generate::run(&args, color, out, err),
        #[cfg(feature = "aws")]
        Command::Deploy(args) => deploy::run(&args, color, out, err),
        #[cfg(feature = "aws")]
        Command::Verify(args) => verify::run(&args, color, out, err),
        Command::Docs(args) => docs::run(&args, color, out, err),
        #[cfg(feature = "aws")]
        Command::Status(args) => ops::status(&args, color, out, err),
        #[cfg(feature = "aws")]
        Command::Replay(args) => ops::replay(&args, color, out, err),
        #[cfg(feature = "aws")]
        Command::Dlq(args) => ops::dlq(&args, color, out, err),
        #[cfg(feature = "aws")]
        Command::Probe(args) => ops::probe(&args, color, out, err),
        Command::Graph(args) => graph::run(&args, color, out, err),
        #[cfg(feature = "aws")]
        Command::Build(args) => build::run(&args, color, out, err),
        #[cfg(feature = "aws")]
        Command::RunLocal(args) => run_local::run(&args, color, out, err),
        Command::New(args) => new::run(&args, color, err),
        #[cfg(feature = "aws")]
        Command::Emulator { action, state_dir } => emulator::run(&action, &state_dir, out, err),
        Command::Schema => write!(out, "{}", crate::cfn::files::schema_json()).map(|_| Exit::Clean),
        Command::Explain { code, all } => explain(code.as_deref(), all, out, err),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "pipewright", out);
            Ok(Exit::Clean)
        }
        Command::Synth { stages } => write!(out, "{}", crate::spec::synthetic::spec(stages)).map(|_| Exit::Clean),
    };
    result.unwrap_or_else(|e| {
        // Writing to stdout failed (a closed pipe): nothing more to say.
        let _ = writeln!(err, "error: {e}");
        Exit::Failure
    })
}

fn explain(code: Option<&str>, all: bool, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    use crate::report::codes;
    if all {
        for c in codes::ALL {
            writeln!(out, "{}  {:<30} {}", c.code, c.name, c.severity)?;
        }
        return Ok(Exit::Clean);
    }
    let code = code.unwrap_or_default();
    match codes::find(code) {
        Some(c) => {
            writeln!(
                out,
                "{} {} ({})\n\n{}\n\nexample:\n{}\n\nfix: {}",
                c.code,
                c.name,
                c.severity,
                c.what,
                indent(c.example),
                c.fix
            )?;
            Ok(Exit::Clean)
        }
        None => {
            writeln!(err, "error: unknown check code `{code}`\nhint: `pipewright explain --all` lists them")?;
            Ok(Exit::Usage)
        }
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

#[cfg(feature = "aws")]
/// A runtime for the commands that call AWS.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// Reads the spec at `path` (the SPEC argument or `PIPEWRIGHT_SPEC`), else `pipewright.yaml` in the
/// working directory. No spec, or one that cannot be read, is a usage error: a command never falls
/// back to an example.
fn read_spec(path: Option<&PathBuf>, err: &mut dyn Write) -> std::io::Result<Result<crate::spec::Source, Exit>> {
    let default = PathBuf::from(crate::spec::DEFAULT_SPEC);
    let path = match path {
        Some(p) => p,
        None if default.is_file() => &default,
        None => {
            writeln!(
                err,
                "error: no spec: pass SPEC, set {} or create {} (`pipewright new`)",
                env::SPEC,
                crate::spec::DEFAULT_SPEC
            )?;
            return Ok(Err(Exit::Usage));
        }
    };
    match crate::spec::Source::read(path) {
        Ok(s) => Ok(Ok(s)),
        Err(e) => {
            writeln!(err, "error: cannot read spec `{}`: {e}", path.display())?;
            Ok(Err(Exit::Usage))
        }
    }
}

/// Reads, parses, resolves and checks the spec; reports its errors (exit 1) instead of `verb` it.
fn load_valid(
    path: Option<&PathBuf>,
    verb: &str,
    color: bool,
    err: &mut dyn Write,
) -> std::io::Result<Result<(crate::spec::Source, crate::spec::Pipeline), Exit>> {
    use crate::report::Severity;
    use crate::report::render::{Subject, human};
    let source = match read_spec(path, err)? {
        Ok(s) => s,
        Err(exit) => return Ok(Err(exit)),
    };
    if source.is_stdin() {
        writeln!(
            err,
            "error: not {verb} a spec from standard input: give its file (its name and project root name the \
             generated files, the stack and the stage crates)\nhint: `pipewright check -` reads standard input"
        )?;
        return Ok(Err(Exit::Usage));
    }
    let loaded = crate::check::diagnose(source);
    let errors: Vec<_> = loaded.diagnostics.iter().filter(|d| d.severity == Severity::Error).cloned().collect();
    match loaded.pipeline {
        Some(p) if errors.is_empty() => Ok(Ok((loaded.source, p))),
        _ => {
            let path = loaded.source.path.display().to_string();
            write!(err, "{}", human(&Subject { path: &path, text: &loaded.source.text }, &errors, color))?;
            writeln!(err, "error: not {verb} a spec with errors")?;
            Ok(Err(Exit::Findings))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The offline gate names the commands it lacks from `AWS_COMMANDS`: exactly the commands the `aws`
    /// feature adds.
    #[test]
    fn aws_commands_are_the_commands_of_the_aws_feature() {
        let cli = Cli::command();
        let all: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
        let offline = ["check", "generate", "docs", "graph", "new", "schema", "explain", "completions", "synth"];
        let mut expected: Vec<&str> = all.iter().copied().filter(|c| !offline.contains(c)).collect();
        let mut listed = AWS_COMMANDS.to_vec();
        expected.sort();
        listed.sort();
        assert_eq!(listed, expected);
    }
}
