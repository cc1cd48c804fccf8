//! Object storage behind a small trait: S3 in production, memory in tests.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// An S3 call that failed.
#[derive(Debug, thiserror::Error)]
#[error("{operation} s3://{bucket}/{key}")]
pub struct StoreError {
    pub operation: &'static str,
    pub bucket: String,
    pub key: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// The object storage the stage writes to.
pub trait ObjectStore: Send + Sync {
    /// The object's bytes, or `None` if it does not exist.
    fn get(&self, bucket: &str, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;
    /// Writes the whole object in one request (S3 PUTs are atomic: readers see the old or the new object).
    fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// [`ObjectStore`] on S3.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self { client }
    }

    /// A client from the default credential and region chain; `AWS_ENDPOINT_URL` (a local moto)
    /// is honoured, with path-style addressing.
    pub async fn from_environment() -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let mut builder = aws_sdk_s3::config::Builder::from(&config).force_path_style(true);
        if let Some(url) = std::env::var("AWS_ENDPOINT_URL").ok().filter(|u| !u.is_empty()) {
            builder = builder.endpoint_url(url);
        }
        Self::new(aws_sdk_s3::Client::from_conf(builder.build()))
    }
}

impl ObjectStore for S3Store {
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let err = |source: Box<dyn std::error::Error + Send + Sync>| StoreError {
            operation: "GetObject",
            bucket: bucket.to_string(),
            key: key.to_string(),
            source,
        };
        match self.client.get_object().bucket(bucket).key(key).send().await {
            Ok(output) => {
                let data = output.body.collect().await.map_err(|e| err(Box::new(e)))?;
                Ok(Some(data.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(err(Box::new(e))),
        }
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(body.into())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError {
                operation: "PutObject",
                bucket: bucket.to_string(),
                key: key.to_string(),
                source: Box::new(e),
            })
    }
}

/// One PUT a [`MemoryStore`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Put {
    pub bucket: String,
    pub key: String,
    pub content_type: String,
}

#[derive(Debug, Default)]
struct Memory {
    objects: BTreeMap<(String, String), Vec<u8>>,
    puts: Vec<Put>,
}

/// [`ObjectStore`] in memory, recording every PUT (tests, dry runs).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Memory>>,
}

impl MemoryStore {
    fn with<T>(&self, f: impl FnOnce(&mut Memory) -> T) -> T {
        match self.inner.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    pub fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.with(|m| m.objects.get(&(bucket.to_string(), key.to_string())).cloned())
    }

    /// Keys of the objects in `bucket`, sorted.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        self.with(|m| m.objects.keys().filter(|(b, _)| b == bucket).map(|(_, k)| k.clone()).collect())
    }

    /// Every PUT, in order.
    pub fn puts(&self) -> Vec<Put> {
        self.with(|m| m.puts.clone())
    }
}

impl ObjectStore for MemoryStore {
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.object(bucket, key))
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StoreError> {
        self.with(|m| {
            m.puts.push(Put { bucket: bucket.into(), key: key.into(), content_type: content_type.into() });
            m.objects.insert((bucket.into(), key.into()), body);
        });
        Ok(())
    }
}
