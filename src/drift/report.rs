//! The verify report: human, JSON, SARIF 2.1.0 (locations are the spec's lines), JUnit XML.

use super::{Aspect, CODES};
use serde_json::json;

/// Output formats of `verify` (the command line's values are declared by the CLI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyFormat {
    Human,
    Json,
    Sarif,
    Junit,
}

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
                "clean" => s.clean += 1,
                "drift" => s.drifted += 1,
                _ => s.unverifiable += 1,
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

pub fn render(format: VerifyFormat, aspects: &[Aspect], spec_path: &str, stack: &str, strict: bool) -> String {
    match format {
        VerifyFormat::Human => human(aspects, spec_path),
        VerifyFormat::Json => json(aspects, spec_path, stack),
        VerifyFormat::Sarif => sarif(aspects, spec_path, strict),
        VerifyFormat::Junit => junit(aspects, spec_path, stack, strict),
    }
}

fn human(aspects: &[Aspect], spec_path: &str) -> String {
    let mut out = String::new();
    for a in aspects.iter().filter(|a| a.status() != "clean") {
        let at = if a.span.is_known() { format!(" ({spec_path}:{})", a.span.line) } else { String::new() };
        match &a.unverifiable {
            Some(why) => out.push_str(&format!(
                "? {} `{}` {}: could not verify: {why}{at}\n",
                a.resource_type, a.resource, a.aspect
            )),
            None => {
                for f in &a.findings {
                    out.push_str(&format!(
                        "✗ {} `{}` {} [{}]: {}{at}\n",
                        a.resource_type, a.resource, a.aspect, f.code, f.message
                    ));
                    match &f.diff {
                        Some(d) => {
                            for line in d.lines() {
                                out.push_str(&format!("    {line}\n"));
                            }
                        }
                        None => out.push_str(&format!("    expected: {}\n    actual:   {}\n", f.expected, f.actual)),
                    }
                    out.push_str(&format!("    hint: {}\n", f.hint));
                }
            }
        }
    }
    out.push_str(&Summary::of(aspects).line());
    out.push('\n');
    out
}

fn json(aspects: &[Aspect], spec_path: &str, stack: &str) -> String {
    let doc = json!({
        "spec": spec_path,
        "stack": stack,
        "summary": Summary::of(aspects),
        "aspects": aspects.iter().map(|a| json!({
            "resource": a.resource,
            "type": a.resource_type,
            "aspect": a.aspect,
            "status": a.status(),
            "spec_line": (a.span.line > 0).then_some(a.span.line),
            "findings": a.findings,
            "unverifiable": a.unverifiable,
        })).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

fn sarif(aspects: &[Aspect], spec_path: &str, strict: bool) -> String {
    let rules: Vec<_> = CODES
        .iter()
        .map(|(code, name, hint)| json!({ "id": code, "name": name, "shortDescription": { "text": name }, "help": { "text": hint } }))
        .chain(std::iter::once(json!({ "id": "D000", "name": "could-not-verify",
            "shortDescription": { "text": "could-not-verify" },
            "help": { "text": "pipewright could not read this aspect (permissions, throttling, network): it is unknown, not clean" } })))
        .collect();
    let location = |a: &Aspect| {
        json!([{ "physicalLocation": {
            "artifactLocation": { "uri": spec_path },
            "region": { "startLine": a.span.line.max(1), "startColumn": a.span.column.max(1) }
        }}])
    };
    let mut results = Vec::new();
    for a in aspects {
        if let Some(why) = &a.unverifiable {
            results.push(json!({
                "ruleId": "D000",
                "level": if strict { "error" } else { "warning" },
                "message": { "text": format!("{} `{}` {}: could not verify: {why}", a.resource_type, a.resource, a.aspect) },
                "locations": location(a),
            }));
        }
        for f in &a.findings {
            results.push(json!({
                "ruleId": f.code,
                "level": "error",
                "message": { "text": format!("{} `{}` {}: {} (expected {}, actual {})\nhint: {}",
                    a.resource_type, a.resource, a.aspect, f.message, f.expected.trim(), f.actual.trim(), f.hint) },
                "locations": location(a),
            }));
        }
    }
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "pipewright-verify", "version": env!("CARGO_PKG_VERSION"), "rules": rules } },
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn junit(aspects: &[Aspect], spec_path: &str, stack: &str, strict: bool) -> String {
    let s = Summary::of(aspects);
    let (failures, skipped) = if strict { (s.drifted + s.unverifiable, 0) } else { (s.drifted, s.unverifiable) };
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"pipewright verify\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">\n  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" file=\"{}\">\n",
        s.checked,
        xml(stack),
        s.checked,
        xml(spec_path)
    );
    for a in aspects {
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{} {}\" file=\"{}\" line=\"{}\"",
            xml(a.resource_type),
            xml(&a.resource),
            a.aspect,
            xml(spec_path),
            a.span.line
        ));
        match (&a.unverifiable, a.findings.is_empty()) {
            (Some(why), _) if strict => out.push_str(&format!(
                ">\n      <failure message=\"could not verify\">{}</failure>\n    </testcase>\n",
                xml(why)
            )),
            (Some(why), _) => out.push_str(&format!(
                ">\n      <skipped message=\"could not verify: {}\"/>\n    </testcase>\n",
                xml(why)
            )),
            (None, true) => out.push_str("/>\n"),
            (None, false) => {
                out.push_str(">\n");
                for f in &a.findings {
                    out.push_str(&format!(
                        "      <failure message=\"{}\" type=\"{}\">expected: {}\nactual: {}\nhint: {}</failure>\n",
                        xml(&f.message),
                        f.code,
                        xml(f.expected.trim()),
                        xml(f.actual.trim()),
                        xml(f.hint)
                    ));
                }
                out.push_str("    </testcase>\n");
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Exit;
    use crate::drift::{Aspect, Finding};
    use crate::spec::Span;

    fn sample() -> Vec<Aspect> {
        let mut clean =
            Aspect::new("hoopstat-haus-bronze", "AWS::S3::Bucket", "versioning", Span { line: 19, column: 3 });
        clean.findings.clear();
        let mut drift = Aspect::new(
            "hoopstat-haus-silver-processing-queue",
            "AWS::SQS::Queue",
            "attributes",
            Span { line: 93, column: 3 },
        );
        drift.findings.push(Finding {
            code: "D202",
            message: "the live visibility timeout (60s) is below the live function timeout (300s)".into(),
            expected: ">= 300s (the spec: 1805s)".into(),
            actual: "60s".into(),
            diff: None,
            hint: crate::drift::hint("D202"),
        });
        let mut unknown = Aspect::new(
            "hoopstat-haus-gold-analytics-role",
            "AWS::IAM::Role",
            "policies",
            Span { line: 105, column: 3 },
        );
        unknown.unverifiable =
            Some("iam:ListRolePolicies on `hoopstat-haus-gold-analytics-role`: AccessDenied: not allowed".into());
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
            ("verify.human", VerifyFormat::Human),
            ("verify.json", VerifyFormat::Json),
            ("verify.sarif", VerifyFormat::Sarif),
            ("verify.junit", VerifyFormat::Junit),
        ] {
            insta::assert_snapshot!(name, render(format, &aspects, "specs/hoopstat-haus.yaml", "hoopstat-haus", false));
        }
        insta::assert_snapshot!(
            "verify.junit.strict",
            render(VerifyFormat::Junit, &aspects, "specs/hoopstat-haus.yaml", "hoopstat-haus", true)
        );
    }

    #[test]
    fn sarif_results_reference_known_rules() {
        let doc: serde_json::Value =
            serde_json::from_str(&render(VerifyFormat::Sarif, &sample(), "s.yaml", "s", false)).expect("json");
        let rules: Vec<&str> = doc["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .filter_map(|r| r["id"].as_str())
            .collect();
        for r in doc["runs"][0]["results"].as_array().expect("results") {
            assert!(rules.contains(&r["ruleId"].as_str().expect("id")));
            assert!(r["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64().expect("line") >= 1);
        }
    }
}
