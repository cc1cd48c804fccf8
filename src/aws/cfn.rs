//! CloudFormation: stacks, change sets, events — returned as our own types.

use super::{Aws, AwsError, ErrorKind};
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType, Parameter, Tag};
use serde::Serialize;

/// What CloudFormation will do to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeAction {
    Add,
    Modify,
    /// Modify with replacement: the resource is deleted and created anew.
    Replace,
    /// Modify that may replace, depending on values only known at deploy time.
    MaybeReplace,
    Remove,
    Other,
}

impl ChangeAction {
    pub fn symbol(self) -> &'static str {
        match self {
            ChangeAction::Add => "+",
            ChangeAction::Modify => "~",
            ChangeAction::Replace => "-/+",
            ChangeAction::MaybeReplace => "~?",
            ChangeAction::Remove => "-",
            ChangeAction::Other => "?",
        }
    }
}

/// One resource change of a change set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub logical_id: String,
    pub resource_type: String,
    pub action: ChangeAction,
    /// Properties that change (for modifications).
    pub properties: Vec<String>,
}

/// An event of the stack while it deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvent {
    pub id: String,
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: String,
}

/// What a stack looks like now.
#[derive(Debug, Clone)]
pub struct StackInfo {
    pub status: String,
    pub parameters: Vec<(String, String)>,
    pub outputs: Vec<(String, String)>,
}

/// A created change set, once CloudFormation has computed it.
#[derive(Debug, Clone)]
pub enum ChangeSetOutcome {
    Ready {
        id: String,
        changes: Vec<Change>,
    },
    /// CloudFormation found nothing to change.
    NoChanges {
        id: String,
    },
    Failed {
        id: String,
        reason: String,
    },
}

impl Aws {
    /// The stack, or `None` when it does not exist.
    pub async fn describe_stack(&self, stack: &str) -> Result<Option<StackInfo>, AwsError> {
        match self.cfn.describe_stacks().stack_name(stack).send().await {
            Ok(out) => Ok(out.stacks.unwrap_or_default().into_iter().next().map(|s| StackInfo {
                status: s.stack_status.map(|s| s.as_str().to_string()).unwrap_or_default(),
                parameters: s
                    .parameters
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| (p.parameter_key.unwrap_or_default(), p.parameter_value.unwrap_or_default()))
                    .collect(),
                outputs: s
                    .outputs
                    .unwrap_or_default()
                    .into_iter()
                    .map(|o| (o.output_key.unwrap_or_default(), o.output_value.unwrap_or_default()))
                    .collect(),
            })),
            Err(e) => {
                let err = AwsError::new("cloudformation:DescribeStacks", stack, e);
                if err.kind == ErrorKind::NotFound { Ok(None) } else { Err(err) }
            }
        }
    }

    /// The template the stack was last deployed with.
    pub async fn stack_template(&self, stack: &str) -> Result<String, AwsError> {
        let out = self
            .cfn
            .get_template()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| AwsError::new("cloudformation:GetTemplate", stack, e))?;
        Ok(out.template_body.unwrap_or_default())
    }

    /// Creates a change set (CREATE for a new stack, UPDATE otherwise) and waits until it is computed.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_change_set(
        &self,
        stack: &str,
        name: &str,
        template: TemplateSource<'_>,
        parameters: &[(String, String)],
        tags: &[(String, String)],
        create: bool,
        description: &str,
    ) -> Result<ChangeSetOutcome, AwsError> {
        let mut req = self
            .cfn
            .create_change_set()
            .stack_name(stack)
            .change_set_name(name)
            .description(description)
            .change_set_type(if create { ChangeSetType::Create } else { ChangeSetType::Update })
            .capabilities(Capability::CapabilityNamedIam);
        req = match template {
            TemplateSource::Body(b) => req.template_body(b),
            TemplateSource::Url(u) => req.template_url(u),
        };
        for (k, v) in parameters {
            req = req.parameters(Parameter::builder().parameter_key(k).parameter_value(v).build());
        }
        for (k, v) in tags {
            req = req.tags(Tag::builder().key(k).value(v).build());
        }
        let out = req.send().await.map_err(|e| AwsError::new("cloudformation:CreateChangeSet", stack, e))?;
        let id = out.id.unwrap_or_else(|| name.to_string());
        self.wait_change_set(stack, &id).await
    }

    async fn wait_change_set(&self, stack: &str, id: &str) -> Result<ChangeSetOutcome, AwsError> {
        let mut delay = std::time::Duration::from_millis(200);
        loop {
            let mut changes = Vec::new();
            let mut next: Option<String> = None;
            let (status, reason) = loop {
                let mut req = self.cfn.describe_change_set().change_set_name(id).stack_name(stack);
                if let Some(t) = &next {
                    req = req.next_token(t);
                }
                let out = req.send().await.map_err(|e| AwsError::new("cloudformation:DescribeChangeSet", id, e))?;
                let status = out.status.clone();
                let reason = out.status_reason.clone().unwrap_or_default();
                for c in out.changes.unwrap_or_default() {
                    if let Some(rc) = c.resource_change {
                        changes.push(Change {
                            logical_id: rc.logical_resource_id.unwrap_or_default(),
                            resource_type: rc.resource_type.unwrap_or_default(),
                            action: match (
                                rc.action.as_ref().map(|a| a.as_str()),
                                rc.replacement.as_ref().map(|r| r.as_str()),
                            ) {
                                (Some("Add"), _) => ChangeAction::Add,
                                (Some("Remove"), _) => ChangeAction::Remove,
                                (Some("Modify"), Some("True")) => ChangeAction::Replace,
                                (Some("Modify"), Some("Conditional")) => ChangeAction::MaybeReplace,
                                (Some("Modify"), _) => ChangeAction::Modify,
                                _ => ChangeAction::Other,
                            },
                            properties: rc
                                .details
                                .unwrap_or_default()
                                .into_iter()
                                .filter_map(|d| d.target.and_then(|t| t.name))
                                .collect(),
                        });
                    }
                }
                next = out.next_token;
                if next.is_none() {
                    break (status, reason);
                }
            };
            match status {
                Some(ChangeSetStatus::CreateComplete) => {
                    return Ok(ChangeSetOutcome::Ready { id: id.to_string(), changes });
                }
                Some(ChangeSetStatus::Failed) => {
                    let nothing =
                        reason.contains("didn't contain changes") || reason.contains("No updates are to be performed");
                    return Ok(if nothing {
                        ChangeSetOutcome::NoChanges { id: id.to_string() }
                    } else {
                        ChangeSetOutcome::Failed { id: id.to_string(), reason }
                    });
                }
                _ => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(3));
                }
            }
        }
    }

    pub async fn execute_change_set(&self, stack: &str, id: &str) -> Result<(), AwsError> {
        self.cfn
            .execute_change_set()
            .change_set_name(id)
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| AwsError::new("cloudformation:ExecuteChangeSet", id, e))?;
        Ok(())
    }

    pub async fn delete_change_set(&self, stack: &str, id: &str) -> Result<(), AwsError> {
        self.cfn
            .delete_change_set()
            .change_set_name(id)
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| AwsError::new("cloudformation:DeleteChangeSet", id, e))?;
        Ok(())
    }

    /// The stack's events, newest first (first page).
    pub async fn stack_events(&self, stack: &str) -> Result<Vec<StackEvent>, AwsError> {
        let out = self
            .cfn
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| AwsError::new("cloudformation:DescribeStackEvents", stack, e))?;
        Ok(out
            .stack_events
            .unwrap_or_default()
            .into_iter()
            .map(|e| StackEvent {
                id: e.event_id.unwrap_or_default(),
                logical_id: e.logical_resource_id.unwrap_or_default(),
                resource_type: e.resource_type.unwrap_or_default(),
                status: e.resource_status.map(|s| s.as_str().to_string()).unwrap_or_default(),
                reason: e.resource_status_reason.unwrap_or_default(),
            })
            .collect())
    }
}

/// Where CloudFormation reads the template from.
#[derive(Debug, Clone, Copy)]
pub enum TemplateSource<'a> {
    Body(&'a str),
    /// An S3 URL (templates over 51,200 bytes).
    Url(&'a str),
}
