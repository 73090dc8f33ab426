use super::support::{repo_root, run_in, Project};

const ITEM: &str = r#"
use qvdiff::Model;

#[derive(Debug, Model)]
#[model(table = "items")]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    pub title: String,
    pub notes: Option<String>,
}
"#;

#[test]
fn manifest_of_the_example_app_is_stable() {
    let root = repo_root();
    let first = run_in(&root, &["manifest"]).expect_code(0);
    let second = run_in(&root, &["manifest"]).expect_code(0);
    assert_eq!(
        first.stdout, second.stdout,
        "two runs must print identical bytes"
    );
    let json: serde_json::Value = serde_json::from_str(&first.stdout).expect("valid JSON");
    assert_eq!(json["version"], 1);
    let names: Vec<&str> = json["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["items", "listings", "sales", "users"]);
}

#[test]
fn manifest_output_file_round_trips_through_manifest_flag() {
    let p = Project::with_models(&[("src/models.rs", ITEM)]);
    let printed = p.qvdiff(&["manifest"]).expect_code(0).stdout;
    assert!(printed.contains("\"notes\""), "{printed}");
    p.qvdiff(&["manifest", "--output", "schema.json"])
        .expect_code(0);
    assert_eq!(p.read("schema.json"), printed);
    let again = p
        .qvdiff(&["manifest", "--manifest", "schema.json"])
        .expect_code(0)
        .stdout;
    assert_eq!(
        again, printed,
        "manifest -> schema -> manifest is byte-identical"
    );
}

#[test]
fn syntax_error_is_reported_with_position_and_nothing_is_written() {
    let p = Project::with_models(&[("src/models.rs", "pub struct Broken {\n    id: i64,\n")]);
    let before = p.snapshot();
    let run = p
        .qvdiff(&["manifest", "--output", "schema.json"])
        .expect_code(2);
    assert!(run.stderr.contains("src/models.rs:"), "{}", run.stderr);
    assert_eq!(p.snapshot(), before);
}

#[test]
fn errors_in_two_files_are_all_reported_at_once() {
    let bad_attr = ITEM.replace(
        "pub title: String",
        "#[column(max_lenght = 5)]\n    pub title: String",
    );
    let no_pk =
        "use qvdiff::Model;\n#[derive(Model)]\npub struct Note {\n    pub body: String,\n}\n";
    let p = Project::with_models(&[("src/a.rs", &bad_attr), ("src/b.rs", no_pk)]);
    let before = p.snapshot();
    let run = p
        .qvdiff(&["manifest", "--output", "schema.json"])
        .expect_code(2);
    assert!(run.stderr.contains("2 errors"), "{}", run.stderr);
    // `max_lenght` sits on line 9, column 14 of a.rs; the struct `Note` on line 3 of b.rs.
    assert!(run.stderr.contains("src/a.rs:9:14:"), "{}", run.stderr);
    assert!(run.stderr.contains("max_lenght"), "{}", run.stderr);
    assert!(run.stderr.contains("src/b.rs:3:"), "{}", run.stderr);
    assert!(run.stderr.contains("primary key"), "{}", run.stderr);
    assert_eq!(p.snapshot(), before, "a failed scan writes nothing");
}

#[test]
fn missing_config_is_a_clear_error() {
    let p = Project::empty();
    let run = p.qvdiff(&["manifest"]).expect_code(2);
    assert!(run.stderr.contains("no qvdiff.toml"), "{}", run.stderr);
    assert!(run.stderr.contains("qvdiff init"), "{}", run.stderr);
}

#[test]
fn malformed_config_names_file_and_line() {
    let p = Project::empty();
    p.write("qvdiff.toml", "models = [\"src\"]\nmigrations = 3\n");
    let run = p.qvdiff(&["manifest"]).expect_code(2);
    assert!(run.stderr.contains("qvdiff.toml:2:"), "{}", run.stderr);
}
