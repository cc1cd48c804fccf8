//! AWS through the SDK: one place builds the SDK config (credential chain or the emulator's static key,
//! profile, region, endpoint, retries), and readers/writers return our own types and errors. run-local's
//! event source mapping emulation (`local`) uses the SQS and CloudWatch Logs clients built here.

pub mod cfn;
pub mod emulator;
pub mod live;
pub mod ops;
pub mod s3;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_types::region::Region;
use aws_types::request_id::RequestId;
use std::fmt;

/// Where and as whom to call AWS: what the user typed, merged with the environment by the SDK.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    /// Named profile (`--profile`, else `AWS_PROFILE`).
    pub profile: Option<String>,
    /// Region (`--region`, else the spec's region, else the SDK's chain).
    pub region: Option<String>,
    /// Endpoint of every service (`--endpoint-url`, else `AWS_ENDPOINT_URL`): the local emulator.
    pub endpoint_url: Option<String>,
    /// Print every AWS call (service and operation) on stderr (`--trace-aws`).
    pub trace: bool,
    /// Static credentials instead of the credential chain (the local emulator accepts any).
    pub static_key: Option<String>,
}

/// Prints each AWS operation on stderr before it is sent.
#[derive(Debug)]
pub(crate) struct TraceCalls;

impl aws_smithy_runtime_api::client::interceptors::Intercept for TraceCalls {
    fn name(&self) -> &'static str {
        "pipewright-trace-calls"
    }

    fn read_before_serialization(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let Some(m) = cfg.load::<aws_smithy_runtime_api::client::orchestrator::Metadata>() {
            eprintln!("aws: {}:{}", m.service().to_lowercase(), m.name());
        }
        Ok(())
    }
}

/// The SDK clients pipewright uses, built from one config.
#[derive(Clone, Debug)]
pub struct Aws {
    pub config: aws_types::SdkConfig,
    /// Print every call (`--trace-aws`).
    pub trace: bool,
    pub cfn: aws_sdk_cloudformation::Client,
    pub s3: aws_sdk_s3::Client,
    pub sts: aws_sdk_sts::Client,
}

impl Aws {
    /// Loads the config: standard credential chain, profile, region, endpoint, and the SDK's
    /// standard retries with exponential back-off (5 attempts).
    pub async fn connect(settings: &AwsSettings) -> Aws {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).retry_config(RetryConfig::standard().with_max_attempts(5));
        if let Some(p) = &settings.profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = &settings.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(e) = &settings.endpoint_url {
            loader = loader.endpoint_url(e);
        }
        if let Some(key) = &settings.static_key {
            loader = loader.credentials_provider(aws_sdk_sts::config::Credentials::new(
                key.clone(),
                key.clone(),
                None,
                None,
                "pipewright-static",
            ));
        }
        let config = loader.load().await;
        Self::from_config(config, settings.trace)
    }

    pub fn from_config(config: aws_types::SdkConfig, trace: bool) -> Aws {
        // A custom endpoint (the emulator on 127.0.0.1) has no per-bucket DNS names.
        let path_style = config.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let mut s3 = aws_sdk_s3::config::Builder::from(&config).force_path_style(path_style);
        let mut cfn = aws_sdk_cloudformation::config::Builder::from(&config);
        let mut sts = aws_sdk_sts::config::Builder::from(&config);
        if trace {
            s3 = s3.interceptor(TraceCalls);
            cfn = cfn.interceptor(TraceCalls);
            sts = sts.interceptor(TraceCalls);
        }
        Aws {
            cfn: aws_sdk_cloudformation::Client::from_conf(cfn.build()),
            sts: aws_sdk_sts::Client::from_conf(sts.build()),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            config,
            trace,
        }
    }

    /// The readers of live state, sharing this config.
    pub fn readers(&self) -> live::Readers {
        live::Readers::new(&self.config, self.s3.clone(), self.trace)
    }

    pub fn region(&self) -> String {
        self.config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".to_string())
    }

    /// The account of the credentials.
    pub async fn account(&self) -> Result<String, AwsError> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::new("sts:GetCallerIdentity", "caller", e))?;
        Ok(out.account.unwrap_or_default())
    }
}

/// The HTTP status of a raw response.
pub trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// How an AWS error should be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The credentials may not do this: the answer is unknown, never "clean".
    AccessDenied,
    /// Throttled after the SDK's retries.
    Throttling,
    /// The resource does not exist.
    NotFound,
    /// No answer: connection refused, timeout.
    Unreachable,
    Other,
}

/// An AWS call that failed: operation, resource, error code, message and request id.
#[derive(Debug, Clone)]
pub struct AwsError {
    pub operation: &'static str,
    pub resource: String,
    pub code: String,
    pub message: String,
    pub kind: ErrorKind,
    /// Where an SDK error came from: its request id and the error itself.
    pub origin: Option<Box<Origin>>,
}

/// The request id of a failed call and the SDK's error, kept for `source()` (its chain is in the message).
#[derive(Debug, Clone)]
pub struct Origin {
    pub request_id: Option<String>,
    pub error: std::sync::Arc<dyn std::error::Error + Send + Sync>,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on `{}` failed: {}", self.operation, self.resource, self.code)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(id) = self.origin.as_ref().and_then(|o| o.request_id.as_ref()) {
            write!(f, " (request id {id})")?;
        }
        if let Some(needs) = self.needs() {
            write!(f, "; {needs}")?;
        }
        Ok(())
    }
}

/// The IAM action that allows an API operation (`service:Operation`): the operation's own name,
/// except where IAM names it otherwise.
pub fn iam_action(operation: &str) -> &str {
    match operation {
        "s3:GetBucketNotificationConfiguration" => "s3:GetBucketNotification",
        "s3:GetBucketLifecycleConfiguration" => "s3:GetLifecycleConfiguration",
        "s3:GetBucketEncryption" => "s3:GetEncryptionConfiguration",
        "s3:PutBucketEncryption" => "s3:PutEncryptionConfiguration",
        "s3:GetPublicAccessBlock" => "s3:GetBucketPublicAccessBlock",
        "s3:PutPublicAccessBlock" => "s3:PutBucketPublicAccessBlock",
        "s3:HeadBucket" | "s3:ListObjectsV2" => "s3:ListBucket",
        "s3:HeadObject" => "s3:GetObject",
        other => other,
    }
}

impl std::error::Error for AwsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.origin.as_ref().map(|o| o.error.as_ref() as &(dyn std::error::Error + 'static))
    }
}

impl AwsError {
    /// Whether a HEAD request (`s3:HeadBucket`, `s3:HeadObject`) found nothing: a HEAD answer has no
    /// body, so a 404 comes back without an error code.
    pub fn head_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound || self.code == "NotFound" || self.code == "Unknown"
    }

    /// What a refused call needs: the IAM action to grant, or working credentials.
    pub fn needs(&self) -> Option<String> {
        if self.kind != ErrorKind::AccessDenied {
            return None;
        }
        Some(match self.code.as_str() {
            "InvalidClientTokenId" | "ExpiredToken" | "SignatureDoesNotMatch" | "InvalidAccessKeyId" => {
                "the credentials were refused: check the profile or the access keys in use".to_string()
            }
            _ => format!("needs the IAM action `{}` on `{}`", iam_action(self.operation), self.resource),
        })
    }

    /// From an SDK error of any service.
    pub fn new<E, R>(
        operation: &'static str,
        resource: impl Into<String>,
        err: aws_smithy_runtime_api::client::result::SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + HttpStatus + Send + Sync + 'static,
        aws_smithy_runtime_api::client::result::SdkError<E, R>: RequestId,
    {
        use aws_smithy_runtime_api::client::result::SdkError;
        let request_id = err.request_id().map(str::to_string);
        let (code, message) = match &err {
            SdkError::ServiceError(e) => match e.err().code() {
                Some(code) => (code.to_string(), e.err().message().unwrap_or_default().to_string()),
                // No error code: the response could not be read (HTTP status and cause).
                None => {
                    let status = e.raw().status_code();
                    let message = e.err().message().map(str::to_string).unwrap_or_else(|| source_chain(e.err()));
                    // A HEAD request has no body, so S3 refuses it with a bare 403.
                    let message = match status {
                        403 if message == "unhandled error" => {
                            "refused without an error body (HTTP 403): access denied, or the credentials are not valid"
                                .to_string()
                        }
                        _ => message,
                    };
                    (format!("HTTP{status}"), message)
                }
            },
            SdkError::TimeoutError(_) => ("Timeout".to_string(), "no answer in time".to_string()),
            SdkError::DispatchFailure(e) => ("DispatchFailure".to_string(), dispatch_message(e)),
            SdkError::ResponseError(e) => {
                ("ResponseError".to_string(), format!("the response could not be read: {e:?}"))
            }
            other => ("ConstructionFailure".to_string(), source_chain(other)),
        };
        let kind = classify(&code, &message);
        let origin = Some(Box::new(Origin { request_id, error: std::sync::Arc::new(err) }));
        AwsError { operation, resource: resource.into(), code, message, kind, origin }
    }
}

impl AwsError {
    /// A call that could not be made or whose answer was unusable, without an SDK error.
    pub fn local(operation: &'static str, resource: impl Into<String>, message: impl Into<String>) -> Self {
        AwsError {
            operation,
            resource: resource.into(),
            code: "Client".to_string(),
            message: message.into(),
            kind: ErrorKind::Other,
            origin: None,
        }
    }
}

fn dispatch_message(e: &aws_smithy_runtime_api::client::result::DispatchFailure) -> String {
    let mut msg = e.as_connector_error().map(|c| source_chain(c)).unwrap_or_else(|| format!("{e:?}"));
    if e.is_io() || e.is_timeout() {
        msg.push_str(" (is the endpoint reachable? for the local emulator: `pipewright emulator start`)");
    }
    msg
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

fn classify(code: &str, message: &str) -> ErrorKind {
    match code {
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "AuthorizationError"
        | "Forbidden"
        | "InvalidClientTokenId"
        | "InvalidAccessKeyId"
        | "ExpiredToken"
        | "SignatureDoesNotMatch" => ErrorKind::AccessDenied,
        "Throttling" | "ThrottlingException" | "TooManyRequestsException" | "RequestLimitExceeded" | "SlowDown" => {
            ErrorKind::Throttling
        }
        "NoSuchBucket"
        | "NoSuchKey"
        | "NotFound"
        | "ResourceNotFoundException"
        // S3 Tables: a missing table bucket, namespace or table (HTTP 404).
        | "NotFoundException"
        | "NoSuchEntity"
        | "AWS.SimpleQueueService.NonExistentQueue"
        | "QueueDoesNotExist" => ErrorKind::NotFound,
        "ValidationError" if message.contains("does not exist") => ErrorKind::NotFound,
        "Timeout" | "DispatchFailure" => ErrorKind::Unreachable,
        "HTTP404" => ErrorKind::NotFound,
        "HTTP403" => ErrorKind::AccessDenied,
        _ => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_iam_action_to_grant_or_the_credentials() {
        let refused = |operation, code: &str| AwsError {
            operation,
            resource: "hoopstat-haus-bronze".into(),
            code: code.into(),
            message: String::new(),
            kind: classify(code, ""),
            origin: None,
        };
        let e = refused("s3:GetBucketNotificationConfiguration", "AccessDenied");
        assert_eq!(
            e.needs().as_deref(),
            Some("needs the IAM action `s3:GetBucketNotification` on `hoopstat-haus-bronze`")
        );
        assert!(e.to_string().ends_with("; needs the IAM action `s3:GetBucketNotification` on `hoopstat-haus-bronze`"));
        assert_eq!(iam_action("sqs:GetQueueAttributes"), "sqs:GetQueueAttributes");
        assert_eq!(iam_action("s3:HeadBucket"), "s3:ListBucket");
        for code in ["InvalidClientTokenId", "InvalidAccessKeyId", "ExpiredToken"] {
            assert!(
                refused("sts:GetCallerIdentity", code).needs().is_some_and(|n| n.contains("credentials were refused"))
            );
        }
        assert_eq!(refused("s3:HeadBucket", "NoSuchBucket").needs(), None);
    }

    #[test]
    fn classifies_codes() {
        assert_eq!(classify("AccessDenied", ""), ErrorKind::AccessDenied);
        assert_eq!(classify("ThrottlingException", ""), ErrorKind::Throttling);
        assert_eq!(classify("ValidationError", "Stack with id x does not exist"), ErrorKind::NotFound);
        assert_eq!(classify("ValidationError", "Template format error"), ErrorKind::Other);
        assert_eq!(classify("NotFoundException", "The specified table does not exist."), ErrorKind::NotFound);
    }
}
