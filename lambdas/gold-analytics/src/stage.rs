//! The stage: SQS batch of S3 events for silver objects -> coalesced by date -> that date's silver
//! player and team objects (plus the season's earlier dates) -> analytics -> one Iceberg commit per
//! table replacing the date's rows.

use std::future::Future;
use std::time::Instant;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::NaiveDate;
use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use pipewright_stage::event::{BatchError, ObjectEvent, process_s3_batch_coalesced};
use pipewright_stage::log::Logger;
use pipewright_stage::store::{Condition, Written};
use pipewright_stage::{
    EnvError, Input, S3Location, StageEnv, StageInputs, TemplateError, glob_match, match_template, render_template,
};

use crate::season::{DateEntry, SeasonState, date_key};
use crate::silver::{Projection, SilverReadError, read_players_with, read_teams_with};
use crate::table::{
    COMMIT_BACKOFF, CommitSummary, GoldRow, GoldTables, MAX_ATTEMPTS, PLAYER_ANALYTICS, Replaced, TEAM_ANALYTICS,
    TableError,
};
use crate::{Analytics, AnalyticsError, DayTotals, PlayerAnalytics, SilverDay, TeamAnalytics, compute_with_totals};

/// Input names in `PIPEWRIGHT_INPUTS`: silver-processing's outputs.
pub const PLAYER_STATS: &str = "player_stats";
pub const TEAM_STATS: &str = "team_stats";
/// Silver objects fetched at once when reading the season.
const CONCURRENT_GETS: usize = 8;

pub use pipewright_stage::store::{ObjectStore, S3Store, StoreError};

/// Where the analytics go (the S3 Tables, or memory in tests), with optimistic concurrency: a commit
/// builds on a version of the table and fails with [`Replaced::Conflict`] if another writer committed
/// since.
pub trait AnalyticsSink: Send + Sync {
    /// A version of a table, as loaded.
    type Version: Send;

    /// The current version of `table` (`date`: the first date to be replaced, for errors).
    fn version(&self, table: &str, date: NaiveDate) -> impl Future<Output = Result<Self::Version, TableError>> + Send;

    /// Replaces the rows of every date of `rows` in `table` (an empty list removes the date's rows) in one
    /// commit on `version`.
    fn replace_dates<R: GoldRow + Send + Sync>(
        &self,
        table: &str,
        version: Self::Version,
        rows: &BTreeMap<NaiveDate, Vec<R>>,
    ) -> impl Future<Output = Result<Replaced, TableError>> + Send;
}

impl AnalyticsSink for GoldTables {
    type Version = crate::table::Version;

    async fn version(&self, table: &str, date: NaiveDate) -> Result<Self::Version, TableError> {
        GoldTables::version(self, table, date).await
    }

    async fn replace_dates<R: GoldRow + Send + Sync>(
        &self,
        table: &str,
        version: Self::Version,
        rows: &BTreeMap<NaiveDate, Vec<R>>,
    ) -> Result<Replaced, TableError> {
        GoldTables::replace_dates(self, table, version, rows).await
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
    #[error("{date}: reading silver was cancelled (the runtime is shutting down)")]
    Cancelled { date: NaiveDate },
}

/// What processing one date did (with the later dates of its season it recomputed).
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub date: NaiveDate,
    /// The dates recomputed and replaced: the date and every later date of its season in silver.
    pub dates: Vec<NaiveDate>,
    pub objects: usize,
    /// Earlier dates of the season in the aggregates.
    pub earlier_dates: usize,
    /// Earlier dates read from silver because the season state had no valid entry for them.
    pub refreshed_dates: usize,
    /// Whether the season state object was written (by a date processed on its own, [`Stage::process_date`];
    /// in [`Stage::handle`], the batch writes it once after its last date and this is false).
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
    /// Whether the season state object was written ([`Stage::compute_date`]; false from [`Stage::compute_in`]).
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

/// A season's state while a batch is processed: read once, updated by each date, written once.
struct PendingState {
    state: SeasonState,
    /// ETag of the stored state it was read from (`None`: none stored).
    etag: Option<String>,
    /// Whether it could be read: an unreadable state is neither used for more than this batch nor written.
    usable: bool,
    /// Every change of the batch (date -> entry, `None`: removed), applied again on a write conflict.
    changes: BTreeMap<String, Option<DateEntry>>,
    /// Whether `state` differs from the stored one.
    changed: bool,
    /// Dates of the batch computed on this state.
    dates: usize,
}

/// What the dates of one SQS batch share: per season, the silver listing (one LIST per season and
/// batch) and the season state (read once, written once by [`Stage::finish_batch`]). A replay of a
/// season arrives as batches of several dates, which then share a LIST and a state write.
#[derive(Default)]
pub struct Batch {
    listings: std::sync::Mutex<BTreeMap<String, std::sync::Arc<BTreeMap<NaiveDate, ListedDate>>>>,
    states: std::sync::Mutex<BTreeMap<String, PendingState>>,
}

impl Batch {
    fn listing(&self, season: &str) -> Option<std::sync::Arc<BTreeMap<NaiveDate, ListedDate>>> {
        self.listings.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(season).cloned()
    }

    fn take_state(&self, season: &str) -> Option<PendingState> {
        self.states.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(season)
    }

    fn put_state(&self, season: &str, pending: PendingState) {
        self.states.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(season.to_string(), pending);
    }
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

    /// Where the stage commits.
    pub fn sink(&self) -> &T {
        &self.sink
    }

    /// Where the stage reads silver.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Handles one SQS batch: records coalesced by season; per season, the earliest date of the batch
    /// and every later date of the season in silver are recomputed and replaced in one commit per table
    /// ([`Self::process_from`]); the messages of a season that fails are in `batch_item_failures`.
    ///
    /// The seasons share nothing; each season's state is written once after the batch (see [`Batch`]).
    pub async fn handle(&self, event: &SqsEvent) -> Result<SqsBatchResponse, BatchError> {
        let batch = Batch::default();
        let response = process_s3_batch_coalesced(
            event,
            &self.input,
            self.store.object_limit(),
            &self.log,
            |object| self.date_of(object).map(silver_processing::season_of),
            |_season, objects| {
                let batch = &batch;
                // Every object of the group has a date (that is how it joined the group).
                let from = objects.iter().filter_map(|o| self.date_of(o)).min();
                async move {
                    match from {
                        Some(from) => self.process_from(batch, from, objects.len()).await.map(|_| ()),
                        None => Ok(()),
                    }
                }
            },
        )
        .await;
        self.finish_batch(batch).await;
        response
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
    async fn read<R: Send + 'static>(
        &self,
        at: &S3Location,
        date: NaiveDate,
        parse: fn(bytes::Bytes, Projection) -> Result<Vec<R>, SilverReadError>,
    ) -> Result<Read<R>, StageError> {
        let location = self.location(at, date)?;
        let object = self
            .store
            .get_object(&location.bucket, &location.key)
            .await?
            .ok_or_else(|| StageError::Missing { date, bucket: location.bucket.clone(), key: location.key.clone() })?;
        // Only the columns the analytics use (see `silver::Projection`). Decoded on the blocking pool: the
        // objects of a season (a back-fill) decode in parallel where the function has several vCPUs.
        let body: bytes::Bytes = object.body.into();
        let parsed = match tokio::task::spawn_blocking(move || parse(body, Projection::Analytics)).await {
            Ok(parsed) => parsed,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Only when the runtime shuts down.
            Err(_) => return Err(StageError::Cancelled { date }),
        };
        let rows = parsed.map_err(|source| StageError::Read { bucket: location.bucket, key: location.key, source })?;
        Ok(Read { rows, etag: object.etag.unwrap_or_default() })
    }

    /// Both silver objects of `date`, with their ETags.
    async fn read_day(&self, date: NaiveDate) -> Result<(SilverDay, String, String), StageError> {
        let (players, teams) = futures::try_join!(
            self.read(&self.player_stats, date, read_players_with),
            self.read(&self.team_stats, date, read_teams_with)
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
                let failures = u32::try_from(attempt - 1).unwrap_or(u32::MAX);
                tokio::time::sleep(crate::table::COMMIT_BACKOFF.delay(failures)).await;
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

    /// Computes the analytics of `date` without committing them, as a batch of its own: the date's
    /// silver objects, the season state validated against the season's silver listing (earlier dates
    /// without a valid entry are read from silver, 8 at a time), the updated state written back.
    pub async fn compute_date(&self, date: NaiveDate) -> Result<Computed, StageError> {
        let batch = Batch::default();
        let mut computed = self.compute_in(&batch, date).await?;
        computed.state_written = self.finish_batch(batch).await > 0;
        Ok(computed)
    }

    /// The season state of the batch for `season`, or the stored one (read once per batch).
    async fn pending_state(&self, batch: &Batch, season: &str) -> PendingState {
        if let Some(pending) = batch.take_state(season) {
            return pending;
        }
        // The state is a cache: when it cannot be read (e.g. the role may not read it), the season is
        // read from silver and the state is left alone; the analytics are the same.
        let (state, etag, usable) = match self.load_state(season).await {
            Ok((state, etag)) => (state, etag, true),
            Err(e) => {
                self.state_error("season state not read, reading the season from silver", season, &e);
                (SeasonState::new(season), None, false)
            }
        };
        PendingState { state, etag, usable, changes: BTreeMap::new(), changed: false, dates: 0 }
    }

    /// Computes the analytics of `date` alone within `batch`: the season listing and state of the
    /// batch (read at its first date of the season), updated in memory; [`Self::finish_batch`] writes
    /// the state. `state_written` is false here.
    pub async fn compute_in(&self, batch: &Batch, date: NaiveDate) -> Result<Computed, StageError> {
        let season = silver_processing::season_of(date);
        let listing = async {
            if let Some(listing) = batch.listing(&season) {
                return Ok(listing);
            }
            let listing = std::sync::Arc::new(self.season_listing(&season).await?);
            batch
                .listings
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(season.clone(), listing.clone());
            Ok::<_, StageError>(listing)
        };
        // The state goes back into the batch whatever happens to this date (the changes of the batch's
        // earlier dates stay in it).
        let (day, listing, mut pending) =
            futures::join!(self.read_day(date), listing, self.pending_state(batch, &season));
        let result = match (day, listing) {
            (Ok(day), Ok(listing)) => self.compute_on(&season, vec![day], &listing, &mut pending).await,
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        batch.put_state(&season, pending);
        let (mut analytics, earlier_dates, refreshed_dates) = result?;
        let analytics = analytics.pop().ok_or(StageError::Missing {
            date,
            bucket: self.player_stats.bucket.clone(),
            key: self.player_stats.key.clone(),
        })?;
        Ok(Computed { analytics, earlier_dates, refreshed_dates, state_written: false })
    }

    /// Computes `from` and every later date of its season that silver has, each with its season context,
    /// within `batch`: a fresh listing of the season, every one of those dates read from silver, the
    /// earlier dates from the season state (entries validated against the listing, stale ones read again).
    /// Returns the analytics in date order, the earlier dates and how many of them were read again.
    pub async fn compute_from(
        &self,
        batch: &Batch,
        from: NaiveDate,
    ) -> Result<(Vec<Analytics>, usize, usize), StageError> {
        let season = silver_processing::season_of(from);
        let (listing, mut pending) = futures::join!(self.season_listing(&season), self.pending_state(batch, &season));
        let result = async {
            let listing = listing?;
            // A later date with one object only is being written by silver: its own event recomputes it
            // (and every date after it) once the second object is there.
            let complete = |l: &ListedDate| l.player_stats.is_some() && l.team_stats.is_some();
            let mut dates: Vec<NaiveDate> =
                listing.range(from..).filter(|(d, l)| **d == from || complete(l)).map(|(d, _)| *d).collect();
            if dates.first() != Some(&from) {
                // Not listed: read anyway, so a missing object is the date's error.
                dates.insert(0, from);
            }
            let days: Vec<(SilverDay, String, String)> = futures::stream::iter(dates.iter().map(|d| self.read_day(*d)))
                .buffered(CONCURRENT_GETS)
                .try_collect()
                .await?;
            self.compute_on(&season, days, &listing, &mut pending).await
        }
        .await;
        batch.put_state(&season, pending);
        result
    }

    /// The analytics of `days` (in date order, with their silver ETags) once the listing and the state
    /// are there: the state's entries are brought in line with the listing (earlier dates whose entry is
    /// missing or was computed from other objects are read again; dates silver no longer has are
    /// dropped), the entries of `days` come from the rows just read, and each day is computed with the
    /// totals of every date before it. Returns the analytics, the dates before the first day and how many
    /// of them were read again.
    async fn compute_on(
        &self,
        season: &str,
        days: Vec<(SilverDay, String, String)>,
        listing: &BTreeMap<NaiveDate, ListedDate>,
        pending: &mut PendingState,
    ) -> Result<(Vec<Analytics>, usize, usize), StageError> {
        let Some(first) = days.first().map(|(day, _, _)| day.date) else {
            return Ok((Vec::new(), 0, 0));
        };
        let state = &pending.state;
        let mut changes: BTreeMap<String, Option<DateEntry>> = BTreeMap::new();
        // Entries of dates that silver no longer has, or has only one object of (silver is writing the
        // date), are dropped: no date is computed from an entry the listing does not vouch for.
        for key in state.dates.keys() {
            let listed = NaiveDate::parse_from_str(key, "%Y-%m-%d").ok().and_then(|d| listing.get(&d));
            if !listed.is_some_and(|l| l.player_stats.is_some() && l.team_stats.is_some()) {
                changes.insert(key.clone(), None);
            }
        }
        // Earlier dates whose entry is missing or was computed from other objects are read again.
        let stale: Vec<NaiveDate> = listing
            .range(..first)
            .filter(|(d, listed)| {
                let valid = match (state.dates.get(&date_key(**d)), &listed.player_stats, &listed.team_stats) {
                    (Some(e), Some(p), Some(t)) => !p.is_empty() && *p == e.player_stats && *t == e.team_stats,
                    _ => false,
                };
                !valid
            })
            .map(|(d, _)| *d)
            .collect();
        let refreshed: Vec<(NaiveDate, DateEntry)> = futures::stream::iter(stale.iter().map(|d| async move {
            let (silver, player_stats, team_stats) = self.read_day(*d).await?;
            let totals = DayTotals::of(season, &silver)?;
            Ok::<_, StageError>((*d, DateEntry { player_stats, team_stats, totals }))
        }))
        .buffered(CONCURRENT_GETS)
        .try_collect()
        .await?;
        for (d, entry) in refreshed {
            changes.insert(date_key(d), Some(entry));
        }
        // The entries of the computed days come from the rows just read, never from the state.
        let mut silver = Vec::with_capacity(days.len());
        for (day, player_stats, team_stats) in days {
            let own = DateEntry { player_stats, team_stats, totals: DayTotals::of(season, &day)? };
            changes.insert(date_key(day.date), Some(own));
            silver.push(day);
        }
        pending.changed |= apply(&mut pending.state, &changes);
        pending.changes.extend(changes);
        pending.dates += silver.len();

        let analytics = silver
            .iter()
            .map(|day| compute_with_totals(day, pending.state.before(day.date)))
            .collect::<Result<Vec<_>, _>>()?;
        let earlier_dates = pending.state.before(first).count();
        Ok((analytics, earlier_dates, stale.len()))
    }

    /// Writes the season states of `batch` (one conditional PUT per season that changed; a failure is
    /// logged, never fails the batch: the state is a cache of silver). Returns how many were written.
    pub async fn finish_batch(&self, batch: Batch) -> usize {
        let states = std::mem::take(&mut *batch.states.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let mut written = 0;
        for (season, pending) in states {
            if !pending.usable {
                continue;
            }
            let dates = pending.dates;
            match self.save_state(&season, pending.state, pending.etag, &pending.changes, pending.changed).await {
                Ok(true) => {
                    written += 1;
                    if dates > 1 {
                        self.log
                            .info("season state written")
                            .field("season", season.as_str())
                            .count("dates", dates as u64)
                            .emit();
                    }
                }
                Ok(false) => {}
                Err(e) => self.state_error("season state not written (the analytics do not depend on it)", &season, &e),
            }
        }
        written
    }

    /// Recomputes `date` and every later date of its season in silver, and replaces them in both tables
    /// ([`Self::process_from`]).
    ///
    /// A batch of its own: the season state is written before it returns.
    pub async fn process_date(&self, date: NaiveDate, objects: usize) -> Result<Summary, StageError> {
        let batch = Batch::default();
        let result = self.process_from(&batch, date, objects).await;
        let written = self.finish_batch(batch).await > 0;
        result.map(|summary| Summary { state_written: written, ..summary })
    }

    /// Recomputes `from` and every later date of its season in silver ([`Self::compute_from`]) and
    /// replaces all of them in `player_analytics`, then in `team_analytics`, one commit per table.
    ///
    /// The season-to-date columns of a date depend on every earlier date, so a date that arrives after
    /// later ones (out of order, replayed, back-filled) must change them too: the result is a function
    /// of silver, never of the order of arrival. Concurrent invocations converge because the versions
    /// of both tables are loaded *before* silver is listed, and a commit only succeeds on the version
    /// it was built on: a commit that succeeds was computed from a listing taken after every commit it
    /// replaces, so it saw every silver date they saw. On a conflict the whole computation is redone
    /// on a fresh listing, after a back-off with full jitter ([`COMMIT_BACKOFF`]), up to
    /// [`MAX_ATTEMPTS`] times.
    pub async fn process_from(&self, batch: &Batch, from: NaiveDate, objects: usize) -> Result<Summary, StageError> {
        let started = Instant::now();
        let mut conflicted = PLAYER_ANALYTICS;
        for attempt in 1..=MAX_ATTEMPTS {
            let (players_at, teams_at) =
                futures::try_join!(self.sink.version(PLAYER_ANALYTICS, from), self.sink.version(TEAM_ANALYTICS, from))?;
            let (analytics, earlier_dates, refreshed_dates) = self.compute_from(batch, from).await?;
            let read_ms = started.elapsed();
            let dates: Vec<NaiveDate> = analytics.iter().map(|a| a.date).collect();
            let (mut player_rows, mut team_rows) = (0, 0);
            let mut players: BTreeMap<NaiveDate, Vec<PlayerAnalytics>> = BTreeMap::new();
            let mut teams: BTreeMap<NaiveDate, Vec<TeamAnalytics>> = BTreeMap::new();
            for a in analytics {
                player_rows += a.players.len();
                team_rows += a.teams.len();
                players.insert(a.date, a.players);
                teams.insert(a.date, a.teams);
            }
            let committed = match self.sink.replace_dates(PLAYER_ANALYTICS, players_at, &players).await? {
                Replaced::Committed(p) => match self.sink.replace_dates(TEAM_ANALYTICS, teams_at, &teams).await? {
                    Replaced::Committed(t) => Some(vec![p, t]),
                    Replaced::Conflict => {
                        conflicted = TEAM_ANALYTICS;
                        None
                    }
                },
                Replaced::Conflict => {
                    conflicted = PLAYER_ANALYTICS;
                    None
                }
            };
            let Some(commits) = committed else {
                self.log
                    .warn("commit conflict: recomputing on the new version")
                    .date(&from.to_string())
                    .field("table", conflicted)
                    .count("attempt", u64::from(attempt))
                    .emit();
                if attempt < MAX_ATTEMPTS {
                    tokio::time::sleep(COMMIT_BACKOFF.delay(attempt)).await;
                }
                continue;
            };
            let summary = Summary {
                date: from,
                dates,
                objects,
                earlier_dates,
                refreshed_dates,
                state_written: false,
                players: player_rows,
                teams: team_rows,
                commits: commits.into_iter().map(|c| CommitSummary { attempts: attempt, ..c }).collect(),
            };
            let mut line = self
                .log
                .info("date processed")
                .date(&from.to_string())
                .count("objects", objects as u64)
                .count("dates", summary.dates.len() as u64)
                .count("earlier_dates", summary.earlier_dates as u64)
                .count("refreshed_dates", summary.refreshed_dates as u64)
                .count("players", summary.players as u64)
                .count("teams", summary.teams as u64)
                .field("read_ms", u64::try_from(read_ms.as_millis()).unwrap_or(u64::MAX))
                .duration(started.elapsed());
            for commit in &summary.commits {
                line = line.field(
                    &commit.table,
                    serde_json::json!({
                        "snapshot_id": commit.snapshot_id,
                        "dates": commit.dates,
                        "added_records": commit.added_records,
                        "removed_records": commit.removed_records,
                        "total_records": commit.total_records,
                        "attempts": commit.attempts,
                    }),
                );
            }
            line.emit();
            return Ok(summary);
        }
        Err(TableError::Conflict { table: conflicted.into(), date: from, attempts: MAX_ATTEMPTS }.into())
    }
}
