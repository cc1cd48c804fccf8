//! Lambda entry point of the gold-analytics stage.

// The futures of aws-config, iceberg and the runtime nest deeply.
#![recursion_limit = "256"]

use aws_lambda_events::event::sqs::SqsEvent;
use gold_analytics::stage::{ConfigError, S3Store, Stage};
use gold_analytics::table::{GoldTables, TablesConfig};
use lambda_runtime::{LambdaEvent, service_fn};
use pipewright_stage::log::Logger;
use pipewright_stage::{StageEnv, StageInputs};

#[global_allocator]
static ALLOCATOR: silver_processing::Allocator = silver_processing::Allocator;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = StageEnv::from_env()?;
    let inputs = StageInputs::from_env()?;
    let tables = env.tables.as_ref().ok_or_else(|| ConfigError::NoTables(env.stage.clone()))?;
    let sink = GoldTables::connect(TablesConfig::from_environment(tables)).await?;
    let store = S3Store::from_environment().await?;
    let stage = Stage::new(&env, &inputs, store, sink, Logger::stdout(&env.stage))?;
    let stage = &stage;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        stage.handle(&event.payload).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
