//! Validation against the official SARIF 2.1.0 JSON schema (OASIS, errata 01, JSON Schema draft 4),
//! vendored as `tests/fixtures/sarif-schema-2.1.0.json` from oasis-tcs/sarif-spec
//! (`sarif-2.1/schema/sarif-schema-2.1.0.json`, the schema at
//! https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json).

use serde_json::Value;

/// The schema's violations in `doc` (empty: valid), each with its JSON pointer.
pub fn sarif_violations(doc: &Value) -> Vec<String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sarif-schema-2.1.0.json"))
        .expect("the vendored SARIF schema");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    let validator = jsonschema::draft4::new(&schema).expect("the SARIF schema compiles");
    validator.iter_errors(doc).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

/// Parses `text` as JSON and asserts it is a valid SARIF 2.1.0 log with at least `min_results` results.
pub fn assert_valid_sarif(text: &str, min_results: usize) -> Value {
    let doc: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("SARIF is not JSON: {e}\n{text}"));
    let violations = sarif_violations(&doc);
    assert!(violations.is_empty(), "SARIF 2.1.0 schema violations:\n{}\n{text}", violations.join("\n"));
    assert_eq!(doc["version"], "2.1.0");
    let results = doc["runs"][0]["results"].as_array().map_or(0, Vec::len);
    assert!(results >= min_results, "expected at least {min_results} results, found {results}");
    doc
}
