//! The README's examples run: its commands parse, its spec checks clean, its environment table is the
//! tool's list, and its CI workflow is valid YAML that runs the gates.

use clap::Parser;
use pipewright::cli::{Cli, env};
use pipewright::spec::Source;

fn readme() -> String {
    std::fs::read_to_string("README.md").expect("README.md")
}

/// Fenced code blocks of the given language.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start().strip_prefix("```")) {
            (None, Some(tag)) if tag.trim() == lang => current = Some(String::new()),
            (Some(block), Some(_)) => {
                out.push(std::mem::take(block));
                current = None;
            }
            (Some(block), None) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    out
}

#[test]
fn readme_commands_parse() {
    let mut seen = 0;
    for block in blocks(&readme(), "sh") {
        for line in block.lines() {
            let line = line.split(" #").next().unwrap_or("").trim();
            for cmd in line.split("&&").map(str::trim) {
                let words: Vec<&str> = cmd.split_whitespace().collect();
                let args: Vec<&str> = match words.as_slice() {
                    ["pipewright", rest @ ..] => rest.to_vec(),
                    ["cargo", "run", "--", rest @ ..] => rest.to_vec(),
                    _ => continue,
                };
                Cli::try_parse_from(std::iter::once("pipewright").chain(args))
                    .unwrap_or_else(|e| panic!("`{cmd}`: {e}"));
                seen += 1;
            }
        }
    }
    assert!(seen >= 5, "expected README commands, found {seen}");
}

#[test]
fn readme_spec_checks_clean() {
    let spec = blocks(&readme(), "yaml").into_iter().find(|b| b.starts_with("project:")).expect("a spec example");
    let loaded = pipewright::check::diagnose(Source::text("README.md", spec));
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
}

#[test]
fn readme_lists_every_environment_variable() {
    let text = readme();
    for (name, meaning) in env::VARS {
        assert!(text.contains(&format!("| `{name}` | {meaning} |")), "README lacks `{name}`");
    }
}

#[test]
fn readme_documents_the_exit_codes() {
    let text = readme();
    for code in 0..=3 {
        assert!(text.contains(&format!("| {code} |")), "exit code {code}");
    }
}

#[test]
fn readme_ci_workflow_runs_the_gates() {
    let workflow = blocks(&readme(), "yaml").into_iter().find(|b| b.starts_with("name:")).expect("workflow");
    let doc: serde_json::Value = serde_saphyr::from_str(&workflow).expect("valid YAML");
    let steps = doc["jobs"]["pipewright"]["steps"].as_array().expect("steps");
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    // pipewright installs from a clone of its source (no registry or URL of ours is assumed).
    assert!(runs.iter().any(|r| r.contains("cargo install --locked --path")), "{runs:?}");
    assert!(!workflow.contains("https://github.com/pipewright"), "a repository that does not exist");
    assert!(runs.iter().any(|r| r.contains("pipewright check")));
    assert!(runs.iter().any(|r| r.contains("pipewright generate") && r.contains("--check")));
    for r in runs.iter().filter(|r| r.starts_with("pipewright ")) {
        let args = r.split(" >").next().unwrap_or(r).split_whitespace();
        Cli::try_parse_from(args).unwrap_or_else(|e| panic!("`{r}`: {e}"));
    }
}
