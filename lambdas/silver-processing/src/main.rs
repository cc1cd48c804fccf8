//! Lambda entry point of the silver-processing stage.

// The futures of aws-config and the runtime nest deeply.
#![recursion_limit = "256"]

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use pipewright_stage::StageEnv;
use pipewright_stage::log::Logger;
use silver_processing::{S3Store, Stage};

#[global_allocator]
static ALLOCATOR: silver_processing::Allocator = silver_processing::Allocator;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = StageEnv::from_env()?;
    let stage = Stage::new(&env, S3Store::from_environment().await?, Logger::stdout(&env.stage))?;
    let stage = &stage;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        stage.handle(&event.payload).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
