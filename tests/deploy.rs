//! `pipewright deploy` against the local emulator (moto 5.2.1 with pipewright's patches; needs
//! `python3` with `moto[server]==5.2.1`, which `scripts/test.sh` installs).

#[path = "support/aws.rs"]
mod aws_env;

use aws_env::{Env, creds, setup};
use std::process::{Command, Output};

fn pipewright(env: &Env, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(args)
        .args(["--endpoint-url", &env.emulator.endpoint, "--manifest"])
        .arg(&env.manifest)
        .envs(creds())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("runs")
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Runs boto3 `code` against the emulator (`E` is its endpoint); returns what it prints.
fn boto3(env: &Env, code: &str) -> String {
    let o = Command::new("python3")
        .args(["-c", &format!("import boto3, json\nE = {:?}\n{code}", env.emulator.endpoint)])
        .envs(creds())
        .output()
        .expect("python3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A copy of the flagship spec with `from` replaced by `to`.
fn variant(env: &Env, from: &str, to: &str) -> String {
    let spec = std::fs::read_to_string("specs/hoopstat-haus.yaml").expect("spec");
    assert!(spec.contains(from), "{from}");
    let path = env.root.join("hoopstat-haus.yaml");
    std::fs::write(&path, spec.replace(from, to)).expect("write");
    path.display().to_string()
}

#[test]
fn deploy_then_no_op_then_update_with_hazards() {
    let env = setup();

    // Without an address for the alarms, nothing is deployed: they would notify nobody.
    for given in [&[][..], &["--parameter", "AlertEmail="][..], &["--parameter", "AlertEmail=ops"][..]] {
        let o = pipewright(&env, &[&["deploy", "specs/hoopstat-haus.yaml", "--yes"][..], given].concat());
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{given:?}: {out}\n{err}");
        assert!(
            err.contains("notify nobody") && err.contains("--parameter AlertEmail=") && err.contains("alerts: none"),
            "{err}"
        );
    }

    // First deploy: a CREATE change set, executed.
    let o =
        pipewright(&env, &["deploy", "specs/hoopstat-haus.yaml", "--yes", "--parameter", "AlertEmail=ops@example.com"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("stack `hoopstat-haus` (create)") && out.contains("+   SilverProcessingQueue"), "{out}");
    assert!(err.contains("uploading") && err.contains("CREATE_COMPLETE"), "{err}");
    // Progress per resource, from the stack events (emulator patch 14), the queue before its policy's bucket.
    let line = |ty: &str, id: &str| {
        err.lines().position(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(1) == Some(&"CREATE_COMPLETE") && f.get(2) == Some(&ty) && f.get(3) == Some(&id)
        })
    };
    let queue = line("AWS::SQS::Queue", "SilverProcessingQueue");
    let bucket = line("AWS::S3::Bucket", "BronzeBucket");
    assert!(queue.is_some() && bucket.is_some() && queue < bucket, "per-resource progress in dependency order: {err}");

    // The artifact bucket deploy created: owner-enforced, not public, encrypted, versioned, TLS only.
    let artifact: serde_json::Value = serde_json::from_str(&boto3(
        &env,
        r#"
s3 = boto3.client('s3', endpoint_url=E)
b = 'hoopstat-haus-artifacts-123456789012-us-east-1'
policy = json.loads(s3.get_bucket_policy(Bucket=b, ExpectedBucketOwner='123456789012')['Policy'])
print(json.dumps({
    'versioning': s3.get_bucket_versioning(Bucket=b)['Status'],
    'public': s3.get_public_access_block(Bucket=b)['PublicAccessBlockConfiguration'],
    'sse': s3.get_bucket_encryption(Bucket=b)['ServerSideEncryptionConfiguration']['Rules'][0]['ApplyServerSideEncryptionByDefault']['SSEAlgorithm'],
    'ownership': s3.get_bucket_ownership_controls(Bucket=b)['OwnershipControls']['Rules'][0]['ObjectOwnership'],
    'tls': [s['Effect'] + ' ' + json.dumps(s['Condition']) for s in policy['Statement']],
}))
"#,
    ))
    .expect("json");
    assert_eq!(artifact["versioning"], "Enabled", "{artifact}");
    assert_eq!(artifact["sse"], "AES256", "{artifact}");
    assert_eq!(artifact["ownership"], "BucketOwnerEnforced", "{artifact}");
    assert!(
        artifact["public"].as_object().is_some_and(|m| m.len() == 4 && m.values().all(|v| v == true)),
        "{artifact}"
    );
    assert_eq!(
        artifact["tls"],
        serde_json::json!([r#"Deny {"Bool": {"aws:SecureTransport": "false"}}"#]),
        "{artifact}"
    );

    // A bucket of that name in another account never receives the code.
    boto3(
        &env,
        r#"
other = boto3.client('s3', endpoint_url=E)
other.meta.events.register('before-sign.s3.*', lambda request, **_: request.headers.__setitem__('x-moto-account-id', '111111111111'))
other.create_bucket(Bucket='squatted-artifacts')
"#,
    );
    let o =
        pipewright(&env, &["deploy", "specs/hoopstat-haus.yaml", "--yes", "--artifact-bucket", "squatted-artifacts"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    assert!(
        err.contains(
            "the artifact bucket `squatted-artifacts` exists but S3 does not confirm that account 123456789012 owns it"
        ) && err.contains("--artifact-bucket NAME"),
        "{err}"
    );
    let listed = boto3(
        &env,
        "print(boto3.client('s3', endpoint_url=E).list_objects_v2(Bucket='squatted-artifacts').get('KeyCount'))",
    );
    assert_eq!(listed.trim(), "0", "nothing was uploaded");

    // The same deploy again changes nothing, and makes no mutating call.
    let o = pipewright(&env, &["deploy", "specs/hoopstat-haus.yaml", "--yes", "--trace-aws"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(err.contains("is up to date: no changes"), "{err}");
    let calls: Vec<&str> = err.lines().filter_map(|l| l.strip_prefix("aws: ")).collect();
    assert!(calls.iter().any(|c| c.ends_with(":DescribeStacks")), "{calls:?}");
    for c in &calls {
        let op = c.split(':').nth(1).unwrap_or("");
        assert!(
            ["Describe", "Get", "Head", "List"].iter().any(|p| op.starts_with(p)),
            "a no-op deploy made the mutating call {c}"
        );
    }

    // A changed filter: the plan shows the bucket's notification being replaced, as a hazard.
    let spec = variant(&env, "pattern: raw/box_scores/date=*/data.json", "pattern: raw/box_scores/date=*.json");
    let o = pipewright(&env, &["deploy", &spec, "--dry-run", "--format", "json"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).expect("json plan");
    assert_eq!(plan["action"], "update");
    let changed: Vec<&str> =
        plan["changes"].as_array().expect("changes").iter().map(|c| c["logical_id"].as_str().unwrap_or("")).collect();
    assert!(changed.contains(&"BronzeBucket"), "{changed:?}");
    let hazards = plan["hazards"].as_array().expect("hazards");
    assert!(
        hazards
            .iter()
            .any(|h| h["name"] == "notification-dropped" && h["code"] == "H107" && h["resource"] == "BronzeBucket"),
        "{hazards:?}"
    );
    assert!(err.contains("dry run"), "{err}");

    // Executed, the update completes.
    let o = pipewright(&env, &["deploy", &spec, "--yes"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(err.contains("UPDATE_COMPLETE"), "{err}");
}

#[test]
fn deploy_needs_a_build_and_says_so() {
    let env = setup();
    let o = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["deploy", "specs/hoopstat-haus.yaml", "--yes", "--endpoint-url", &env.emulator.endpoint])
        .args(["--manifest", "does/not/exist.json"])
        .envs(creds())
        .output()
        .expect("runs");
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("does/not/exist.json") && err.contains("pipewright build"), "{err}");
}

#[test]
fn a_spec_with_errors_is_not_deployed() {
    let o = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["--color", "never", "deploy", "tests/fixtures/checks/pw301-visibility-below-timeout.yaml", "--yes"])
        .args(["--endpoint-url", "http://127.0.0.1:9"])
        .output()
        .expect("runs");
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("PW301") && err.contains("not deploying"), "{err}");
}

#[test]
fn an_artifact_built_for_another_architecture_is_not_deployed() {
    let env = setup();
    // The flagship's functions run on arm64; `pipewright build --x86-64` records x86_64.
    let manifest = std::fs::read_to_string(&env.manifest).expect("manifest");
    let x86 = manifest.replacen("\"arm64\"", "\"x86_64\"", 1);
    assert_ne!(manifest, x86);
    std::fs::write(&env.manifest, x86).expect("write");
    let o = pipewright(&env, &["deploy", "specs/hoopstat-haus.yaml", "--yes"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the artifact of stage `silver-processing`")
            && err.contains("built for x86_64, but the function runs on arm64"),
        "{err}"
    );
}
