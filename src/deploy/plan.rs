//! A change set as a readable plan, and the pipeline hazards in it: pure, no I/O.

pub use crate::aws::cfn::{Change, ChangeAction, StackEvent};
use crate::report::span::Span;
use crate::report::{Diagnostic, Resource};
use serde_json::Value;

/// A change that breaks or weakens the pipeline: a finding (Hnnn) about the resource it changes, by
/// logical id.
pub type Hazard = Diagnostic;

fn hazard(code: &'static str, kind: &str, id: &str, message: String) -> Hazard {
    Diagnostic::about(code, Resource::new(id, kind), Span::default(), message)
}

fn resources(t: &Value) -> Option<&serde_json::Map<String, Value>> {
    t.get("Resources").and_then(Value::as_object)
}

/// The logical id an intrinsic refers to (`{"Ref": X}`, `{"Fn::GetAtt": [X, ...]}`).
fn referenced_id(v: &Value) -> Option<&str> {
    v.get("Ref").and_then(Value::as_str).or_else(|| v.get("Fn::GetAtt").and_then(|a| a.get(0)).and_then(Value::as_str))
}

/// Event source mappings of `t` that read queue `queue` or invoke function `function`.
fn mappings_of<'a>(t: &'a Value, queue: Option<&str>, function: Option<&str>) -> Vec<&'a str> {
    let Some(res) = resources(t) else { return Vec::new() };
    res.iter()
        .filter(|(_, r)| r["Type"] == "AWS::Lambda::EventSourceMapping")
        .filter(|(_, r)| {
            let p = &r["Properties"];
            (queue.is_some() && referenced_id(&p["EventSourceArn"]) == queue)
                || (function.is_some() && referenced_id(&p["FunctionName"]) == function)
        })
        .map(|(id, _)| id.as_str())
        .collect()
}

/// Queue notification entries of a bucket, as comparable text.
fn notifications(t: &Value, bucket: &str) -> Vec<(String, Value)> {
    let Some(r) = resources(t).and_then(|r| r.get(bucket)) else { return Vec::new() };
    r["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    let queue = referenced_id(&c["Queue"]).unwrap_or("?").to_string();
                    (format!("{} -> {queue}", c["Event"].as_str().unwrap_or("?")), c.clone())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether bucket `id` of template `t` sends its events to EventBridge.
fn sends_to_eventbridge(t: &Value, id: &str) -> bool {
    resources(t).and_then(|r| r.get(id)).is_some_and(|b| {
        b["Properties"]["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] == true
    })
}

/// The EventBridge rules of `t` that target queue `queue` (a trigger delivered through EventBridge).
fn rules_targeting<'a>(t: &'a Value, queue: &str) -> Vec<&'a str> {
    let Some(res) = resources(t) else { return Vec::new() };
    res.iter()
        .filter(|(_, r)| r["Type"] == "AWS::Events::Rule")
        .filter(|(_, r)| {
            r["Properties"]["Targets"]
                .as_array()
                .is_some_and(|ts| ts.iter().any(|x| referenced_id(&x["Arn"]) == Some(queue)))
        })
        .map(|(id, _)| id.as_str())
        .collect()
}

/// The function timeout that applies to a queue (through the mapping that reads it).
fn consumer_timeout(t: &Value, queue: &str) -> Option<u64> {
    let res = resources(t)?;
    mappings_of(t, Some(queue), None).into_iter().find_map(|m| {
        let f = referenced_id(&res.get(m)?["Properties"]["FunctionName"])?;
        res.get(f)?["Properties"]["Timeout"].as_u64()
    })
}

fn is_dlq(t: &Value, queue: &str) -> bool {
    resources(t).is_some_and(|res| {
        res.values().any(|r| referenced_id(&r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]) == Some(queue))
    })
}

/// The hazards of applying `changes` to a stack deployed from `old` (when known), giving `new`.
pub fn hazards(changes: &[Change], old: Option<&Value>, new: &Value) -> Vec<Hazard> {
    let mut out = Vec::new();
    let replaced = |c: &Change| matches!(c.action, ChangeAction::Replace | ChangeAction::MaybeReplace);
    for c in changes {
        let id = c.logical_id.as_str();
        match (c.resource_type.as_str(), c.action) {
            ("AWS::SQS::Queue", _) if replaced(c) => {
                let maps = mappings_of(new, Some(id), None);
                out.push(hazard("H101", "AWS::SQS::Queue", id, format!(
                        "queue `{id}` is replaced: the old queue is deleted with every message in it{}",
                        if maps.is_empty() {
                            String::new()
                        } else {
                            format!(", and event source mapping {} is re-created", list(&maps))
                        }
                    )));
            }
            ("AWS::Lambda::Function", _) if replaced(c) => {
                let maps = mappings_of(new, None, Some(id));
                if !maps.is_empty() {
                    out.push(hazard("H102", "AWS::Lambda::Function", id, format!(
                            "function `{id}` is replaced: event source mapping {} is re-created and the queue is not consumed meanwhile",
                            list(&maps)
                        )));
                }
            }
            ("AWS::S3Tables::Table", _) if replaced(c) => out.push(hazard("H103", "AWS::S3Tables::Table", id, format!(
                    "table `{id}` is replaced (its Iceberg metadata, the schema or the partitioning, changed): CloudFormation creates the new table before it lets go of the old one, whose name it keeps and whose data it retains, so the update fails; change a deployed table's schema or partitioning with an Iceberg client, or drop the table first"
                ))),
            ("AWS::Lambda::EventSourceMapping", ChangeAction::Remove) => out.push(hazard("H104", "AWS::Lambda::EventSourceMapping", id, format!("event source mapping `{id}` is removed: its queue is no longer consumed"))),
            ("AWS::SQS::Queue", ChangeAction::Remove) if old.is_some_and(|o| is_dlq(o, id)) => out.push(hazard("H105", "AWS::SQS::Queue", id, format!(
                    "dead-letter queue `{id}` is removed with its dead letters; failed messages will be dropped"
                ))),
            ("AWS::CloudWatch::Alarm", ChangeAction::Remove) => out.push(hazard("H106", "AWS::CloudWatch::Alarm", id, format!("alarm `{id}` is removed: what it watched goes unnoticed"))),
            ("AWS::S3::Bucket", action) => {
                if let Some(old) = old {
                    dropped_notifications(id, action, old, new, &mut out);
                    let still = action != ChangeAction::Remove && sends_to_eventbridge(new, id);
                    if sends_to_eventbridge(old, id) && !still {
                        out.push(hazard(
                            "H109",
                            "AWS::S3::Bucket",
                            id,
                            format!(
                                "bucket `{id}` stops sending its events to EventBridge: the triggers delivered through it receive nothing"
                            ),
                        ));
                    }
                }
            }
            ("AWS::Events::Rule", ChangeAction::Remove) => out.push(hazard(
                "H110",
                "AWS::Events::Rule",
                id,
                format!("EventBridge rule `{id}` is removed: its stage no longer receives the objects it matched"),
            )),
            _ => {}
        }
        if c.resource_type == "AWS::SQS::Queue" && c.action == ChangeAction::Modify {
            out.extend(visibility_below_timeout(id, old, new));
        }
    }
    out
}

/// `notification-dropped`: each notification of bucket `id` that the new template no longer has as it was.
fn dropped_notifications(id: &str, action: ChangeAction, old: &Value, new: &Value, out: &mut Vec<Hazard>) {
    let before = notifications(old, id);
    let after = if action == ChangeAction::Remove { Vec::new() } else { notifications(new, id) };
    for (what, cfg) in &before {
        if !after.iter().any(|(_, c)| c == cfg) {
            let queue = referenced_id(&cfg["Queue"]).unwrap_or_default();
            let rules = rules_targeting(new, queue);
            let why = if after.iter().any(|(w, _)| w == what) {
                " (its filter changes)".to_string()
            } else if !rules.is_empty() {
                // The trigger moves to EventBridge: events between the two updates reach neither.
                format!(" (its trigger is delivered through EventBridge rule {} from now on)", list(&rules))
            } else {
                String::new()
            };
            out.push(hazard(
                "H107",
                "AWS::S3::Bucket",
                id,
                format!("bucket `{id}` drops its notification `{what}`{why}"),
            ));
        }
    }
}

/// `visibility-below-timeout`: queue `id`'s visibility timeout shrinking below its consumer's timeout.
fn visibility_below_timeout(id: &str, old: Option<&Value>, new: &Value) -> Option<Hazard> {
    let new_vis = resources(new).and_then(|r| r.get(id)).and_then(|r| r["Properties"]["VisibilityTimeout"].as_u64());
    let old_vis =
        old.and_then(resources).and_then(|r| r.get(id)).and_then(|r| r["Properties"]["VisibilityTimeout"].as_u64());
    let (n, o, timeout) = (new_vis?, old_vis?, consumer_timeout(new, id)?);
    (n < o && n < timeout).then(|| hazard("H108", "AWS::SQS::Queue", id, format!(
            "queue `{id}`'s visibility timeout shrinks from {o}s to {n}s, below its function's {timeout}s timeout: messages will be processed twice"
        )))
}

fn list(ids: &[&str]) -> String {
    ids.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A hazard's name in the code registry.
    fn name(h: &Hazard) -> &'static str {
        crate::report::codes::find(h.code).map_or("", |c| c.name)
    }

    fn template(vis: u64, with_notification: bool) -> Value {
        let mut bucket = json!({ "Type": "AWS::S3::Bucket", "Properties": { "BucketName": "b" } });
        if with_notification {
            bucket["Properties"]["NotificationConfiguration"] = json!({ "QueueConfigurations": [
                { "Event": "s3:ObjectCreated:*", "Queue": { "Fn::GetAtt": ["Q", "Arn"] } }
            ]});
        }
        json!({ "Resources": {
            "B": bucket,
            "Q": { "Type": "AWS::SQS::Queue", "Properties": { "VisibilityTimeout": vis,
                   "RedrivePolicy": { "deadLetterTargetArn": { "Fn::GetAtt": ["D", "Arn"] } } } },
            "D": { "Type": "AWS::SQS::Queue", "Properties": {} },
            "F": { "Type": "AWS::Lambda::Function", "Properties": { "Timeout": 300 } },
            "M": { "Type": "AWS::Lambda::EventSourceMapping", "Properties": {
                   "EventSourceArn": { "Fn::GetAtt": ["Q", "Arn"] }, "FunctionName": { "Ref": "F" } } },
            "A": { "Type": "AWS::CloudWatch::Alarm", "Properties": {} },
        }})
    }

    fn change(id: &str, ty: &str, action: ChangeAction) -> Change {
        Change { logical_id: id.into(), resource_type: ty.into(), action, properties: vec![] }
    }

    #[test]
    fn finds_each_hazard() {
        let old = template(1805, true);
        let new = template(120, false);
        let changes = vec![
            change("Q", "AWS::SQS::Queue", ChangeAction::Modify),
            change("B", "AWS::S3::Bucket", ChangeAction::Modify),
            change("D", "AWS::SQS::Queue", ChangeAction::Remove),
            change("A", "AWS::CloudWatch::Alarm", ChangeAction::Remove),
            change("F", "AWS::Lambda::Function", ChangeAction::Replace),
            change("M", "AWS::Lambda::EventSourceMapping", ChangeAction::Remove),
        ];
        let codes: Vec<&str> = hazards(&changes, Some(&old), &new).iter().map(name).collect();
        assert_eq!(
            codes,
            [
                "visibility-shrinks-below-timeout",
                "notification-dropped",
                "dlq-removed",
                "alarm-removed",
                "function-replaced",
                "mapping-removed"
            ]
        );
    }

    #[test]
    fn switching_a_trigger_between_s3_and_eventbridge() {
        // To EventBridge: the notification goes, a rule targets the same queue.
        let old = template(1805, true);
        let mut new = template(1805, false);
        new["Resources"]["B"]["Properties"]["NotificationConfiguration"] =
            json!({ "EventBridgeConfiguration": { "EventBridgeEnabled": true } });
        new["Resources"]["R"] = json!({ "Type": "AWS::Events::Rule", "Properties": {
            "Targets": [{ "Id": "stage-queue", "Arn": { "Fn::GetAtt": ["Q", "Arn"] } }] } });
        let to_eventbridge = vec![
            change("B", "AWS::S3::Bucket", ChangeAction::Modify),
            change("R", "AWS::Events::Rule", ChangeAction::Add),
        ];
        let h = hazards(&to_eventbridge, Some(&old), &new);
        assert_eq!(h.iter().map(name).collect::<Vec<_>>(), ["notification-dropped"]);
        assert!(h[0].message.contains("through EventBridge rule `R`"), "{}", h[0].message);

        // Back to S3: the rule goes and the bucket stops sending to EventBridge.
        let back = vec![
            change("B", "AWS::S3::Bucket", ChangeAction::Modify),
            change("R", "AWS::Events::Rule", ChangeAction::Remove),
        ];
        let h = hazards(&back, Some(&new), &old);
        assert_eq!(h.iter().map(name).collect::<Vec<_>>(), ["eventbridge-disabled", "rule-removed"]);
        assert_eq!(h[1].resource.as_ref().map(|r| r.kind.as_str()), Some("AWS::Events::Rule"));
    }

    #[test]
    fn a_table_replaced_is_a_hazard() {
        let t = template(1805, true);
        let h = hazards(&[change("GoldTable", "AWS::S3Tables::Table", ChangeAction::Replace)], Some(&t), &t);
        assert_eq!(h.iter().map(name).collect::<Vec<_>>(), ["table-replaced"]);
        assert!(h[0].message.contains("with an Iceberg client"), "{}", h[0].message);
        assert!(hazards(&[change("GoldTable", "AWS::S3Tables::Table", ChangeAction::Modify)], Some(&t), &t).is_empty());
    }

    #[test]
    fn queue_replacement_names_its_mapping() {
        let t = template(1805, true);
        let h = hazards(&[change("Q", "AWS::SQS::Queue", ChangeAction::Replace)], Some(&t), &t);
        assert_eq!(h.len(), 1);
        assert!(h[0].message.contains("`M` is re-created"), "{}", h[0].message);
    }

    #[test]
    fn harmless_changes_have_no_hazards() {
        let old = template(1805, true);
        let new = template(1900, true);
        let changes = vec![
            change("Q", "AWS::SQS::Queue", ChangeAction::Modify),
            change("B", "AWS::S3::Bucket", ChangeAction::Modify),
        ];
        assert!(hazards(&changes, Some(&old), &new).is_empty());
    }
}
