//! The stable codes of every finding, with their documentation: the spec checks of `check` (PWnnn),
//! drift found by `verify` (Dnnn), hazards of a `deploy` change set (Hnnn) and what `status` finds in
//! the running pipeline (Snnn).
//!
//! `pipewright explain CODE` prints an entry; `generated/checks.md` is rendered from this table
//! and checked for staleness like every generated file.

use super::diagnostic::Severity;

pub const SPEC_SYNTAX: &str = "PW001";
pub const UNKNOWN_REFERENCE: &str = "PW002";
pub const INVALID_TEMPLATE: &str = "PW003";
pub const INVALID_VALUE: &str = "PW004";
pub const DUPLICATE_NAME: &str = "PW005";

pub const FILTER_NEEDS_ENCODING: &str = "PW101";
pub const UNSUPPORTED_WILDCARD: &str = "PW102";
pub const UNFILTERED_SHARED_BUCKET: &str = "PW103";
pub const OVERLAPPING_FILTERS: &str = "PW104";
pub const INVALID_EVENT: &str = "PW105";
pub const INEXACT_FILTER: &str = "PW106";

pub const TRIGGER_MATCHES_NOTHING: &str = "PW201";
pub const RECURSION: &str = "PW202";
pub const FAN_IN: &str = "PW203";
pub const COALESCE_VARIABLE: &str = "PW204";

pub const VISIBILITY_BELOW_TIMEOUT: &str = "PW301";
pub const VISIBILITY_BELOW_RECOMMENDED: &str = "PW302";
pub const LOW_MAX_RECEIVE_COUNT: &str = "PW303";
pub const DLQ_RETENTION: &str = "PW304";
pub const FIFO_DESTINATION: &str = "PW305";
pub const CONCURRENCY_ABOVE_RESERVED: &str = "PW306";

pub const ALARM_CANNOT_FIRE: &str = "PW401";
pub const ALARM_WITHOUT_ACTIONS: &str = "PW402";
pub const MISSING_ALARM: &str = "PW403";

pub const RESERVED_ENV_VAR: &str = "PW501";
pub const INVALID_NAME: &str = "PW502";

pub const INVALID_SCHEDULE: &str = "PW601";
pub const INVALID_TIMEZONE: &str = "PW602";

// Checks of the stage crates (`lambdas/<stage>`): `pipewright build`, and `check` when the crates exist.
pub const BATCH_RESPONSE_MISSING: &str = "PW701";
pub const BATCH_RESPONSE_UNUSED: &str = "PW702";

/// An aspect `verify` could not read, a resource `status` could not read: unknown, not wrong.
pub const COULD_NOT_VERIFY: &str = "D000";
pub const COULD_NOT_READ: &str = "S000";

/// Which command reports a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `check`: the spec, before anything is deployed.
    Check,
    /// `verify`: live resources against the spec.
    Drift,
    /// `deploy`: what a change set would break.
    Hazard,
    /// `status`: the running pipeline.
    Status,
}

impl Family {
    pub fn title(self) -> &'static str {
        match self {
            Family::Check => "Spec checks (`pipewright check`)",
            Family::Drift => "Drift (`pipewright verify`)",
            Family::Hazard => "Deploy hazards (`pipewright deploy`)",
            Family::Status => "Status findings (`pipewright status`)",
        }
    }

    /// The family of `code`, by its prefix.
    pub fn of(code: &str) -> Family {
        match code.as_bytes().first() {
            Some(b'D') => Family::Drift,
            Some(b'H') => Family::Hazard,
            Some(b'S') => Family::Status,
            _ => Family::Check,
        }
    }
}

/// Documentation of one code.
#[derive(Debug, Clone, Copy)]
pub struct CodeDoc {
    pub code: &'static str,
    pub name: &'static str,
    /// The severity it is reported with (a status finding's severity says how bad the stage is:
    /// error for broken, warning for degraded, note for unknown).
    pub severity: Severity,
    /// What it finds and why it matters.
    pub what: &'static str,
    /// A spec fragment that triggers it (spec checks), or how it comes about.
    pub example: &'static str,
    /// How to fix it.
    pub fix: &'static str,
}

pub const ALL: &[CodeDoc] = &[
    CodeDoc {
        code: SPEC_SYNTAX,
        name: "spec-syntax",
        severity: Severity::Error,
        what: "The spec is not valid YAML or UTF-8, has an unknown or duplicate key, a value of the wrong type (booleans are only `true` or `false`), a value that does not parse (a duration, an enum), or is over 4 MiB of text.",
        example: "stages:\n  silver:\n    timeot: 300s   # unknown key",
        fix: "Correct the key or value (the hint names the closest key or value); `pipewright schema` prints the format and editors use it to complete keys.",
    },
    CodeDoc {
        code: UNKNOWN_REFERENCE,
        name: "unknown-reference",
        severity: Severity::Error,
        what: "A trigger, write or quarantine names a bucket that `buckets` does not declare, or a stage writes a table that `tables` does not declare.",
        example: "trigger:\n  bucket: bronz   # typo",
        fix: "Use a declared short name, or declare the bucket or table.",
    },
    CodeDoc {
        code: INVALID_TEMPLATE,
        name: "invalid-template",
        severity: Severity::Error,
        what: "A naming convention (handlebars) or a key template (`{variable}`) does not parse or render, or a key template uses a variable that is neither built in (`date`, `season`, `game_id`, `year`, `month`, `day`) nor declared under `examples:`.",
        example: "naming:\n  queue: \"{{project}-queue\"",
        fix: "Write handlebars as `{{project}}-{{stage}}-queue` and key variables as `{date}`; declare another variable under `examples:` with an example value.",
    },
    CodeDoc {
        code: INVALID_VALUE,
        name: "invalid-value",
        severity: Severity::Error,
        what: "A setting is outside what AWS accepts (function timeout above 900 s, memory, batch size, retention, batching window), or the stage is shaped wrong (both `pattern` and `prefix`, a local stage with an S3 trigger, a stage nothing starts). AWS would reject it minutes into a deploy.",
        example: "function:\n  timeout: 20m   # Lambda allows at most 900 s",
        fix: "Use a value in the range the message gives.",
    },
    CodeDoc {
        code: DUPLICATE_NAME,
        name: "duplicate-name",
        severity: Severity::Error,
        what: "Two resources of the same kind get the same name (for example two stages rendering to one queue name through a custom naming convention).",
        example: "naming:\n  queue: \"{{project}}-queue\"   # every stage gets the same queue",
        fix: "Include `{{stage}}` in the naming convention, or set the names explicitly.",
    },
    CodeDoc {
        code: FILTER_NEEDS_ENCODING,
        name: "filter-needs-encoding",
        severity: Severity::Error,
        what: "A raw S3 filter value contains a character that S3 matches only in percent-encoded form (`=`, `&`, `$`, `@`, `;`, `:`, `+`, `,`, `?`, space...). The filter silently never matches: hoopstat-haus's `raw/box_scores/date=` prefix never triggered.",
        example: "trigger:\n  bucket: bronze\n  prefix: raw/box_scores/date=",
        fix: "Write `pattern: raw/box_scores/date=*/data.json` and let pipewright encode it (`date%3D`), or encode the raw value yourself.",
    },
    CodeDoc {
        code: UNSUPPORTED_WILDCARD,
        name: "unsupported-wildcard",
        severity: Severity::Error,
        what: "A pattern uses glob syntax pipewright and S3 do not support (`?`, `[...]`, `{...}`), or a raw filter value contains `*` (S3 filters have no wildcards).",
        example: "pattern: raw/box_scores/date=202?-*/data.json",
        fix: "Use `*` only, in `pattern`.",
    },
    CodeDoc {
        code: UNFILTERED_SHARED_BUCKET,
        name: "unfiltered-shared-bucket",
        severity: Severity::Warning,
        what: "A trigger has neither prefix nor suffix on a bucket that other stages also write or read: every object in the bucket, quarantine files included, starts the stage.",
        example: "trigger:\n  bucket: silver\n  pattern: \"*\"",
        fix: "Narrow the pattern to the keys the upstream stage writes.",
    },
    CodeDoc {
        code: OVERLAPPING_FILTERS,
        name: "overlapping-filters",
        severity: Severity::Error,
        what: "Two notifications on one bucket have overlapping prefix/suffix filters for overlapping event types. S3 rejects the whole notification configuration (\"Configurations overlap\").",
        example: "# stage a: silver/*.parquet  stage b: silver/player_stats/*  (same bucket, same events)",
        fix: "Make the prefixes or suffixes disjoint; or, when both stages consume the same objects, deliver both triggers through EventBridge (`via: eventbridge`), where any number of rules may match one object.",
    },
    CodeDoc {
        code: INVALID_EVENT,
        name: "invalid-event",
        severity: Severity::Error,
        what: "A trigger names an S3 event type that does not exist.",
        example: "events: [s3:ObjectCreate:*]",
        fix: "Use an S3 event type such as `s3:ObjectCreated:*` or `s3:ObjectCreated:Put`.",
    },
    CodeDoc {
        code: INEXACT_FILTER,
        name: "inexact-filter",
        severity: Severity::Note,
        what: "A trigger delivered by an S3 event notification has a pattern S3 cannot express: a notification filters by one prefix and one suffix, so the objects between them that the pattern does not match also reach the stage's queue; the stage skips them, at the cost of a message and an invocation each.",
        example: "trigger:\n  bucket: landing\n  pattern: events/*/date=*/part-*.json   # S3 sees events/ ... .json",
        fix: "Nothing, when such objects are rare. Otherwise deliver the trigger through EventBridge (`via: eventbridge`): its rule matches the whole pattern, at EventBridge's price per event.",
    },
    CodeDoc {
        code: TRIGGER_MATCHES_NOTHING,
        name: "trigger-matches-nothing",
        severity: Severity::Error,
        what: "No key that an upstream stage writes (its key templates, rendered with example values) matches the trigger's pattern: the stage never runs. hoopstat-haus's gold stage filtered `.parquet` while silver wrote `.json`.",
        example: "writes: [{bucket: silver, key: \"silver/{date}.json\"}]\n...\ntrigger: {bucket: silver, pattern: \"silver/*.parquet\"}",
        fix: "Align the pattern with the upstream key template, or mark the trigger `external: true` when something outside the spec writes the objects.",
    },
    CodeDoc {
        code: RECURSION,
        name: "recursion",
        severity: Severity::Error,
        what: "A stage writes keys that its own trigger, or the trigger of a stage upstream of it, matches: each run starts another run, forever (and bills accordingly).",
        example: "trigger: {bucket: silver, pattern: \"silver/*\"}\nwrites: [{bucket: silver, key: \"silver/out/{date}.parquet\"}]",
        fix: "Write to another prefix or bucket than the one the trigger watches.",
    },
    CodeDoc {
        code: FAN_IN,
        name: "fan-in",
        severity: Severity::Warning,
        what: "An upstream stage writes several objects per run that match this trigger, so the stage runs several times per upstream run (hoopstat-haus's once-per-date job fired once per game).",
        example: "writes:\n  - {bucket: silver, key: \"silver/player_stats/date={date}/data.parquet\"}\n  - {bucket: silver, key: \"silver/team_stats/date={date}/data.parquet\"}\n# downstream: pattern silver/*.parquet",
        fix: "Declare `coalesce: <variable>` on the trigger when the handler coalesces a batch's records by that variable, or narrow the pattern to one of the objects.",
    },
    CodeDoc {
        code: COALESCE_VARIABLE,
        name: "coalesce-variable",
        severity: Severity::Error,
        what: "`coalesce` names a variable that some matching upstream key template does not contain, so the handler cannot group by it.",
        example: "coalesce: game_id   # upstream keys only have {season} and {date}",
        fix: "Coalesce by a variable every matching key template contains.",
    },
    CodeDoc {
        code: VISIBILITY_BELOW_TIMEOUT,
        name: "visibility-below-timeout",
        severity: Severity::Error,
        what: "The queue's visibility timeout is shorter than the function timeout: messages reappear while still being processed and are handled twice. AWS rejects the event source mapping.",
        example: "function: {timeout: 300s}\nqueue: {visibility_timeout: 120s}",
        fix: "Set the visibility timeout to at least 6 x the function timeout + the batching window (or leave it unset: that is the default).",
    },
    CodeDoc {
        code: VISIBILITY_BELOW_RECOMMENDED,
        name: "visibility-below-recommended",
        severity: Severity::Warning,
        what: "The visibility timeout is below AWS's recommendation of 6 x function timeout + batching window, so throttled retries can exhaust maxReceiveCount and send good messages to the DLQ. The hoopstat-haus runbook had it equal to the timeout.",
        example: "function: {timeout: 300s}\nqueue: {visibility_timeout: 300s}",
        fix: "Set it to 6 x timeout + batching window (1805s for 300s and 5s).",
    },
    CodeDoc {
        code: LOW_MAX_RECEIVE_COUNT,
        name: "low-max-receive-count",
        severity: Severity::Warning,
        what: "maxReceiveCount below 5: a throttled or briefly failing function sends messages to the DLQ before they had a fair chance (AWS recommends at least 5).",
        example: "queue: {max_receive_count: 3}",
        fix: "Use 5 or more.",
    },
    CodeDoc {
        code: DLQ_RETENTION,
        name: "dlq-retention",
        severity: Severity::Warning,
        what: "The DLQ does not keep messages longer than the source queue. A message keeps its original enqueue time when it moves to the DLQ, so it can expire there almost at once.",
        example: "queue: {retention: 14d, dlq_retention: 14d}",
        fix: "Give the source queue a shorter retention (4d) and the DLQ the maximum (14d).",
    },
    CodeDoc {
        code: FIFO_DESTINATION,
        name: "fifo-destination",
        severity: Severity::Error,
        what: "The stage's queue is FIFO. S3 event notifications cannot target FIFO queues; the notification configuration is rejected.",
        example: "queue: {fifo: true}",
        fix: "Use a standard queue.",
    },
    CodeDoc {
        code: CONCURRENCY_ABOVE_RESERVED,
        name: "concurrency-above-reserved",
        severity: Severity::Warning,
        what: "The event source mapping may run more invocations at once (`max_concurrency`) than the function's reserved concurrency allows. The extra invocations are throttled, their messages come back after the visibility timeout and count as receives, so good messages can end in the DLQ.",
        example: "function: {reserved_concurrency: 2}\nqueue: {max_concurrency: 10}",
        fix: "Set `max_concurrency` at or below `reserved_concurrency`.",
    },
    CodeDoc {
        code: ALARM_CANNOT_FIRE,
        name: "alarm-cannot-fire",
        severity: Severity::Error,
        what: "An alarm's threshold is one the metric can never cross: a duration threshold at or above the function timeout (the function is stopped at the timeout). hoopstat-haus had 900 s on a 300 s function.",
        example: "function: {timeout: 300s}\nalarms: {duration: 900s}",
        fix: "Set the duration threshold below the timeout (e.g. 250s for 300s).",
    },
    CodeDoc {
        code: ALARM_WITHOUT_ACTIONS,
        name: "alarm-without-actions",
        severity: Severity::Warning,
        what: "The spec has alarms but no `alerts`: the alarms change state and notify nobody.",
        example: "# no `alerts:` section",
        fix: "Add `alerts: {email: parameter}` (an SNS topic with an e-mail subscription), or write `alerts: none` to say the pipeline has no alerting (still a warning).",
    },
    CodeDoc {
        code: MISSING_ALARM,
        name: "missing-alarm",
        severity: Severity::Warning,
        what: "A triggered stage has its DLQ-depth, backlog (queue depth or age) or errors alarm turned off: failures would go unnoticed.",
        example: "alarms: {dlq_depth: off}",
        fix: "Keep the alarm with a threshold (`dlq_depth: 0` fires on any dead letter).",
    },
    CodeDoc {
        code: RESERVED_ENV_VAR,
        name: "reserved-env-var",
        severity: Severity::Error,
        what: "A function environment variable is reserved by Lambda (`AWS_REGION`, `AWS_LAMBDA_*`, `_HANDLER`...) or by pipewright's own contract (`PIPEWRIGHT_*`). Lambda rejects the deploy; hoopstat-haus's failed twice on `AWS_REGION`.",
        example: "function:\n  env: {AWS_REGION: us-east-1}",
        fix: "Remove it: Lambda sets `AWS_REGION` itself; pipewright sets the `PIPEWRIGHT_*` contract.",
    },
    CodeDoc {
        code: INVALID_NAME,
        name: "invalid-name",
        severity: Severity::Error,
        what: "A resource name breaks AWS's rules: S3 bucket names (3-63 lowercase letters, digits, dots, hyphens), SQS queue names (80 characters), Lambda function names (64), IAM role names (64), log group names, S3 Tables bucket, namespace and table names.",
        example: "project: Hoopstat_Haus   # bucket names cannot have capitals or underscores",
        fix: "Shorten or rename; the message gives the rule. Names built from `project` that it makes invalid are one finding at `project:`.",
    },
    CodeDoc {
        code: INVALID_SCHEDULE,
        name: "invalid-schedule",
        severity: Severity::Error,
        what: "A schedule expression is not a valid EventBridge Scheduler expression: `cron(minutes hours day-of-month month day-of-week year)` with one of the day fields `?`, `rate(N unit)`, or `at(yyyy-mm-ddThh:mm:ss)`.",
        example: "schedule: {expression: \"cron(30 4 * * *)\"}   # five fields, no `?`",
        fix: "Write six fields, e.g. `cron(30 4 * * ? *)`.",
    },
    CodeDoc {
        code: INVALID_TIMEZONE,
        name: "invalid-timezone",
        severity: Severity::Error,
        what: "A schedule's time zone is not an IANA time zone name.",
        example: "timezone: EST5",
        fix: "Use a name such as `America/New_York`.",
    },
    CodeDoc {
        code: BATCH_RESPONSE_MISSING,
        name: "batch-response-missing",
        severity: Severity::Error,
        what: "The stage is triggered through SQS and its event source mapping sets `ReportBatchItemFailures`, but its crate (`lambdas/<stage>/src`, parsed as Rust) never returns an `SqsBatchResponse` nor calls a batch helper of `pipewright_stage::event`. Lambda then treats the batch as one: a single bad message fails (and finally dead-letters) every message of its batch, or an answer without `batchItemFailures` deletes them all as processed. Checked by `pipewright build`, and by `check` when the crates exist.",
        example: "stages:\n  curate:\n    trigger: { bucket: landing, pattern: orders/*.json }\n# lambdas/curate/src/main.rs:\n#   service_fn(|e: LambdaEvent<SqsEvent>| async { handle(e).await })   // -> Result<(), Error>",
        fix: "Return `Result<SqsBatchResponse, _>` from the handler, e.g. with `pipewright_stage::event::process_s3_batch`, which reports each failed message in `batchItemFailures`.",
    },
    CodeDoc {
        code: BATCH_RESPONSE_UNUSED,
        name: "batch-response-unused",
        severity: Severity::Error,
        what: "The stage's crate handles SQS batches (takes an `SqsEvent` or returns an `SqsBatchResponse`), but the stage has no event source mapping that reports batch item failures: a scheduled stage never receives an SQS event, and without `ReportBatchItemFailures` Lambda ignores `batchItemFailures` and deletes failed messages as processed.",
        example: "stages:\n  silver-processing:\n    schedule: { expression: rate(1 day) }   # no trigger\n# lambdas/silver-processing handles LambdaEvent<SqsEvent>",
        fix: "Give the stage a `trigger` (its mapping then reports batch item failures), or write a handler for the events that start it.",
    },
    CodeDoc {
        code: COULD_NOT_VERIFY,
        name: "could-not-verify",
        severity: Severity::Warning,
        what: "pipewright could not read this aspect of the resource (permissions, throttling, network): it is unknown, not clean.",
        example: "an IAM identity without `sqs:GetQueueAttributes` runs `pipewright verify`",
        fix: "Grant the read the message names (the IAM action is in it), or run verify with a role that has it; `--strict` makes an aspect that could not be verified fail the run.",
    },
    CodeDoc {
        code: "D101",
        name: "missing-resource",
        severity: Severity::Error,
        what: "A resource the spec declares does not exist.",
        example: "a queue deleted with `aws sqs delete-queue` after the deploy",
        fix: "Never deployed: run `pipewright deploy`. Deleted outside CloudFormation: the stack still lists it, so a deploy sees no change; re-create it with the name and settings the spec gives (verify then checks them), or let CloudFormation re-create it by deploying the spec once without the resource's stage and once with it.",
    },
    CodeDoc {
        code: "D102",
        name: "notification",
        severity: Severity::Error,
        what: "A bucket's S3 event notification to a stage's queue is missing or its event or key filter changed (runbook \"Silver/Gold Processing Not Triggered\"): the bucket's filters must match the written keys, or the stage never runs.",
        example: "`aws s3api put-bucket-notification-configuration` run by hand on the bronze bucket",
        fix: "CloudFormation does not see this change: undo it (the expected value is in the finding), or `pipewright deploy` after changing the stack.",
    },
    CodeDoc {
        code: "D103",
        name: "unmanaged-notification",
        severity: Severity::Error,
        what: "An event destination on a pipeline bucket that the spec does not declare: it may consume or duplicate events.",
        example: "a notification to `audit-queue` added to the bronze bucket",
        fix: "Remove it, or declare the consumer as a stage of the spec.",
    },
    CodeDoc {
        code: "D104",
        name: "bucket-setting",
        severity: Severity::Error,
        what: "A bucket's encryption, versioning, public-access block or lifecycle rules differ from the spec; they protect the data.",
        example: "versioning suspended on a bucket whose spec says `versioning: true`",
        fix: "CloudFormation does not see this change: undo it (the expected value is in the finding).",
    },
    CodeDoc {
        code: "D105",
        name: "bucket-policy",
        severity: Severity::Error,
        what: "The TLS-only bucket policy was changed or removed.",
        example: "`aws s3api delete-bucket-policy` on a pipeline bucket",
        fix: "Restore the policy that denies requests without TLS (the expected document is in the finding).",
    },
    CodeDoc {
        code: "D106",
        name: "artifact-bucket-owner",
        severity: Severity::Error,
        what: "S3 does not confirm that this account owns the artifact bucket the stack's functions load their code from: another account's bucket could serve them other code.",
        example: "a stack deployed with `--artifact-bucket` naming a bucket of another account",
        fix: "Deploy with `--artifact-bucket` naming a bucket of this account.",
    },
    CodeDoc {
        code: "D107",
        name: "event-rule",
        severity: Severity::Error,
        what: "A trigger's EventBridge rule is disabled, its event pattern differs in meaning from the spec's, or it no longer delivers the events as they are to the stage's queue (target removed or transformed, dead-letter queue or retry policy changed, another target added): the objects it matches do not reach the stage, or reach it in a shape the stage cannot read.",
        example: "`aws events disable-rule --name clickstream-sessionize-queue`",
        fix: "CloudFormation does not see this change: undo it (the expected value is in the finding), or deploy the spec once without the trigger's `via: eventbridge` and once with it.",
    },
    CodeDoc {
        code: "D108",
        name: "unmanaged-rule",
        severity: Severity::Error,
        what: "An EventBridge rule the spec does not declare targets the queue of a stage triggered through EventBridge: it sends the stage events it did not ask for, in a shape it may not read.",
        example: "a rule on a custom bus, created by hand, that targets `clickstream-audit-queue`",
        fix: "Remove the rule's target (`aws events remove-targets`), or declare the consumer as a stage of the spec.",
    },
    CodeDoc {
        code: "D201",
        name: "queue-setting",
        severity: Severity::Error,
        what: "A queue's settings differ from the spec (runbook \"High SQS Queue Depths\"): they drive retries and the dead-letter queue.",
        example: "`aws sqs set-queue-attributes --attributes DelaySeconds=900`",
        fix: "CloudFormation does not see this change: undo it (the expected value is in the finding).",
    },
    CodeDoc {
        code: "D202",
        name: "visibility-below-live-timeout",
        severity: Severity::Error,
        what: "The live visibility timeout is below the live function timeout (runbook \"verify visibility timeout matches Lambda timeout\"), so messages are processed twice.",
        example: "the function's timeout raised in the console, the queue left as it was",
        fix: "Raise the visibility timeout to 6 x the function timeout + the batching window, in the spec, and deploy.",
    },
    CodeDoc {
        code: "D203",
        name: "redrive",
        severity: Severity::Error,
        what: "A queue's redrive policy is missing or changed (runbook \"Messages in Dead Letter Queues\"): without it failing messages are retried until they expire.",
        example: "the redrive policy removed from a stage's queue",
        fix: "Restore the redrive policy the spec gives (the expected value is in the finding).",
    },
    CodeDoc {
        code: "D204",
        name: "live-dlq-retention",
        severity: Severity::Error,
        what: "The dead-letter queue keeps messages no longer than its source queue, so dead letters expire early.",
        example: "the DLQ's retention lowered to 2 days under a 4-day queue",
        fix: "Restore the DLQ's retention (the spec's `dlq_retention`).",
    },
    CodeDoc {
        code: "D205",
        name: "queue-policy",
        severity: Severity::Error,
        what: "A queue's policy differs in meaning from the spec's (runbook \"Check SQS queue policy allows S3 to send messages\"): S3 must be allowed to send from the pipeline's bucket and account, and nothing broader.",
        example: "a statement allowing `*` added to a stage queue's policy",
        fix: "Restore the policy (the expected document and a diff are in the finding).",
    },
    CodeDoc {
        code: "D301",
        name: "mapping",
        severity: Severity::Error,
        what: "A stage's event source mapping is missing or its settings differ (runbook \"Verify Lambda event source mapping is active\"): without it the queue fills and nothing runs.",
        example: "the batch size of a mapping changed with `aws lambda update-event-source-mapping`",
        fix: "Restore the mapping's settings (the expected value is in the finding), or `pipewright deploy`.",
    },
    CodeDoc {
        code: "D302",
        name: "mapping-disabled",
        severity: Severity::Error,
        what: "A stage's event source mapping is not Enabled, so the stage does not consume its queue.",
        example: "`aws lambda update-event-source-mapping --no-enabled`",
        fix: "Enable it: `aws lambda update-event-source-mapping --uuid UUID --enabled`.",
    },
    CodeDoc {
        code: "D303",
        name: "unmanaged-mapping",
        severity: Severity::Error,
        what: "An event source mapping the spec does not declare reads a pipeline queue or invokes a stage's function.",
        example: "a second mapping from the silver queue to another function",
        fix: "Delete it, or declare the consumer as a stage of the spec.",
    },
    CodeDoc {
        code: "D401",
        name: "function-setting",
        severity: Severity::Error,
        what: "A function's live settings (memory, timeout, architecture, role, reserved concurrency) differ from the spec (runbook \"Lambda Function Errors\").",
        example: "the timeout changed in the Lambda console",
        fix: "Undo the change, or change the spec and deploy.",
    },
    CodeDoc {
        code: "D402",
        name: "function-env",
        severity: Severity::Error,
        what: "A function's environment (the contract with its stage crate) differs: the stage reads the wrong buckets or fails at start.",
        example: "`PIPEWRIGHT_OUTPUT_BUCKET` edited in the console",
        fix: "Restore the variables (the expected ones are in the finding), or deploy.",
    },
    CodeDoc {
        code: "D403",
        name: "role-policy",
        severity: Severity::Error,
        what: "A role's inline policies differ from the least privilege the data flow needs (runbook \"Permission Errors\").",
        example: "`s3:*` added to a stage's role",
        fix: "Restore the role's policies (the expected documents and a diff are in the finding).",
    },
    CodeDoc {
        code: "D501",
        name: "alarm",
        severity: Severity::Error,
        what: "An alarm is missing or its metric, threshold or actions changed (runbook \"CloudWatch Alarms\"), so a failure goes unnoticed.",
        example: "an alarm's threshold raised by hand",
        fix: "Restore the alarm (the expected settings are in the finding), or deploy.",
    },
    CodeDoc {
        code: "D502",
        name: "log-group",
        severity: Severity::Error,
        what: "A function's log group is missing or its retention differs.",
        example: "the log group's retention set to never expire",
        fix: "Restore the retention the spec gives (`log_retention_days`).",
    },
    CodeDoc {
        code: "D503",
        name: "alert-subscriptions",
        severity: Severity::Error,
        what: "The alert topic has no confirmed subscription, so the alarms notify nobody.",
        example: "the e-mail subscription never confirmed",
        fix: "Confirm the subscription (AWS e-mails a link to the address) or subscribe someone.",
    },
    CodeDoc {
        code: "D601",
        name: "schedule",
        severity: Severity::Error,
        what: "A stage's schedule is missing, disabled or changed (runbook \"Bronze Ingestion Not Running\").",
        example: "the schedule disabled with `aws scheduler update-schedule --state DISABLED`",
        fix: "Restore the schedule (the expected expression, time zone, state and target are in the finding), or deploy.",
    },
    CodeDoc {
        code: "D701",
        name: "tables",
        severity: Severity::Error,
        what: "The S3 Tables bucket, namespace or a table is missing: the stages that write tables cannot commit.",
        example: "a table dropped outside CloudFormation",
        fix: "Deploy the spec, or re-create the table with the schema the spec gives.",
    },
    CodeDoc {
        code: "D702",
        name: "table-partitioning",
        severity: Severity::Error,
        what: "A table's partition spec differs from the spec's `partition:` columns: a commit of one date rewrites more than that date's files and readers cannot prune.",
        example: "a table created before `partition:` was added to the spec",
        fix: "The spec's partitioning applies to a new table: changing it replaces the table (`pipewright deploy` shows hazard H103); repartition the existing table with an Iceberg client.",
    },
    CodeDoc {
        code: "H101",
        name: "queue-replaced",
        severity: Severity::Error,
        what: "A change replaces a queue: the old queue is deleted with every message in it, and its event source mapping is re-created.",
        example: "a changed `queue.name`, or a change CloudFormation can only apply by replacement",
        fix: "Drain the queue first (or accept the loss), or keep the property that forces the replacement.",
    },
    CodeDoc {
        code: "H102",
        name: "function-replaced",
        severity: Severity::Warning,
        what: "A change replaces a function that an event source mapping invokes: the mapping is re-created and the queue is not consumed meanwhile.",
        example: "a changed `function.name`",
        fix: "Deploy when the queue may wait; messages stay in the queue and are consumed after the update.",
    },
    CodeDoc {
        code: "H103",
        name: "table-replaced",
        severity: Severity::Error,
        what: "A change replaces an S3 Tables table (its schema or partitioning changed): CloudFormation creates the new table before it lets go of the old one, whose name it keeps and whose data it retains, so the update fails.",
        example: "a column added to a table in `tables:`",
        fix: "Change a deployed table's schema or partitioning with an Iceberg client, or drop the table first.",
    },
    CodeDoc {
        code: "H104",
        name: "mapping-removed",
        severity: Severity::Error,
        what: "A change removes an event source mapping: its queue is no longer consumed.",
        example: "a stage's `trigger` removed",
        fix: "Keep the trigger, or drain the queue first.",
    },
    CodeDoc {
        code: "H105",
        name: "dlq-removed",
        severity: Severity::Error,
        what: "A change removes a dead-letter queue with its dead letters; failed messages will be dropped.",
        example: "a stage removed while its DLQ holds messages",
        fix: "Redrive or save the dead letters first (`pipewright dlq SPEC --stage STAGE peek`).",
    },
    CodeDoc {
        code: "H106",
        name: "alarm-removed",
        severity: Severity::Warning,
        what: "A change removes an alarm: what it watched goes unnoticed.",
        example: "`alarms: { errors: off }`",
        fix: "Keep the alarm, unless nothing should watch that metric.",
    },
    CodeDoc {
        code: "H107",
        name: "notification-dropped",
        severity: Severity::Error,
        what: "A change drops or alters a bucket's event notification: objects written meanwhile (or under the old filter) never reach the stage.",
        example: "a changed trigger `pattern`",
        fix: "Deploy when nothing writes to the bucket, then replay the dates written in between (`pipewright replay`).",
    },
    CodeDoc {
        code: "H108",
        name: "visibility-shrinks-below-timeout",
        severity: Severity::Error,
        what: "A change shrinks a queue's visibility timeout below its function's timeout: messages will be processed twice.",
        example: "`visibility_timeout: 60s` on a stage whose function runs 300 s",
        fix: "Keep the visibility timeout at 6 x the function timeout + the batching window (PW301 checks the spec).",
    },
    CodeDoc {
        code: "H109",
        name: "eventbridge-disabled",
        severity: Severity::Error,
        what: "A change makes a bucket stop sending its events to EventBridge: the triggers delivered through EventBridge receive nothing from then on.",
        example: "the last `via: eventbridge` trigger of a bucket switched to `via: s3`, or the bucket's stage removed",
        fix: "Deploy the rules' replacement in the same change (the plan shows the S3 notifications added), then replay the dates written during the update (`pipewright replay`).",
    },
    CodeDoc {
        code: "H110",
        name: "rule-removed",
        severity: Severity::Error,
        what: "A change removes an EventBridge rule of a trigger: its stage no longer receives the objects the rule matched.",
        example: "a trigger switched from `via: eventbridge` to `via: s3`, or its stage removed",
        fix: "Keep the trigger, or replay the dates written between the two deliveries (`pipewright replay`).",
    },
    CodeDoc {
        code: COULD_NOT_READ,
        name: "could-not-read",
        severity: Severity::Note,
        what: "pipewright could not read a resource's state (permissions, throttling, network): the answer is unknown.",
        example: "a role without `cloudwatch:GetMetricData` runs `pipewright status`",
        fix: "Grant the read the message names, or run status with a role that has it.",
    },
    CodeDoc {
        code: "S101",
        name: "stage-resource-missing",
        severity: Severity::Error,
        what: "A resource the stage needs does not exist (never deployed, or deleted).",
        example: "a queue deleted by hand",
        fix: "`pipewright verify SPEC` shows what else differs; `pipewright deploy SPEC --dry-run` shows what a deploy would do.",
    },
    CodeDoc {
        code: "S102",
        name: "schedule-disabled",
        severity: Severity::Error,
        what: "The stage's schedule is not enabled, so the stage never starts.",
        example: "the schedule disabled in the console",
        fix: "Enable it, or deploy the spec.",
    },
    CodeDoc {
        code: "S103",
        name: "rule-disabled",
        severity: Severity::Error,
        what: "The EventBridge rule of a stage triggered through EventBridge is not enabled: the objects it matches reach no queue, and the stage never starts for them.",
        example: "`aws events disable-rule` on the stage's rule",
        fix: "Enable it (`aws events enable-rule --name RULE`), then replay the dates written while it was disabled (`pipewright replay SPEC --stage STAGE --date DATE --to DATE`).",
    },
    CodeDoc {
        code: "S201",
        name: "backlog",
        severity: Severity::Warning,
        what: "More messages wait in the stage's queue than its queue-depth alarm allows.",
        example: "a stage slower than its input",
        fix: "Look at the stage's errors, throttles and mapping (`pipewright status SPEC --stage STAGE`).",
    },
    CodeDoc {
        code: "S202",
        name: "old-message",
        severity: Severity::Warning,
        what: "The oldest message in the stage's queue is older than its queue-age alarm allows.",
        example: "a mapping that stopped consuming",
        fix: "Look at the stage's mapping and errors (`pipewright status SPEC --stage STAGE`).",
    },
    CodeDoc {
        code: "S203",
        name: "dead-letters",
        severity: Severity::Error,
        what: "Messages are in the stage's dead-letter queue: they failed every retry (a triggered stage's records, or a scheduled stage's runs).",
        example: "a batch that failed `max_receive_count` times",
        fix: "Read them (`pipewright dlq SPEC --stage STAGE peek`), fix the cause, then redrive them (`pipewright dlq SPEC --stage STAGE redrive`: back into the queue, or a scheduled stage's runs invoked again).",
    },
    CodeDoc {
        code: "S204",
        name: "invocation-problems",
        severity: Severity::Warning,
        what: "The stage's function had errors, failed records or throttles in the window.",
        example: "a handler returning errors for some records",
        fix: "Read the function's log (`aws logs tail LOG_GROUP --since WINDOW`).",
    },
    CodeDoc {
        code: "S301",
        name: "mapping-missing",
        severity: Severity::Error,
        what: "No event source mapping consumes the stage's queue.",
        example: "the mapping deleted by hand",
        fix: "`pipewright deploy SPEC` re-creates it.",
    },
    CodeDoc {
        code: "S302",
        name: "mapping-stopped",
        severity: Severity::Error,
        what: "The stage's event source mapping is disabled: the queue is not consumed.",
        example: "`aws lambda update-event-source-mapping --no-enabled`",
        fix: "Enable it, or deploy the spec.",
    },
    CodeDoc {
        code: "S303",
        name: "mapping-state",
        severity: Severity::Warning,
        what: "The stage's event source mapping is in a transitional state (creating, updating, enabling) or its last processing result is a problem.",
        example: "a mapping whose function's role cannot read the queue",
        fix: "Read the mapping's state and last result (`aws lambda get-event-source-mapping`).",
    },
    CodeDoc {
        code: "S401",
        name: "alarm-firing",
        severity: Severity::Warning,
        what: "One of the stage's alarms is in ALARM (a dead-letter alarm makes the stage broken).",
        example: "errors above the alarm's threshold",
        fix: "The alarm's reason says what breached; the stage's facts and log lines show why.",
    },
];

/// The documentation of `code` (case-insensitive).
pub fn find(code: &str) -> Option<&'static CodeDoc> {
    ALL.iter().find(|c| c.code.eq_ignore_ascii_case(code) || c.name == code)
}

/// The reference page of all codes, in Markdown, by the command that reports them.
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# pipewright codes\n\n<!-- generated by `pipewright generate`: do not edit -->\n\nEvery finding of `check`, `verify`, `deploy` and `status` has one of these codes; `pipewright explain CODE` prints its entry.\n",
    );
    let families = [Family::Check, Family::Drift, Family::Hazard, Family::Status];
    for family in families {
        out.push_str(&format!("\n## {}\n\n| code | name | severity |\n|---|---|---|\n", family.title()));
        for c in ALL.iter().filter(|c| Family::of(c.code) == family) {
            out.push_str(&format!("| [{}](#{}) | {} | {} |\n", c.code, c.code.to_lowercase(), c.name, c.severity));
        }
    }
    for c in ALL {
        let example = if Family::of(c.code) == Family::Check {
            format!("```yaml\n{}\n```", c.example)
        } else {
            c.example.to_string()
        };
        out.push_str(&format!(
            "\n### {}\n\n`{}` ({})\n\n{}\n\nExample:\n\n{example}\n\nFix: {}\n",
            c.code, c.name, c.severity, c.what, c.fix
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique_and_documented() {
        for (i, c) in ALL.iter().enumerate() {
            assert!(!c.what.is_empty() && !c.fix.is_empty() && !c.example.is_empty(), "{} lacks docs", c.code);
            for other in &ALL[i + 1..] {
                assert_ne!(c.code, other.code);
                assert_ne!(c.name, other.name, "{} and {} share a name", c.code, other.code);
            }
            assert_eq!(find(c.code).map(|d| d.code), Some(c.code));
            assert_eq!(find(c.name).map(|d| d.code), Some(c.code));
        }
    }
}
