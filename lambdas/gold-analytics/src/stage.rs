//! The stage: SQS batch of S3 events for silver objects -> coalesced by date -> that date's silver
//! player and team objects (plus the season's earlier dates) -> analytics -> one Iceberg commit per
//! table replacing the date's rows.

use std::future::Future;
use std::time::Instant;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::NaiveDate;
use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use pipewright_common::event::{BatchError, ObjectEvent, process_s3_batch_coalesced};
use pipewright_common::log::Logger;
use pipewright_common::store::{Condition, Written};
use pipewright_common::{
    EnvError, Input, S3Location, StageEnv, StageInputs, TemplateError, glob_match, match_template, render_template,
};

use crate::season::{DateEntry, SeasonState, date_key};
use crate::silver::{SilverReadError, read_players, read_teams};
use crate::table::{CommitSummary, GoldRow, GoldTables, PLAYER_ANALYTICS, TEAM_ANALYTICS, TableError};
use crate::{Analytics, AnalyticsError, DayTotals, SilverDay, compute_with_totals};

/// Input names in `PIPEWRIGHT_INPUTS`: silver-processing's outputs.
pub const PLAYER_STATS: &str = "player_stats";
pub const TEAM_STATS: &str = "team_stats";
/// Silver objects fetched at once when reading the season.
const CONCURRENT_GETS: usize = 8;

pub use pipewright_common::store::{ObjectStore, S3Store, StoreError};

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
    #[error(
        "stage `{stage}`: the season state key `{key}` matches the trigger pattern `{pattern}` (writing it would trigger the stage)"
    )]
    StateTriggers { stage: String, key: String, pattern: String },
    #[error("stage `{stage}`: the season state key template `{template}` has no `{{season}}`")]
    StateNoSeason { stage: String, template: String },
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
    /// Earlier dates of the season in the aggregates.
    pub earlier_dates: usize,
    /// Earlier dates read from silver because the season state had no valid entry for them.
    pub refreshed_dates: usize,
    /// Whether the season state object was written.
    pub state_written: bool,
    pub players: usize,
    pub teams: usize,
    pub commits: Vec<CommitSummary>,
}

/// The analytics of a date, before they are committed, and how the season context was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct Computed {
    pub analytics: Analytics,
    pub earlier_dates: usize,
    pub refreshed_dates: usize,
    pub state_written: bool,
}

/// Output name (in `PIPEWRIGHT_OUTPUTS`) of the season state object, if it is not at the default
/// location [`DEFAULT_STATE_KEY`] of the trigger bucket.
pub const SEASON_STATE: &str = "season_state";
/// Default key of the season state object in the trigger (silver) bucket; `{stage}` is the stage name.
pub const DEFAULT_STATE_KEY: &str = "state/{stage}/season={season}/season_totals.json";
/// Conditional writes of the season state before giving up (the state is then left as it is).
const STATE_ATTEMPTS: usize = 5;

/// The gold-analytics stage.
pub struct Stage<S, T> {
    store: S,
    sink: T,
    input: Input,
    player_stats: S3Location,
    team_stats: S3Location,
    state: S3Location,
    /// The last season state this process read or wrote, with its ETag (a warm Lambda container
    /// reuses it instead of GETting it again; see [`Stage::compute_date`]).
    cached: std::sync::Mutex<Option<(SeasonState, String)>>,
    log: Logger,
}

/// Applies `changes` (date -> new entry, or `None`: removed) to `state`; whether anything changed.
fn apply(state: &mut SeasonState, changes: &BTreeMap<String, Option<DateEntry>>) -> bool {
    let mut changed = false;
    for (date, entry) in changes {
        match entry {
            Some(entry) if state.dates.get(date) != Some(entry) => {
                state.dates.insert(date.clone(), entry.clone());
                changed = true;
            }
            None => changed |= state.dates.remove(date).is_some(),
            Some(_) => {}
        }
    }
    changed
}

/// A date's silver object as read: rows and ETag.
struct Read<R> {
    rows: Vec<R>,
    etag: String,
}

/// The ETags of a date's two silver objects, as listed.
#[derive(Default)]
struct ListedDate {
    player_stats: Option<String>,
    team_stats: Option<String>,
}

impl<S: ObjectStore, T: AnalyticsSink> Stage<S, T> {
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
        let trigger = env.input.clone().ok_or_else(|| ConfigError::NoInput(stage.clone()))?;
        let state = match env.output(SEASON_STATE) {
            Some(at) => at.clone(),
            None => S3Location { bucket: trigger.bucket.clone(), key: DEFAULT_STATE_KEY.replace("{stage}", &stage) },
        };
        if !state.key.contains("{season}") {
            return Err(ConfigError::StateNoSeason { stage, template: state.key });
        }
        let example = state.key.replace("{season}", "2024-25");
        if state.bucket == trigger.bucket && glob_match(&trigger.pattern, &example) {
            return Err(ConfigError::StateTriggers { stage, key: example, pattern: trigger.pattern });
        }
        Ok(Self {
            input: trigger,
            player_stats: input(PLAYER_STATS)?,
            team_stats: input(TEAM_STATS)?,
            state,
            cached: std::sync::Mutex::new(None),
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

    /// Where the season state of `season` is.
    pub fn state_location(&self, season: &str) -> Result<S3Location, TemplateError> {
        let key = render_template(&self.state.key, &[("season", season)])?;
        Ok(S3Location { bucket: self.state.bucket.clone(), key })
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
    ) -> Result<Read<R>, StageError> {
        let location = self.location(at, date)?;
        let object = self
            .store
            .get_object(&location.bucket, &location.key)
            .await?
            .ok_or_else(|| StageError::Missing { date, bucket: location.bucket.clone(), key: location.key.clone() })?;
        let rows = parse(&object.body).map_err(|source| StageError::Read {
            bucket: location.bucket,
            key: location.key,
            source,
        })?;
        Ok(Read { rows, etag: object.etag.unwrap_or_default() })
    }

    /// Both silver objects of `date`, with their ETags.
    async fn read_day(&self, date: NaiveDate) -> Result<(SilverDay, String, String), StageError> {
        let (players, teams) = futures::try_join!(
            self.read(&self.player_stats, date, read_players),
            self.read(&self.team_stats, date, read_teams)
        )?;
        Ok((SilverDay { date, players: players.rows, teams: teams.rows }, players.etag, teams.etag))
    }

    /// The dates of `season` that have a silver object of `at`, with the object's ETag.
    async fn list_season(&self, at: &S3Location, season: &str) -> Result<Vec<(NaiveDate, String)>, StageError> {
        // The part of the template before `{date}`, with the season filled in, is the listing prefix.
        let before_date = at.key.split("{date}").next().unwrap_or_default();
        let prefix = render_template(before_date, &[("season", season)])?;
        let listed = self.store.list(&at.bucket, &prefix).await?;
        Ok(listed
            .into_iter()
            .filter_map(|object| {
                let values = match_template(&at.key, &object.key)?;
                if values.iter().any(|(name, value)| name == "season" && *value != season) {
                    return None;
                }
                let (_, value) = values.into_iter().find(|(name, _)| name == "date")?;
                let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
                (silver_processing::season_of(date) == season).then(|| (date, object.etag.unwrap_or_default()))
            })
            .collect())
    }

    /// The season's silver dates with both objects' ETags.
    async fn season_listing(&self, season: &str) -> Result<BTreeMap<NaiveDate, ListedDate>, StageError> {
        let (players, teams) = futures::try_join!(
            self.list_season(&self.player_stats, season),
            self.list_season(&self.team_stats, season)
        )?;
        let mut dates: BTreeMap<NaiveDate, ListedDate> = BTreeMap::new();
        for (date, etag) in players {
            dates.entry(date).or_default().player_stats = Some(etag);
        }
        for (date, etag) in teams {
            dates.entry(date).or_default().team_stats = Some(etag);
        }
        Ok(dates)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Option<(SeasonState, String)>> {
        self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The season state and its ETag: the one this process last read or wrote if it is of `season`
    /// (it may be stale: entries are validated against silver anyway, and a stale ETag makes the
    /// conditional write fail and re-read), else the stored one. An unusable stored state is logged
    /// and replaced by an empty one (it is a cache of silver: rebuilt, never trusted).
    async fn load_state(&self, season: &str) -> Result<(SeasonState, Option<String>), StageError> {
        let cached = self.cache().take();
        match cached {
            // Taken out: put back (updated) when this invocation has written or validated it.
            Some((state, etag)) if state.season == season => Ok((state, Some(etag))),
            _ => self.read_state(season).await,
        }
    }

    /// The stored season state and its ETag (see [`Self::load_state`]).
    async fn read_state(&self, season: &str) -> Result<(SeasonState, Option<String>), StageError> {
        let at = self.state_location(season)?;
        let Some(object) = self.store.get_object(&at.bucket, &at.key).await? else {
            return Ok((SeasonState::new(season), None));
        };
        match SeasonState::parse(&object.body, season) {
            Ok(state) => Ok((state, object.etag)),
            Err(e) => {
                self.log
                    .warn("season state unusable, rebuilding it from silver")
                    .bucket(&at.bucket)
                    .key(&at.key)
                    .error(&e)
                    .emit();
                Ok((SeasonState::new(season), object.etag))
            }
        }
    }

    /// Writes `changes` (date -> new entry, or `None`: removed) onto the stored state, conditionally
    /// on the ETag it was read with; on a conflict (another invocation wrote it meanwhile), re-reads it
    /// and applies the changes again. Returns whether the state was written.
    async fn save_state(
        &self,
        season: &str,
        mut state: SeasonState,
        mut etag: Option<String>,
        changes: &BTreeMap<String, Option<DateEntry>>,
        mut changed: bool,
    ) -> Result<bool, StageError> {
        let at = self.state_location(season)?;
        for attempt in 1..=STATE_ATTEMPTS {
            if attempt > 1 {
                (state, etag) = self.read_state(season).await?;
                changed = apply(&mut state, changes);
            }
            let Some(tag) = etag.as_ref().filter(|_| changed).map(|t| Condition::IfMatch(t.clone())).or_else(|| {
                // Nothing changed in a stored state: nothing to write.
                etag.is_none().then_some(Condition::IfAbsent)
            }) else {
                *self.cache() = etag.map(|etag| (state, etag));
                return Ok(false);
            };
            match self.store.put_if(&at.bucket, &at.key, state.to_bytes(), "application/json", tag).await? {
                Written::Written(new_etag) => {
                    *self.cache() = new_etag.map(|etag| (state, etag));
                    return Ok(true);
                }
                Written::PreconditionFailed => *self.cache() = None,
            }
        }
        // The analytics do not depend on the state (it is validated against silver on every use):
        // the next invocation recomputes what this one could not store.
        self.log
            .warn("season state not written: concurrent writers won every attempt")
            .bucket(&at.bucket)
            .key(&at.key)
            .count("attempts", STATE_ATTEMPTS as u64)
            .emit();
        Ok(false)
    }

    /// Logs a failed read or write of the season state at `ERROR` (the date itself succeeds: the
    /// state is a cache of silver, but a role without access to it makes every date read the season).
    fn state_error(&self, message: &str, season: &str, error: &StageError) {
        let mut line = self.log.error(message).error(error);
        if let Ok(at) = self.state_location(season) {
            line = line.bucket(&at.bucket).key(&at.key);
        }
        line.emit();
    }

    /// Computes the analytics of `date` without committing them: the date's silver objects, the season
    /// state validated against the season's silver listing (earlier dates without a valid entry are
    /// read from silver, 8 at a time), the updated state written back.
    pub async fn compute_date(&self, date: NaiveDate) -> Result<Computed, StageError> {
        let season = silver_processing::season_of(date);
        let ((day, player_etag, team_etag), listing, loaded) =
            futures::try_join!(self.read_day(date), self.season_listing(&season), async {
                Ok::<_, StageError>(self.load_state(&season).await)
            })?;
        // The state is a cache: when it cannot be read (e.g. the role may not read it), the season is
        // read from silver and the state is left alone; the analytics are the same.
        let (mut state, etag, usable) = match loaded {
            Ok((state, etag)) => (state, etag, true),
            Err(e) => {
                self.state_error("season state not read, reading the season from silver", &season, &e);
                (SeasonState::new(&season), None, false)
            }
        };

        let mut changes: BTreeMap<String, Option<DateEntry>> = BTreeMap::new();
        // Entries of dates that silver no longer has are dropped.
        for key in state.dates.keys() {
            let listed = NaiveDate::parse_from_str(key, "%Y-%m-%d").ok().and_then(|d| listing.get(&d));
            if listed.is_none() {
                changes.insert(key.clone(), None);
            }
        }
        // Earlier dates whose entry is missing or was computed from other objects are read again.
        let stale: Vec<NaiveDate> = listing
            .range(..date)
            .filter(|(d, listed)| {
                let valid = match (state.dates.get(&date_key(**d)), &listed.player_stats, &listed.team_stats) {
                    (Some(e), Some(p), Some(t)) => !p.is_empty() && *p == e.player_stats && *t == e.team_stats,
                    _ => false,
                };
                !valid
            })
            .map(|(d, _)| *d)
            .collect();
        let season_ref = season.as_str();
        let refreshed: Vec<(NaiveDate, DateEntry)> = futures::stream::iter(stale.iter().map(|d| async move {
            let (silver, player_stats, team_stats) = self.read_day(*d).await?;
            let totals = DayTotals::of(season_ref, &silver)?;
            Ok::<_, StageError>((*d, DateEntry { player_stats, team_stats, totals }))
        }))
        .buffered(CONCURRENT_GETS)
        .try_collect()
        .await?;
        for (d, entry) in refreshed {
            changes.insert(date_key(d), Some(entry));
        }
        let own = DateEntry { player_stats: player_etag, team_stats: team_etag, totals: DayTotals::of(&season, &day)? };
        changes.insert(date_key(date), Some(own));
        let changed = apply(&mut state, &changes);

        let analytics = compute_with_totals(&day, state.before(date))?;
        let earlier_dates = state.before(date).count();
        let state_written = if !usable {
            false
        } else {
            match self.save_state(&season, state, etag, &changes, changed).await {
                Ok(written) => written,
                Err(e) => {
                    self.state_error("season state not written (the analytics do not depend on it)", &season, &e);
                    false
                }
            }
        };
        Ok(Computed { analytics, earlier_dates, refreshed_dates: stale.len(), state_written })
    }

    /// Computes the analytics of `date` and replaces its rows in both tables.
    pub async fn process_date(&self, date: NaiveDate, objects: usize) -> Result<Summary, StageError> {
        let started = Instant::now();
        let computed = self.compute_date(date).await?;
        let read_ms = started.elapsed();
        let analytics = &computed.analytics;
        let players = self.sink.replace_date(PLAYER_ANALYTICS, date, &analytics.players).await?;
        let teams = self.sink.replace_date(TEAM_ANALYTICS, date, &analytics.teams).await?;
        let summary = Summary {
            date,
            objects,
            earlier_dates: computed.earlier_dates,
            refreshed_dates: computed.refreshed_dates,
            state_written: computed.state_written,
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
            .count("refreshed_dates", summary.refreshed_dates as u64)
            .count("players", summary.players as u64)
            .count("teams", summary.teams as u64)
            .field("state_written", summary.state_written)
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
