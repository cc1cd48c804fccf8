//! A complete stage: for every object its S3 trigger delivers, it writes a JSON summary (the object's
//! key, size in bytes and number of lines) to the stage's output `summary`, whose key template names
//! `{date}` and `{name}`:
//!
//! ```yaml
//! stages:
//!   summarize:
//!     trigger:
//!       bucket: landing
//!       pattern: uploads/date=*/*.csv
//!     writes:
//!       - name: summary
//!         bucket: landing
//!         key: summaries/date={date}/{name}.json
//! ```
//!
//! The handler is generic over [`ObjectStore`], so the same code runs against S3 in Lambda and against
//! a [`MemoryStore`] in its tests (below). A failed object fails only its own SQS message (a partial
//! batch response), which SQS retries and then moves to the dead-letter queue.

// The future of `lambda_runtime::run` with the AWS SDK's is deeper than the compiler's default limit.
#![recursion_limit = "256"]

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use pipewright_stage::event::{ObjectEvent, process_s3_batch};
use pipewright_stage::log::Logger;
use pipewright_stage::store::{ObjectStore, S3Store, StoreError};
use pipewright_stage::{StageEnv, TemplateError, key_field, render_template};

/// Why an object failed; its message is reported failed.
#[derive(Debug)]
enum SummarizeError {
    Store(StoreError),
    Template(TemplateError),
    /// The object was deleted between the event and the read.
    Gone(String),
    /// The spec gives the stage no output named `summary`.
    NoOutput,
}

impl std::fmt::Display for SummarizeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SummarizeError::Store(e) => write!(f, "{e}"),
            SummarizeError::Template(e) => write!(f, "{e}"),
            SummarizeError::Gone(key) => write!(f, "{key} no longer exists"),
            SummarizeError::NoOutput => f.write_str("the stage has no output named `summary`"),
        }
    }
}

impl std::error::Error for SummarizeError {}

/// One object: read it, summarize it, write the summary (idempotent: a retry writes the same bytes to
/// the same key).
async fn summarize<S: ObjectStore>(env: &StageEnv, store: &S, object: ObjectEvent) -> Result<(), SummarizeError> {
    let output = env.output("summary").ok_or(SummarizeError::NoOutput)?;
    let body = store.get(&object.bucket, &object.key).await.map_err(SummarizeError::Store)?;
    let body = body.ok_or_else(|| SummarizeError::Gone(object.key.clone()))?;
    let date = key_field(&object.key, "date").unwrap_or("undated");
    let file = object.key.rsplit('/').next().unwrap_or(&object.key);
    let name = file.split('.').next().unwrap_or(file);
    let key = render_template(&output.key, &[("date", date), ("name", name)]).map_err(SummarizeError::Template)?;
    let summary = serde_json::json!({
        "source": format!("s3://{}/{}", object.bucket, object.key),
        "bytes": body.len(),
        "lines": body.iter().filter(|b| **b == b'\n').count(),
    });
    store
        .put(&output.bucket, &key, summary.to_string().into_bytes(), "application/json")
        .await
        .map_err(SummarizeError::Store)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    // The environment contract the generated template sets on the function.
    let env = StageEnv::from_env()?;
    let input = env.input.clone().ok_or("PIPEWRIGHT_INPUT_BUCKET is not set: the stage has no trigger")?;
    let store = S3Store::from_environment().await?;
    let log = Logger::stdout(&env.stage);
    let (env, input, store, log) = (&env, &input, &store, &log);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        // Decodes each message's S3 notification (URL-encoded keys; `s3:TestEvent`s and canaries
        // succeed without work; keys outside the trigger pattern are skipped and logged), runs
        // `summarize` per object and reports the failed messages in `batchItemFailures`.
        let limit = store.object_limit();
        process_s3_batch(&event.payload, input, limit, log, |object| summarize(env, store, object))
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipewright_stage::store::MemoryStore;

    fn env() -> StageEnv {
        let vars = [
            ("PIPEWRIGHT_STAGE", "summarize"),
            ("PIPEWRIGHT_INPUT_BUCKET", "landing"),
            ("PIPEWRIGHT_INPUT_PATTERN", "uploads/date=*/*.csv"),
            ("PIPEWRIGHT_OUTPUTS", "summary=s3://landing/summaries/date={date}/{name}.json"),
        ];
        StageEnv::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
            .expect("a valid contract")
    }

    /// An SQS message as S3 sends it: the key URL-encoded (`=` as `%3D`, a space as `+`).
    fn message(id: &str, body: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"messageId": id, "body": body.to_string()})
    }

    fn created(key: &str) -> serde_json::Value {
        serde_json::json!({"Records": [{
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "landing"}, "object": {"key": key}}
        }]})
    }

    #[tokio::test]
    async fn summarizes_each_object_and_fails_only_the_missing_ones() {
        let env = env();
        let input = env.input.clone().expect("triggered");
        let store = MemoryStore::default();
        store.insert("landing", "uploads/date=2024-01-15/sales q1.csv", b"a,b\n1,2\n3,4\n".to_vec());
        let event: SqsEvent = serde_json::from_value(serde_json::json!({"Records": [
            message("present", created("uploads/date%3D2024-01-15/sales+q1.csv")),
            message("missing", created("uploads/date%3D2024-01-16/gone.csv")),
            message("test-event", serde_json::json!({"Event": "s3:TestEvent", "Bucket": "landing"})),
            message("canary", created("uploads/date%3Dpipewright-canary-1a2b/pipewright-canary-1a2b.csv")),
        ]}))
        .expect("an SQS event");
        let (log, lines) = Logger::capture("summarize");

        let response =
            process_s3_batch(&event, &input, store.object_limit(), &log, |object| summarize(&env, &store, object))
                .await
                .expect("every message has an id");

        let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(failed, ["missing"]);
        let summary = store.object("landing", "summaries/date=2024-01-15/sales q1.json").expect("written");
        let summary: serde_json::Value = serde_json::from_slice(&summary).expect("JSON");
        assert_eq!(summary["bytes"], 12);
        assert_eq!(summary["lines"], 3);
        assert_eq!(store.keys("landing").len(), 2, "the input and one summary");
        assert!(lines.lines().iter().any(|l| l["level"] == "ERROR" && l["message_id"] == "missing"));
    }
}
