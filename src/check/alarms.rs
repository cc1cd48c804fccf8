//! Alarms: can each fire, does it notify anyone, are the essential ones there.

use super::codes;
use crate::report::Diagnostic;
use crate::spec::Pipeline;
use crate::spec::duration::Threshold;
use crate::spec::resolve::AlarmKind;

pub fn check(p: &Pipeline, out: &mut Vec<Diagnostic>) {
    let mut any_alarm = None;
    for stage in &p.stages {
        let name = &stage.name.value;
        let Some(f) = &stage.function else { continue };
        for alarm in &stage.alarms {
            let Threshold::Value(v) = alarm.threshold.value else {
                continue;
            };
            any_alarm.get_or_insert(alarm.threshold.span.or(stage.name.span));
            if alarm.kind == AlarmKind::Duration && v >= f.timeout.secs() {
                out.push(
                    Diagnostic::error(
                        codes::ALARM_CANNOT_FIRE,
                        alarm.threshold.span.or(stage.name.span),
                        format!(
                            "the duration alarm of `{name}` fires above {v}s, but the function is stopped at its {}s timeout: it can never fire",
                            f.timeout.secs()
                        ),
                    )
                    .with_hint(format!("use a threshold below the timeout, e.g. `duration: {}s`", u128::from(f.timeout.secs()) * 5 / 6)),
                );
            }
            if alarm.kind == AlarmKind::QueueAge
                && let Some(q) = &stage.queue
                && v >= q.retention.secs()
            {
                out.push(
                            Diagnostic::error(
                                codes::ALARM_CANNOT_FIRE,
                                alarm.threshold.span.or(stage.name.span),
                                format!(
                                    "the queue-age alarm of `{name}` fires above {v}s, but messages are deleted after {}: it can never fire",
                                    q.retention.value
                                ),
                            )
                            .with_hint("use a threshold below the queue's retention"),
                        );
            }
        }
        // A stage with a dead-letter queue (a triggered stage's, or a scheduled Lambda's for its failed
        // runs) keeps its failures there: without these alarms nobody would hear of them.
        if stage.dlq_name().is_some() {
            let off = |k: AlarmKind| {
                stage.alarms.iter().find(|a| a.kind == k).is_none_or(|a| a.threshold.value == Threshold::Off)
            };
            let missing: Vec<(&str, AlarmKind)> = [("DLQ depth", AlarmKind::DlqDepth), ("errors", AlarmKind::Errors)]
                .into_iter()
                .filter(|(_, k)| off(*k))
                .collect();
            for (what, kind) in missing {
                let span = stage.alarms.iter().find(|a| a.kind == kind).map(|a| a.threshold.span);
                out.push(
                    Diagnostic::warning(
                        codes::MISSING_ALARM,
                        span.unwrap_or_default().or(stage.name.span),
                        format!("stage `{name}` has no {what} alarm: its failures would go unnoticed"),
                    )
                    .with_hint(format!("set `{}` to a threshold instead of `off`", kind.key())),
                );
            }
            if stage.queue.is_some() && off(AlarmKind::QueueDepth) && off(AlarmKind::QueueAge) {
                let span = stage.alarms.iter().find(|a| a.kind == AlarmKind::QueueDepth).map(|a| a.threshold.span);
                out.push(
                    Diagnostic::warning(
                        codes::MISSING_ALARM,
                        span.unwrap_or_default().or(stage.name.span),
                        format!("stage `{name}` has no backlog alarm (queue depth or age): a stalled consumer would go unnoticed"),
                    )
                    .with_hint("set `queue_depth` or `queue_age` to a threshold"),
                );
            }
        }
    }
    match (any_alarm, &p.alerts, p.alerts_off) {
        (Some(_), None, Some(off)) => out.push(
            Diagnostic::warning(
                codes::ALARM_WITHOUT_ACTIONS,
                off,
                "`alerts: none`: the alarms change state in CloudWatch and notify nobody",
            )
            .with_hint("to be told when the pipeline fails, write `alerts: {email: parameter}` (an SNS topic with an e-mail subscription)"),
        ),
        (Some(span), None, None) => out.push(
            Diagnostic::warning(
                codes::ALARM_WITHOUT_ACTIONS,
                span.or(p.project.span),
                "the alarms have no actions: there is no `alerts` section, so they notify nobody",
            )
            .with_hint("add `alerts: {email: parameter}` (an SNS topic with an e-mail subscription), or write `alerts: none` for a pipeline without alerting"),
        ),
        _ => {}
    }
}
