//! Player and team rows -> Parquet bytes (zstd, typed schemas, no timestamps: the same rows always
//! give the same bytes).

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use bytes::Bytes;
use chrono::NaiveDate;
use parquet::arrow::{ArrowSchemaConverter, add_encoded_arrow_schema_to_metadata};
use parquet::basic::{Compression, ZstdLevel};
use parquet::column::page::{CompressedPage, Page, PageWriteSpec, PageWriter};
use parquet::column::writer::{ColumnCloseResult, ColumnWriter, get_column_writer, get_typed_column_writer_mut};
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DataType as ParquetType, DoubleType, Int32Type, Int64Type,
};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesPtr};
use parquet::file::writer::{SerializedFileWriter, SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

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
type WriteColumn<'a, R> = Box<dyn Fn(&[R], &mut ColumnWriter<'_>) -> Result<(), ParquetError> + 'a>;

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
            get_typed_column_writer_mut::<T>(w).write_batch(&values, None, None).map(drop)
        });
        self.push(name, data_type, false, write)
    }

    fn date(&mut self, name: &str, f: impl Fn(&R) -> NaiveDate + 'a) -> &mut Self {
        self.required::<Int32Type>(name, DataType::Date32, move |r| days_since_epoch(f(r)))
    }

    fn string(&mut self, name: &str, f: impl Fn(&R) -> &str + 'a) -> &mut Self {
        let write: WriteColumn<'a, R> = Box::new(move |rows, w| {
            let values = byte_arrays(rows.iter().map(&f));
            get_typed_column_writer_mut::<ByteArrayType>(w).write_batch(&values, None, None).map(drop)
        });
        self.push(name, DataType::Utf8, false, write)
    }

    fn opt_string(&mut self, name: &str, f: impl Fn(&R) -> Option<&str> + 'a) -> &mut Self {
        let write: WriteColumn<'a, R> = Box::new(move |rows, w| {
            let levels: Vec<i16> = rows.iter().map(|r| i16::from(f(r).is_some())).collect();
            let values = byte_arrays(rows.iter().filter_map(&f));
            get_typed_column_writer_mut::<ByteArrayType>(w).write_batch(&values, Some(&levels), None).map(drop)
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

    /// The rows as a Parquet file of this table's schema, written one column chunk after the other,
    /// every page compressed with the same zstd context ([`ZstdPages`]).
    fn write(&mut self, table: &'static str, rows: &[R]) -> Result<Vec<u8>, ParquetWriteError> {
        let err = |source| ParquetWriteError::Parquet { table, source };
        let schema = Schema::new(std::mem::take(&mut self.fields));
        let parquet_schema = ArrowSchemaConverter::new().convert(&schema).map_err(err)?;
        let mut pages = ZstdPages::new(ZSTD_LEVEL).map_err(err)?;
        let mut props = writer_properties(pages.compression).map_err(err)?;
        add_encoded_arrow_schema_to_metadata(&schema, &mut props);
        // The column writers encode uncompressed pages (so parquet creates no zstd contexts of its
        // own); `ZstdPages` compresses them.
        let column_props = Arc::new(writer_properties(Compression::UNCOMPRESSED).map_err(err)?);
        let mut out = Vec::new();
        let mut file =
            SerializedFileWriter::new(&mut out, parquet_schema.root_schema_ptr(), Arc::new(props)).map_err(err)?;
        let mut row_group = file.next_row_group().map_err(err)?;
        for (i, write) in self.writers.iter().enumerate() {
            let (chunk, close) =
                pages.column(parquet_schema.column(i), &column_props, |w| write(rows, w)).map_err(err)?;
            row_group.append_column(&chunk, close).map_err(err)?;
        }
        row_group.close().map_err(err)?;
        file.close().map_err(err)?;
        Ok(out)
    }
}

/// The zstd level of every column chunk (pyarrow's default is 1; 3 is zstd's own default).
const ZSTD_LEVEL: i32 = 3;

/// Compresses the pages of column chunks with one zstd context.
///
/// Parquet's own zstd codec creates a compression and a decompression context for every column
/// writer, and creating a zstd context queries the CPU (`cpuid`), which traps to the hypervisor on
/// x86 virtual machines (Lambda's Firecracker included): with 60 column chunks per date that was a
/// third of silver's time for a game day (see lambdas/README.md). The column writers here encode
/// uncompressed pages; this page writer compresses each page exactly as parquet's codec does
/// (`ZSTD_compress2` at the same level, so the bytes are the same: tested against parquet's own
/// path) and the chunk's metadata is then marked zstd.
struct ZstdPages {
    compressor: zstd::bulk::Compressor<'static>,
    compression: Compression,
}

/// A page writer that compresses each page and hands it to parquet's serializing page writer.
struct Compressing<'a, W: std::io::Write + Send> {
    compressor: &'a mut zstd::bulk::Compressor<'static>,
    inner: SerializedPageWriter<'a, W>,
}

impl ZstdPages {
    fn new(level: i32) -> Result<Self, ParquetError> {
        let compression = Compression::ZSTD(ZstdLevel::try_new(level)?);
        let compressor = zstd::bulk::Compressor::new(level).map_err(|e| ParquetError::External(Box::new(e)))?;
        Ok(Self { compressor, compression })
    }

    /// One column chunk: its bytes (to append to a row group) and what closing its writer returned,
    /// with the chunk marked zstd.
    fn column(
        &mut self,
        descr: ColumnDescPtr,
        props: &WriterPropertiesPtr,
        write: impl FnOnce(&mut ColumnWriter<'_>) -> Result<(), ParquetError>,
    ) -> Result<(Bytes, ColumnCloseResult), ParquetError> {
        let mut sink = TrackedWrite::new(Vec::new());
        let mut close = {
            let pages = Compressing { compressor: &mut self.compressor, inner: SerializedPageWriter::new(&mut sink) };
            let mut writer = get_column_writer(descr, Arc::clone(props), Box::new(pages));
            write(&mut writer)?;
            writer.close()?
        };
        close.metadata = close.metadata.into_builder().set_compression(self.compression).build()?;
        Ok((Bytes::from(sink.into_inner()?), close))
    }
}

impl<W: std::io::Write + Send> Compressing<'_, W> {
    fn compress(&mut self, buf: &[u8]) -> Result<Bytes, ParquetError> {
        let compressed = self.compressor.compress(buf).map_err(|e| ParquetError::External(Box::new(e)))?;
        Ok(Bytes::from(compressed))
    }
}

impl<W: std::io::Write + Send> PageWriter for Compressing<'_, W> {
    fn write_page(&mut self, page: CompressedPage) -> Result<PageWriteSpec, ParquetError> {
        let uncompressed_size = page.uncompressed_size();
        // Version 1 data pages and dictionary pages are compressed whole (the writer properties
        // here never make version 2 pages, whose levels stay uncompressed).
        let mut compressed = page.compressed_page().clone();
        match &mut compressed {
            Page::DataPage { buf, .. } | Page::DictionaryPage { buf, .. } => *buf = self.compress(buf)?,
            Page::DataPageV2 { .. } => {
                return Err(ParquetError::General("silver writes version 1 data pages only".into()));
            }
        }
        self.inner.write_page(CompressedPage::new(compressed, uncompressed_size))
    }

    fn close(&mut self) -> Result<(), ParquetError> {
        self.inner.close()
    }
}

pub fn players_parquet(rows: &[PlayerRow]) -> Result<Vec<u8>, ParquetWriteError> {
    player_columns().write("player_stats", rows)
}

pub fn teams_parquet(rows: &[TeamRow]) -> Result<Vec<u8>, ParquetWriteError> {
    team_columns().write("team_stats", rows)
}

fn player_columns<'a>() -> Columns<'a, PlayerRow> {
    let mut columns = Columns::<PlayerRow>::new();
    columns
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
        .double("plus_minus", |r| r.plus_minus);
    columns
}

fn team_columns<'a>() -> Columns<'a, TeamRow> {
    let mut columns = Columns::<TeamRow>::new();
    columns
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
        .double("plus_minus", |r| r.plus_minus);
    columns
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
fn writer_properties(compression: Compression) -> Result<WriterProperties, ParquetError> {
    Ok(WriterProperties::builder()
        .set_compression(compression)
        .set_dictionary_enabled(false)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by(CREATED_BY.to_string())
        .build())
}

#[cfg(test)]
mod tests {
    use hoopstat_fixtures::Generator;

    use super::*;

    impl<R> Columns<'_, R> {
        /// The same file written by parquet's own zstd codec (a column writer with its own contexts).
        fn write_with_parquets_codec(&mut self, rows: &[R]) -> Vec<u8> {
            let schema = Schema::new(std::mem::take(&mut self.fields));
            let parquet_schema = ArrowSchemaConverter::new().convert(&schema).expect("schema");
            let level = ZstdLevel::try_new(ZSTD_LEVEL).expect("level");
            let mut props = writer_properties(Compression::ZSTD(level)).expect("properties");
            add_encoded_arrow_schema_to_metadata(&schema, &mut props);
            let mut out = Vec::new();
            let mut file = SerializedFileWriter::new(&mut out, parquet_schema.root_schema_ptr(), Arc::new(props))
                .expect("file writer");
            let mut row_group = file.next_row_group().expect("row group");
            for write in &self.writers {
                let mut column = row_group.next_column().expect("column").expect("a column per field");
                write(rows, column.untyped()).expect("write");
                column.close().expect("close");
            }
            row_group.close().expect("row group");
            file.close().expect("file");
            out
        }
    }

    #[test]
    fn one_shared_zstd_context_writes_the_bytes_parquets_codec_writes() {
        let generator = Generator::new(7);
        let day = generator.day(NaiveDate::from_ymd_opt(2025, 1, 15).expect("date"), 6);
        let t = crate::transform(&day.to_bronze(), day.date).expect("transform");
        assert!(t.players.iter().any(|p| p.position.is_none()), "a null in the optional column");
        let players = players_parquet(&t.players).expect("players");
        assert_eq!(players, player_columns().write_with_parquets_codec(&t.players));
        let teams = teams_parquet(&t.teams).expect("teams");
        assert_eq!(teams, team_columns().write_with_parquets_codec(&t.teams));
        // and every column chunk says zstd (a file keeps the codec, not its level)
        let reader = parquet::file::serialized_reader::SerializedFileReader::new(Bytes::from(players)).expect("reader");
        let meta = parquet::file::reader::FileReader::metadata(&reader);
        let columns = meta.row_group(0).columns();
        assert_eq!(columns.len(), 31);
        assert!(columns.iter().all(|c| matches!(c.compression(), Compression::ZSTD(_))), "{columns:?}");
    }
}
