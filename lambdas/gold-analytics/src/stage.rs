//! The stage: SQS batch of S3 events for silver objects -> coalesced by date -> that date's silver
//! player and team objects (plus the season's earlier dates) -> analytics -> one Iceberg commit per
//! table replacing the date's rows.

use std::future::Future;
use std::time::Instant;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::NaiveDate;
use futures::StreamExt;
use pipewright_common::event::{BatchError, ObjectEvent, process_s3_batch_coalesced};
use pipewright_common::log::Logger;
use pipewright_common::{
    EnvError, Input, S3Location, StageEnv, StageInputs, TemplateError, match_template, render_template,
};

use crate::silver::{SilverReadError, read_players, read_teams};
use crate::table::{CommitSummary, GoldRow, GoldTables, PLAYER_ANALYTICS, TEAM_ANALYTICS, TableError};
use crate::{AnalyticsError, SilverDay, compute};

/// Input names in `PIPEWRIGHT_INPUTS`: silver-processing's outputs.
pub const PLAYER_STATS: &str = "player_stats";
pub const TEAM_STATS: &str = "team_stats";
/// Silver objects fetched at once when reading the season.
const CONCURRENT_GETS: usize = 8;

/// An S3 call that failed.
#[derive(Debug, thiserror::Error)]
#[error("{operation} s3://{bucket}/{key}")]
pub struct StoreError {
    pub operation: &'static str,
    pub bucket: String,
    pub key: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Read access to the silver bucket (S3, or memory in tests).
pub trait SilverStore: Send + Sync {
    /// The object's bytes, or `None` if it does not exist.
    fn get(&self, bucket: &str, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;
    /// Every key under `prefix`.
    fn list(&self, bucket: &str, prefix: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
}

/// [`SilverStore`] on S3.
#[derive(Debug, Clone)]
pub struct S3SilverStore {
    client: aws_sdk_s3::Client,
}

impl S3SilverStore {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self { client }
    }

    /// A client from the default chain; `AWS_ENDPOINT_URL` (moto) is honoured, path-style.
    pub async fn from_environment() -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let mut builder = aws_sdk_s3::config::Builder::from(&config).force_path_style(true);
        if let Some(url) = std::env::var("AWS_ENDPOINT_URL").ok().filter(|u| !u.is_empty()) {
            builder = builder.endpoint_url(url);
        }
        Self::new(aws_sdk_s3::Client::from_conf(builder.build()))
    }
}

impl SilverStore for S3SilverStore {
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let err = |source: Box<dyn std::error::Error + Send + Sync>| StoreError {
            operation: "GetObject",
            bucket: bucket.to_string(),
            key: key.to_string(),
            source,
        };
        match self.client.get_object().bucket(bucket).key(key).send().await {
            Ok(output) => {
                let data = output.body.collect().await.map_err(|e| err(Box::new(e)))?;
                Ok(Some(data.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(err(Box::new(e.into_service_error()))),
        }
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self.client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| StoreError {
                operation: "ListObjectsV2",
                bucket: bucket.to_string(),
                key: prefix.to_string(),
                source: Box::new(e.into_service_error()),
            })?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        }
        Ok(keys)
    }
}

/// Where the analytics go (the S3 Tables, or memory in tests).
pub trait AnalyticsSink: Send + Sync {
    /// Replaces the rows of `date` in `table` with `rows` (an empty `rows` removes the date's rows).
    fn replace_date<R: GoldRow + Sync>(
        &self,
        table: &str,
        date: NaiveDate,
        rows: &[R],
    ) -> impl Future<Output = Result<CommitSummary, TableError>> + Send;
}

impl AnalyticsSink for GoldTables {
    async fn replace_date<R: GoldRow + Sync>(
        &self,
        table: &str,
        date: NaiveDate,
        rows: &[R],
    ) -> Result<CommitSummary, TableError> {
        GoldTables::replace_date(self, table, date, rows).await
    }
}

/// The stage's environment is incomplete.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error("stage `{0}` has no trigger (`PIPEWRIGHT_INPUT_BUCKET`, `PIPEWRIGHT_INPUT_PATTERN`)")]
    NoInput(String),
    #[error("stage `{stage}` has no input `{input}` in `PIPEWRIGHT_INPUTS`")]
    MissingInput { stage: String, input: &'static str },
    #[error("stage `{stage}`: input `{input}` key template `{template}` has no `{{date}}`")]
    NoDate { stage: String, input: &'static str, template: String },
    #[error("stage `{0}` has no tables (`PIPEWRIGHT_TABLE_BUCKET_ARN`)")]
    NoTables(String),
    #[error("stage `{stage}` does not list table `{table}` in `PIPEWRIGHT_TABLES`")]
    MissingTable { stage: String, table: &'static str },
}

/// Processing one date failed; every message that delivered an object of the date is reported.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("{date}: s3://{bucket}/{key} does not exist (silver writes both objects of a date; retry later)")]
    Missing { date: NaiveDate, bucket: String, key: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("s3://{bucket}/{key}")]
    Read {
        bucket: String,
        key: String,
        #[source]
        source: SilverReadError,
    },
    #[error(transparent)]
    Analytics(#[from] AnalyticsError),
    #[error(transparent)]
    Table(#[from] TableError),
}

/// What processing one date did.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub date: NaiveDate,
    pub objects: usize,
    pub earlier_dates: usize,
    pub players: usize,
    pub teams: usize,
    pub commits: Vec<CommitSummary>,
}

/// The gold-analytics stage.
pub struct Stage<S, T> {
    store: S,
    sink: T,
    input: Input,
    player_stats: S3Location,
    team_stats: S3Location,
    log: Logger,
}

impl<S: SilverStore, T: AnalyticsSink> Stage<S, T> {
    pub fn new(env: &StageEnv, inputs: &StageInputs, store: S, sink: T, log: Logger) -> Result<Self, ConfigError> {
        let stage = env.stage.clone();
        let input = |name: &'static str| -> Result<S3Location, ConfigError> {
            let at =
                inputs.get(name).cloned().ok_or(ConfigError::MissingInput { stage: stage.clone(), input: name })?;
            if !at.key.contains("{date}") {
                return Err(ConfigError::NoDate { stage: stage.clone(), input: name, template: at.key });
            }
            Ok(at)
        };
        let tables = env.tables.as_ref().ok_or_else(|| ConfigError::NoTables(stage.clone()))?;
        for table in [PLAYER_ANALYTICS, TEAM_ANALYTICS] {
            if !tables.tables.iter().any(|t| t == table) {
                return Err(ConfigError::MissingTable { stage: stage.clone(), table });
            }
        }
        Ok(Self {
            input: env.input.clone().ok_or_else(|| ConfigError::NoInput(stage.clone()))?,
            player_stats: input(PLAYER_STATS)?,
            team_stats: input(TEAM_STATS)?,
            store,
            sink,
            log,
        })
    }

    /// The date of a silver key: the `{date}` of whichever input template the key is an instance of.
    pub fn date_of(&self, object: &ObjectEvent) -> Option<NaiveDate> {
        [&self.player_stats, &self.team_stats]
            .into_iter()
            .filter(|at| at.bucket == object.bucket)
            .find_map(|at| match_template(&at.key, &object.key))
            .and_then(|values| values.into_iter().find(|(name, _)| name == "date"))
            .and_then(|(_, value)| NaiveDate::parse_from_str(value, "%Y-%m-%d").ok())
    }

    /// Handles one SQS batch: records coalesced by date, one computation and commit per date;
    /// messages of failed dates are in `batch_item_failures`.
    pub async fn handle(&self, event: &SqsEvent) -> Result<SqsBatchResponse, BatchError> {
        process_s3_batch_coalesced(
            event,
            &self.input,
            &self.log,
            |object| self.date_of(object),
            |date, objects| async move { self.process_date(date, objects.len()).await.map(|_| ()) },
        )
        .await
    }

    fn location(&self, at: &S3Location, date: NaiveDate) -> Result<S3Location, TemplateError> {
        let season = silver_processing::season_of(date);
        let date = date.format("%Y-%m-%d").to_string();
        let key = render_template(&at.key, &[("date", &date), ("season", &season)])?;
        Ok(S3Location { bucket: at.bucket.clone(), key })
    }

    /// Reads one silver object of `date`.
    async fn read<R>(
        &self,
        at: &S3Location,
        date: NaiveDate,
        parse: fn(&[u8]) -> Result<Vec<R>, SilverReadError>,
    ) -> Result<Vec<R>, StageError> {
        let location = self.location(at, date)?;
        let bytes = self.store.get(&location.bucket, &location.key).await?.ok_or_else(|| StageError::Missing {
            date,
            bucket: location.bucket.clone(),
            key: location.key.clone(),
        })?;
        parse(&bytes).map_err(|source| StageError::Read { bucket: location.bucket, key: location.key, source })
    }

    async fn read_day(&self, date: NaiveDate) -> Result<SilverDay, StageError> {
        let players = self.read(&self.player_stats, date, read_players).await?;
        let teams = self.read(&self.team_stats, date, read_teams).await?;
        Ok(SilverDay { date, players, teams })
    }

    /// The dates of the season before `date` that have a silver player_stats object.
    async fn earlier_dates(&self, date: NaiveDate) -> Result<Vec<NaiveDate>, StageError> {
        let season = silver_processing::season_of(date);
        let template = &self.player_stats.key;
        // The part of the template before `{date}`, with the season filled in, is the listing prefix.
        let before_date = template.split("{date}").next().unwrap_or_default();
        let prefix = render_template(before_date, &[("season", &season)])?;
        let keys = self.store.list(&self.player_stats.bucket, &prefix).await?;
        let mut dates: Vec<NaiveDate> = keys
            .iter()
            .filter_map(|key| match_template(template, key))
            .filter(|values| values.iter().all(|(name, value)| name != "season" || *value == season))
            .filter_map(|values| values.into_iter().find(|(name, _)| name == "date"))
            .filter_map(|(_, value)| NaiveDate::parse_from_str(value, "%Y-%m-%d").ok())
            .filter(|d| *d < date && silver_processing::season_of(*d) == season)
            .collect();
        dates.sort();
        dates.dedup();
        Ok(dates)
    }

    /// Computes the analytics of `date` and replaces its rows in both tables.
    pub async fn process_date(&self, date: NaiveDate, objects: usize) -> Result<Summary, StageError> {
        let started = Instant::now();
        let day = self.read_day(date).await?;
        let earlier_dates = self.earlier_dates(date).await?;
        let earlier: Vec<SilverDay> = futures::stream::iter(earlier_dates.iter().map(|d| self.read_day(*d)))
            .buffered(CONCURRENT_GETS)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let read_ms = started.elapsed();
        let analytics = compute(&day, &earlier)?;
        let players = self.sink.replace_date(PLAYER_ANALYTICS, date, &analytics.players).await?;
        let teams = self.sink.replace_date(TEAM_ANALYTICS, date, &analytics.teams).await?;
        let summary = Summary {
            date,
            objects,
            earlier_dates: earlier.len(),
            players: analytics.players.len(),
            teams: analytics.teams.len(),
            commits: vec![players, teams],
        };
        let mut line = self
            .log
            .info("date processed")
            .date(&date.to_string())
            .count("objects", objects as u64)
            .count("earlier_dates", summary.earlier_dates as u64)
            .count("players", summary.players as u64)
            .count("teams", summary.teams as u64)
            .field("read_ms", u64::try_from(read_ms.as_millis()).unwrap_or(u64::MAX))
            .duration(started.elapsed());
        for commit in &summary.commits {
            line = line.field(
                &commit.table,
                serde_json::json!({
                    "snapshot_id": commit.snapshot_id,
                    "added_records": commit.added_records,
                    "removed_records": commit.removed_records,
                    "total_records": commit.total_records,
                    "attempts": commit.attempts,
                }),
            );
        }
        line.emit();
        Ok(summary)
    }
}
