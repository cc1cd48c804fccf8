//! Synthetic specs of N stages, for benchmarks and scaling tests.

/// A valid spec with `stages` triggered stages in a chain (plus a scheduled first stage).
/// Stage `i` reads `data/s{i}/...` from its bucket and writes `data/s{i+1}/...`; buckets are
/// shared by groups of ten stages.
pub fn spec(stages: usize) -> String {
    let mut out = String::new();
    out.push_str("project: synth\nregion: us-east-1\nalerts:\n  email: parameter\nbuckets:\n");
    let buckets = stages / 10 + 1;
    for b in 0..buckets {
        out.push_str(&format!("  b{b}: {{}}\n"));
    }
    out.push_str("defaults:\n  function:\n    timeout: 60s\n  queue:\n    batching_window: 5s\nstages:\n");
    out.push_str("  s0:\n    schedule:\n      expression: cron(0 5 * * ? *)\n      timezone: UTC\n");
    out.push_str("    writes:\n      - bucket: b0\n        key: data/s1/date={date}/data.json\n");
    for i in 1..=stages {
        let (inb, outb) = (i / 10, (i + 1) / 10);
        out.push_str(&format!(
            "  s{i}:\n    trigger:\n      bucket: b{inb}\n      pattern: data/s{i}/date=*/data.json\n"
        ));
        if i < stages {
            out.push_str(&format!(
                "    writes:\n      - bucket: b{outb}\n        key: data/s{n}/date={{date}}/data.json\n",
                n = i + 1
            ));
        }
    }
    out
}
