//! The stage: SQS batch of S3 events -> GET bronze -> transform -> PUT silver Parquet (+ quarantine).

use std::time::Instant;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::NaiveDate;
use pipewright_stage::event::{BatchError, ObjectEvent, process_s3_batch};
use pipewright_stage::log::Logger;
use pipewright_stage::{EnvError, Input, S3Location, StageEnv, TemplateError, key_field, render_template};
use serde::Serialize;

use crate::parquet_out::{ParquetWriteError, players_parquet, teams_parquet};
use crate::transform::{Quarantined, TransformError, Transformed, transform};

/// Output names in `PIPEWRIGHT_OUTPUTS`, as in the spec.
pub const PLAYER_STATS: &str = "player_stats";
pub const TEAM_STATS: &str = "team_stats";

pub use pipewright_stage::store::{ObjectStore, S3Store, StoreError};

/// The stage's environment is incomplete.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error("stage `{0}` has no trigger (`PIPEWRIGHT_INPUT_BUCKET`, `PIPEWRIGHT_INPUT_PATTERN`)")]
    NoInput(String),
    #[error("stage `{stage}` has no output `{output}` in `PIPEWRIGHT_OUTPUTS`")]
    MissingOutput { stage: String, output: &'static str },
    #[error("stage `{0}` has no `PIPEWRIGHT_QUARANTINE`: invalid records would have nowhere to go")]
    NoQuarantine(String),
}

/// Processing one bronze object failed; the message is reported as a batch item failure.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("s3://{bucket}/{key}: the key has no `date=YYYY-MM-DD` segment")]
    KeyDate { bucket: String, key: String },
    #[error("s3://{bucket}/{key} does not exist")]
    Missing { bucket: String, key: String },
    #[error("s3://{bucket}/{key} cannot be transformed")]
    Transform {
        bucket: String,
        key: String,
        #[source]
        source: TransformError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("s3://{bucket}/{key}")]
    Write {
        bucket: String,
        key: String,
        #[source]
        source: ParquetWriteError,
    },
    #[error("s3://{bucket}/{key}: serialising the quarantine report")]
    Report {
        bucket: String,
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

/// What happened to an output object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Created,
    /// Same bytes already there (duplicate delivery): not written again, no new event downstream.
    Unchanged,
    /// Different bytes were there (the bronze document changed); the bucket keeps the old version.
    Replaced,
}

impl Written {
    fn as_str(self) -> &'static str {
        match self {
            Written::Created => "created",
            Written::Unchanged => "unchanged",
            Written::Replaced => "replaced",
        }
    }
}

/// What processing one bronze object did.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub date: NaiveDate,
    pub games: usize,
    pub players: usize,
    pub teams: usize,
    pub quarantined: usize,
    /// `(s3 location, what happened)` for every object written or checked.
    pub outputs: Vec<(S3Location, Written)>,
}

#[derive(Serialize)]
struct QuarantineReport<'a> {
    stage: &'a str,
    source: String,
    date: String,
    games: usize,
    quarantined: &'a [Quarantined],
}

/// The silver-processing stage.
pub struct Stage<S> {
    store: S,
    stage: String,
    input: Input,
    player_stats: S3Location,
    team_stats: S3Location,
    quarantine: S3Location,
    log: Logger,
}

impl<S: ObjectStore> Stage<S> {
    pub fn new(env: &StageEnv, store: S, log: Logger) -> Result<Self, ConfigError> {
        let stage = env.stage.clone();
        let output = |output: &'static str| {
            env.output(output).cloned().ok_or(ConfigError::MissingOutput { stage: stage.clone(), output })
        };
        Ok(Self {
            input: env.input.clone().ok_or_else(|| ConfigError::NoInput(stage.clone()))?,
            player_stats: output(PLAYER_STATS)?,
            team_stats: output(TEAM_STATS)?,
            quarantine: env.quarantine.clone().ok_or_else(|| ConfigError::NoQuarantine(stage.clone()))?,
            store,
            stage,
            log,
        })
    }

    /// Handles one SQS batch; failed messages are in `batch_item_failures`.
    pub async fn handle(&self, event: &SqsEvent) -> Result<SqsBatchResponse, BatchError> {
        process_s3_batch(event, &self.input, self.store.object_limit(), &self.log, |object| async move {
            self.process(&object).await.map(|_| ())
        })
        .await
    }

    /// GET one bronze object, transform it, write the silver objects (and the quarantine report).
    pub async fn process(&self, object: &ObjectEvent) -> Result<Summary, StageError> {
        let started = Instant::now();
        let (bucket, key) = (object.bucket.as_str(), object.key.as_str());
        let key_date = key_field(key, "date")
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or_else(|| StageError::KeyDate { bucket: bucket.into(), key: key.into() })?;
        let bytes = self
            .store
            .get(bucket, key)
            .await?
            .ok_or_else(|| StageError::Missing { bucket: bucket.into(), key: key.into() })?;
        let t = transform(&bytes, key_date).map_err(|source| StageError::Transform {
            bucket: bucket.into(),
            key: key.into(),
            source,
        })?;
        let date = t.date.format("%Y-%m-%d").to_string();
        let values = [("date", date.as_str()), ("season", t.season.as_str())];
        let players_at = S3Location {
            bucket: self.player_stats.bucket.clone(),
            key: render_template(&self.player_stats.key, &values)?,
        };
        let teams_at =
            S3Location { bucket: self.team_stats.bucket.clone(), key: render_template(&self.team_stats.key, &values)? };
        let write_err = |at: &S3Location| {
            let at = at.clone();
            move |source| StageError::Write { bucket: at.bucket, key: at.key, source }
        };
        let players = players_parquet(&t.players).map_err(write_err(&players_at))?;
        let teams = teams_parquet(&t.teams).map_err(write_err(&teams_at))?;
        let mut outputs = Vec::new();
        if !t.quarantined.is_empty() {
            let at = self.quarantine_location(&date);
            let body = self.quarantine_report(bucket, key, &t).map_err(|source| StageError::Report {
                bucket: at.bucket.clone(),
                key: at.key.clone(),
                source,
            })?;
            let written = self.put_if_changed(&at, body, "application/json").await?;
            for q in &t.quarantined {
                self.log
                    .warn("record quarantined")
                    .key(key)
                    .date(&date)
                    .field("game_id", q.game_id.clone().unwrap_or_default())
                    .field("classification", serde_json::to_value(q.classification).unwrap_or_default())
                    .field("reason", q.issues.first().map(|i| i.reason.clone()).unwrap_or_default())
                    .emit();
            }
            outputs.push((at, written));
        }
        let written = self.put_if_changed(&players_at, players, "application/vnd.apache.parquet").await?;
        outputs.push((players_at, written));
        let written = self.put_if_changed(&teams_at, teams, "application/vnd.apache.parquet").await?;
        outputs.push((teams_at, written));
        let summary = Summary {
            date: t.date,
            games: t.games,
            players: t.players.len(),
            teams: t.teams.len(),
            quarantined: t.quarantined.len(),
            outputs,
        };
        let mut line = self
            .log
            .info("bronze object processed")
            .bucket(bucket)
            .key(key)
            .date(&date)
            .count("games", summary.games as u64)
            .count("players", summary.players as u64)
            .count("teams", summary.teams as u64)
            .count("quarantined", summary.quarantined as u64)
            .duration(started.elapsed());
        for (at, written) in &summary.outputs {
            line = line.field(&at.to_string(), written.as_str());
        }
        line.emit();
        Ok(summary)
    }

    fn quarantine_location(&self, date: &str) -> S3Location {
        let prefix = &self.quarantine.key;
        let sep = if prefix.is_empty() || prefix.ends_with('/') { "" } else { "/" };
        S3Location { bucket: self.quarantine.bucket.clone(), key: format!("{prefix}{sep}date={date}/reasons.json") }
    }

    fn quarantine_report(&self, bucket: &str, key: &str, t: &Transformed) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec_pretty(&QuarantineReport {
            stage: &self.stage,
            source: format!("s3://{bucket}/{key}"),
            date: t.date.format("%Y-%m-%d").to_string(),
            games: t.games,
            quarantined: &t.quarantined,
        })
    }

    /// Writes `body` unless the object already holds exactly these bytes: a duplicate delivery
    /// writes nothing and so fires no new event downstream.
    async fn put_if_changed(&self, at: &S3Location, body: Vec<u8>, content_type: &str) -> Result<Written, StoreError> {
        let written = match self.store.get(&at.bucket, &at.key).await? {
            Some(existing) if existing == body => return Ok(Written::Unchanged),
            Some(_) => Written::Replaced,
            None => Written::Created,
        };
        self.store.put(&at.bucket, &at.key, body, content_type).await?;
        Ok(written)
    }
}
