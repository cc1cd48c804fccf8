//! The data flow as a graph: does each trigger match what upstream writes, is there recursion,
//! does an upstream run fan in several events per run.

use super::codes;
use crate::report::Diagnostic;
use crate::spec::Pipeline;
use crate::spec::model::PerRun;
use crate::spec::pattern::KeyTemplate;
use crate::spec::resolve::{Stage, Trigger};
use crate::spec::span::Span;
use std::collections::HashMap;

/// Something a stage puts into a bucket: a declared write or its quarantine.
struct Output<'a> {
    stage: usize,
    bucket: &'a str,
    template: KeyTemplate,
    span: Span,
    per_run: PerRun,
    quarantine: bool,
}

pub fn check(p: &Pipeline, out: &mut Vec<Diagnostic>) {
    let by_bucket = outputs_by_bucket(p);
    // Edges: upstream stage -> triggered stage, with the outputs that match.
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); p.stages.len()];
    for (t_idx, stage) in p.stages.iter().enumerate() {
        let Some(trigger) = &stage.trigger else {
            continue;
        };
        let outputs = by_bucket.get(trigger.bucket.value.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        let matching: Vec<&Output> =
            outputs.iter().filter(|o| trigger.pattern.matches(&o.template.render(|v| p.example(v)))).collect();
        matches_nothing(p, stage, trigger, outputs, &matching, out);
        for o in &matching {
            if o.stage == t_idx {
                out.push(own_trigger(p, stage, trigger, o));
            } else if !edges[o.stage].contains(&t_idx) {
                edges[o.stage].push(t_idx);
            }
        }
        fan_in(p, t_idx, trigger, &matching, out);
    }
    mutual_recursion(p, &edges, out);
}

/// Everything written (and quarantined), indexed by bucket.
fn outputs_by_bucket(p: &Pipeline) -> HashMap<&str, Vec<Output<'_>>> {
    let mut by_bucket: HashMap<&str, Vec<Output>> = HashMap::new();
    for (i, s) in p.stages.iter().enumerate() {
        for w in &s.writes {
            by_bucket.entry(w.bucket.value.as_str()).or_default().push(Output {
                stage: i,
                bucket: &w.bucket.value,
                template: w.key.value.clone(),
                span: w.key.span,
                per_run: w.per_run,
                quarantine: false,
            });
        }
        if let Some(q) = &s.quarantine {
            by_bucket.entry(q.bucket.value.as_str()).or_default().push(Output {
                stage: i,
                bucket: &q.bucket.value,
                template: KeyTemplate { template: format!("{}{{date}}/data.json", q.prefix.value) },
                span: q.prefix.span,
                per_run: PerRun::Many,
                quarantine: true,
            });
        }
    }
    by_bucket
}

/// PW201: a trigger that matches nothing any stage writes (unless something outside the spec does).
fn matches_nothing(
    p: &Pipeline,
    stage: &Stage,
    trigger: &Trigger,
    outputs: &[Output],
    matching: &[&Output],
    out: &mut Vec<Diagnostic>,
) {
    if matching.iter().all(|o| o.quarantine) && !trigger.external {
        let written: Vec<String> = outputs
            .iter()
            .filter(|o| !o.quarantine)
            .map(|o| format!("`{}` (from `{}`)", o.template.render(|v| p.example(v)), p.stages[o.stage].name.value))
            .collect();
        let hint = if written.is_empty() {
            format!(
                "no stage writes to bucket `{}`; mark the trigger `external: true` if something outside the spec does",
                trigger.bucket.value
            )
        } else {
            format!("bucket `{}` receives {}", trigger.bucket.value, written.join(", "))
        };
        out.push(
            Diagnostic::error(
                codes::TRIGGER_MATCHES_NOTHING,
                trigger.span,
                format!(
                    "the trigger of `{}` (`{}`) matches no key an upstream stage writes: the stage never runs",
                    stage.name.value, trigger.pattern.pattern
                ),
            )
            .with_hint(hint),
        );
    }
}

/// A stage that writes what its own trigger matches: every run starts another.
fn own_trigger(p: &Pipeline, stage: &Stage, trigger: &Trigger, o: &Output) -> Diagnostic {
    let what = if o.quarantine { "quarantines" } else { "writes" };
    Diagnostic::error(
        codes::RECURSION,
        o.span.or(stage.name.span),
        format!(
            "stage `{}` {what} `{}` into bucket `{}`, which its own trigger (`{}`) matches: every run starts another",
            stage.name.value,
            o.template.render(|v| p.example(v)),
            o.bucket,
            trigger.pattern.pattern
        ),
    )
    .with_hint("write to another prefix or bucket than the trigger watches")
}

/// Fan-in: per upstream stage, how many matching objects one run produces, and `coalesce:` variables
/// that the upstream keys do not have.
fn fan_in(p: &Pipeline, t_idx: usize, trigger: &Trigger, matching: &[&Output], out: &mut Vec<Diagnostic>) {
    let stage = &p.stages[t_idx];
    let mut per_stage: HashMap<usize, (usize, Vec<&Output>)> = HashMap::new();
    for o in matching.iter().filter(|o| o.stage != t_idx && !o.quarantine) {
        let e = per_stage.entry(o.stage).or_default();
        e.0 += if o.per_run == PerRun::Many { 2 } else { 1 };
        e.1.push(o);
    }
    let mut upstreams: Vec<_> = per_stage.into_iter().collect();
    upstreams.sort_by_key(|(s, _)| *s);
    for (up, (count, outs)) in upstreams {
        match &trigger.coalesce {
            Some(var) => {
                for o in &outs {
                    let vars = o.template.variables().unwrap_or_default();
                    if !vars.contains(&var.value) {
                        out.push(
                            Diagnostic::error(
                                codes::COALESCE_VARIABLE,
                                var.span,
                                format!(
                                    "`{}` coalesces by `{}`, but `{}` writes `{}` without it",
                                    stage.name.value, var.value, p.stages[up].name.value, o.template.template
                                ),
                            )
                            .with_hint(format!("variables of that key: {}", vars.join(", "))),
                        );
                    }
                }
            }
            None if count > 1 => {
                let keys: Vec<String> = outs.iter().map(|o| format!("`{}`", o.template.template)).collect();
                out.push(
                    Diagnostic::warning(
                        codes::FAN_IN,
                        trigger.span,
                        format!(
                            "each run of `{}` writes several objects that the trigger of `{}` matches ({}): `{}` runs several times per upstream run",
                            p.stages[up].name.value,
                            stage.name.value,
                            keys.join(", "),
                            stage.name.value
                        ),
                    )
                    .with_hint(
                        "declare `coalesce: <variable>` if the handler groups a batch by it, or narrow the pattern",
                    ),
                );
            }
            None => {}
        }
    }
}

/// Recursion through upstream stages: an edge a -> b where b reaches a.
fn mutual_recursion(p: &Pipeline, edges: &[Vec<usize>], out: &mut Vec<Diagnostic>) {
    for a in 0..edges.len() {
        for &b in &edges[a] {
            if reaches(edges, b, a) && a < b {
                let stage = &p.stages[a];
                let target = &p.stages[b];
                out.push(
                    Diagnostic::error(
                        codes::RECURSION,
                        target.trigger.as_ref().map(|t| t.span).unwrap_or(target.name.span),
                        format!(
                            "stages `{}` and `{}` trigger each other (`{}` -> {}): every run starts another",
                            stage.name.value,
                            target.name.value,
                            stage.name.value,
                            path_names(p, edges, b, a)
                        ),
                    )
                    .with_hint("a stage downstream must not write what a stage upstream of it watches"),
                );
            }
        }
    }
}

fn reaches(edges: &[Vec<usize>], from: usize, to: usize) -> bool {
    let mut seen = vec![false; edges.len()];
    let mut stack = vec![from];
    while let Some(n) = stack.pop() {
        if n == to {
            return true;
        }
        if std::mem::replace(&mut seen[n], true) {
            continue;
        }
        stack.extend(edges[n].iter().copied());
    }
    false
}

/// Names along a shortest path `from` -> `to`, for the message.
fn path_names(p: &Pipeline, edges: &[Vec<usize>], from: usize, to: usize) -> String {
    let mut prev = vec![usize::MAX; edges.len()];
    let mut queue = std::collections::VecDeque::from([from]);
    prev[from] = from;
    while let Some(n) = queue.pop_front() {
        if n == to {
            break;
        }
        for &m in &edges[n] {
            if prev[m] == usize::MAX {
                prev[m] = n;
                queue.push_back(m);
            }
        }
    }
    let mut path = vec![to];
    let mut n = to;
    while n != from && prev[n] != usize::MAX {
        n = prev[n];
        path.push(n);
    }
    path.reverse();
    path.iter().map(|&i| format!("`{}`", p.stages[i].name.value)).collect::<Vec<_>>().join(" -> ")
}
