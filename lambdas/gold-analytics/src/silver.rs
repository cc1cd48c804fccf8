//! Silver Parquet (as `silver_processing::parquet_out` writes it) -> silver's own row types.
//!
//! Columns are found by name and must have the type silver writes; a missing column or another
//! type is an error naming the object's table and the column.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int32Type, Int64Type};
use chrono::NaiveDate;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, RowGroups};
use parquet::arrow::{ProjectionMask, parquet_to_arrow_field_levels};
use parquet::basic::Compression;
use parquet::column::page::{Page, PageIterator, PageMetadata, PageReader};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, RowGroupMetaData};
use parquet::file::serialized_reader::SerializedPageReader;
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
/// season reads 332 objects). And the pages of every column are decompressed with the object's one
/// zstd context ([`ZstdRowGroups`]).
struct Columns {
    table: &'static str,
    bytes: Arc<Bytes>,
    meta: ArrowReaderMetadata,
    rows: usize,
    read: Projection,
    zstd: Arc<Mutex<zstd::bulk::Decompressor<'static>>>,
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
    fn new(table: &'static str, bytes: Bytes, read: Projection) -> Result<Self, SilverReadError> {
        let err = |source| SilverReadError::Parquet { table, source };
        let meta = ArrowReaderMetadata::load(&bytes, ArrowReaderOptions::default()).map_err(err)?;
        let rows = usize::try_from(meta.metadata().file_metadata().num_rows()).unwrap_or_default();
        let zstd = zstd::bulk::Decompressor::new().map_err(|e| err(ParquetError::External(Box::new(e))))?;
        Ok(Self { table, bytes: Arc::new(bytes), meta, rows, read, zstd: Arc::new(Mutex::new(zstd)) })
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
        let levels = parquet_to_arrow_field_levels(self.meta.parquet_schema(), mask, Some(self.meta.schema().fields()))
            .map_err(|source| SilverReadError::Parquet { table, source })?;
        let row_groups = ZstdRowGroups { bytes: &self.bytes, metadata: self.meta.metadata(), zstd: &self.zstd };
        let batches = ParquetRecordBatchReader::try_new_with_row_groups(&levels, &row_groups, self.rows.max(1), None)
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

/// The column chunks of an object for parquet's record batch reader, zstd chunks decompressed with the
/// object's one zstd context.
///
/// parquet-rs gives the page reader of every column chunk a codec of its own, which creates a zstd
/// decompression and a compression context, and zstd queries the CPU (`cpuid`) for each: on an x86
/// virtual machine that traps to the hypervisor, and with 64 column chunks a date it was a quarter of
/// the gold season's time. Here parquet's page reader reads a zstd chunk as if it were uncompressed
/// (page headers, sizes and checks are parquet's) and [`Decompressing`] decompresses each page.
/// Chunks of other codecs are read by parquet as usual.
struct ZstdRowGroups<'a> {
    bytes: &'a Arc<Bytes>,
    metadata: &'a ParquetMetaData,
    zstd: &'a Arc<Mutex<zstd::bulk::Decompressor<'static>>>,
}

impl ZstdRowGroups<'_> {
    fn page_reader(&self, row_group: &RowGroupMetaData, column: usize) -> Result<Box<dyn PageReader>, ParquetError> {
        let chunk = row_group.column(column);
        let rows = usize::try_from(row_group.num_rows()).unwrap_or_default();
        if !matches!(chunk.compression(), Compression::ZSTD(_)) {
            return Ok(Box::new(SerializedPageReader::new(Arc::clone(self.bytes), chunk, rows, None)?));
        }
        let raw = chunk.clone().into_builder().set_compression(Compression::UNCOMPRESSED).build()?;
        let pages = SerializedPageReader::new(Arc::clone(self.bytes), &raw, rows, None)?;
        Ok(Box::new(Decompressing { pages, zstd: Arc::clone(self.zstd) }))
    }
}

impl RowGroups for ZstdRowGroups<'_> {
    fn num_rows(&self) -> usize {
        self.metadata.row_groups().iter().map(|rg| usize::try_from(rg.num_rows()).unwrap_or_default()).sum()
    }

    fn column_chunks(&self, i: usize) -> Result<Box<dyn PageIterator>, ParquetError> {
        let readers: Vec<_> = self.metadata.row_groups().iter().map(|rg| self.page_reader(rg, i)).collect();
        Ok(Box::new(ChunkPages(readers.into_iter())))
    }

    fn row_groups(&self) -> Box<dyn Iterator<Item = &RowGroupMetaData> + '_> {
        Box::new(self.metadata.row_groups().iter())
    }

    fn metadata(&self) -> &ParquetMetaData {
        self.metadata
    }
}

/// The page readers of one column, one per row group.
struct ChunkPages(std::vec::IntoIter<Result<Box<dyn PageReader>, ParquetError>>);

impl Iterator for ChunkPages {
    type Item = Result<Box<dyn PageReader>, ParquetError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }
}

impl PageIterator for ChunkPages {}

/// The most a decompressed page may hold (a silver page holds a date's rows of one column: kilobytes).
const MAX_PAGE_BYTES: usize = 64 << 20;

/// The pages of a zstd column chunk (read by parquet as uncompressed), decompressed.
struct Decompressing {
    pages: SerializedPageReader<Bytes>,
    zstd: Arc<Mutex<zstd::bulk::Decompressor<'static>>>,
}

/// A page's buffer decompressed: `prefix` bytes stay as they are (a version 2 page's levels), the rest is
/// one zstd frame.
fn decompress(
    zstd: &Mutex<zstd::bulk::Decompressor<'static>>,
    buf: &Bytes,
    prefix: usize,
) -> Result<Bytes, ParquetError> {
    let external = |e: std::io::Error| ParquetError::External(Box::new(e));
    let (levels, frame) =
        buf.split_at_checked(prefix).ok_or_else(|| ParquetError::General("page shorter than its levels".into()))?;
    let mut out = Vec::from(levels);
    // parquet writers record the content size in the frame (parquet-rs and Arrow C++ both do);
    // without it, zstd's streaming decoder finds the end, reading at most `MAX_PAGE_BYTES`.
    match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(size)) => {
            // a corrupt frame must not make the stage allocate whatever it claims
            let size = usize::try_from(size)
                .ok()
                .filter(|&n| n <= MAX_PAGE_BYTES)
                .ok_or_else(|| ParquetError::General(format!("a zstd page claims {size} bytes")))?;
            let mut zstd = zstd.lock().map_err(|_| ParquetError::General("zstd context poisoned".into()))?;
            out.extend_from_slice(&zstd.decompress(frame, size).map_err(external)?);
        }
        _ => {
            let decoder = zstd::stream::read::Decoder::with_buffer(frame).map_err(external)?;
            let limit = u64::try_from(MAX_PAGE_BYTES).unwrap_or(u64::MAX).saturating_add(1);
            let read =
                std::io::Read::read_to_end(&mut std::io::Read::take(decoder, limit), &mut out).map_err(external)?;
            if read > MAX_PAGE_BYTES {
                return Err(ParquetError::General(format!(
                    "a zstd page without a declared size decompresses to more than {MAX_PAGE_BYTES} bytes"
                )));
            }
        }
    }
    Ok(Bytes::from(out))
}

impl Decompressing {
    fn decompressed(&self, mut page: Page) -> Result<Page, ParquetError> {
        match &mut page {
            Page::DataPage { buf, .. } | Page::DictionaryPage { buf, .. } => *buf = decompress(&self.zstd, buf, 0)?,
            Page::DataPageV2 { buf, def_levels_byte_len, rep_levels_byte_len, is_compressed, .. } => {
                if *is_compressed {
                    let levels = usize::try_from(*def_levels_byte_len + *rep_levels_byte_len).unwrap_or(usize::MAX);
                    *buf = decompress(&self.zstd, buf, levels)?;
                    *is_compressed = false;
                }
            }
        }
        Ok(page)
    }
}

impl Iterator for Decompressing {
    type Item = Result<Page, ParquetError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.get_next_page().transpose()
    }
}

impl PageReader for Decompressing {
    fn get_next_page(&mut self) -> Result<Option<Page>, ParquetError> {
        self.pages.get_next_page()?.map(|page| self.decompressed(page)).transpose()
    }

    fn peek_next_page(&mut self) -> Result<Option<PageMetadata>, ParquetError> {
        self.pages.peek_next_page()
    }

    fn skip_next_page(&mut self) -> Result<(), ParquetError> {
        self.pages.skip_next_page()
    }

    fn at_record_boundary(&mut self) -> Result<bool, ParquetError> {
        self.pages.at_record_boundary()
    }
}

/// The rows of a silver `player_stats` object.
pub fn read_players(bytes: &[u8]) -> Result<Vec<PlayerRow>, SilverReadError> {
    read_players_with(Bytes::copy_from_slice(bytes), Projection::All)
}

/// The rows of a silver `player_stats` object, the columns of `read`.
pub fn read_players_with(bytes: Bytes, read: Projection) -> Result<Vec<PlayerRow>, SilverReadError> {
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
    read_teams_with(Bytes::copy_from_slice(bytes), Projection::All)
}

/// The rows of a silver `team_stats` object, the columns of `read`.
pub fn read_teams_with(bytes: Bytes, read: Projection) -> Result<Vec<TeamRow>, SilverReadError> {
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

#[cfg(test)]
mod tests {
    use arrow::compute::concat_batches;
    use arrow::record_batch::{RecordBatch, RecordBatchReader};
    use hoopstat_fixtures::Generator;
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::basic::ZstdLevel;
    use parquet::file::properties::{WriterProperties, WriterVersion};
    use silver_processing::parquet_out::{players_parquet, teams_parquet};

    use super::*;

    /// The whole file as parquet's own reader reads it.
    fn parquets_read(bytes: &Bytes) -> RecordBatch {
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes.clone()).expect("reader").build().expect("build");
        let schema = reader.schema();
        let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().expect("batches");
        concat_batches(&schema, &batches).expect("concat")
    }

    /// The same rows written again by parquet's `ArrowWriter` with `props`.
    fn rewritten(batch: &RecordBatch, props: WriterProperties) -> Bytes {
        let mut out = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).expect("writer");
        writer.write(batch).expect("write");
        writer.close().expect("close");
        Bytes::from(out)
    }

    /// Every column, read with the object's one zstd context, equals what parquet's reader reads.
    fn assert_reads_as_parquet_does(table: &'static str, bytes: Bytes) {
        let expected = parquets_read(&bytes);
        let c = Columns::new(table, bytes, Projection::All).expect("columns");
        for (i, field) in expected.schema().fields().iter().enumerate() {
            let name: &'static str = Box::leak(field.name().clone().into_boxed_str());
            let ours = c.column(name, field.data_type().clone()).expect("column");
            assert_eq!(ours.as_ref(), expected.column(i).as_ref(), "{table}.{name}");
        }
    }

    #[test]
    fn one_zstd_context_reads_what_parquets_reader_reads() {
        let g = Generator::new(5);
        let day = g.day(NaiveDate::from_ymd_opt(2025, 2, 1).expect("date"), 7);
        let t = silver_processing::transform(&day.to_bronze(), day.date).expect("transform");
        assert!(t.players.iter().any(|p| p.position.is_none()), "a null in the optional column");
        let players = Bytes::from(players_parquet(&t.players).expect("players"));
        let teams = Bytes::from(teams_parquet(&t.teams).expect("teams"));
        // silver's own files (zstd, version 1 pages)
        assert_reads_as_parquet_does("player_stats", players.clone());
        assert_reads_as_parquet_does("team_stats", teams);
        // version 2 pages (levels uncompressed before the zstd frame), dictionary pages, several pages per
        // chunk, and a file without compression (read by parquet's own page reader)
        let batch = parquets_read(&players);
        let zstd = Compression::ZSTD(ZstdLevel::try_new(3).expect("level"));
        let v2 = WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_2_0)
            .set_compression(zstd)
            .set_data_page_row_count_limit(50)
            .set_write_batch_size(50)
            .build();
        assert_reads_as_parquet_does("player_stats", rewritten(&batch, v2));
        let plain = WriterProperties::builder().set_compression(Compression::UNCOMPRESSED).build();
        assert_reads_as_parquet_does("player_stats", rewritten(&batch, plain));
        // and the rows are the ones silver wrote
        assert_eq!(read_players(&players).expect("rows"), t.players);
    }

    #[test]
    fn a_page_claiming_more_than_a_page_can_hold_is_an_error() {
        let zstd = Mutex::new(zstd::bulk::Decompressor::new().expect("context"));
        let page = zstd::bulk::compress(b"levels-free values", 3).expect("compress");
        let page = Bytes::from([b"LV".as_slice(), &page].concat());
        assert_eq!(decompress(&zstd, &page, 2).expect("page").as_ref(), b"LVlevels-free values");
        // a frame header (magic, single segment, 8-byte content size) claiming 1 TiB
        let mut claim = vec![0x28, 0xB5, 0x2F, 0xFD, 0xE0];
        claim.extend_from_slice(&(1u64 << 40).to_le_bytes());
        let err = decompress(&zstd, &Bytes::from(claim), 0).expect_err("refused");
        assert!(err.to_string().contains("claims 1099511627776 bytes"), "{err}");
        assert!(decompress(&zstd, &page, 99).is_err(), "levels longer than the page");

        // a frame without a declared size is read up to the limit, not to its end
        let unsized_frame = |len: usize| {
            let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).expect("encoder");
            encoder.include_contentsize(false).expect("no size");
            std::io::copy(&mut std::io::Read::take(std::io::repeat(7), len as u64), &mut encoder).expect("write");
            Bytes::from(encoder.finish().expect("frame"))
        };
        let small = unsized_frame(1000);
        assert_eq!(zstd::zstd_safe::get_frame_content_size(&small).ok().flatten(), None);
        assert_eq!(decompress(&zstd, &small, 0).expect("page").as_ref(), vec![7u8; 1000].as_slice());
        let bomb = unsized_frame(MAX_PAGE_BYTES + 1);
        assert!(bomb.len() < 64 << 10, "a small frame that expands past the limit");
        let err = decompress(&zstd, &bomb, 0).expect_err("refused");
        assert!(err.to_string().contains("decompresses to more than"), "{err}");
    }
}
