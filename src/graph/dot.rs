//! Graphviz dot (`dot -Tsvg`, `dot -Tpng`).

use super::{EdgeKind, Graph, Kind, health_colors};
use crate::report::status::StatusFile;
use std::fmt::Write;

/// A dot string literal.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn shape(kind: Kind) -> &'static str {
    match kind {
        Kind::Schedule => "cds",
        Kind::Bucket | Kind::Table => "cylinder",
        Kind::Alarm => "hexagon",
        Kind::LocalStage | Kind::Queue | Kind::Dlq | Kind::Function => "box",
    }
}

/// The graph in the dot language; with a status document, nodes are coloured by health.
pub fn dot(g: &Graph, status: Option<&StatusFile>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph pipeline {{");
    let _ = writeln!(out, "  label={};", quote(&g.title));
    out.push_str("  labelloc=t;\n  rankdir=LR;\n  nodesep=0.3;\n  ranksep=0.9;\n");
    out.push_str("  node [fontname=\"Helvetica\", fontsize=10, style=\"filled\"];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
    let node_line = |out: &mut String, indent: &str, i: usize| {
        let n = &g.nodes[i];
        let (mut fill, mut stroke) = n.kind.colors();
        let mut width = 1;
        if let Some(h) = g.health(n, status) {
            (fill, stroke) = health_colors(h);
            width = 3;
        }
        let style = match n.kind {
            Kind::Function | Kind::LocalStage => "filled,rounded",
            _ => "filled",
        };
        let _ = writeln!(
            out,
            "{indent}{} [label={}, shape={}, style={}, fillcolor={}, color={}, penwidth={width}];",
            n.id,
            quote(&n.lines().join("\n")),
            shape(n.kind),
            quote(style),
            quote(fill),
            quote(stroke),
        );
    };
    let clustered = g.clustered();
    for i in (0..g.nodes.len()).filter(|&i| !clustered[i]) {
        node_line(&mut out, "  ", i);
    }
    for c in &g.clusters {
        let _ = writeln!(out, "  subgraph cluster_{} {{", c.id);
        let _ = writeln!(out, "    label={};", quote(&c.label));
        out.push_str("    style=\"rounded,dashed\";\n    color=\"#999999\";\n");
        for &i in &c.nodes {
            node_line(&mut out, "    ", i);
        }
        out.push_str("  }\n");
    }
    for e in &g.edges {
        let mut attrs = Vec::new();
        if !e.label.is_empty() {
            attrs.push(format!("label={}", quote(&e.label.join("\n"))));
        }
        match e.kind {
            EdgeKind::Flow => {}
            EdgeKind::Redrive => attrs.push("style=dashed, color=\"#a83b3b\"".into()),
            EdgeKind::Watch => attrs.push("style=dotted, arrowhead=none, color=\"#777777\"".into()),
        }
        let attrs = if attrs.is_empty() { String::new() } else { format!(" [{}]", attrs.join(", ")) };
        let _ = writeln!(out, "  {} -> {}{attrs};", g.nodes[e.from].id, g.nodes[e.to].id);
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted() {
        assert_eq!(quote("a \"b\"\\c\nd"), r#""a \"b\"\\c\nd""#);
    }
}
