//! CloudFormation model and emitter: pure and deterministic. Each resource remembers the spec node
//! that made it, so later steps (deploy hazards, drift) can point back at the spec.

mod build;
pub mod files;

pub use build::{ARTIFACT_BUCKET, RUNTIME, artifact_key_param, template};

use crate::spec::span::Span;
use indexmap::IndexMap;
use serde_json::{Value, json};

/// One resource of the template.
#[derive(Debug, Clone)]
pub struct Resource {
    pub ty: &'static str,
    pub properties: Value,
    pub depends_on: Vec<String>,
    pub condition: Option<&'static str>,
    /// `Retain` for stateful resources (buckets, tables).
    pub retain: bool,
    /// The spec node this resource comes from.
    pub origin: Span,
    /// cfn-lint rules suppressed on this resource, each with the reason.
    pub suppressions: Vec<(&'static str, &'static str)>,
}

impl Resource {
    pub fn new(ty: &'static str, origin: Span, properties: Value) -> Self {
        Resource {
            ty,
            properties,
            depends_on: Vec::new(),
            condition: None,
            retain: false,
            origin,
            suppressions: Vec::new(),
        }
    }

    pub fn depends_on(mut self, ids: impl IntoIterator<Item = String>) -> Self {
        for id in ids {
            if !self.depends_on.contains(&id) {
                self.depends_on.push(id);
            }
        }
        self
    }

    /// Suppresses a cfn-lint rule on this resource; the reason is written into the template.
    pub fn suppress(mut self, rule: &'static str, reason: &'static str) -> Self {
        self.suppressions.push((rule, reason));
        self
    }

    pub fn retained(mut self) -> Self {
        self.retain = true;
        self
    }
}

/// A CloudFormation template.
#[derive(Debug, Clone, Default)]
pub struct Template {
    pub description: String,
    pub parameters: IndexMap<String, Value>,
    pub conditions: IndexMap<String, Value>,
    pub resources: IndexMap<String, Resource>,
    pub outputs: IndexMap<String, Value>,
}

impl Template {
    pub fn add(&mut self, id: impl Into<String>, resource: Resource) {
        self.resources.insert(id.into(), resource);
    }

    pub fn output(&mut self, id: impl Into<String>, description: &str, value: Value) {
        self.outputs.insert(id.into(), json!({ "Description": description, "Value": value }));
    }

    /// The template as a JSON value (CloudFormation's document model).
    pub fn to_value(&self) -> Value {
        let mut doc = serde_json::Map::new();
        doc.insert("AWSTemplateFormatVersion".into(), json!("2010-09-09"));
        doc.insert("Description".into(), json!(self.description));
        if !self.parameters.is_empty() {
            doc.insert("Parameters".into(), json!(self.parameters));
        }
        if !self.conditions.is_empty() {
            doc.insert("Conditions".into(), json!(self.conditions));
        }
        let mut resources = serde_json::Map::new();
        for (id, r) in &self.resources {
            let mut body = serde_json::Map::new();
            body.insert("Type".into(), json!(r.ty));
            if let Some(c) = r.condition {
                body.insert("Condition".into(), json!(c));
            }
            if !r.depends_on.is_empty() {
                body.insert("DependsOn".into(), json!(r.depends_on));
            }
            if r.retain {
                body.insert("DeletionPolicy".into(), json!("Retain"));
                body.insert("UpdateReplacePolicy".into(), json!("Retain"));
            }
            if !r.suppressions.is_empty() {
                let rules: Vec<&str> = r.suppressions.iter().map(|(rule, _)| *rule).collect();
                let reasons: serde_json::Map<String, Value> =
                    r.suppressions.iter().map(|(rule, why)| (rule.to_string(), json!(why))).collect();
                body.insert(
                    "Metadata".into(),
                    json!({ "cfn-lint": { "config": { "ignore_checks": rules } }, "pipewright": { "suppressed": reasons } }),
                );
            }
            body.insert("Properties".into(), r.properties.clone());
            resources.insert(id.clone(), Value::Object(body));
        }
        doc.insert("Resources".into(), Value::Object(resources));
        if !self.outputs.is_empty() {
            doc.insert("Outputs".into(), json!(self.outputs));
        }
        Value::Object(doc)
    }

    /// The template as YAML, with a header comment.
    pub fn to_yaml(&self, header: &str) -> String {
        let body = serde_saphyr::to_string(&self.to_value()).unwrap_or_default();
        let mut out = String::new();
        for line in header.lines() {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(&body);
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }
}

/// `{"Ref": id}`.
pub fn r#ref(id: &str) -> Value {
    json!({ "Ref": id })
}

/// `{"Fn::GetAtt": [id, attr]}`.
pub fn get_att(id: &str, attr: &str) -> Value {
    json!({ "Fn::GetAtt": [id, attr] })
}

/// `{"Fn::Sub": text}`.
pub fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

/// A logical id from name parts: `("silver-processing", "Queue")` -> `SilverProcessingQueue`.
pub fn logical_id(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts {
        for word in part.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.extend(chars);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_ids_are_pascal_case() {
        assert_eq!(logical_id(&["silver-processing", "Queue"]), "SilverProcessingQueue");
        assert_eq!(logical_id(&["gold_tables", "TableBucket"]), "GoldTablesTableBucket");
    }
}
