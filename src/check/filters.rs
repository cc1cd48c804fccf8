//! Trigger filters: S3 notification filters (encoding, wildcards, empty filters on shared buckets,
//! overlaps, patterns they cannot express exactly) and triggers delivered through EventBridge.

use super::codes;
use crate::report::Diagnostic;
use crate::spec::Pipeline;
use crate::spec::pattern::{needs_encoding, unsupported_wildcards};
use crate::spec::resolve::{Stage, Trigger};

/// S3 event types a notification may name.
const EVENTS: &[&str] = &[
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAcl:Put",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:Replication:OperationNotTracked",
    "s3:ReducedRedundancyLostObject",
];

/// Whether two event types overlap (`s3:ObjectCreated:*` covers `s3:ObjectCreated:Put`).
fn events_overlap(a: &str, b: &str) -> bool {
    let family = |e: &str| e.rsplit_once(':').map(|(f, _)| f.to_string()).unwrap_or(e.to_string());
    a == b || (a.ends_with(":*") && family(a) == family(b)) || (b.ends_with(":*") && family(a) == family(b))
}

pub fn check(p: &Pipeline, out: &mut Vec<Diagnostic>) {
    for stage in &p.stages {
        let Some(t) = &stage.trigger else { continue };
        for ev in &t.events {
            if !EVENTS.contains(&ev.value.as_str()) {
                out.push(
                    Diagnostic::error(codes::INVALID_EVENT, ev.span, format!("`{}` is not an S3 event type", ev.value))
                        .with_hint("use e.g. `s3:ObjectCreated:*`"),
                );
            } else if t.through_eventbridge() && crate::cfn::desired::eventbridge_event(&ev.value).is_none() {
                out.push(
                    Diagnostic::error(
                        codes::INVALID_EVENT,
                        ev.span,
                        format!("S3 does not send `{}` events to EventBridge", ev.value),
                    )
                    .with_hint("deliver this trigger as an S3 notification (`via: s3`)"),
                );
            }
        }
        if t.through_eventbridge() {
            eventbridge(stage, t, out);
        } else {
            filter(t, out);
            inexact(stage, t, out);
        }
        if t.pattern.is_unfiltered() && bucket_is_shared(p, stage, &t.bucket) {
            out.push(
                Diagnostic::warning(
                    codes::UNFILTERED_SHARED_BUCKET,
                    t.span,
                    format!(
                        "the trigger of `{}` has no prefix or suffix on bucket `{}`, which other stages use: every object starts it",
                        stage.name.value, t.bucket.value
                    ),
                )
                .with_hint("narrow the pattern to the keys the upstream stage writes"),
            );
        }
    }

    overlaps(p, out);
}

/// Glob syntax in the trigger's pattern that pipewright patterns do not support (only `*`).
fn pattern_wildcards(t: &Trigger, out: &mut Vec<Diagnostic>) {
    let bad = unsupported_wildcards(&t.pattern.pattern);
    if !bad.is_empty() {
        out.push(
            Diagnostic::error(
                codes::UNSUPPORTED_WILDCARD,
                t.span,
                format!(
                    "pattern `{}` uses {}, which pipewright patterns do not support",
                    t.pattern.pattern,
                    list(&bad)
                ),
            )
            .with_hint("use `*` (any characters, `/` included) and literal text"),
        );
    }
}

/// The trigger's pattern, or its raw `prefix`/`suffix`: wildcards S3 cannot match, characters S3 matches
/// only percent-encoded.
fn filter(t: &Trigger, out: &mut Vec<Diagnostic>) {
    match (&t.raw_prefix, &t.raw_suffix) {
        (None, None) => pattern_wildcards(t, out),
        (prefix, suffix) => {
            for (what, value) in [("prefix", prefix), ("suffix", suffix)] {
                let Some(value) = value else { continue };
                if value.contains('*') || !unsupported_wildcards(value).is_empty() {
                    out.push(
                        Diagnostic::error(
                            codes::UNSUPPORTED_WILDCARD,
                            value.span,
                            format!("filter {what} `{}` contains a wildcard: S3 filters match literally", value.value),
                        )
                        .with_hint("write the trigger as `pattern:` (e.g. `raw/date=*/data.json`)"),
                    );
                    continue;
                }
                let bad = needs_encoding(value);
                if !bad.is_empty() {
                    out.push(
                        Diagnostic::error(
                            codes::FILTER_NEEDS_ENCODING,
                            value.span,
                            format!(
                                "filter {what} `{}` contains {}, which S3 matches only percent-encoded: this filter never matches",
                                value.value,
                                list(&bad)
                            ),
                        )
                        .with_hint(format!(
                            "write `{what}: {}`, or use `pattern:` and let pipewright encode it",
                            crate::spec::pattern::encode_filter_value(value)
                        )),
                    );
                }
            }
        }
    }
}

/// A trigger delivered through EventBridge: its rule matches the whole `pattern` (raw S3 filter values do
/// not apply), and the rule is named after the stage's queue.
fn eventbridge(stage: &Stage, t: &Trigger, out: &mut Vec<Diagnostic>) {
    for raw in [&t.raw_prefix, &t.raw_suffix].into_iter().flatten() {
        out.push(
            Diagnostic::error(
                codes::INVALID_VALUE,
                raw.span,
                "a trigger delivered through EventBridge matches its `pattern`; `prefix` and `suffix` are S3 notification filters",
            )
            .with_hint("write the trigger as `pattern:` (e.g. `raw/date=*/data.json`)"),
        );
    }
    if t.raw_prefix.is_none() && t.raw_suffix.is_none() {
        pattern_wildcards(t, out);
    }
    if let Some(q) = &stage.queue {
        let longest = q.name.value.len() + if t.events.len() > 1 { 1 + t.events.len().to_string().len() } else { 0 };
        if longest > crate::cfn::desired::RULE_NAME_MAX {
            out.push(
                Diagnostic::error(
                    codes::INVALID_NAME,
                    t.via.span,
                    format!(
                        "the EventBridge rule of `{}` is named after its queue `{}`, which is longer than the {} characters of a rule name",
                        stage.name.value,
                        q.name.value,
                        crate::cfn::desired::RULE_NAME_MAX
                    ),
                )
                .with_hint("give the queue a shorter name (`queue.name`)"),
            );
        }
    }
}

/// A pattern S3's one prefix and one suffix cannot express: the queue also receives the objects that
/// match only the prefix and suffix, which the stage then skips.
fn inexact(stage: &Stage, t: &Trigger, out: &mut Vec<Diagnostic>) {
    if t.raw_prefix.is_some() || t.raw_suffix.is_some() || !t.pattern.has_middle {
        return;
    }
    let (prefix, suffix) = (&t.pattern.prefix, &t.pattern.suffix);
    out.push(
        Diagnostic::new(
            codes::INEXACT_FILTER,
            crate::report::Severity::Note,
            t.span,
            format!(
                "S3 filters `{}` by prefix `{prefix}` and suffix `{suffix}` only: other objects between them reach the queue of `{}` and cost an invocation each, which skips them",
                t.pattern.pattern, stage.name.value
            ),
        )
        .with_hint("deliver the trigger through EventBridge (`via: eventbridge`), whose rule matches the whole pattern"),
    );
}

/// Pairs of triggers on one bucket whose filters overlap for an event type: S3 rejects them.
fn overlaps(p: &Pipeline, out: &mut Vec<Diagnostic>) {
    let triggered: Vec<&Stage> = p.stages.iter().filter(|s| s.trigger.is_some()).collect();
    for (i, a) in triggered.iter().enumerate() {
        for b in &triggered[i + 1..] {
            let (Some(ta), Some(tb)) = (&a.trigger, &b.trigger) else {
                continue;
            };
            // Only S3 notifications conflict: any number of EventBridge rules may match one object.
            if ta.bucket.value != tb.bucket.value
                || ta.through_eventbridge()
                || tb.through_eventbridge()
                || !ta.pattern.filter_overlaps(&tb.pattern)
            {
                continue;
            }
            let shared = ta.events.iter().find(|ea| tb.events.iter().any(|eb| events_overlap(ea, eb)));
            if let Some(ev) = shared {
                out.push(
                    Diagnostic::error(
                        codes::OVERLAPPING_FILTERS,
                        tb.span,
                        format!(
                            "the filters of `{}` and `{}` on bucket `{}` overlap for `{}`: S3 rejects the notification configuration",
                            a.name.value, b.name.value, ta.bucket.value, ev.value
                        ),
                    )
                    .with_hint(format!(
                        "make the prefixes or suffixes disjoint (`{}`...`{}` vs `{}`...`{}`), or, when both stages consume these objects, deliver the triggers through EventBridge (`via: eventbridge`), where any number of rules may match one object",
                        ta.pattern.filter_prefix(),
                        ta.pattern.filter_suffix(),
                        tb.pattern.filter_prefix(),
                        tb.pattern.filter_suffix()
                    )),
                );
            }
        }
    }
}

/// A bucket is shared when more than one kind of object lands in it (several key templates or a
/// quarantine), another stage watches it, or the stage itself writes it.
fn bucket_is_shared(p: &Pipeline, stage: &Stage, bucket: &str) -> bool {
    let mut writers = 0;
    for s in &p.stages {
        let own = s.name.value == stage.name.value;
        let writes = s.writes.iter().filter(|w| w.bucket.value == bucket).count()
            + usize::from(s.quarantine.as_ref().is_some_and(|q| q.bucket.value == bucket));
        if own && writes > 0 {
            return true;
        }
        if !own && s.trigger.as_ref().is_some_and(|t| t.bucket.value == bucket) {
            return true;
        }
        writers += writes;
    }
    writers > 1
}

fn list(chars: &[char]) -> String {
    chars.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
}
