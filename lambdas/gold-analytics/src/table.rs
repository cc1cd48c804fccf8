//! The gold tables: Iceberg tables in an S3 Tables table bucket, written by whole dates.
//!
//! # Replacing dates
//! iceberg 0.10 offers one public write action, `fast_append`, which keeps every existing data file:
//! a re-run would duplicate the date. Its other snapshot operations (overwrite, delete) and the
//! `TableCommit` builder are crate-private. So [`GoldTables::replace_dates`] produces the snapshot
//! itself from iceberg's public building blocks, as a copy-on-write overwrite of one or more dates:
//! 1. [`GoldTables::version`]: `GetTable` (S3 Tables) gives the current metadata location and its
//!    version token; the metadata is read from the warehouse.
//! 2. Each date's rows are written as new Parquet data files of that date only (iceberg's
//!    `DataFileWriter`, partition value from the table's own partition spec, column statistics
//!    included).
//! 3. A new snapshot, with one manifest per month of game dates: the manifests whose partition
//!    summaries meet a month of the dates (every manifest of an unpartitioned table) are read
//!    concurrently; there, every live data file whose `game_date` bounds are exactly one of the dates
//!    is marked DELETED, every other live file stays (EXISTING), the new files are ADDED, all merged
//!    into one new manifest per month; a manifest read whose files are all of one untouched month,
//!    and every manifest not read, is kept as it is. So a commit reads and writes the metadata of its
//!    own months only. Operation `overwrite` (`append` when nothing was removed), summary with
//!    added/removed/total counts, `pipewright.game-date` (the first date) and
//!    `pipewright.last-game-date` (the last, when several).
//! 4. The new metadata file is written next to the old one and `UpdateTableMetadataLocation` is called
//!    with the version token: S3 Tables' optimistic concurrency (the same call the
//!    iceberg-catalog-s3tables catalog makes in `update_table`). A conflict is [`Replaced::Conflict`]:
//!    the stage recomputes on a new version; [`GoldTables::replace_date`], for rows that do not depend
//!    on the table, waits ([`COMMIT_BACKOFF`]: exponential back-off with full jitter), reloads and
//!    retries, up to [`MAX_ATTEMPTS`] times.
//!
//! A data file that holds one of the dates and other dates (not written by this stage) is refused
//! ([`TableError::MixedDates`]) rather than rewritten: deleting it would lose the other dates.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow::array::{ArrayRef, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, SchemaRef as ArrowSchemaRef};
use chrono::{Datelike, NaiveDate};
use futures::{StreamExt, TryStreamExt};
use iceberg::io::{FileIO, FileIOBuilder};
use iceberg::spec::{
    DataFile, DataFileFormat, Datum, FormatVersion, Literal, MAIN_BRANCH, Manifest, ManifestContentType, ManifestFile,
    ManifestListWriter, ManifestWriterBuilder, NestedField, Operation, PartitionKey, PartitionSpec, PartitionSpecRef,
    PrimitiveLiteral, PrimitiveType, Schema, SchemaRef, Snapshot, SnapshotSummaryCollector, Struct, Summary,
    TableMetadata, Transform, Type, UnboundPartitionSpec,
};
use iceberg::table::Table;
use iceberg::transform::create_transform_function;
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::file_writer::location_generator::{DefaultFileNameGenerator, DefaultLocationGenerator};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use iceberg::{Catalog, CatalogBuilder, MetadataLocation, NamespaceIdent, Runtime, TableCreation, TableIdent};
use iceberg_catalog_s3tables::{S3TablesCatalog, S3TablesCatalogBuilder};
use iceberg_storage_opendal::OpenDalStorageFactory;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use pipewright_stage::retry::Backoff;

use crate::{PlayerAnalytics, TeamAnalytics};

pub const PLAYER_ANALYTICS: &str = "player_analytics";
pub const TEAM_ANALYTICS: &str = "team_analytics";
/// The column every gold table has, and by which rows are replaced.
pub const GAME_DATE: &str = "game_date";
/// Snapshot summary property naming the (first) date a commit replaced.
pub const SUMMARY_DATE: &str = "pipewright.game-date";
/// Snapshot summary property naming the last date a commit replaced (when it replaced several).
pub const SUMMARY_LAST_DATE: &str = "pipewright.last-game-date";
/// Data files written at once by a commit of several dates.
const CONCURRENT_WRITES: usize = 8;
/// Commit attempts before a conflict is reported.
pub const MAX_ATTEMPTS: u32 = 8;
/// The wait between commit attempts: up to 100 ms after the first conflict, doubling to at most 5 s,
/// with full jitter, so concurrent invocations that conflicted once spread out instead of conflicting
/// again (the waits of one date's commit add up to at most 11.3 s of the function's timeout).
pub const COMMIT_BACKOFF: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));

/// The type of a gold column (the spec's `date`, `string`, `long`, `int`, `double`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Date,
    String,
    Long,
    Int,
    Double,
}

/// A column of a gold table as the spec declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnType,
    pub required: bool,
}

const fn col(name: &'static str, kind: ColumnType, required: bool) -> Column {
    Column { name, kind, required }
}

/// `tables.tables.player_analytics` of `specs/hoopstat-haus.yaml`.
pub const PLAYER_COLUMNS: [Column; 14] = [
    col("game_date", ColumnType::Date, true),
    col("season", ColumnType::String, true),
    col("player_id", ColumnType::Long, true),
    col("player_name", ColumnType::String, false),
    col("team_id", ColumnType::Long, true),
    col("minutes", ColumnType::Double, false),
    col("points", ColumnType::Int, false),
    col("true_shooting_pct", ColumnType::Double, false),
    col("effective_fg_pct", ColumnType::Double, false),
    col("usage_rate", ColumnType::Double, false),
    col("assist_turnover_ratio", ColumnType::Double, false),
    col("season_games", ColumnType::Int, false),
    col("season_points_per_game", ColumnType::Double, false),
    col("season_true_shooting_pct", ColumnType::Double, false),
];

/// `tables.tables.team_analytics` of `specs/hoopstat-haus.yaml`.
pub const TEAM_COLUMNS: [Column; 15] = [
    col("game_date", ColumnType::Date, true),
    col("season", ColumnType::String, true),
    col("team_id", ColumnType::Long, true),
    col("team_tricode", ColumnType::String, false),
    col("game_id", ColumnType::String, true),
    col("points", ColumnType::Int, false),
    col("pace", ColumnType::Double, false),
    col("offensive_rating", ColumnType::Double, false),
    col("defensive_rating", ColumnType::Double, false),
    col("net_rating", ColumnType::Double, false),
    col("true_shooting_pct", ColumnType::Double, false),
    col("effective_fg_pct", ColumnType::Double, false),
    col("assist_turnover_ratio", ColumnType::Double, false),
    col("season_games", ColumnType::Int, false),
    col("season_net_rating", ColumnType::Double, false),
];

/// One cell of a gold row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Date(NaiveDate),
    String(Option<String>),
    Long(Option<i64>),
    Int(Option<i32>),
    Double(Option<f64>),
}

/// A row of a gold table: its cells by column name (`None`: the row has no such column).
pub trait GoldRow {
    fn cell(&self, column: &str) -> Option<Cell>;
}

impl GoldRow for PlayerAnalytics {
    fn cell(&self, column: &str) -> Option<Cell> {
        Some(match column {
            "game_date" => Cell::Date(self.game_date),
            "season" => Cell::String(Some(self.season.clone())),
            "player_id" => Cell::Long(Some(self.player_id)),
            "player_name" => Cell::String(Some(self.player_name.clone())),
            "team_id" => Cell::Long(Some(self.team_id)),
            "minutes" => Cell::Double(Some(self.minutes)),
            "points" => Cell::Int(Some(self.points)),
            "true_shooting_pct" => Cell::Double(self.true_shooting_pct),
            "effective_fg_pct" => Cell::Double(self.effective_fg_pct),
            "usage_rate" => Cell::Double(self.usage_rate),
            "assist_turnover_ratio" => Cell::Double(self.assist_turnover_ratio),
            "season_games" => Cell::Int(Some(self.season_games)),
            "season_points_per_game" => Cell::Double(self.season_points_per_game),
            "season_true_shooting_pct" => Cell::Double(self.season_true_shooting_pct),
            _ => return None,
        })
    }
}

impl GoldRow for TeamAnalytics {
    fn cell(&self, column: &str) -> Option<Cell> {
        Some(match column {
            "game_date" => Cell::Date(self.game_date),
            "season" => Cell::String(Some(self.season.clone())),
            "team_id" => Cell::Long(Some(self.team_id)),
            "team_tricode" => Cell::String(Some(self.team_tricode.clone())),
            "game_id" => Cell::String(Some(self.game_id.clone())),
            "points" => Cell::Int(Some(self.points)),
            "pace" => Cell::Double(self.pace),
            "offensive_rating" => Cell::Double(self.offensive_rating),
            "defensive_rating" => Cell::Double(self.defensive_rating),
            "net_rating" => Cell::Double(self.net_rating),
            "true_shooting_pct" => Cell::Double(self.true_shooting_pct),
            "effective_fg_pct" => Cell::Double(self.effective_fg_pct),
            "assist_turnover_ratio" => Cell::Double(self.assist_turnover_ratio),
            "season_games" => Cell::Int(Some(self.season_games)),
            "season_net_rating" => Cell::Double(self.season_net_rating),
            _ => return None,
        })
    }
}

/// Writing a gold table failed.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("table {table}{}: {operation}", date_suffix(.date))]
    Iceberg {
        table: String,
        date: Option<NaiveDate>,
        operation: &'static str,
        #[source]
        source: Box<iceberg::Error>,
    },
    #[error("table {table}{}: S3 Tables {operation}", date_suffix(.date))]
    S3Tables {
        table: String,
        date: Option<NaiveDate>,
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("table {table} does not exist in namespace {namespace} of {table_bucket_arn}")]
    NotFound { table: String, namespace: String, table_bucket_arn: String },
    #[error("table {table} has no Iceberg metadata yet (created without a schema?)")]
    NoMetadata { table: String },
    #[error("table {table}: column `{column}` {problem}")]
    Column { table: String, column: String, problem: String },
    #[error("table {table}: partition field `{field}` is not derived from `game_date`: cannot write one date")]
    Partition { table: String, field: String },
    #[error("table {table}: format version {version} is not supported (v2 only)")]
    FormatVersion { table: String, version: String },
    #[error("table {table}, {date}: data file {file} holds {date} and other dates; refusing to drop it")]
    MixedDates { table: String, date: NaiveDate, file: String },
    #[error("table {table}, {date}: data file {file} has no `game_date` bounds; cannot tell its dates")]
    UnknownDates { table: String, date: NaiveDate, file: String },
    #[error("table {table}, {date}: commit conflicted {attempts} times")]
    Conflict { table: String, date: NaiveDate, attempts: u32 },
}

fn date_suffix(date: &Option<NaiveDate>) -> String {
    date.map(|d| format!(", {d}")).unwrap_or_default()
}

fn days(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN);
    i32::try_from((date - epoch).num_days()).unwrap_or(i32::MIN)
}

/// The Iceberg schema of a gold table (field ids 1.. in column order).
pub fn iceberg_schema(columns: &[Column]) -> iceberg::Result<Schema> {
    let fields = columns.iter().zip(1..).map(|(c, id)| {
        let ty = Type::Primitive(match c.kind {
            ColumnType::Date => PrimitiveType::Date,
            ColumnType::String => PrimitiveType::String,
            ColumnType::Long => PrimitiveType::Long,
            ColumnType::Int => PrimitiveType::Int,
            ColumnType::Double => PrimitiveType::Double,
        });
        Arc::new(if c.required { NestedField::required(id, c.name, ty) } else { NestedField::optional(id, c.name, ty) })
    });
    Schema::builder().with_schema_id(0).with_fields(fields).build()
}

/// The spec's partitioning of both gold tables: `partition: day` on `game_date`, one partition per date.
pub const DATE_PARTITION: Transform = Transform::Day;

/// A partitioning of a gold table by `game_date` alone (`None`: unpartitioned), named as Iceberg names
/// partition fields (`game_date_day`, `game_date_month`; `game_date` for identity).
pub fn date_partitioning(schema: &Schema, transform: Option<Transform>) -> iceberg::Result<UnboundPartitionSpec> {
    let Some(transform) = transform else { return Ok(UnboundPartitionSpec::builder().build()) };
    let source = schema
        .field_id_by_name(GAME_DATE)
        .ok_or_else(|| iceberg::Error::new(iceberg::ErrorKind::DataInvalid, "schema has no game_date"))?;
    let name = match transform {
        Transform::Identity => GAME_DATE.to_string(),
        other => format!("{GAME_DATE}_{other}"),
    };
    UnboundPartitionSpec::builder().add_partition_field(source, name, transform).map(|b| b.build())
}

/// The rows as an Arrow batch of the table's current schema: columns by name, types checked; an
/// optional column the rows do not have is null, a required one is an error.
pub fn record_batch<R: GoldRow>(table: &str, schema: &Schema, rows: &[R]) -> Result<RecordBatch, TableError> {
    let column_error = |column: &str, problem: String| TableError::Column {
        table: table.to_string(),
        column: column.to_string(),
        problem,
    };
    let arrow_schema: ArrowSchemaRef =
        Arc::new(iceberg::arrow::schema_to_arrow_schema(schema).map_err(|source| TableError::Iceberg {
            table: table.into(),
            date: None,
            operation: "converting the schema to Arrow",
            source: Box::new(source),
        })?);
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(arrow_schema.fields().len());
    for field in arrow_schema.fields() {
        let name = field.name().as_str();
        let cells: Vec<Option<Cell>> = rows.iter().map(|r| r.cell(name)).collect();
        if !field.is_nullable() && cells.iter().any(Option::is_none) {
            return Err(column_error(name, "is required but the stage does not produce it".into()));
        }
        let mismatch =
            |cell: &Cell| column_error(name, format!("is {} but the stage produces {cell:?}", field.data_type()));
        let array: ArrayRef = match field.data_type() {
            DataType::Date32 => Arc::new(
                cells
                    .iter()
                    .map(|c| match c {
                        Some(Cell::Date(d)) => Ok(Some(days(*d))),
                        None => Ok(None),
                        Some(other) => Err(mismatch(other)),
                    })
                    .collect::<Result<Date32Array, _>>()?,
            ),
            DataType::Utf8 => Arc::new(
                cells
                    .iter()
                    .map(|c| match c {
                        Some(Cell::String(s)) => Ok(s.clone()),
                        None => Ok(None),
                        Some(other) => Err(mismatch(other)),
                    })
                    .collect::<Result<StringArray, _>>()?,
            ),
            DataType::Int64 => Arc::new(
                cells
                    .iter()
                    .map(|c| match c {
                        Some(Cell::Long(v)) => Ok(*v),
                        Some(Cell::Int(v)) => Ok(v.map(i64::from)),
                        None => Ok(None),
                        Some(other) => Err(mismatch(other)),
                    })
                    .collect::<Result<Int64Array, _>>()?,
            ),
            DataType::Int32 => Arc::new(
                cells
                    .iter()
                    .map(|c| match c {
                        Some(Cell::Int(v)) => Ok(*v),
                        None => Ok(None),
                        Some(other) => Err(mismatch(other)),
                    })
                    .collect::<Result<Int32Array, _>>()?,
            ),
            DataType::Float64 => Arc::new(
                cells
                    .iter()
                    .map(|c| match c {
                        Some(Cell::Double(v)) => Ok(*v),
                        None => Ok(None),
                        Some(other) => Err(mismatch(other)),
                    })
                    .collect::<Result<Float64Array, _>>()?,
            ),
            other => return Err(column_error(name, format!("has type {other}, which the stage does not write"))),
        };
        if !field.is_nullable() && array.null_count() > 0 {
            return Err(column_error(name, "is required but a row has no value".into()));
        }
        arrays.push(array);
    }
    RecordBatch::try_new(arrow_schema, arrays)
        .map_err(|e| column_error("*", format!("cannot form a record batch: {e}")))
}

/// Where the tables are and how to reach them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablesConfig {
    pub table_bucket_arn: String,
    pub namespace: String,
    /// Endpoint of the S3 Tables API (moto in tests); `None` for AWS.
    pub endpoint_url: Option<String>,
    /// Endpoint of S3 for the warehouse files (moto in tests); `None` for AWS. Path-style when set.
    pub s3_endpoint_url: Option<String>,
    /// Region for the warehouse files; `None` leaves it to the default chain.
    pub region: Option<String>,
    /// More properties of the warehouse file IO (`s3.access-key-id`, ... for a local endpoint).
    pub file_io_props: Vec<(String, String)>,
}

impl TablesConfig {
    /// From the stage's contract and the standard AWS variables: `AWS_ENDPOINT_URL_S3TABLES` or
    /// `AWS_ENDPOINT_URL` for the S3 Tables API, `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` for the
    /// warehouse files, `AWS_REGION` or `AWS_DEFAULT_REGION`.
    pub fn from_environment(tables: &pipewright_stage::TablesEnv) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            table_bucket_arn: tables.table_bucket_arn.clone(),
            namespace: tables.namespace.clone(),
            endpoint_url: var("AWS_ENDPOINT_URL_S3TABLES").or_else(|| var("AWS_ENDPOINT_URL")),
            s3_endpoint_url: var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL")),
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            file_io_props: Vec::new(),
        }
    }

    /// Properties for the catalog and the warehouse file IO.
    fn file_io_props(&self) -> HashMap<String, String> {
        let mut props = HashMap::new();
        if let Some(url) = &self.s3_endpoint_url {
            props.insert(iceberg::io::S3_ENDPOINT.to_string(), url.clone());
            props.insert(iceberg::io::S3_PATH_STYLE_ACCESS.to_string(), "true".to_string());
        }
        if let Some(region) = &self.region {
            props.insert(iceberg::io::S3_REGION.to_string(), region.clone());
        }
        props.extend(self.file_io_props.iter().cloned());
        props
    }
}

/// A table as loaded for a commit: its metadata and the version token S3 Tables will check.
#[derive(Debug, Clone)]
pub struct Version {
    table: Table,
    token: String,
}

/// The outcome of a commit on a [`Version`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replaced {
    Committed(CommitSummary),
    /// Another writer committed since the version was loaded: nothing was committed.
    Conflict,
}

/// What a [`GoldTables::replace_date`] commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSummary {
    pub table: String,
    /// The first date replaced.
    pub date: NaiveDate,
    /// How many dates the commit replaced (the first and every later one recomputed with it).
    pub dates: usize,
    pub snapshot_id: i64,
    pub added_files: u64,
    pub added_records: u64,
    pub removed_files: u64,
    pub removed_records: u64,
    pub total_records: u64,
    pub attempts: u32,
}

/// The gold tables of one table bucket and namespace.
pub struct GoldTables {
    config: TablesConfig,
    client: aws_sdk_s3tables::Client,
    catalog: S3TablesCatalog,
    file_io: FileIO,
    namespace: NamespaceIdent,
}

impl std::fmt::Debug for GoldTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoldTables").field("config", &self.config).finish_non_exhaustive()
    }
}

impl GoldTables {
    /// Connects with the default credential chain (an explicit client for tests: [`Self::with_client`]).
    pub async fn connect(config: TablesConfig) -> Result<Self, TableError> {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let mut builder = aws_sdk_s3tables::config::Builder::from(&sdk);
        if let Some(url) = &config.endpoint_url {
            builder = builder.endpoint_url(url);
        }
        Self::with_client(config, aws_sdk_s3tables::Client::from_conf(builder.build())).await
    }

    /// Connects through `client` (its endpoint and credentials are used for the S3 Tables API).
    pub async fn with_client(config: TablesConfig, client: aws_sdk_s3tables::Client) -> Result<Self, TableError> {
        let iceberg_err = |operation, source| TableError::Iceberg {
            table: "*".into(),
            date: None,
            operation,
            source: Box::new(source),
        };
        let props = config.file_io_props();
        let mut builder = S3TablesCatalogBuilder::default()
            .with_client(client.clone())
            .with_table_bucket_arn(config.table_bucket_arn.clone());
        if let Some(url) = &config.endpoint_url {
            builder = builder.with_endpoint_url(url.clone());
        }
        let catalog =
            builder.load("gold", props.clone()).await.map_err(|e| iceberg_err("loading the S3 Tables catalog", e))?;
        let file_io = FileIOBuilder::new(Arc::new(OpenDalStorageFactory::S3 { customized_credential_load: None }))
            .with_props(&props)
            .build();
        let namespace = NamespaceIdent::new(config.namespace.clone());
        Ok(Self { config, client, catalog, file_io, namespace })
    }

    pub fn catalog(&self) -> &S3TablesCatalog {
        &self.catalog
    }

    fn ident(&self, table: &str) -> TableIdent {
        TableIdent::new(self.namespace.clone(), table.to_string())
    }

    /// Creates the table with the stage's schema and the spec's partitioning ([`DATE_PARTITION`])
    /// unless it exists (setup and tests; the handler itself only writes to existing tables).
    pub async fn create_if_missing(&self, table: &str, columns: &[Column]) -> Result<bool, TableError> {
        self.create_partitioned(table, columns, Some(DATE_PARTITION)).await
    }

    /// Creates the table partitioned by `game_date` through `transform` (`None`: unpartitioned) unless
    /// it exists (benchmarks of other partitionings).
    pub async fn create_partitioned(
        &self,
        table: &str,
        columns: &[Column],
        transform: Option<Transform>,
    ) -> Result<bool, TableError> {
        let iceberg_err = |operation, source| TableError::Iceberg {
            table: table.into(),
            date: None,
            operation,
            source: Box::new(source),
        };
        if self.catalog.table_exists(&self.ident(table)).await.map_err(|e| iceberg_err("checking existence", e))? {
            return Ok(false);
        }
        let schema = iceberg_schema(columns).map_err(|e| iceberg_err("building the schema", e))?;
        let partitioning =
            date_partitioning(&schema, transform).map_err(|e| iceberg_err("building the partition spec", e))?;
        let creation =
            TableCreation::builder().name(table.to_string()).schema(schema).partition_spec(partitioning).build();
        self.catalog.create_table(&self.namespace, creation).await.map_err(|e| iceberg_err("creating", e))?;
        Ok(true)
    }

    /// The table as the catalog loads it (for reading).
    pub async fn load(&self, table: &str) -> Result<Table, TableError> {
        self.catalog.load_table(&self.ident(table)).await.map_err(|source| TableError::Iceberg {
            table: table.into(),
            date: None,
            operation: "loading",
            source: Box::new(source),
        })
    }

    /// Every row of the table's current snapshot.
    pub async fn scan_all(&self, table: &str) -> Result<Vec<RecordBatch>, TableError> {
        let t = self.load(table).await?;
        let err = |operation, source| TableError::Iceberg {
            table: table.into(),
            date: None,
            operation,
            source: Box::new(source),
        };
        let scan = t.scan().select_all().build().map_err(|e| err("planning a scan", e))?;
        let stream = scan.to_arrow().await.map_err(|e| err("scanning", e))?;
        stream.try_collect().await.map_err(|e| err("reading scanned batches", e))
    }

    /// The current metadata and its version token, through the S3 Tables API.
    async fn load_with_token(&self, table: &str, date: NaiveDate) -> Result<(Table, String), TableError> {
        let resp = self
            .client
            .get_table()
            .table_bucket_arn(&self.config.table_bucket_arn)
            .namespace(&self.config.namespace)
            .name(table)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|s| s.is_not_found_exception()) {
                    TableError::NotFound {
                        table: table.into(),
                        namespace: self.config.namespace.clone(),
                        table_bucket_arn: self.config.table_bucket_arn.clone(),
                    }
                } else {
                    TableError::S3Tables {
                        table: table.into(),
                        date: Some(date),
                        operation: "GetTable",
                        source: Box::new(e.into_service_error()),
                    }
                }
            })?;
        let location = resp.metadata_location().ok_or_else(|| TableError::NoMetadata { table: table.into() })?;
        let err = |operation, source| TableError::Iceberg {
            table: table.into(),
            date: Some(date),
            operation,
            source: Box::new(source),
        };
        let metadata =
            TableMetadata::read_from(&self.file_io, location).await.map_err(|e| err("reading the metadata", e))?;
        let t = Table::builder()
            .identifier(self.ident(table))
            .metadata(metadata)
            .metadata_location(location)
            .file_io(self.file_io.clone())
            .runtime(Runtime::try_current().map_err(|e| err("finding the tokio runtime", e))?)
            .build()
            .map_err(|e| err("building the table", e))?;
        Ok((t, resp.version_token))
    }

    /// Replaces the rows of `date` in `table` by `rows` in one Iceberg commit (see the module docs),
    /// reloading and retrying on a conflict: for writers whose rows do not depend on the other dates
    /// of the table. The stage recomputes on a conflict instead ([`Self::replace_dates`]).
    pub async fn replace_date<R: GoldRow>(
        &self,
        table: &str,
        date: NaiveDate,
        rows: &[R],
    ) -> Result<CommitSummary, TableError> {
        let by_date = std::collections::BTreeMap::from([(date, rows)]);
        for attempt in 1..=MAX_ATTEMPTS {
            let version = self.version(table, date).await?;
            match self.replace_dates(table, version, &by_date).await? {
                Replaced::Committed(summary) => return Ok(CommitSummary { attempts: attempt, ..summary }),
                Replaced::Conflict if attempt < MAX_ATTEMPTS => tokio::time::sleep(COMMIT_BACKOFF.delay(attempt)).await,
                Replaced::Conflict => {}
            }
        }
        Err(TableError::Conflict { table: table.into(), date, attempts: MAX_ATTEMPTS })
    }

    /// The current version of `table` (`date`: the date being replaced, for errors).
    pub async fn version(&self, table: &str, date: NaiveDate) -> Result<Version, TableError> {
        let (table, token) = self.load_with_token(table, date).await?;
        Ok(Version { table, token })
    }

    /// Replaces the rows of every date of `rows` (an empty list removes the date's rows) in one Iceberg
    /// commit on `version`: one data file per date, every live file of those dates marked deleted.
    /// [`Replaced::Conflict`] if the table changed since `version` was loaded; nothing is retried.
    pub async fn replace_dates<R: GoldRow, Rows: AsRef<[R]>>(
        &self,
        table: &str,
        version: Version,
        rows: &std::collections::BTreeMap<NaiveDate, Rows>,
    ) -> Result<Replaced, TableError> {
        let Some(first) = rows.keys().next().copied() else {
            return Err(TableError::Column {
                table: table.into(),
                column: GAME_DATE.into(),
                problem: "no date to replace".into(),
            });
        };
        let Version { table: t, token } = version;
        let metadata = t.metadata();
        if metadata.format_version() != FormatVersion::V2 {
            return Err(TableError::FormatVersion {
                table: table.into(),
                version: metadata.format_version().to_string(),
            });
        }
        // The dates' data files are written concurrently (a recompute of a season's later dates writes one
        // per date), in date order.
        let writes: Vec<_> =
            rows.iter().map(|(date, rows)| self.write_files(&t, table, *date, rows.as_ref())).collect();
        let written: Vec<Vec<DataFile>> =
            futures::stream::iter(writes).buffered(CONCURRENT_WRITES).try_collect().await?;
        let files: Vec<DataFile> = written.into_iter().flatten().collect();
        let dates: Vec<NaiveDate> = rows.keys().copied().collect();
        let (location, summary) = self.stage_snapshot(&t, table, &dates, &files).await?;
        let result = self
            .client
            .update_table_metadata_location()
            .table_bucket_arn(&self.config.table_bucket_arn)
            .namespace(&self.config.namespace)
            .name(table)
            .version_token(token)
            .metadata_location(location)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Replaced::Committed(CommitSummary { attempts: 1, ..summary })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conflict_exception()) => Ok(Replaced::Conflict),
            Err(e) => Err(TableError::S3Tables {
                table: table.into(),
                date: Some(first),
                operation: "UpdateTableMetadataLocation",
                source: Box::new(e.into_service_error()),
            }),
        }
    }

    /// Writes the rows as data files of the table's current schema and partition spec.
    async fn write_files<R: GoldRow>(
        &self,
        t: &Table,
        table: &str,
        date: NaiveDate,
        rows: &[R],
    ) -> Result<Vec<DataFile>, TableError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let err = |operation, source| TableError::Iceberg {
            table: table.into(),
            date: Some(date),
            operation,
            source: Box::new(source),
        };
        let metadata = t.metadata();
        let schema = metadata.current_schema().clone();
        let batch = record_batch(table, &schema, rows)?;
        let key = partition_key(table, date, metadata.default_partition_spec(), &schema)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
            .build();
        let locations = DefaultLocationGenerator::new(metadata).map_err(|e| err("locating data files", e))?;
        let names =
            DefaultFileNameGenerator::new(format!("{date}-{}", uuid::Uuid::new_v4()), None, DataFileFormat::Parquet);
        let rolling = RollingFileWriterBuilder::new_with_default_file_size(
            ParquetWriterBuilder::new(props, schema),
            t.file_io().clone(),
            locations,
            names,
        );
        let mut writer =
            DataFileWriterBuilder::new(rolling).build(key).await.map_err(|e| err("opening a data file", e))?;
        writer.write(batch).await.map_err(|e| err("writing a data file", e))?;
        writer.close().await.map_err(|e| err("closing a data file", e))
    }

    /// Writes the manifests, manifest list and metadata of a snapshot in which the live files of
    /// `dates` (in order, at least one) are replaced by `files`; returns the new metadata location.
    async fn stage_snapshot(
        &self,
        t: &Table,
        table: &str,
        dates: &[NaiveDate],
        files: &[DataFile],
    ) -> Result<(String, CommitSummary), TableError> {
        let mut b = SnapshotBuilder::new(t, table, dates)?;
        let to_read = b.keep_untouched_manifests().await?;
        let loaded = futures::future::try_join_all(to_read.iter().map(|m| m.load_manifest(b.file_io)))
            .await
            .map_err(|e| b.err("reading a manifest", e))?;
        for (manifest_file, manifest) in to_read.iter().zip(&loaded) {
            b.regroup(manifest_file, manifest)?;
        }
        b.add(files);
        b.write_manifests().await?;
        b.commit().await
    }
}

/// A snapshot being built: the manifests it keeps as they are, the entries of the months it touches
/// grouped by (partition spec, month), and its summary.
struct SnapshotBuilder<'t> {
    table: &'t Table,
    name: String,
    /// The first and last date replaced.
    date: NaiveDate,
    last: NaiveDate,
    /// The days (since the epoch) replaced, and their months.
    replaced: BTreeSet<i32>,
    months: BTreeSet<i32>,
    dates: Vec<NaiveDate>,
    metadata: &'t TableMetadata,
    file_io: &'t FileIO,
    schema: SchemaRef,
    date_field: i32,
    snapshot_id: i64,
    sequence_number: i64,
    commit: uuid::Uuid,
    collector: SnapshotSummaryCollector,
    manifests: Vec<ManifestFile>,
    groups: BTreeMap<(i32, i32), Vec<Entry>>,
    summary: CommitSummary,
    total_files: u64,
}

impl<'t> SnapshotBuilder<'t> {
    fn new(t: &'t Table, table: &str, dates: &[NaiveDate]) -> Result<Self, TableError> {
        let date = dates.first().copied().unwrap_or_default();
        let metadata = t.metadata();
        let schema = metadata.current_schema().clone();
        let date_field = schema.field_id_by_name(GAME_DATE).ok_or_else(|| TableError::Column {
            table: table.into(),
            column: GAME_DATE.into(),
            problem: "is missing".into(),
        })?;
        let snapshot_id = new_snapshot_id(metadata);
        let replaced: BTreeSet<i32> = dates.iter().map(|d| days(*d)).collect();
        Ok(SnapshotBuilder {
            table: t,
            name: table.into(),
            date,
            last: dates.last().copied().unwrap_or(date),
            months: replaced.iter().map(|d| month_of(*d)).collect(),
            replaced,
            dates: dates.to_vec(),
            metadata,
            file_io: t.file_io(),
            schema,
            date_field,
            snapshot_id,
            sequence_number: metadata.next_sequence_number(),
            commit: uuid::Uuid::new_v4(),
            collector: SnapshotSummaryCollector::default(),
            manifests: Vec::new(),
            groups: BTreeMap::new(),
            summary: CommitSummary {
                table: table.into(),
                date,
                dates: dates.len(),
                snapshot_id,
                added_files: 0,
                added_records: 0,
                removed_files: 0,
                removed_records: 0,
                total_records: 0,
                attempts: 0,
            },
            total_files: 0,
        })
    }

    fn err(&self, operation: &'static str, source: iceberg::Error) -> TableError {
        TableError::Iceberg { table: self.name.clone(), date: Some(self.date), operation, source: Box::new(source) }
    }

    fn spec_of(&self, id: i32) -> Result<PartitionSpecRef, TableError> {
        self.metadata
            .partition_spec_by_id(id)
            .cloned()
            .ok_or_else(|| TableError::Partition { table: self.name.clone(), field: format!("spec {id}") })
    }

    /// The months the commit touches: every manifest of the current snapshot that may hold a file of one
    /// of them is returned to be read and merged into one manifest per month; the others are kept unread.
    async fn keep_untouched_manifests(&mut self) -> Result<Vec<ManifestFile>, TableError> {
        let mut to_read = Vec::new();
        let Some(current) = self.metadata.current_snapshot() else { return Ok(to_read) };
        let list = self
            .table
            .manifest_list_reader(current)
            .load()
            .await
            .map_err(|e| self.err("reading the manifest list", e))?;
        for manifest_file in list.entries() {
            let spec = self.spec_of(manifest_file.partition_spec_id)?;
            if manifest_file.content != ManifestContentType::Data
                || !may_hold(manifest_file, &spec, self.date_field, &self.months)
            {
                let live = manifest_file.added_files_count.zip(manifest_file.existing_files_count);
                if live.is_none_or(|(added, existing)| added + existing > 0) {
                    if manifest_file.content == ManifestContentType::Data {
                        self.total_files += live.map_or(0, |(a, e)| u64::from(a + e));
                        self.summary.total_records += manifest_file.added_rows_count.unwrap_or(0)
                            + manifest_file.existing_rows_count.unwrap_or(0);
                    }
                    self.manifests.push(manifest_file.clone());
                }
                continue;
            }
            to_read.push(manifest_file.clone());
        }
        Ok(to_read)
    }

    /// The live entries of a manifest that may hold a touched month: those of a replaced date deleted,
    /// the others kept, each in the group of its month.
    fn regroup(&mut self, manifest_file: &ManifestFile, manifest: &Manifest) -> Result<(), TableError> {
        let spec = self.spec_of(manifest_file.partition_spec_id)?;
        let date_field = self.date_field;
        // A manifest read only because nothing told its months (an unpartitioned table): kept as it is
        // when all its live files are of one month the commit does not touch.
        let alive = || manifest.entries().iter().filter(|e| e.is_alive());
        let mut held =
            alive().map(|e| date_range(e.data_file(), date_field).map(|(lo, hi)| (month_of(lo), month_of(hi))));
        if let Some(Some((month, last))) = held.next()
            && month == last
            && !self.months.contains(&month)
            && held.all(|h| h == Some((month, month)))
        {
            self.total_files += alive().count() as u64;
            self.summary.total_records += alive().map(|e| e.record_count()).sum::<u64>();
            self.manifests.push(manifest_file.clone());
            return Ok(());
        }
        for entry in alive() {
            let file = entry.data_file();
            let range = date_range(file, date_field);
            let drop = self.replaces(file, range)?;
            let unassigned = |what: &str| {
                let message = format!("manifest entry of {} has no {what}", file.file_path());
                iceberg::Error::new(iceberg::ErrorKind::DataInvalid, message)
            };
            let seq =
                entry.sequence_number().ok_or_else(|| self.err("reading a manifest", unassigned("sequence number")))?;
            let group = (manifest_file.partition_spec_id, range.map_or(i32::MIN, |(lo, _)| month_of(lo)));
            let kept = if drop {
                self.collector.remove_file(file, self.schema.clone(), spec.clone());
                self.summary.removed_files += 1;
                self.summary.removed_records += file.record_count();
                Entry::Deleted { file: file.clone(), seq, file_seq: entry.file_sequence_number }
            } else {
                self.total_files += 1;
                self.summary.total_records += file.record_count();
                Entry::Existing {
                    file: file.clone(),
                    snapshot: entry
                        .snapshot_id()
                        .ok_or_else(|| self.err("reading a manifest", unassigned("snapshot id")))?,
                    seq,
                    file_seq: entry.file_sequence_number,
                }
            };
            self.groups.entry(group).or_default().push(kept);
        }
        Ok(())
    }

    /// Whether a live file (its date range) is one of the replaced dates; an error when it holds a
    /// replaced date among others, or its dates are unknown.
    fn replaces(&self, file: &DataFile, range: Option<(i32, i32)>) -> Result<bool, TableError> {
        match range {
            Some((lo, hi)) if lo == hi && self.replaced.contains(&lo) => Ok(true),
            Some((lo, hi)) if lo <= hi && self.replaced.range(lo..=hi).next().is_some() => {
                let held = self.replaced.range(lo..=hi).next().copied().unwrap_or_default();
                let date = self.dates.iter().copied().find(|d| days(*d) == held).unwrap_or(self.date);
                Err(TableError::MixedDates { table: self.name.clone(), date, file: file.file_path().into() })
            }
            Some(_) => Ok(false),
            None if file.record_count() == 0 => Ok(false),
            None => Err(TableError::UnknownDates {
                table: self.name.clone(),
                date: self.date,
                file: file.file_path().into(),
            }),
        }
    }

    /// The new data files, each in the group of its month.
    fn add(&mut self, files: &[DataFile]) {
        let default_spec = self.metadata.default_partition_spec().clone();
        for file in files {
            self.collector.add_file(file, self.schema.clone(), default_spec.clone());
            self.summary.added_files += 1;
            self.summary.added_records += file.record_count();
            self.total_files += 1;
            self.summary.total_records += file.record_count();
            let month = date_range(file, self.date_field).map_or(month_of(days(self.date)), |(lo, _)| month_of(lo));
            self.groups.entry((default_spec.spec_id(), month)).or_default().push(Entry::Added(file.clone()));
        }
    }

    /// One manifest per group, written concurrently.
    async fn write_manifests(&mut self) -> Result<(), TableError> {
        let groups = std::mem::take(&mut self.groups);
        let this = &*self;
        let writes = groups.into_iter().enumerate().map(|(n, ((spec_id, _), entries))| {
            let path = format!("{}/metadata/{}-m{n}.avro", this.metadata.location(), this.commit);
            async move {
                let spec = this.spec_of(spec_id)?;
                let output = this.file_io.new_output(&path).map_err(|e| this.err("creating a manifest", e))?;
                let mut writer = ManifestWriterBuilder::new(
                    output,
                    Some(this.snapshot_id),
                    this.schema.clone(),
                    spec.as_ref().clone(),
                )
                .build_v2_data();
                for entry in entries {
                    match entry {
                        Entry::Added(file) => writer.add_file(file, this.sequence_number),
                        Entry::Existing { file, snapshot, seq, file_seq } => {
                            writer.add_existing_file(file, snapshot, seq, file_seq)
                        }
                        Entry::Deleted { file, seq, file_seq } => writer.add_delete_file(file, seq, file_seq),
                    }
                    .map_err(|e| this.err("adding a manifest entry", e))?;
                }
                writer.write_manifest_file().await.map_err(|e| this.err("writing a manifest", e))
            }
        });
        let written = futures::future::try_join_all(writes).await?;
        self.manifests.extend(written);
        Ok(())
    }

    /// The manifest list, the snapshot and the new metadata file; the new metadata location.
    async fn commit(mut self) -> Result<(String, CommitSummary), TableError> {
        let (metadata, file_io, snapshot_id) = (self.metadata, self.file_io, self.snapshot_id);
        let list_path = format!("{}/metadata/snap-{snapshot_id}-1-{}.avro", metadata.location(), self.commit);
        let output = file_io.new_output(&list_path).map_err(|e| self.err("creating the manifest list", e))?;
        let mut list = ManifestListWriter::v2(
            output.writer().await.map_err(|e| self.err("opening the manifest list", e))?,
            snapshot_id,
            metadata.current_snapshot_id(),
            self.sequence_number,
        );
        list.add_manifests(std::mem::take(&mut self.manifests).into_iter())
            .map_err(|e| self.err("listing manifests", e))?;
        list.close().await.map_err(|e| self.err("writing the manifest list", e))?;

        let mut properties = std::mem::take(&mut self.collector).build();
        properties.insert("total-data-files".into(), self.total_files.to_string());
        properties.insert("total-records".into(), self.summary.total_records.to_string());
        properties.insert(SUMMARY_DATE.into(), self.date.to_string());
        if self.last != self.date {
            properties.insert(SUMMARY_LAST_DATE.into(), self.last.to_string());
        }
        let operation = if self.summary.removed_files > 0 { Operation::Overwrite } else { Operation::Append };
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
        let snapshot = Snapshot::builder()
            .with_snapshot_id(snapshot_id)
            .with_parent_snapshot_id(metadata.current_snapshot_id())
            .with_sequence_number(self.sequence_number)
            .with_timestamp_ms(i64::try_from(now_ms).unwrap_or(i64::MAX))
            .with_manifest_list(list_path)
            .with_summary(Summary { operation, additional_properties: properties })
            .with_schema_id(metadata.current_schema_id())
            .build();
        let current_location =
            self.table.metadata_location_result().map_err(|e| self.err("reading the metadata location", e))?;
        let new_metadata = metadata
            .clone()
            .into_builder(Some(current_location.to_string()))
            .set_branch_snapshot(snapshot, MAIN_BRANCH)
            .and_then(|b| b.build())
            .map_err(|e| self.err("building the new metadata", e))?
            .metadata;
        let location = MetadataLocation::from_str(current_location)
            .map_err(|e| self.err("parsing the metadata location", e))?
            .with_next_version()
            .with_new_metadata(&new_metadata);
        new_metadata.write_to(file_io, &location).await.map_err(|e| self.err("writing the new metadata", e))?;
        Ok((location.to_string(), self.summary))
    }
}

/// An entry of a manifest a commit writes.
enum Entry {
    Added(DataFile),
    Existing { file: DataFile, snapshot: i64, seq: i64, file_seq: Option<i64> },
    Deleted { file: DataFile, seq: i64, file_seq: Option<i64> },
}

/// The month of a date given in days since 1970-01-01, as months since 1970-01.
fn month_of(days: i32) -> i32 {
    let date = date_of(days);
    (date.year() - 1970) * 12 + date.month0() as i32
}

fn date_of(days: i32) -> NaiveDate {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN);
    epoch.checked_add_signed(chrono::Duration::days(i64::from(days))).unwrap_or(epoch)
}

/// The first and last day (days since 1970-01-01) of a month given as months since 1970-01.
fn month_days(month: i32) -> (i32, i32) {
    let first = NaiveDate::from_ymd_opt(1970 + month.div_euclid(12), month.rem_euclid(12) as u32 + 1, 1);
    let first = first.unwrap_or(NaiveDate::MIN);
    let next = first.checked_add_months(chrono::Months::new(1)).unwrap_or(first);
    (days(first), days(next) - 1)
}

/// Whether a data manifest may hold a file of one of `months`, judged by the partition summaries in the
/// manifest list: for each partition field derived from `game_date` by an order-keeping transform
/// (identity, day, month, year), the manifest's range of partition values must meet one of the months.
/// True when nothing tells (an unpartitioned table, a field without bounds).
fn may_hold(
    manifest: &ManifestFile,
    spec: &PartitionSpec,
    date_field: i32,
    months: &std::collections::BTreeSet<i32>,
) -> bool {
    let Some(summaries) = &manifest.partitions else { return true };
    for (field, summary) in spec.fields().iter().zip(summaries) {
        let ordered =
            matches!(field.transform, Transform::Identity | Transform::Day | Transform::Month | Transform::Year);
        if field.source_id != date_field || !ordered {
            continue;
        }
        let (Some(lo), Some(hi)) = (&summary.lower_bound, &summary.upper_bound) else { continue };
        let Ok(Type::Primitive(result)) = field.transform.result_type(&Type::Primitive(PrimitiveType::Date)) else {
            continue;
        };
        let bounds = (Datum::try_from_bytes(lo, result.clone()), Datum::try_from_bytes(hi, result));
        let ((Ok(lo), Ok(hi)), Ok(transform)) = (bounds, create_transform_function(&field.transform)) else {
            continue;
        };
        let meets = months.iter().any(|month| {
            let (first, last) = month_days(*month);
            match (transform.transform_literal(&Datum::date(first)), transform.transform_literal(&Datum::date(last))) {
                (Ok(Some(a)), Ok(Some(b))) => a <= hi && b >= lo,
                _ => true,
            }
        });
        if !meets {
            return false;
        }
    }
    true
}

/// The `game_date` range `(lowest, highest)` of a data file from its column bounds, in days.
fn date_range(file: &DataFile, date_field: i32) -> Option<(i32, i32)> {
    let lo = file.lower_bounds().get(&date_field)?;
    let hi = file.upper_bounds().get(&date_field)?;
    match (lo.literal(), hi.literal()) {
        (PrimitiveLiteral::Int(lo), PrimitiveLiteral::Int(hi)) => Some((*lo, *hi)),
        _ => None,
    }
}

/// The partition of `date` under `spec` (`None` if the table is unpartitioned). Every partition
/// field must be derived from `game_date` (identity, day, month, ...): rows of one date then share
/// one partition.
fn partition_key(
    table: &str,
    date: NaiveDate,
    spec: &PartitionSpecRef,
    schema: &SchemaRef,
) -> Result<Option<PartitionKey>, TableError> {
    if spec.is_unpartitioned() {
        return Ok(None);
    }
    let date_field = schema.field_id_by_name(GAME_DATE);
    let mut values = Vec::with_capacity(spec.fields().len());
    for field in spec.fields() {
        if Some(field.source_id) != date_field {
            return Err(TableError::Partition { table: table.into(), field: field.name.clone() });
        }
        let value = create_transform_function(&field.transform)
            .and_then(|f| f.transform_literal(&Datum::date(days(date))))
            .map_err(|source| TableError::Iceberg {
                table: table.into(),
                date: Some(date),
                operation: "computing the partition value",
                source: Box::new(source),
            })?;
        values.push(value.map(Literal::from));
    }
    Ok(Some(PartitionKey::new(spec.as_ref().clone(), schema.clone(), Struct::from_iter(values))))
}

/// A positive snapshot id not used by the table yet.
fn new_snapshot_id(metadata: &TableMetadata) -> i64 {
    loop {
        let (a, b) = uuid::Uuid::new_v4().as_u64_pair();
        let id = ((a ^ b) >> 1) as i64;
        if id != 0 && metadata.snapshot_by_id(id).is_none() {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The columns of the spec's `tables.tables.<name>`, read from the spec file as text, with the
    /// partition transform of each.
    fn spec_columns(name: &str) -> Vec<(String, String, bool, Option<String>)> {
        let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../specs/hoopstat-haus.yaml"))
            .expect("spec file");
        let header = format!("    {name}:");
        let mut lines = spec.lines().skip_while(|l| *l != header).skip(1);
        let mut columns = Vec::new();
        while let Some(line) = lines.next().filter(|l| l.trim_start().starts_with("- {")) {
            let field = |key: &str| {
                line.split(&format!("{key}: ")).nth(1).and_then(|r| r.split([',', ' ', '}']).next()).map(str::to_string)
            };
            columns.push((
                field("name").expect("name"),
                field("type").expect("type"),
                field("required").is_some_and(|r| r == "true"),
                field("partition"),
            ));
        }
        columns
    }

    fn kind(c: &Column) -> &'static str {
        match c.kind {
            ColumnType::Date => "date",
            ColumnType::String => "string",
            ColumnType::Long => "long",
            ColumnType::Int => "int",
            ColumnType::Double => "double",
        }
    }

    #[test]
    fn columns_are_the_specs() {
        for (name, columns) in [(PLAYER_ANALYTICS, &PLAYER_COLUMNS[..]), (TEAM_ANALYTICS, &TEAM_COLUMNS[..])] {
            let partition = |c: &Column| (c.name == GAME_DATE).then(|| DATE_PARTITION.to_string());
            let ours: Vec<_> =
                columns.iter().map(|c| (c.name.to_string(), kind(c).to_string(), c.required, partition(c))).collect();
            assert_eq!(ours, spec_columns(name), "{name}");
        }
    }

    #[test]
    fn schema_and_partitioning() {
        let schema = iceberg_schema(&TEAM_COLUMNS).expect("schema");
        assert_eq!(schema.field_id_by_name("game_date"), Some(1));
        assert_eq!(schema.field_id_by_name("season_net_rating"), Some(15));
        assert!(schema.field_by_name("game_id").expect("game_id").required);
        assert!(!schema.field_by_name("pace").expect("pace").required);
        let spec = date_partitioning(&schema, Some(DATE_PARTITION)).expect("spec");
        assert_eq!(spec.fields().len(), 1);
        assert_eq!(spec.fields()[0].source_id, 1);
        assert_eq!(spec.fields()[0].transform, Transform::Day);
        assert_eq!(spec.fields()[0].name, "game_date_day");
        assert!(date_partitioning(&schema, None).expect("none").fields().is_empty());
    }

    fn row() -> TeamAnalytics {
        TeamAnalytics {
            game_date: NaiveDate::from_ymd_opt(2024, 1, 15).unwrap_or_default(),
            season: "2023-24".into(),
            team_id: 1610612737,
            team_tricode: "ATL".into(),
            game_id: "0022300561".into(),
            points: 110,
            pace: Some(100.5),
            offensive_rating: Some(109.45),
            defensive_rating: None,
            net_rating: None,
            true_shooting_pct: Some(0.55),
            effective_fg_pct: Some(0.5),
            assist_turnover_ratio: None,
            season_games: 3,
            season_net_rating: Some(-1.5),
        }
    }

    #[test]
    fn record_batch_follows_the_table_schema() {
        let schema = iceberg_schema(&TEAM_COLUMNS).expect("schema");
        let batch = record_batch(TEAM_ANALYTICS, &schema, &[row(), row()]).expect("batch");
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.num_columns(), 15);
        let pace = batch.column_by_name("pace").expect("pace");
        assert_eq!(pace.data_type(), &DataType::Float64);
        assert_eq!(batch.column_by_name("defensive_rating").expect("drtg").null_count(), 2);
        // Field ids travel with the Arrow schema (the Parquet writer needs them).
        let field = batch.schema().field_with_name("game_id").expect("field").clone();
        assert_eq!(field.metadata().get("PARQUET:field_id").map(String::as_str), Some("5"));
    }

    #[test]
    fn record_batch_names_table_and_column_on_mismatch() {
        // A table whose `points` is a string, and one with a required column the stage lacks.
        let mut columns = TEAM_COLUMNS;
        columns[5] = col("points", ColumnType::String, false);
        let schema = iceberg_schema(&columns).expect("schema");
        let err = record_batch(TEAM_ANALYTICS, &schema, &[row()]).expect_err("type mismatch");
        assert!(matches!(&err, TableError::Column { column, .. } if column == "points"), "{err}");
        assert!(err.to_string().starts_with("table team_analytics: column `points` is Utf8"), "{err}");
        let mut columns = TEAM_COLUMNS.to_vec();
        columns.push(col("arena", ColumnType::String, true));
        let schema = iceberg_schema(&columns).expect("schema");
        let err = record_batch(TEAM_ANALYTICS, &schema, &[row()]).expect_err("missing");
        assert!(err.to_string().contains("column `arena` is required but the stage does not produce it"), "{err}");
        // An optional column the stage does not know is left null.
        let mut columns = TEAM_COLUMNS.to_vec();
        columns.push(col("arena", ColumnType::String, false));
        let schema = iceberg_schema(&columns).expect("schema");
        let batch = record_batch(TEAM_ANALYTICS, &schema, &[row()]).expect("batch");
        assert_eq!(batch.column_by_name("arena").expect("arena").null_count(), 1);
    }
}
