//! What a user reads when a spec or a command line is wrong: plain words, the place, the likely fix, once.
//! One test per class of message, each on a pipeline of its own shape (not the flagship's).

mod support;

use pipewright::Exit;
use pipewright::report::{Diagnostic, Severity};
use pipewright::spec::Source;
use std::io::Write;
use std::process::{Command, Stdio};
use support::cli;

/// A small pipeline of another shape than the flagship: a sensor feed, an hourly roll-up and a table.
const SENSORS: &str = "\
project: sensor-feed
alerts: {email: parameter}
buckets:
  readings: {}
  rollups:
    versioning: true
tables:
  bucket: lake
  namespace: sensors
  tables:
    hourly:
      - {name: sensor_id, type: string, required: true}
      - {name: hour, type: timestamp, partition: hour}
defaults:
  queue:
    retention: 4d
stages:
  rollup:
    trigger:
      bucket: readings
      pattern: raw/site=*/reading.json
      external: true
    queue:
      visibility_timeout: 10m
    writes:
      - bucket: rollups
        key: hourly/date={date}/rollup.parquet
    writes_tables: [hourly]
  audit:
    trigger:
      bucket: rollups
      pattern: hourly/date=*/rollup.parquet
    writes:
      - bucket: readings
        key: audit/date={date}/report.json
";

/// The sensor pipeline with `from` replaced by `to` (which must occur once).
fn mutated(from: &str, to: &str) -> String {
    assert_eq!(SENSORS.matches(from).count(), 1, "`{from}` occurs once");
    SENSORS.replacen(from, to, 1)
}

fn diagnose(text: &str) -> Vec<Diagnostic> {
    pipewright::check::diagnose(Source::text("sensors.yaml", text)).diagnostics
}

fn errors(text: &str) -> Vec<Diagnostic> {
    diagnose(text).into_iter().filter(|d| d.severity == Severity::Error).collect()
}

/// The one error of `text`, with its code.
fn only_error(text: &str) -> Diagnostic {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "one error expected: {errors:#?}");
    errors.into_iter().next().expect("one")
}

fn line_of(text: &str, needle: &str) -> u32 {
    let index = text.lines().position(|l| l.contains(needle)).expect("the needle is in the spec");
    index as u32 + 1
}

#[test]
fn the_sensor_pipeline_checks_clean() {
    assert_eq!(diagnose(SENSORS), Vec::new());
}

#[test]
fn parse_errors_say_what_was_found_and_expected_in_plain_words() {
    let cases = [
        // (from, to, the message, the hint or "")
        ("visibility_timeout: 10m", "visibility_timeout: soon", "`soon` is not a duration", ""),
        (
            "retention: 4d",
            "retention: 4d\n    max_receive_count: many",
            "`many` is not a whole number from 0 to 4294967295",
            "",
        ),
        (
            "  rollups:\n    versioning: true",
            "  rollups:\n    versioning: true\n    versioning: false",
            "key `versioning` appears twice in this mapping",
            "keep one of them",
        ),
        (
            "key: audit/date={date}/report.json",
            "key: audit/date={date}/report.json\n---\nproject: other",
            "the spec holds more than one YAML document",
            "remove the `---` line",
        ),
        (
            "pattern: raw/site=*/reading.json",
            "pattern: [raw]",
            "expected a single value here, not a list or a mapping",
            "",
        ),
    ];
    for (from, to, message, hint) in cases {
        let text = mutated(from, to);
        let d = only_error(&text);
        assert_eq!(d.code, "PW001", "{to}");
        assert!(d.message.contains(message), "{to}: {}", d.message);
        for internal in ["invalid u32", "DuplicateKeyPolicy", "from_str_multiple", "budget breached", "Options"] {
            assert!(!d.message.contains(internal), "{to}: {}", d.message);
        }
        let shown_hint = d.hint.clone().unwrap_or_default();
        assert!(shown_hint.contains(hint), "{to}: hint {shown_hint:?}");
        assert_ne!(shown_hint, "see `pipewright schema` for the spec format");
    }
    // The position is the offending value's.
    let text = mutated("visibility_timeout: 10m", "visibility_timeout: soon");
    assert_eq!(only_error(&text).span.line, line_of(&text, "visibility_timeout: soon"));
}

#[test]
fn misspelt_keys_buckets_tables_stages_and_variables_get_a_did_you_mean() {
    let cases = [
        (
            "visibility_timeout: 10m",
            "visibilty_timeout: 10m",
            "PW001",
            "unknown key `visibilty_timeout`",
            "did you mean `visibility_timeout`?",
        ),
        (
            "      bucket: readings\n      pattern",
            "      bucket: readngs\n      pattern",
            "PW002",
            "bucket `readngs`",
            "did you mean `readings`?",
        ),
        ("writes_tables: [hourly]", "writes_tables: [hourl]", "PW002", "table `hourl`", "did you mean `hourly`?"),
        (
            "key: audit/date={date}/report.json",
            "key: audit/date={dat}/report.json",
            "PW003",
            "`{dat}`",
            "did you mean `{date}`?",
        ),
    ];
    for (from, to, code, message, hint) in cases {
        let d = only_error(&mutated(from, to));
        assert_eq!(d.code, code, "{to}: {d:?}");
        assert!(d.message.contains(message), "{to}: {}", d.message);
        assert_eq!(d.hint.as_deref(), Some(hint), "{to}");
    }
    // A time zone.
    let text = mutated(
        "  audit:\n",
        "  nightly:\n    schedule:\n      expression: cron(0 3 * * ? *)\n      timezone: Europe/Berln\n    writes:\n      - bucket: rollups\n        key: nightly/date={date}/summary.json\n  audit:\n",
    );
    let d = only_error(&text);
    assert_eq!(d.hint.as_deref(), Some("did you mean `Europe/Berlin`?"), "{d:?}");
    // Nothing close: the hint lists what there is.
    let d = only_error(&mutated("writes_tables: [hourly]", "writes_tables: [weather]"));
    assert!(d.hint.as_deref().is_some_and(|h| h.contains("declared tables: hourly")), "{d:?}");

    // A stage named on the command line.
    let p = pipewright::check::diagnose(Source::text("sensors.yaml", SENSORS)).pipeline.expect("parses");
    assert_eq!(p.no_stage("rolup"), "the spec has no stage `rolup`: did you mean `rollup`? (stages: rollup, audit)");
    assert_eq!(p.no_stage("ingest"), "the spec has no stage `ingest` (stages: rollup, audit)");
}

#[test]
fn an_unknown_key_template_variable_is_an_error_unless_examples_declares_it() {
    let text = mutated("key: audit/date={date}/report.json", "key: audit/site={site}/report.json");
    let d = only_error(&text);
    assert_eq!((d.code, d.span.line), ("PW003", line_of(&text, "{site}")));
    assert!(d.hint.as_deref().is_some_and(|h| h.contains("`{date}`") && h.contains("examples:")), "{d:?}");
    let declared = format!("{text}examples:\n  site: berlin-01\n");
    assert_eq!(errors(&declared), Vec::new());
}

#[test]
fn booleans_are_only_true_or_false() {
    for written in ["\"no\"", "no", "yes", "y", "n", "off", "on"] {
        let text = mutated("versioning: true", &format!("versioning: {written}"));
        let d = only_error(&text);
        assert_eq!((d.code, d.span.line), ("PW001", line_of(&text, "versioning:")), "{written}");
        assert!(d.message.contains("`true` or `false`"), "{written}: {}", d.message);
    }
    assert_eq!(errors(&mutated("versioning: true", "versioning: false")), Vec::new());
}

#[test]
fn a_long_project_name_is_one_error_at_project() {
    let long = "sensor-feed-of-the-northern-districts-with-a-name-far-too-long-for-aws";
    assert!(long.len() >= 70);
    let text = mutated("project: sensor-feed", &format!("project: {long}"));
    let d = only_error(&text);
    assert_eq!((d.code, d.span.line), ("PW502", 1), "{d:?}");
    assert!(d.message.contains("more name(s) built from it"), "{}", d.message);
    assert!(d.hint.as_deref().is_some_and(|h| h.contains("rename the project")), "{d:?}");

    // A name set explicitly is its own problem, at its own line.
    let text = mutated(
        "queue:\n      visibility_timeout: 10m",
        &format!("queue:\n      name: {}\n      visibility_timeout: 10m", "q".repeat(81)),
    );
    let d = only_error(&text);
    assert_eq!(d.span.line, line_of(&text, "name: qqq"), "{d:?}");
}

#[test]
fn a_wrong_value_in_defaults_is_one_error_at_its_line_in_the_unit_written() {
    let text = mutated("retention: 4d", "retention: 15d");
    let d = only_error(&text);
    assert_eq!((d.code, d.span.line), ("PW004", line_of(&text, "retention: 15d")));
    assert_eq!(d.message, "the queue retention is 15d; AWS accepts 60s to 14d");

    // A default that breaks a relation in every stage taking it: one finding, naming the others.
    let text = mutated("    queue:\n      visibility_timeout: 10m\n", "")
        .replace("retention: 4d", "retention: 4d\n    visibility_timeout: 30s");
    let d = only_error(&text);
    assert_eq!((d.code, d.span.line), ("PW301", line_of(&text, "visibility_timeout: 30s")));
    // Sorted by message: `audit` before `rollup`.
    assert!(d.message.starts_with("the visibility timeout of `audit`'s queue (30s)"), "{}", d.message);
    assert!(d.message.ends_with("(the same value: also `rollup`)"), "{}", d.message);
}

#[test]
fn the_stale_hint_repeats_the_users_flags_and_diffs_name_files_plainly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("sensors.yaml");
    std::fs::write(&spec, SENSORS).expect("spec");
    let out = dir.path().join("cfn");
    let (spec, out) = (spec.to_str().expect("utf8"), out.to_str().expect("utf8"));
    assert_eq!(cli(&["generate", spec, "--out", out]).0, Exit::Clean);
    std::fs::write(format!("{out}/sensors/template.yaml"), "stale\n").expect("write");
    let (exit, diff, err) = cli(&["generate", spec, "--out", out, "--check"]);
    assert_eq!(exit, Exit::Findings);
    assert!(err.contains(&format!("run `pipewright generate {spec} --out {out}`")), "{err}");
    assert!(diff.contains(&format!("--- {out}/sensors/template.yaml\n")), "{diff}");
    assert!(!diff.contains("a//"), "{diff}");

    std::fs::write(format!("{out}/sensors/RUNBOOK.md"), "stale\n").expect("write");
    let (exit, _, err) = cli(&["docs", spec, "--out", out, "--check"]);
    assert_eq!(exit, Exit::Findings);
    assert!(err.contains(&format!("run `pipewright docs {spec} --out {out}`")), "{err}");
}

fn pipewright(args: &[&str], stdin: &[u8]) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(stdin).expect("write");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_reads_standard_input_as_dash() {
    let (code, out, _) = pipewright(&["--color", "never", "check", "-"], SENSORS.as_bytes());
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("<stdin>: no findings"), "{out}");
    let broken = mutated("writes_tables: [hourly]", "writes_tables: [hourl]");
    let (code, out, _) = pipewright(&["--color", "never", "check", "-"], broken.as_bytes());
    assert_eq!(code, Some(1));
    assert!(out.contains("<stdin>:") && out.contains("did you mean `hourly`?"), "{out}");
    // Commands that name files after the spec need its file.
    let (code, _, err) = pipewright(&["generate", "-"], SENSORS.as_bytes());
    assert_eq!(code, Some(2));
    assert!(err.contains("not generating a spec from standard input"), "{err}");
}

#[test]
fn a_spec_that_is_not_utf8_is_reported_with_its_line_column_and_offset() {
    let mut bytes = SENSORS.as_bytes().to_vec();
    let at = SENSORS.find("sensor-feed").expect("project") + 6;
    bytes[at] = 0xE9; // Latin-1 `é` in `sensor-feed`
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("latin1.yaml");
    std::fs::write(&spec, &bytes).expect("write");
    let (exit, _, err) = cli(&["check", spec.to_str().expect("utf8")]);
    assert_eq!(exit, Exit::Usage);
    assert!(err.contains(&format!("byte 0xE9 at line 1, column 16 (byte offset {at})")), "{err}");
}

#[test]
fn a_huge_value_gives_a_small_report() {
    let name = "a".repeat(3 << 20);
    let text = mutated("project: sensor-feed", &format!("project: {name}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("huge.yaml");
    std::fs::write(&spec, &text).expect("write");
    for format in ["human", "json", "sarif", "github"] {
        let (exit, out, _) = cli(&["--color", "never", "check", spec.to_str().expect("utf8"), "--format", format]);
        assert_eq!(exit, Exit::Findings, "{format}");
        // SARIF lists every rule: tens of kilobytes whatever the spec.
        assert!(out.len() < 100_000, "{format}: a report of {} bytes", out.len());
    }

    // Over the parser's budget: one error that says so.
    let text = mutated("project: sensor-feed", &format!("project: {}", "a".repeat(5 << 20)));
    let d = only_error(&text);
    assert!(d.message.contains("the spec is too large"), "{}", d.message);
}
