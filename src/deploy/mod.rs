//! Deploy: upload artifacts -> change set -> review (plan and hazards) -> execute -> wait.
//!
//! A deploy that would change nothing is recognised before any mutating call: the artifacts are
//! already in the bucket and the stack's template and parameters equal the new ones.

pub mod plan;

pub use plan::{Change, ChangeAction, Hazard, StackEvent, hazards};

use crate::aws::cfn::{ChangeSetOutcome, StackInfo, TemplateSource};
use crate::aws::{Aws, AwsError};
use crate::build::manifest::Manifest;
use crate::cfn::files::template_header;
use crate::spec::Pipeline;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A stack still in review this long after its change set was executed did not start.
const STUCK_IN_REVIEW: Duration = Duration::from_secs(60);

/// CloudFormation's limit for an inline template body.
const MAX_TEMPLATE_BODY: usize = 51_200;

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// Stack name (default from the spec's naming convention).
    pub stack: Option<String>,
    /// Execute without asking.
    pub yes: bool,
    /// Stop after printing the plan.
    pub dry_run: bool,
    /// Print the plan as JSON.
    pub json: bool,
    /// Build manifest (default `target/pipewright/<spec>/manifest.json`).
    pub manifest: Option<PathBuf>,
    /// Artifact bucket (default `<project>-artifacts-<account>-<region>`).
    pub artifact_bucket: Option<String>,
    /// Stack parameters given on the command line (`AlertEmail=ops@example.com`).
    pub parameters: Vec<(String, String)>,
    /// How long to wait for the stack to settle.
    pub timeout: Duration,
    /// Print every stack event (else one line per resource: where it settled, and every failure).
    pub all_events: bool,
}

/// Why a deploy did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// Something the user must provide first (a build, a parameter).
    #[error(transparent)]
    Precondition(#[from] Precondition),
    #[error("change set for stack `{stack}` failed: {reason}")]
    ChangeSet { stack: String, reason: String },
    #[error("stack `{stack}` ended in {status}: {reason}")]
    Stack { stack: String, status: String, reason: String },
    #[error("not executed: {0}")]
    Declined(String),
    #[error("writing output: {0}")]
    Io(#[from] std::io::Error),
}

/// What a deploy needs before it starts, and how to provide it. Each message ends with a hint that names
/// the spec as the user gave it.
#[derive(Debug, thiserror::Error)]
pub enum Precondition {
    #[error(
        "the alarms would notify nobody: stack parameter `{param}` (the address that receives them) has no value\n{}",
        alert_hint(param, spec)
    )]
    NoAlertAddress { param: String, spec: String },
    #[error(
        "stack parameter `{param}` is `{email}`, which is not an e-mail address: the alarms would notify nobody\n{}",
        alert_hint(param, spec)
    )]
    BadAlertAddress { param: String, email: String, spec: String },
    #[error("{source}\nhint: run `pipewright build {spec}` first")]
    Manifest {
        #[source]
        source: crate::build::manifest::ManifestError,
        spec: String,
    },
    #[error("the build manifest `{}` has no artifact for stage `{stage}`\nhint: run `pipewright build {spec}`", manifest.display())]
    NoArtifact { manifest: PathBuf, stage: String, spec: String },
    #[error(
        "the artifact of stage `{stage}` in `{}` is built for {built}, but the function runs on {runs}\nhint: run \
         `pipewright build {spec}` (without --arm64/--x86-64)",
        manifest.display()
    )]
    WrongArchitecture { stage: String, manifest: PathBuf, built: String, runs: String, spec: String },
    #[error("the template has no parameter `{0}`")]
    UnknownParameter(String),
    #[error("stack parameter `{0}` has no value\nhint: pass `--parameter {0}=...`")]
    NoParameterValue(String),
    #[error(
        "the artifact bucket `{bucket}` exists but S3 does not confirm that account {account} owns it: it belongs to \
         another account, or this one may not read it ({code}); the Lambda code is uploaded only into a bucket of the \
         deploying account\nhint: pass `--artifact-bucket NAME` with a bucket of account {account}, or grant \
         `s3:ListBucket` on `{bucket}`"
    )]
    ForeignArtifactBucket { bucket: String, account: String, code: String },
    #[error("cannot read artifact `{}`: {source}\nhint: run `pipewright build {spec}`", zip.display())]
    UnreadableArtifact {
        zip: PathBuf,
        #[source]
        source: std::io::Error,
        spec: String,
    },
    #[error("the template is over 51,200 bytes and needs an artifact bucket")]
    TemplateTooLarge,
}

fn alert_hint(param: &str, spec: &str) -> String {
    format!(
        "hint: pass `--parameter {param}=you@example.com`, or write `alerts: none` in `{spec}` for a pipeline without \
         alerting"
    )
}

/// The result of a deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to change; no mutating call was made.
    NoChanges,
    /// The plan was shown (`--dry-run`).
    Planned,
    Deployed {
        status: String,
    },
}

/// The spec being deployed: its pipeline, name (`hoopstat-haus`) and path.
#[derive(Debug, Clone, Copy)]
pub struct Spec<'a> {
    pub pipeline: &'a Pipeline,
    pub name: &'a str,
    pub path: &'a str,
}

/// The stack name of a pipeline.
pub fn stack_name(p: &Pipeline, opts: &Options) -> String {
    opts.stack.clone().unwrap_or_else(|| p.stack_name.clone())
}

/// Refuses an alert address the alarms could not reach (CloudFormation's `AllowedPattern` says the
/// same, minutes later): an empty one means the alarms would notify nobody.
fn alert_address(email: &str, spec_path: &str) -> Result<(), DeployError> {
    let param = crate::cfn::ALERT_EMAIL;
    let well_formed = email.split_once('@').is_some_and(|(local, domain)| {
        let bad = |s: &str| s.is_empty() || s.contains('@') || s.contains(char::is_whitespace);
        // A dot with something on both sides, as in `ALERT_EMAIL_PATTERN`.
        let dotted = domain.char_indices().any(|(i, c)| c == '.' && i > 0 && i + 1 < domain.len());
        !bad(local) && !bad(domain) && dotted
    });
    let (param, spec) = (param.to_string(), spec_path.to_string());
    if email.is_empty() {
        Err(Precondition::NoAlertAddress { param, spec }.into())
    } else if !well_formed {
        Err(Precondition::BadAlertAddress { param, email: email.to_string(), spec }.into())
    } else {
        Ok(())
    }
}

/// The artifacts a deploy uploads, from the build manifest, and the bucket they go to.
struct Artifacts {
    bucket: String,
    account: String,
    uploads: Vec<crate::build::manifest::Artifact>,
    /// The artifact parameters of the template: bucket and key of each stage's zip.
    params: BTreeMap<String, String>,
}

/// The artifacts of the Lambda stages, from the build manifest (none without a Lambda stage).
async fn artifacts(aws: &Aws, spec: &Spec<'_>, opts: &Options) -> Result<Option<Artifacts>, DeployError> {
    let Spec { pipeline: p, name: spec_name, path: spec_path } = *spec;
    let lambdas: Vec<_> = p.stages.iter().filter_map(|s| s.function.as_ref().map(|f| (s, f))).collect();
    if lambdas.is_empty() {
        return Ok(None);
    }
    let manifest_path = opts.manifest.clone().unwrap_or_else(|| Manifest::default_path(spec_name));
    let manifest = Manifest::read(&manifest_path)
        .map_err(|source| Precondition::Manifest { source, spec: spec_path.to_string() })?;
    let account = aws.account().await?;
    let bucket = match &opts.artifact_bucket {
        Some(b) => b.clone(),
        None => format!("{}-artifacts-{account}-{}", p.project.value, aws.region()),
    };
    let mut params = BTreeMap::new();
    let mut uploads = Vec::new();
    for (stage, function) in lambdas {
        let name = &stage.name.value;
        let artifact = manifest.artifact(name).ok_or_else(|| Precondition::NoArtifact {
            manifest: manifest_path.clone(),
            stage: name.clone(),
            spec: spec_path.to_string(),
        })?;
        let runs = function.architecture.value.as_str();
        if runs != artifact.architecture {
            return Err(Precondition::WrongArchitecture {
                stage: name.clone(),
                manifest: manifest_path,
                built: artifact.architecture.clone(),
                runs: runs.to_string(),
                spec: spec_path.to_string(),
            }
            .into());
        }
        params.insert(crate::cfn::artifact_key_param(name), artifact.key());
        uploads.push(artifact.clone());
    }
    params.insert(crate::cfn::ARTIFACT_BUCKET.to_string(), bucket.clone());
    Ok(Some(Artifacts { bucket, account, uploads, params }))
}

/// The stack's parameters: the artifacts', the command line's, else the stack's previous values, else the
/// template's defaults; a parameter without any value is refused, the alert address checked.
fn parameters(
    template: &crate::cfn::Template,
    opts: &Options,
    existing: Option<&StackInfo>,
    artifacts: Option<&Artifacts>,
    spec_path: &str,
) -> Result<Vec<(String, String)>, DeployError> {
    let mut params: BTreeMap<String, String> = artifacts.map(|a| a.params.clone()).unwrap_or_default();
    for (k, v) in &opts.parameters {
        if !template.parameters.contains_key(k) {
            return Err(Precondition::UnknownParameter(k.clone()).into());
        }
        params.insert(k.clone(), v.clone());
    }
    for (k, def) in &template.parameters {
        if params.contains_key(k) {
            continue;
        }
        let previous = existing.and_then(|s| s.parameters.iter().find(|(pk, _)| pk == k)).map(|(_, v)| v.clone());
        let value = match (previous, def.get("Default").and_then(Value::as_str)) {
            (Some(v), _) => v,
            (None, Some(d)) => d.to_string(),
            // Refused below with what the address is for.
            (None, None) if k == crate::cfn::ALERT_EMAIL => String::new(),
            (None, None) => return Err(Precondition::NoParameterValue(k.clone()).into()),
        };
        params.insert(k.clone(), value);
    }
    if let Some(email) = params.get(crate::cfn::ALERT_EMAIL) {
        alert_address(email, spec_path)?;
    }
    Ok(params.into_iter().collect())
}

/// Creates the artifact bucket when missing and uploads the zips it does not hold yet (nothing with
/// `dry_run`).
async fn upload(
    aws: &Aws,
    a: &Artifacts,
    dry_run: bool,
    spec_path: &str,
    err: &mut dyn Write,
) -> Result<(), DeployError> {
    let (bucket, account) = (&a.bucket, &a.account);
    let exists = match aws.bucket_exists(bucket, account).await {
        Ok(exists) => exists,
        Err(e) if e.kind == crate::aws::ErrorKind::AccessDenied => {
            return Err(Precondition::ForeignArtifactBucket {
                bucket: bucket.clone(),
                account: account.clone(),
                code: e.code,
            }
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    let mut missing = Vec::new();
    for artifact in &a.uploads {
        if !exists || !aws.object_exists(bucket, &artifact.key(), account).await? {
            missing.push(artifact);
        }
    }
    if missing.is_empty() {
        writeln!(err, "artifacts: all {} already in s3://{bucket}", a.uploads.len())?;
        return Ok(());
    }
    if dry_run {
        return Ok(());
    }
    if !exists {
        writeln!(err, "creating artifact bucket `{bucket}`")?;
        aws.create_artifact_bucket(bucket, account).await?;
    }
    for artifact in missing {
        let bytes = std::fs::read(&artifact.zip).map_err(|source| Precondition::UnreadableArtifact {
            zip: artifact.zip.clone(),
            source,
            spec: spec_path.to_string(),
        })?;
        writeln!(
            err,
            "uploading {} ({} bytes) to s3://{bucket}/{}",
            artifact.zip.display(),
            bytes.len(),
            artifact.key()
        )?;
        aws.put_object(bucket, &artifact.key(), bytes, account).await?;
    }
    Ok(())
}

/// Deploys the pipeline. `confirm` is asked before executing unless `opts.yes`.
pub async fn deploy(
    aws: &Aws,
    spec: &Spec<'_>,
    opts: &Options,
    out: &mut dyn Write,
    err: &mut dyn Write,
    confirm: &mut dyn FnMut(&str) -> bool,
) -> Result<Outcome, DeployError> {
    let Spec { pipeline: p, path: spec_path, .. } = *spec;
    let stack = stack_name(p, opts);
    let template = crate::cfn::template(p, spec_path);
    let body = template.to_yaml(&template_header(spec_path));

    let existing = aws.describe_stack(&stack).await?;
    let existing = existing.filter(|s| s.status != "REVIEW_IN_PROGRESS" && s.status != "DELETE_COMPLETE");
    let artifacts = artifacts(aws, spec, opts).await?;
    let params = parameters(&template, opts, existing.as_ref(), artifacts.as_ref(), spec_path)?;
    if let Some(a) = &artifacts {
        upload(aws, a, opts.dry_run, spec_path, err).await?;
    }

    // Nothing changed: same template, same parameters. No change set is created.
    let deployed = match &existing {
        Some(_) => Some(aws.stack_template(&stack).await?),
        None => None,
    };
    if let (Some(current), Some(deployed)) = (&existing, &deployed) {
        let mut current_params = current.parameters.clone();
        current_params.sort();
        if current_params == params && *deployed == body {
            writeln!(err, "stack `{stack}` is up to date: no changes")?;
            if opts.json {
                writeln!(out, "{}", json!({ "stack": stack, "action": "none", "changes": [], "hazards": [] }))?;
            }
            return Ok(Outcome::NoChanges);
        }
    }

    let create = existing.is_none();
    let bucket = artifacts.as_ref().map(|a| (a.bucket.as_str(), a.account.as_str()));
    let (id, changes) = match change_set(aws, &stack, &body, bucket, &params, &p.tags, create, spec_path).await? {
        ChangeSetOutcome::NoChanges { id } => {
            aws.delete_change_set(&stack, &id).await?;
            writeln!(err, "stack `{stack}` is up to date: no changes")?;
            return Ok(Outcome::NoChanges);
        }
        ChangeSetOutcome::Failed { id, reason } => {
            let _ = aws.delete_change_set(&stack, &id).await;
            return Err(DeployError::ChangeSet { stack, reason });
        }
        ChangeSetOutcome::Ready { id, changes } => (id, changes),
    };

    let old_template = deployed.as_deref().and_then(|t| serde_saphyr::from_str::<Value>(t).ok());
    let mut found = hazards(&changes, old_template.as_ref(), &template.to_value());
    // A hazard points at the spec node that made the resource, when the new template still has it.
    for h in &mut found {
        if let Some(r) = h.resource.as_ref().and_then(|r| template.resources.get(&r.name)) {
            h.span = r.origin;
        }
    }
    let plan = Plan { stack: &stack, create, id: &id, changes: &changes, hazards: &found, template: &template };
    show_plan(&plan, opts.json, spec_path, out)?;

    if opts.dry_run {
        aws.delete_change_set(&stack, &id).await?;
        writeln!(err, "dry run: change set deleted, nothing executed")?;
        return Ok(Outcome::Planned);
    }
    if !opts.yes && !confirm(&format!("execute the change set on stack `{stack}`?")) {
        aws.delete_change_set(&stack, &id).await?;
        return Err(DeployError::Declined("confirm at the prompt or pass `--yes`".to_string()));
    }

    let started = Instant::now();
    let seen: Vec<String> = aws.stack_events(&stack).await.unwrap_or_default().into_iter().map(|e| e.id).collect();
    aws.execute_change_set(&stack, &id).await?;
    writeln!(err, "executing change set on `{stack}`...")?;
    let status = wait(aws, &stack, seen, started, opts.timeout, opts.all_events, err).await?;
    writeln!(err, "stack `{stack}`: {status} in {:.1}s", started.elapsed().as_secs_f64())?;
    Ok(Outcome::Deployed { status })
}

/// Creates the change set; a template over CloudFormation's body limit goes through the artifact bucket.
#[allow(clippy::too_many_arguments)]
async fn change_set(
    aws: &Aws,
    stack: &str,
    body: &str,
    bucket: Option<(&str, &str)>,
    params: &[(String, String)],
    tags: &[(String, String)],
    create: bool,
    spec_path: &str,
) -> Result<ChangeSetOutcome, DeployError> {
    let source_url;
    let source = if body.len() > MAX_TEMPLATE_BODY {
        let (bucket, account) = bucket.ok_or(Precondition::TemplateTooLarge)?;
        let key = format!("templates/{stack}-{:016x}.yaml", fnv(body));
        aws.put_object(bucket, &key, body.as_bytes().to_vec(), account).await?;
        source_url = aws.object_url(bucket, &key);
        TemplateSource::Url(&source_url)
    } else {
        TemplateSource::Body(body)
    };
    let name = format!("pipewright-{}", unix_now());
    let description = format!("pipewright deploy of {spec_path}");
    Ok(aws.create_change_set(stack, &name, source, params, tags, create, &description).await?)
}

/// A change set ready to execute, and what it means for the pipeline.
struct Plan<'a> {
    stack: &'a str,
    create: bool,
    id: &'a str,
    changes: &'a [Change],
    hazards: &'a [Hazard],
    template: &'a crate::cfn::Template,
}

/// Prints the plan: for people, or as one JSON document.
fn show_plan(plan: &Plan, json: bool, spec_path: &str, out: &mut dyn Write) -> Result<(), DeployError> {
    let Plan { stack, create, id, changes, hazards: found, template } = *plan;
    if json {
        let doc = json!({
            "stack": stack,
            "action": if create { "create" } else { "update" },
            "change_set": id,
            "changes": changes.iter().map(|c| {
                let origin = template.resources.get(&c.logical_id).map(|r| r.origin.line).filter(|l| *l > 0);
                json!({ "logical_id": c.logical_id, "type": c.resource_type, "action": c.action,
                        "properties": c.properties, "spec_line": origin })
            }).collect::<Vec<_>>(),
            "hazards": found.iter().map(|h| crate::report::render::json_item(&crate::report::render::Subject { path: spec_path, text: "" }, h)).collect::<Vec<_>>(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc).unwrap_or_default())?;
    } else {
        write!(out, "{}", render_plan(stack, create, changes, found, template, spec_path))?;
    }
    Ok(())
}

/// Whether a stack event is where its resource settled (`CREATE_COMPLETE`, `UPDATE_FAILED`, ...), the
/// one line per resource of a quiet progress.
fn settled(status: &str) -> bool {
    status.ends_with("_COMPLETE") || status.ends_with("_FAILED")
}

/// Polls the stack until it settles, printing new events; fails with the first failure's reason.
async fn wait(
    aws: &Aws,
    stack: &str,
    mut seen: Vec<String>,
    started: Instant,
    timeout: Duration,
    all_events: bool,
    err: &mut dyn Write,
) -> Result<String, DeployError> {
    let mut delay = Duration::from_millis(250);
    loop {
        let events = aws.stack_events(stack).await?;
        for e in events.iter().rev() {
            if !seen.contains(&e.id) {
                seen.push(e.id.clone());
                if !all_events && !settled(&e.status) {
                    continue;
                }
                let reason = if e.reason.is_empty() { String::new() } else { format!("  ({})", e.reason) };
                writeln!(
                    err,
                    "  {:>6.1}s  {:<28} {:<34} {}{reason}",
                    started.elapsed().as_secs_f64(),
                    e.status,
                    e.resource_type,
                    e.logical_id
                )?;
            }
        }
        let status =
            aws.describe_stack(stack).await?.map(|s| s.status).unwrap_or_else(|| "DELETE_COMPLETE".to_string());
        if status == "REVIEW_IN_PROGRESS" && started.elapsed() > STUCK_IN_REVIEW {
            return Err(DeployError::Stack {
                stack: stack.to_string(),
                status,
                reason: format!("the change set was not executed within {}s", STUCK_IN_REVIEW.as_secs()),
            });
        }
        if started.elapsed() > timeout {
            return Err(DeployError::Stack {
                stack: stack.to_string(),
                status,
                reason: format!(
                    "still in progress after {}s (`--timeout`); it goes on in CloudFormation",
                    timeout.as_secs()
                ),
            });
        }
        if status.ends_with("_COMPLETE") || status.ends_with("_FAILED") {
            let ok = matches!(status.as_str(), "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE");
            if ok {
                return Ok(status);
            }
            let reason = events
                .iter()
                .rev()
                .find(|e| e.status.ends_with("_FAILED") && !e.reason.is_empty())
                .map(|e| format!("{} ({}): {}", e.logical_id, e.resource_type, e.reason))
                .unwrap_or_else(|| "no failure reason in the stack events".to_string());
            return Err(DeployError::Stack { stack: stack.to_string(), status, reason });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// The plan in human form.
pub fn render_plan(
    stack: &str,
    create: bool,
    changes: &[Change],
    hazards: &[Hazard],
    template: &crate::cfn::Template,
    spec_path: &str,
) -> String {
    let mut s =
        format!("stack `{stack}` ({}): {} change(s)\n", if create { "create" } else { "update" }, changes.len());
    let width = changes.iter().map(|c| c.logical_id.len()).max().unwrap_or(0);
    for c in changes {
        let origin = template
            .resources
            .get(&c.logical_id)
            .map(|r| r.origin)
            .filter(|o| o.is_known())
            .map(|o| format!("  {spec_path}:{}", o.line))
            .unwrap_or_default();
        let props = if c.properties.is_empty() || c.action == ChangeAction::Add {
            String::new()
        } else {
            format!(" [{}]", c.properties.join(", "))
        };
        s.push_str(&format!(
            "  {:<3} {:<width$}  {}{props}{origin}\n",
            c.action.symbol(),
            c.logical_id,
            c.resource_type
        ));
    }
    let count = |a: ChangeAction| changes.iter().filter(|c| c.action == a).count();
    s.push_str(&format!(
        "{} to add, {} to modify, {} to replace, {} to remove\n",
        count(ChangeAction::Add),
        count(ChangeAction::Modify),
        count(ChangeAction::Replace) + count(ChangeAction::MaybeReplace),
        count(ChangeAction::Remove)
    ));
    if !hazards.is_empty() {
        s.push_str(&format!("{} pipeline hazard(s):\n", hazards.len()));
        for h in hazards {
            let name = crate::report::codes::find(h.code).map_or("", |c| c.name);
            let at = if h.span.is_known() { format!("  {spec_path}:{}", h.span.line) } else { String::new() };
            s.push_str(&format!("  ! [{} {name}] {}{at}\n", h.code, h.message));
        }
    }
    s
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A stable short hash for content-addressed keys (FNV-1a).
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_addresses_the_alarms_cannot_reach_are_refused() {
        for ok in ["ops@example.com", "a.b+c@mail.example.co.uk", "x@y.z"] {
            assert!(alert_address(ok, "specs/p.yaml").is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ops",
            "ops@",
            "@example.com",
            "ops@example",
            "ops@example.",
            "ops@.com",
            "o ps@example.com",
            "a@b@c.d",
        ] {
            let Err(DeployError::Precondition(p)) = alert_address(bad, "specs/p.yaml") else {
                panic!("`{bad}` accepted");
            };
            let msg = p.to_string();
            assert!(
                msg.contains("notify nobody") && msg.contains("alerts: none") && msg.contains("specs/p.yaml"),
                "{msg}"
            );
        }
    }
}
