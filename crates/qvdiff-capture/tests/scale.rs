//! A large file scans completely (the benchmark under `bench/` measures how fast; tests never
//! assert on wall-clock time).

use qvdiff_capture::scan_source;
use std::fmt::Write as _;

#[test]
fn a_thousand_models_of_twenty_fields() {
    let mut text = String::new();
    for model in 0..1000 {
        let _ = writeln!(
            text,
            "#[derive(Debug, Model)]\n#[model(index(fields(f1, f2)))]\npub struct Model{model} {{"
        );
        let _ = writeln!(
            text,
            "    #[column(primary_key, autoincrement)]\n    pub id: i64,"
        );
        for field in 1..20 {
            let _ = match field % 4 {
                0 => writeln!(text, "    #[column(max_length = 80, default = \"x\")]\n    pub f{field}: String,"),
                1 => writeln!(text, "    pub f{field}: Option<i32>,"),
                2 => writeln!(text, "    #[column(references = \"model0.id\", on_delete = \"cascade\")]\n    pub f{field}: i64,"),
                _ => writeln!(text, "    #[column(default = 1.5)]\n    pub f{field}: f64,"),
            };
        }
        text.push_str("}\n\n");
    }
    let out = scan_source("big.rs", &text);
    assert!(
        out.errors.is_empty(),
        "{:#?}",
        &out.errors[..out.errors.len().min(3)]
    );
    assert_eq!(out.tables.len(), 1000);
    assert!(out.tables.iter().all(|t| t.table.columns.len() == 20));
    assert!(qvdiff_capture::validate(&out.tables).is_empty());
}
