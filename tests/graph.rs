//! `pipewright graph`: Mermaid and dot snapshots, and an SVG that really renders (parsed and
//! rasterized with resvg), coloured by a status document.

mod support;

use pipewright::Exit;
use resvg::{tiny_skia, usvg};
use support::cli;

fn render(svg: &str) -> tiny_skia::Pixmap {
    let mut opt = usvg::Options::default();
    opt.fontdb_mut().load_system_fonts();
    let tree = usvg::Tree::from_str(svg, &opt).expect("the SVG parses");
    let size = tree.size().to_int_size();
    assert!(size.width() > 600 && size.height() > 200, "{size:?}");
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).expect("pixmap");
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap
}

/// Pixels of exactly this colour (`#rrggbb`).
fn count(pixmap: &tiny_skia::Pixmap, hex: &str) -> usize {
    let c = u32::from_str_radix(hex.trim_start_matches('#'), 16).expect("hex");
    let (r, g, b) = ((c >> 16) as u8, (c >> 8) as u8, c as u8);
    pixmap.pixels().iter().filter(|p| p.red() == r && p.green() == g && p.blue() == b && p.alpha() == 255).count()
}

#[test]
fn mermaid_and_dot_snapshots() {
    for spec in ["hoopstat-haus", "minimal"] {
        let path = format!("specs/{spec}.yaml");
        let (exit, mermaid, err) = cli(&["graph", &path]);
        assert_eq!(exit, Exit::Clean, "{err}");
        insta::assert_snapshot!(format!("graph_{spec}.mermaid"), mermaid);
        let (exit, dot, err) = cli(&["graph", &path, "--format", "dot"]);
        assert_eq!(exit, Exit::Clean, "{err}");
        insta::assert_snapshot!(format!("graph_{spec}.dot"), dot);
    }
}

#[test]
fn svg_renders_with_every_node() {
    let (exit, svg, err) = cli(&["graph", "specs/hoopstat-haus.yaml", "--format", "svg"]);
    assert_eq!(exit, Exit::Clean, "{err}");
    let pixmap = render(&svg);
    let white = count(&pixmap, "#ffffff");
    let total = (pixmap.width() * pixmap.height()) as usize;
    assert!(white < total * 95 / 100, "mostly blank: {white} of {total} pixels white");
    // Each kind's fill is on the canvas: buckets, queues, DLQs, functions, alarms, the local stage.
    for fill in ["#e8f1fb", "#fdf3e1", "#fdeaea", "#e9f7ec", "#f4f4f4", "#f3e8fd"] {
        assert!(count(&pixmap, fill) > 1000, "no {fill} node");
    }
    // The text is drawn: near-black glyph pixels (the names are #111111 on light fills).
    let dark = pixmap.pixels().iter().filter(|p| p.alpha() == 255 && p.red() < 80 && p.green() < 80).count();
    assert!(dark > 2000, "no text rendered ({dark} dark pixels)");
    for name in
        ["hoopstat-haus-silver-processing-queue", "basketball_analytics.team_analytics", "raw/box_scores/date%3D"]
    {
        assert!(svg.contains(name), "{name}");
    }
}

#[test]
fn status_colours_the_nodes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let status = dir.path().join("status.json");
    std::fs::write(
        &status,
        r#"{"resources": {
            "hoopstat-haus-silver-processing-queue": "ok",
            "hoopstat-haus-silver-processing-dlq": "broken",
            "hoopstat-haus-gold-analytics": "drift",
            "hoopstat-haus-bronze": "unknown",
            "hoopstat-haus-old-queue": "broken"
        }}"#,
    )
    .expect("write");
    let status = status.to_str().expect("utf8");
    let (exit, svg, err) = cli(&["graph", "specs/hoopstat-haus.yaml", "--format", "svg", "--status", status]);
    assert_eq!(exit, Exit::Clean, "{err}");
    assert!(err.contains("warning: status names `hoopstat-haus-old-queue`"), "{err}");
    assert!(svg.contains(r#"data-name="hoopstat-haus-silver-processing-dlq" data-health="broken""#));
    let pixmap = render(&svg);
    // ok, drift, broken, unknown fills (pipewright::graph::health_colors), each on its node and in the legend.
    for fill in ["#c8ecd0", "#ffe8a3", "#f7b9b9", "#dddddd"] {
        assert!(count(&pixmap, fill) > 1000, "no {fill} node");
    }
    let (_, plain, _) = cli(&["graph", "specs/hoopstat-haus.yaml", "--format", "svg"]);
    assert_eq!(count(&render(&plain), "#f7b9b9"), 0, "no status, no red");

    let (exit, mermaid, _) = cli(&["graph", "specs/hoopstat-haus.yaml", "--status", status]);
    assert_eq!(exit, Exit::Clean);
    assert!(mermaid.contains("  class dlq_silver_processing broken\n"), "{mermaid}");
    let (exit, dot, _) = cli(&["graph", "specs/hoopstat-haus.yaml", "--format", "dot", "--status", status]);
    assert_eq!(exit, Exit::Clean);
    assert!(dot.contains(r##"fillcolor="#f7b9b9""##), "{dot}");
}

#[test]
fn a_bad_status_file_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let status = dir.path().join("status.json");
    std::fs::write(&status, r#"{"resources": {"hoopstat-haus-bronze": "green"}}"#).expect("write");
    let (exit, out, err) = cli(&["graph", "specs/hoopstat-haus.yaml", "--status", status.to_str().expect("utf8")]);
    assert_eq!(exit, Exit::Usage);
    assert!(out.is_empty());
    assert!(err.contains("cannot read status") && err.contains("ok|drift|broken|unknown"), "{err}");
    let (exit, _, err) = cli(&["graph", "specs/hoopstat-haus.yaml", "--status", "does/not/exist.json"]);
    assert_eq!(exit, Exit::Usage, "{err}");
}

#[test]
fn recursive_specs_still_draw() {
    // The fixtures of PW202 (recursion) are errors for `graph`; the library still draws them, and terminates.
    for fixture in ["pw202-cycle", "pw202-self-recursion"] {
        let path = format!("tests/fixtures/checks/{fixture}.yaml");
        let (exit, _, err) = cli(&["--color", "never", "graph", &path]);
        assert_eq!(exit, Exit::Findings, "{err}");
        assert!(err.contains("PW202") && err.contains("not drawing"), "{err}");
        let source = pipewright::spec::Source::read(std::path::Path::new(&path)).expect("fixture");
        let g = pipewright::graph::Graph::of(&pipewright::spec::load(source).pipeline.expect("parses"));
        render(&pipewright::graph::svg(&g, None));
        assert!(pipewright::graph::mermaid(&g, None).starts_with("flowchart LR\n"));
    }
}
