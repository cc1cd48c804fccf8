//! The hoopstat-haus bronze-ingestion stage: the NBA stats API box scores of a date -> one bronze
//! object per date, `{"date": "YYYY-MM-DD", "games": [<boxscoretraditionalv3 response>, ...]}`,
//! written once after all games are fetched (never game by game).
//!
//! [`response`] and [`dates`] are pure; [`nba`] is the polite HTTP client; [`ingest`] does one date
//! through the [`store::ObjectStore`] trait (S3, or memory in tests).

pub mod dates;
pub mod ingest;
pub mod nba;
pub mod response;
pub mod store;

pub use ingest::{ConfigError, DaySummary, Ingest, IngestError, default_contract};
pub use nba::{ClientConfig, NbaClient};
pub use store::{MemoryStore, ObjectStore, S3Store};
