//! Tests of the migration-file format.

use qvdiff_core::migration::{
    is_valid_revision, render_steps, revision_at, sanitize_message, slugify, text_checksum,
    FormatError, MigrationFile, OUTSIDE_TRANSACTION_NOTE,
};
use qvdiff_core::runner::Migration;
use qvdiff_core::{Loss, Step, StepFacts};

const EXAMPLE: &str = "\
-- qvdiff revision: 20261124101500
-- parents: 20261120093000
-- message: add notes field
-- qvdiff:up
ALTER TABLE \"items\" ADD COLUMN \"notes\" TEXT;
-- qvdiff:down
ALTER TABLE \"items\" DROP COLUMN \"notes\";  -- DESTRUCTIVE: drops data in items.notes
";

fn example() -> MigrationFile {
    MigrationFile {
        revision: "20261124101500".into(),
        parents: vec!["20261120093000".into()],
        message: "add notes field".into(),
        up: "ALTER TABLE \"items\" ADD COLUMN \"notes\" TEXT;\n".into(),
        down: "ALTER TABLE \"items\" DROP COLUMN \"notes\";  -- DESTRUCTIVE: drops data in items.notes\n"
            .into(),
    }
}

fn parse_err(text: &str) -> FormatError {
    match MigrationFile::parse(text) {
        Ok(file) => panic!("expected an error, parsed {file:?}"),
        Err(e) => e,
    }
}

#[test]
fn renders_the_documented_example() {
    assert_eq!(example().render(), EXAMPLE);
}

#[test]
fn parses_the_documented_example() {
    assert_eq!(MigrationFile::parse(EXAMPLE), Ok(example()));
}

#[test]
fn root_and_merge_parents() {
    let mut root = example();
    root.parents.clear();
    let text = root.render();
    assert!(text.contains("\n-- parents:\n"), "{text}");
    assert_eq!(MigrationFile::parse(&text), Ok(root));

    let mut merge = example();
    merge.parents = vec!["a1".into(), "b2".into()];
    merge.up = String::new();
    merge.down = String::new();
    let text = merge.render();
    assert!(text.contains("\n-- parents: a1 b2\n"), "{text}");
    assert!(text.ends_with("-- qvdiff:up\n-- qvdiff:down\n"), "{text}");
    assert_eq!(MigrationFile::parse(&text), Ok(merge));
}

#[test]
fn parents_may_be_comma_separated() {
    let text = EXAMPLE.replace("-- parents: 20261120093000", "-- parents: a1, b2");
    let file = MigrationFile::parse(&text).expect("parses");
    assert_eq!(file.parents, vec!["a1".to_string(), "b2".to_string()]);
}

#[test]
fn render_parse_round_trips_byte_for_byte() {
    let cases = vec![
        example(),
        MigrationFile {
            revision: "my_rev_1".into(),
            parents: vec![],
            message: String::new(),
            up: String::new(),
            down: String::new(),
        },
        MigrationFile {
            revision: "20261124101500".into(),
            parents: vec!["x".into(), "y".into()],
            message: "  weird\tmessage\r\nwith\n-- qvdiff:down\nDROP TABLE x;  ".into(),
            up: "-- a hand-written comment\nUPDATE items SET qty = 0;\n\n\nCREATE TABLE t (\n  id INTEGER\n);".into(),
            down: "DROP TABLE t;\n-- trailing comment".into(),
        },
    ];
    for file in cases {
        let text = file.render();
        let parsed = MigrationFile::parse(&text).expect("rendered files parse");
        assert_eq!(parsed.render(), text);
    }
}

#[test]
fn message_cannot_inject_a_marker_or_header() {
    let mut file = example();
    file.message = "oops\n-- qvdiff:down\nDROP TABLE x;".into();
    file.up = "SELECT 1;\n".into();
    file.down = "SELECT 2;\n".into();
    let text = file.render();
    assert_eq!(text.lines().filter(|l| *l == "-- qvdiff:down").count(), 1);
    assert!(!text.lines().any(|l| l.starts_with("DROP TABLE")));
    let parsed = MigrationFile::parse(&text).expect("parses");
    assert_eq!(parsed.message, "oops -- qvdiff:down DROP TABLE x;");
    assert_eq!(parsed.up, "SELECT 1;\n");
    assert_eq!(parsed.down, "SELECT 2;\n");

    file.message = "a\u{2028}-- qvdiff revision: 1\u{85}b\rc".into();
    let text = file.render();
    assert_eq!(text.lines().count(), 7);
    assert!(text.contains("-- message: a -- qvdiff revision: 1 b c\n"));
}

#[test]
fn hand_written_sql_is_kept_verbatim() {
    let text = "\
-- qvdiff revision: r1
-- parents:
-- message: data fix
-- qvdiff:up
-- backfill prices
UPDATE items SET price = 0 WHERE price IS NULL; -- keep this

-- qvdiff:down
-- nothing to undo
";
    let file = MigrationFile::parse(text).expect("parses");
    assert_eq!(
        file.up,
        "-- backfill prices\nUPDATE items SET price = 0 WHERE price IS NULL; -- keep this\n\n"
    );
    assert_eq!(file.down, "-- nothing to undo\n");
    assert_eq!(file.render(), text);
}

#[test]
fn extra_header_comments_and_leading_blank_lines_are_allowed() {
    let text = "\n\n-- qvdiff revision: r1\n-- parents:\n-- message: m\n--\n-- summary:\n--   add column items.notes\n\n-- qvdiff:up\nSELECT 1;\n-- qvdiff:down\n";
    let file = MigrationFile::parse(text).expect("parses");
    assert_eq!(file.revision, "r1");
    assert_eq!(file.up, "SELECT 1;\n");
    assert_eq!(file.down, "");
}

#[test]
fn crlf_files_parse() {
    let text = EXAMPLE.replace('\n', "\r\n");
    let file = MigrationFile::parse(&text).expect("parses");
    assert_eq!(file.revision, "20261124101500");
    assert_eq!(file.message, "add notes field");
    assert_eq!(
        file.up,
        "ALTER TABLE \"items\" ADD COLUMN \"notes\" TEXT;\r\n"
    );
}

#[test]
fn strict_errors_name_the_line() {
    let cases: Vec<(String, usize, &str)> = vec![
        (String::new(), 1, "empty file"),
        ("SELECT 1;\n".into(), 1, "expected `-- qvdiff revision:"),
        (
            format!("\nSELECT 1;\n{EXAMPLE}"),
            2,
            "expected `-- qvdiff revision:",
        ),
        (
            EXAMPLE.replace("20261124101500", "2026-11-24"),
            1,
            "invalid revision id `2026-11-24`",
        ),
        (
            EXAMPLE.replace("-- qvdiff revision: 20261124101500", "-- qvdiff revision:"),
            1,
            "invalid revision id ``",
        ),
        (
            EXAMPLE.replace("-- parents: 20261120093000\n", ""),
            2,
            "expected `-- parents:",
        ),
        (
            EXAMPLE.replace("20261120093000", "../etc"),
            2,
            "invalid parent revision id `../etc`",
        ),
        (
            EXAMPLE.replace("20261120093000", "a b a"),
            2,
            "parent a is listed twice",
        ),
        (
            EXAMPLE.replace("20261120093000", "20261124101500"),
            2,
            "lists itself as its parent",
        ),
        (
            EXAMPLE.replace("-- message: add notes field\n", ""),
            3,
            "expected `-- message:",
        ),
        (
            EXAMPLE.replace("-- qvdiff:up\n", ""),
            4,
            "SQL before `-- qvdiff:up`",
        ),
        (
            "-- qvdiff revision: r\n-- parents:\n-- message: m\n".into(),
            3,
            "missing `-- qvdiff:up`",
        ),
        (
            EXAMPLE.replace("-- qvdiff:down\n", ""),
            6,
            "missing `-- qvdiff:down`",
        ),
        (
            format!("{EXAMPLE}-- qvdiff:down\n"),
            8,
            "duplicate `-- qvdiff:down` marker (first on line 6)",
        ),
        (
            format!("{EXAMPLE}-- qvdiff:up\n"),
            8,
            "duplicate `-- qvdiff:up` marker (first on line 4)",
        ),
        (
            "-- qvdiff revision: r\n-- parents:\n-- message: m\n-- qvdiff:down\n-- qvdiff:up\n"
                .into(),
            4,
            "`-- qvdiff:down` comes before `-- qvdiff:up`",
        ),
        (
            EXAMPLE.replace("-- qvdiff:down", "-- qvdiff:dwon"),
            6,
            "unknown qvdiff directive `-- qvdiff:dwon`",
        ),
        (
            format!("{EXAMPLE}-- qvdiff revision: 2\n"),
            8,
            "second `-- qvdiff revision:` header",
        ),
        (
            format!("{EXAMPLE}-- qvdiff:batch many\n"),
            8,
            "`-- qvdiff:batch many` needs a number of rows above 0",
        ),
        (
            format!("{EXAMPLE}-- qvdiff:batch 0\n"),
            8,
            "needs a number of rows above 0",
        ),
    ];
    for (text, line, needle) in cases {
        let err = parse_err(&text);
        assert_eq!(err.line, line, "{err} for:\n{text}");
        assert!(
            err.message.contains(needle),
            "{err} should contain {needle}"
        );
        assert!(err.to_string().starts_with(&format!("line {line}: ")));
    }
}

#[test]
fn checksum_is_sha256_hex_and_ignores_line_endings() {
    assert_eq!(
        MigrationFile::checksum(""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        MigrationFile::checksum("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    // Two-block message from FIPS 180-4.
    assert_eq!(
        MigrationFile::checksum("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
    let long = "x".repeat(1000);
    assert_eq!(
        MigrationFile::checksum(&long),
        MigrationFile::checksum(&long)
    );
    assert_eq!(
        MigrationFile::checksum(EXAMPLE),
        MigrationFile::checksum(&EXAMPLE.replace('\n', "\r\n"))
    );
    assert_ne!(
        MigrationFile::checksum(EXAMPLE),
        MigrationFile::checksum(&EXAMPLE.replace("TEXT", "TEXT "))
    );
}

#[test]
fn allow_lines_are_not_part_of_the_checksum_and_old_ledgers_still_match() {
    let drop = "ALTER TABLE \"items\" DROP COLUMN \"notes\";";
    let allowed = EXAMPLE.replacen(
        drop,
        &format!("-- qvdiff:allow destructive \"notes were never read\"\n{drop}"),
        1,
    );
    assert_eq!(
        MigrationFile::checksum(&allowed),
        MigrationFile::checksum(EXAMPLE)
    );
    assert_eq!(
        MigrationFile::checksum(&allowed.replace('\n', "\r\n")),
        MigrationFile::checksum(EXAMPLE)
    );
    // A comment that is not an allow line, or an allow line's neighbour edited, is an edit.
    assert_ne!(
        MigrationFile::checksum(&EXAMPLE.replacen(drop, &format!("-- note\n{drop}"), 1)),
        MigrationFile::checksum(EXAMPLE)
    );
    assert_ne!(
        MigrationFile::checksum(&allowed.replace("TEXT", "TEXT ")),
        MigrationFile::checksum(EXAMPLE)
    );

    // A ledger written when the whole text counted holds the whole text's checksum: that file
    // is still the one applied, and so is the same file with its allow line removed again.
    let migration = Migration::from_text(&allowed, "m.sql").expect("parses");
    assert!(migration.applied_as(&MigrationFile::checksum(EXAMPLE)));
    assert!(migration.applied_as(&text_checksum(&allowed)));
    assert!(!migration.applied_as(&text_checksum(&allowed.replace("TEXT", "TEXT "))));
    let plain = Migration::from_text(EXAMPLE, "m.sql").expect("parses");
    assert_eq!(plain.whole_text_checksum, None);
    assert_eq!(plain.checksum, text_checksum(EXAMPLE));
    // Only `\r\n` is normalized; a lone `\r` is a byte of the text like any other.
    assert_eq!(
        text_checksum(&allowed.replace('\n', "\r\n")),
        text_checksum(&allowed)
    );
    assert_ne!(text_checksum("a\rb"), text_checksum("ab"));
    assert_ne!(text_checksum("a\rb"), text_checksum("a\nb"));
}

#[test]
fn sanitize_message_makes_one_line() {
    assert_eq!(
        sanitize_message("  add\tnotes \r\n field \n"),
        "add notes field"
    );
    assert_eq!(sanitize_message("\n\n"), "");
    assert_eq!(sanitize_message("a\u{0}b\u{2029}c"), "a b c");
}

#[test]
fn slugify_is_safe_for_file_names() {
    assert_eq!(slugify("Add notes field"), "add_notes_field");
    assert_eq!(slugify("  --Add  NOTES!! field--  "), "add_notes_field");
    assert_eq!(slugify(""), "migration");
    assert_eq!(slugify("!!!"), "migration");
    assert_eq!(slugify("../../etc/passwd"), "etc_passwd");
    assert_eq!(slugify("a/b\\c.d"), "a_b_c_d");
    assert_eq!(slugify("café crème"), "caf_cr_me");
    let long = slugify(&"word ".repeat(40));
    assert!(long.len() <= 50, "{long}");
    assert!(!long.ends_with('_'));
    for msg in ["..", "/", "\\", "a..b", "..\u{0}/x"] {
        let slug = slugify(msg);
        assert!(!slug.is_empty());
        assert!(slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
    }
}

#[test]
fn file_name_joins_revision_and_slug() {
    assert_eq!(example().file_name(), "20261124101500_add_notes_field.sql");
}

#[test]
fn render_steps_marks_destructive_statements() {
    let steps = vec![
        Step::plain("ALTER TABLE \"items\" ADD COLUMN \"notes\" TEXT;"),
        Step::plain("CREATE TABLE \"t\" (\n  \"id\" INTEGER\n);\n"),
        Step::with(
            "ALTER TABLE \"items\" DROP COLUMN \"url\";",
            StepFacts::destroying(vec![Loss::new(
                "items",
                Some("url"),
                "drops data in items.url",
            )]),
        ),
        Step::with(
            "DROP TABLE \"t\";",
            StepFacts::destroying(vec![Loss::new("t", None, "drops table t\n-- qvdiff:down")]),
        ),
    ];
    assert_eq!(
        render_steps(&steps),
        "ALTER TABLE \"items\" ADD COLUMN \"notes\" TEXT;\n\
         CREATE TABLE \"t\" (\n  \"id\" INTEGER\n);\n\
         ALTER TABLE \"items\" DROP COLUMN \"url\";  -- DESTRUCTIVE: drops data in items.url\n\
         DROP TABLE \"t\";  -- DESTRUCTIVE: drops table t -- qvdiff:down\n"
    );
    assert_eq!(render_steps(&[]), "");
}

#[test]
fn render_steps_marks_statements_that_run_outside_a_transaction() {
    let outside = StepFacts {
        outside_transaction: true,
        ..StepFacts::default()
    };
    let steps = vec![
        Step::with(
            "CREATE INDEX CONCURRENTLY \"ix_items_title\" ON \"items\" (\"title\");",
            outside.clone(),
        ),
        Step::plain("ALTER TABLE \"items\" ADD COLUMN \"notes\" TEXT;"),
    ];
    assert_eq!(
        render_steps(&steps),
        format!(
            "CREATE INDEX CONCURRENTLY \"ix_items_title\" ON \"items\" (\"title\");  -- {OUTSIDE_TRANSACTION_NOTE}\n\
             ALTER TABLE \"items\" ADD COLUMN \"notes\" TEXT;\n"
        )
    );
}

#[test]
fn revision_ids() {
    assert!(is_valid_revision("20261124101500"));
    assert!(is_valid_revision("my_rev_2"));
    assert!(is_valid_revision(&"a".repeat(64)));
    assert!(!is_valid_revision(&"a".repeat(65)));
    assert!(!is_valid_revision(""));
    assert!(!is_valid_revision("a-b"));
    assert!(!is_valid_revision("a b"));
    assert!(!is_valid_revision("../x"));
    assert!(!is_valid_revision("é"));
    assert!(!is_valid_revision("head"));
    assert!(!is_valid_revision("heads"));
    assert!(!is_valid_revision("base"));
}

#[test]
fn revision_at_formats_utc() {
    assert_eq!(revision_at(0), "19700101000000");
    // 2026-11-24 10:15:00 UTC
    assert_eq!(revision_at(1_795_515_300), "20261124101500");
    // Leap day.
    assert_eq!(revision_at(951_782_400), "20000229000000");
    assert_eq!(revision_at(1_795_515_300 + 1), "20261124101501");
}

#[test]
fn batch_lines_stay_in_their_section() {
    let text = format!("{EXAMPLE}-- qvdiff:batch 500\nUPDATE t SET a = 1 WHERE a IS NULL;\n");
    let file = MigrationFile::parse(&text).expect("a batch line is a directive");
    assert!(
        file.down.contains("-- qvdiff:batch 500\nUPDATE t"),
        "{}",
        file.down
    );
    assert_eq!(file.render(), text);
    assert_eq!(
        qvdiff_core::migration::batch_rows("-- qvdiff:batch 500 \r"),
        Some(500)
    );
    assert_eq!(
        qvdiff_core::migration::batch_rows("-- qvdiff:batched 5"),
        None
    );
}
