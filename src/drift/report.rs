//! The verify report, in every format of [`crate::report::render`]: each aspect's findings (drift, or
//! D000 when it could not be read) rendered like every other command's, JSON and JUnit by aspect.

use super::{Aspect, Status};
use crate::report::render::{self, Case, Format, Subject};
use serde_json::json;

/// Counts of aspects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub checked: usize,
    pub clean: usize,
    pub drifted: usize,
    pub unverifiable: usize,
}

impl Summary {
    pub fn of(aspects: &[Aspect]) -> Summary {
        let mut s = Summary { checked: aspects.len(), ..Summary::default() };
        for a in aspects {
            match a.status() {
                Status::Clean => s.clean += 1,
                Status::Drift => s.drifted += 1,
                Status::Unverifiable => s.unverifiable += 1,
            }
        }
        s
    }

    pub fn line(&self) -> String {
        format!(
            "{} aspects checked: {} clean, {} drifted, {} could not be verified",
            self.checked, self.clean, self.drifted, self.unverifiable
        )
    }
}

/// The findings of every aspect, in order.
pub fn findings(aspects: &[Aspect], strict: bool) -> Vec<crate::report::Diagnostic> {
    aspects.iter().flat_map(|a| a.diagnostics(strict)).collect()
}

/// The report of `aspects` of stack `stack`, verified against the spec `subject`.
pub fn render(format: Format, aspects: &[Aspect], subject: &Subject, stack: &str, strict: bool, color: bool) -> String {
    match format {
        Format::Human => {
            render::human_findings(subject, &findings(aspects, strict), color) + &Summary::of(aspects).line() + "\n"
        }
        Format::Json => json(aspects, subject, stack, strict),
        Format::Sarif => render::sarif(subject, &findings(aspects, strict)),
        Format::Github => render::github(subject, &findings(aspects, strict)),
        Format::Junit => {
            let cases: Vec<Case> = aspects
                .iter()
                .map(|a| Case {
                    class: a.resource_type.to_string(),
                    name: format!("{} {}", a.resource, a.aspect),
                    line: a.span.line,
                    findings: a.diagnostics(strict),
                })
                .collect();
            render::junit(subject, &format!("pipewright verify {stack}"), &cases)
        }
    }
}

fn json(aspects: &[Aspect], subject: &Subject, stack: &str, strict: bool) -> String {
    let doc = json!({
        "spec": subject.path,
        "stack": stack,
        "summary": Summary::of(aspects),
        "aspects": aspects.iter().map(|a| json!({
            "resource": a.resource,
            "type": a.resource_type,
            "aspect": a.aspect,
            "status": a.status(),
            "spec_line": (a.span.line > 0).then_some(a.span.line),
            "findings": a.diagnostics(strict).iter().map(|d| render::json_item(subject, d)).collect::<Vec<_>>(),
            "unverifiable": a.unverifiable,
        })).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Exit;
    use crate::drift::Aspect;
    use crate::spec::Span;

    const SPEC: &str = include_str!("../../specs/hoopstat-haus.yaml");

    fn subject() -> Subject<'static> {
        Subject { path: "specs/hoopstat-haus.yaml", text: SPEC }
    }

    fn sample() -> Vec<Aspect> {
        let clean = Aspect::new("hoopstat-haus-bronze", "AWS::S3::Bucket", "versioning", Span { line: 19, column: 3 });
        let mut drift = Aspect::new(
            "hoopstat-haus-silver-processing-queue",
            "AWS::SQS::Queue",
            "attributes",
            Span { line: 93, column: 3 },
        );
        drift.drift(
            "D202",
            "the live visibility timeout (60s) is below the live function timeout (300s)",
            ">= 300s (the spec: 1805s)",
            "60s",
        );
        let mut unknown = Aspect::new(
            "hoopstat-haus-gold-analytics-role",
            "AWS::IAM::Role",
            "policies",
            Span { line: 105, column: 3 },
        );
        unknown.unverifiable("iam:ListRolePolicies on `hoopstat-haus-gold-analytics-role`: AccessDenied: not allowed");
        vec![clean, drift, unknown]
    }

    #[test]
    fn summary_and_exit_codes() {
        let aspects = sample();
        let s = Summary::of(&aspects);
        assert_eq!((s.checked, s.clean, s.drifted, s.unverifiable), (3, 1, 1, 1));
        assert_eq!(Exit::of_verification(s.drifted, s.unverifiable, false), Exit::Findings);
        let only_unknown: Vec<Aspect> = aspects.into_iter().filter(|a| a.findings.is_empty()).collect();
        let u = Summary::of(&only_unknown);
        assert_eq!(
            Exit::of_verification(u.drifted, u.unverifiable, false),
            Exit::Usage,
            "could not verify is never clean"
        );
        assert_eq!(
            Exit::of_verification(u.drifted, u.unverifiable, true),
            Exit::Findings,
            "--strict makes it a failure"
        );
        let one = Summary::of(&only_unknown[..1]);
        assert_eq!(Exit::of_verification(one.drifted, one.unverifiable, false), Exit::Clean);
    }

    #[test]
    fn formats_match_their_snapshots() {
        let aspects = sample();
        for (name, format) in [
            ("verify.human", Format::Human),
            ("verify.json", Format::Json),
            ("verify.sarif", Format::Sarif),
            ("verify.junit", Format::Junit),
            ("verify.github", Format::Github),
        ] {
            insta::assert_snapshot!(name, render(format, &aspects, &subject(), "hoopstat-haus", false, false));
        }
        insta::assert_snapshot!(
            "verify.junit.strict",
            render(Format::Junit, &aspects, &subject(), "hoopstat-haus", true, false)
        );
    }

    #[test]
    fn could_not_verify_is_a_warning_and_an_error_when_strict() {
        let aspects = sample();
        let levels = |strict| -> Vec<(&'static str, crate::report::Severity)> {
            findings(&aspects, strict).iter().map(|d| (d.code, d.severity)).collect()
        };
        use crate::report::Severity::{Error, Warning};
        assert_eq!(levels(false), [("D202", Error), ("D000", Warning)]);
        assert_eq!(levels(true), [("D202", Error), ("D000", Error)]);
    }
}
