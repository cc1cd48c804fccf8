//! Queue and function settings: AWS's ranges, and the relations between them (visibility vs
//! timeout, DLQ retention vs source retention, receive count, FIFO).

use super::codes;
use crate::report::Diagnostic;
use crate::spec::Pipeline;
use crate::spec::duration::Duration;
use crate::spec::resolve::{Function, Queue, recommended_visibility};
use crate::spec::span::Sp;

/// Log retention values CloudWatch Logs accepts (days).
const LOG_RETENTION_DAYS: &[u64] =
    &[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

fn range<T: Into<u64> + Copy>(v: &Sp<T>, lo: u64, hi: u64, what: &str, unit: &str, out: &mut Vec<Diagnostic>) {
    let n: u64 = v.value.into();
    if n < lo || n > hi {
        out.push(
            Diagnostic::error(
                codes::INVALID_VALUE,
                v.span,
                format!("{what} is {n}{unit}; AWS accepts {lo}{unit} to {hi}{unit}"),
            )
            .with_hint(format!("use a value between {lo}{unit} and {hi}{unit}")),
        );
    }
}

/// A duration outside AWS's range, in the units the spec writes durations in (`15d`, not `1296000s`).
fn range_duration(v: &Sp<Duration>, lo: u64, hi: u64, what: &str, out: &mut Vec<Diagnostic>) {
    let n = v.value.secs();
    if n < lo || n > hi {
        let (lo, hi) = (Duration(lo), Duration(hi));
        out.push(
            Diagnostic::error(codes::INVALID_VALUE, v.span, format!("{what} is {}; AWS accepts {lo} to {hi}", v.value))
                .with_hint(format!("use a value between {lo} and {hi}")),
        );
    }
}

pub fn check(p: &Pipeline, out: &mut Vec<Diagnostic>) {
    for bucket in &p.buckets {
        lifecycle(&bucket.lifecycle, out);
    }
    for stage in &p.stages {
        let Some(f) = &stage.function else { continue };
        function(f, out);
        if let Some(q) = &stage.queue {
            queue(q, out);
            relations(&stage.name.value, f, q, out);
        }
    }
}

/// A bucket's lifecycle: AWS's ranges, and expiry after the last transition.
fn lifecycle(l: &crate::spec::resolve::Lifecycle, out: &mut Vec<Diagnostic>) {
    if let Some(ia) = &l.infrequent_access_days {
        range(ia, 30, 36_500, "the Standard-IA transition age (days)", "", out);
    }
    if let (Some(exp), Some(first)) = (
        &l.expire_days,
        [&l.intelligent_tiering_days, &l.infrequent_access_days, &l.glacier_days]
            .into_iter()
            .flatten()
            .map(|d| d.value)
            .max(),
    ) && exp.value <= first
    {
        out.push(
            Diagnostic::error(
                codes::INVALID_VALUE,
                exp.span,
                format!("objects expire after {} days, before their last transition at {first} days", exp.value),
            )
            .with_hint("expire after the last transition"),
        );
    }
}

/// A function's settings against AWS's ranges.
fn function(f: &Function, out: &mut Vec<Diagnostic>) {
    range_duration(&f.timeout, 1, 900, "the function timeout", out);
    range(&f.memory, 128, 10_240, "the function memory", " MB", out);
    if let Some(rc) = &f.reserved_concurrency {
        range(rc, 0, 1000, "the reserved concurrency", "", out);
    }
    if !LOG_RETENTION_DAYS.contains(&f.log_retention_days.value) {
        let nearest = LOG_RETENTION_DAYS.iter().copied().find(|d| *d >= f.log_retention_days.value).unwrap_or(3653);
        out.push(
            Diagnostic::error(
                codes::INVALID_VALUE,
                f.log_retention_days.span,
                format!("log retention of {} days is not one CloudWatch Logs accepts", f.log_retention_days.value),
            )
            .with_hint(format!("use {nearest}d (accepted: 1, 3, 5, 7, 14, 30, 60, 90, ... 3653 days)")),
        );
    }
}

/// A queue's settings against AWS's ranges.
fn queue(q: &Queue, out: &mut Vec<Diagnostic>) {
    range_duration(&q.visibility_timeout, 0, 43_200, "the visibility timeout", out);
    range_duration(&q.retention, 60, 1_209_600, "the queue retention", out);
    range_duration(&q.dlq_retention, 60, 1_209_600, "the DLQ retention", out);
    range(&q.max_receive_count, 1, 1000, "maxReceiveCount", "", out);
    range_duration(&q.batching_window, 0, 300, "the batching window", out);
    range_duration(&q.receive_wait, 0, 20, "the long-polling wait", out);
    range(&q.batch_size, 1, 10_000, "the batch size", "", out);
    if q.batch_size.value > 10 && q.batching_window.secs() == 0 {
        out.push(
            Diagnostic::error(
                codes::INVALID_VALUE,
                q.batch_size.span,
                format!("a batch size of {} needs a batching window of at least 1s", q.batch_size.value),
            )
            .with_hint("set `batching_window`, or use a batch size of at most 10"),
        );
    }
    range(&q.max_concurrency, 2, 1000, "the maximum concurrency", "", out);
}

/// The relations between a stage's queue and its function: visibility vs timeout, receives, retention,
/// concurrency, FIFO.
fn relations(name: &str, f: &Function, q: &Queue, out: &mut Vec<Diagnostic>) {
    let timeout = f.timeout.secs();
    let vis = q.visibility_timeout.secs();
    let window = q.batching_window.secs();
    let recommended = recommended_visibility(f.timeout.value, q.batching_window.value).secs();
    if vis < timeout {
        out.push(
            Diagnostic::error(
                codes::VISIBILITY_BELOW_TIMEOUT,
                q.visibility_timeout.span,
                format!(
                    "the visibility timeout of `{name}`'s queue ({vis}s) is shorter than its function timeout ({timeout}s): messages reappear while still processing"
                ),
            )
            .with_hint(format!("set `visibility_timeout: {recommended}s` (6 x timeout + batching window)")),
        );
    } else if vis < recommended {
        out.push(
            Diagnostic::warning(
                codes::VISIBILITY_BELOW_RECOMMENDED,
                q.visibility_timeout.span,
                format!(
                    "the visibility timeout of `{name}`'s queue ({vis}s) is below AWS's recommendation of 6 x {timeout}s + {window}s = {recommended}s"
                ),
            )
            .with_hint(format!("set `visibility_timeout: {recommended}s`")),
        );
    }
    if q.max_receive_count.value < 5 {
        out.push(
            Diagnostic::warning(
                codes::LOW_MAX_RECEIVE_COUNT,
                q.max_receive_count.span,
                format!(
                    "maxReceiveCount of `{name}`'s queue is {}: throttled or briefly failing messages reach the DLQ early",
                    q.max_receive_count.value
                ),
            )
            .with_hint("use `max_receive_count: 5` or more"),
        );
    }
    if q.dlq_retention.secs() <= q.retention.secs() {
        out.push(
            Diagnostic::warning(
                codes::DLQ_RETENTION,
                q.dlq_retention.span,
                format!(
                    "the DLQ of `{name}` keeps messages {} but the queue keeps them {}: a dead letter keeps its enqueue time and can expire at once",
                    q.dlq_retention.value, q.retention.value
                ),
            )
            .with_hint("shorten the queue's `retention` (e.g. 4d) and keep `dlq_retention: 14d`"),
        );
    }
    if let (Some(rc), mc) = (&f.reserved_concurrency, &q.max_concurrency)
        && mc.value > rc.value
    {
        out.push(
            Diagnostic::warning(
                codes::CONCURRENCY_ABOVE_RESERVED,
                mc.span.or(rc.span),
                format!(
                    "`{name}`'s queue may start {} invocations at once, but its function has a reserved concurrency of {}: the rest are throttled and their messages count receives towards the DLQ",
                    mc.value, rc.value
                ),
            )
            .with_hint(if rc.value >= 2 {
                format!("set `max_concurrency: {}` (at most the reserved concurrency)", rc.value)
            } else {
                "raise `reserved_concurrency` to at least 2, the smallest maximum concurrency of a mapping".to_string()
            }),
        );
    }
    if q.fifo.value {
        out.push(
            Diagnostic::error(
                codes::FIFO_DESTINATION,
                q.fifo.span,
                format!("`{name}`'s queue is FIFO: S3 event notifications cannot target FIFO queues"),
            )
            .with_hint("use a standard queue (remove `fifo: true`)"),
        );
    }
}
