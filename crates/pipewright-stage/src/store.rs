//! Object storage behind one small trait, shared by the stages: [`S3Store`] in production (feature
//! `s3`), [`MemoryStore`] in tests and benchmarks.
//!
//! Errors name the S3 operation, the bucket and the key, with the SDK's error as the source. A
//! missing object is not an error (`None`); a conditional PUT whose condition does not hold is not
//! an error either ([`Written::PreconditionFailed`]). Reads stop at the store's [`ObjectLimit`]: an
//! object above it is a [`StoreError`] whose source is [`TooLarge`], and its bytes are not read.

use std::collections::BTreeMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

pub use crate::{ObjectLimit, TooLarge};

/// An object storage call that failed.
#[derive(Debug, thiserror::Error)]
#[error("{operation} s3://{bucket}/{key}")]
pub struct StoreError {
    pub operation: &'static str,
    pub bucket: String,
    pub key: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl StoreError {
    /// The object was above the store's [`ObjectLimit`].
    pub fn too_large(&self) -> Option<&TooLarge> {
        self.source.downcast_ref::<TooLarge>()
    }
}

/// An object read back: its bytes and its entity tag (S3's ETag, quotes included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub body: Vec<u8>,
    pub etag: Option<String>,
}

/// One key of a listing, with its entity tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub etag: Option<String>,
}

/// The condition of a conditional PUT (S3 `If-Match` / `If-None-Match: *`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Unconditional.
    None,
    /// Only if the object exists with this entity tag.
    IfMatch(String),
    /// Only if the object does not exist.
    IfAbsent,
}

/// The outcome of a conditional PUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Written; the new object's entity tag if the store returned one.
    Written(Option<String>),
    /// The condition did not hold (HTTP 412, or 404 / 409 for `If-Match`): nothing was written.
    PreconditionFailed,
}

/// The object storage a stage reads and writes.
pub trait ObjectStore: Send + Sync {
    /// The object with its entity tag, or `None` if it does not exist.
    fn get_object(&self, bucket: &str, key: &str) -> impl Future<Output = Result<Option<Object>, StoreError>> + Send;

    /// Writes the whole object in one request if `condition` holds (S3 PUTs are atomic: readers see
    /// the old or the new object).
    fn put_if(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        condition: Condition,
    ) -> impl Future<Output = Result<Written, StoreError>> + Send;

    /// The most bytes a read returns of one object; a stage passes it to the batch helpers of
    /// [`crate::event`], which refuse an oversized object from its event before reading it.
    fn object_limit(&self) -> ObjectLimit;

    /// Every key under `prefix`, in key order.
    fn list(&self, bucket: &str, prefix: &str) -> impl Future<Output = Result<Vec<Listed>, StoreError>> + Send;

    /// The object's bytes, or `None` if it does not exist.
    fn get(&self, bucket: &str, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send {
        async move { Ok(self.get_object(bucket, key).await?.map(|o| o.body)) }
    }

    /// Writes the whole object unconditionally.
    fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        async move {
            match self.put_if(bucket, key, body, content_type, Condition::None).await? {
                Written::Written(_) => Ok(()),
                Written::PreconditionFailed => Err(StoreError {
                    operation: "PutObject",
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                    source: "precondition failed on an unconditional PUT".into(),
                }),
            }
        }
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
    gets: Vec<String>,
    lists: Vec<String>,
    fail_puts_containing: Option<String>,
    limit: ObjectLimit,
}

/// [`ObjectStore`] in memory, recording every PUT, GET and LIST (tests, benchmarks, dry runs). Entity tags
/// are a hash of the content, so identical bytes have the same tag, as S3's MD5 ETags of single-part
/// uploads.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Memory>>,
}

fn content_tag(body: &[u8]) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}{:08x}\"", hasher.finish(), body.len())
}

impl MemoryStore {
    fn with<T>(&self, f: impl FnOnce(&mut Memory) -> T) -> T {
        match self.inner.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Stores an object without recording a PUT (test setup).
    pub fn insert(&self, bucket: &str, key: &str, body: Vec<u8>) {
        self.with(|m| m.objects.insert((bucket.into(), key.into()), body));
    }

    /// Removes an object (test setup).
    pub fn remove(&self, bucket: &str, key: &str) {
        self.with(|m| m.objects.remove(&(bucket.to_string(), key.to_string())));
    }

    pub fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.with(|m| m.objects.get(&(bucket.to_string(), key.to_string())).cloned())
    }

    /// Keys of the objects in `bucket`, sorted.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        self.with(|m| m.objects.keys().filter(|(b, _)| b == bucket).map(|(_, k)| k.clone()).collect())
    }

    /// From now on, reads of objects above `limit` fail with [`TooLarge`] (the default is
    /// [`ObjectLimit::default`]).
    pub fn set_limit(&self, limit: ObjectLimit) {
        self.with(|m| m.limit = limit);
    }

    /// From now on, PUTs to keys containing `part` fail (an injected S3 error); `None` ends it.
    pub fn fail_puts_containing(&self, part: Option<&str>) {
        self.with(|m| m.fail_puts_containing = part.map(str::to_string));
    }

    /// Every PUT that was written, in order.
    pub fn puts(&self) -> Vec<Put> {
        self.with(|m| m.puts.clone())
    }

    /// The key of every GET, in order.
    pub fn gets(&self) -> Vec<String> {
        self.with(|m| m.gets.clone())
    }

    /// The prefix of every LIST, in order.
    pub fn lists(&self) -> Vec<String> {
        self.with(|m| m.lists.clone())
    }
}

impl ObjectStore for MemoryStore {
    fn object_limit(&self) -> ObjectLimit {
        self.with(|m| m.limit)
    }

    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<Object>, StoreError> {
        self.with(|m| {
            m.gets.push(key.to_string());
            let Some(body) = m.objects.get(&(bucket.to_string(), key.to_string())) else { return Ok(None) };
            m.limit.check(body.len() as u64).map_err(|e| StoreError {
                operation: "GetObject",
                bucket: bucket.into(),
                key: key.into(),
                source: Box::new(e),
            })?;
            Ok(Some(Object { etag: Some(content_tag(body)), body: body.clone() }))
        })
    }

    async fn put_if(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        condition: Condition,
    ) -> Result<Written, StoreError> {
        self.with(|m| {
            if m.fail_puts_containing.as_deref().is_some_and(|part| key.contains(part)) {
                return Err(StoreError {
                    operation: "PutObject",
                    bucket: bucket.into(),
                    key: key.into(),
                    source: "injected failure: SlowDown".into(),
                });
            }
            let id = (bucket.to_string(), key.to_string());
            let current = m.objects.get(&id).map(|b| content_tag(b));
            let holds = match &condition {
                Condition::None => true,
                Condition::IfMatch(tag) => current.as_deref() == Some(tag.as_str()),
                Condition::IfAbsent => current.is_none(),
            };
            if !holds {
                return Ok(Written::PreconditionFailed);
            }
            let tag = content_tag(&body);
            m.puts.push(Put { bucket: bucket.into(), key: key.into(), content_type: content_type.into() });
            m.objects.insert(id, body);
            Ok(Written::Written(Some(tag)))
        })
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<Listed>, StoreError> {
        Ok(self.with(|m| {
            m.lists.push(prefix.to_string());
            m.objects
                .iter()
                .filter(|((b, k), _)| b == bucket && k.starts_with(prefix))
                .map(|((_, k), body)| Listed { key: k.clone(), etag: Some(content_tag(body)) })
                .collect()
        }))
    }
}

#[cfg(feature = "s3")]
pub use s3::S3Store;

#[cfg(feature = "s3")]
mod s3 {
    use super::{Condition, Listed, Object, ObjectLimit, ObjectStore, StoreError, TooLarge, Written};
    use crate::EnvError;
    use aws_sdk_s3::error::ProvideErrorMetadata;

    /// [`ObjectStore`] on S3.
    #[derive(Debug, Clone)]
    pub struct S3Store {
        client: aws_sdk_s3::Client,
        limit: ObjectLimit,
    }

    impl S3Store {
        /// A store on `client` with [`ObjectLimit::default`].
        pub fn new(client: aws_sdk_s3::Client) -> Self {
            Self { client, limit: ObjectLimit::default() }
        }

        /// The same store, reading at most `limit` of one object.
        pub fn with_limit(self, limit: ObjectLimit) -> Self {
            Self { limit, ..self }
        }

        /// A client for `config` (path-style addressing; `endpoint_url`, if given, replaces the
        /// configured endpoint: a local moto).
        pub fn from_config(config: &aws_config::SdkConfig, endpoint_url: Option<&str>) -> Self {
            let mut builder = aws_sdk_s3::config::Builder::from(config).force_path_style(true);
            if let Some(url) = endpoint_url {
                builder = builder.endpoint_url(url);
            }
            Self::new(aws_sdk_s3::Client::from_conf(builder.build()))
        }

        /// A client from the default credential and region chain; `AWS_ENDPOINT_URL` (a local moto)
        /// is honoured, with path-style addressing. Reads are limited by the function's memory
        /// ([`ObjectLimit::from_env`]).
        pub async fn from_environment() -> Result<Self, EnvError> {
            let limit = ObjectLimit::from_env()?;
            let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let endpoint = std::env::var("AWS_ENDPOINT_URL").ok().filter(|u| !u.is_empty());
            Ok(Self::from_config(&config, endpoint.as_deref()).with_limit(limit))
        }

        pub fn client(&self) -> &aws_sdk_s3::Client {
            &self.client
        }
    }

    fn error(
        operation: &'static str,
        bucket: &str,
        key: &str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError { operation, bucket: bucket.to_string(), key: key.to_string(), source: Box::new(source) }
    }

    impl ObjectStore for S3Store {
        fn object_limit(&self) -> ObjectLimit {
            self.limit
        }

        async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<Object>, StoreError> {
            match self.client.get_object().bucket(bucket).key(key).send().await {
                Ok(mut output) => {
                    let etag = output.e_tag().map(str::to_string);
                    let declared = output.content_length().and_then(|n| u64::try_from(n).ok());
                    if let Some(size) = declared {
                        self.limit.check(size).map_err(|e| error("GetObject", bucket, key, e))?;
                    }
                    // Streamed with the limit enforced on every chunk, whatever the declared length.
                    let mut body = Vec::with_capacity(declared.map_or(0, |n| n as usize));
                    while let Some(chunk) =
                        output.body.try_next().await.map_err(|e| error("GetObject", bucket, key, e))?
                    {
                        if (body.len() + chunk.len()) as u64 > self.limit.get() {
                            let e = TooLarge { size: None, limit: self.limit };
                            return Err(error("GetObject", bucket, key, e));
                        }
                        body.extend_from_slice(&chunk);
                    }
                    Ok(Some(Object { body, etag }))
                }
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
                Err(e) => Err(error("GetObject", bucket, key, e.into_service_error())),
            }
        }

        async fn put_if(
            &self,
            bucket: &str,
            key: &str,
            body: Vec<u8>,
            content_type: &str,
            condition: Condition,
        ) -> Result<Written, StoreError> {
            let mut request =
                self.client.put_object().bucket(bucket).key(key).content_type(content_type).body(body.into());
            let conditional = condition != Condition::None;
            match condition {
                Condition::None => {}
                Condition::IfMatch(tag) => request = request.if_match(tag),
                Condition::IfAbsent => request = request.if_none_match("*"),
            }
            match request.send().await {
                Ok(output) => Ok(Written::Written(output.e_tag().map(str::to_string))),
                Err(e) => {
                    let status = e.raw_response().map(|r| r.status().as_u16());
                    let code = e.as_service_error().and_then(|s| s.code()).map(str::to_string);
                    // 412 PreconditionFailed; 409 ConditionalRequestConflict (a concurrent conditional
                    // write); 404 NoSuchKey for If-Match on a deleted object.
                    let failed_condition = conditional
                        && (matches!(status, Some(412 | 409 | 404))
                            || matches!(
                                code.as_deref(),
                                Some("PreconditionFailed" | "ConditionalRequestConflict" | "NoSuchKey")
                            ));
                    if failed_condition {
                        Ok(Written::PreconditionFailed)
                    } else {
                        Err(error("PutObject", bucket, key, e.into_service_error()))
                    }
                }
            }
        }

        async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<Listed>, StoreError> {
            let mut keys = Vec::new();
            let mut pages = self.client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| error("ListObjectsV2", bucket, prefix, e.into_service_error()))?;
                keys.extend(page.contents().iter().filter_map(|o| {
                    o.key().map(|key| Listed { key: key.to_string(), etag: o.e_tag().map(str::to_string) })
                }));
            }
            Ok(keys)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_stop_at_the_limit() {
        let store = MemoryStore::default();
        store.insert("b", "small", vec![0; 64]);
        store.insert("b", "large", vec![0; 65]);
        store.set_limit(ObjectLimit::bytes(64));
        assert_eq!(store.object_limit(), ObjectLimit::bytes(64));
        assert!(store.get("b", "small").await.expect("within the limit").is_some());
        let error = store.get("b", "large").await.expect_err("above the limit");
        assert_eq!(error.too_large(), Some(&TooLarge { size: Some(65), limit: ObjectLimit::bytes(64) }));
        assert_eq!((error.operation, error.key.as_str()), ("GetObject", "large"));
    }

    #[tokio::test]
    async fn memory_store_conditions_and_tags() {
        let store = MemoryStore::default();
        assert_eq!(store.get_object("b", "k").await.expect("get"), None);
        let Written::Written(Some(tag)) =
            store.put_if("b", "k", b"one".to_vec(), "text/plain", Condition::IfAbsent).await.expect("put")
        else {
            panic!("first conditional put refused");
        };
        assert_eq!(
            store.put_if("b", "k", b"two".to_vec(), "text/plain", Condition::IfAbsent).await.expect("put"),
            Written::PreconditionFailed
        );
        assert_eq!(
            store
                .put_if("b", "k", b"two".to_vec(), "text/plain", Condition::IfMatch("\"other\"".into()))
                .await
                .expect("put"),
            Written::PreconditionFailed
        );
        let object = store.get_object("b", "k").await.expect("get").expect("exists");
        assert_eq!((object.body.as_slice(), object.etag.as_deref()), (&b"one"[..], Some(tag.as_str())));
        let written = store.put_if("b", "k", b"two".to_vec(), "text/plain", Condition::IfMatch(tag.clone()));
        assert!(matches!(written.await.expect("put"), Written::Written(Some(t)) if t != tag));
        store.put("b", "k2", b"one".to_vec(), "text/plain").await.expect("put");
        let listed = store.list("b", "k").await.expect("list");
        assert_eq!(listed.iter().map(|l| l.key.as_str()).collect::<Vec<_>>(), ["k", "k2"]);
        // Same bytes, same tag (as S3's MD5 ETags).
        assert_eq!(listed[1].etag.as_deref(), Some(tag.as_str()));
        assert_eq!(store.puts().len(), 3);
        store.fail_puts_containing(Some("k3"));
        assert!(store.put("b", "k3", b"x".to_vec(), "text/plain").await.is_err());
        assert_eq!(store.puts().len(), 3);
    }
}
