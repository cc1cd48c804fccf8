//! The shape of the code a newcomer reads: the top-level modules of `src/` import each other without a
//! cycle (the bottom layer, `report`, imports none), and no function outside tests is over 100 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            if !["target", "tests", "examples", "benches", "templates"].iter().any(|d| path.ends_with(d)) {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file's code before its `#[cfg(test)]` module, without comment lines.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("utf8 source");
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The top-level module of a file under `src/` (`src/spec/resolve.rs` -> `spec`, `src/verify.rs` -> `verify`).
fn module(path: &Path) -> String {
    let rel = path.strip_prefix("src").expect("under src");
    let first = rel.components().next().expect("a component").as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The top-level modules a text names as `crate::<module>` (the root's re-export `crate::Exit` is `exit`'s).
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if name == "Exit" {
            out.insert("exit".to_string());
        } else if name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
            out.insert(name);
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let m = module(&f);
        if m == "main" || m == "lib" {
            continue;
        }
        let deps = imports(&code(&f));
        graph.entry(m.clone()).or_default().extend(deps.into_iter().filter(|d| *d != m));
    }
    graph
}

/// A path of imports from `from` back to `to`, if there is one.
fn path(
    graph: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
    seen: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    for d in graph.get(from).into_iter().flatten() {
        if d == to {
            return Some(vec![d.clone()]);
        }
        if seen.insert(d.clone())
            && let Some(mut rest) = path(graph, d, to, seen)
        {
            rest.insert(0, d.clone());
            return Some(rest);
        }
    }
    None
}

#[test]
fn the_top_level_modules_import_each_other_without_a_cycle() {
    let graph = graph();
    assert!(graph.len() > 10, "{graph:?}");
    assert_eq!(graph["report"], BTreeSet::new(), "report is the bottom layer");
    assert!(graph["spec"].iter().all(|d| d == "report"), "spec imports only report: {:?}", graph["spec"]);
    for (m, deps) in &graph {
        for d in deps.iter().filter(|d| graph.contains_key(*d)) {
            if let Some(back) = path(&graph, d, m, &mut BTreeSet::new()) {
                panic!("import cycle: {m} -> {d} -> {}", back.join(" -> "));
            }
        }
    }
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    graph.entry("c".into()).or_default().insert("a".into());
    assert_eq!(path(&graph, "b", "a", &mut BTreeSet::new()), Some(vec!["c".to_string(), "a".to_string()]));
    assert_eq!(imports("use crate::spec::Span; crate::Exit::Clean; crate::report::codes"), {
        ["exit", "report", "spec"].into_iter().map(String::from).collect::<BTreeSet<_>>()
    });
}

/// Functions over `max` lines in the code of `dir` (outside tests): (lines, file, name).
fn long_functions(dir: &str, max: usize) -> Vec<(usize, String, String)> {
    let mut files = Vec::new();
    rust_files(Path::new(dir), &mut files);
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("utf8 source");
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let words: Vec<&str> = trimmed.split_whitespace().take_while(|w| !w.contains('(')).collect();
            let Some(pos) = words.iter().position(|w| *w == "fn") else { continue };
            if !words[..pos].iter().all(|w| ["pub", "pub(crate)", "async", "const", "unsafe"].contains(w))
                || line.trim_end().ends_with(';')
            {
                continue;
            }
            let indent = line.len() - trimmed.len();
            let end = lines[i + 1..]
                .iter()
                .position(|l| l.len() - l.trim_start().len() == indent && l.trim_start().starts_with('}'))
                .map_or(lines.len(), |j| i + 1 + j);
            let n = end - i + 1;
            if n > max {
                let name = trimmed.split("fn ").nth(1).unwrap_or_default();
                let name: String = name.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                out.push((n, f.display().to_string(), name));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn no_function_outside_tests_is_over_100_lines() {
    for dir in ["src", "crates", "lambdas"] {
        assert_eq!(long_functions(dir, 100), Vec::new(), "{dir}");
    }
}

#[test]
fn the_length_check_finds_a_long_function() {
    let found = long_functions("src", 5);
    assert!(found.iter().any(|(_, file, name)| file.ends_with("resolve.rs") && name == "resolve"), "{found:?}");
}
