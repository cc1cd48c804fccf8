//! The hoopstat-haus silver-processing stage: a bronze document (all box scores of one date) ->
//! validated player and team rows -> two Parquet objects, plus a quarantine report for invalid
//! records.
//!
//! [`transform`] and [`parquet_out`] are pure (no AWS, no clock); [`stage`] does the I/O through
//! the [`stage::ObjectStore`] trait, implemented on S3 by [`stage::S3Store`].

pub mod parquet_out;
pub mod stage;
pub mod transform;

pub use stage::{S3Store, Stage, StageError};

/// The global allocator of the stages' binaries (and of the benchmarks, so that they measure what runs):
/// `#[global_allocator] static ALLOCATOR: silver_processing::Allocator = silver_processing::Allocator;`.
/// Parquet's readers create a zstd compression and a decompression context (~100-200 kB each) per column
/// chunk; with glibc's malloc every small file paid for fresh pages again (mmap, page faults, trim). mimalloc
/// keeps freed memory for reuse; built without transparent huge pages (`no_thp`: with them, the first touch
/// of each 2 MiB region zeroes all of it, which dominates a short-lived process).
pub use mimalloc::MiMalloc as Allocator;
pub use transform::{Transformed, season_of, transform};
