//! Building the Lambda stages: the manifest `pipewright build` writes and `pipewright deploy` reads.

pub mod manifest;
