//! The health of live resources, as data: the small JSON format that `verify` and `status` emit and
//! `graph --status` colours nodes from.
//!
//! ```json
//! {"resources": {"hoopstat-haus-silver-processing-queue": "ok", "hoopstat-haus-silver-processing-dlq": "broken"}}
//! ```
//!
//! Keys are the resources' real names: buckets, queues, DLQs, functions, alarms and schedules by their
//! AWS names, S3 tables as `namespace.table`, local stages by the stage name. Other top-level keys are
//! allowed (for the emitters' own use) and ignored here.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The state of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Live and as the spec says.
    Ok,
    /// Live, but a setting differs from the spec.
    Drift,
    /// Missing, disabled, failing or alarming.
    Broken,
    /// Could not be checked.
    Unknown,
}

impl Health {
    pub const ALL: [Health; 4] = [Health::Ok, Health::Drift, Health::Broken, Health::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Drift => "drift",
            Health::Broken => "broken",
            Health::Unknown => "unknown",
        }
    }
}

/// A status document: resource name -> health.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusFile {
    pub resources: BTreeMap<String, Health>,
}

impl StatusFile {
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn get(&self, name: &str) -> Option<Health> {
        self.resources.get(name).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_format() {
        let s =
            StatusFile::parse(r#"{"resources": {"a": "ok", "b": "drift", "c": "broken", "d": "unknown"}, "at": 1}"#)
                .expect("parses");
        assert_eq!(s.get("a"), Some(Health::Ok));
        assert_eq!(s.get("c"), Some(Health::Broken));
        assert_eq!(s.get("x"), None);
        assert!(StatusFile::parse(r#"{"resources": {"a": "fine"}}"#).is_err(), "unknown states are errors");
        assert!(StatusFile::parse(r#"{}"#).is_err(), "`resources` is required");
    }
}
