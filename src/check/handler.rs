//! Does a stage's handler answer the way its event source mapping expects?
//!
//! Every SQS-triggered stage's mapping in the generated template sets `ReportBatchItemFailures`:
//! Lambda then reads `batchItemFailures` from the handler's answer and retries exactly those
//! messages. A handler that answers anything else (or nothing) makes every message of a batch
//! succeed or fail together, and one bad object sends its whole batch to the DLQ (PW701). The
//! other way round, a handler that answers an `SqsBatchResponse` for a stage without such a mapping
//! (a scheduled stage) never sees an SQS event, and its failures are not reported (PW702).
//!
//! How: the crate's `src/` is parsed with `syn` (the Rust parser of the proc-macro ecosystem), so
//! comments, strings, `use` lines and `#[cfg(test)]` code do not count. A crate **answers batch
//! responses** when a function or closure outside tests returns a type that names `SqsBatchResponse`
//! (`Result<SqsBatchResponse, E>`), or when it calls one of `pipewright_stage::event`'s batch
//! helpers (`process_batch`, `process_s3_batch`, `process_s3_batch_coalesced`), which return one. It
//! **consumes SQS events** when a type outside tests names `SqsEvent` (`LambdaEvent<SqsEvent>`).
//! The binary's closure (`service_fn(|e: LambdaEvent<SqsEvent>| stage.handle(..))`) and the library
//! function it calls live in the same crate's `src/`, so both are seen; a handler written in another
//! crate is not (the check then reports PW701: keep the handler's signature in the stage's crate).

use crate::report::Diagnostic;
use crate::report::codes;
use crate::spec::Pipeline;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// The batch helpers of `pipewright_stage::event`: each returns `Result<SqsBatchResponse, _>`.
pub const BATCH_HELPERS: [&str; 3] = ["process_batch", "process_s3_batch", "process_s3_batch_coalesced"];

/// Where one fact was found: `src/stage.rs:221`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Evidence {
    pub file: PathBuf,
    pub line: usize,
    pub what: String,
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.what)
    }
}

/// What a crate's source shows about its handler.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandlerFacts {
    /// Returns of `SqsBatchResponse` and calls of the batch helpers.
    pub batch_responses: BTreeSet<Evidence>,
    /// Types naming `SqsEvent`.
    pub sqs_events: BTreeSet<Evidence>,
}

impl HandlerFacts {
    pub fn answers_batch_responses(&self) -> bool {
        !self.batch_responses.is_empty()
    }

    pub fn consumes_sqs_events(&self) -> bool {
        !self.sqs_events.is_empty()
    }

    /// Adds what one source file shows (`file` names it in the evidence).
    pub fn scan(&mut self, file: &Path, source: &str) -> Result<(), syn::Error> {
        let parsed = syn::parse_file(source)?;
        let mut v = Visitor { file, facts: self };
        v.visit_file(&parsed);
        Ok(())
    }
}

struct Visitor<'a> {
    file: &'a Path,
    facts: &'a mut HandlerFacts,
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && a.parse_args::<syn::Meta>().is_ok_and(|m| m.path().is_ident("test"))
            || a.path().is_ident("test")
    })
}

/// Whether a type names `ident` anywhere (`Result<SqsBatchResponse, E>`, `LambdaEvent<SqsEvent>`).
fn type_names(ty: &syn::Type, ident: &str) -> bool {
    struct Find<'i> {
        ident: &'i str,
        found: bool,
    }
    impl<'ast> Visit<'ast> for Find<'_> {
        fn visit_path_segment(&mut self, s: &'ast syn::PathSegment) {
            self.found |= s.ident == self.ident;
            syn::visit::visit_path_segment(self, s);
        }
    }
    let mut f = Find { ident, found: false };
    f.visit_type(ty);
    f.found
}

impl Visitor<'_> {
    fn evidence(&self, span: proc_macro2::Span, what: String) -> Evidence {
        Evidence { file: self.file.to_path_buf(), line: span.start().line, what }
    }

    fn return_type(&mut self, output: &syn::ReturnType, name: String) {
        if let syn::ReturnType::Type(_, ty) = output
            && type_names(ty, "SqsBatchResponse")
        {
            let e = self.evidence(syn::spanned::Spanned::span(ty), format!("{name} returns SqsBatchResponse"));
            self.facts.batch_responses.insert(e);
        }
    }
}

impl<'ast> Visit<'ast> for Visitor<'_> {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_cfg_test(&m.attrs) {
            syn::visit::visit_item_mod(self, m);
        }
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if !is_cfg_test(&f.attrs) {
            syn::visit::visit_item_fn(self, f);
        }
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_cfg_test(&f.attrs) {
            syn::visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        if !is_cfg_test(&i.attrs) {
            syn::visit::visit_item_impl(self, i);
        }
    }

    // `use` lines name types without using them.
    fn visit_item_use(&mut self, _: &'ast syn::ItemUse) {}

    fn visit_signature(&mut self, s: &'ast syn::Signature) {
        self.return_type(&s.output, format!("fn {}", s.ident));
        syn::visit::visit_signature(self, s);
    }

    fn visit_expr_closure(&mut self, c: &'ast syn::ExprClosure) {
        self.return_type(&c.output, "a closure".to_string());
        syn::visit::visit_expr_closure(self, c);
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let syn::Expr::Path(p) = &*call.func
            && let Some(last) = p.path.segments.last()
            && BATCH_HELPERS.iter().any(|h| last.ident == h)
        {
            let e = self.evidence(last.ident.span(), format!("calls {}", last.ident));
            self.facts.batch_responses.insert(e);
        }
        syn::visit::visit_expr_call(self, call);
    }

    fn visit_type(&mut self, ty: &'ast syn::Type) {
        if let syn::Type::Path(p) = ty
            && p.path.segments.iter().any(|s| s.ident == "SqsEvent")
        {
            let e = self.evidence(syn::spanned::Spanned::span(ty), "takes SqsEvent".to_string());
            self.facts.sqs_events.insert(e);
        }
        syn::visit::visit_type(self, ty);
    }
}

/// A stage crate whose source could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum CrateError {
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot parse `{path}`: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: syn::Error,
    },
}

/// The names every piece of evidence contains: a file without any of them is not parsed (the
/// stages' transform and I/O modules, most of their source), which keeps `check` fast.
const EVIDENCE_NAMES: [&str; 4] = ["SqsBatchResponse", "SqsEvent", "process_batch", "process_s3_batch"];

/// Scans every `.rs` file under `<crate_dir>/src` (sorted, recursively) that names a type or helper
/// the evidence is made of.
pub fn scan_crate(crate_dir: &Path) -> Result<HandlerFacts, CrateError> {
    let mut files = Vec::new();
    collect_rs(&crate_dir.join("src"), &mut files)?;
    files.sort();
    let mut facts = HandlerFacts::default();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|source| CrateError::Io { path: path.clone(), source })?;
        if !EVIDENCE_NAMES.iter().any(|n| text.contains(n)) {
            continue;
        }
        let shown = path.strip_prefix(crate_dir).unwrap_or(&path);
        facts.scan(shown, &text).map_err(|source| CrateError::Parse { path: path.clone(), source })?;
    }
    Ok(facts)
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CrateError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CrateError::Io { path: dir.to_path_buf(), source })?;
    for entry in entries {
        let path = entry.map_err(|source| CrateError::Io { path: dir.to_path_buf(), source })?.path();
        if path.is_dir() {
            collect_rs(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The stages whose event source mapping sets `FunctionResponseTypes: [ReportBatchItemFailures]`, as the
/// desired state the template is rendered from says.
pub fn reporting_stages(p: &Pipeline) -> BTreeSet<String> {
    p.stages
        .iter()
        .filter(|s| crate::cfn::desired::mapping(s).is_some_and(|m| m.report_batch_item_failures))
        .map(|s| s.name.value.clone())
        .collect()
}

/// The diagnostic of one stage, if its crate does not answer as its mapping expects.
pub fn diagnose_stage(
    stage: &crate::spec::resolve::Stage,
    reports_batch_failures: bool,
    crate_dir: &Path,
    facts: &HandlerFacts,
) -> Option<Diagnostic> {
    let name = &stage.name.value;
    let shown = crate_dir.display();
    if reports_batch_failures && !facts.answers_batch_responses() {
        let consumes = match facts.sqs_events.first() {
            Some(e) => format!("it takes SQS events ({e}) but"),
            None => "it".to_string(),
        };
        return Some(
            Diagnostic::error(
                codes::BATCH_RESPONSE_MISSING,
                stage.name.span,
                format!(
                    "stage `{name}` is triggered through SQS with ReportBatchItemFailures, but {consumes} never returns \
                     an SqsBatchResponse in `{shown}/src`: a failed message fails its whole batch"
                ),
            )
            .with_hint(
                "return `Result<SqsBatchResponse, _>` from the handler, e.g. through \
                 `pipewright_stage::event::process_s3_batch`",
            ),
        );
    }
    if !reports_batch_failures && (facts.answers_batch_responses() || facts.consumes_sqs_events()) {
        let evidence = facts.batch_responses.first().or(facts.sqs_events.first());
        let what = evidence.map(|e| format!(" ({e})")).unwrap_or_default();
        let why = if stage.function.is_some() && stage.queue.is_none() {
            "the stage has no SQS trigger, so the handler never receives an SQS event"
        } else {
            "its event source mapping does not set ReportBatchItemFailures, so Lambda ignores `batchItemFailures` \
             and deletes failed messages as if they had succeeded"
        };
        return Some(
            Diagnostic::error(
                codes::BATCH_RESPONSE_UNUSED,
                stage.name.span,
                format!("the crate of stage `{name}` (`{shown}`) handles SQS batches{what}, but {why}"),
            )
            .with_hint("give the stage a `trigger`, or write a handler for the events that start it"),
        );
    }
    None
}

/// The handler check over every Lambda stage whose crate exists under `lambdas_dir`
/// (`<lambdas_dir>/<stage>/Cargo.toml`); stages without a crate are skipped (use `build` to require
/// them). A file naming the evidence (`EVIDENCE_NAMES`) that does not parse is reported as
/// PW701/PW702's precondition failing: an error.
pub fn check(p: &Pipeline, lambdas_dir: &Path) -> Vec<Diagnostic> {
    let with_crates: Vec<_> = p
        .stages
        .iter()
        .filter(|s| s.function.is_some())
        .map(|s| (s, lambdas_dir.join(&s.name.value)))
        .filter(|(_, dir)| dir.join("Cargo.toml").is_file())
        .collect();
    if with_crates.is_empty() {
        // No template to render for specs whose crates live elsewhere (or nowhere).
        return Vec::new();
    }
    let reporting = reporting_stages(p);
    with_crates.into_iter().filter_map(|(s, dir)| check_crate(s, reporting.contains(&s.name.value), &dir)).collect()
}

/// The handler check of one stage's crate.
pub fn check_crate(stage: &crate::spec::resolve::Stage, reports: bool, dir: &Path) -> Option<Diagnostic> {
    match scan_crate(dir) {
        Ok(facts) => diagnose_stage(stage, reports, dir, &facts),
        Err(e) => Some(
            Diagnostic::error(
                if reports { codes::BATCH_RESPONSE_MISSING } else { codes::BATCH_RESPONSE_UNUSED },
                stage.name.span,
                format!("cannot check the handler of stage `{}`: {e}", stage.name.value),
            )
            .with_hint("the crate must parse as Rust (`cargo check -p <stage>`)"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Source;

    fn facts(source: &str) -> HandlerFacts {
        let mut f = HandlerFacts::default();
        f.scan(Path::new("src/main.rs"), source).expect("parses");
        f
    }

    #[test]
    fn batch_responses_are_found_in_signatures_closures_and_helper_calls() {
        let f =
            facts("pub async fn handle(&self, event: &SqsEvent) -> Result<SqsBatchResponse, BatchError> { todo() }");
        assert!(f.answers_batch_responses() && f.consumes_sqs_events());
        let ev = f.batch_responses.first().expect("evidence");
        assert_eq!((ev.line, ev.what.as_str()), (1, "fn handle returns SqsBatchResponse"));

        let f = facts(
            "async fn h(e: LambdaEvent<SqsEvent>) -> Result<aws_lambda_events::sqs::SqsBatchResponse, Error> { x() }",
        );
        assert!(f.answers_batch_responses());
        let f = facts("fn main() { let f = |e: LambdaEvent<SqsEvent>| -> Result<SqsBatchResponse, E> { x() }; }");
        assert!(f.answers_batch_responses());
        let f = facts(
            "impl Stage { async fn handle(&self, e: &SqsEvent) -> Result<Out, E> {\n\
             pipewright_stage::event::process_s3_batch_coalesced(e, &self.input, &self.log, g, h).await } }",
        );
        assert!(f.answers_batch_responses());
        assert_eq!(f.batch_responses.first().expect("evidence").what, "calls process_s3_batch_coalesced");
    }

    #[test]
    fn comments_strings_imports_and_tests_do_not_count() {
        let f = facts(
            r#"
            // returns SqsBatchResponse
            use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
            /// Answers an SqsBatchResponse.
            async fn handle(e: LambdaEvent<Value>) -> Result<Value, Error> { Ok(json!("SqsBatchResponse")) }
            #[cfg(test)]
            mod tests {
                fn fake(e: &SqsEvent) -> SqsBatchResponse { process_batch(e) }
            }
            #[test]
            fn t() -> Result<SqsBatchResponse, E> { todo() }
            "#,
        );
        assert_eq!(f, HandlerFacts::default());
        // A handler that takes SQS events but answers `()`.
        let f = facts("async fn handle(e: LambdaEvent<SqsEvent>) -> Result<(), Error> { Ok(()) }");
        assert!(f.consumes_sqs_events() && !f.answers_batch_responses());
    }

    fn pipeline(yaml: &str) -> Pipeline {
        let loaded = crate::spec::load(Source::text("t.yaml", yaml));
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        loaded.pipeline.expect("pipeline")
    }

    const SPEC: &str = "project: p\nbuckets:\n  a: {}\n  b: {}\nstages:\n  daily:\n    schedule:\n      expression: rate(1 day)\n    writes:\n      - bucket: a\n        key: x/{date}.json\n  curate:\n    trigger:\n      bucket: a\n      pattern: x/*.json\n    writes:\n      - bucket: b\n        key: y/{date}.json\n";

    #[test]
    fn reporting_stages_come_from_the_template() {
        let p = pipeline(SPEC);
        assert_eq!(reporting_stages(&p), BTreeSet::from(["curate".to_string()]));
        let flagship = crate::spec::load(
            Source::read(std::path::Path::new("specs/hoopstat-haus.yaml")).expect("the flagship spec"),
        )
        .pipeline
        .expect("flagship");
        assert_eq!(
            reporting_stages(&flagship),
            BTreeSet::from(["gold-analytics".to_string(), "silver-processing".to_string()])
        );
    }

    #[test]
    fn mismatches_are_diagnosed_both_ways() {
        let p = pipeline(SPEC);
        let daily = &p.stages[0];
        let curate = &p.stages[1];
        let batch = facts("fn handle(e: &SqsEvent) -> Result<SqsBatchResponse, E> { todo() }");
        let plain = facts("fn handle(e: LambdaEvent<Value>) -> Result<Value, E> { todo() }");
        let dir = Path::new("lambdas/x");
        assert_eq!(diagnose_stage(curate, true, dir, &batch), None);
        assert_eq!(diagnose_stage(daily, false, dir, &plain), None);
        let d = diagnose_stage(curate, true, dir, &plain).expect("PW701");
        assert_eq!((d.code, d.span), (codes::BATCH_RESPONSE_MISSING, curate.name.span));
        assert!(d.message.contains("`curate`") && d.message.contains("lambdas/x/src"), "{}", d.message);
        let d = diagnose_stage(daily, false, dir, &batch).expect("PW702");
        assert_eq!(d.code, codes::BATCH_RESPONSE_UNUSED);
        assert!(
            d.message.contains("src/main.rs: fn handle returns SqsBatchResponse")
                && d.message.contains("no SQS trigger"),
            "{}",
            d.message
        );
    }

    #[test]
    fn the_real_stage_crates_answer_as_their_mappings_expect() {
        let flagship = crate::spec::load(
            Source::read(std::path::Path::new("specs/hoopstat-haus.yaml")).expect("the flagship spec"),
        )
        .pipeline
        .expect("flagship");
        let lambdas = Path::new(env!("CARGO_MANIFEST_DIR")).join("lambdas");
        assert_eq!(check(&flagship, &lambdas), vec![]);
        for stage in ["silver-processing", "gold-analytics"] {
            let f = scan_crate(&lambdas.join(stage)).expect("scans");
            assert!(f.answers_batch_responses() && f.consumes_sqs_events(), "{stage}: {f:?}");
        }
        let bronze = scan_crate(&lambdas.join("bronze-ingestion")).expect("scans");
        assert!(!bronze.answers_batch_responses() && !bronze.consumes_sqs_events(), "{bronze:?}");
    }
}
