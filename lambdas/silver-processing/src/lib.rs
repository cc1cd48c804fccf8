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
pub use transform::{Transformed, season_of, transform};
