//! One date: find its games, fetch every box score, write the date's bronze object once.

use std::time::Instant;

use chrono::NaiveDate;
use pipewright_stage::log::Logger;
use pipewright_stage::{EnvError, Output, S3Location, StageEnv, TemplateError, render_template};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::nba::{FetchError, Fetched, NbaClient};
use crate::response::{check_box_score, parse_game_finder};
use crate::store::{ObjectStore, StoreError};

/// Name of the stage in the spec.
pub const STAGE: &str = "bronze-ingestion";
/// The output name in `PIPEWRIGHT_OUTPUTS`, as in the spec.
pub const BOX_SCORES: &str = "box_scores";
/// The key template of [`BOX_SCORES`] in the spec (`specs/hoopstat-haus.yaml`).
pub const BOX_SCORES_KEY: &str = "raw/box_scores/date={date}/data.json";
/// The bronze bucket of the hoopstat-haus spec (`<project>-<bucket>`).
pub const DEFAULT_BUCKET: &str = "hoopstat-haus-bronze";

/// The stage's contract as pipewright renders it from the spec, with the bronze bucket `bucket`:
/// output `box_scores` and the default quarantine `quarantine/bronze-ingestion/` in the same bucket.
pub fn default_contract(bucket: &str) -> StageEnv {
    StageEnv {
        stage: STAGE.to_string(),
        input: None,
        outputs: vec![Output {
            name: BOX_SCORES.to_string(),
            location: S3Location { bucket: bucket.to_string(), key: BOX_SCORES_KEY.to_string() },
        }],
        quarantine: Some(S3Location { bucket: bucket.to_string(), key: format!("quarantine/{STAGE}/") }),
        tables: None,
    }
}

/// The stage's environment is incomplete.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error("stage `{stage}` has no output `{BOX_SCORES}` in `PIPEWRIGHT_OUTPUTS`")]
    MissingOutput { stage: String },
    #[error("stage `{0}` has no `PIPEWRIGHT_QUARANTINE`: unusable responses would have nowhere to go")]
    NoQuarantine(String),
}

/// Ingesting one date failed; nothing was written for it (quarantine reports aside).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{date}: finding the games")]
    Finder {
        date: NaiveDate,
        #[source]
        source: FetchError,
    },
    #[error("{date}: the leaguegamefinder response of {url} is unusable: {reason}")]
    FinderResponse { date: NaiveDate, url: String, reason: String },
    #[error("{date}: box score of game {game_id}")]
    BoxScore {
        date: NaiveDate,
        game_id: String,
        #[source]
        source: FetchError,
    },
    #[error("{date}: none of the {games} games has a usable box score (see the quarantine); nothing written")]
    NothingUsable { date: NaiveDate, games: usize },
    #[error("{date}: key of output `{BOX_SCORES}`")]
    Template {
        date: NaiveDate,
        #[source]
        source: TemplateError,
    },
    #[error("{date}: serialising s3://{bucket}/{key}")]
    Serialise {
        date: NaiveDate,
        bucket: String,
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{date}: writing")]
    Store {
        date: NaiveDate,
        #[source]
        source: StoreError,
    },
}

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Written {
    Created,
    /// The same bytes were there already: not written again, so no new event for silver.
    Unchanged,
    /// Different bytes were there (stat corrections, a re-run after a quarantine); the bucket is versioned.
    Replaced,
}

/// A game whose box score was unusable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantinedGame {
    pub game_id: String,
    pub reason: String,
    pub location: String,
}

/// What ingesting one date did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DaySummary {
    pub date: NaiveDate,
    /// `s3://bucket/key` of the date's object.
    pub location: String,
    pub written: Written,
    /// Rows of `leaguegamefinder` (one per team per game).
    pub finder_rows: usize,
    /// Distinct games found.
    pub games_found: usize,
    /// Games in the written object.
    pub games_written: usize,
    pub quarantined: Vec<QuarantinedGame>,
    pub requests: u32,
}

/// The bronze document: `{"date": "YYYY-MM-DD", "games": [<response>, ...]}`, responses verbatim.
#[derive(Serialize)]
struct Document<'a> {
    date: String,
    games: &'a [Box<RawValue>],
}

#[derive(Serialize)]
struct QuarantineReport<'a> {
    stage: &'a str,
    date: String,
    game_id: &'a str,
    url: &'a str,
    reason: &'a str,
    /// The response as received (lossy UTF-8: it may not be JSON at all).
    response: String,
}

/// The bronze-ingestion stage.
pub struct Ingest<S> {
    client: NbaClient,
    store: S,
    stage: String,
    box_scores: S3Location,
    quarantine: S3Location,
    log: Logger,
}

impl<S: ObjectStore> Ingest<S> {
    pub fn new(env: &StageEnv, client: NbaClient, store: S, log: Logger) -> Result<Self, ConfigError> {
        let stage = env.stage.clone();
        Ok(Self {
            box_scores: env
                .output(BOX_SCORES)
                .cloned()
                .ok_or_else(|| ConfigError::MissingOutput { stage: stage.clone() })?,
            quarantine: env.quarantine.clone().ok_or_else(|| ConfigError::NoQuarantine(stage.clone()))?,
            client,
            store,
            stage,
            log,
        })
    }

    /// Where the object of `date` goes.
    pub fn location(&self, date: NaiveDate) -> Result<S3Location, IngestError> {
        let day = date.format("%Y-%m-%d").to_string();
        let key = render_template(&self.box_scores.key, &[("date", &day)])
            .map_err(|source| IngestError::Template { date, source })?;
        Ok(S3Location { bucket: self.box_scores.bucket.clone(), key })
    }

    fn quarantine_location(&self, date: NaiveDate, game_id: &str) -> S3Location {
        let prefix = &self.quarantine.key;
        let sep = if prefix.is_empty() || prefix.ends_with('/') { "" } else { "/" };
        S3Location {
            bucket: self.quarantine.bucket.clone(),
            key: format!("{prefix}{sep}date={}/{game_id}.json", date.format("%Y-%m-%d")),
        }
    }

    /// Finds the games of `date`, fetches each box score, and writes the date's object once, after
    /// all games are in. Unusable box scores are quarantined and left out; a request that still
    /// fails after its retries fails the date, and nothing is written for it.
    pub async fn day(&self, date: NaiveDate) -> Result<DaySummary, IngestError> {
        let started = Instant::now();
        let day = date.format("%Y-%m-%d").to_string();
        let at = self.location(date)?;
        let finder_url = self.client.game_finder_url(date);
        let fetched = self.client.get(finder_url).await.map_err(|source| IngestError::Finder { date, source })?;
        let mut requests = fetched.attempts;
        let found = parse_game_finder(&fetched.body, date).map_err(|reason| IngestError::FinderResponse {
            date,
            url: fetched.url.clone(),
            reason,
        })?;
        let mut line = self
            .log
            .info("games found")
            .date(&day)
            .count("rows", found.rows as u64)
            .count("games", found.game_ids.len() as u64);
        if found.other_dates > 0 {
            line = line.count("rows_of_other_dates", found.other_dates as u64);
        }
        line.emit();

        let (games, unusable, box_requests) = self.box_scores(date, &found.game_ids).await?;
        requests += box_requests;
        let quarantined = self.quarantine(date, &day, unusable).await?;

        // Games exist but none is usable: an empty document would claim a day without games.
        if games.is_empty() && !found.game_ids.is_empty() {
            return Err(IngestError::NothingUsable { date, games: found.game_ids.len() });
        }
        let document = Document { date: day.clone(), games: &games };
        let body = serde_json::to_vec(&document).map_err(|source| IngestError::Serialise {
            date,
            bucket: at.bucket.clone(),
            key: at.key.clone(),
            source,
        })?;
        let written = self.put_if_changed(date, &at, body).await?;
        let summary = DaySummary {
            date,
            location: at.to_string(),
            written,
            finder_rows: found.rows,
            games_found: found.game_ids.len(),
            games_written: games.len(),
            quarantined,
            requests,
        };
        self.log
            .info("date ingested")
            .date(&day)
            .bucket(&at.bucket)
            .key(&at.key)
            .field("written", serde_json::to_value(written).unwrap_or_default())
            .count("games", summary.games_written as u64)
            .count("quarantined", summary.quarantined.len() as u64)
            .count("requests", u64::from(requests))
            .duration(started.elapsed())
            .emit();
        Ok(summary)
    }

    /// The box scores of the found games: the usable ones, the unusable ones with why (refused by the
    /// API, or not a box score), and the requests made.
    async fn box_scores(
        &self,
        date: NaiveDate,
        game_ids: &[String],
    ) -> Result<(Vec<Box<RawValue>>, Vec<(String, String, Fetched)>, u32), IngestError> {
        let mut requests = 0;
        let mut games = Vec::with_capacity(game_ids.len());
        let mut unusable = Vec::new();
        for game_id in game_ids {
            let fetched = match self.client.get(self.client.box_score_url(game_id)).await {
                Ok(fetched) => fetched,
                // A game the API refuses (400, 404: say, a postponed game) is unusable; the rest of
                // the day goes on. A refusal of the client itself (401, 403, 407) fails the date.
                Err(FetchError::Rejected { url, status, body }) if !matches!(status, 401 | 403 | 407) => {
                    requests += 1;
                    unusable.push((game_id.clone(), format!("HTTP {status}"), Fetched { url, body, attempts: 1 }));
                    continue;
                }
                Err(source) => return Err(IngestError::BoxScore { date, game_id: game_id.clone(), source }),
            };
            requests += fetched.attempts;
            match check_box_score(&fetched.body, game_id) {
                Ok(raw) => games.push(raw),
                Err(reason) => unusable.push((game_id.clone(), reason, fetched)),
            }
        }
        Ok((games, unusable, requests))
    }

    /// Writes a quarantine report of each unusable game (the response as received, and why).
    async fn quarantine(
        &self,
        date: NaiveDate,
        day: &str,
        unusable: Vec<(String, String, Fetched)>,
    ) -> Result<Vec<QuarantinedGame>, IngestError> {
        let mut quarantined = Vec::new();
        for (game_id, reason, fetched) in unusable {
            let q = self.quarantine_location(date, &game_id);
            let report = QuarantineReport {
                stage: &self.stage,
                date: day.to_string(),
                game_id: &game_id,
                url: &fetched.url,
                reason: &reason,
                response: String::from_utf8_lossy(&fetched.body).into_owned(),
            };
            let body = serde_json::to_vec_pretty(&report).map_err(|source| IngestError::Serialise {
                date,
                bucket: q.bucket.clone(),
                key: q.key.clone(),
                source,
            })?;
            self.put_if_changed(date, &q, body).await?;
            self.log
                .warn("game quarantined")
                .date(day)
                .bucket(&q.bucket)
                .key(&q.key)
                .field("game_id", game_id.as_str())
                .field("reason", reason.as_str())
                .emit();
            quarantined.push(QuarantinedGame { game_id, reason, location: q.to_string() });
        }
        Ok(quarantined)
    }

    /// Writes `games` generated games of `date` (the deterministic generator of `hoopstat-fixtures`,
    /// `seed`) as the date's object, where [`Ingest::day`] writes the fetched ones: the fixtures
    /// mode, for runs that cannot reach the stats API (`pipewright run-local`).
    pub async fn generated_day(&self, date: NaiveDate, games: usize, seed: u64) -> Result<DaySummary, IngestError> {
        let started = Instant::now();
        let at = self.location(date)?;
        let day = hoopstat_fixtures::Generator::new(seed).day(date, games);
        let written = self.put_if_changed(date, &at, day.to_bronze()).await?;
        let summary = DaySummary {
            date,
            location: at.to_string(),
            written,
            finder_rows: 2 * day.games.len(),
            games_found: day.games.len(),
            games_written: day.games.len(),
            quarantined: Vec::new(),
            requests: 0,
        };
        self.log
            .info("date generated")
            .date(&date.format("%Y-%m-%d").to_string())
            .bucket(&at.bucket)
            .key(&at.key)
            .count("games", summary.games_written as u64)
            .field("seed", seed)
            .duration(started.elapsed())
            .emit();
        Ok(summary)
    }

    /// Writes `body` unless the object holds exactly these bytes already.
    async fn put_if_changed(&self, date: NaiveDate, at: &S3Location, body: Vec<u8>) -> Result<Written, IngestError> {
        let store_err = |source| IngestError::Store { date, source };
        let written = match self.store.get(&at.bucket, &at.key).await.map_err(store_err)? {
            Some(existing) if existing == body => return Ok(Written::Unchanged),
            Some(_) => Written::Replaced,
            None => Written::Created,
        };
        self.store.put(&at.bucket, &at.key, body, "application/json").await.map_err(store_err)?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_default_contract_is_the_specs() {
        let env = default_contract(DEFAULT_BUCKET);
        let vars: HashMap<&str, String> = env.to_vars().into_iter().collect();
        assert_eq!(
            vars.get(pipewright_stage::OUTPUTS).map(String::as_str),
            Some("box_scores=s3://hoopstat-haus-bronze/raw/box_scores/date={date}/data.json")
        );
        assert_eq!(
            vars.get(pipewright_stage::QUARANTINE).map(String::as_str),
            Some("s3://hoopstat-haus-bronze/quarantine/bronze-ingestion/")
        );
        assert_eq!(StageEnv::from_lookup(|k| vars.get(k).cloned()).expect("parses"), env);
        // The spec declares the same stage and key.
        let spec = include_str!("../../../specs/hoopstat-haus.yaml");
        let stage = spec.split("\n  bronze-ingestion:").nth(1).expect("stage in the spec");
        let stage = stage.split("\n  silver-processing:").next().unwrap_or(stage);
        assert!(stage.contains(&format!("name: {BOX_SCORES}")), "{stage}");
        assert!(stage.contains(&format!("key: {BOX_SCORES_KEY}")), "{stage}");
        assert!(stage.contains("bucket: bronze"), "{stage}");
    }
}
