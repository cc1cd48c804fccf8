//! The pipeline as a picture: buckets, S3 filters (on the edges), queues, DLQs, functions, local
//! stages, schedules, S3 tables and alarms, as one graph with three renderers (Mermaid, Graphviz dot,
//! SVG). Pure: no I/O. Nodes carry the resources' real names, which is what a status document
//! ([`crate::report::status`]) colours them by.

mod dot;
mod mermaid;
mod svg;

pub use dot::dot;
pub use mermaid::mermaid;
pub use svg::svg;

use std::collections::HashMap;

use crate::report::status::{Health, StatusFile};
use crate::spec::duration::Threshold;
use crate::spec::resolve::{Alarm, AlarmKind, Function, Pipeline};

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Schedule,
    LocalStage,
    Bucket,
    Queue,
    Dlq,
    Function,
    Table,
    Alarm,
}

impl Kind {
    /// The caption shown above the name.
    pub fn caption(self) -> &'static str {
        match self {
            Kind::Schedule => "schedule",
            Kind::LocalStage => "local stage",
            Kind::Bucket => "S3 bucket",
            Kind::Queue => "SQS queue",
            Kind::Dlq => "dead-letter queue",
            Kind::Function => "Lambda function",
            Kind::Table => "S3 table",
            Kind::Alarm => "alarm",
        }
    }

    /// Style class (Mermaid `classDef`, SVG `class`).
    pub fn class(self) -> &'static str {
        match self {
            Kind::Schedule => "schedule",
            Kind::LocalStage => "local",
            Kind::Bucket => "bucket",
            Kind::Queue => "queue",
            Kind::Dlq => "dlq",
            Kind::Function => "function",
            Kind::Table => "table",
            Kind::Alarm => "alarm",
        }
    }

    /// Default fill and stroke colours.
    pub fn colors(self) -> (&'static str, &'static str) {
        match self {
            Kind::Schedule | Kind::LocalStage => ("#f3e8fd", "#7b4fa8"),
            Kind::Bucket | Kind::Table => ("#e8f1fb", "#3b6ea8"),
            Kind::Queue => ("#fdf3e1", "#b07a1f"),
            Kind::Dlq => ("#fdeaea", "#a83b3b"),
            Kind::Function => ("#e9f7ec", "#2f7d47"),
            Kind::Alarm => ("#f4f4f4", "#777777"),
        }
    }
}

/// Fill and stroke colours of a health state.
pub fn health_colors(h: Health) -> (&'static str, &'static str) {
    match h {
        Health::Ok => ("#c8ecd0", "#1e7b34"),
        Health::Drift => ("#ffe8a3", "#a87b00"),
        Health::Broken => ("#f7b9b9", "#b00020"),
        Health::Unknown => ("#dddddd", "#555555"),
    }
}

/// One resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Stable identifier (`[a-z0-9_]`), unique in the graph.
    pub id: String,
    pub kind: Kind,
    /// The real name (the key of a status document).
    pub name: String,
    /// Settings worth seeing at a glance (`timeout 300s, 1024 MB`).
    pub detail: Option<String>,
    /// The stage the node belongs to (`None` for buckets and tables, which stages share).
    pub stage: Option<String>,
}

impl Node {
    /// Caption, name and detail: the lines of the node's label.
    pub fn lines(&self) -> Vec<&str> {
        let mut lines = vec![self.kind.caption(), self.name.as_str()];
        lines.extend(self.detail.as_deref());
        lines
    }
}

/// What an edge means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeKind {
    /// Data or events flow (notification, delivery, write, schedule).
    Flow,
    /// A queue's redrive to its dead-letter queue.
    Redrive,
    /// An alarm watches a resource.
    Watch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
    /// Label lines (parallel edges are merged into one edge with several lines).
    pub label: Vec<String>,
}

/// A group of nodes drawn together (a stage, the S3 tables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub id: String,
    pub label: String,
    pub nodes: Vec<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    pub title: String,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub clusters: Vec<Cluster>,
}

/// `silver-processing` -> `silver_processing`: an identifier every renderer accepts.
pub fn ident(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
}

/// When an alarm fires, in words (`> 50 messages`), or `None` when it is off.
pub fn alarm_condition(function: &Function, alarm: &Alarm) -> Option<String> {
    let Threshold::Value(v) = alarm.threshold.value else { return None };
    let more = |unit: &str, per: &str| {
        if v == 0 { format!("any {unit}{per}") } else { format!("> {v} {unit}s{per}") }
    };
    Some(match alarm.kind {
        AlarmKind::QueueDepth | AlarmKind::DlqDepth => more("message", ""),
        AlarmKind::QueueAge => format!("oldest message > {v}s"),
        AlarmKind::Duration => format!("> {v}s of the {}s timeout", function.timeout.secs()),
        AlarmKind::Errors => more("error", " in 5 min"),
        AlarmKind::FailedRecords => more("failed record", " in 1 min"),
        AlarmKind::Throttles => more("throttle", " in 5 min"),
    })
}

/// A graph under construction, with its nodes, edges and clusters indexed (a 1,000-stage pipeline has
/// ~7,000 nodes: linear lookups made building it quadratic).
#[derive(Default)]
struct Builder {
    g: Graph,
    nodes: HashMap<String, usize>,
    edges: HashMap<(usize, usize, EdgeKind), usize>,
    clusters: HashMap<String, usize>,
}

impl Builder {
    /// The node of a bucket (its short name), added once.
    fn bucket(&mut self, p: &Pipeline, key: &str) -> usize {
        self.add(Node {
            id: format!("bucket_{}", ident(key)),
            kind: Kind::Bucket,
            name: p.bucket_name(key),
            detail: None,
            stage: None,
        })
    }

    /// A stage's nodes (its function or local program, schedule, queue, DLQ, alarms) as one cluster, and
    /// the edges from what starts it and to what it writes.
    fn stage(&mut self, p: &Pipeline, s: &crate::spec::resolve::Stage) {
        let g = self;
        let sid = ident(&s.name);
        let stage = Some(s.name.value.clone());
        let node = |kind: Kind, id: &str, name: &str, detail: Option<String>| Node {
            id: format!("{id}_{sid}"),
            kind,
            name: name.to_string(),
            detail,
            stage: stage.clone(),
        };
        let mut members = Vec::new();
        let runner = match &s.function {
            Some(f) => g.add(node(
                Kind::Function,
                "function",
                &f.name,
                Some(format!("timeout {}, {} MB", f.timeout.value, f.memory.value)),
            )),
            None => g.add(node(Kind::LocalStage, "local", &s.name, Some("runs outside AWS".into()))),
        };
        members.push(runner);
        if let Some(sch) = &s.schedule {
            let name = match &s.function {
                Some(_) => sch.name.clone(),
                None => format!("{}.crontab", s.name.value),
            };
            let detail = format!("{} {}", sch.expression.value, sch.timezone.value);
            let i = g.add(node(Kind::Schedule, "schedule", &name, Some(detail)));
            g.edge(i, runner, EdgeKind::Flow, None);
            members.push(i);
            if let Some(dlq) = &sch.dlq_name {
                let di = g.add(node(Kind::Dlq, "dlq", &dlq.value, Some(failed_runs_detail())));
                g.edge(runner, di, EdgeKind::Redrive, Some("after 3 failed attempts".into()));
                members.push(di);
            }
        }
        if let (Some(t), Some(q)) = (&s.trigger, &s.queue) {
            let from = g.bucket(p, &t.bucket);
            let qi = g.add(node(
                Kind::Queue,
                "queue",
                &q.name,
                Some(format!("visibility {}, retention {}", q.visibility_timeout.value, q.retention.value)),
            ));
            let di = g.add(node(Kind::Dlq, "dlq", &q.dlq_name, Some(format!("retention {}", q.dlq_retention.value))));
            let filter = if t.through_eventbridge() {
                "EventBridge rule: the whole pattern".to_string()
            } else {
                format!(
                    "S3: prefix {}, suffix {}",
                    empty_as_none(&t.pattern.filter_prefix()),
                    empty_as_none(&t.pattern.filter_suffix())
                )
            };
            g.edge(from, qi, EdgeKind::Flow, Some(t.pattern.pattern.clone()));
            g.edge(from, qi, EdgeKind::Flow, Some(filter));
            g.edge(
                qi,
                runner,
                EdgeKind::Flow,
                Some(format!("batch {}, window {}", q.batch_size.value, q.batching_window.value)),
            );
            g.edge(qi, di, EdgeKind::Redrive, Some(format!("after {} receives", q.max_receive_count.value)));
            members.extend([qi, di]);
        }
        for w in &s.writes {
            let to = g.bucket(p, &w.bucket);
            g.edge(runner, to, EdgeKind::Flow, Some(w.key.template.clone()));
        }
        for t in &s.writes_tables {
            if let Some(to) = g.position(&format!("table_{}", ident(t))) {
                g.edge(runner, to, EdgeKind::Flow, None);
            }
        }
        if let Some(f) = &s.function {
            for a in &s.alarms {
                let Some(condition) = alarm_condition(f, a) else { continue };
                let watched = match a.kind {
                    AlarmKind::QueueDepth | AlarmKind::QueueAge => g.position(&format!("queue_{sid}")),
                    AlarmKind::DlqDepth => g.position(&format!("dlq_{sid}")),
                    AlarmKind::Duration | AlarmKind::Errors | AlarmKind::FailedRecords | AlarmKind::Throttles => {
                        Some(runner)
                    }
                };
                let Some(watched) = watched else { continue };
                let ai = g.add(node(Kind::Alarm, &format!("alarm_{}", a.kind.key()), &a.name, Some(condition)));
                g.edge(watched, ai, EdgeKind::Watch, None);
                members.push(ai);
            }
        }
        for m in members {
            g.cluster(format!("stage_{sid}"), s.name.value.clone(), m);
        }
    }

    fn add(&mut self, node: Node) -> usize {
        if let Some(&i) = self.nodes.get(&node.id) {
            return i;
        }
        self.nodes.insert(node.id.clone(), self.g.nodes.len());
        self.g.nodes.push(node);
        self.g.nodes.len() - 1
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.nodes.get(id).copied()
    }

    fn edge(&mut self, from: usize, to: usize, kind: EdgeKind, label: Option<String>) {
        let label = label.into_iter().collect::<Vec<_>>();
        match self.edges.get(&(from, to, kind)) {
            Some(&i) => self.g.edges[i].label.extend(label),
            None => {
                self.edges.insert((from, to, kind), self.g.edges.len());
                self.g.edges.push(Edge { from, to, kind, label });
            }
        }
    }

    fn cluster(&mut self, id: String, label: String, node: usize) {
        match self.clusters.get(&id) {
            Some(&i) => {
                let c = &mut self.g.clusters[i];
                if !c.nodes.contains(&node) {
                    c.nodes.push(node);
                }
            }
            None => {
                self.clusters.insert(id.clone(), self.g.clusters.len());
                self.g.clusters.push(Cluster { id, label, nodes: vec![node] });
            }
        }
    }
}

impl Graph {
    /// Per node, whether a cluster holds it.
    pub fn clustered(&self) -> Vec<bool> {
        let mut clustered = vec![false; self.nodes.len()];
        for &i in self.clusters.iter().flat_map(|c| &c.nodes) {
            clustered[i] = true;
        }
        clustered
    }

    /// Builds the graph of a resolved pipeline.
    pub fn of(p: &Pipeline) -> Graph {
        let mut g = Builder::default();
        g.g.title = format!("{} ({})", p.project.value, p.region.value);
        for b in &p.buckets {
            g.bucket(p, &b.key);
        }
        if let Some(t) = &p.tables {
            for table in &t.tables {
                let i = g.add(Node {
                    id: format!("table_{}", ident(&table.name)),
                    kind: Kind::Table,
                    name: format!("{}.{}", t.namespace.value, table.name.value),
                    detail: None,
                    stage: None,
                });
                g.cluster("tables".into(), format!("S3 Tables: {}", t.bucket_name.value), i);
            }
        }
        for s in &p.stages {
            g.stage(p, s);
        }
        g.g
    }

    /// The health of a node from a status document (`None`: not in it, or no document).
    pub fn health(&self, node: &Node, status: Option<&StatusFile>) -> Option<Health> {
        status.and_then(|s| s.get(&node.name))
    }

    /// Names in the status document that no node has (typos, or resources of another pipeline).
    pub fn unknown_names<'a>(&self, status: &'a StatusFile) -> Vec<&'a str> {
        status.resources.keys().map(String::as_str).filter(|k| !self.nodes.iter().any(|n| n.name == *k)).collect()
    }

    /// Columns of a left-to-right layered layout: flow edges go to the right (longest path from the
    /// sources); dead-letter queues and alarms share the column of what they belong to. Cycles (a
    /// recursive spec) are cut: no node moves more than `nodes.len()` columns.
    pub fn columns(&self) -> Vec<usize> {
        let n = self.nodes.len();
        let flow: Vec<(usize, usize)> =
            self.edges.iter().filter(|e| e.kind == EdgeKind::Flow && e.from != e.to).map(|e| (e.from, e.to)).collect();
        let back = back_edges(n, &flow);
        let forward: Vec<(usize, usize)> = flow.iter().zip(&back).filter(|(_, b)| !**b).map(|(e, _)| *e).collect();
        let mut col = vec![0usize; n];
        for _ in 0..n {
            let mut changed = false;
            for &(from, to) in &forward {
                if col[to] < col[from] + 1 && col[from] < n {
                    col[to] = col[from] + 1;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        // Attached nodes follow their owner; redrive before watch, so an alarm on a DLQ follows the DLQ.
        for kind in [EdgeKind::Redrive, EdgeKind::Watch] {
            for e in self.edges.iter().filter(|e| e.kind == kind) {
                col[e.to] = col[e.from];
            }
        }
        col
    }
}

/// The edges that close a cycle (a stage writing back into the bucket that triggers it, under a
/// key its trigger does not match): found by a depth-first search from the nodes nothing flows into,
/// so the layout follows the data from its sources and such an edge points back.
fn back_edges(n: usize, edges: &[(usize, usize)]) -> Vec<bool> {
    let mut adj: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    let mut has_input = vec![false; n];
    for (i, &(from, to)) in edges.iter().enumerate() {
        adj[from].push((i, to));
        has_input[to] = true;
    }
    let mut back = vec![false; edges.len()];
    // 0: not seen, 1: on the current path, 2: done
    let mut state = vec![0u8; n];
    let starts = (0..n).filter(|v| !has_input[*v]).chain(0..n);
    for start in starts {
        if state[start] != 0 {
            continue;
        }
        state[start] = 1;
        let mut stack = vec![(start, 0usize)];
        while let Some((v, next)) = stack.last_mut() {
            let v = *v;
            if let Some(&(i, w)) = adj[v].get(*next) {
                *next += 1;
                match state[w] {
                    0 => {
                        state[w] = 1;
                        stack.push((w, 0));
                    }
                    1 => back[i] = true,
                    _ => {}
                }
            } else {
                state[v] = 2;
                stack.pop();
            }
        }
    }
    back
}

fn empty_as_none(text: &str) -> &str {
    if text.is_empty() { "(none)" } else { text }
}

/// What a scheduled stage's DLQ keeps.
fn failed_runs_detail() -> String {
    format!("failed runs, retention {}", crate::spec::duration::Duration(crate::cfn::desired::FAILED_RUNS_RETENTION))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Source;

    fn flagship() -> Graph {
        let loaded = crate::spec::load(
            Source::read(std::path::Path::new("specs/hoopstat-haus.yaml")).expect("the flagship spec"),
        );
        Graph::of(&loaded.pipeline.expect("parses"))
    }

    #[test]
    fn the_flagship_graph_has_every_resource_by_name() {
        let g = flagship();
        let names: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        for name in [
            "hoopstat-haus-bronze",
            "hoopstat-haus-silver",
            "hoopstat-haus-silver-processing-queue",
            "hoopstat-haus-silver-processing-dlq",
            "hoopstat-haus-silver-processing",
            "hoopstat-haus-gold-analytics",
            "hoopstat-haus-gold-analytics-dlq-depth",
            "basketball_analytics.player_analytics",
            "bronze-ingestion",
            "bronze-ingestion.crontab",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        // The filter is on the edge, as written and as S3 sees it.
        let e = g
            .edges
            .iter()
            .find(|e| g.nodes[e.to].name == "hoopstat-haus-silver-processing-queue" && e.kind == EdgeKind::Flow)
            .expect("notification edge");
        assert_eq!(g.nodes[e.from].name, "hoopstat-haus-bronze");
        assert_eq!(
            e.label,
            ["raw/box_scores/date=*/data.json", "S3: prefix raw/box_scores/date%3D, suffix /data.json"]
        );
        // Silver's two writes to the silver bucket are one edge with two lines.
        let silver_writes: Vec<_> = g
            .edges
            .iter()
            .filter(|e| {
                g.nodes[e.from].name == "hoopstat-haus-silver-processing"
                    && g.nodes[e.to].name == "hoopstat-haus-silver"
            })
            .collect();
        assert_eq!(silver_writes.len(), 1);
        assert_eq!(silver_writes[0].label.len(), 2);
    }

    #[test]
    fn stages_go_left_to_right() {
        let g = flagship();
        let col = g.columns();
        let at = |name: &str| col[g.nodes.iter().position(|n| n.name == name).expect(name)];
        let order = [
            "bronze-ingestion.crontab",
            "bronze-ingestion",
            "hoopstat-haus-bronze",
            "hoopstat-haus-silver-processing-queue",
            "hoopstat-haus-silver-processing",
            "hoopstat-haus-silver",
            "hoopstat-haus-gold-analytics-queue",
            "hoopstat-haus-gold-analytics",
            "basketball_analytics.team_analytics",
        ];
        for w in order.windows(2) {
            assert_eq!(at(w[0]) + 1, at(w[1]), "{} -> {}", w[0], w[1]);
        }
        assert_eq!(at("hoopstat-haus-silver-processing-dlq"), at("hoopstat-haus-silver-processing-queue"));
        assert_eq!(at("hoopstat-haus-silver-processing-dlq-depth"), at("hoopstat-haus-silver-processing-queue"));
        assert_eq!(at("hoopstat-haus-gold-analytics-errors"), at("hoopstat-haus-gold-analytics"));
    }

    #[test]
    fn alarm_conditions_read_like_the_thresholds() {
        let loaded = crate::spec::load(
            Source::read(std::path::Path::new("specs/hoopstat-haus.yaml")).expect("the flagship spec"),
        );
        let p = loaded.pipeline.expect("parses");
        let s = p.stage("silver-processing").expect("stage");
        let f = s.function.as_ref().expect("function");
        let text: Vec<String> = s.alarms.iter().filter_map(|a| alarm_condition(f, a)).collect();
        assert_eq!(
            text,
            [
                "> 50 messages",
                "any message",
                "> 250s of the 300s timeout",
                "any error in 5 min",
                "any failed record in 1 min",
                "any throttle in 5 min"
            ]
        );
    }
}
