//! IAM-style policy documents compared by meaning: statement order, `Sid`, string-vs-list, the case
//! of actions and condition keys are not differences.

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// A statement in normal form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Statement {
    pub effect: String,
    /// `Service:s3.amazonaws.com`, `AWS:arn:...`, `*`.
    pub principals: BTreeSet<String>,
    /// Lowercased (`sqs:sendmessage`); `NotAction` entries are prefixed with `!`.
    pub actions: BTreeSet<String>,
    pub resources: BTreeSet<String>,
    /// operator -> key (lowercased) -> sorted values.
    pub conditions: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        Value::Bool(b) => vec![b.to_string()],
        Value::Number(n) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// The statements of a document (a single statement object is accepted too).
pub fn statements(doc: &Value) -> Vec<Statement> {
    let list = match &doc["Statement"] {
        Value::Array(a) => a.clone(),
        Value::Object(_) => vec![doc["Statement"].clone()],
        _ => Vec::new(),
    };
    list.iter()
        .map(|s| {
            let principals = match &s["Principal"] {
                Value::String(p) => BTreeSet::from([p.clone()]),
                Value::Object(m) => {
                    m.iter().flat_map(|(kind, v)| strings(v).into_iter().map(move |p| format!("{kind}:{p}"))).collect()
                }
                _ => BTreeSet::new(),
            };
            let mut actions: BTreeSet<String> = strings(&s["Action"]).iter().map(|a| a.to_lowercase()).collect();
            actions.extend(strings(&s["NotAction"]).iter().map(|a| format!("!{}", a.to_lowercase())));
            let conditions = s["Condition"]
                .as_object()
                .map(|ops| {
                    ops.iter()
                        .map(|(op, keys)| {
                            let keys = keys
                                .as_object()
                                .map(|k| {
                                    k.iter()
                                        .map(|(key, v)| {
                                            let mut vals = strings(v);
                                            vals.sort();
                                            (key.to_lowercase(), vals)
                                        })
                                        .collect()
                                })
                                .unwrap_or_default();
                            (op.clone(), keys)
                        })
                        .collect()
                })
                .unwrap_or_default();
            Statement {
                effect: s["Effect"].as_str().unwrap_or("").to_string(),
                principals,
                actions,
                resources: strings(&s["Resource"]).into_iter().collect(),
                conditions,
            }
        })
        .collect()
}

/// The document in normal form, as JSON (sorted statements), for comparison and diffs.
pub fn normalize(doc: &Value) -> Value {
    let mut st = statements(doc);
    st.sort();
    st.dedup();
    Value::Array(
        st.into_iter()
            .map(|s| {
                json!({
                    "Effect": s.effect,
                    "Principal": s.principals,
                    "Action": s.actions,
                    "Resource": s.resources,
                    "Condition": s.conditions,
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_sid_case_and_string_vs_list_are_not_differences() {
        let a = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "A", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
             "Resource": "arn:q", "Condition": {"ArnEquals": {"aws:SourceArn": "arn:b"}}},
            {"Effect": "Deny", "Principal": "*", "Action": ["s3:*"], "Resource": ["arn:x"]}
        ]});
        let b = json!({"Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:x"},
            {"Effect": "Allow", "Principal": {"Service": ["s3.amazonaws.com"]}, "Action": ["SQS:sendmessage"],
             "Resource": ["arn:q"], "Condition": {"ArnEquals": {"AWS:SourceArn": ["arn:b"]}}}
        ]});
        assert_eq!(normalize(&a), normalize(&b));
    }

    #[test]
    fn broader_or_missing_conditions_are_differences() {
        let want = json!({"Statement": {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": "arn:q", "Condition": {"ArnEquals": {"aws:SourceArn": "arn:b"}}}});
        let broader = json!({"Statement": {"Effect": "Allow", "Principal": "*",
            "Action": "sqs:SendMessage", "Resource": "arn:q", "Condition": {"ArnEquals": {"aws:SourceArn": "arn:b"}}}});
        let unconditioned = json!({"Statement": {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": "arn:q"}});
        assert_ne!(normalize(&want), normalize(&broader));
        assert_ne!(normalize(&want), normalize(&unconditioned));
    }
}
