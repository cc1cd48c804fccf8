//! `pipewright docs`: the runbook is generated from the spec, committed, and gated like every
//! generated file.

mod support;

use clap::Parser;
use pipewright::Exit;
use pipewright::cli::Cli;
use std::path::Path;
use support::cli;

const COMMITTED: &str = "generated/hoopstat-haus/RUNBOOK.md";

#[test]
fn the_committed_runbook_is_fresh() {
    let (exit, out, err) = cli(&["docs", "specs/hoopstat-haus.yaml", "--check"]);
    assert_eq!(exit, Exit::Clean, "run `cargo run -- docs specs/hoopstat-haus.yaml`\n{out}{err}");
}

#[test]
fn generate_writes_the_runbook_and_docs_check_finds_it_stale() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf8 path");
    let (exit, _, err) = cli(&["generate", "specs/minimal.yaml", "--out", out]);
    assert_eq!(exit, Exit::Clean, "{err}");
    let runbook = dir.path().join("minimal/RUNBOOK.md");
    assert!(runbook.is_file());
    let (exit, _, _) = cli(&["docs", "specs/minimal.yaml", "--out", out, "--check"]);
    assert_eq!(exit, Exit::Clean);

    // A runbook that describes a queue that no longer exists is stale, for both commands.
    let text = std::fs::read_to_string(&runbook).expect("read");
    std::fs::write(&runbook, text.replace("acme-orders-curate-queue", "acme-orders-old-queue")).expect("write");
    let (exit, diff, err) = cli(&["docs", "specs/minimal.yaml", "--out", out, "--check"]);
    assert_eq!(exit, Exit::Findings);
    assert!(diff.contains("-") && diff.contains("+") && diff.contains("acme-orders-curate-queue"), "{diff}");
    assert!(err.contains("stale") && err.contains("pipewright docs specs/minimal.yaml"), "{err}");
    let (exit, _, _) = cli(&["generate", "specs/minimal.yaml", "--out", out, "--check"]);
    assert_eq!(exit, Exit::Findings, "generate --check gates the runbook too");

    let (exit, _, _) = cli(&["docs", "specs/minimal.yaml", "--out", out]);
    assert_eq!(exit, Exit::Clean);
    let (exit, _, _) = cli(&["generate", "specs/minimal.yaml", "--out", out, "--check"]);
    assert_eq!(exit, Exit::Clean);
}

#[test]
fn a_spec_with_errors_is_not_documented() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf8 path");
    let spec = "tests/fixtures/checks/pw301-visibility-below-timeout.yaml";
    let (exit, _, err) = cli(&["--color", "never", "docs", spec, "--out", out]);
    assert_eq!(exit, Exit::Findings);
    assert!(err.contains("PW301") && err.contains("not documenting"), "{err}");
    assert!(std::fs::read_dir(dir.path()).expect("dir").next().is_none(), "nothing written");
}

#[test]
fn the_runbook_answers_every_symptom_of_the_original_guide() {
    let text = std::fs::read_to_string(COMMITTED).expect("committed runbook");
    for section in [
        "### `bronze-ingestion` is not running",
        "### `silver-processing` is not triggered",
        "### `gold-analytics` is not triggered",
        "### High queue depth",
        "### Messages in dead-letter queues",
        "### Function errors, timeouts, permissions",
        "## Reprocessing",
    ] {
        assert!(text.contains(section), "missing {section}");
    }
    for command in [
        "pipewright check specs/hoopstat-haus.yaml",
        "pipewright verify specs/hoopstat-haus.yaml",
        "pipewright status specs/hoopstat-haus.yaml --stage silver-processing",
        "pipewright dlq specs/hoopstat-haus.yaml --stage gold-analytics peek",
        "pipewright dlq specs/hoopstat-haus.yaml --stage gold-analytics redrive",
        "pipewright replay specs/hoopstat-haus.yaml --stage silver-processing --date 2024-01-15",
        "pipewright probe specs/hoopstat-haus.yaml",
        "pipewright deploy specs/hoopstat-haus.yaml --dry-run",
    ] {
        assert!(text.contains(command), "missing `{command}`");
    }
    // The names people used to look up by hand, and the filter both ways.
    for name in [
        "`hoopstat-haus-silver-processing-queue`",
        "`hoopstat-haus-gold-analytics-dlq`",
        "`/aws/lambda/hoopstat-haus-silver-processing`",
        "`hoopstat-haus-gold-analytics-role`",
        "`raw/box_scores/date=*/data.json` | `raw/box_scores/date%3D` | `/data.json`",
        "`hoopstat-haus-silver-processing-duration` | `hoopstat-haus-silver-processing` | AWS/Lambda Duration (Maximum, 5 min) | > 250s of the 300s timeout",
        "`basketball_analytics.player_analytics`",
        "generated/hoopstat-haus/bronze-ingestion.crontab",
    ] {
        assert!(text.contains(name), "missing {name}");
    }
    // The architecture is the graph command's Mermaid, verbatim.
    let (_, mermaid, _) = cli(&["graph", "specs/hoopstat-haus.yaml"]);
    assert!(text.contains(&format!("```mermaid\n{mermaid}```")));
}

#[test]
fn runbook_commands_of_implemented_commands_parse() {
    let text = std::fs::read_to_string(COMMITTED).expect("committed runbook");
    let mut seen = 0;
    for line in text.lines().filter(|l| l.starts_with("pipewright ")) {
        let words: Vec<&str> = line.split(" #").next().unwrap_or(line).split_whitespace().collect();
        // `verify`, `status`, `dlq`, `replay` and `probe` are named as the interface they will have.
        if ["verify", "status", "dlq", "replay", "probe"].contains(&words[1]) {
            continue;
        }
        Cli::try_parse_from(&words).unwrap_or_else(|e| panic!("`{line}`: {e}"));
        seen += 1;
    }
    assert!(seen >= 5, "{seen}");
}

#[test]
fn runbook_of_the_minimal_spec() {
    let loaded =
        pipewright::check::diagnose(pipewright::spec::Source::read(Path::new("specs/minimal.yaml")).expect("spec"));
    let text =
        pipewright::docs::runbook(&loaded.pipeline.expect("parsed"), "minimal", "specs/minimal.yaml").expect("renders");
    insta::assert_snapshot!("runbook_minimal", text);
}
