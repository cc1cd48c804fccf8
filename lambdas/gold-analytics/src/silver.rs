//! Silver Parquet (as `silver_processing::parquet_out` writes it) -> silver's own row types.
//!
//! Columns are found by name and must have the type silver writes; a missing column or another
//! type is an error naming the object's table and the column.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int32Type, Int64Type};
use chrono::NaiveDate;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
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
    #[error("{table}: column `{column}` has {found} values for {expected} rows")]
    Rows { table: &'static str, column: &'static str, found: usize, expected: usize },
    #[error("{table}: column `{column}` holds day {days}, not a date")]
    Date { table: &'static str, column: &'static str, days: i32 },
}

/// Typed access to the columns of one silver object, read one column at a time.
///
/// parquet-rs opens a reader, with its own zstd contexts, for every column of a projection at once;
/// read one by one, each column reuses the memory of the one before (fewer page faults: the gold
/// season reads 332 objects).
struct Columns {
    table: &'static str,
    bytes: bytes::Bytes,
    meta: ArrowReaderMetadata,
    rows: usize,
    read: Projection,
}

/// Which columns of a silver object are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    /// Every column: the rows as silver wrote them.
    All,
    /// The columns the analytics use ([`crate::compute`], [`crate::DayTotals`]); the other fields of
    /// the rows keep their default values (the stage reads about half of the column chunks).
    Analytics,
}

impl Columns {
    fn new(table: &'static str, bytes: bytes::Bytes, read: Projection) -> Result<Self, SilverReadError> {
        let meta = ArrowReaderMetadata::load(&bytes, ArrowReaderOptions::default())
            .map_err(|source| SilverReadError::Parquet { table, source })?;
        let rows = usize::try_from(meta.metadata().file_metadata().num_rows()).unwrap_or_default();
        Ok(Self { table, bytes, meta, rows, read })
    }

    fn column(&self, column: &'static str, expected: DataType) -> Result<ArrayRef, SilverReadError> {
        let table = self.table;
        let index =
            self.meta.schema().index_of(column).map_err(|_| SilverReadError::MissingColumn { table, column })?;
        let found = self.meta.schema().field(index).data_type();
        if found != &expected {
            return Err(SilverReadError::ColumnType { table, column, found: found.clone(), expected });
        }
        let mask = ProjectionMask::roots(self.meta.parquet_schema(), [index]);
        let batches = ParquetRecordBatchReaderBuilder::new_with_metadata(self.bytes.clone(), self.meta.clone())
            .with_projection(mask)
            .with_batch_size(self.rows.max(1))
            .build()
            .map_err(|source| SilverReadError::Parquet { table, source })?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| SilverReadError::Arrow { table, source })?;
        let array = match batches.as_slice() {
            [] => arrow::array::new_empty_array(&expected),
            [one] => one.column(0).clone(),
            many => {
                let arrays: Vec<&dyn Array> = many.iter().map(|b| b.column(0).as_ref()).collect();
                arrow::compute::concat(&arrays).map_err(|source| SilverReadError::Arrow { table, source })?
            }
        };
        if array.len() != self.rows {
            return Err(SilverReadError::Rows { table, column, found: array.len(), expected: self.rows });
        }
        Ok(array)
    }

    /// A column the analytics do not use: read with [`Projection::All`], else default values.
    fn unused<T: Default + Clone>(
        &self,
        read: impl FnOnce() -> Result<Vec<T>, SilverReadError>,
    ) -> Result<Vec<T>, SilverReadError> {
        match self.read {
            Projection::All => read(),
            Projection::Analytics => Ok(vec![T::default(); self.rows]),
        }
    }

    fn required(&self, column: &'static str, array: &dyn Array) -> Result<(), SilverReadError> {
        match (0..array.len()).find(|&i| array.is_null(i)) {
            Some(row) => Err(SilverReadError::Null { table: self.table, column, row }),
            None => Ok(()),
        }
    }

    fn dates(&self, column: &'static str) -> Result<Vec<NaiveDate>, SilverReadError> {
        let array = self.column(column, DataType::Date32)?;
        self.required(column, &array)?;
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
        self.required(column, &array)?;
        Ok(array.as_string::<i32>().iter().map(|v| v.unwrap_or_default().to_string()).collect())
    }

    fn opt_strings(&self, column: &'static str) -> Result<Vec<Option<String>>, SilverReadError> {
        let array = self.column(column, DataType::Utf8)?;
        Ok(array.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect())
    }

    fn longs(&self, column: &'static str) -> Result<Vec<i64>, SilverReadError> {
        let array = self.column(column, DataType::Int64)?;
        self.required(column, &array)?;
        Ok(array.as_primitive::<Int64Type>().values().to_vec())
    }

    fn ints(&self, column: &'static str) -> Result<Vec<i32>, SilverReadError> {
        let array = self.column(column, DataType::Int32)?;
        self.required(column, &array)?;
        Ok(array.as_primitive::<Int32Type>().values().to_vec())
    }

    fn doubles(&self, column: &'static str) -> Result<Vec<f64>, SilverReadError> {
        let array = self.column(column, DataType::Float64)?;
        self.required(column, &array)?;
        Ok(array.as_primitive::<Float64Type>().values().to_vec())
    }

    fn bools(&self, column: &'static str) -> Result<Vec<bool>, SilverReadError> {
        let array = self.column(column, DataType::Boolean)?;
        self.required(column, &array)?;
        Ok(array.as_boolean().values().iter().collect())
    }

    fn counts(&self) -> Result<Vec<Counts>, SilverReadError> {
        let points = self.ints("points")?;
        let fgm = self.ints("field_goals_made")?;
        let fga = self.ints("field_goals_attempted")?;
        let fg3m = self.ints("three_pointers_made")?;
        let fg3a = self.unused(|| self.ints("three_pointers_attempted"))?;
        let ftm = self.unused(|| self.ints("free_throws_made"))?;
        let fta = self.ints("free_throws_attempted")?;
        let oreb = self.ints("rebounds_offensive")?;
        let dreb = self.unused(|| self.ints("rebounds_defensive"))?;
        let reb = self.unused(|| self.ints("rebounds_total"))?;
        let ast = self.ints("assists")?;
        let stl = self.unused(|| self.ints("steals"))?;
        let blk = self.unused(|| self.ints("blocks"))?;
        let tov = self.ints("turnovers")?;
        let pf = self.unused(|| self.ints("fouls_personal"))?;
        Ok((0..self.rows)
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

/// The rows of a silver `player_stats` object.
pub fn read_players(bytes: &[u8]) -> Result<Vec<PlayerRow>, SilverReadError> {
    read_players_with(bytes::Bytes::copy_from_slice(bytes), Projection::All)
}

/// The rows of a silver `player_stats` object, the columns of `read`.
pub fn read_players_with(bytes: bytes::Bytes, read: Projection) -> Result<Vec<PlayerRow>, SilverReadError> {
    const TABLE: &str = "player_stats";
    let c = Columns::new(TABLE, bytes, read)?;
    let mut rows = Vec::with_capacity(c.rows);
    let game_date = c.dates("game_date")?;
    let mut season = c.strings("season")?;
    let mut game_id = c.strings("game_id")?;
    let team_id = c.longs("team_id")?;
    let mut team_tricode = c.strings("team_tricode")?;
    let opponent_team_id = c.unused(|| c.longs("opponent_team_id"))?;
    let is_home = c.unused(|| c.bools("is_home"))?;
    let player_id = c.longs("player_id")?;
    let mut player_name = c.strings("player_name")?;
    let mut first_name = c.unused(|| c.strings("first_name"))?;
    let mut family_name = c.unused(|| c.strings("family_name"))?;
    let mut position = c.unused(|| c.opt_strings("position"))?;
    let starter = c.unused(|| c.bools("starter"))?;
    let played = c.bools("played")?;
    let minutes = c.doubles("minutes")?;
    let counts = c.counts()?;
    let plus_minus = c.unused(|| c.doubles("plus_minus"))?;
    for i in 0..c.rows {
        rows.push(PlayerRow {
            game_date: game_date[i],
            season: std::mem::take(&mut season[i]),
            game_id: std::mem::take(&mut game_id[i]),
            team_id: team_id[i],
            team_tricode: std::mem::take(&mut team_tricode[i]),
            opponent_team_id: opponent_team_id[i],
            is_home: is_home[i],
            player_id: player_id[i],
            player_name: std::mem::take(&mut player_name[i]),
            first_name: std::mem::take(&mut first_name[i]),
            family_name: std::mem::take(&mut family_name[i]),
            position: std::mem::take(&mut position[i]),
            starter: starter[i],
            played: played[i],
            minutes: minutes[i],
            counts: counts[i],
            plus_minus: plus_minus[i],
        });
    }
    Ok(rows)
}

/// The rows of a silver `team_stats` object.
pub fn read_teams(bytes: &[u8]) -> Result<Vec<TeamRow>, SilverReadError> {
    read_teams_with(bytes::Bytes::copy_from_slice(bytes), Projection::All)
}

/// The rows of a silver `team_stats` object, the columns of `read`.
pub fn read_teams_with(bytes: bytes::Bytes, read: Projection) -> Result<Vec<TeamRow>, SilverReadError> {
    const TABLE: &str = "team_stats";
    let c = Columns::new(TABLE, bytes, read)?;
    let mut rows = Vec::with_capacity(c.rows);
    let game_date = c.dates("game_date")?;
    let mut season = c.strings("season")?;
    let mut game_id = c.strings("game_id")?;
    let team_id = c.longs("team_id")?;
    let mut team_city = c.unused(|| c.strings("team_city"))?;
    let mut team_name = c.unused(|| c.strings("team_name"))?;
    let mut team_tricode = c.strings("team_tricode")?;
    let mut team_slug = c.unused(|| c.strings("team_slug"))?;
    let is_home = c.unused(|| c.bools("is_home"))?;
    let opponent_team_id = c.unused(|| c.longs("opponent_team_id"))?;
    let opponent_points = c.ints("opponent_points")?;
    let win = c.unused(|| c.bools("win"))?;
    let minutes = c.doubles("minutes")?;
    let counts = c.counts()?;
    let plus_minus = c.unused(|| c.doubles("plus_minus"))?;
    for i in 0..c.rows {
        rows.push(TeamRow {
            game_date: game_date[i],
            season: std::mem::take(&mut season[i]),
            game_id: std::mem::take(&mut game_id[i]),
            team_id: team_id[i],
            team_city: std::mem::take(&mut team_city[i]),
            team_name: std::mem::take(&mut team_name[i]),
            team_tricode: std::mem::take(&mut team_tricode[i]),
            team_slug: std::mem::take(&mut team_slug[i]),
            is_home: is_home[i],
            opponent_team_id: opponent_team_id[i],
            opponent_points: opponent_points[i],
            win: win[i],
            minutes: minutes[i],
            counts: counts[i],
            plus_minus: plus_minus[i],
        });
    }
    Ok(rows)
}
