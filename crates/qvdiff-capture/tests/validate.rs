//! Cross-model validation over tables scanned from several files.

use qvdiff_capture::{scan_source, validate, CapturedTable};

fn tables(files: &[(&str, &str)]) -> Vec<CapturedTable> {
    files
        .iter()
        .flat_map(|(file, text)| {
            let out = scan_source(file, text);
            assert!(out.errors.is_empty(), "{:#?}", out.errors);
            out.tables
        })
        .collect()
}

const USERS: &str = r#"
#[derive(Model)]
#[model(table = "users")]
struct User {
    #[column(primary_key)] id: i64,
    #[column(unique)] email: String,
    nickname: String,
}
"#;

#[test]
fn consistent_models_have_no_diagnostics() {
    let items = r#"
#[derive(Model)]
struct Item {
    #[column(primary_key)] id: i32,
    #[column(references = "users.id")] owner: i32,
    #[column(references = "users.email")] contact: Option<String>,
    #[column(references = "item.id")] parent: Option<i64>,
}
"#;
    let diagnostics = validate(&tables(&[("users.rs", USERS), ("items.rs", items)]));
    assert!(
        diagnostics.is_empty(),
        "integer widths may differ, self references are fine: {diagnostics:#?}"
    );
}

#[test]
fn duplicate_tables_name_both_locations() {
    let other = "\n#[derive(Model)]\n#[model(table = \"users\")]\nstruct Account { #[column(primary_key)] id: i64 }\n";
    let diagnostics = validate(&tables(&[("a.rs", USERS), ("b.rs", other)]));
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    let message = diagnostics[0].to_string();
    assert!(
        message.starts_with("b.rs:4:8: table `users` is defined twice"),
        "{message}"
    );
    assert!(message.contains("`User` at a.rs:4:8"), "{message}");
}

#[test]
fn broken_foreign_keys() {
    let items = r#"
#[derive(Model)]
struct Item {
    #[column(primary_key)] id: i64,
    #[column(references = "user.id")] a: i64,
    #[column(references = "users.ident")] b: i64,
    #[column(references = "users.id")] c: String,
    #[column(references = "users.nickname")] d: String,
}
"#;
    let diagnostics = validate(&tables(&[("users.rs", USERS), ("items.rs", items)]));
    let messages: Vec<String> = diagnostics.iter().map(|d| d.message.clone()).collect();
    assert_eq!(messages.len(), 4, "{messages:#?}");
    let expected = [
        "references table `user`, which no model defines; did you mean `users`?",
        "table `users` has no column `ident`; its columns are: id, email, nickname",
        "has type Text but the referenced column `users.id` has type Integer(64)",
        "which is neither the primary key nor unique",
    ];
    for want in expected {
        assert!(
            messages.iter().any(|m| m.contains(want)),
            "no message contains `{want}`: {messages:#?}"
        );
    }
    assert!(diagnostics
        .iter()
        .all(|d| (d.file.as_str(), d.line, d.column) == ("items.rs", 3, 8)));
}
