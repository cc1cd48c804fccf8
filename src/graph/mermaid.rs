//! Mermaid flowchart (GitHub renders it in Markdown).

use super::{EdgeKind, Graph, Kind, health_colors};
use crate::report::status::{Health, StatusFile};
use std::fmt::Write;

/// Text inside a quoted Mermaid label: entity codes for what Mermaid would parse, `<br/>` between lines.
fn label<S: AsRef<str>>(lines: &[S]) -> String {
    lines
        .iter()
        .map(|l| {
            l.as_ref()
                .chars()
                .map(|c| match c {
                    '"' => "#quot;".to_string(),
                    '#' => "#35;".to_string(),
                    '<' => "#60;".to_string(),
                    '>' => "#62;".to_string(),
                    c => c.to_string(),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("<br/>")
}

fn shape(kind: Kind, text: &str) -> String {
    match kind {
        Kind::Schedule => format!(">\"{text}\"]"),
        Kind::LocalStage => format!("([\"{text}\"])"),
        Kind::Bucket | Kind::Table => format!("[(\"{text}\")]"),
        Kind::Queue | Kind::Dlq => format!("[[\"{text}\"]]"),
        Kind::Function => format!("(\"{text}\")"),
        Kind::Alarm => format!("{{{{\"{text}\"}}}}"),
    }
}

const KINDS: [Kind; 8] =
    [Kind::Schedule, Kind::LocalStage, Kind::Bucket, Kind::Queue, Kind::Dlq, Kind::Function, Kind::Table, Kind::Alarm];

/// The graph as a Mermaid `flowchart LR`; with a status document, nodes are coloured by health.
pub fn mermaid(g: &Graph, status: Option<&StatusFile>) -> String {
    let mut out = String::from("flowchart LR\n");
    let clustered = g.clustered();
    let node_line = |out: &mut String, indent: &str, i: usize| {
        let n = &g.nodes[i];
        let _ = writeln!(out, "{indent}{}{}", n.id, shape(n.kind, &label(&n.lines())));
    };
    for i in (0..g.nodes.len()).filter(|&i| !clustered[i]) {
        node_line(&mut out, "  ", i);
    }
    for c in &g.clusters {
        let _ = writeln!(out, "  subgraph {}[\"{}\"]", c.id, label(&[&c.label]));
        for &i in &c.nodes {
            node_line(&mut out, "    ", i);
        }
        out.push_str("  end\n");
    }
    for e in &g.edges {
        let (from, to) = (&g.nodes[e.from].id, &g.nodes[e.to].id);
        let arrow = match e.kind {
            EdgeKind::Flow => "-->",
            EdgeKind::Redrive => "-.->",
            EdgeKind::Watch => "-.-",
        };
        if e.label.is_empty() {
            let _ = writeln!(out, "  {from} {arrow} {to}");
        } else {
            let _ = writeln!(out, "  {from} {arrow}|\"{}\"| {to}", label(&e.label));
        }
    }
    for kind in KINDS {
        let members: Vec<&str> = g.nodes.iter().filter(|n| n.kind == kind).map(|n| n.id.as_str()).collect();
        if members.is_empty() {
            continue;
        }
        let (fill, stroke) = kind.colors();
        let _ = writeln!(out, "  classDef {} fill:{fill},stroke:{stroke},color:#111", kind.class());
        let _ = writeln!(out, "  class {} {}", members.join(","), kind.class());
    }
    if let Some(status) = status {
        for h in Health::ALL {
            let members: Vec<&str> =
                g.nodes.iter().filter(|n| status.get(&n.name) == Some(h)).map(|n| n.id.as_str()).collect();
            if members.is_empty() {
                continue;
            }
            let (fill, stroke) = health_colors(h);
            let _ = writeln!(out, "  classDef {} fill:{fill},stroke:{stroke},stroke-width:3px,color:#111", h.as_str());
            let _ = writeln!(out, "  class {} {}", members.join(","), h.as_str());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_escape_what_mermaid_parses() {
        assert_eq!(label(&["a \"b\" #1", "> 50 <x>"]), "a #quot;b#quot; #35;1<br/>#62; 50 #60;x#62;");
        assert_eq!(
            label(&["raw/date=*/data.json", "prefix raw/date%3D"]),
            "raw/date=*/data.json<br/>prefix raw/date%3D"
        );
    }
}
