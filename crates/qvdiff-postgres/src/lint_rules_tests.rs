//! The PostgreSQL lint rules on hand-written SQL: each fires where the lock it names is taken on
//! a table that exists, not on the safe form or on a table the file creates, and an `allow`
//! silences it. The facts come from [`crate::replay::facts_of`], the rules from
//! [`qvdiff_core::lint`].

use crate::review::{section, ReplayedSchema};
use qvdiff_core::lint::{lint_file, FileFacts, Rule};
use qvdiff_core::{Dialect, Replay};

/// The schema every case starts from.
const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(20) NOT NULL);\n\
                     CREATE TABLE items (id integer PRIMARY KEY, user_id bigint, \
                     notes varchar(20), price integer);\n\
                     CREATE INDEX ix_items_user ON items (user_id);\n";

/// The rules that fire on `up` (a hand-written up section) over [`SETUP`], with their lines
/// (1-based in `up`).
fn findings(up: &str) -> Vec<(Rule, usize)> {
    let mut scratch = ReplayedSchema::default();
    scratch.apply("0", SETUP).expect("setup");
    let analysis = scratch.analyze("1", up, "SELECT 1;").expect("modelled");
    assert!(analysis.failure.is_none(), "{:?}", analysis.failure);
    let dialect = crate::Postgres::default();
    let facts = FileFacts {
        text: up,
        up_text: up,
        down_text: "SELECT 1;",
        up: section(up, 0),
        down: section("SELECT 1;", 0),
        is_merge: false,
        up_facts: dialect.facts_of(&analysis.before, &analysis.after, up),
        type_name: &|ty| dialect.type_name(ty),
        analysis: Some(analysis),
        expand_facts: Vec::new(),
    };
    lint_file(&facts)
        .into_iter()
        .filter(|f| f.rule != Rule::DownNotInverse)
        .map(|f| (f.rule, f.line))
        .collect()
}

fn fires(rule: Rule, up: &str) {
    let found = findings(up);
    assert!(
        found.iter().any(|(r, _)| *r == rule),
        "{rule:?} on {up}: {found:?}"
    );
}

fn silent(rule: Rule, up: &str) {
    let found = findings(up);
    assert!(
        !found.iter().any(|(r, _)| *r == rule),
        "{rule:?} on {up}: {found:?}"
    );
}

#[test]
fn non_concurrent_index_build_and_drop() {
    let rule = Rule::NonConcurrentIndex;
    fires(rule, "CREATE INDEX ix_notes ON items (notes);");
    fires(rule, "CREATE UNIQUE INDEX ux_email ON users (email);");
    fires(rule, "DROP INDEX ix_items_user;");
    silent(rule, "CREATE INDEX CONCURRENTLY ix_notes ON items (notes);");
    silent(rule, "DROP INDEX CONCURRENTLY ix_items_user;");
    // A table the file creates has no readers or writers yet.
    silent(
        rule,
        "CREATE TABLE tags (id bigint PRIMARY KEY, name text);\nCREATE INDEX ix ON tags (name);",
    );
    silent(
        rule,
        "-- qvdiff:allow non-concurrent-index \"items holds ten rows\"\n\
         CREATE INDEX ix_notes ON items (notes);",
    );
}

#[test]
fn constraints_without_not_valid() {
    let rule = Rule::ConstraintWithoutNotValid;
    fires(
        rule,
        "ALTER TABLE items ADD CONSTRAINT fk_user FOREIGN KEY (user_id) REFERENCES users (id);",
    );
    fires(
        rule,
        "ALTER TABLE items ADD CONSTRAINT ck_price CHECK (price > 0);",
    );
    silent(
        rule,
        "ALTER TABLE items ADD CONSTRAINT fk_user FOREIGN KEY (user_id) REFERENCES users (id) \
         NOT VALID;\nALTER TABLE items VALIDATE CONSTRAINT fk_user;",
    );
    silent(
        rule,
        "ALTER TABLE items ADD CONSTRAINT ck_price CHECK (price > 0) NOT VALID;",
    );
    silent(
        rule,
        "-- qvdiff:allow constraint-without-not-valid \"checked in staging\"\n\
         ALTER TABLE items ADD CONSTRAINT ck_price CHECK (price > 0);",
    );
}

#[test]
fn set_not_null_scans_unless_a_validated_check_proves_it() {
    let rule = Rule::SetNotNullScans;
    fires(rule, "ALTER TABLE items ALTER COLUMN notes SET NOT NULL;");
    // Not validated yet: the server still scans.
    fires(
        rule,
        "ALTER TABLE items ADD CONSTRAINT nn CHECK (notes IS NOT NULL) NOT VALID;\n\
         ALTER TABLE items ALTER COLUMN notes SET NOT NULL;",
    );
    silent(
        rule,
        "ALTER TABLE items ADD CONSTRAINT nn CHECK (notes IS NOT NULL) NOT VALID;\n\
         ALTER TABLE items VALIDATE CONSTRAINT nn;\n\
         ALTER TABLE items ALTER COLUMN notes SET NOT NULL;\n\
         ALTER TABLE items DROP CONSTRAINT nn;",
    );
    silent(
        rule,
        "-- qvdiff:allow set-not-null-scans \"small table\"\n\
         ALTER TABLE items ALTER COLUMN notes SET NOT NULL;",
    );
}

#[test]
fn type_changes_that_rewrite() {
    let rule = Rule::TypeChangeRewrites;
    fires(rule, "ALTER TABLE items ALTER COLUMN price TYPE bigint;");
    fires(
        rule,
        "ALTER TABLE items ALTER COLUMN notes TYPE varchar(10);",
    );
    silent(
        rule,
        "ALTER TABLE items ALTER COLUMN notes TYPE varchar(40);",
    );
    silent(rule, "ALTER TABLE items ALTER COLUMN notes TYPE text;");
    silent(
        rule,
        "-- qvdiff:allow type-change-rewrites \"table is tiny\"\n\
         ALTER TABLE items ALTER COLUMN price TYPE bigint;",
    );
}

#[test]
fn volatile_defaults_on_new_columns() {
    let rule = Rule::VolatileDefault;
    fires(
        rule,
        "ALTER TABLE items ADD COLUMN token uuid DEFAULT gen_random_uuid();",
    );
    fires(
        rule,
        "ALTER TABLE items ADD COLUMN seen timestamptz DEFAULT clock_timestamp();",
    );
    silent(
        rule,
        "ALTER TABLE items ADD COLUMN seen timestamptz DEFAULT now();",
    );
    silent(
        rule,
        "ALTER TABLE items ADD COLUMN qty integer NOT NULL DEFAULT 1;",
    );
    silent(
        rule,
        "-- qvdiff:allow volatile-default \"few rows\"\n\
         ALTER TABLE items ADD COLUMN r double precision DEFAULT random();",
    );
}

#[test]
fn renames_and_drops_without_expand_contract() {
    let rule = Rule::ExpandContract;
    fires(
        rule,
        "ALTER TABLE items RENAME COLUMN notes TO description;",
    );
    fires(rule, "ALTER TABLE items RENAME TO products;");
    fires(rule, "ALTER TABLE items DROP COLUMN notes;");
    fires(rule, "DROP TABLE items;");
    silent(
        rule,
        "CREATE TABLE tags (id bigint PRIMARY KEY, name text);\n\
         ALTER TABLE tags RENAME COLUMN name TO label;",
    );
    silent(
        rule,
        "-- qvdiff:allow expand-contract \"no release reads it since v3\"\n\
         ALTER TABLE items DROP COLUMN notes;",
    );
}

#[test]
fn foreign_keys_without_an_index() {
    let rule = Rule::ForeignKeyWithoutIndex;
    fires(
        rule,
        "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));",
    );
    silent(
        rule,
        "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));\n\
         CREATE INDEX ix_orders_user ON orders (user_id);",
    );
    // items.user_id has its index already.
    silent(
        rule,
        "ALTER TABLE items ADD CONSTRAINT fk_user FOREIGN KEY (user_id) REFERENCES users (id) \
         NOT VALID;",
    );
    silent(
        rule,
        "-- qvdiff:allow foreign-key-without-index \"orders are never deleted\"\n\
         CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));",
    );
}

#[test]
fn timestamps_without_time_zone() {
    let rule = Rule::TimestampWithoutTimeZone;
    fires(
        rule,
        "CREATE TABLE events (id bigint PRIMARY KEY, at timestamp NOT NULL);",
    );
    fires(
        rule,
        "ALTER TABLE items ADD COLUMN sold_at timestamp without time zone;",
    );
    silent(rule, "ALTER TABLE items ADD COLUMN sold_at timestamptz;");
    silent(
        rule,
        "ALTER TABLE items ADD COLUMN sold_at timestamp with time zone;",
    );
    silent(
        rule,
        "-- qvdiff:allow timestamp-without-time-zone \"local opening hours\"\n\
         ALTER TABLE items ADD COLUMN opens timestamp;",
    );
}

#[test]
fn findings_sit_on_the_statement_line() {
    let found = findings("SELECT 1;\nCREATE INDEX ix_notes ON items (notes);");
    assert!(found.contains(&(Rule::NonConcurrentIndex, 2)), "{found:?}");
}

/// What the planner writes for a foreign key, a CHECK and nullable → NOT NULL (with a fill
/// value) on a table that exists is the safe form: the rules judging those locks stay silent
/// on it, as they fire on the plain statements above.
#[test]
fn the_planners_forms_on_existing_tables_are_silent() {
    let mut scratch = ReplayedSchema::default();
    scratch.apply("0", SETUP).expect("setup");
    let dialect = crate::Postgres::default();
    let before = dialect.normalize(
        &scratch
            .analyze("1", "SELECT 1;", "SELECT 1;")
            .expect("modelled")
            .before,
    );
    let mut after = before.clone();
    let items = after
        .tables
        .iter_mut()
        .find(|t| t.name == "items")
        .expect("items");
    items.foreign_keys.push(qvdiff_core::ForeignKey {
        columns: vec!["user_id".into()],
        ref_table: "users".into(),
        ref_columns: vec!["id".into()],
        on_delete: qvdiff_core::FkAction::NoAction,
        on_update: qvdiff_core::FkAction::NoAction,
    });
    items.checks.push(qvdiff_core::Check {
        name: "ck_price".into(),
        expr: "price > 0".into(),
    });
    let notes = items
        .columns
        .iter_mut()
        .find(|c| c.name == "notes")
        .expect("notes");
    notes.nullable = false;
    notes.backfill = Some(qvdiff_core::DefaultValue::Text("none".into()));
    let changes = qvdiff_core::diff(&before, &after, &qvdiff_core::Renames::default());
    let plan = dialect.plan(&before, &after, &changes).expect("plan");
    let up = qvdiff_core::migration::render_steps(&plan.steps);
    assert!(up.contains("VALIDATE CONSTRAINT"), "{up}");
    for rule in [Rule::ConstraintWithoutNotValid, Rule::SetNotNullScans] {
        silent(rule, &up);
    }
}

#[test]
fn unique_from_a_concurrently_built_index_is_silent() {
    let safe = "CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);\n\
                ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;";
    // Only the warning about rows that may already be duplicates, on the index build.
    assert_eq!(findings(safe), vec![(Rule::UniqueOnExisting, 1)]);
    // The plain form builds the index under ACCESS EXCLUSIVE.
    fires(
        Rule::NonConcurrentIndex,
        "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
    );
    // On a table the file creates, nobody waits.
    silent(
        Rule::NonConcurrentIndex,
        "CREATE TABLE tags (id bigint PRIMARY KEY, name text);
         ALTER TABLE tags ADD CONSTRAINT tags_name_key UNIQUE (name);",
    );
}

/// The lines (1-based in `contract`) of the `expand-contract` findings of a contract revision
/// whose up is `contract`, applied after an expand revision whose up is `expand`, over
/// [`SETUP`]; the expand's facts are known to lint when `known`.
fn contract_findings(expand: &str, contract: &str, known: bool) -> Vec<usize> {
    let dialect = crate::Postgres::default();
    let mut scratch = ReplayedSchema::default();
    scratch.apply("0", SETUP).expect("setup");
    let expanded = scratch.analyze("1", expand, "SELECT 1;").expect("modelled");
    let mut expand_facts = dialect.facts_of(&expanded.before, &expanded.after, expand);
    if !known {
        expand_facts.clear();
    }
    scratch.apply("1", expand).expect("expand");
    let analysis = scratch
        .analyze("2", contract, "SELECT 1;")
        .expect("modelled");
    assert!(analysis.failure.is_none(), "{:?}", analysis.failure);
    let text = format!("-- qvdiff:contract\n{contract}");
    let facts = FileFacts {
        text: &text,
        up_text: contract,
        down_text: "SELECT 1;",
        up: section(contract, 0),
        down: section("SELECT 1;", 0),
        is_merge: false,
        up_facts: dialect.facts_of(&analysis.before, &analysis.after, contract),
        type_name: &|ty| dialect.type_name(ty),
        analysis: Some(analysis),
        expand_facts,
    };
    lint_file(&facts)
        .into_iter()
        .filter(|f| f.rule == Rule::ExpandContract)
        .map(|f| f.line)
        .collect()
}

#[test]
fn a_contract_completes_only_what_its_expand_copied() {
    // The expand carries items.price (a type change through price_new) and items.notes (a
    // rename to remarks): new columns, each filled from the old one.
    let expand = "ALTER TABLE items ADD COLUMN price_new bigint;\n\
                  UPDATE items SET price_new = price WHERE price_new IS NULL AND price IS NOT NULL;\n\
                  ALTER TABLE items ADD COLUMN remarks varchar(20);\n\
                  UPDATE items SET remarks = notes WHERE remarks IS NULL AND notes IS NOT NULL;\n";
    let generated = "ALTER TABLE items DROP COLUMN price;\n\
                     ALTER TABLE items RENAME COLUMN price_new TO price;\n\
                     ALTER TABLE items DROP COLUMN notes;\n";
    assert_eq!(
        contract_findings(expand, generated, true),
        Vec::<usize>::new()
    );
    // Edited after review: a drop and renames the expand prepared nothing for.
    let edited = format!(
        "{generated}ALTER TABLE items DROP COLUMN user_id;\n\
         ALTER TABLE users RENAME COLUMN email TO mail;\n\
         ALTER TABLE items RENAME COLUMN price TO amount;\n"
    );
    assert_eq!(contract_findings(expand, &edited, true), [4, 5, 6]);
    // Without the expand's facts nothing counts as completed.
    assert_eq!(contract_findings(expand, generated, false), [1, 2, 3]);
}
