//! S3: the artifact bucket and uploads. Every call names the account that must own the bucket
//! (`ExpectedBucketOwner`): a bucket of the same name in another account is refused by S3 instead of
//! receiving the Lambda code and serving it back to our functions.

use super::{Aws, AwsError, ErrorKind};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, ObjectOwnership,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};

impl Aws {
    /// Whether the bucket exists and account `owner` owns it. A bucket of another account (or one
    /// this account may not read) is an `AccessDenied` error.
    pub async fn bucket_exists(&self, bucket: &str, owner: &str) -> Result<bool, AwsError> {
        match self.s3.head_bucket().bucket(bucket).expected_bucket_owner(owner).send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                let err = AwsError::new("s3:HeadBucket", bucket, e);
                if err.head_not_found() { Ok(false) } else { Err(err) }
            }
        }
    }

    /// Creates the artifact bucket in the client's region, owned by account `owner`: objects owned by
    /// the bucket owner (no ACLs), all public access blocked, encrypted, versioned (an overwritten or
    /// deleted artifact can be restored), and only TLS requests allowed.
    pub async fn create_artifact_bucket(&self, bucket: &str, owner: &str) -> Result<(), AwsError> {
        let mut req = self.s3.create_bucket().bucket(bucket).object_ownership(ObjectOwnership::BucketOwnerEnforced);
        let region = self.region();
        if region != "us-east-1" {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region.as_str()))
                    .build(),
            );
        }
        req.send().await.map_err(|e| AwsError::new("s3:CreateBucket", bucket, e))?;
        self.s3
            .put_public_access_block()
            .bucket(bucket)
            .expected_bucket_owner(owner)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .block_public_policy(true)
                    .ignore_public_acls(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::new("s3:PutPublicAccessBlock", bucket, e))?;
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .map_err(|e| AwsError::build("s3:PutBucketEncryption", bucket, &e))?,
            )
            .bucket_key_enabled(true)
            .build();
        self.s3
            .put_bucket_encryption()
            .bucket(bucket)
            .expected_bucket_owner(owner)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()
                    .map_err(|e| AwsError::build("s3:PutBucketEncryption", bucket, &e))?,
            )
            .send()
            .await
            .map_err(|e| AwsError::new("s3:PutBucketEncryption", bucket, e))?;
        self.s3
            .put_bucket_versioning()
            .bucket(bucket)
            .expected_bucket_owner(owner)
            .versioning_configuration(
                VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::new("s3:PutBucketVersioning", bucket, e))?;
        self.s3
            .put_bucket_policy()
            .bucket(bucket)
            .expected_bucket_owner(owner)
            .policy(tls_only_policy(bucket).to_string())
            .send()
            .await
            .map_err(|e| AwsError::new("s3:PutBucketPolicy", bucket, e))?;
        Ok(())
    }

    /// Whether `key` exists in `bucket`, which account `owner` owns.
    pub async fn object_exists(&self, bucket: &str, key: &str, owner: &str) -> Result<bool, AwsError> {
        match self.s3.head_object().bucket(bucket).key(key).expected_bucket_owner(owner).send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                let err = AwsError::new("s3:HeadObject", format!("s3://{bucket}/{key}"), e);
                if err.head_not_found() { Ok(false) } else { Err(err) }
            }
        }
    }

    /// Uploads `body` to `bucket`, which account `owner` owns.
    pub async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>, owner: &str) -> Result<(), AwsError> {
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .expected_bucket_owner(owner)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| AwsError::new("s3:PutObject", format!("s3://{bucket}/{key}"), e))?;
        Ok(())
    }

    /// The URL CloudFormation reads `key` from: the regional path-style S3 URL (the emulator resolves
    /// it in its own S3, like CloudFormation does in AWS's).
    pub fn object_url(&self, bucket: &str, key: &str) -> String {
        format!("https://s3.{}.amazonaws.com/{bucket}/{key}", self.region())
    }
}

/// The policy that refuses every request to `bucket` without TLS (as the pipeline's buckets have).
pub fn tls_only_policy(bucket: &str) -> serde_json::Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": { "Bool": { "aws:SecureTransport": "false" } },
        }],
    })
}

impl AwsError {
    /// A request that could not be built (a missing required field).
    pub fn build(operation: &'static str, resource: &str, e: &dyn std::error::Error) -> Self {
        AwsError {
            operation,
            resource: resource.to_string(),
            code: "ConstructionFailure".to_string(),
            message: e.to_string(),
            kind: ErrorKind::Other,
            origin: None,
        }
    }
}
