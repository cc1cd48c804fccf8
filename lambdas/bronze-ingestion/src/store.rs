//! Object storage behind a small trait: S3 in production, memory in tests (shared by the stages,
//! `pipewright_stage::store`).

pub use pipewright_stage::store::{MemoryStore, ObjectStore, Put, S3Store, StoreError};
