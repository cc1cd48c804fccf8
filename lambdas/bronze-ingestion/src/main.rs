//! `bronze-ingestion`: a local command (the NBA stats API blocks cloud IP ranges, so the stage runs
//! from a local cron) and, when `AWS_LAMBDA_RUNTIME_API` is set, a Lambda function invoked by
//! EventBridge Scheduler with `{"scheduled_time": ...}` (yesterday in New York at that instant) or, from a
//! replay, `{"date": "YYYY-MM-DD"}`.

// The futures of aws-config and the runtime nest deeply.
#![recursion_limit = "256"]

use std::process::ExitCode;
use std::time::Duration;

use bronze_ingestion::dates::{self, DateError};
use bronze_ingestion::ingest::DEFAULT_BUCKET;
use bronze_ingestion::nba::DEFAULT_BASE_URL;
use bronze_ingestion::{ClientConfig, DaySummary, Ingest, NbaClient, S3Store, default_contract};
use chrono::{NaiveDate, Utc};
use clap::Parser;
use lambda_runtime::{LambdaEvent, service_fn};
use pipewright_stage::StageEnv;
use pipewright_stage::log::{Logger, error_chain};
use pipewright_stage::schedule::ScheduledRun;
use serde_json::Value;

/// Fetch the NBA box scores of a date (default: yesterday in America/New_York) and write them to
/// bronze as one object per date.
///
/// The stage contract (`PIPEWRIGHT_STAGE`, `PIPEWRIGHT_OUTPUTS`, `PIPEWRIGHT_QUARANTINE`) comes from
/// `--bucket` (the spec's contract in that bucket), else from the environment if
/// `PIPEWRIGHT_STAGE` is set, else the spec's contract in `hoopstat-haus-bronze`. AWS credentials,
/// region and `AWS_ENDPOINT_URL` come from the usual AWS environment.
#[derive(Debug, Parser)]
#[command(name = "bronze-ingestion", version)]
struct Cli {
    /// The date to ingest (YYYY-MM-DD).
    #[arg(long, value_parser = parse_date, conflicts_with_all = ["from", "to"])]
    date: Option<NaiveDate>,
    /// First date of a backfill (inclusive); one object per date.
    #[arg(long, value_parser = parse_date, requires = "to")]
    from: Option<NaiveDate>,
    /// Last date of a backfill (inclusive).
    #[arg(long, value_parser = parse_date, requires = "from")]
    to: Option<NaiveDate>,
    /// Bronze bucket: write to the spec's locations in this bucket.
    #[arg(long)]
    bucket: Option<String>,
    /// Base URL of the stats API.
    #[arg(long, env = "NBA_STATS_BASE_URL", default_value = DEFAULT_BASE_URL)]
    base_url: String,
    /// Minimum time between two requests, in milliseconds.
    #[arg(long, env = "NBA_STATS_MIN_INTERVAL_MS", default_value_t = 1000)]
    min_interval_ms: u64,
    /// Timeout of one request, in seconds.
    #[arg(long, env = "NBA_STATS_TIMEOUT_SECS", default_value_t = 30)]
    timeout_secs: u64,
    /// Attempts per request (429, 5xx and timeouts are retried with exponential back-off, at most 60 s).
    #[arg(long, env = "NBA_STATS_MAX_ATTEMPTS", default_value_t = 5)]
    max_attempts: u32,
    /// Write generated box scores (deterministic, `--fixture-seed`) instead of calling the stats API.
    /// On by default under `pipewright run-local` (`PIPEWRIGHT_RUN_LOCAL=1`), which cannot reach
    /// the API.
    #[arg(long, env = "PIPEWRIGHT_RUN_LOCAL", value_parser = clap::builder::BoolishValueParser::new())]
    fixtures: bool,
    /// Games per generated date (at most 15).
    #[arg(long, env = "BRONZE_FIXTURE_GAMES", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=15))]
    fixture_games: u64,
    /// Seed of the generated games (the same seed gives the same games).
    #[arg(long, env = "BRONZE_FIXTURE_SEED", default_value_t = 2024)]
    fixture_seed: u64,
}

fn parse_date(text: &str) -> Result<NaiveDate, DateError> {
    dates::parse_date(text)
}

impl Cli {
    fn client_config(&self) -> ClientConfig {
        ClientConfig {
            base_url: self.base_url.clone(),
            min_interval: Duration::from_millis(self.min_interval_ms),
            timeout: Duration::from_secs(self.timeout_secs),
            max_attempts: self.max_attempts,
            ..ClientConfig::default()
        }
    }

    fn contract(&self) -> Result<StageEnv, pipewright_stage::EnvError> {
        match &self.bucket {
            Some(bucket) => Ok(default_contract(bucket)),
            None if std::env::var_os(pipewright_stage::STAGE).is_some() => StageEnv::from_env(),
            None => Ok(default_contract(DEFAULT_BUCKET)),
        }
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn stage(cli: &Cli, env: &StageEnv) -> Result<(Ingest<S3Store>, Logger), Error> {
    let log = Logger::stdout(&env.stage);
    let client = NbaClient::new(cli.client_config(), log.clone())?;
    let ingest = Ingest::new(env, client, S3Store::from_environment().await?, log.clone())?;
    Ok((ingest, log))
}

/// The date an invocation is for: the date its payload names, or, for the schedule's run, yesterday in
/// New York at the instant the run was due (its retries, even after midnight, ingest the same date).
fn event_date(payload: &Value) -> Result<NaiveDate, Error> {
    let run = ScheduledRun::from_payload(payload)?;
    Ok(dates::run_date(run, Utc::now())?)
}

async fn run_lambda(cli: Cli) -> Result<(), Error> {
    let env = StageEnv::from_env()?;
    let (ingest, log) = stage(&cli, &env).await?;
    let (ingest, log) = (&ingest, &log);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let result: Result<DaySummary, Error> = match event_date(&event.payload) {
            Ok(date) => ingest.day(date).await.map_err(Error::from),
            Err(e) => Err(e),
        };
        // Errors are returned, not swallowed: the invocation fails, Lambda retries it, and the payload
        // of a run that failed every retry lands in the stage's dead-letter queue.
        if let Err(e) = &result {
            log.error("invocation failed").error(e.as_ref()).emit();
        }
        result
    }))
    .await
}

async fn run_local(cli: Cli) -> Result<ExitCode, Error> {
    let now = Utc::now();
    // Generated games need no finished day: any date can be generated.
    let over_by = if cli.fixtures { now.checked_add_days(chrono::Days::new(36_600)).unwrap_or(now) } else { now };
    let dates = match (cli.date, cli.from, cli.to) {
        (Some(date), _, _) => dates::dates(date, date, over_by)?,
        (None, Some(from), Some(to)) => dates::dates(from, to, over_by)?,
        _ => vec![dates::yesterday_in_new_york(now)],
    };
    let env = cli.contract()?;
    let (ingest, log) = stage(&cli, &env).await?;
    for (i, date) in dates.iter().enumerate() {
        let result = if cli.fixtures {
            ingest.generated_day(*date, cli.fixture_games as usize, cli.fixture_seed).await
        } else {
            ingest.day(*date).await
        };
        match result {
            Ok(summary) => println!("{}", serde_json::to_string(&summary)?),
            Err(e) => {
                log.error("date failed").date(&date.to_string()).error(&e).emit();
                eprintln!("error: {}", error_chain(&e));
                if let Some(last) = dates.last().filter(|_| i + 1 < dates.len()) {
                    eprintln!("stopped; resume with: bronze-ingestion --from {date} --to {last}");
                }
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        run_lambda(cli).await.map(|()| ExitCode::SUCCESS)
    } else {
        run_local(cli).await
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {}", error_chain(e.as_ref()));
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn dates_and_ranges_exclude_each_other() {
        assert!(
            Cli::try_parse_from(["b", "--date", "2024-01-15", "--from", "2024-01-14", "--to", "2024-01-15"]).is_err()
        );
        assert!(Cli::try_parse_from(["b", "--from", "2024-01-14"]).is_err());
        assert!(Cli::try_parse_from(["b", "--date", "2024-1-15"]).is_err());
        let cli =
            Cli::try_parse_from(["b", "--from", "2024-01-14", "--to", "2024-01-15", "--bucket", "x"]).expect("parses");
        assert_eq!(cli.contract().expect("contract"), default_contract("x"));
    }

    #[test]
    fn scheduler_payloads() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
        assert_eq!(event_date(&serde_json::json!({"date": "2024-01-15"})).expect("date"), d(2024, 1, 15));
        // The schedule's run: yesterday in New York at the instant it was due (04:30 there on the 16th).
        let due = serde_json::json!({"scheduled_time": "2024-01-16T09:30:00Z"});
        assert_eq!(event_date(&due).expect("date"), d(2024, 1, 15));
        // A payload that names no run is refused, never read as "yesterday".
        for payload in [serde_json::json!({}), Value::Null, serde_json::json!({"date": null})] {
            assert!(event_date(&payload).is_err(), "{payload}");
        }
        assert!(event_date(&serde_json::json!({"date": "15.01.2024"})).is_err());
        assert!(event_date(&serde_json::json!({"date": 20240115})).is_err());
        let future = event_date(&serde_json::json!({"date": "2999-01-01"})).expect_err("not over");
        assert!(matches!(future.downcast_ref::<DateError>(), Some(DateError::NotOver { .. })), "{future}");
    }
}
