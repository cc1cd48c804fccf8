//! `pipewright new DIR [--spec SPEC]`: a new project that runs. The spec (the given one, or a starter
//! pipeline named after DIR), a Cargo workspace with one crate per stage (`lambdas/<stage>`, binary
//! `<stage>`) on the stage library `pipewright-stage`, each a working pass-through skeleton of its
//! kind (triggered Lambda, scheduled Lambda, `runs: local`), and a README with the next commands.
//! Pure: it returns the files; the CLI writes them.

use crate::spec::Pipeline;
use crate::spec::model::Runs;
use crate::spec::resolve::Stage;
use handlebars::Handlebars;
use serde::Serialize;
use std::path::{Path, PathBuf};

const WORKSPACE: &str = include_str!("templates/Cargo.toml.hbs");
const STAGE_MANIFEST: &str = include_str!("templates/stage-Cargo.toml.hbs");
const README: &str = include_str!("templates/README.md.hbs");
const STARTER: &str = include_str!("templates/starter.yaml.hbs");
const TRIGGERED: &str = include_str!("templates/triggered.rs.hbs");
const SCHEDULED: &str = include_str!("templates/scheduled.rs.hbs");
const LOCAL: &str = include_str!("templates/local.rs.hbs");

/// The stage library's crate in the pipewright source this binary was built from.
pub fn library_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates").join("pipewright-stage")
}

/// A file of the new project, relative to its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    pub path: PathBuf,
    pub contents: String,
}

/// An embedded template failed to render (a bug in the templates).
#[derive(Debug, thiserror::Error)]
#[error("rendering the project's `{file}`: {source}")]
pub struct NewError {
    file: String,
    #[source]
    source: Box<handlebars::RenderError>,
}

#[derive(Serialize)]
struct StageView {
    name: String,
    runs: &'static str,
}

/// A project name from a directory name: lowercase letters, digits and `-` (what the naming
/// conventions accept), `pipeline` when nothing is left.
pub fn project_name(dir: &Path) -> String {
    let raw = dir.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let name: String = raw.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let name = name.trim_matches('-').to_string();
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        format!("pipeline-{name}")
    } else {
        name
    }
    .trim_end_matches('-')
    .to_string()
}

/// The starter spec of a project named `project`.
pub fn starter_spec(project: &str) -> Result<String, NewError> {
    render(STARTER, &serde_json::json!({ "project": project }), "pipewright.yaml")
}

fn render(template: &str, data: &serde_json::Value, file: &str) -> Result<String, NewError> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    hb.render_template(template, data).map_err(|e| NewError { file: file.to_string(), source: Box::new(e) })
}

fn kind(stage: &Stage) -> (&'static str, &'static str) {
    match (&stage.runs, &stage.trigger) {
        (Runs::Local, _) => ("local (cron)", LOCAL),
        (_, Some(_)) => ("Lambda, triggered", TRIGGERED),
        (_, None) => ("Lambda, scheduled", SCHEDULED),
    }
}

/// The files of a new project for `pipeline`, whose spec text is `spec`; its crates depend on the
/// stage library at `library`.
pub fn project(pipeline: &Pipeline, spec: &str, library: &Path) -> Result<Vec<NewFile>, NewError> {
    let project = &pipeline.project.value;
    let library = library.display().to_string();
    let stages: Vec<StageView> =
        pipeline.stages.iter().map(|s| StageView { name: s.name.value.clone(), runs: kind(s).0 }).collect();
    let data = serde_json::json!({ "project": project, "library": library, "stages": stages });
    let mut files = vec![
        NewFile { path: "pipewright.yaml".into(), contents: spec.to_string() },
        NewFile { path: "Cargo.toml".into(), contents: render(WORKSPACE, &data, "Cargo.toml")? },
        NewFile { path: "README.md".into(), contents: render(README, &data, "README.md")? },
        NewFile { path: ".gitignore".into(), contents: "/target\n/.pipewright\n".into() },
    ];
    for stage in &pipeline.stages {
        let name = &stage.name.value;
        let dir = Path::new("lambdas").join(name);
        let (_, main) = kind(stage);
        let view = serde_json::json!({
            "project": project,
            "stage": name,
            "lambda": stage.function.is_some(),
            "triggered": stage.trigger.is_some() && stage.function.is_some(),
        });
        let manifest = render(STAGE_MANIFEST, &view, &format!("lambdas/{name}/Cargo.toml"))?;
        files.push(NewFile { path: dir.join("Cargo.toml"), contents: manifest });
        let main = render(main, &view, &format!("lambdas/{name}/src/main.rs"))?;
        files.push(NewFile { path: dir.join("src").join("main.rs"), contents: main });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(path: &str) -> Pipeline {
        crate::spec::load(crate::spec::Source::read(Path::new(path)).expect("spec")).pipeline.expect("valid")
    }

    #[test]
    fn one_crate_per_stage_of_its_kind() {
        let p = pipeline("specs/hoopstat-haus.yaml");
        let files = project(&p, "spec", Path::new("/src/pipewright/crates/pipewright-stage")).expect("renders");
        let find = |path: &str| files.iter().find(|f| f.path == Path::new(path)).map(|f| f.contents.as_str());
        let workspace = find("Cargo.toml").expect("workspace");
        for stage in ["bronze-ingestion", "silver-processing", "gold-analytics"] {
            assert!(workspace.contains(&format!("\"lambdas/{stage}\"")), "{workspace}");
            let manifest = find(&format!("lambdas/{stage}/Cargo.toml")).expect("manifest");
            assert!(manifest.contains(&format!("name = \"{stage}\"")), "{manifest}");
        }
        assert!(workspace.contains(r#"path = "/src/pipewright/crates/pipewright-stage""#), "{workspace}");
        assert!(find("lambdas/bronze-ingestion/src/main.rs").expect("local").contains("--date"));
        let triggered = find("lambdas/silver-processing/src/main.rs").expect("triggered");
        assert!(triggered.contains("process_s3_batch"), "answers partial batch responses (PW701)");
        assert!(!find("lambdas/bronze-ingestion/Cargo.toml").expect("manifest").contains("lambda_runtime"));
        assert_eq!(find("pipewright.yaml"), Some("spec"));
        assert!(find("README.md").expect("readme").contains("| `gold-analytics` | Lambda, triggered |"));
    }

    #[test]
    fn project_names_from_directories() {
        assert_eq!(project_name(Path::new("/tmp/My Pipeline")), "my-pipeline");
        assert_eq!(project_name(Path::new("orders_2024")), "orders-2024");
        assert_eq!(project_name(Path::new("2024")), "pipeline-2024");
        assert_eq!(project_name(Path::new("___")), "pipeline");
        let starter = starter_spec("acme").expect("renders");
        assert!(starter.contains("project: acme"));
        let loaded = crate::spec::load(crate::spec::Source::text("pipewright.yaml", starter));
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    }
}
