//! Names: AWS's naming rules, duplicates, and reserved environment variables.

use super::codes;
use crate::report::Diagnostic;
use crate::spec::Pipeline;
use crate::spec::span::{Sp, Span};
use std::collections::HashMap;

/// Environment variables Lambda reserves (setting one fails the deploy).
const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// Whether Lambda reserves `name`.
pub fn is_reserved_env(name: &str) -> bool {
    RESERVED_ENV.contains(&name) || name.starts_with("AWS_LAMBDA_")
}

fn bad(out: &mut Vec<Diagnostic>, span: Span, kind: &str, name: &str, rule: &str) {
    out.push(
        Diagnostic::error(
            codes::INVALID_NAME,
            span,
            format!("{kind} name `{}` is invalid: {rule}", crate::report::shown(name)),
        )
        .with_hint("rename it, or change the naming convention or `project`"),
    );
}

/// Judges generated names against AWS's rules. A name that breaks a rule only because of the project's
/// name in it (the same name with a short project would pass) is the project's problem: those are
/// reported once, at `project:`, instead of once per resource.
struct Judge<'p> {
    project: &'p Sp<String>,
    /// (kind, name, rule) of the names the project's name makes invalid.
    caused: Vec<(String, String, String)>,
}

impl<'p> Judge<'p> {
    fn new(project: &'p Sp<String>) -> Self {
        Judge { project, caused: Vec::new() }
    }

    fn name(
        &mut self,
        out: &mut Vec<Diagnostic>,
        span: Span,
        kind: &str,
        name: &str,
        rule: impl Fn(&str) -> Option<String>,
    ) {
        let Some(broken) = rule(name) else { return };
        let project = self.project.value.as_str();
        if !project.is_empty() && name.contains(project) && rule(&name.replace(project, "p")).is_none() {
            self.caused.push((kind.to_string(), name.to_string(), broken));
        } else {
            bad(out, span, kind, name, &broken);
        }
    }

    fn finish(self, out: &mut Vec<Diagnostic>) {
        let Some((kind, name, rule)) = self.caused.first() else { return };
        let others = match self.caused.len() - 1 {
            0 => String::new(),
            n => format!(" (and {n} more name(s) built from it)"),
        };
        out.push(
            Diagnostic::error(
                codes::INVALID_NAME,
                self.project.span,
                format!(
                    "project `{}` makes the {kind} name `{}` invalid: {rule}{others}",
                    crate::report::shown(&self.project.value),
                    crate::report::shown(name)
                ),
            )
            .with_hint("rename the project: lowercase letters, digits and hyphens, short enough for every name built from it; or set the naming convention"),
        );
    }
}

/// S3 general purpose bucket naming rules.
fn bucket_rule(name: &str) -> Option<&'static str> {
    if !(3..=63).contains(&name.len()) {
        return Some("bucket names have 3 to 63 characters");
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-') {
        return Some("bucket names have only lowercase letters, digits, dots and hyphens");
    }
    let first = name.chars().next().unwrap_or('-');
    let last = name.chars().last().unwrap_or('-');
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Some("bucket names begin and end with a letter or digit");
    }
    if name.contains("..") {
        return Some("bucket names have no two adjacent dots");
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Some("bucket names are not IP addresses");
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Some("bucket names do not start with `xn--`, `sthree-` or `amzn-s3-demo-`");
        }
    }
    for suffix in ["-s3alias", "--ol-s3", "--x-s3", "--table-s3", ".mrap"] {
        if name.ends_with(suffix) {
            return Some("bucket names do not end with a reserved suffix (`-s3alias`, `--ol-s3`, `--x-s3`, ...)");
        }
    }
    None
}

/// The rule a name of `kind` breaks: 1 to `max` characters of `charset`.
fn length_and_charset(
    kind: &str,
    max: usize,
    allowed: impl Fn(char) -> bool,
    charset: &str,
) -> impl Fn(&str) -> Option<String> {
    move |name: &str| {
        if name.is_empty() || name.len() > max {
            Some(format!("{kind} names have 1 to {max} characters (this has {})", name.len()))
        } else if !name.chars().all(&allowed) {
            Some(format!("{kind} names may contain only {charset}"))
        } else {
            None
        }
    }
}

pub fn check(p: &Pipeline, out: &mut Vec<Diagnostic>) {
    let mut judge = Judge::new(&p.project);
    let mut seen: HashMap<(&str, String), Span> = HashMap::new();
    let mut unique = |out: &mut Vec<Diagnostic>, kind: &'static str, name: &Sp<String>| {
        if let Some(first) = seen.get(&(kind, name.value.clone())) {
            out.push(
                Diagnostic::error(
                    codes::DUPLICATE_NAME,
                    name.span,
                    format!("{kind} name `{}` is used twice (first at line {})", name.value, first.line),
                )
                .with_hint("include `{{stage}}` in the naming convention, or set the names explicitly"),
            );
        } else {
            seen.insert((kind, name.value.clone()), name.span);
        }
    };

    for b in &p.buckets {
        judge.name(out, b.name.span.or(b.key.span), "bucket", &b.name, |n| bucket_rule(n).map(str::to_string));
        unique(out, "bucket", &b.name);
    }
    tables(p, &mut judge, out);
    if let Some(a) = &p.alerts {
        let topic = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        let rule = length_and_charset("SNS topic", 256, topic, "letters, digits, hyphens and underscores");
        judge.name(out, a.topic.span.or(p.project.span), "SNS topic", &a.topic, rule);
    }

    let sqs = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let iam = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    let logs = |c: char| c.is_ascii_alphanumeric() || "_-/.#".contains(c);
    let sched = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    let queue_rule = length_and_charset("SQS queue", 80, sqs, "letters, digits, hyphens and underscores");
    let function_rule = length_and_charset("Lambda function", 64, sqs, "letters, digits, hyphens and underscores");
    let role_rule = length_and_charset("IAM role", 64, iam, "letters, digits and `+=,.@_-`");
    let log_rule = length_and_charset("log group", 512, logs, "letters, digits and `_-/.#`");
    let schedule_rule = length_and_charset("schedule", 64, sched, "letters, digits and `-_.`");
    let alarm_rule = |n: &str| (n.len() > 255).then(|| "alarm names have at most 255 characters".to_string());
    for stage in &p.stages {
        if let Some(q) = &stage.queue {
            judge.name(out, q.name.span, "SQS queue", &q.name, &queue_rule);
            judge.name(out, q.dlq_name.span, "SQS queue", &q.dlq_name, &queue_rule);
            unique(out, "queue", &q.name);
            unique(out, "queue", &q.dlq_name);
        }
        if let Some(dlq) = stage.schedule.as_ref().and_then(|s| s.dlq_name.as_ref()) {
            judge.name(out, dlq.span, "SQS queue", dlq, &queue_rule);
            unique(out, "queue", dlq);
        }
        if let Some(f) = &stage.function {
            judge.name(out, f.name.span, "Lambda function", &f.name, &function_rule);
            judge.name(out, f.role_name.span, "IAM role", &f.role_name, &role_rule);
            judge.name(out, f.log_group.span, "log group", &f.log_group, &log_rule);
            unique(out, "function", &f.name);
            unique(out, "role", &f.role_name);
            environment(f, out);
            for alarm in &stage.alarms {
                judge.name(out, stage.name.span, "alarm", &alarm.name, alarm_rule);
            }
        }
        if let Some(s) = &stage.schedule {
            judge.name(out, s.expression.span, "schedule", &s.name, &schedule_rule);
        }
    }
    judge.finish(out);
}

/// The table bucket, namespace and tables: names, column types and partition transforms.
fn tables(p: &Pipeline, judge: &mut Judge, out: &mut Vec<Diagnostic>) {
    let Some(t) = &p.tables else { return };
    let lower = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let rule = length_and_charset("table bucket", 63, lower, "lowercase letters, digits and hyphens");
    judge.name(out, t.bucket_name.span, "table bucket", &t.bucket_name, rule);
    let ident = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    let rule = length_and_charset("namespace", 255, ident, "lowercase letters, digits and underscores");
    judge.name(out, t.namespace.span, "namespace", &t.namespace, rule);
    let rule = length_and_charset("table", 255, ident, "lowercase letters, digits and underscores");
    for table in &t.tables {
        judge.name(out, table.name.span, "table", &table.name, &rule);
        for col in &table.columns {
            if !valid_iceberg_type(&col.ty) {
                out.push(
                    Diagnostic::error(codes::INVALID_VALUE, col.ty.span, format!("`{}` is not an Iceberg primitive type", col.ty.value))
                        .with_hint("use boolean, int, long, float, double, decimal(P,S), date, time, timestamp, timestamptz, string, uuid or binary"),
                );
            }
            if let (Some(text), Some(Err(e))) = (&col.partition, col.declared_transform()) {
                let hint = match e {
                    crate::spec::partition::TransformError::Type { .. } => {
                        "year, month and day apply to date and timestamp columns, hour to timestamps; bucket[N] not to boolean, float or double; truncate[W] to int, long, decimal, string and binary".to_string()
                    }
                    _ => format!("use {}", crate::spec::partition::Transform::ALL),
                };
                out.push(Diagnostic::error(codes::INVALID_VALUE, text.span, e.to_string()).with_hint(hint));
            }
        }
    }
}

/// A function's environment variables: none that Lambda reserves or pipewright's contract sets.
fn environment(f: &crate::spec::resolve::Function, out: &mut Vec<Diagnostic>) {
    for (k, _) in &f.env {
        if is_reserved_env(k) {
            out.push(
                Diagnostic::error(
                    codes::RESERVED_ENV_VAR,
                    k.span,
                    format!("`{}` is reserved by Lambda: the deploy fails", k.value),
                )
                .with_hint("remove it; Lambda sets it itself"),
            );
        } else if k.starts_with("PIPEWRIGHT_") {
            out.push(
                Diagnostic::error(
                    codes::RESERVED_ENV_VAR,
                    k.span,
                    format!("`{}` belongs to pipewright's environment contract, which the generator sets", k.value),
                )
                .with_hint("rename it; the contract is derived from the spec"),
            );
        } else if !k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            bad(
                out,
                k.span,
                "environment variable",
                k,
                "names start with a letter and contain letters, digits and underscores",
            );
        }
    }
}

fn valid_iceberg_type(ty: &str) -> bool {
    const PRIMITIVES: &[&str] = &[
        "boolean",
        "int",
        "long",
        "float",
        "double",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "string",
        "uuid",
        "binary",
    ];
    if PRIMITIVES.contains(&ty) {
        return true;
    }
    if let Some(inner) = ty.strip_prefix("decimal(").and_then(|r| r.strip_suffix(')')) {
        let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
        return parts.len() == 2
            && parts[0].parse::<u32>().is_ok_and(|p| (1..=38).contains(&p))
            && parts[1].parse::<u32>().is_ok();
    }
    ty.strip_prefix("fixed[").and_then(|r| r.strip_suffix(']')).is_some_and(|n| n.parse::<u32>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_rules() {
        assert!(bucket_rule("hoopstat-haus-bronze").is_none());
        assert!(bucket_rule("Hoopstat").is_some());
        assert!(bucket_rule("ab").is_some());
        assert!(bucket_rule("a..b").is_some());
        assert!(bucket_rule("192.168.1.1").is_some());
        assert!(bucket_rule("x-s3alias").is_some());
    }

    #[test]
    fn reserved_env() {
        assert!(is_reserved_env("AWS_REGION"));
        assert!(is_reserved_env("AWS_LAMBDA_FUNCTION_NAME"));
        assert!(!is_reserved_env("MY_REGION"));
    }

    #[test]
    fn iceberg_types() {
        assert!(valid_iceberg_type("decimal(10,2)"));
        assert!(!valid_iceberg_type("varchar"));
    }
}
