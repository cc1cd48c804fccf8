//! Live state: what the service APIs say a resource is, typed. `aws::live` reads it; `drift` compares
//! it with the desired state and `status` judges it.

use serde_json::Value;
use std::collections::BTreeMap;

/// How [`Notifications::others`] names a bucket's EventBridge setting.
pub const EVENTBRIDGE: &str = "eventbridge";

/// A bucket's default encryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encryption {
    /// `AES256`, `aws:kms`, ...
    pub algorithm: String,
    pub bucket_key: bool,
}

/// A bucket's public access block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// Every block on.
    pub fn all_on(self) -> bool {
        self.block_public_acls && self.ignore_public_acls && self.block_public_policy && self.restrict_public_buckets
    }
}

/// The state of an event source mapping (Lambda's `State`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingState {
    Enabled,
    Disabled,
    /// `Creating`, `Enabling`, `Disabling`, `Updating`, `Deleting`: on its way to another state.
    Changing(String),
}

impl MappingState {
    pub fn parse(state: &str) -> MappingState {
        match state {
            "Enabled" => MappingState::Enabled,
            "Disabled" => MappingState::Disabled,
            other => MappingState::Changing(other.to_string()),
        }
    }

    /// Whether the mapping consumes its queue.
    pub fn is_enabled(&self) -> bool {
        *self == MappingState::Enabled
    }

    /// Whether it is stopped or stopping: the queue is not consumed.
    pub fn is_stopped(&self) -> bool {
        matches!(self, MappingState::Disabled) || matches!(self, MappingState::Changing(s) if s == "Disabling")
    }
}

impl std::fmt::Display for MappingState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MappingState::Enabled => "Enabled",
            MappingState::Disabled => "Disabled",
            MappingState::Changing(s) => s,
        })
    }
}

/// An alarm's state and why it is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmState {
    /// In ALARM (not OK or INSUFFICIENT_DATA).
    pub firing: bool,
    pub reason: String,
}

/// An EventBridge Scheduler schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSchedule {
    pub expression: String,
    pub timezone: String,
    pub enabled: bool,
    /// The ARN of what it starts.
    pub target_arn: String,
    /// What it invokes the target with (`Input`), when it says.
    pub input: Option<String>,
    /// Where it sends the runs it could not start.
    pub dead_letter_arn: Option<String>,
}

/// An EventBridge rule: its state, its event pattern and its targets.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRule {
    /// `ENABLED`, `DISABLED`, `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`.
    pub state: String,
    /// The event pattern, parsed; `None` for a scheduled rule (no pattern).
    pub pattern: Option<Value>,
    pub targets: Vec<RuleTarget>,
}

impl LiveRule {
    /// Whether events that match the rule reach its targets.
    pub fn enabled(&self) -> bool {
        self.state.starts_with("ENABLED")
    }
}

/// One target of an EventBridge rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTarget {
    pub id: String,
    pub arn: String,
    /// Where EventBridge sends the events it cannot deliver.
    pub dead_letter_arn: Option<String>,
    /// The retry policy: attempts, and the maximum age of an event in seconds.
    pub retry: Option<(Option<i32>, Option<i32>)>,
    /// The target receives something else than the event (`Input`, `InputPath` or `InputTransformer`).
    pub transformed: bool,
}

/// A rule, on an event bus, that targets a resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleRef {
    pub bus: String,
    pub name: String,
}

impl std::fmt::Display for RuleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.bus == "default" { f.write_str(&self.name) } else { write!(f, "{} (bus {})", self.name, self.bus) }
    }
}

/// One queue notification of a bucket.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct QueueNotification {
    pub event: String,
    pub queue_arn: String,
    pub prefix: String,
    pub suffix: String,
}

/// The whole notification configuration of a bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notifications {
    pub queues: Vec<QueueNotification>,
    /// Lambda and SNS destinations and EventBridge, which pipewright never declares.
    pub others: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveFunction {
    pub arn: String,
    pub runtime: String,
    pub handler: String,
    pub architectures: Vec<String>,
    pub memory: i32,
    pub timeout: i32,
    pub role: String,
    pub env: BTreeMap<String, String>,
    /// Reserved concurrency; `None` when the function uses the account's unreserved pool.
    pub reserved: Option<i32>,
    /// Where Lambda sends the payload of an asynchronous invocation that failed every retry.
    pub dead_letter_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveMapping {
    pub uuid: String,
    pub source_arn: String,
    pub function_arn: String,
    pub state: MappingState,
    pub state_reason: String,
    pub batch_size: i32,
    pub window: i32,
    pub response_types: Vec<String>,
    pub max_concurrency: Option<i32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveRole {
    pub inline: BTreeMap<String, Value>,
    pub attached: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveAlarm {
    pub namespace: String,
    pub metric: String,
    pub dimensions: Vec<(String, String)>,
    pub threshold: f64,
    pub period: i32,
    pub comparison: String,
    pub statistic: String,
    pub actions: Vec<String>,
    pub ok_actions: Vec<String>,
    pub actions_enabled: bool,
    pub evaluation_periods: i32,
    pub datapoints: Option<i32>,
    pub treat_missing: Option<String>,
    /// In ALARM or not, and why (for `status`; not desired state).
    pub state: AlarmState,
}

/// One subscription of the alert topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSubscription {
    pub protocol: String,
    pub endpoint: String,
    /// Confirmed by its endpoint (an e-mail subscription waits for a click on the link AWS sends).
    pub confirmed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TablesState {
    pub bucket: bool,
    pub namespace: bool,
    /// The tables that exist, each with its partition fields (source column, transform) from its
    /// current Iceberg metadata; `None` for a table without metadata.
    pub tables: BTreeMap<String, Option<Vec<(String, String)>>>,
}
