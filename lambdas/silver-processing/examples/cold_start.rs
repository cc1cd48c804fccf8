//! Cold start of the silver-processing stage, for `scripts/bench-lambdas.py`: the process starts,
//! builds the stage as `main.rs` does (environment contract, stdout JSON logger, current-thread Tokio
//! runtime) but with an in-memory object store holding the bronze document read from `BRONZE_FILE`,
//! handles one SQS event (an S3 `ObjectCreated:Put` of that document, AWS form), checks that no message
//! failed and that both Parquet objects were written, and exits. The wall time from spawn to exit is
//! measured outside.
//!
//! Not included: the Lambda runtime API round trip and building the AWS SDK client (the in-memory store
//! replaces S3).
//!
//! `cold_start BRONZE_FILE` (the file's path must have a `date=YYYY-MM-DD` segment).

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use hoopstat_fixtures::contract::{BRONZE, SILVER};
use pipewright_stage::log::Logger;
use pipewright_stage::store::MemoryStore;
use pipewright_stage::{StageEnv, key_field};
use silver_processing::Stage;

#[global_allocator]
static ALLOCATOR: silver_processing::Allocator = silver_processing::Allocator;

fn env() -> StageEnv {
    hoopstat_fixtures::contract::silver_env()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: cold_start BRONZE_FILE")?;
    let date = key_field(&path, "date").ok_or("the bronze file's path has no date= segment")?;
    let key = format!("raw/box_scores/date={date}/data.json");
    let store = MemoryStore::default();
    store.insert(BRONZE, &key, std::fs::read(&path)?);
    let env = StageEnv::from_lookup(|name| env().to_vars().into_iter().find(|(n, _)| *n == name).map(|(_, v)| v))?;
    let stage = Stage::new(&env, store.clone(), Logger::stdout(&env.stage))?;

    let body = serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2025-01-16T09:30:01.123Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.7"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "bronze",
            "bucket": {"name": BRONZE, "arn": format!("arn:aws:s3:::{BRONZE}")},
            "object": {"key": key.replace('=', "%3D"), "size": 1024, "sequencer": "0055AED6DCD90281E5"}}
    }]});
    let mut message = SqsMessage::default();
    message.message_id = Some("cold-start".into());
    message.body = Some(body.to_string());
    let mut event = SqsEvent::default();
    event.records = vec![message];

    let response = stage.handle(&event).await?;
    if !response.batch_item_failures.is_empty() {
        return Err("the event was reported as failed".into());
    }
    let written = store.keys(SILVER).len();
    if written != 2 {
        return Err(format!("expected 2 silver objects, found {written}").into());
    }
    Ok(())
}
