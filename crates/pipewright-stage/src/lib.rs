//! The library a pipewright pipeline's stages are written on.
//!
//! A stage is a Rust binary: a Lambda function behind the SQS queue its S3 trigger notifies, a
//! scheduled Lambda, or a `runs: local` command. What every stage needs and should not write itself:
//!
//! - **The environment contract** ([`StageEnv`], [`StageInputs`]): the stage's name, trigger, outputs
//!   with their key templates, quarantine prefix and S3 Tables, read from the variables the generated
//!   template sets on the function. `pipewright generate` renders them with [`StageEnv::to_vars`] and
//!   the stage reads them with [`StageEnv::from_env`]: one definition, so the two cannot disagree.
//! - **Keys** ([`render_template`], [`render_template_or`], [`match_template`], [`key_field`], [`glob_match`]): output keys
//!   from the spec's templates, values back out of input keys, the trigger's whole pattern.
//! - **S3 events through SQS** ([`event`], feature `lambda`): S3 notification bodies in the form AWS
//!   and the local emulator send, keys URL-decoded ([`decode_event_key`]), `s3:TestEvent` messages and
//!   `pipewright probe` canaries recognised, keys outside the trigger pattern skipped; and **partial
//!   batch responses**: [`event::process_s3_batch`] runs a handler per object and reports exactly the
//!   failed messages, which SQS retries and then moves to the dead-letter queue.
//! - **Scheduled runs** ([`schedule`], feature `lambda`): the date a scheduled stage's invocation is for,
//!   from the instant its schedule was due (the same in every retry) or a date a replay gives.
//! - **JSON logging** ([`log`], feature `lambda`): one JSON object per line, which the generated
//!   metric filters and `pipewright status` read.
//! - **The object store** ([`store`], feature `store`; `s3` for [`store::S3Store`]): GET, PUT,
//!   conditional PUT and LIST behind a trait, with [`store::MemoryStore`] for tests; reads bounded by
//!   the function's memory ([`ObjectLimit`]), and an oversized object fails its own message before it
//!   is read.
//!
//! A stage depends on it with the features it uses:
//!
//! ```toml
//! [dependencies]
//! pipewright-stage = { path = "…/crates/pipewright-stage", features = ["lambda", "s3"] }
//! ```
//!
//! `pipewright new` writes a project whose stage crates depend on it this way, by path to the pipewright
//! source the binary was built from, until the library is published.
//!
//! # Example: a complete stage
//!
//! This is `examples/summarize.rs` of this crate; `cargo test -p pipewright-stage --all-features
//! --examples` runs its test, and the documentation tests compile it.
//!
#![cfg_attr(all(feature = "lambda", feature = "s3"), doc = "```no_run")]
#![cfg_attr(all(feature = "lambda", feature = "s3"), doc = include_str!("../examples/summarize.rs"))]
#![cfg_attr(all(feature = "lambda", feature = "s3"), doc = "```")]
#![cfg_attr(not(all(feature = "lambda", feature = "s3")), doc = "(Shown with the features `lambda` and `s3`.)")]

use std::fmt;

/// The CloudWatch namespace of the metrics the stages emit (`log::Entry::metric`), which the
/// generated alarms watch.
pub const METRIC_NAMESPACE: &str = "pipewright";
/// The metric of the records (SQS messages) a batch reported as failed.
pub const FAILED_RECORDS: &str = "FailedRecords";
/// The dimension of every stage metric: the Lambda function's name (`AWS_LAMBDA_FUNCTION_NAME`, set by
/// Lambda and by `pipewright run-local`; the stage's name elsewhere).
pub const FUNCTION_DIMENSION: &str = "FunctionName";

/// The input of a scheduled stage's schedule: EventBridge Scheduler replaces the context attribute with
/// the instant the run was due (read by [`schedule::ScheduledRun`], feature `lambda`).
pub const SCHEDULE_INPUT: &str = r#"{"scheduled_time":"<aws.scheduler.scheduled-time>"}"#;

#[cfg(feature = "lambda")]
pub mod event;
#[cfg(feature = "local-aws")]
pub mod local_aws;
#[cfg(feature = "lambda")]
pub mod log;
pub mod retry;
#[cfg(feature = "lambda")]
pub mod schedule;
#[cfg(feature = "store")]
pub mod store;

/// Name of the stage, as written in the spec (`silver-processing`).
pub const STAGE: &str = "PIPEWRIGHT_STAGE";
/// Bucket whose notifications trigger the stage.
pub const INPUT_BUCKET: &str = "PIPEWRIGHT_INPUT_BUCKET";
/// The whole key pattern of the trigger (`raw/box_scores/date=*/data.json`), decoded form.
/// S3 filters only enforce its prefix and suffix; the handler enforces the rest.
pub const INPUT_PATTERN: &str = "PIPEWRIGHT_INPUT_PATTERN";
/// Outputs of the stage: `name=s3://bucket/key-template` entries separated by `,`.
pub const OUTPUTS: &str = "PIPEWRIGHT_OUTPUTS";
/// Where records that fail validation go: `s3://bucket/prefix/`.
pub const QUARANTINE: &str = "PIPEWRIGHT_QUARANTINE";
/// ARN of the S3 Tables table bucket the stage writes to.
pub const TABLE_BUCKET_ARN: &str = "PIPEWRIGHT_TABLE_BUCKET_ARN";
/// Namespace of the tables in the table bucket.
pub const TABLE_NAMESPACE: &str = "PIPEWRIGHT_TABLE_NAMESPACE";
/// Tables the stage writes, separated by `,`.
pub const TABLES: &str = "PIPEWRIGHT_TABLES";
/// What the trigger delivers, named as the upstream stage's outputs: `name=s3://bucket/key-template`
/// entries separated by `,` (the same encoding as [`OUTPUTS`]). A stage that needs more than the
/// object of the event (all objects of a date, earlier dates) finds them through these templates.
/// Read and written by [`StageInputs`]; not part of [`ALL`], which lists what [`StageEnv`] carries.
pub const INPUTS: &str = "PIPEWRIGHT_INPUTS";

/// Every variable of the contract, in the order they are emitted.
pub const ALL: [&str; 8] =
    [STAGE, INPUT_BUCKET, INPUT_PATTERN, OUTPUTS, QUARANTINE, TABLE_BUCKET_ARN, TABLE_NAMESPACE, TABLES];

/// The trigger of a stage: a bucket and the full key pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub bucket: String,
    pub pattern: String,
}

/// An object location: bucket and key (or key template, or prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

impl S3Location {
    /// Parses `s3://bucket/key`.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        Some(Self { bucket: bucket.to_string(), key: key.to_string() })
    }
}

/// A named output of a stage: a key template in a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub name: String,
    pub location: S3Location,
}

/// The S3 Tables a stage writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablesEnv {
    pub table_bucket_arn: String,
    pub namespace: String,
    pub tables: Vec<String>,
}

/// The environment of one stage's function.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StageEnv {
    pub stage: String,
    pub input: Option<Input>,
    pub outputs: Vec<Output>,
    pub quarantine: Option<S3Location>,
    pub tables: Option<TablesEnv>,
}

/// A variable of the contract is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError {
    pub variable: &'static str,
    pub problem: String,
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "environment variable `{}`: {}", self.variable, self.problem)
    }
}

impl std::error::Error for EnvError {}

/// Characters that may not appear in a value of a list-valued variable.
pub const SEPARATOR: char = ',';

impl StageEnv {
    /// The variables to set on the function, in a stable order. Optional parts that are absent
    /// produce no variable.
    pub fn to_vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![(STAGE, self.stage.clone())];
        if let Some(input) = &self.input {
            vars.push((INPUT_BUCKET, input.bucket.clone()));
            vars.push((INPUT_PATTERN, input.pattern.clone()));
        }
        if !self.outputs.is_empty() {
            vars.push((OUTPUTS, join_locations(&self.outputs)));
        }
        if let Some(q) = &self.quarantine {
            vars.push((QUARANTINE, q.to_string()));
        }
        if let Some(t) = &self.tables {
            vars.push((TABLE_BUCKET_ARN, t.table_bucket_arn.clone()));
            vars.push((TABLE_NAMESPACE, t.namespace.clone()));
            vars.push((TABLES, t.tables.join(",")));
        }
        vars
    }

    /// Reads the contract from the process environment.
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the contract through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let stage = lookup(STAGE)
            .filter(|s| !s.is_empty())
            .ok_or(EnvError { variable: STAGE, problem: "is not set".into() })?;
        let input = match (lookup(INPUT_BUCKET), lookup(INPUT_PATTERN)) {
            (Some(bucket), Some(pattern)) => Some(Input { bucket, pattern }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(EnvError {
                    variable: INPUT_PATTERN,
                    problem: format!("is not set while `{INPUT_BUCKET}` is"),
                });
            }
            (None, Some(_)) => {
                return Err(EnvError {
                    variable: INPUT_BUCKET,
                    problem: format!("is not set while `{INPUT_PATTERN}` is"),
                });
            }
        };
        let outputs = match lookup(OUTPUTS) {
            Some(text) => parse_locations(OUTPUTS, &text)?,
            None => Vec::new(),
        };
        let quarantine = match lookup(QUARANTINE) {
            Some(text) => Some(S3Location::parse(&text).ok_or_else(|| EnvError {
                variable: QUARANTINE,
                problem: format!("`{text}` is not `s3://bucket/prefix`"),
            })?),
            None => None,
        };
        let tables = match lookup(TABLE_BUCKET_ARN) {
            Some(table_bucket_arn) => Some(TablesEnv {
                table_bucket_arn,
                namespace: lookup(TABLE_NAMESPACE).ok_or(EnvError {
                    variable: TABLE_NAMESPACE,
                    problem: format!("is not set while `{TABLE_BUCKET_ARN}` is"),
                })?,
                tables: lookup(TABLES)
                    .unwrap_or_default()
                    .split(SEPARATOR)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect(),
            }),
            None => None,
        };
        Ok(Self { stage, input, outputs, quarantine, tables })
    }

    /// The output named `name`.
    pub fn output(&self, name: &str) -> Option<&S3Location> {
        self.outputs.iter().find(|o| o.name == name).map(|o| &o.location)
    }
}

/// `name=s3://bucket/key` entries separated by [`SEPARATOR`] (the value of [`OUTPUTS`] or [`INPUTS`]).
fn parse_locations(variable: &'static str, text: &str) -> Result<Vec<Output>, EnvError> {
    let mut locations = Vec::new();
    for entry in text.split(SEPARATOR).filter(|e| !e.is_empty()) {
        let (name, loc) = entry
            .split_once('=')
            .ok_or_else(|| EnvError { variable, problem: format!("entry `{entry}` is not `name=s3://bucket/key`") })?;
        let location = S3Location::parse(loc).ok_or_else(|| EnvError {
            variable,
            problem: format!("entry `{entry}` has no `s3://bucket/key` location"),
        })?;
        locations.push(Output { name: name.to_string(), location });
    }
    Ok(locations)
}

fn join_locations(locations: &[Output]) -> String {
    let joined: Vec<String> = locations.iter().map(|o| format!("{}={}", o.name, o.location)).collect();
    joined.join(",")
}

/// The named objects a stage's trigger delivers ([`INPUTS`]): the upstream stage's outputs that
/// match the trigger, with their key templates. Kept apart from [`StageEnv`] so that code building
/// a `StageEnv` literally is unaffected; rendered and read by the same two functions below.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StageInputs(pub Vec<Output>);

impl StageInputs {
    /// The variable to set on the function (none if there are no inputs).
    pub fn to_vars(&self) -> Vec<(&'static str, String)> {
        if self.0.is_empty() { Vec::new() } else { vec![(INPUTS, join_locations(&self.0))] }
    }

    /// Reads [`INPUTS`] from the process environment.
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads [`INPUTS`] through `lookup`; absent means no inputs.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        match lookup(INPUTS) {
            Some(text) => Ok(Self(parse_locations(INPUTS, &text)?)),
            None => Ok(Self::default()),
        }
    }

    /// The input named `name`.
    pub fn get(&self, name: &str) -> Option<&S3Location> {
        self.0.iter().find(|o| o.name == name).map(|o| &o.location)
    }
}

/// The memory of the Lambda function in MB, set by Lambda (and by `pipewright run-local`).
pub const MEMORY_SIZE: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";

/// The most bytes a stage reads of one object: a quarter of the function's memory, which leaves
/// room for the parsed and the written forms of the object beside its bytes. An object above it
/// fails its own message with [`TooLarge`] before any byte of it is read (from the size in the S3
/// event), and a read of a larger object stops at the limit (from `Content-Length`, and while
/// streaming), so one oversized object can neither exhaust the function's memory nor take the
/// batch's other messages down with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectLimit {
    bytes: u64,
    /// The memory the limit derives from, in MB (`None`: set directly).
    memory_mb: Option<u64>,
}

impl Default for ObjectLimit {
    /// The limit of a function of [`ObjectLimit::DEFAULT_MEMORY_MB`] (a stage run outside Lambda
    /// without [`MEMORY_SIZE`]: tests, `runs: local` commands).
    fn default() -> Self {
        Self::for_memory_mb(Self::DEFAULT_MEMORY_MB)
    }
}

impl ObjectLimit {
    /// The memory assumed where [`MEMORY_SIZE`] is not set.
    pub const DEFAULT_MEMORY_MB: u64 = 1024;

    /// A quarter of `memory_mb` megabytes (MiB, as Lambda counts them).
    pub fn for_memory_mb(memory_mb: u64) -> Self {
        Self { bytes: memory_mb.saturating_mul(1 << 20) / 4, memory_mb: Some(memory_mb) }
    }

    /// Exactly `bytes` (tests, stages with their own bound).
    pub fn bytes(bytes: u64) -> Self {
        Self { bytes, memory_mb: None }
    }

    /// The limit in bytes.
    pub fn get(&self) -> u64 {
        self.bytes
    }

    /// The limit of this function, from [`MEMORY_SIZE`]; [`ObjectLimit::default`] where it is not set.
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`ObjectLimit::from_env`] through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        match lookup(MEMORY_SIZE) {
            None => Ok(Self::default()),
            Some(text) => match text.trim().parse::<u64>() {
                Ok(mb) if mb > 0 => Ok(Self::for_memory_mb(mb)),
                _ => Err(EnvError {
                    variable: MEMORY_SIZE,
                    problem: format!("`{text}` is not a positive number of megabytes"),
                }),
            },
        }
    }

    /// `Err` if an object of `size` bytes is above the limit.
    pub fn check(&self, size: u64) -> Result<(), TooLarge> {
        if size > self.bytes { Err(TooLarge { size: Some(size), limit: *self }) } else { Ok(()) }
    }
}

impl fmt::Display for ObjectLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.memory_mb {
            Some(mb) => write!(f, "{} bytes (a quarter of the function's {mb} MB of memory)", self.bytes),
            None => write!(f, "{} bytes", self.bytes),
        }
    }
}

/// An object above the [`ObjectLimit`] of the stage: it is not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge {
    /// The object's size, if known (`None`: the read passed the limit while streaming).
    pub size: Option<u64>,
    pub limit: ObjectLimit,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.size {
            Some(size) => write!(f, "the object is {size} bytes, above the limit of {}", self.limit)?,
            None => write!(f, "the object is larger than the limit of {}", self.limit)?,
        }
        write!(f, "; give the function more memory (`function.memory` in the spec) or split the object")
    }
}

impl std::error::Error for TooLarge {}

/// What marks the key of a canary object (`pipewright probe`): the probe fills each `*` of a trigger
/// pattern with `pipewright-canary-<id>`, so the key matches the S3 filter and the whole pattern.
/// Handlers skip such objects (see `event::check_trigger`) without failing the record.
pub const CANARY_MARKER: &str = "pipewright-canary-";

/// Whether a (decoded) key is a canary object's.
pub fn is_canary(key: &str) -> bool {
    key.contains(CANARY_MARKER)
}

/// The key of a canary object for a trigger pattern: each `*` becomes `pipewright-canary-<id>`
/// (`id`: letters, digits and `-`). `None` for a pattern without `*` (an exact key: a canary cannot
/// match it without being the real object).
pub fn canary_key(pattern: &str, id: &str) -> Option<String> {
    pattern.contains('*').then(|| pattern.replace('*', &format!("{CANARY_MARKER}{id}")))
}

/// Whether `text` matches a key pattern: `*` matches any run of characters, including `/`;
/// everything else is literal. The generator derives S3 filters from the same patterns, and a
/// handler enforces the whole pattern (S3 filters only enforce its prefix and suffix).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let first = parts[0];
    let last = parts[parts.len() - 1];
    if text.len() < first.len() + last.len() || !text.starts_with(first) || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// Decodes a key from an S3 event message (`+` is a space, `%XX` a byte).
pub fn decode_event_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A key template has a placeholder without a value, or an unterminated `{`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub template: String,
    pub problem: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key template `{}`: {}", self.template, self.problem)
    }
}

impl std::error::Error for TemplateError {}

/// Fills the `{name}` placeholders of a key template (`silver/player_stats/season={season}/...`).
/// Every placeholder must have a value; values may not contain `/`, `{` or `}`.
pub fn render_template(template: &str, values: &[(&str, &str)]) -> Result<String, TemplateError> {
    fill(template, |name| values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v))
}

/// [`render_template`] where a placeholder without a value in `values` gets `default` (a skeleton
/// stage that names every output after its date: `render_template_or("out/{date}/{part}.json", &[], "2024-01-15")`
/// is `out/2024-01-15/2024-01-15.json`).
pub fn render_template_or(template: &str, values: &[(&str, &str)], default: &str) -> Result<String, TemplateError> {
    fill(template, |name| Some(values.iter().find(|(n, _)| *n == name).map_or(default, |(_, v)| *v)))
}

fn fill<'v>(template: &str, value_of: impl Fn(&str) -> Option<&'v str>) -> Result<String, TemplateError> {
    let err = |problem: String| TemplateError { template: template.to_string(), problem };
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| err("unterminated `{`".into()))?;
        let name = &after[..close];
        let value = value_of(name).ok_or_else(|| err(format!("no value for `{{{name}}}`")))?;
        if value.is_empty() || value.contains(['/', '{', '}']) {
            return Err(err(format!("value `{value}` for `{{{name}}}` is empty or contains `/`, `{{` or `}}`")));
        }
        out.push_str(value);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The inverse of [`render_template`]: the values of the placeholders if `key` is an instance of
/// `template`. A value is a non-empty run of characters without `/`, `{` or `}` (what
/// `render_template` accepts), matched up to the first occurrence of the next literal part of the
/// template.
/// `match_template("s/season={season}/date={date}/d.parquet", "s/season=2023-24/date=2024-01-15/d.parquet")`
/// is `[("season", "2023-24"), ("date", "2024-01-15")]`.
pub fn match_template<'k>(template: &str, key: &'k str) -> Option<Vec<(String, &'k str)>> {
    let mut values = Vec::new();
    let mut rest_t = template;
    let mut rest_k = key;
    loop {
        let Some(open) = rest_t.find('{') else {
            return (rest_t == rest_k).then_some(values);
        };
        rest_k = rest_k.strip_prefix(&rest_t[..open])?;
        let after = &rest_t[open + 1..];
        let close = after.find('}')?;
        let name = &after[..close];
        rest_t = &after[close + 1..];
        let literal_end = rest_t.find('{').unwrap_or(rest_t.len());
        let literal = &rest_t[..literal_end];
        let end = match (literal.is_empty(), rest_t.is_empty()) {
            (false, _) => rest_k.find(literal)?,
            (true, true) => rest_k.len(),
            // Two adjacent placeholders: ambiguous.
            (true, false) => return None,
        };
        let value = &rest_k[..end];
        if value.is_empty() || value.contains(['/', '{', '}']) {
            return None;
        }
        values.push((name.to_string(), value));
        rest_k = &rest_k[end..];
    }
}

/// The value of a `name=value` segment of a (decoded) key: `key_field("raw/date=2024-01-15/x", "date")`
/// is `Some("2024-01-15")`.
pub fn key_field<'a>(key: &'a str, name: &str) -> Option<&'a str> {
    key.split('/').find_map(|segment| segment.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_limit_is_a_quarter_of_the_memory() {
        let of = |value: Option<&str>| ObjectLimit::from_lookup(|_| value.map(str::to_string));
        assert_eq!(of(Some("1024")).map(|l| l.get()), Ok(256 << 20));
        assert_eq!(of(Some("128")).map(|l| l.get()), Ok(32 << 20));
        assert_eq!(of(None), Ok(ObjectLimit::default()));
        assert_eq!(ObjectLimit::default().get(), 256 << 20);
        for bad in ["", "0", "-1", "lots"] {
            let error = of(Some(bad)).expect_err(bad);
            assert_eq!(error.variable, MEMORY_SIZE);
        }
        let limit = ObjectLimit::for_memory_mb(128);
        assert_eq!(limit.check(32 << 20), Ok(()));
        let refused = limit.check((32 << 20) + 1).expect_err("one byte above");
        assert_eq!(
            refused.to_string(),
            "the object is 33554433 bytes, above the limit of 33554432 bytes (a quarter of the function's 128 MB \
             of memory); give the function more memory (`function.memory` in the spec) or split the object"
        );
        assert_eq!(ObjectLimit::for_memory_mb(u64::MAX).get(), u64::MAX / 4);
    }

    #[test]
    fn canary_keys_match_their_pattern_and_are_recognised() {
        let key = canary_key("raw/box_scores/date=*/data.json", "1a2b").expect("has a wildcard");
        assert_eq!(key, "raw/box_scores/date=pipewright-canary-1a2b/data.json");
        assert!(glob_match("raw/box_scores/date=*/data.json", &key));
        assert!(is_canary(&key));
        let key = canary_key("silver/*.parquet", "x").expect("has a wildcard");
        assert!(glob_match("silver/*.parquet", &key) && is_canary(&key));
        assert!(!is_canary("raw/box_scores/date=2024-01-15/data.json"));
        assert_eq!(canary_key("exact/key.json", "x"), None);
    }
    use std::collections::HashMap;

    fn sample() -> StageEnv {
        StageEnv {
            stage: "silver-processing".into(),
            input: Some(Input {
                bucket: "hoopstat-haus-bronze".into(),
                pattern: "raw/box_scores/date=*/data.json".into(),
            }),
            outputs: vec![Output {
                name: "player_stats".into(),
                location: S3Location {
                    bucket: "hoopstat-haus-silver".into(),
                    key: "silver/player_stats/season={season}/date={date}/data.parquet".into(),
                },
            }],
            quarantine: Some(S3Location {
                bucket: "hoopstat-haus-silver".into(),
                key: "quarantine/silver-processing/".into(),
            }),
            tables: Some(TablesEnv {
                table_bucket_arn: "arn:aws:s3tables:us-east-1:123456789012:bucket/t".into(),
                namespace: "ns".into(),
                tables: vec!["a".into(), "b".into()],
            }),
        }
    }

    #[test]
    fn round_trips_through_variables() {
        let env = sample();
        let vars: HashMap<&str, String> = env.to_vars().into_iter().collect();
        let back = StageEnv::from_lookup(|k| vars.get(k).cloned()).expect("parses");
        assert_eq!(back, env);
        assert!(back.output("player_stats").is_some());
    }

    #[test]
    fn decodes_event_keys() {
        assert_eq!(decode_event_key("raw/date%3D2024-01-15/a+b%2Bc.json"), "raw/date=2024-01-15/a b+c.json");
        assert_eq!(decode_event_key("raw%2Fbox_scores"), "raw/box_scores");
        assert_eq!(decode_event_key("100%"), "100%");
        assert_eq!(decode_event_key("a%2"), "a%2");
    }

    #[test]
    fn renders_templates() {
        let t = "silver/player_stats/season={season}/date={date}/data.parquet";
        assert_eq!(
            render_template(t, &[("date", "2024-01-15"), ("season", "2023-24")]).expect("renders"),
            "silver/player_stats/season=2023-24/date=2024-01-15/data.parquet"
        );
        assert!(render_template(t, &[("date", "2024-01-15")]).is_err());
        assert!(render_template(t, &[("date", "a/b"), ("season", "x")]).is_err());
        assert!(render_template("x/{date", &[("date", "d")]).is_err());
        assert_eq!(render_template("plain", &[]).expect("renders"), "plain");
    }

    #[test]
    fn renders_templates_with_a_default() {
        let t = "out/season={season}/date={date}/{part}.json";
        assert_eq!(
            render_template_or(t, &[("season", "2023-24")], "2024-01-15").expect("renders"),
            "out/season=2023-24/date=2024-01-15/2024-01-15.json"
        );
        assert!(render_template_or(t, &[], "a/b").is_err(), "the default is checked like a value");
        assert!(render_template_or("x/{date", &[], "d").is_err());
    }

    #[test]
    fn matches_templates() {
        let t = "silver/player_stats/season={season}/date={date}/data.parquet";
        let key = "silver/player_stats/season=2023-24/date=2024-01-15/data.parquet";
        let values = match_template(t, key).expect("matches");
        assert_eq!(values, vec![("season".to_string(), "2023-24"), ("date".to_string(), "2024-01-15")]);
        let rendered = render_template(t, &[("season", values[0].1), ("date", values[1].1)]).expect("renders");
        assert_eq!(rendered, key);
        assert_eq!(match_template(t, "silver/team_stats/season=2023-24/date=2024-01-15/data.parquet"), None);
        assert_eq!(match_template(t, "silver/player_stats/season=2023-24/date=2024-01-15/x/data.parquet"), None);
        assert_eq!(match_template(t, "silver/player_stats/season=/date=2024-01-15/data.parquet"), None);
        assert_eq!(match_template(t, "silver/player_stats/season=2023-24/date=2024-01-15/data.parquet.tmp"), None);
        assert_eq!(match_template("a/{x}", "a/b"), Some(vec![("x".to_string(), "b")]));
        assert_eq!(match_template("a/{x}", "a/b/c"), None);
        assert_eq!(match_template("a/{x}{y}", "a/bc"), None);
        assert_eq!(match_template("plain", "plain"), Some(vec![]));
        assert_eq!(match_template("{d}/x", "2024/x"), Some(vec![("d".to_string(), "2024")]));
    }

    #[test]
    fn stage_inputs_round_trip_and_share_the_encoding() {
        let inputs = StageInputs(vec![
            Output {
                name: "player_stats".into(),
                location: S3Location {
                    bucket: "hoopstat-haus-silver".into(),
                    key: "silver/player_stats/season={season}/date={date}/data.parquet".into(),
                },
            },
            Output {
                name: "team_stats".into(),
                location: S3Location {
                    bucket: "hoopstat-haus-silver".into(),
                    key: "silver/team_stats/season={season}/date={date}/data.parquet".into(),
                },
            },
        ]);
        let vars: HashMap<&str, String> = inputs.to_vars().into_iter().collect();
        assert_eq!(vars.len(), 1);
        let back = StageInputs::from_lookup(|k| vars.get(k).cloned()).expect("parses");
        assert_eq!(back, inputs);
        assert_eq!(back.get("team_stats").map(|l| l.bucket.as_str()), Some("hoopstat-haus-silver"));
        assert_eq!(StageInputs::from_lookup(|_| None).expect("absent is empty"), StageInputs::default());
        let err = StageInputs::from_lookup(|k| (k == INPUTS).then(|| "x=nowhere".to_string())).expect_err("bad");
        assert_eq!(err.variable, INPUTS);
    }

    #[test]
    fn finds_key_fields() {
        assert_eq!(key_field("raw/box_scores/date=2024-01-15/data.json", "date"), Some("2024-01-15"));
        assert_eq!(key_field("date=x/y", "date"), Some("x"));
        assert_eq!(key_field("raw/mydate=1/data.json", "date"), None);
        assert_eq!(key_field("raw/box_scores/data.json", "date"), None);
    }

    #[test]
    fn missing_stage_is_an_error() {
        let err = StageEnv::from_lookup(|_| None).expect_err("must fail");
        assert_eq!(err.variable, STAGE);
    }

    #[test]
    fn malformed_output_names_the_variable() {
        let err = StageEnv::from_lookup(|k| match k {
            STAGE => Some("s".into()),
            OUTPUTS => Some("x=bucket/key".into()),
            _ => None,
        })
        .expect_err("must fail");
        assert_eq!(err.variable, OUTPUTS);
        assert!(err.to_string().contains("s3://"));
    }
}
