//! The stable codes of every diagnostic, with their documentation.
//!
//! `pipewright explain CODE` prints an entry; `generated/checks.md` is rendered from this table
//! and checked for staleness like every generated file.

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

/// Documentation of one code.
#[derive(Debug, Clone, Copy)]
pub struct CodeDoc {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: &'static str,
    /// What it finds and why it matters.
    pub what: &'static str,
    /// A spec fragment that triggers it.
    pub example: &'static str,
    /// How to fix it.
    pub fix: &'static str,
}

pub const ALL: &[CodeDoc] = &[
    CodeDoc {
        code: SPEC_SYNTAX,
        name: "spec-syntax",
        severity: "error",
        what: "The spec is not valid YAML or UTF-8, has an unknown or duplicate key, a value of the wrong type (booleans are only `true` or `false`), a value that does not parse (a duration, an enum), or is over 4 MiB of text.",
        example: "stages:\n  silver:\n    timeot: 300s   # unknown key",
        fix: "Correct the key or value (the hint names the closest key or value); `pipewright schema` prints the format and editors use it to complete keys.",
    },
    CodeDoc {
        code: UNKNOWN_REFERENCE,
        name: "unknown-reference",
        severity: "error",
        what: "A trigger, write or quarantine names a bucket that `buckets` does not declare, or a stage writes a table that `tables` does not declare.",
        example: "trigger:\n  bucket: bronz   # typo",
        fix: "Use a declared short name, or declare the bucket or table.",
    },
    CodeDoc {
        code: INVALID_TEMPLATE,
        name: "invalid-template",
        severity: "error",
        what: "A naming convention (handlebars) or a key template (`{variable}`) does not parse or render, or a key template uses a variable that is neither built in (`date`, `season`, `game_id`, `year`, `month`, `day`) nor declared under `examples:`.",
        example: "naming:\n  queue: \"{{project}-queue\"",
        fix: "Write handlebars as `{{project}}-{{stage}}-queue` and key variables as `{date}`; declare another variable under `examples:` with an example value.",
    },
    CodeDoc {
        code: INVALID_VALUE,
        name: "invalid-value",
        severity: "error",
        what: "A setting is outside what AWS accepts (function timeout above 900 s, memory, batch size, retention, batching window), or the stage is shaped wrong (both `pattern` and `prefix`, a local stage with an S3 trigger, a stage nothing starts). AWS would reject it minutes into a deploy.",
        example: "function:\n  timeout: 20m   # Lambda allows at most 900 s",
        fix: "Use a value in the range the message gives.",
    },
    CodeDoc {
        code: DUPLICATE_NAME,
        name: "duplicate-name",
        severity: "error",
        what: "Two resources of the same kind get the same name (for example two stages rendering to one queue name through a custom naming convention).",
        example: "naming:\n  queue: \"{{project}}-queue\"   # every stage gets the same queue",
        fix: "Include `{{stage}}` in the naming convention, or set the names explicitly.",
    },
    CodeDoc {
        code: FILTER_NEEDS_ENCODING,
        name: "filter-needs-encoding",
        severity: "error",
        what: "A raw S3 filter value contains a character that S3 matches only in percent-encoded form (`=`, `&`, `$`, `@`, `;`, `:`, `+`, `,`, `?`, space...). The filter silently never matches: hoopstat-haus's `raw/box_scores/date=` prefix never triggered.",
        example: "trigger:\n  bucket: bronze\n  prefix: raw/box_scores/date=",
        fix: "Write `pattern: raw/box_scores/date=*/data.json` and let pipewright encode it (`date%3D`), or encode the raw value yourself.",
    },
    CodeDoc {
        code: UNSUPPORTED_WILDCARD,
        name: "unsupported-wildcard",
        severity: "error",
        what: "A pattern uses glob syntax pipewright and S3 do not support (`?`, `[...]`, `{...}`), or a raw filter value contains `*` (S3 filters have no wildcards).",
        example: "pattern: raw/box_scores/date=202?-*/data.json",
        fix: "Use `*` only, in `pattern`.",
    },
    CodeDoc {
        code: UNFILTERED_SHARED_BUCKET,
        name: "unfiltered-shared-bucket",
        severity: "warning",
        what: "A trigger has neither prefix nor suffix on a bucket that other stages also write or read: every object in the bucket, quarantine files included, starts the stage.",
        example: "trigger:\n  bucket: silver\n  pattern: \"*\"",
        fix: "Narrow the pattern to the keys the upstream stage writes.",
    },
    CodeDoc {
        code: OVERLAPPING_FILTERS,
        name: "overlapping-filters",
        severity: "error",
        what: "Two notifications on one bucket have overlapping prefix/suffix filters for overlapping event types. S3 rejects the whole notification configuration (\"Configurations overlap\").",
        example: "# stage a: silver/*.parquet  stage b: silver/player_stats/*  (same bucket, same events)",
        fix: "Make the prefixes or suffixes disjoint, or have one stage fan out.",
    },
    CodeDoc {
        code: INVALID_EVENT,
        name: "invalid-event",
        severity: "error",
        what: "A trigger names an S3 event type that does not exist.",
        example: "events: [s3:ObjectCreate:*]",
        fix: "Use an S3 event type such as `s3:ObjectCreated:*` or `s3:ObjectCreated:Put`.",
    },
    CodeDoc {
        code: TRIGGER_MATCHES_NOTHING,
        name: "trigger-matches-nothing",
        severity: "error",
        what: "No key that an upstream stage writes (its key templates, rendered with example values) matches the trigger's pattern: the stage never runs. hoopstat-haus's gold stage filtered `.parquet` while silver wrote `.json`.",
        example: "writes: [{bucket: silver, key: \"silver/{date}.json\"}]\n...\ntrigger: {bucket: silver, pattern: \"silver/*.parquet\"}",
        fix: "Align the pattern with the upstream key template, or mark the trigger `external: true` when something outside the spec writes the objects.",
    },
    CodeDoc {
        code: RECURSION,
        name: "recursion",
        severity: "error",
        what: "A stage writes keys that its own trigger, or the trigger of a stage upstream of it, matches: each run starts another run, forever (and bills accordingly).",
        example: "trigger: {bucket: silver, pattern: \"silver/*\"}\nwrites: [{bucket: silver, key: \"silver/out/{date}.parquet\"}]",
        fix: "Write to another prefix or bucket than the one the trigger watches.",
    },
    CodeDoc {
        code: FAN_IN,
        name: "fan-in",
        severity: "warning",
        what: "An upstream stage writes several objects per run that match this trigger, so the stage runs several times per upstream run (hoopstat-haus's once-per-date job fired once per game).",
        example: "writes:\n  - {bucket: silver, key: \"silver/player_stats/date={date}/data.parquet\"}\n  - {bucket: silver, key: \"silver/team_stats/date={date}/data.parquet\"}\n# downstream: pattern silver/*.parquet",
        fix: "Declare `coalesce: <variable>` on the trigger when the handler coalesces a batch's records by that variable, or narrow the pattern to one of the objects.",
    },
    CodeDoc {
        code: COALESCE_VARIABLE,
        name: "coalesce-variable",
        severity: "error",
        what: "`coalesce` names a variable that some matching upstream key template does not contain, so the handler cannot group by it.",
        example: "coalesce: game_id   # upstream keys only have {season} and {date}",
        fix: "Coalesce by a variable every matching key template contains.",
    },
    CodeDoc {
        code: VISIBILITY_BELOW_TIMEOUT,
        name: "visibility-below-timeout",
        severity: "error",
        what: "The queue's visibility timeout is shorter than the function timeout: messages reappear while still being processed and are handled twice. AWS rejects the event source mapping.",
        example: "function: {timeout: 300s}\nqueue: {visibility_timeout: 120s}",
        fix: "Set the visibility timeout to at least 6 x the function timeout + the batching window (or leave it unset: that is the default).",
    },
    CodeDoc {
        code: VISIBILITY_BELOW_RECOMMENDED,
        name: "visibility-below-recommended",
        severity: "warning",
        what: "The visibility timeout is below AWS's recommendation of 6 x function timeout + batching window, so throttled retries can exhaust maxReceiveCount and send good messages to the DLQ. The hoopstat-haus runbook had it equal to the timeout.",
        example: "function: {timeout: 300s}\nqueue: {visibility_timeout: 300s}",
        fix: "Set it to 6 x timeout + batching window (1805s for 300s and 5s).",
    },
    CodeDoc {
        code: LOW_MAX_RECEIVE_COUNT,
        name: "low-max-receive-count",
        severity: "warning",
        what: "maxReceiveCount below 5: a throttled or briefly failing function sends messages to the DLQ before they had a fair chance (AWS recommends at least 5).",
        example: "queue: {max_receive_count: 3}",
        fix: "Use 5 or more.",
    },
    CodeDoc {
        code: DLQ_RETENTION,
        name: "dlq-retention",
        severity: "warning",
        what: "The DLQ does not keep messages longer than the source queue. A message keeps its original enqueue time when it moves to the DLQ, so it can expire there almost at once.",
        example: "queue: {retention: 14d, dlq_retention: 14d}",
        fix: "Give the source queue a shorter retention (4d) and the DLQ the maximum (14d).",
    },
    CodeDoc {
        code: FIFO_DESTINATION,
        name: "fifo-destination",
        severity: "error",
        what: "The stage's queue is FIFO. S3 event notifications cannot target FIFO queues; the notification configuration is rejected.",
        example: "queue: {fifo: true}",
        fix: "Use a standard queue.",
    },
    CodeDoc {
        code: CONCURRENCY_ABOVE_RESERVED,
        name: "concurrency-above-reserved",
        severity: "warning",
        what: "The event source mapping may run more invocations at once (`max_concurrency`) than the function's reserved concurrency allows. The extra invocations are throttled, their messages come back after the visibility timeout and count as receives, so good messages can end in the DLQ.",
        example: "function: {reserved_concurrency: 2}\nqueue: {max_concurrency: 10}",
        fix: "Set `max_concurrency` at or below `reserved_concurrency`.",
    },
    CodeDoc {
        code: ALARM_CANNOT_FIRE,
        name: "alarm-cannot-fire",
        severity: "error",
        what: "An alarm's threshold is one the metric can never cross: a duration threshold at or above the function timeout (the function is stopped at the timeout). hoopstat-haus had 900 s on a 300 s function.",
        example: "function: {timeout: 300s}\nalarms: {duration: 900s}",
        fix: "Set the duration threshold below the timeout (e.g. 250s for 300s).",
    },
    CodeDoc {
        code: ALARM_WITHOUT_ACTIONS,
        name: "alarm-without-actions",
        severity: "warning",
        what: "The spec has alarms but no `alerts`: the alarms change state and notify nobody.",
        example: "# no `alerts:` section",
        fix: "Add `alerts: {email: parameter}` (an SNS topic with an e-mail subscription), or write `alerts: none` to say the pipeline has no alerting (still a warning).",
    },
    CodeDoc {
        code: MISSING_ALARM,
        name: "missing-alarm",
        severity: "warning",
        what: "A triggered stage has its DLQ-depth, backlog (queue depth or age) or errors alarm turned off: failures would go unnoticed.",
        example: "alarms: {dlq_depth: off}",
        fix: "Keep the alarm with a threshold (`dlq_depth: 0` fires on any dead letter).",
    },
    CodeDoc {
        code: RESERVED_ENV_VAR,
        name: "reserved-env-var",
        severity: "error",
        what: "A function environment variable is reserved by Lambda (`AWS_REGION`, `AWS_LAMBDA_*`, `_HANDLER`...) or by pipewright's own contract (`PIPEWRIGHT_*`). Lambda rejects the deploy; hoopstat-haus's failed twice on `AWS_REGION`.",
        example: "function:\n  env: {AWS_REGION: us-east-1}",
        fix: "Remove it: Lambda sets `AWS_REGION` itself; pipewright sets the `PIPEWRIGHT_*` contract.",
    },
    CodeDoc {
        code: INVALID_NAME,
        name: "invalid-name",
        severity: "error",
        what: "A resource name breaks AWS's rules: S3 bucket names (3-63 lowercase letters, digits, dots, hyphens), SQS queue names (80 characters), Lambda function names (64), IAM role names (64), log group names, S3 Tables bucket, namespace and table names.",
        example: "project: Hoopstat_Haus   # bucket names cannot have capitals or underscores",
        fix: "Shorten or rename; the message gives the rule. Names built from `project` that it makes invalid are one finding at `project:`.",
    },
    CodeDoc {
        code: INVALID_SCHEDULE,
        name: "invalid-schedule",
        severity: "error",
        what: "A schedule expression is not a valid EventBridge Scheduler expression: `cron(minutes hours day-of-month month day-of-week year)` with one of the day fields `?`, `rate(N unit)`, or `at(yyyy-mm-ddThh:mm:ss)`.",
        example: "schedule: {expression: \"cron(30 4 * * *)\"}   # five fields, no `?`",
        fix: "Write six fields, e.g. `cron(30 4 * * ? *)`.",
    },
    CodeDoc {
        code: INVALID_TIMEZONE,
        name: "invalid-timezone",
        severity: "error",
        what: "A schedule's time zone is not an IANA time zone name.",
        example: "timezone: EST5",
        fix: "Use a name such as `America/New_York`.",
    },
    CodeDoc {
        code: BATCH_RESPONSE_MISSING,
        name: "batch-response-missing",
        severity: "error",
        what: "The stage is triggered through SQS and its event source mapping sets `ReportBatchItemFailures`, but its crate (`lambdas/<stage>/src`, parsed as Rust) never returns an `SqsBatchResponse` nor calls a batch helper of `pipewright_stage::event`. Lambda then treats the batch as one: a single bad message fails (and finally dead-letters) every message of its batch, or an answer without `batchItemFailures` deletes them all as processed. Checked by `pipewright build`, and by `check` when the crates exist.",
        example: "stages:\n  curate:\n    trigger: { bucket: landing, pattern: orders/*.json }\n# lambdas/curate/src/main.rs:\n#   service_fn(|e: LambdaEvent<SqsEvent>| async { handle(e).await })   // -> Result<(), Error>",
        fix: "Return `Result<SqsBatchResponse, _>` from the handler, e.g. with `pipewright_stage::event::process_s3_batch`, which reports each failed message in `batchItemFailures`.",
    },
    CodeDoc {
        code: BATCH_RESPONSE_UNUSED,
        name: "batch-response-unused",
        severity: "error",
        what: "The stage's crate handles SQS batches (takes an `SqsEvent` or returns an `SqsBatchResponse`), but the stage has no event source mapping that reports batch item failures: a scheduled stage never receives an SQS event, and without `ReportBatchItemFailures` Lambda ignores `batchItemFailures` and deletes failed messages as processed.",
        example: "stages:\n  silver-processing:\n    schedule: { expression: rate(1 day) }   # no trigger\n# lambdas/silver-processing handles LambdaEvent<SqsEvent>",
        fix: "Give the stage a `trigger` (its mapping then reports batch item failures), or write a handler for the events that start it.",
    },
];

/// The documentation of `code` (case-insensitive).
pub fn find(code: &str) -> Option<&'static CodeDoc> {
    ALL.iter().find(|c| c.code.eq_ignore_ascii_case(code) || c.name == code)
}

/// The reference page of all checks, in Markdown.
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# pipewright check codes\n\n<!-- generated by `pipewright generate`: do not edit -->\n\n| code | name | severity |\n|---|---|---|\n",
    );
    for c in ALL {
        out.push_str(&format!("| [{}](#{}) | {} | {} |\n", c.code, c.code.to_lowercase(), c.name, c.severity));
    }
    for c in ALL {
        out.push_str(&format!(
            "\n## {}\n\n`{}` ({})\n\n{}\n\nExample:\n\n```yaml\n{}\n```\n\nFix: {}\n",
            c.code, c.name, c.severity, c.what, c.example, c.fix
        ));
    }
    out
}
