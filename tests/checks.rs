//! Every check code has a failing fixture spec under `tests/fixtures/checks/` (named after the code)
//! and a snapshot of its diagnostics; the flagship and every spec in `specs/` check clean.

mod support;

use pipewright::Exit;
use pipewright::check::codes;
use pipewright::report::Severity;
use pipewright::report::render::{Format, Subject, render};
use pipewright::spec::Source;
use std::path::{Path, PathBuf};
use support::cli;

fn fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("tests/fixtures/checks")
        .expect("fixture dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// `pw301-visibility-below-timeout.yaml` -> `PW301`.
/// The codes `check` reports (the registry also holds verify's, deploy's and status's).
fn spec_checks() -> impl Iterator<Item = &'static codes::CodeDoc> {
    codes::ALL.iter().filter(|c| codes::Family::of(c.code) == codes::Family::Check)
}

fn code_of(path: &Path) -> String {
    let stem = path.file_stem().expect("stem").to_string_lossy();
    stem.split('-').next().expect("code").to_uppercase()
}

fn diagnose(path: &Path) -> (Source, Vec<pipewright::report::Diagnostic>) {
    let loaded = pipewright::check::diagnose(Source::read(path).expect("readable"));
    (loaded.source, loaded.diagnostics)
}

#[test]
fn every_fixture_reports_its_code_and_matches_its_snapshot() {
    let files = fixtures();
    assert!(files.len() >= spec_checks().count(), "expected a fixture per code");
    for path in files {
        let code = code_of(&path);
        let (source, diags) = diagnose(&path);
        assert!(
            diags.iter().any(|d| d.code == code),
            "{}: expected {code}, got {:?}",
            path.display(),
            diags.iter().map(|d| d.code).collect::<Vec<_>>()
        );
        for d in &diags {
            assert!(d.span.line > 0 && d.span.column > 0, "{}: {d:?} has no location", path.display());
        }
        let shown = path.display().to_string();
        let text = render(Format::Human, &Subject { path: &shown, text: &source.text }, &diags, false);
        let name = path.file_stem().expect("stem").to_string_lossy().into_owned();
        insta::assert_snapshot!(name, text);

        // The command fails on it (warnings need --deny-warnings; a note never fails it).
        let (exit, _, _) = cli(&["--color", "never", "check", &shown, "--deny-warnings"]);
        let fails = diags.iter().any(|d| d.severity >= Severity::Warning);
        assert_eq!(exit, if fails { Exit::Findings } else { Exit::Clean }, "{shown}");
        let has_error = diags.iter().any(|d| d.severity == Severity::Error);
        let (exit, _, _) = cli(&["--color", "never", "check", &shown]);
        assert_eq!(exit, if has_error { Exit::Findings } else { Exit::Clean }, "{shown}");
    }
}

#[test]
fn every_code_has_a_fixture_and_documentation() {
    let covered: Vec<String> = fixtures().iter().map(|p| code_of(p)).collect();
    for c in spec_checks() {
        assert!(covered.iter().any(|f| f == c.code), "no fixture for {} ({})", c.code, c.name);
        assert!(!c.what.is_empty() && !c.fix.is_empty() && !c.example.is_empty(), "{} lacks docs", c.code);
    }
    let mut all: Vec<&str> = codes::ALL.iter().map(|c| c.code).collect();
    all.dedup();
    assert_eq!(all.len(), codes::ALL.len(), "codes are unique");
}

#[test]
fn diagnostics_point_at_the_offending_node() {
    let (_, diags) = diagnose(Path::new("tests/fixtures/checks/pw301-visibility-below-timeout.yaml"));
    let d = diags.iter().find(|d| d.code == codes::VISIBILITY_BELOW_TIMEOUT).expect("PW301");
    assert_eq!((d.span.line, d.span.column), (22, 27));
    let (_, diags) = diagnose(Path::new("tests/fixtures/checks/pw001-unknown-key.yaml"));
    assert_eq!((diags[0].span.line, diags[0].span.column), (19, 7));
    assert!(diags[0].message.contains("timeot"), "{}", diags[0].message);
}

#[test]
fn the_original_runbook_fails_on_every_known_mistake() {
    let (source, diags) = diagnose(Path::new("tests/fixtures/runbook-original.yaml"));
    for code in [
        codes::FILTER_NEEDS_ENCODING,
        codes::TRIGGER_MATCHES_NOTHING,
        codes::VISIBILITY_BELOW_RECOMMENDED,
        codes::DLQ_RETENTION,
        codes::LOW_MAX_RECEIVE_COUNT,
        codes::ALARM_CANNOT_FIRE,
        codes::ALARM_WITHOUT_ACTIONS,
        codes::RESERVED_ENV_VAR,
    ] {
        assert!(diags.iter().any(|d| d.code == code), "missing {code}");
    }
    let path = "tests/fixtures/runbook-original.yaml";
    let subject = Subject { path, text: &source.text };
    insta::assert_snapshot!("runbook-original.human", render(Format::Human, &subject, &diags, false));
    insta::assert_snapshot!("runbook-original.json", render(Format::Json, &subject, &diags, false));
    insta::assert_snapshot!("runbook-original.sarif", render(Format::Sarif, &subject, &diags, false));
    insta::assert_snapshot!("runbook-original.github", render(Format::Github, &subject, &diags, false));
}

#[test]
fn sarif_is_well_formed() {
    let (source, diags) = diagnose(Path::new("tests/fixtures/runbook-original.yaml"));
    let text = render(Format::Sarif, &Subject { path: "spec.yaml", text: &source.text }, &diags, false);
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(doc["version"], "2.1.0");
    let run = &doc["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    for result in run["results"].as_array().expect("results") {
        let idx = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[idx]["id"], result["ruleId"]);
        assert!(["error", "warning", "note"].contains(&result["level"].as_str().expect("level")));
        let region = &result["locations"][0]["physicalLocation"]["region"];
        assert!(region["startLine"].as_u64().expect("line") >= 1);
    }
}

#[test]
fn every_spec_in_specs_checks_clean() {
    for entry in std::fs::read_dir("specs").expect("specs") {
        let path = entry.expect("entry").path();
        let shown = path.display().to_string();
        let (exit, out, _) = cli(&["--color", "never", "check", &shown, "--deny-warnings"]);
        assert_eq!(exit, Exit::Clean, "{shown}:\n{out}");
    }
    // Without an argument (and no pipewright.yaml here), nothing stands in for the spec.
    let (exit, _, err) = cli(&["--color", "never", "check"]);
    assert_eq!(exit, Exit::Usage, "{err}");
}

#[test]
fn synthetic_specs_check_clean() {
    for n in [1, 10, 100] {
        let source = Source::text(format!("synth-{n}.yaml"), pipewright::spec::synthetic::spec(n));
        let loaded = pipewright::check::diagnose(source);
        assert!(loaded.diagnostics.is_empty(), "{n} stages: {:?}", loaded.diagnostics);
        assert_eq!(loaded.pipeline.expect("parsed").stages.len(), n + 1);
    }
}

#[test]
fn usage_errors_exit_2() {
    let (exit, _, err) = cli(&["check", "does/not/exist.yaml"]);
    assert_eq!(exit, Exit::Usage);
    assert!(err.contains("cannot read spec `does/not/exist.yaml`"), "{err}");
    use clap::Parser;
    let e = pipewright::cli::Cli::try_parse_from(["pipewright", "check", "--format", "xml"]).expect_err("bad format");
    assert_eq!(e.exit_code(), 2);
    let (exit, _, _) = cli(&["explain", "PW999"]);
    assert_eq!(exit, Exit::Usage);
}

#[test]
fn explain_prints_the_reference() {
    let (exit, out, _) = cli(&["explain", "PW301"]);
    assert_eq!(exit, Exit::Clean);
    assert!(out.contains("visibility-below-timeout") && out.contains("fix:"), "{out}");
    let (_, by_name, _) = cli(&["explain", "visibility-below-timeout"]);
    assert_eq!(out, by_name);
    let (_, all, _) = cli(&["explain", "--all"]);
    assert_eq!(all.lines().count(), codes::ALL.len());
}

#[test]
fn github_annotations_escape_their_data() {
    let (_, out, _) = cli(&["check", "tests/fixtures/checks/pw101-filter-needs-encoding.yaml", "--format", "github"]);
    let line = out.lines().next().expect("one annotation");
    assert!(line.starts_with("::error file=tests/fixtures/checks/pw101-filter-needs-encoding.yaml,line=17,col=15,title=PW101 filter-needs-encoding::"), "{line}");
    assert!(line.contains("%0Ahint: "), "{line}");
}

#[test]
fn alerts_none_is_deliberate_and_warned_at_its_line() {
    let base = std::fs::read_to_string("tests/fixtures/checks/pw402-alarm-without-actions.yaml").expect("fixture");
    let with = |alerts: &str| {
        let text = base.replacen("project: demo\n", &format!("project: demo\n{alerts}"), 1);
        pipewright::check::diagnose(Source::text("specs/demo.yaml", text))
    };

    let loaded = with("alerts: none\n");
    let found: Vec<_> =
        loaded.diagnostics.iter().map(|d| (d.code, d.severity, d.span.line, d.message.clone())).collect();
    assert_eq!(found.len(), 1, "{found:?}");
    let (code, severity, line, message) = &found[0];
    assert_eq!((*code, *severity, *line), (codes::ALARM_WITHOUT_ACTIONS, Severity::Warning, 2), "{message}");
    assert!(message.contains("`alerts: none`") && message.contains("notify nobody"), "{message}");
    let p = loaded.pipeline.expect("parsed");
    let template = pipewright::cfn::template(&p, "specs/demo.yaml").to_value();
    assert!(
        template["Resources"].get("AlertTopic").is_none()
            && template.get("Parameters").and_then(|ps| ps.get("AlertEmail")).is_none()
    );
    let runbook = pipewright::docs::runbook(&p, "demo", "specs/demo.yaml").expect("runbook");
    assert!(runbook.contains("The spec says `alerts: none`"), "{runbook}");

    let loaded = with("alerts: {email: parameter}\n");
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);

    let loaded = with("alerts: nobody\n");
    let d = &loaded.diagnostics[0];
    assert_eq!((d.code, d.span.line), (codes::SPEC_SYNTAX, 2), "{}", d.message);
    assert!(d.message.contains("write `none`"), "{}", d.message);
}

/// The codes `check` reports for a spec given as text.
fn codes_of(text: &str) -> Vec<&'static str> {
    let loaded = pipewright::check::diagnose(Source::text("t.yaml", text.to_string()));
    loaded.diagnostics.iter().map(|d| d.code).collect()
}

#[test]
fn triggers_delivered_through_eventbridge_may_overlap_and_match_whole_patterns() {
    let spec = |via_a: &str, via_b: &str, extra: &str| {
        format!(
            "project: fan\nalerts:\n  email: parameter\nbuckets:\n  raw: {{}}\n  out: {{}}\nexamples:\n  site: shop\nstages:\n\
             \x20 a:\n    trigger:\n      bucket: raw\n      pattern: in/site=*/date=*/data.json\n      external: true\n{via_a}{extra}\
             \x20   writes:\n      - bucket: out\n        key: a/date={{date}}/x.json\n\
             \x20 b:\n    trigger:\n      bucket: raw\n      pattern: in/site=*/date=*/data.json\n      external: true\n{via_b}\
             \x20   writes:\n      - bucket: out\n        key: b/date={{date}}/x.json\n"
        )
    };
    let eb = "      via: eventbridge\n";
    // S3 notifications of two stages on the same objects: S3 refuses them (PW104), and each pattern is
    // wider for S3 than written (PW106).
    let both_s3 = codes_of(&spec("", "", ""));
    assert!(both_s3.contains(&"PW104") && both_s3.contains(&"PW106"), "{both_s3:?}");
    // Through EventBridge: no conflict, whole patterns; one of each: no conflict either.
    assert_eq!(codes_of(&spec(eb, eb, "")), Vec::<&str>::new());
    assert!(!codes_of(&spec(eb, "", "")).contains(&"PW104"));
    // What EventBridge cannot do is refused where it is written.
    assert!(codes_of(&spec(eb, eb, "      events: [s3:Replication:*]\n")).contains(&"PW105"));
    let raw = spec(eb, eb, "").replacen("      pattern: in/site=*/date=*/data.json\n", "      prefix: in/\n", 1);
    assert!(codes_of(&raw).contains(&"PW004"), "{:?}", codes_of(&raw));
    let long = spec(eb, eb, &format!("    queue:\n      name: {}\n", "q".repeat(70)));
    assert!(codes_of(&long).contains(&"PW502"), "{:?}", codes_of(&long));
}
