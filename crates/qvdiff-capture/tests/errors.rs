//! Every error the grammar reports: what it says and where (1-based line:column). The expected
//! position is the offending token.

use qvdiff_capture::scan_source;

/// `(line, column, message)` of every error in `text`.
fn errors(text: &str) -> Vec<(usize, usize, String)> {
    let out = scan_source("m.rs", text);
    assert!(
        out.tables.is_empty(),
        "a model with errors must not be captured: {:#?}",
        out.tables
    );
    out.errors
        .into_iter()
        .map(|d| (d.line, d.column, d.message))
        .collect()
}

/// 1-based `(line, column)` where `needle` (unique in `text`) starts.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    assert_eq!(
        text.matches(needle).count(),
        1,
        "`{needle}` must occur once in the test source"
    );
    let offset = text.find(needle).unwrap_or_default();
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .unwrap_or_default()
        .chars()
        .count()
        + 1;
    (line, column)
}

/// Asserts exactly one error, starting where `at` starts in `text`, whose message contains every
/// piece of `parts`.
fn expect_one(text: &str, at: &str, parts: &[&str]) {
    expect_one_of(errors(text), text, at, parts);
}

/// Asserts that `all` (the errors of `text`) is exactly one error, as [`expect_one`] describes.
fn expect_one_of(all: Vec<(usize, usize, String)>, text: &str, at: &str, parts: &[&str]) {
    assert_eq!(all.len(), 1, "expected one error, got {all:#?}");
    let (line, column, message) = &all[0];
    assert_eq!((*line, *column), position_of(text, at), "{message}");
    for part in parts {
        assert!(message.contains(part), "`{message}` lacks `{part}`");
    }
}

#[test]
fn unknown_field_key_suggests_the_closest() {
    expect_one(
        "#[derive(Model)]\nstruct T {\n    #[column(primray_key)]\n    id: i64,\n}\n",
        "primray_key",
        &[
            "unknown column attribute `primray_key`",
            "did you mean `primary_key`?",
        ],
    );
}

#[test]
fn unknown_key_without_a_close_match_lists_the_known_ones() {
    expect_one(
        "#[derive(Model)]\n#[model(colour = \"red\")]\nstruct T { #[column(primary_key)] id: i64 }\n",
        "colour",
        &["unknown model attribute `colour`", "expected one of: table, renamed_from"],
    );
}

#[test]
fn nullable_key_explains_option() {
    expect_one(
        "#[derive(Model)]\nstruct T { #[column(primary_key)] id: i64, #[column(nullable)] x: i64 }\n",
        "nullable",
        &["make the field `Option<T>`"],
    );
}

#[test]
fn bad_values_point_at_the_value() {
    let model = |field: &str| {
        format!("#[derive(Model)]\nstruct T {{ #[column(primary_key)] id: i64, {field} }}\n")
    };
    expect_one(
        &model("#[column(max_length = \"x\")] s: String"),
        "\"x\"",
        &["`max_length` expects a positive integer literal"],
    );
    expect_one(
        &model("#[column(max_length = 0)] s: String"),
        "0)",
        &["positive integer"],
    );
    expect_one(
        &model("#[column(name = 5)] s: i64"),
        "5)",
        &["`name` expects a string literal"],
    );
    expect_one(
        &model("#[column(default = some_fn())] s: i64"),
        "some_fn",
        &["`default` expects a literal", "default_sql"],
    );
    expect_one(
        &model("#[column(default = \"x\")] s: i64"),
        "\"x\"",
        &["`default` is a string but field `s` is Integer(64)"],
    );
    expect_one(
        &model("#[column(backfill = 1.5)] s: bool"),
        "1.5",
        &["`backfill` is a float but field `s` is Bool"],
    );
    expect_one(
        &model("#[column(unique = true)] s: i64"),
        "unique",
        &["`unique` is a flag and takes no value"],
    );
    expect_one(
        &model("#[column(sql_type)] s: i64"),
        "sql_type",
        &["`sql_type` needs a value"],
    );
    expect_one(
        &model("#[column(name = \"\")] s: i64"),
        "\"\"",
        &["`name` must not be empty"],
    );
}

#[test]
fn missing_primary_key_points_at_the_struct_name() {
    expect_one(
        "#[derive(Model)]\npub struct Item {\n    name: String,\n}\n",
        "Item",
        &["model `Item` has no primary key: add #[column(primary_key)] to a field or #[model(primary_key(a, b))]"],
    );
}

/// The errors of `text` once its enum fields are resolved against its `#[derive(Enum)]` enums,
/// as the CLI does after scanning every file.
fn resolved_errors(text: &str) -> Vec<(usize, usize, String)> {
    let mut out = scan_source("m.rs", text);
    let mut all = out.errors;
    all.extend(qvdiff_capture::resolve_enums(&mut out.tables, &out.enums));
    all.sort_by_key(|d| (d.line, d.column));
    all.into_iter()
        .map(|d| (d.line, d.column, d.message))
        .collect()
}

/// [`expect_one`] for the errors of `text` once its enum fields are resolved.
fn expect_one_resolved(text: &str, at: &str, parts: &[&str]) {
    expect_one_of(resolved_errors(text), text, at, parts);
}

#[test]
fn enum_default_naming_no_variant_points_at_the_literal() {
    expect_one_resolved(
        "#[derive(Enum)]\nenum Status { Todo, Done }\n#[derive(Model)]\nstruct T {\n    \
         #[column(primary_key)] id: i64,\n    #[column(default = \"finished\")] status: Status,\n}\n",
        "\"finished\"",
        &["\"finished\" is not a stored value of enum `Status`", "\"todo\", \"done\""],
    );
}

#[test]
fn enum_mistakes_point_at_their_tokens() {
    expect_one_resolved(
        "#[derive(Enum)]\nenum Status { Todo, Blocked(String) }\n",
        "(String)",
        &["variant `Status::Blocked` has fields"],
    );
    expect_one_resolved(
        "#[derive(Enum)]\nenum Status { Todo, #[variant(name = \"todo\")] Later }\n",
        "\"todo\"",
        &["both stored as \"todo\""],
    );
}

#[test]
fn an_enum_field_reads_the_enum_of_the_sources() {
    let text = "#[derive(Enum)]\n#[enum_type(name = \"task_status\")]\nenum Status { Todo, \
                #[variant(name = \"done\", renamed_from = \"finished\")] Done }\n\
                #[derive(Model)]\nstruct T {\n    #[column(primary_key)] id: i64,\n    \
                status: Option<crate::Status>,\n}\n";
    assert_eq!(resolved_errors(text), []);
    let mut out = scan_source("m.rs", text);
    qvdiff_capture::resolve_enums(&mut out.tables, &out.enums);
    let column = &out.tables[0].table.columns[1];
    assert!(column.nullable);
    assert_eq!(
        column.ty,
        qvdiff_core::ColumnType::Enum {
            name: "task_status".into(),
            values: vec!["todo".into(), "done".into()],
            renames: vec![qvdiff_core::VariantRename {
                from: "finished".into(),
                to: "done".into()
            }],
        }
    );
}

#[test]
fn unknown_type_points_at_the_type_inside_option() {
    expect_one_resolved(
        "#[derive(Model)]\nstruct T {\n    #[column(primary_key)] id: i64,\n    tags: Option<Tags>,\n}\n",
        "Tags",
        &["field `tags`: type `Tags` has no built-in SQL type; add #[column(sql_type = \"JSON\")] or #[column(skip)]"],
    );
    expect_one_resolved(
        "#[derive(Model)]\nstruct T {\n    #[column(primary_key)] id: i64,\n    tags: Vec<Option<String>>,\n}\n",
        "Vec",
        &["type `Vec<Option<String>>` has no built-in SQL type"],
    );
}

#[test]
fn duplicate_column_names() {
    expect_one(
        "#[derive(Model)]\nstruct T {\n    #[column(primary_key)] id: i64,\n    #[column(name = \"id\")] other: i64,\n}\n",
        "\"id\"",
        &["duplicate column `id`: fields `id` and `other`"],
    );
}

#[test]
fn malformed_references() {
    for bad in ["users", "users.", ".id", "a.b.c", "us ers.id"] {
        expect_one(
            &format!(
                "#[derive(Model)]\nstruct T {{ #[column(primary_key)] id: i64, #[column(references = \"{bad}\")] u: i64 }}\n"
            ),
            &format!("\"{bad}\""),
            &["is not `table.column`", "e.g. `references = \"users.id\"`"],
        );
    }
}

#[test]
fn conflicting_attributes() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "#[column(skip, primary_key)] c: i64",
            "primary_key)] c",
            "`skip` cannot be combined with `primary_key`",
        ),
        (
            "#[column(default = 1, default_sql = \"2\")] c: i64",
            "default_sql",
            "`default` and `default_sql` both",
        ),
        (
            "#[column(backfill = 1, backfill_sql = \"2\")] c: i64",
            "backfill_sql",
            "`backfill` and `backfill_sql` both",
        ),
        (
            "#[column(autoincrement)] c: i64",
            "autoincrement",
            "`autoincrement` needs field `c` to be the primary key",
        ),
        (
            "#[column(max_length = 5)] c: i64",
            "max_length",
            "`max_length` applies to text columns",
        ),
        (
            "#[column(max_length = 5, sql_type = \"TEXT\")] c: String",
            "max_length",
            "`max_length` and `sql_type` both",
        ),
        (
            "#[column(on_delete = \"cascade\")] c: i64",
            "on_delete",
            "`on_delete` only applies to a foreign key",
        ),
        (
            "#[column(references = \"a.b\", on_delete = \"set null\")] c: i64",
            "\"set null\"",
            "\"set null\" needs a nullable column",
        ),
        (
            "#[column(references = \"a.b\", on_update = \"explode\")] c: i64",
            "\"explode\"",
            "is not a foreign-key action",
        ),
        (
            "#[column(name = \"x\", name = \"y\")] c: i64",
            "name = \"y\"",
            "`name` is given twice",
        ),
        (
            "#[column(index, index)] c: i64",
            "index)]",
            "`index` is given twice",
        ),
    ];
    for (field, at, message) in cases {
        let text =
            format!("#[derive(Model)]\nstruct T {{ #[column(primary_key)] id: i64, {field} }}\n");
        expect_one(&text, at, &[message]);
    }
}

#[test]
fn autoincrement_on_text_and_on_composite_keys() {
    expect_one(
        "#[derive(Model)]\nstruct T { #[column(primary_key, autoincrement)] id: String }\n",
        "autoincrement",
        &["`autoincrement` needs an integer column, but field `id` is Text"],
    );
    expect_one(
        "#[derive(Model)]\n#[model(primary_key(a, b))]\nstruct T { #[column(autoincrement)] a: i64, b: i64 }\n",
        "autoincrement",
        &["`autoincrement` needs a single-column primary key", "(a, b)"],
    );
}

#[test]
fn struct_level_lists_name_rust_fields() {
    expect_one(
        "#[derive(Model)]\n#[model(unique(usr_id))]\nstruct T { #[column(primary_key)] id: i64, user_id: i64 }\n",
        "usr_id",
        &["`unique(…)` names `usr_id`, which is not a field of `T`; did you mean `user_id`?"],
    );
    expect_one(
        "#[derive(Model)]\n#[model(index(fields(uid)))]\nstruct T { #[column(primary_key)] id: i64, #[column(name = \"uid\")] user_id: i64 }\n",
        "uid)))",
        &["`uid` is the column name of field `user_id`"],
    );
    expect_one(
        "#[derive(Model)]\n#[model(unique(cache))]\nstruct T { #[column(primary_key)] id: i64, #[column(skip)] cache: u8 }\n",
        "cache))",
        &["`#[column(skip)]` and has no column"],
    );
    expect_one(
        "#[derive(Model)]\n#[model(primary_key(id))]\nstruct T { #[column(primary_key)] id: i64 }\n",
        "primary_key)]",
        &["primary key of `T` is declared twice"],
    );
    expect_one(
        "#[derive(Model)]\n#[model(primary_key(a, a))]\nstruct T { a: i64 }\n",
        "a))",
        &["lists field `a` twice"],
    );
    expect_one(
        "#[derive(Model)]\n#[model(index(user_id))]\nstruct T { #[column(primary_key)] id: i64, user_id: i64 }\n",
        "user_id))",
        &["index(fields(user_id, …))"],
    );
    expect_one(
        "#[derive(Model)]\n#[model(index(fields(a), name = \"ix\"), index(fields(b), name = \"ix\"))]\nstruct T { #[column(primary_key)] a: i64, b: i64 }\n",
        "\"ix\"))",
        &["two indexes of table `t` are named `ix`"],
    );
    expect_one(
        "#[derive(Model)]\n#[model(check(expr = \"x > 0\"))]\nstruct T { #[column(primary_key)] id: i64 }\n",
        "check",
        &["`check(…)` needs `name = \"…\"`"],
    );
}

#[test]
fn attributes_in_the_wrong_place_or_form() {
    expect_one(
        "#[derive(Model)]\n#[column(primary_key)]\nstruct T { #[column(primary_key)] id: i64 }\n",
        "#[column(primary_key)]\nstruct",
        &["`#[column(…)]` belongs on a field"],
    );
    expect_one(
        "#[derive(Model)]\nstruct T { #[model(table = \"t\")] #[column(primary_key)] id: i64 }\n",
        "#[model",
        &["`#[model(…)]` belongs on the struct"],
    );
    expect_one(
        "#[derive(Model)]\n#[model = \"t\"]\nstruct T { #[column(primary_key)] id: i64 }\n",
        "#[model",
        &["expected `#[model(…)]`"],
    );
}

#[test]
fn shapes_that_are_not_tables() {
    expect_one(
        "#[derive(Model)]\nstruct Point(i64, i64);\n",
        "(i64",
        &["`Point` is a tuple struct"],
    );
    expect_one(
        "#[derive(Model)]\nenum Status { A, B }\n",
        "enum",
        &["`Status` is an enum"],
    );
    expect_one(
        "#[derive(Model)]\nstruct Marker;\n",
        "Marker",
        &["`Marker` is a unit struct"],
    );
}

#[test]
fn all_errors_in_a_file_are_reported_sorted() {
    // A type that is neither builtin nor an enum of the sources is found once the scan has read
    // every enum: reported with the others, in file order.
    let text =
        "#[derive(Model)]\nstruct A {\n    #[column(primary_key, uniqe)]\n    x: i64,\n}\n\n\
                #[derive(Model)]\nstruct C {\n    #[column(primary_key)]\n    x: Tags,\n}\n\n\
                #[derive(Model)]\nstruct B { #[column(primary_key, max_length = 3)] id: i64 }\n";
    let positions: Vec<(usize, usize)> = resolved_errors(text)
        .iter()
        .map(|(l, c, _)| (*l, *c))
        .collect();
    let want = [
        position_of(text, "uniqe"),
        position_of(text, "Tags"),
        position_of(text, "max_length"),
    ];
    assert_eq!(positions, want);
}

#[test]
fn names_over_63_bytes_are_refused_at_their_span() {
    // 63 bytes is the most PostgreSQL keeps: exactly 63 is captured, 64 is refused.
    let at_limit = "t".repeat(63);
    let fits = format!(
        "#[derive(Model)]\n#[model(table = \"{at_limit}\")]\nstruct T {{\n    #[column(primary_key)]\n    id: i64,\n}}\n"
    );
    let out = scan_source("m.rs", &fits);
    assert!(out.errors.is_empty(), "{:#?}", out.errors);
    assert_eq!(out.tables[0].table.name, at_limit);

    let over = "t".repeat(64);
    expect_one(
        &format!(
            "#[derive(Model)]\n#[model(table = \"{over}\")]\nstruct T {{\n    #[column(primary_key)]\n    id: i64,\n}}\n"
        ),
        &format!("\"{over}\""),
        &[
            &format!("table name `{over}` is 64 bytes long"),
            "limit of 63 bytes",
            "SQLite and PostgreSQL",
            "choose a shorter `#[model(table = \"…\")]`",
        ],
    );

    // Bytes, not characters: 32 `é` are 32 characters but 64 bytes.
    let accented = "é".repeat(32);
    expect_one(
        &format!(
            "#[derive(Model)]\nstruct T {{\n    #[column(primary_key)]\n    id: i64,\n    #[column(name = \"{accented}\")]\n    label: String,\n}}\n"
        ),
        &format!("\"{accented}\""),
        &[&format!("column name `{accented}` of field `label` is 64 bytes long")],
    );

    // A struct whose snake_case name is the table: the struct name is the span.
    let struct_name = format!("Order{}", "Line".repeat(15));
    expect_one(
        &format!("#[derive(Model)]\nstruct {struct_name} {{\n    #[column(primary_key)]\n    id: i64,\n}}\n"),
        &struct_name,
        &[&format!("(from struct `{struct_name}`) is 80 bytes long")],
    );
}

#[test]
fn generated_names_over_63_bytes_are_not_refused() {
    // Generated index names are the dialect's to shorten (with a hash), not the user's error.
    let field = "f".repeat(60);
    let text = format!(
        "#[derive(Model)]\nstruct T {{\n    #[column(primary_key)]\n    id: i64,\n    #[column(index)]\n    {field}: i64,\n}}\n"
    );
    let out = scan_source("m.rs", &text);
    assert!(out.errors.is_empty(), "{:#?}", out.errors);
    assert_eq!(out.tables[0].table.indexes[0].name, format!("ix_t_{field}"));
}

#[test]
fn partial_index_mistakes_point_at_their_tokens() {
    let model = |attrs: &str, field: &str| {
        format!("#[derive(Model)]\n{attrs}\nstruct T {{ #[column(primary_key)] id: i64, {field} a: String }}\n")
    };
    let empty = model(r#"#[model(index(fields(a), where = " "))]"#, "");
    expect_one(
        &empty,
        "\" \"",
        &["`where` must not be empty", "status = 'draft'"],
    );
    let two_lines = model(r#"#[model(index(fields(a), where = "a = 'x'\n"))]"#, "");
    expect_one(
        &two_lines,
        "\"a = 'x'",
        &["`where` must not contain control characters"],
    );
    let in_unique = model(r#"#[model(unique(a, where = "a = 'x'"))]"#, "");
    expect_one(
        &in_unique,
        "where",
        &["partial index", "index(fields(a, b), unique, where"],
    );
    let on_field = model("", r#"#[column(index, where = "a = 'x'")]"#);
    expect_one(
        &on_field,
        "where",
        &["unknown column attribute `where`", "partial index"],
    );
    let twice = model(
        r#"#[model(index(fields(a), where = "a = 'x'", where = "a = 'y'"))]"#,
        "",
    );
    expect_one(&twice, "where = \"a = 'y'\"", &["`where` is given twice"]);
}
