//! The SARIF output of `check` and `verify` validates against the official SARIF 2.1.0 JSON schema.
//! (`verify --format sarif` of live drift is validated in `tests/verify.rs`, against the emulator.)

mod support;

#[path = "support/sarif.rs"]
mod sarif;

use pipewright::Exit;
use pipewright::drift::Aspect;
use pipewright::drift::report::render;
use pipewright::report::render::{Format, Subject};
use pipewright::spec::Span;
use sarif::{assert_valid_sarif, sarif_violations};
use support::cli;

#[test]
fn the_schema_rejects_what_is_not_sarif() {
    // The validator is real: a log without `runs`, a result with an unknown level, a bad line.
    let bad = [
        serde_json::json!({ "version": "2.1.0" }),
        serde_json::json!({ "version": "2.1.0", "runs": [{ "tool": { "driver": { "name": "x" } },
            "results": [{ "message": { "text": "m" }, "level": "fatal" }] }] }),
        serde_json::json!({ "version": "2.1.0", "runs": [{ "tool": { "driver": { "name": "x" } },
            "results": [{ "message": { "text": "m" }, "locations": [{ "physicalLocation": {
                "artifactLocation": { "uri": "s.yaml" }, "region": { "startLine": 0 } } }] }] }] }),
    ];
    for doc in bad {
        assert!(!sarif_violations(&doc).is_empty(), "accepted: {doc}");
    }
}

#[test]
fn check_sarif_is_valid_with_findings_and_clean() {
    let (exit, out, err) = cli(&["check", "tests/fixtures/runbook-original.yaml", "--format", "sarif"]);
    assert_eq!(exit, Exit::Findings, "{err}");
    let doc = assert_valid_sarif(&out, 5);
    for r in doc["runs"][0]["results"].as_array().expect("results") {
        assert!(r["ruleId"].as_str().is_some_and(|id| id.starts_with("PW")), "{r}");
    }
    let (exit, out, err) = cli(&["check", "specs/hoopstat-haus.yaml", "--format", "sarif"]);
    assert!(matches!(exit, Exit::Clean), "{err}");
    assert_valid_sarif(&out, 0);
}

#[test]
fn verify_sarif_is_valid_for_drift_and_could_not_verify() {
    let at = |line| Span { line, column: 3 };
    let clean = Aspect::new("hoopstat-haus-bronze", "AWS::S3::Bucket", "versioning", at(19));
    let mut drift = Aspect::new("hoopstat-haus-silver-processing-queue", "AWS::SQS::Queue", "attributes", at(93));
    drift.drift(
        "D202",
        "the live visibility timeout (60s) is below the live function timeout (300s)",
        ">= 300s (the spec: 1805s)",
        "60s",
    );
    drift.drift("D205", "the queue policy differs in meaning", "[\n]\n", "[\"*\"]\n");
    // An aspect whose span is unknown (line 0) must still give a valid region.
    let mut unknown = Aspect::new("hoopstat-haus-gold-analytics-role", "AWS::IAM::Role", "policies", Span::default());
    unknown.unverifiable("iam:ListRolePolicies on `r`: AccessDenied: not allowed");
    let aspects = vec![clean, drift, unknown];
    for strict in [false, true] {
        let subject = Subject { path: "specs/hoopstat-haus.yaml", text: "" };
        let text = render(Format::Sarif, &aspects, &subject, "hoopstat-haus", strict, false);
        let doc = assert_valid_sarif(&text, 3);
        let levels: Vec<&str> =
            doc["runs"][0]["results"].as_array().expect("results").iter().filter_map(|r| r["level"].as_str()).collect();
        assert_eq!(levels.contains(&"warning"), !strict, "could not verify is a warning, an error with --strict");
    }
}
