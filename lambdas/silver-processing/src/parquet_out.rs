//! Player and team rows -> Parquet bytes (zstd, typed schemas, no timestamps: the same rows always
//! give the same bytes).

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use bytes::Bytes;
use chrono::NaiveDate;
use parquet::arrow::{ArrowSchemaConverter, add_encoded_arrow_schema_to_metadata};
use parquet::basic::{Compression, ZstdLevel};
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DataType as ParquetType, DoubleType, Int32Type, Int64Type,
};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::{SerializedColumnWriter, SerializedFileWriter};

use crate::transform::{Counts, PlayerRow, TeamRow};

/// The `created_by` written into every file: fixed, so that output bytes do not depend on the
/// library version's default string.
pub const CREATED_BY: &str = "pipewright silver-processing";

#[derive(Debug, thiserror::Error)]
pub enum ParquetWriteError {
    #[error("writing the {table} Parquet file")]
    Parquet {
        table: &'static str,
        #[source]
        source: ParquetError,
    },
}

const COUNT_FIELDS: [&str; 15] = [
    "points",
    "field_goals_made",
    "field_goals_attempted",
    "three_pointers_made",
    "three_pointers_attempted",
    "free_throws_made",
    "free_throws_attempted",
    "rebounds_offensive",
    "rebounds_defensive",
    "rebounds_total",
    "assists",
    "steals",
    "blocks",
    "turnovers",
    "fouls_personal",
];

fn count_values(c: &Counts) -> [i32; 15] {
    [
        c.points,
        c.field_goals_made,
        c.field_goals_attempted,
        c.three_pointers_made,
        c.three_pointers_attempted,
        c.free_throws_made,
        c.free_throws_attempted,
        c.rebounds_offensive,
        c.rebounds_defensive,
        c.rebounds_total,
        c.assists,
        c.steals,
        c.blocks,
        c.turnovers,
        c.fouls_personal,
    ]
}

/// Writes one column chunk from the rows.
type WriteColumn<'a, R> = Box<dyn Fn(&[R], &mut SerializedColumnWriter<'_>) -> Result<(), ParquetError> + 'a>;

/// The columns of a table, in schema order: each one's Arrow field and how its values come from a row.
struct Columns<'a, R> {
    fields: Vec<Field>,
    writers: Vec<WriteColumn<'a, R>>,
}

fn days_since_epoch(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN);
    i32::try_from((date - epoch).num_days()).unwrap_or(i32::MIN)
}

/// The values as Parquet byte arrays sharing one buffer (one allocation per column, not per value).
fn byte_arrays<'r>(values: impl Iterator<Item = &'r str> + Clone) -> Vec<ByteArray> {
    let mut buf = Vec::with_capacity(values.clone().map(str::len).sum());
    let ends: Vec<usize> = values
        .map(|v| {
            buf.extend_from_slice(v.as_bytes());
            buf.len()
        })
        .collect();
    let buf = Bytes::from(buf);
    let mut start = 0;
    ends.into_iter()
        .map(|end| {
            let value = ByteArray::from(buf.slice(start..end));
            start = end;
            value
        })
        .collect()
}

impl<'a, R> Columns<'a, R> {
    fn new() -> Self {
        Self { fields: Vec::new(), writers: Vec::new() }
    }

    fn push(&mut self, name: &str, data_type: DataType, nullable: bool, write: WriteColumn<'a, R>) -> &mut Self {
        self.fields.push(Field::new(name, data_type, nullable));
        self.writers.push(write);
        self
    }

    /// A required column of a fixed-width Parquet type (`T::T` is its Rust value).
    fn required<T: ParquetType>(&mut self, name: &str, data_type: DataType, f: impl Fn(&R) -> T::T + 'a) -> &mut Self {
        let write: WriteColumn<'a, R> = Box::new(move |rows, w| {
            let values: Vec<T::T> = rows.iter().map(&f).collect();
            w.typed::<T>().write_batch(&values, None, None).map(drop)
        });
        self.push(name, data_type, false, write)
    }

    fn date(&mut self, name: &str, f: impl Fn(&R) -> NaiveDate + 'a) -> &mut Self {
        self.required::<Int32Type>(name, DataType::Date32, move |r| days_since_epoch(f(r)))
    }

    fn string(&mut self, name: &str, f: impl Fn(&R) -> &str + 'a) -> &mut Self {
        let write: WriteColumn<'a, R> = Box::new(move |rows, w| {
            let values = byte_arrays(rows.iter().map(&f));
            w.typed::<ByteArrayType>().write_batch(&values, None, None).map(drop)
        });
        self.push(name, DataType::Utf8, false, write)
    }

    fn opt_string(&mut self, name: &str, f: impl Fn(&R) -> Option<&str> + 'a) -> &mut Self {
        let write: WriteColumn<'a, R> = Box::new(move |rows, w| {
            let levels: Vec<i16> = rows.iter().map(|r| i16::from(f(r).is_some())).collect();
            let values = byte_arrays(rows.iter().filter_map(&f));
            w.typed::<ByteArrayType>().write_batch(&values, Some(&levels), None).map(drop)
        });
        self.push(name, DataType::Utf8, true, write)
    }

    fn long(&mut self, name: &str, f: impl Fn(&R) -> i64 + 'a) -> &mut Self {
        self.required::<Int64Type>(name, DataType::Int64, f)
    }

    fn int(&mut self, name: &str, f: impl Fn(&R) -> i32 + 'a) -> &mut Self {
        self.required::<Int32Type>(name, DataType::Int32, f)
    }

    fn double(&mut self, name: &str, f: impl Fn(&R) -> f64 + 'a) -> &mut Self {
        self.required::<DoubleType>(name, DataType::Float64, f)
    }

    fn boolean(&mut self, name: &str, f: impl Fn(&R) -> bool + 'a) -> &mut Self {
        self.required::<BoolType>(name, DataType::Boolean, f)
    }

    fn counts(&mut self, f: impl Fn(&R) -> &Counts + Copy + 'a) -> &mut Self {
        for (i, name) in COUNT_FIELDS.iter().enumerate() {
            self.int(name, move |r| count_values(f(r))[i]);
        }
        self
    }

    /// The rows as a Parquet file of this table's schema, written one column chunk after the other.
    fn write(&mut self, table: &'static str, rows: &[R]) -> Result<Vec<u8>, ParquetWriteError> {
        let err = |source| ParquetWriteError::Parquet { table, source };
        let schema = Schema::new(std::mem::take(&mut self.fields));
        let parquet_schema = ArrowSchemaConverter::new().convert(&schema).map_err(err)?;
        let mut props = writer_properties().map_err(err)?;
        add_encoded_arrow_schema_to_metadata(&schema, &mut props);
        let mut out = Vec::new();
        let mut file =
            SerializedFileWriter::new(&mut out, parquet_schema.root_schema_ptr(), Arc::new(props)).map_err(err)?;
        let mut row_group = file.next_row_group().map_err(err)?;
        for write in &self.writers {
            let Some(mut column) = row_group.next_column().map_err(err)? else {
                return Err(err(ParquetError::General(format!("{table}: fewer Parquet columns than fields"))));
            };
            write(rows, &mut column).map_err(err)?;
            column.close().map_err(err)?;
        }
        row_group.close().map_err(err)?;
        file.close().map_err(err)?;
        Ok(out)
    }
}

pub fn players_parquet(rows: &[PlayerRow]) -> Result<Vec<u8>, ParquetWriteError> {
    Columns::<PlayerRow>::new()
        .date("game_date", |r| r.game_date)
        .string("season", |r| &r.season)
        .string("game_id", |r| &r.game_id)
        .long("team_id", |r| r.team_id)
        .string("team_tricode", |r| &r.team_tricode)
        .long("opponent_team_id", |r| r.opponent_team_id)
        .boolean("is_home", |r| r.is_home)
        .long("player_id", |r| r.player_id)
        .string("player_name", |r| &r.player_name)
        .string("first_name", |r| &r.first_name)
        .string("family_name", |r| &r.family_name)
        .opt_string("position", |r| r.position.as_deref())
        .boolean("starter", |r| r.starter)
        .boolean("played", |r| r.played)
        .double("minutes", |r| r.minutes)
        .counts(|r| &r.counts)
        .double("plus_minus", |r| r.plus_minus)
        .write("player_stats", rows)
}

pub fn teams_parquet(rows: &[TeamRow]) -> Result<Vec<u8>, ParquetWriteError> {
    Columns::<TeamRow>::new()
        .date("game_date", |r| r.game_date)
        .string("season", |r| &r.season)
        .string("game_id", |r| &r.game_id)
        .long("team_id", |r| r.team_id)
        .string("team_city", |r| &r.team_city)
        .string("team_name", |r| &r.team_name)
        .string("team_tricode", |r| &r.team_tricode)
        .string("team_slug", |r| &r.team_slug)
        .boolean("is_home", |r| r.is_home)
        .long("opponent_team_id", |r| r.opponent_team_id)
        .int("opponent_points", |r| r.opponent_points)
        .boolean("win", |r| r.win)
        .double("minutes", |r| r.minutes)
        .counts(|r| &r.counts)
        .double("plus_minus", |r| r.plus_minus)
        .write("team_stats", rows)
}

/// The writer settings of every file: zstd level 3, one row group, fixed `created_by`.
///
/// A date's file holds a few hundred rows: every column chunk is one data page. So no dictionary
/// encoding (a dictionary page per column costs more than it saves at this size: files 5% smaller
/// without) and statistics per column chunk only (min/max stay in the footer; a page index over a
/// single page is dead weight). Both also cut the encoding time.
///
/// The columns are written one after the other (parquet's `ArrowWriter` opens a writer, with its own
/// zstd contexts, for every column at once; one at a time, each column reuses the memory of the one
/// before), and the Arrow schema is embedded as `ArrowWriter` does, so readers get the same types.
fn writer_properties() -> Result<WriterProperties, ParquetError> {
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_dictionary_enabled(false)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by(CREATED_BY.to_string())
        .build())
}
