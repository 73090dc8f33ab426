//! The derive and the scanner agree: for every model fixture `fixtures/models/<case>/models.rs`,
//! the manifest built from each struct's `T::table()` equals the manifest that
//! `qvdiff_capture::scan_source` captures from the same file.
//!
//! How cases are found: `build.rs` lists the fixture folders and generates, per case, a module
//! that `include!`s `models.rs` (so the derive runs on it) with a `tables()` function calling
//! every model's `table()`. Adding a case is adding a folder; see `fixtures/models/README.md`.

/// One fixture folder as the generated glue describes it.
pub struct ModelFixture {
    /// The folder name under `fixtures/models/`.
    pub name: &'static str,
    /// Absolute path of its `models.rs`.
    pub path: &'static str,
    /// `T::table()` of every model in the file, in source order.
    pub tables: fn() -> Vec<qvdiff::Table>,
}

include!(concat!(env!("OUT_DIR"), "/model_fixtures.rs"));

use qvdiff::Schema;
use qvdiff_core::manifest::to_json;

fn manifest(tables: Vec<qvdiff::Table>) -> String {
    to_json(&Schema {
        tables,
        ..Schema::default()
    })
}

#[test]
fn derive_and_scanner_produce_the_same_manifest() {
    assert!(
        MODEL_FIXTURES.len() >= 4,
        "expected the model fixtures, found {}",
        MODEL_FIXTURES.len()
    );
    for ModelFixture {
        name: case,
        path,
        tables: derived,
    } in MODEL_FIXTURES
    {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{case}: cannot read {path}: {e}"));
        let mut scanned = qvdiff_capture::scan_source(path, &text);
        let unresolved = qvdiff_capture::resolve_enums(&mut scanned.tables, &scanned.enums);
        assert!(
            scanned.errors.is_empty() && unresolved.is_empty(),
            "{case}: the scanner reports {:#?} {unresolved:#?}",
            scanned.errors
        );
        let derived = derived();
        assert_eq!(
            scanned.tables.len(),
            derived.len(),
            "{case}: scanner and derive see different models"
        );
        let scanned = manifest(scanned.tables.into_iter().map(|t| t.table).collect());
        assert_eq!(
            manifest(derived),
            scanned,
            "{case}: derive and scanner disagree"
        );
    }
}

#[test]
fn fixture_models_are_consistent_with_each_other() {
    for ModelFixture {
        name: case, path, ..
    } in MODEL_FIXTURES
    {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{case}: cannot read {path}: {e}"));
        let mut scanned = qvdiff_capture::scan_source(path, &text);
        let mut diagnostics = qvdiff_capture::resolve_enums(&mut scanned.tables, &scanned.enums);
        diagnostics.extend(qvdiff_capture::validate(&scanned.tables));
        assert!(diagnostics.is_empty(), "{case}: {diagnostics:#?}");
    }
}
