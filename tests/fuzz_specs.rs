//! Mutation fuzzing of the spec parser, the checker and every offline output: a fixed budget of specs
//! derived from the committed ones (extreme numbers and durations, deleted, repeated and re-indented
//! lines, stray characters, truncations, swapped values) must never panic. A failure prints the seed
//! and the mutated spec, so it reproduces with `PIPEWRIGHT_FUZZ_SEED=<seed>`.

use pipewright::report::Severity;
use pipewright::spec::Source;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

/// Mutated specs per run; `PIPEWRIGHT_FUZZ_CASES` raises it for a longer search.
const CASES: u64 = 1500;

/// Numbers a user can write that sit at the edges of the integer types the model uses.
const EXTREME_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "1e308",
    "0.5",
    "-0",
    ".inf",
    ".nan",
];

/// Durations at the edges: each unit times a number whose seconds or milliseconds overflow.
const EXTREME_DURATIONS: &[&str] = &[
    "0s",
    "18446744073709551615s",
    "18446744073709551615",
    "3074457345618258602s",
    "18446744073709551s",
    "213503982334601d",
    "307445734561825860m",
    "5124095576030431h",
    "4294967296s",
    "99999999999999999999d",
];

/// Values that replace a scalar: other types, empties, YAML specials.
const ODD_VALUES: &[&str] = &[
    "~",
    "\"\"",
    "[]",
    "{}",
    "true",
    "\"no\"",
    "off",
    "'{date}'",
    "'{}'",
    "'{{'",
    "\"*\"",
    "'**/x'",
    "a/b/../c",
    "é",
    "&anchor x",
    "*alias",
    "!!binary aGVsbG8=",
    "|\n  block",
];

const STRAY: &[&str] =
    &[":", "-", "{", "}", "[", "]", "*", "&", "!", "\t", "#", "'", "\"", "%", "@", "`", "\u{feff}", "é", " "];

fn corpus() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for dir in ["specs", "tests/fixtures/checks", "tests/fixtures"] {
        for entry in std::fs::read_dir(dir).expect("spec directory") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).expect("readable spec");
                files.push((path, text));
            }
        }
    }
    files.sort();
    assert!(files.len() >= 10, "the fuzz corpus is the committed specs and fixtures");
    files
}

/// The positions of the values in `text`: the part after `key: ` or `- ` on each line.
fn value_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let start = body
            .find(": ")
            .map(|i| i + 2)
            .or_else(|| body.trim_start().starts_with("- ").then(|| body.find("- ").unwrap_or(0) + 2));
        if let Some(s) = start {
            let value = body[s..].trim_end();
            if !value.is_empty() && !value.starts_with('#') {
                spans.push((offset + s, offset + s + value.len()));
            }
        }
        offset += line.len();
    }
    spans
}

fn pick<'a>(rng: &mut fastrand::Rng, items: &[&'a str]) -> &'a str {
    items[rng.usize(..items.len())]
}

fn boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One to three mutations of `text`.
fn mutate(rng: &mut fastrand::Rng, text: &str) -> String {
    let mut out = text.to_string();
    for _ in 0..rng.usize(1..=3) {
        out = mutate_once(rng, &out);
    }
    out
}

fn mutate_once(rng: &mut fastrand::Rng, text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let spans = value_spans(text);
    match rng.u8(0..9) {
        // A value replaced by an extreme number, an extreme duration or an odd value.
        0..=2 if !spans.is_empty() => {
            let (s, e) = spans[rng.usize(..spans.len())];
            let with = match rng.u8(0..3) {
                0 => pick(rng, EXTREME_NUMBERS).to_string(),
                1 => pick(rng, EXTREME_DURATIONS).to_string(),
                _ => pick(rng, ODD_VALUES).to_string(),
            };
            format!("{}{with}{}", &text[..s], &text[e..])
        }
        // A value replaced by another value of the same spec (a bucket where a stage is expected ...).
        3 if spans.len() > 1 => {
            let (s, e) = spans[rng.usize(..spans.len())];
            let (fs, fe) = spans[rng.usize(..spans.len())];
            format!("{}{}{}", &text[..s], &text[fs..fe], &text[e..])
        }
        // A line deleted, repeated, or moved.
        4 if !lines.is_empty() => {
            let i = rng.usize(..lines.len());
            let mut l = lines.clone();
            match rng.u8(0..3) {
                0 => {
                    l.remove(i);
                }
                1 => l.insert(i, lines[i]),
                _ => {
                    let j = rng.usize(..lines.len());
                    l.swap(i, j);
                }
            }
            l.concat()
        }
        // A line's indentation changed.
        5 if !lines.is_empty() => {
            let i = rng.usize(..lines.len());
            let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
            l[i] = if rng.bool() { format!("  {}", l[i]) } else { l[i].trim_start().to_string() };
            l.concat()
        }
        // A stray character.
        6 if !text.is_empty() => {
            let i = boundary(text, rng.usize(..text.len()));
            format!("{}{}{}", &text[..i], pick(rng, STRAY), &text[i..])
        }
        // Truncated.
        7 if !text.is_empty() => text[..boundary(text, rng.usize(..text.len()))].to_string(),
        // A key renamed to a neighbour's key (duplicates and unknown keys).
        _ => {
            let keyed: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].contains(": ")).collect();
            if keyed.len() < 2 {
                return text.to_string();
            }
            let a = keyed[rng.usize(..keyed.len())];
            let b = keyed[rng.usize(..keyed.len())];
            let key_b = lines[b].trim_start().split(": ").next().unwrap_or("");
            let indent = lines[a].len() - lines[a].trim_start().len();
            let rest = lines[a].split_once(": ").map_or("", |(_, v)| v);
            let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
            l[a] = format!("{}{key_b}: {rest}", &lines[a][..indent]);
            l.concat()
        }
    }
}

/// Everything the offline commands do with a spec: check, and for a spec without errors, generate
/// the templates, the parameters and the runbook, and draw the graph.
fn exercise(path: &str, text: &str) {
    let loaded = pipewright::check::diagnose(Source::text(path, text));
    let Some(p) = loaded.pipeline else { return };
    let _ = pipewright::report::render::render(
        pipewright::report::render::Format::Sarif,
        &pipewright::report::render::Subject { path, text },
        &loaded.diagnostics,
        false,
    );
    if loaded.diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return;
    }
    let _ = pipewright::cfn::files::spec_files(&p, "fuzz", path);
    let _ = pipewright::docs::files(&p, "fuzz", path);
    let g = pipewright::graph::Graph::of(&p);
    let _ = pipewright::graph::svg(&g, None);
    let _ = pipewright::graph::mermaid(&g, None);
    let _ = pipewright::graph::dot(&g, None);
}

/// Where the last caught panic happened.
static PLACE: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

#[test]
fn mutated_specs_never_panic() {
    let corpus = corpus();
    let cases: u64 = std::env::var("PIPEWRIGHT_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(CASES);
    let seeds: Vec<u64> = match std::env::var("PIPEWRIGHT_FUZZ_SEED").ok().and_then(|v| v.parse().ok()) {
        Some(seed) => vec![seed],
        None => (0..cases).collect(),
    };
    // The panics are caught and reported below with their seed and place; the default hook would
    // print each one as it happens.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        *PLACE.lock().unwrap_or_else(|e| e.into_inner()) = info.location().map(|l| l.to_string()).unwrap_or_default();
    }));
    let mut failures = Vec::new();
    for seed in seeds {
        let mut rng = fastrand::Rng::with_seed(seed);
        let (path, text) = &corpus[rng.usize(..corpus.len())];
        let mutated = mutate(&mut rng, text);
        let shown = path.display().to_string();
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| exercise(&shown, &mutated))) {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let place = PLACE.lock().unwrap_or_else(|e| e.into_inner()).clone();
            failures.push(format!("seed {seed} (from {shown}): {what} at {place}\n{mutated}"));
        }
    }
    std::panic::set_hook(hook);
    assert!(failures.is_empty(), "{} of the mutated specs panicked:\n\n{}", failures.len(), failures.join("\n\n"));
}
