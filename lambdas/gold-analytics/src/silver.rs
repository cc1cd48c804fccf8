//! Silver Parquet (as `silver_processing::parquet_out` writes it) -> silver's own row types.
//!
//! Columns are found by name and must have the type silver writes; a missing column or another
//! type is an error naming the object's table and the column.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int32Type, Int64Type};
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::errors::ParquetError;
use silver_processing::transform::{Counts, PlayerRow, TeamRow};

/// A silver object that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SilverReadError {
    #[error("{table}: not a readable Parquet file")]
    Parquet {
        table: &'static str,
        #[source]
        source: ParquetError,
    },
    #[error("{table}: reading record batches")]
    Arrow {
        table: &'static str,
        #[source]
        source: arrow::error::ArrowError,
    },
    #[error("{table}: column `{column}` is missing")]
    MissingColumn { table: &'static str, column: &'static str },
    #[error("{table}: column `{column}` is {found}, expected {expected}")]
    ColumnType { table: &'static str, column: &'static str, found: DataType, expected: DataType },
    #[error("{table}: column `{column}` has a null in row {row}")]
    Null { table: &'static str, column: &'static str, row: usize },
    #[error("{table}: column `{column}` holds day {days}, not a date")]
    Date { table: &'static str, column: &'static str, days: i32 },
}

/// Typed access to the columns of one record batch.
struct Columns<'a> {
    table: &'static str,
    batch: &'a RecordBatch,
}

impl<'a> Columns<'a> {
    fn column(&self, column: &'static str, expected: DataType) -> Result<&'a dyn Array, SilverReadError> {
        let array = self
            .batch
            .column_by_name(column)
            .ok_or(SilverReadError::MissingColumn { table: self.table, column })?
            .as_ref();
        if array.data_type() != &expected {
            return Err(SilverReadError::ColumnType {
                table: self.table,
                column,
                found: array.data_type().clone(),
                expected,
            });
        }
        Ok(array)
    }

    fn required(&self, column: &'static str, array: &dyn Array) -> Result<(), SilverReadError> {
        match (0..array.len()).find(|&i| array.is_null(i)) {
            Some(row) => Err(SilverReadError::Null { table: self.table, column, row }),
            None => Ok(()),
        }
    }

    fn dates(&self, column: &'static str) -> Result<Vec<NaiveDate>, SilverReadError> {
        let array = self.column(column, DataType::Date32)?;
        self.required(column, array)?;
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN);
        array
            .as_primitive::<Date32Type>()
            .values()
            .iter()
            .map(|&days| {
                epoch.checked_add_signed(chrono::Duration::days(i64::from(days))).ok_or(SilverReadError::Date {
                    table: self.table,
                    column,
                    days,
                })
            })
            .collect()
    }

    fn strings(&self, column: &'static str) -> Result<Vec<String>, SilverReadError> {
        let array = self.column(column, DataType::Utf8)?;
        self.required(column, array)?;
        Ok(array.as_string::<i32>().iter().map(|v| v.unwrap_or_default().to_string()).collect())
    }

    fn opt_strings(&self, column: &'static str) -> Result<Vec<Option<String>>, SilverReadError> {
        let array = self.column(column, DataType::Utf8)?;
        Ok(array.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect())
    }

    fn longs(&self, column: &'static str) -> Result<Vec<i64>, SilverReadError> {
        let array = self.column(column, DataType::Int64)?;
        self.required(column, array)?;
        Ok(array.as_primitive::<Int64Type>().values().to_vec())
    }

    fn ints(&self, column: &'static str) -> Result<Vec<i32>, SilverReadError> {
        let array = self.column(column, DataType::Int32)?;
        self.required(column, array)?;
        Ok(array.as_primitive::<Int32Type>().values().to_vec())
    }

    fn doubles(&self, column: &'static str) -> Result<Vec<f64>, SilverReadError> {
        let array = self.column(column, DataType::Float64)?;
        self.required(column, array)?;
        Ok(array.as_primitive::<Float64Type>().values().to_vec())
    }

    fn bools(&self, column: &'static str) -> Result<Vec<bool>, SilverReadError> {
        let array = self.column(column, DataType::Boolean)?;
        self.required(column, array)?;
        Ok(array.as_boolean().values().iter().collect())
    }

    fn counts(&self) -> Result<Vec<Counts>, SilverReadError> {
        let points = self.ints("points")?;
        let fgm = self.ints("field_goals_made")?;
        let fga = self.ints("field_goals_attempted")?;
        let fg3m = self.ints("three_pointers_made")?;
        let fg3a = self.ints("three_pointers_attempted")?;
        let ftm = self.ints("free_throws_made")?;
        let fta = self.ints("free_throws_attempted")?;
        let oreb = self.ints("rebounds_offensive")?;
        let dreb = self.ints("rebounds_defensive")?;
        let reb = self.ints("rebounds_total")?;
        let ast = self.ints("assists")?;
        let stl = self.ints("steals")?;
        let blk = self.ints("blocks")?;
        let tov = self.ints("turnovers")?;
        let pf = self.ints("fouls_personal")?;
        Ok((0..self.batch.num_rows())
            .map(|i| Counts {
                points: points[i],
                field_goals_made: fgm[i],
                field_goals_attempted: fga[i],
                three_pointers_made: fg3m[i],
                three_pointers_attempted: fg3a[i],
                free_throws_made: ftm[i],
                free_throws_attempted: fta[i],
                rebounds_offensive: oreb[i],
                rebounds_defensive: dreb[i],
                rebounds_total: reb[i],
                assists: ast[i],
                steals: stl[i],
                blocks: blk[i],
                turnovers: tov[i],
                fouls_personal: pf[i],
            })
            .collect())
    }
}

fn batches(table: &'static str, bytes: &[u8]) -> Result<Vec<RecordBatch>, SilverReadError> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
        .and_then(|b| b.build())
        .map_err(|source| SilverReadError::Parquet { table, source })?;
    reader.collect::<Result<Vec<_>, _>>().map_err(|source| SilverReadError::Arrow { table, source })
}

/// The rows of a silver `player_stats` object.
pub fn read_players(bytes: &[u8]) -> Result<Vec<PlayerRow>, SilverReadError> {
    const TABLE: &str = "player_stats";
    let mut rows = Vec::new();
    for batch in batches(TABLE, bytes)? {
        let c = Columns { table: TABLE, batch: &batch };
        let game_date = c.dates("game_date")?;
        let season = c.strings("season")?;
        let game_id = c.strings("game_id")?;
        let team_id = c.longs("team_id")?;
        let team_tricode = c.strings("team_tricode")?;
        let opponent_team_id = c.longs("opponent_team_id")?;
        let is_home = c.bools("is_home")?;
        let player_id = c.longs("player_id")?;
        let player_name = c.strings("player_name")?;
        let first_name = c.strings("first_name")?;
        let family_name = c.strings("family_name")?;
        let position = c.opt_strings("position")?;
        let starter = c.bools("starter")?;
        let played = c.bools("played")?;
        let minutes = c.doubles("minutes")?;
        let counts = c.counts()?;
        let plus_minus = c.doubles("plus_minus")?;
        for i in 0..batch.num_rows() {
            rows.push(PlayerRow {
                game_date: game_date[i],
                season: season[i].clone(),
                game_id: game_id[i].clone(),
                team_id: team_id[i],
                team_tricode: team_tricode[i].clone(),
                opponent_team_id: opponent_team_id[i],
                is_home: is_home[i],
                player_id: player_id[i],
                player_name: player_name[i].clone(),
                first_name: first_name[i].clone(),
                family_name: family_name[i].clone(),
                position: position[i].clone(),
                starter: starter[i],
                played: played[i],
                minutes: minutes[i],
                counts: counts[i],
                plus_minus: plus_minus[i],
            });
        }
    }
    Ok(rows)
}

/// The rows of a silver `team_stats` object.
pub fn read_teams(bytes: &[u8]) -> Result<Vec<TeamRow>, SilverReadError> {
    const TABLE: &str = "team_stats";
    let mut rows = Vec::new();
    for batch in batches(TABLE, bytes)? {
        let c = Columns { table: TABLE, batch: &batch };
        let game_date = c.dates("game_date")?;
        let season = c.strings("season")?;
        let game_id = c.strings("game_id")?;
        let team_id = c.longs("team_id")?;
        let team_city = c.strings("team_city")?;
        let team_name = c.strings("team_name")?;
        let team_tricode = c.strings("team_tricode")?;
        let team_slug = c.strings("team_slug")?;
        let is_home = c.bools("is_home")?;
        let opponent_team_id = c.longs("opponent_team_id")?;
        let opponent_points = c.ints("opponent_points")?;
        let win = c.bools("win")?;
        let minutes = c.doubles("minutes")?;
        let counts = c.counts()?;
        let plus_minus = c.doubles("plus_minus")?;
        for i in 0..batch.num_rows() {
            rows.push(TeamRow {
                game_date: game_date[i],
                season: season[i].clone(),
                game_id: game_id[i].clone(),
                team_id: team_id[i],
                team_city: team_city[i].clone(),
                team_name: team_name[i].clone(),
                team_tricode: team_tricode[i].clone(),
                team_slug: team_slug[i].clone(),
                is_home: is_home[i],
                opponent_team_id: opponent_team_id[i],
                opponent_points: opponent_points[i],
                win: win[i],
                minutes: minutes[i],
                counts: counts[i],
                plus_minus: plus_minus[i],
            });
        }
    }
    Ok(rows)
}
