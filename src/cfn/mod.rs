//! CloudFormation model and emitter: pure and deterministic. Each resource remembers the spec node
//! that made it, so later steps (deploy hazards, drift) can point back at the spec.

mod build;
pub mod desired;
pub mod files;
pub mod fresh;

pub use build::{
    ALERT_EMAIL, ARTIFACT_BUCKET, RUNTIME, artifact_key_param, lifecycle_rules, queue_policy, role_policies, template,
};

use crate::spec::span::Span;
use indexmap::IndexMap;
use serde::ser::{Serialize, SerializeMap, Serializer};
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
    /// Linter rules suppressed on this resource, each with the reason.
    pub suppressions: Vec<Suppression>,
}

/// The linter a suppression speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linter {
    /// cfn-lint (and its serverless rules): `Metadata.cfn-lint.config.ignore_checks`.
    CfnLint,
    /// checkov: `Metadata.checkov.skip[].{id, comment}`.
    Checkov,
}

/// A rule that does not apply to a resource, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suppression {
    pub linter: Linter,
    pub rule: &'static str,
    pub reason: &'static str,
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
        self.suppressions.push(Suppression { linter: Linter::CfnLint, rule, reason });
        self
    }

    /// Skips a checkov check on this resource; the reason is the skip's comment in the template.
    pub fn skip_checkov(mut self, check: &'static str, reason: &'static str) -> Self {
        self.suppressions.push(Suppression { linter: Linter::Checkov, rule: check, reason });
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
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The template as YAML, with a header comment.
    pub fn to_yaml(&self, header: &str) -> String {
        let body = serde_saphyr::to_string(self).unwrap_or_default();
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

/// The template document, serialized from the model without building (and copying) a JSON tree first:
/// key order is CloudFormation's usual one, sections without entries are left out.
impl Serialize for Template {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut doc = serializer.serialize_map(None)?;
        doc.serialize_entry("AWSTemplateFormatVersion", "2010-09-09")?;
        doc.serialize_entry("Description", &self.description)?;
        if !self.parameters.is_empty() {
            doc.serialize_entry("Parameters", &self.parameters)?;
        }
        if !self.conditions.is_empty() {
            doc.serialize_entry("Conditions", &self.conditions)?;
        }
        doc.serialize_entry("Resources", &self.resources)?;
        if !self.outputs.is_empty() {
            doc.serialize_entry("Outputs", &self.outputs)?;
        }
        doc.end()
    }
}

/// A resource as the template has it: `Type`, `Condition`, `DependsOn`, the retain policies, the linter
/// suppressions as `Metadata` (in each linter's own form, and every reason under `pipewright.suppressed`),
/// `Properties`.
impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut body = serializer.serialize_map(None)?;
        body.serialize_entry("Type", self.ty)?;
        if let Some(c) = self.condition {
            body.serialize_entry("Condition", c)?;
        }
        if !self.depends_on.is_empty() {
            body.serialize_entry("DependsOn", &self.depends_on)?;
        }
        if self.retain {
            body.serialize_entry("DeletionPolicy", "Retain")?;
            body.serialize_entry("UpdateReplacePolicy", "Retain")?;
        }
        if !self.suppressions.is_empty() {
            let of = |linter| self.suppressions.iter().filter(move |s| s.linter == linter);
            let mut metadata = serde_json::Map::new();
            let cfn_lint: Vec<&str> = of(Linter::CfnLint).map(|s| s.rule).collect();
            if !cfn_lint.is_empty() {
                metadata.insert("cfn-lint".into(), json!({ "config": { "ignore_checks": cfn_lint } }));
            }
            let checkov: Vec<Value> =
                of(Linter::Checkov).map(|s| json!({ "id": s.rule, "comment": s.reason })).collect();
            if !checkov.is_empty() {
                metadata.insert("checkov".into(), json!({ "skip": checkov }));
            }
            let reasons: IndexMap<&str, &str> = self.suppressions.iter().map(|s| (s.rule, s.reason)).collect();
            metadata.insert("pipewright".into(), json!({ "suppressed": reasons }));
            body.serialize_entry("Metadata", &metadata)?;
        }
        body.serialize_entry("Properties", &self.properties)?;
        body.end()
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
