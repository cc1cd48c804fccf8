//! The stages `run-local` runs in process: the real handlers of `lambdas/`, constructed from the
//! deployed function's own environment (the contract as CloudFormation set it), with clients of the
//! local emulator.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use gold_analytics::stage::S3Store as GoldStore;
use gold_analytics::table::{GoldTables, TablesConfig};
use pipewright_common::log::{Captured, Logger};
use pipewright_common::{StageEnv, StageInputs};
use std::collections::BTreeMap;

/// The stages whose handlers run in process, by stage name (= crate name under `lambdas/`).
pub const KNOWN: [&str; 2] = ["silver-processing", "gold-analytics"];

/// The stage that writes generated box scores (a local stage: cron, not a Lambda).
pub const SOURCE: &str = "bronze-ingestion";

/// One stage's handler, ready to take SQS batches.
pub enum Handler {
    Silver(Box<silver_processing::Stage<silver_processing::S3Store>>),
    Gold(Box<gold_analytics::stage::Stage<GoldStore, GoldTables>>),
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Handler::Silver(_) => "Handler::Silver",
            Handler::Gold(_) => "Handler::Gold",
        })
    }
}

/// A handler could not be constructed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(
        "stage `{0}` has no in-process handler (run-local runs the stages of lambdas/: {known})",
        known = KNOWN.join(", ")
    )]
    Unknown(String),
    #[error("stage `{stage}`: the deployed function's environment is not the stage contract: {reason}")]
    Contract { stage: String, reason: String },
    #[error("stage `{stage}`: connecting to its S3 Tables: {reason}")]
    Tables { stage: String, reason: String },
}

/// Where the emulator is, for the clients the handlers make.
#[derive(Debug, Clone)]
pub struct Local<'a> {
    pub sdk: &'a aws_types::SdkConfig,
    pub endpoint: &'a str,
    pub region: &'a str,
}

impl Handler {
    /// The handler of `stage`, from the deployed function's environment variables (returned parsed);
    /// its log lines are kept in the returned [`Captured`].
    pub async fn connect(
        stage: &str,
        env: &BTreeMap<String, String>,
        local: &Local<'_>,
    ) -> Result<(Handler, Captured, StageEnv), HandlerError> {
        let lookup = |name: &str| env.get(name).cloned();
        let contract =
            |e: pipewright_common::EnvError| HandlerError::Contract { stage: stage.into(), reason: e.to_string() };
        let stage_env = StageEnv::from_lookup(lookup).map_err(contract)?;
        let (log, captured) = Logger::capture(stage);
        let s3 =
            aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(local.sdk).force_path_style(true).build());
        let handler = match stage {
            "silver-processing" => {
                let store = silver_processing::S3Store::new(s3);
                silver_processing::Stage::new(&stage_env, store, log)
                    .map(|s| Handler::Silver(Box::new(s)))
                    .map_err(|e| HandlerError::Contract { stage: stage.into(), reason: e.to_string() })?
            }
            "gold-analytics" => {
                let inputs = StageInputs::from_lookup(lookup).map_err(contract)?;
                let tables = stage_env.tables.as_ref().ok_or_else(|| HandlerError::Contract {
                    stage: stage.into(),
                    reason: "no PIPEWRIGHT_TABLE_BUCKET_ARN".into(),
                })?;
                let sink =
                    GoldTables::with_client(tables_config(tables, local), s3tables(local)).await.map_err(|e| {
                        HandlerError::Tables { stage: stage.into(), reason: pipewright_common::log::error_chain(&e) }
                    })?;
                let gold = gold_analytics::stage::Stage::new(&stage_env, &inputs, GoldStore::new(s3), sink, log)
                    .map_err(|e| HandlerError::Contract { stage: stage.into(), reason: e.to_string() })?;
                Handler::Gold(Box::new(gold))
            }
            other => return Err(HandlerError::Unknown(other.into())),
        };
        Ok((handler, captured, stage_env))
    }

    /// Handles one batch, as the Lambda runtime would call the function.
    pub async fn handle(&self, event: &SqsEvent) -> Result<SqsBatchResponse, pipewright_common::event::BatchError> {
        match self {
            Handler::Silver(s) => s.handle(event).await,
            Handler::Gold(g) => g.handle(event).await,
        }
    }
}

/// The gold tables of the emulator (for the handler and for reading the results back).
pub fn tables_config(tables: &pipewright_common::TablesEnv, local: &Local<'_>) -> TablesConfig {
    // The warehouse files are read and written by iceberg's own S3 client, with the emulator's
    // credentials (run-local uses the same static ones for every client).
    let props = vec![
        ("s3.access-key-id".to_string(), super::EMULATOR_KEY.to_string()),
        ("s3.secret-access-key".to_string(), super::EMULATOR_KEY.to_string()),
    ];
    TablesConfig {
        table_bucket_arn: tables.table_bucket_arn.clone(),
        namespace: tables.namespace.clone(),
        endpoint_url: Some(local.endpoint.to_string()),
        s3_endpoint_url: Some(local.endpoint.to_string()),
        region: Some(local.region.to_string()),
        file_io_props: props,
    }
}

/// An S3 Tables client of the emulator.
pub fn s3tables(local: &Local<'_>) -> aws_sdk_s3tables::Client {
    aws_sdk_s3tables::Client::from_conf(aws_sdk_s3tables::config::Builder::from(local.sdk).build())
}
