//! SVG with a simple layered layout: stages left to right (the columns of [`Graph::columns`]),
//! dead-letter queues and alarms below what they belong to. Text is monospace, so widths are known
//! without measuring fonts.

use super::{EdgeKind, Graph, Kind, health_colors};
use crate::report::status::{Health, StatusFile};
use std::fmt::Write;

const NODE_H: f64 = 56.0;
const ROW_GAP: f64 = 26.0;
const MIN_COL_GAP: f64 = 90.0;
const MARGIN: f64 = 24.0;
const TOP: f64 = 56.0;
/// Advance of one monospace character per pixel of font size.
const CHAR_W: f64 = 0.61;
const LABEL_FONT: f64 = 10.0;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn text_width(text: &str, font: f64) -> f64 {
    text.chars().count() as f64 * font * CHAR_W
}

/// Where each node goes.
struct Layout {
    x: Vec<f64>,
    y: Vec<f64>,
    w: Vec<f64>,
    /// Row of each node in its column.
    row: Vec<usize>,
    width: f64,
    height: f64,
}

fn layout(g: &Graph) -> Layout {
    let n = g.nodes.len();
    let col = g.columns();
    let ncols = col.iter().max().map_or(0, |m| m + 1);
    // The node an attached node (DLQ, alarm) hangs from, and how deep.
    let mut owner: Vec<(usize, usize)> = (0..n).map(|i| (i, 0)).collect();
    for kind in [EdgeKind::Redrive, EdgeKind::Watch] {
        for e in g.edges.iter().filter(|e| e.kind == kind) {
            let (root, depth) = owner[e.from];
            owner[e.to] = (root, depth + 1);
        }
    }
    let mut row = vec![0usize; n];
    let mut rows_per_col = vec![0usize; ncols];
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (col[i], owner[i].0, owner[i].1, i));
    for i in order {
        row[i] = rows_per_col[col[i]];
        rows_per_col[col[i]] += 1;
    }
    let w: Vec<f64> = g
        .nodes
        .iter()
        .map(|node| {
            let widest = [
                text_width(node.kind.caption(), 10.0),
                text_width(&node.name, 12.0),
                node.detail.as_deref().map_or(0.0, |d| text_width(d, 10.0)),
            ]
            .into_iter()
            .fold(0.0, f64::max);
            widest + 24.0
        })
        .collect();
    let mut col_w = vec![0.0f64; ncols];
    for i in 0..n {
        col_w[col[i]] = col_w[col[i]].max(w[i]);
    }
    // The gap after a column fits the labels of the edges that leave it to the right.
    let mut gap = vec![MIN_COL_GAP; ncols];
    for e in g.edges.iter().filter(|e| e.kind == EdgeKind::Flow && col[e.to] > col[e.from]) {
        let widest = e.label.iter().map(|l| text_width(l, LABEL_FONT)).fold(0.0, f64::max);
        let c = col[e.from];
        gap[c] = gap[c].max(widest + 36.0);
    }
    let mut col_x = vec![MARGIN; ncols];
    for c in 1..ncols {
        col_x[c] = col_x[c - 1] + col_w[c - 1] + gap[c - 1];
    }
    let x: Vec<f64> = (0..n).map(|i| col_x[col[i]] + (col_w[col[i]] - w[i]) / 2.0).collect();
    let y: Vec<f64> = (0..n).map(|i| TOP + row[i] as f64 * (NODE_H + ROW_GAP)).collect();
    let width = col_x.last().map_or(2.0 * MARGIN, |x| x + col_w.last().copied().unwrap_or(0.0) + MARGIN);
    let rows = rows_per_col.iter().copied().max().unwrap_or(0) as f64;
    let height = TOP + rows * (NODE_H + ROW_GAP) + MARGIN;
    Layout { x, y, w, row, width, height }
}

/// The graph as a standalone SVG document; with a status document, nodes are coloured by health and
/// a legend is added.
pub fn svg(g: &Graph, status: Option<&StatusFile>) -> String {
    let l = layout(g);
    let legend_h = if status.is_some() { 40.0 } else { 0.0 };
    let (width, height) = (l.width.ceil().max(320.0), (l.height + legend_h).ceil());
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">"#
    );
    let _ = writeln!(out, "<title>{}</title>", escape(&g.title));
    out.push_str(concat!(
        "<defs>\n",
        r##"<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555555"/></marker>"##,
        "\n",
        r##"<marker id="arrow-redrive" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#a83b3b"/></marker>"##,
        "\n</defs>\n"
    ));
    let _ = writeln!(out, r##"<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>"##);
    let _ = writeln!(
        out,
        r##"<text x="{MARGIN}" y="30" font-size="15" font-weight="bold" fill="#222222">{}</text>"##,
        escape(&g.title)
    );

    // Edges first, nodes over them, edge labels over everything.
    let mut labels = String::new();
    edges(g, &l, &mut out, &mut labels);
    nodes(g, &l, status, &mut out);
    out.push_str(&labels);
    if status.is_some() {
        legend(&l, &mut out);
    }
    out.push_str("</svg>\n");
    out
}

/// The edges, into `out`, and their labels, into `labels` (drawn over the nodes).
fn edges(g: &Graph, l: &Layout, out: &mut String, labels: &mut String) {
    for e in &g.edges {
        let (a, b) = (e.from, e.to);
        match e.kind {
            EdgeKind::Flow if l.x[b] > l.x[a] + l.w[a] => {
                let (x1, y1) = (l.x[a] + l.w[a], l.y[a] + NODE_H / 2.0);
                let (x2, y2) = (l.x[b], l.y[b] + NODE_H / 2.0);
                let mx = (x1 + x2) / 2.0;
                let _ = writeln!(
                    out,
                    r##"<path d="M{x1:.1},{y1:.1} C{mx:.1},{y1:.1} {mx:.1},{y2:.1} {x2:.1},{y2:.1}" fill="none" stroke="#555555" stroke-width="1.4" marker-end="url(#arrow)"/>"##
                );
                let top = (y1 + y2) / 2.0 - 5.0 - (e.label.len().saturating_sub(1)) as f64 * 12.0;
                for (k, line) in e.label.iter().enumerate() {
                    let _ = writeln!(
                        labels,
                        r##"<text x="{mx:.1}" y="{:.1}" font-size="{LABEL_FONT}" text-anchor="middle" fill="#333333" stroke="#ffffff" stroke-width="3" paint-order="stroke">{}</text>"##,
                        top + k as f64 * 12.0,
                        escape(line)
                    );
                }
            }
            EdgeKind::Flow => {
                // Back to the left or within a column (a recursive spec): loop under both nodes.
                let (x1, y1) = (l.x[a] + l.w[a] / 2.0, l.y[a] + NODE_H);
                let (x2, y2) = (l.x[b] + l.w[b] / 2.0, l.y[b] + NODE_H);
                let dip = y1.max(y2) + ROW_GAP;
                let _ = writeln!(
                    out,
                    r##"<path d="M{x1:.1},{y1:.1} C{x1:.1},{dip:.1} {x2:.1},{dip:.1} {x2:.1},{y2:.1}" fill="none" stroke="#555555" stroke-width="1.4" marker-end="url(#arrow)"/>"##
                );
            }
            EdgeKind::Redrive | EdgeKind::Watch => {
                // Down the left side of the column, each target on its own track.
                let x = l.x[a].min(l.x[b]);
                let off = 8.0 + 8.0 * l.row[b] as f64;
                let (y1, y2) = (l.y[a] + NODE_H / 2.0, l.y[b] + NODE_H / 2.0);
                let (color, extra) = if e.kind == EdgeKind::Redrive {
                    ("#a83b3b", r#" stroke-dasharray="6 3" marker-end="url(#arrow-redrive)""#)
                } else {
                    ("#888888", r#" stroke-dasharray="2 3""#)
                };
                let _ = writeln!(
                    out,
                    r##"<path d="M{:.1},{y1:.1} L{:.1},{y1:.1} L{:.1},{y2:.1} L{:.1},{y2:.1}" fill="none" stroke="{color}" stroke-width="1.2"{extra}/>"##,
                    l.x[a],
                    x - off,
                    x - off,
                    l.x[b]
                );
                for (k, line) in e.label.iter().enumerate() {
                    let _ = writeln!(
                        labels,
                        r##"<text x="{:.1}" y="{:.1}" font-size="{LABEL_FONT}" text-anchor="end" fill="{color}" stroke="#ffffff" stroke-width="3" paint-order="stroke">{}</text>"##,
                        x - off - 4.0,
                        (y1 + y2) / 2.0 + k as f64 * 12.0,
                        escape(line)
                    );
                }
            }
        }
    }
}

/// The nodes, coloured by health when a status document is given.
fn nodes(g: &Graph, l: &Layout, status: Option<&StatusFile>, out: &mut String) {
    for (i, n) in g.nodes.iter().enumerate() {
        let health = g.health(n, status);
        let ((fill, stroke), stroke_w) = match health {
            Some(h) => (health_colors(h), 3.0),
            None => (n.kind.colors(), 1.2),
        };
        let rx = match n.kind {
            Kind::Function | Kind::LocalStage => 12.0,
            Kind::Alarm => 2.0,
            _ => 5.0,
        };
        let state = health.map(|h| format!(" data-health=\"{}\"", h.as_str())).unwrap_or_default();
        let _ = writeln!(out, r#"<g class="node {}" data-name="{}"{state}>"#, n.kind.class(), escape(&n.name));
        let _ = writeln!(out, "<title>{}</title>", escape(&n.lines().join("\n")));
        let _ = writeln!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{NODE_H}" rx="{rx}" fill="{fill}" stroke="{stroke}" stroke-width="{stroke_w}"/>"#,
            l.x[i], l.y[i], l.w[i]
        );
        let cx = l.x[i] + l.w[i] / 2.0;
        let _ = writeln!(
            out,
            r##"<text x="{cx:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#555555">{}</text>"##,
            l.y[i] + 15.0,
            escape(n.kind.caption())
        );
        let _ = writeln!(
            out,
            r##"<text x="{cx:.1}" y="{:.1}" font-size="12" font-weight="bold" text-anchor="middle" fill="#111111">{}</text>"##,
            l.y[i] + 32.0,
            escape(&n.name)
        );
        if let Some(d) = &n.detail {
            let _ = writeln!(
                out,
                r##"<text x="{cx:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#333333">{}</text>"##,
                l.y[i] + 47.0,
                escape(d)
            );
        }
        out.push_str("</g>\n");
    }
}

/// The legend of the health colours, under the picture.
fn legend(l: &Layout, out: &mut String) {
    let y = l.height + 4.0;
    let mut x = MARGIN;
    for h in Health::ALL {
        let (fill, stroke) = health_colors(h);
        let _ = writeln!(
            out,
            r#"<rect x="{x:.1}" y="{y:.1}" width="18" height="14" fill="{fill}" stroke="{stroke}" stroke-width="2"/>"#
        );
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#222222">{}</text>"##,
            x + 24.0,
            y + 11.0,
            h.as_str()
        );
        x += 100.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape(r#"<a & 'b' "c">"#), "&lt;a &amp; &apos;b&apos; &quot;c&quot;&gt;");
    }
}
