//! PostgreSQL with the real binary on a real server: the example app's PostgreSQL history with
//! rows in it, the workflow of a PostgreSQL-only project, a SQLite project that keeps both
//! histories, `qvdiff port` of 100 000 rows (compared value by value, independently of qvdiff's own
//! checksums) and its refusals, concurrent upgrades, and bad input at the boundary.
//!
//! Every test needs a server (`QVDIFF_TEST_POSTGRES_URL`, see `qvdiff_postgres::testing`); without
//! one it says "skipped" on stderr and passes, unless `QVDIFF_REQUIRE_POSTGRES=1`.

use super::support::{base_command, example_app, Project, Run};
use postgres::Client;
use qvdiff_postgres::testing::TestDatabase;
use rusqlite::types::ValueRef;

/// The example app's revisions, in order.
const FIRST: &str = "20261125133834";
const SECOND: &str = "20261125133835";
const THIRD: &str = "20261125133836";
const FOURTH: &str = "20261127100000";
const HEAD: &str = "20261128100000";

/// A password put in URLs: it must never be printed.
const SECRET: &str = "s3cr3t-pw";

/// A fresh database on the test server, or `None` (test skipped) when there is none.
fn database(label: &str) -> Option<TestDatabase> {
    TestDatabase::create(label)
}

/// `.sql` file names directly in `dir` of the project, sorted.
fn sql_files(p: &Project, dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(p.path(dir))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    names
}

/// The text of one section (`-- qvdiff:up` / `-- qvdiff:down`) of a migration file.
fn section<'a>(file: &'a str, marker: &str) -> &'a str {
    let start = file.find(marker).expect("marker") + marker.len();
    let rest = &file[start..];
    // The next section marker ends it (a `-- qvdiff:batch` line belongs to the section).
    ["-- qvdiff:up", "-- qvdiff:down"]
        .iter()
        .filter_map(|next| rest.find(next))
        .min()
        .map_or(rest, |end| &rest[..end])
        .trim()
}

/// `url` with `password` for its user (the test server trusts local connections, so any
/// password connects).
fn with_password(url: &str, password: &str) -> String {
    let start = url.find("://").expect("scheme") + 3;
    let at = start + url[start..].find('@').expect("user in the URL");
    let user = url[start..at].split(':').next().unwrap();
    format!("{}{user}:{password}{}", &url[..start], &url[at..])
}

/// Revisions in the ledger, in applied order (empty without a ledger).
fn ledger(client: &mut Client) -> Vec<String> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('public.qvdiff_migrations') IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    if !exists {
        return Vec::new();
    }
    client
        .query(
            "SELECT revision FROM qvdiff_migrations ORDER BY applied_order",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Every relation outside the system schemas as `schema.name kind`, sorted (from pg_catalog).
fn relations(client: &mut Client) -> Vec<String> {
    client
        .query(
            "SELECT n.nspname || '.' || c.relname || ' ' || c.relkind::text \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg_toast%' \
             ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Tables (ordinary and partitioned), views and foreign tables outside the system schemas.
fn tables(client: &mut Client) -> Vec<String> {
    client
        .query(
            "SELECT c.relname::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg_toast%' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
             ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Column names of a table, in order.
fn columns(client: &mut Client, table: &str) -> Vec<String> {
    client
        .query(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// `(data_type, is_nullable)` of a column.
fn column_type(client: &mut Client, table: &str, column: &str) -> (String, String) {
    let row = client
        .query_one(
            "SELECT data_type::text, is_nullable::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2",
            &[&table, &column],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

fn count(client: &mut Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

/// Everything a command could change in a database, as text: schemas, relations, columns,
/// constraints, indexes, sequences and every row of every table (the ledger included).
pub(super) fn dump(client: &mut Client) -> String {
    let mut out = String::new();
    let queries = [
        "SELECT nspname::text FROM pg_catalog.pg_namespace \
         WHERE nspname NOT LIKE 'pg_%' AND nspname <> 'information_schema' ORDER BY 1",
        "SELECT n.nspname || '.' || c.relname || ' ' || c.relkind::text \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1",
        "SELECT concat_ws(' ', table_schema, table_name, column_name, data_type, is_nullable, \
                column_default, character_maximum_length::text, is_identity) \
         FROM information_schema.columns \
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema') \
         ORDER BY table_schema, table_name, ordinal_position",
        "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) \
         FROM pg_catalog.pg_constraint \
         WHERE connamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace) \
         ORDER BY 1",
        "SELECT indexdef FROM pg_catalog.pg_indexes \
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
        "SELECT concat_ws(' ', schemaname, sequencename, last_value::text) \
         FROM pg_catalog.pg_sequences ORDER BY 1",
        "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables \
         WHERE table_type = 'BASE TABLE' \
           AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    ];
    let mut names = Vec::new();
    for (i, sql) in queries.iter().enumerate() {
        for row in client.query(*sql, &[]).unwrap() {
            let line: String = row.get(0);
            if i == queries.len() - 1 {
                names.push(line.clone());
            }
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str("--\n");
    }
    for name in names {
        out.push_str(&format!("rows of {name}:\n"));
        for row in client
            .query(&format!("SELECT t::text FROM {name} t ORDER BY 1"), &[])
            .unwrap()
        {
            let line: String = row.get(0);
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// Lines of stderr that start an error report.
fn error_lines(run: &Run) -> usize {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .count()
}

// ---------------------------------------------------------------------------------------------
// 1. The example app's PostgreSQL history, with rows in it
// ---------------------------------------------------------------------------------------------

/// One users row as the first revision declares it.
#[derive(Debug, Clone, PartialEq)]
struct UserRow {
    id: i64,
    email: String,
    display_name: String,
    created_at: String,
}

/// One items row with the first revision's columns (floats by their bits: -0.0 is not 0.0).
#[derive(Debug, Clone, PartialEq)]
struct ItemRow {
    id: i64,
    user_id: i64,
    title: String,
    sku: String,
    description: Option<String>,
    cost: u64,
    price: u64,
    quantity: i64,
    is_active: bool,
    created_at: String,
    updated_at: String,
}

fn users(client: &mut Client) -> Vec<UserRow> {
    client
        .query(
            "SELECT id, email::text, display_name::text, created_at::text FROM users ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| UserRow {
            id: r.get(0),
            email: r.get(1),
            display_name: r.get(2),
            created_at: r.get(3),
        })
        .collect()
}

fn items(client: &mut Client) -> Vec<ItemRow> {
    client
        .query(
            "SELECT id, user_id, title::text, sku::text, description, cost, price, quantity, \
                    is_active, created_at::text, updated_at::text FROM items ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| ItemRow {
            id: r.get(0),
            user_id: r.get(1),
            title: r.get(2),
            sku: r.get(3),
            description: r.get(4),
            cost: r.get::<_, f64>(5).to_bits(),
            price: r.get::<_, f64>(6).to_bits(),
            quantity: r.get(7),
            is_active: r.get(8),
            created_at: r.get(9),
            updated_at: r.get(10),
        })
        .collect()
}

#[test]
fn example_app_history_on_postgres_keeps_every_row_through_upgrade_and_downgrade() {
    let Some(db) = database("example_app_rows") else {
        return;
    };
    let p = example_app();
    let url = db.url.as_str();
    let mut client = db.connect();

    p.qvdiff(&["upgrade", FIRST, "--db", url]).expect_code(0);
    assert_eq!(ledger(&mut client), [FIRST]);
    assert_eq!(tables(&mut client), ["items", "qvdiff_migrations", "users"]);

    // Users and items with awkward values, typed through the client.
    let user_values: [(&str, &str, Option<&str>); 3] = [
        ("ann@example.com", "Ann", Some("2024-02-29 12:34:56.789")),
        (
            "o'brien+\"x\"@example.com",
            "Tab\there, new\nline, back\\slash",
            None,
        ),
        (
            "zoë@exämple.com",
            "日本語 🚀 e\u{301}",
            Some("1970-01-01 00:00:00"),
        ),
    ];
    let mut expected_users = Vec::new();
    for (email, name, created) in user_values {
        let row = match created {
            Some(ts) => client
                .query_one(
                    "INSERT INTO users (email, display_name, created_at) \
                     VALUES ($1, $2, $3::text::timestamp) RETURNING id, created_at::text",
                    &[&email, &name, &ts],
                )
                .unwrap(),
            None => client
                .query_one(
                    "INSERT INTO users (email, display_name) VALUES ($1, $2) \
                     RETURNING id, created_at::text",
                    &[&email, &name],
                )
                .unwrap(),
        };
        if let Some(ts) = created {
            assert_eq!(row.get::<_, String>(1), ts);
        }
        expected_users.push(UserRow {
            id: row.get(0),
            email: email.to_string(),
            display_name: name.to_string(),
            created_at: row.get(1),
        });
    }
    #[allow(clippy::type_complexity)]
    let item_values: [(usize, &str, &str, Option<&str>, f64, f64, i64, bool); 4] = [
        (
            0,
            "Walnut \"desk\" lamp",
            "LAMP-001",
            None,
            0.1,
            1e300,
            i64::MAX,
            true,
        ),
        (
            1,
            "tab\tnewline\nCR\r\\N backslash \\",
            "O'REILLY-1",
            Some("a 'quoted' description\nwith lines"),
            -0.0,
            5e-324,
            i64::MIN,
            false,
        ),
        (2, "", "EMPTY-TITLE", Some(""), 123456789.125, -2.5, 0, true),
        (
            2,
            "żółć 🚀",
            "UNICODE-✓",
            Some("NULL"),
            f64::MAX,
            1.0 / 3.0,
            -1,
            false,
        ),
    ];
    let mut expected_items = Vec::new();
    for (i, (user, title, sku, description, cost, price, quantity, active)) in
        item_values.into_iter().enumerate()
    {
        let user_id = expected_users[user].id;
        let created = format!("2025-0{}-15 08:30:00", i + 1);
        let row = client
            .query_one(
                "INSERT INTO items (user_id, title, sku, description, cost, price, quantity, \
                                    is_active, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::timestamp) \
                 RETURNING id, updated_at::text",
                &[
                    &user_id,
                    &title,
                    &sku,
                    &description,
                    &cost,
                    &price,
                    &quantity,
                    &active,
                    &created,
                ],
            )
            .unwrap();
        expected_items.push(ItemRow {
            id: row.get(0),
            user_id,
            title: title.to_string(),
            sku: sku.to_string(),
            description: description.map(str::to_string),
            cost: cost.to_bits(),
            price: price.to_bits(),
            quantity,
            is_active: active,
            created_at: created,
            updated_at: row.get(1),
        });
    }
    assert_eq!(users(&mut client), expected_users);
    assert_eq!(items(&mut client), expected_items);

    // Up to head: every value intact, the new columns NULL.
    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    assert_eq!(ledger(&mut client), [FIRST, SECOND, THIRD, FOURTH, HEAD]);
    assert_eq!(
        tables(&mut client),
        ["items", "listings", "qvdiff_migrations", "sales", "users"]
    );
    assert_eq!(users(&mut client), expected_users);
    assert_eq!(items(&mut client), expected_items);
    for column in ["supplier", "tags", "listed_on"] {
        assert!(columns(&mut client, "items").contains(&column.to_string()));
    }
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM items \
             WHERE supplier IS NOT NULL OR tags IS NOT NULL OR listed_on IS NOT NULL"
        ),
        0
    );
    assert_eq!(count(&mut client, "SELECT count(*) FROM items"), 4);

    // Rows in the new tables and columns, which the downgrade drops.
    let first_item = expected_items[0].id;
    let second_item = expected_items[1].id;
    client
        .execute(
            "INSERT INTO sales (item_id, sale_price, sold_at) \
             VALUES ($1, 39.5, '2025-03-01 10:00:00'), (NULL, 0.1, '2025-03-02 11:00:00')",
            &[&first_item],
        )
        .unwrap();
    client
        .execute(
            "INSERT INTO listings (item_id, marketplace, external_id, url) \
             VALUES ($1, 'ebay', 'E-1', 'https://example.com/?a=1&b=\"2\"')",
            &[&second_item],
        )
        .unwrap();
    client
        .execute(
            "UPDATE items SET supplier = 'Acme', tags = '[\"a\", \"b\"]', \
                              listed_on = '2025-01-31' WHERE id = $1",
            &[&first_item],
        )
        .unwrap();
    // An instant written with an offset is the same moment in UTC (`timestamptz`).
    client
        .execute(
            "UPDATE sales SET updated_at = '2025-03-01 12:00:00+02:00' WHERE item_id = $1",
            &[&first_item],
        )
        .unwrap();
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM sales \
             WHERE updated_at = TIMESTAMPTZ '2025-03-01 10:00:00Z'"
        ),
        1
    );
    assert_eq!(count(&mut client, "SELECT count(*) FROM sales"), 2);
    assert_eq!(count(&mut client, "SELECT count(*) FROM listings"), 1);
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM items WHERE tags @> '[\"a\"]'::jsonb"
        ),
        1
    );

    // Back to the first revision: users and items as inserted.
    p.qvdiff(&["downgrade", FIRST, "--db", url]).expect_code(0);
    assert_eq!(ledger(&mut client), [FIRST]);
    assert_eq!(tables(&mut client), ["items", "qvdiff_migrations", "users"]);
    assert_eq!(
        columns(&mut client, "items"),
        [
            "id",
            "user_id",
            "title",
            "sku",
            "description",
            "cost",
            "price",
            "quantity",
            "is_active",
            "created_at",
            "updated_at"
        ]
    );
    assert_eq!(users(&mut client), expected_users);
    assert_eq!(items(&mut client), expected_items);

    // To base: nothing but the ledger is left (tables, views, indexes, sequences).
    p.qvdiff(&["downgrade", "base", "--db", url]).expect_code(0);
    assert_eq!(ledger(&mut client), Vec::<String>::new());
    assert_eq!(tables(&mut client), ["qvdiff_migrations"]);
    let left: Vec<String> = relations(&mut client)
        .into_iter()
        .filter(|r| !r.starts_with("public.qvdiff_migrations"))
        .collect();
    assert!(left.is_empty(), "left after downgrade base: {left:?}");
    let types = count(
        &mut client,
        "SELECT count(*) FROM pg_catalog.pg_type t \
         JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
         WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c') \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid)",
    );
    assert_eq!(types, 0, "types left after downgrade base");

    // And up again.
    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    assert_eq!(ledger(&mut client), [FIRST, SECOND, THIRD, FOURTH, HEAD]);
    assert_eq!(
        tables(&mut client),
        ["items", "listings", "qvdiff_migrations", "sales", "users"]
    );
    assert_eq!(count(&mut client, "SELECT count(*) FROM users"), 0);
    let check = p.qvdiff(&["check", "--db", url]).expect_code(0);
    let said = format!("{}{}", check.stdout, check.stderr);
    assert!(said.contains("OK"), "{said}");
}

// ---------------------------------------------------------------------------------------------
// 2. A PostgreSQL-only project
// ---------------------------------------------------------------------------------------------

const PG_CONFIG: &str = "models = [\"src\"]\nmigrations = \"migrations\"\ndialect = \"postgres\"\n";

const PG_MODELS: &str = r#"
use qvdiff::Model;

#[derive(Model)]
#[model(table = "items")]
pub struct Item {
    #[column(primary_key, autoincrement)]
    pub id: i64,
    #[column(max_length = 200)]
    pub title: String,
    pub quantity: i32,
    pub price: Option<f64>,
}
"#;

/// `(id, title, quantity, price)` of every item, quantity read as bigint whatever its type.
fn item_values(client: &mut Client) -> Vec<(i64, String, i64, Option<f64>)> {
    client
        .query(
            "SELECT id, title::text, quantity::bigint, price FROM items ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

#[test]
fn postgres_project_workflow_keeps_rows_through_add_column_type_change_and_backfill() {
    let Some(db) = database("pg_workflow") else {
        return;
    };
    let url = db.url.as_str();
    let p = Project::empty();
    p.write("qvdiff.toml", PG_CONFIG);
    p.write("src/models.rs", PG_MODELS);

    // Offline: no database in the config, none in the environment, none on the command line.
    let first = p.qvdiff(&["migrate", "-m", "create items"]).expect_code(0);
    let files = sql_files(&p, "migrations");
    assert_eq!(files.len(), 1, "{first:?}");
    let create = p.read(&format!("migrations/{}", files[0]));
    let up = section(&create, "-- qvdiff:up");
    assert!(up.contains("CREATE TABLE \"items\""), "{up}");
    assert!(up.contains("GENERATED BY DEFAULT AS IDENTITY"), "{up}");
    assert!(up.contains("\"quantity\" integer NOT NULL"), "{up}");
    assert!(up.contains("\"price\" double precision,"), "{up}");
    p.qvdiff(&["check"]).expect_code(0);

    let mut client = db.connect();
    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    assert_eq!(ledger(&mut client).len(), 1);
    for (title, quantity, price) in [
        ("Walnut \"desk\" lamp", i32::MAX, Some(1.5)),
        ("tab\tnew\nline \\ ü 🚀", i32::MIN, None),
        ("", 0, Some(0.1)),
    ] {
        client
            .execute(
                "INSERT INTO items (title, quantity, price) VALUES ($1, $2, $3)",
                &[&title, &quantity, &price],
            )
            .unwrap();
    }
    let rows = item_values(&mut client);
    assert_eq!(
        rows.iter()
            .map(|r| (r.1.as_str(), r.2, r.3))
            .collect::<Vec<_>>(),
        [
            ("Walnut \"desk\" lamp", i64::from(i32::MAX), Some(1.5)),
            ("tab\tnew\nline \\ ü 🚀", i64::from(i32::MIN), None),
            ("", 0, Some(0.1)),
        ]
    );

    // A new nullable field: check sees it, migrate writes exactly one ALTER.
    p.write(
        "src/models.rs",
        &PG_MODELS.replace(
            "    pub price: Option<f64>,\n",
            "    pub price: Option<f64>,\n    pub notes: Option<String>,\n",
        ),
    );
    let check = p.qvdiff(&["check"]).expect_code(1);
    assert!(check.stdout.contains("items.notes"), "{}", check.stdout);
    p.qvdiff(&["migrate", "-m", "add notes field"])
        .expect_code(0);
    let files = sql_files(&p, "migrations");
    assert_eq!(files.len(), 2, "{files:?}");
    let notes_file = files
        .iter()
        .find(|f| f.ends_with("_add_notes_field.sql"))
        .expect("the notes migration");
    let notes = p.read(&format!("migrations/{notes_file}"));
    assert_eq!(
        section(&notes, "-- qvdiff:up"),
        "ALTER TABLE \"items\" ADD COLUMN \"notes\" text;"
    );
    let down = section(&notes, "-- qvdiff:down");
    assert!(
        down.starts_with("ALTER TABLE \"items\" DROP COLUMN \"notes\";"),
        "{down}"
    );
    assert!(down.contains("DESTRUCTIVE"), "{down}");
    assert_eq!(down.lines().count(), 1, "{down}");
    p.qvdiff(&["check"]).expect_code(0);

    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    assert_eq!(ledger(&mut client).len(), 2);
    assert_eq!(item_values(&mut client), rows);
    assert!(columns(&mut client, "items").contains(&"notes".to_string()));
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM items WHERE notes IS NULL"
        ),
        3
    );

    p.qvdiff(&["downgrade", "-1", "--db", url]).expect_code(0);
    assert_eq!(ledger(&mut client).len(), 1);
    assert_eq!(item_values(&mut client), rows);
    assert_eq!(
        columns(&mut client, "items"),
        ["id", "title", "quantity", "price"]
    );

    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    assert_eq!(ledger(&mut client).len(), 2);
    p.qvdiff(&["check", "--db", url]).expect_code(0);

    // A type change (integer -> bigint) and NULL -> NOT NULL with a backfill, over rows.
    p.write(
        "src/models.rs",
        &PG_MODELS
            .replace("pub quantity: i32,", "pub quantity: i64,")
            .replace(
                "    pub price: Option<f64>,\n",
                "    #[column(backfill = 0.25)]\n    pub price: f64,\n    pub notes: Option<String>,\n",
            ),
    );
    p.qvdiff(&["check"]).expect_code(1);
    p.qvdiff(&["migrate", "-m", "widen quantity, require price"])
        .expect_code(0);
    let files = sql_files(&p, "migrations");
    assert_eq!(files.len(), 3, "{files:?}");
    let widen_file = files
        .iter()
        .find(|f| f.ends_with("_widen_quantity_require_price.sql"))
        .expect("the widen migration");
    let widen = p.read(&format!("migrations/{widen_file}"));
    let up = section(&widen, "-- qvdiff:up");
    assert!(up.contains("\"quantity\" TYPE bigint"), "{up}");
    assert!(
        up.contains("UPDATE \"items\" SET \"price\" = 0.25 WHERE \"price\" IS NULL;"),
        "{up}"
    );
    assert!(up.contains("\"price\" SET NOT NULL"), "{up}");
    p.qvdiff(&["check"]).expect_code(0);

    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    assert_eq!(ledger(&mut client).len(), 3);
    assert_eq!(
        column_type(&mut client, "items", "quantity"),
        ("bigint".to_string(), "NO".to_string())
    );
    assert_eq!(
        column_type(&mut client, "items", "price"),
        ("double precision".to_string(), "NO".to_string())
    );
    let backfilled: Vec<_> = rows
        .iter()
        .map(|(id, title, quantity, price)| {
            (*id, title.clone(), *quantity, Some(price.unwrap_or(0.25)))
        })
        .collect();
    assert_eq!(item_values(&mut client), backfilled);
    p.qvdiff(&["check", "--db", url]).expect_code(0);

    // A value only the new type holds: the down is refused and changes nothing.
    client
        .execute(
            "INSERT INTO items (title, quantity, price) VALUES ('big', 9000000000, 2)",
            &[],
        )
        .unwrap();
    let before = dump(&mut client);
    let refused = p.qvdiff(&["downgrade", "--db", url]).expect_code(2);
    assert!(
        refused.stderr.contains(widen_file.trim_end_matches(".sql")),
        "{}",
        refused.stderr
    );
    assert_eq!(
        dump(&mut client),
        before,
        "a refused downgrade changed the database"
    );
    client
        .execute("DELETE FROM items WHERE title = 'big'", &[])
        .unwrap();

    p.qvdiff(&["downgrade", "--db", url]).expect_code(0);
    assert_eq!(ledger(&mut client).len(), 2);
    assert_eq!(
        column_type(&mut client, "items", "quantity"),
        ("integer".to_string(), "NO".to_string())
    );
    assert_eq!(
        column_type(&mut client, "items", "price"),
        ("double precision".to_string(), "YES".to_string())
    );
    // The backfilled value stays (nothing records which rows were NULL); the others are intact.
    assert_eq!(item_values(&mut client), backfilled);
    let quantities: Vec<i32> = client
        .query("SELECT quantity FROM items ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(quantities, [i32::MAX, i32::MIN, 0]);
}

// ---------------------------------------------------------------------------------------------
// 3. A SQLite project that keeps a PostgreSQL history too
// ---------------------------------------------------------------------------------------------

const DUAL_CONFIG: &str = "models = [\"src\"]\nmigrations = \"migrations\"\n\
database = \"sqlite://app.db\"\ndialect = \"sqlite\"\n\n\
[postgres]\nmigrations = \"migrations/postgres\"\n";

const DUAL_MODELS: &str = r#"
use qvdiff::Model;

#[derive(Model)]
#[model(table = "items")]
pub struct Item {
    #[column(primary_key, autoincrement)]
    pub id: i64,
    #[column(max_length = 200)]
    pub title: String,
    pub price: f64,
}
"#;

/// The `-- qvdiff revision:` and `-- parents:` header lines of a migration file.
fn header(file: &str) -> (String, String) {
    let line = |prefix: &str| {
        file.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{file}"))
            .trim()
            .to_string()
    };
    (line("-- qvdiff revision:"), line("-- parents:"))
}

#[test]
fn dual_history_migrate_writes_one_file_per_dialect_and_check_watches_both() {
    let Some(db) = database("dual_history") else {
        return;
    };
    let url = db.url.as_str();
    let p = Project::empty();
    p.write("qvdiff.toml", DUAL_CONFIG);
    p.write("src/models.rs", DUAL_MODELS);

    p.qvdiff(&["migrate", "-m", "x"]).expect_code(0);
    let sqlite = sql_files(&p, "migrations");
    let postgres = sql_files(&p, "migrations/postgres");
    assert_eq!(sqlite.len(), 1, "{sqlite:?}");
    assert_eq!(sqlite, postgres, "one file per history, same name");
    let lite = p.read(&format!("migrations/{}", sqlite[0]));
    let pg = p.read(&format!("migrations/postgres/{}", postgres[0]));
    assert_eq!(header(&lite), header(&pg));
    assert!(sqlite[0].starts_with(&header(&lite).0), "{}", sqlite[0]);
    assert!(
        section(&lite, "-- qvdiff:up").contains("\"price\" REAL NOT NULL"),
        "{lite}"
    );
    assert!(
        section(&pg, "-- qvdiff:up").contains("\"price\" double precision NOT NULL"),
        "{pg}"
    );
    p.qvdiff(&["check"]).expect_code(0);

    // Both histories build their database.
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    let mut client = db.connect();
    assert_eq!(ledger(&mut client), [header(&pg).0]);
    p.qvdiff(&["check", "--db", url]).expect_code(0);
    p.qvdiff(&["check", "--db", "sqlite://app.db"])
        .expect_code(0);

    // A model change without a migration: both histories are behind, and check says so.
    p.write(
        "src/models.rs",
        &DUAL_MODELS.replace(
            "    pub price: f64,\n",
            "    pub price: f64,\n    pub notes: Option<String>,\n",
        ),
    );
    let check = p.qvdiff(&["check"]).expect_code(1);
    let out = format!("{}{}", check.stdout, check.stderr);
    assert_eq!(out.matches("items.notes").count(), 2, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("migrations/postgres") && l.contains("differ")),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.contains("migrations")
            && !l.contains("migrations/postgres")
            && l.contains("differ")),
        "{out}"
    );
    p.qvdiff(&["check", "--db", url]).expect_code(1);
    // `diff --db` against the PostgreSQL database plans in PostgreSQL, from that database.
    let diff = p.qvdiff(&["diff", "--sql", "--db", url]).expect_code(0);
    assert!(
        diff.stdout
            .contains("ALTER TABLE \"items\" ADD COLUMN \"notes\" text;"),
        "{}",
        diff.stdout
    );
    let diff = p.qvdiff(&["diff", "--sql"]).expect_code(0);
    assert!(
        diff.stdout
            .contains("ALTER TABLE \"items\" ADD COLUMN \"notes\" TEXT;"),
        "{}",
        diff.stdout
    );

    p.qvdiff(&["migrate", "-m", "add notes"]).expect_code(0);
    let sqlite = sql_files(&p, "migrations");
    let postgres = sql_files(&p, "migrations/postgres");
    assert_eq!(sqlite.len(), 2, "{sqlite:?}");
    assert_eq!(sqlite, postgres);
    let notes = sqlite
        .iter()
        .find(|f| f.ends_with("_add_notes.sql"))
        .unwrap();
    let lite = p.read(&format!("migrations/{notes}"));
    let pg = p.read(&format!("migrations/postgres/{notes}"));
    assert_eq!(header(&lite), header(&pg));
    assert_eq!(
        section(&pg, "-- qvdiff:up"),
        "ALTER TABLE \"items\" ADD COLUMN \"notes\" text;"
    );
    p.qvdiff(&["check"]).expect_code(0);

    client
        .execute("INSERT INTO items (title, price) VALUES ('kept', 0.1)", &[])
        .unwrap();
    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    assert_eq!(ledger(&mut client).len(), 2);
    let row = client
        .query_one("SELECT title::text, price, notes FROM items", &[])
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "kept");
    assert_eq!(row.get::<_, f64>(1), 0.1);
    assert_eq!(row.get::<_, Option<String>>(2), None);
    p.qvdiff(&["check", "--db", url]).expect_code(0);
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    p.qvdiff(&["check", "--db", "sqlite://app.db"])
        .expect_code(0);
}

/// Models whose `created_at` default is `DEFAULT`, and a `created_on` that takes the portable
/// `CURRENT_DATE` on both dialects.
fn dual_default_models(default: &str) -> String {
    format!(
        r#"
use qvdiff::Model;

#[derive(Model)]
#[model(table = "items")]
pub struct Item {{
    #[column(primary_key)]
    pub id: i64,
    pub title: String,
    #[column({default})]
    pub created_at: NaiveDateTime,
    #[column(default_sql = "CURRENT_DATE")]
    pub created_on: NaiveDate,
}}
"#
    )
}

#[test]
fn dual_history_defaults_are_proven_on_both_dialects_and_given_per_dialect() {
    let Some(db) = database("dual_defaults") else {
        return;
    };
    let url = db.url.as_str();
    let p = Project::empty();
    p.write("qvdiff.toml", DUAL_CONFIG);
    std::fs::create_dir_all(p.path("migrations/postgres")).unwrap();

    // PostgreSQL's spelling: SQLite would take the DDL and fail every insert.
    p.write(
        "src/models.rs",
        &dual_default_models("default_sql = \"now()\""),
    );
    let before = p.snapshot();
    let refused = p.qvdiff(&["migrate", "-m", "items"]).expect_code(2);
    assert!(
        refused.stderr.contains("cannot be computed by SQLite")
            && refused.stderr.contains("items.created_at: DEFAULT (now())")
            && refused
                .stderr
                .contains("default_sql(sqlite = \"datetime('now')\", postgres = \"now()\")"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("created_on"), "{}", refused.stderr);
    assert_eq!(p.snapshot(), before, "nothing written");

    // SQLite's spelling: PostgreSQL would refuse the file at upgrade.
    p.write(
        "src/models.rs",
        &dual_default_models("default_sql = \"datetime('now')\""),
    );
    let before = p.snapshot();
    let refused = p.qvdiff(&["migrate", "-m", "items"]).expect_code(2);
    assert!(
        refused.stderr.contains("cannot be computed by PostgreSQL")
            && refused.stderr.contains("items.created_at")
            && refused.stderr.contains("datetime() is SQLite's")
            && refused.stderr.contains("default_sql(sqlite ="),
        "{}",
        refused.stderr
    );
    assert_eq!(p.snapshot(), before, "nothing written");

    // Each dialect its own expression; the portable CURRENT_DATE as is on both.
    p.write(
        "src/models.rs",
        &dual_default_models("default_sql(sqlite = \"datetime('now')\", postgres = \"now()\")"),
    );
    p.qvdiff(&["migrate", "-m", "items"]).expect_code(0);
    let files = sql_files(&p, "migrations");
    assert_eq!(files, sql_files(&p, "migrations/postgres"));
    let lite = p.read(&format!("migrations/{}", files[0]));
    let pg = p.read(&format!("migrations/postgres/{}", files[0]));
    let lite_up = section(&lite, "-- qvdiff:up");
    let pg_up = section(&pg, "-- qvdiff:up");
    assert!(
        lite_up.contains("\"created_at\" DATETIME NOT NULL DEFAULT (datetime('now'))")
            && lite_up.contains("DEFAULT CURRENT_DATE"),
        "{lite}"
    );
    assert!(
        pg_up.contains("\"created_at\" timestamp NOT NULL DEFAULT now()")
            && pg_up.contains("DEFAULT CURRENT_DATE"),
        "{pg}"
    );
    p.qvdiff(&["check"]).expect_code(0);

    // Rows inserted by default on both databases, and no drift read back.
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    let lite_db = rusqlite::Connection::open(p.path("app.db")).unwrap();
    lite_db
        .execute("INSERT INTO items (title) VALUES ('by default')", [])
        .unwrap();
    let (recent, today): (bool, bool) = lite_db
        .query_row(
            "SELECT created_at <= datetime('now') AND created_at > datetime('now', '-1 hour'), \
             created_on = date('now') FROM items",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(recent && today);
    let mut client = db.connect();
    client
        .execute("INSERT INTO items (title) VALUES ('by default')", &[])
        .unwrap();
    let row = client
        .query_one(
            "SELECT created_at <= localtimestamp AND created_at > localtimestamp - interval '1 hour', \
             created_on = CURRENT_DATE FROM items",
            &[],
        )
        .unwrap();
    assert!(row.get::<_, bool>(0) && row.get::<_, bool>(1));
    p.qvdiff(&["check", "--db", url]).expect_code(0);
    p.qvdiff(&["check", "--db", "sqlite://app.db"])
        .expect_code(0);
}

// ---------------------------------------------------------------------------------------------
// 4. qvdiff port: 100 000 rows, compared value by value; refusals change nothing
// ---------------------------------------------------------------------------------------------

/// How a column's values are compared across the two databases.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Int,
    Text,
    Float,
    Bool,
    Json,
    Time,
    /// A `DateTime<Utc>` field: read through each driver as the instant it is.
    Instant,
}

/// One value, in a form both databases' values can be brought to.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Null,
    Int(i64),
    Text(String),
    /// By bits: -0.0 is not 0.0, and no rounding is forgiven.
    Float(u64),
    Bool(bool),
    Json(serde_json::Value),
    /// A date or timestamp: `T` as a space, no trailing zeros in the fraction.
    Time(String),
    /// An instant, whatever offset it was written with.
    Instant(chrono::DateTime<chrono::Utc>),
}

const USER_COLUMNS: &[(&str, Kind)] = &[
    ("id", Kind::Int),
    ("email", Kind::Text),
    ("display_name", Kind::Text),
    ("created_at", Kind::Time),
];

const ITEM_COLUMNS: &[(&str, Kind)] = &[
    ("id", Kind::Int),
    ("user_id", Kind::Int),
    ("title", Kind::Text),
    ("sku", Kind::Text),
    ("description", Kind::Text),
    ("supplier", Kind::Text),
    ("cost", Kind::Float),
    ("price", Kind::Float),
    ("quantity", Kind::Int),
    ("is_active", Kind::Bool),
    ("tags", Kind::Json),
    ("listed_on", Kind::Time),
    ("created_at", Kind::Time),
    ("updated_at", Kind::Time),
];

const SALE_COLUMNS: &[(&str, Kind)] = &[
    ("id", Kind::Int),
    ("item_id", Kind::Int),
    ("sale_price", Kind::Float),
    ("shipping_price", Kind::Float),
    ("fees", Kind::Float),
    ("status", Kind::Text),
    ("sold_at", Kind::Time),
    ("updated_at", Kind::Instant),
];

const LISTING_COLUMNS: &[(&str, Kind)] = &[
    ("id", Kind::Int),
    ("item_id", Kind::Int),
    ("marketplace", Kind::Text),
    ("external_id", Kind::Text),
    ("url", Kind::Text),
    ("listed_at", Kind::Time),
];

fn time_text(raw: &str) -> String {
    let text = raw.replacen('T', " ", 1);
    match text.rfind('.') {
        Some(_) => text.trim_end_matches('0').trim_end_matches('.').to_string(),
        None => text,
    }
}

fn json(raw: &str) -> serde_json::Value {
    serde_json::from_str(raw).unwrap_or_else(|e| panic!("not JSON ({e}): {raw:?}"))
}

/// Every row of a SQLite table (ordered by id), each value as the column's kind reads it.
fn sqlite_rows(conn: &rusqlite::Connection, table: &str, cols: &[(&str, Kind)]) -> Vec<Vec<Val>> {
    let list: Vec<String> = cols.iter().map(|(c, _)| format!("\"{c}\"")).collect();
    let sql = format!("SELECT {} FROM \"{table}\" ORDER BY id", list.join(", "));
    let mut stmt = conn.prepare(&sql).unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        let mut values = Vec::with_capacity(cols.len());
        for (i, (column, kind)) in cols.iter().enumerate() {
            let value = row.get_ref(i).unwrap();
            let text = |t: &[u8]| String::from_utf8(t.to_vec()).unwrap();
            values.push(match (value, kind) {
                (ValueRef::Null, _) => Val::Null,
                (ValueRef::Integer(n), Kind::Int) => Val::Int(n),
                (ValueRef::Integer(n), Kind::Float) => Val::Float((n as f64).to_bits()),
                (ValueRef::Real(f), Kind::Float) => Val::Float(f.to_bits()),
                (ValueRef::Integer(n), Kind::Bool) => Val::Bool(n != 0),
                (ValueRef::Text(t), Kind::Text) => Val::Text(text(t)),
                (ValueRef::Text(t), Kind::Json) => Val::Json(json(&text(t))),
                (ValueRef::Integer(n), Kind::Json) => Val::Json(serde_json::Value::from(n)),
                (ValueRef::Real(f), Kind::Json) => Val::Json(serde_json::Value::from(f)),
                (ValueRef::Text(t), Kind::Time) => Val::Time(time_text(&text(t))),
                // rusqlite's reading of the instant an app wrote (an offset, or none for UTC).
                (ValueRef::Text(_), Kind::Instant) => Val::Instant(row.get(i).unwrap()),
                (other, _) => panic!("{table}.{column}: unexpected SQLite value {other:?}"),
            });
        }
        out.push(values);
    }
    out
}

/// Every row of a PostgreSQL table (ordered by id), each value as the column's kind reads it.
fn postgres_rows(client: &mut Client, table: &str, cols: &[(&str, Kind)]) -> Vec<Vec<Val>> {
    let list: Vec<String> = cols
        .iter()
        .map(|(c, kind)| match kind {
            Kind::Int | Kind::Float | Kind::Bool | Kind::Instant => format!("\"{c}\""),
            Kind::Text | Kind::Json | Kind::Time => format!("\"{c}\"::text"),
        })
        .collect();
    let sql = format!("SELECT {} FROM \"{table}\" ORDER BY id", list.join(", "));
    client
        .query(sql.as_str(), &[])
        .unwrap()
        .iter()
        .map(|row| {
            cols.iter()
                .enumerate()
                .map(|(i, (_, kind))| match kind {
                    Kind::Int => row.get::<_, Option<i64>>(i).map_or(Val::Null, Val::Int),
                    Kind::Float => row
                        .get::<_, Option<f64>>(i)
                        .map_or(Val::Null, |f| Val::Float(f.to_bits())),
                    Kind::Bool => row.get::<_, Option<bool>>(i).map_or(Val::Null, Val::Bool),
                    Kind::Text => row.get::<_, Option<String>>(i).map_or(Val::Null, Val::Text),
                    Kind::Json => row
                        .get::<_, Option<String>>(i)
                        .map_or(Val::Null, |t| Val::Json(json(&t))),
                    Kind::Time => row
                        .get::<_, Option<String>>(i)
                        .map_or(Val::Null, |t| Val::Time(time_text(&t))),
                    Kind::Instant => row
                        .get::<_, Option<chrono::DateTime<chrono::Utc>>>(i)
                        .map_or(Val::Null, Val::Instant),
                })
                .collect()
        })
        .collect()
}

/// Asserts both sides hold the same rows, naming the first differing row and column.
fn assert_same_rows(
    conn: &rusqlite::Connection,
    client: &mut Client,
    table: &str,
    cols: &[(&str, Kind)],
    expected_rows: usize,
) {
    let source = sqlite_rows(conn, table, cols);
    let target = postgres_rows(client, table, cols);
    assert_eq!(source.len(), expected_rows, "{table}: source rows");
    assert_eq!(target.len(), source.len(), "{table}: row counts differ");
    for (n, (s, t)) in source.iter().zip(&target).enumerate() {
        for (i, (column, _)) in cols.iter().enumerate() {
            assert_eq!(
                s[i], t[i],
                "{table} row {n} (id {:?}), column {column}: source vs target",
                s[0]
            );
        }
    }
}

const TEXTS: &[&str] = &[
    "plain",
    "O'Brien's \"quoted\" lamp",
    "tab\there",
    "new\nline",
    "cr\r\nlf",
    "back\\slash \\N \\t \\\\",
    "\\",
    "\\N",
    "NULL",
    "",
    " leading and trailing ",
    "żółć 日本語 🚀 e\u{301} \u{feff}bom",
    "comma, semicolon; pipe| percent% under_score",
    "\u{1}\u{7f} control",
    "ends with a backslash \\",
];

/// (SQLite keeps a REAL that is a whole number as an integer, so -0.0 reads back as 0.0 from the
/// source already; the comparison is against what the source reads.)
const FLOATS: &[f64] = &[
    0.1,
    1e300,
    -0.0,
    0.0,
    -1e-300,
    5e-324,
    f64::MAX,
    f64::MIN_POSITIVE,
    1.0 / 3.0,
    123_456_789.125,
    -2.5,
    9_007_199_254_740_993.0,
    1e-7,
    42.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
];

const INTS: &[i64] = &[0, 1, -1, i64::MAX, i64::MIN, 42, 9_007_199_254_740_993];

const JSONS: &[Option<&str>] = &[
    None,
    Some("[\"a\", \"b\"]"),
    Some("{\"b\": 1, \"a\": [1, 2.5, null, true, false]}"),
    Some("\"a string with \\\"quotes\\\", \\\\ and \\n\""),
    Some("[]"),
    Some("{}"),
    Some("null"),
    Some("{\"ünï\": \"😀\", \"nested\": {\"deep\": [{\"x\": -0.0005}]}, \"tab\": \"\\t\"}"),
    Some("123"),
    Some("\"\\u00e9\\u0041\""),
];

const DATES: &[Option<&str>] = &[
    None,
    Some("2024-02-29"),
    Some("1970-01-01"),
    Some("0001-01-01"),
    Some("9999-12-31"),
];

const DATETIMES: &[&str] = &[
    "2026-01-02 03:04:05",
    "2024-02-29 23:59:59.999999",
    "1999-12-31T00:00:00",
    "2000-01-01 00:00:00.5",
    "1970-01-01 00:00:00",
    "0001-01-01 00:00:00",
];

/// Instants as apps write them to SQLite: with an offset, in UTC with `Z`, or with none (UTC).
const INSTANTS: &[Option<&str>] = &[
    Some("2026-01-02 03:04:05+02:00"),
    None,
    Some("2024-02-29T23:59:59.999999Z"),
    Some("1999-12-31 19:30:00.5-05:30"),
    Some("2026-06-30 12:00:00"),
    Some("2000-01-01 00:00:00+00:00"),
];

const STATUSES: &[&str] = &[
    "pending",
    "shipped",
    "it's \"done\"",
    "ünï\tcode",
    "back\\slash",
];

const USERS: usize = 500;
const ITEMS: usize = 100_000;
const SALES: usize = 3_000;

fn user_id(j: usize) -> i64 {
    (j as i64 + 1) * 2
}

fn item_id(i: usize) -> i64 {
    (i + 1 + (i / 1000) * 3) as i64
}

fn sale_id(j: usize) -> i64 {
    (j + 1 + j / 100) as i64
}

/// Fills a SQLite database at the example app's head with awkward rows (listings stays empty).
fn fill_source(path: &std::path::Path) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut user = tx
            .prepare(
                "INSERT INTO users (id, email, display_name, created_at) VALUES (?1, ?2, ?3, ?4)",
            )
            .unwrap();
        for j in 0..USERS {
            let email = if j % 10 == 0 {
                format!("o'brien+{j}@exämple.com")
            } else {
                format!("user{j}@example.com")
            };
            user.execute(rusqlite::params![
                user_id(j),
                email,
                TEXTS[j % TEXTS.len()],
                DATETIMES[j % DATETIMES.len()]
            ])
            .unwrap();
        }
        let mut item = tx
            .prepare(
                "INSERT INTO items (id, user_id, title, sku, description, supplier, cost, price, \
                 quantity, is_active, tags, listed_on, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .unwrap();
        for i in 0..ITEMS {
            let title = if i % 2 == 0 {
                TEXTS[i % TEXTS.len()].to_string()
            } else {
                format!("{} #{i}", TEXTS[(i / 2) % TEXTS.len()])
            };
            let sku = if i % 7 == 0 {
                format!("ŚKU-{i}-✓")
            } else {
                format!("SKU-{i:06}")
            };
            let description = (i % 3 != 0).then(|| TEXTS[(i * 7) % TEXTS.len()]);
            let supplier = (i % 5 != 0).then(|| TEXTS[(i * 11) % TEXTS.len()]);
            item.execute(rusqlite::params![
                item_id(i),
                user_id(i % USERS),
                title,
                sku,
                description,
                supplier,
                FLOATS[i % FLOATS.len()],
                FLOATS[(i * 3 + 1) % FLOATS.len()],
                INTS[i % INTS.len()],
                i % 3 != 1,
                JSONS[i % JSONS.len()],
                DATES[i % DATES.len()],
                DATETIMES[i % DATETIMES.len()],
                DATETIMES[(i * 5 + 2) % DATETIMES.len()],
            ])
            .unwrap();
        }
        let mut sale = tx
            .prepare(
                "INSERT INTO sales (id, item_id, sale_price, shipping_price, fees, status, \
                 sold_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .unwrap();
        for j in 0..SALES {
            let item = (j % 4 != 0).then(|| item_id((j * 31) % ITEMS));
            sale.execute(rusqlite::params![
                sale_id(j),
                item,
                FLOATS[j % FLOATS.len()],
                FLOATS[(j + 3) % FLOATS.len()],
                FLOATS[(j + 5) % FLOATS.len()],
                STATUSES[j % STATUSES.len()],
                DATETIMES[(j + 1) % DATETIMES.len()],
                INSTANTS[j % INSTANTS.len()],
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

#[test]
fn port_copies_100_000_rows_value_for_value_and_resets_sequences() {
    let Some(db) = database("port_100k") else {
        return;
    };
    let url = db.url.as_str();
    let p = example_app();
    p.qvdiff(&["upgrade", "--db", "sqlite://source.db", "--no-backup"])
        .expect_code(0);
    fill_source(&p.path("source.db"));
    let source_bytes = std::fs::read(p.path("source.db")).unwrap();

    let to = with_password(url, SECRET);
    let port = p
        .qvdiff(&["port", "--from", "sqlite://source.db", "--to", &to])
        .expect_code(0);
    let said = format!("{}{}", port.stdout, port.stderr);
    assert!(said.contains("Ported"), "{said}");
    assert!(!said.contains(SECRET), "the password was printed:\n{said}");
    assert_eq!(
        std::fs::read(p.path("source.db")).unwrap(),
        source_bytes,
        "port changed the source file"
    );

    // Independently of qvdiff's checksums: the same rows, value for value.
    let conn = rusqlite::Connection::open_with_flags(
        p.path("source.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut client = db.connect();
    assert_eq!(ledger(&mut client), [FIRST, SECOND, THIRD, FOURTH, HEAD]);
    assert_same_rows(&conn, &mut client, "users", USER_COLUMNS, USERS);
    assert_same_rows(&conn, &mut client, "items", ITEM_COLUMNS, ITEMS);
    assert_same_rows(&conn, &mut client, "sales", SALE_COLUMNS, SALES);
    assert_same_rows(&conn, &mut client, "listings", LISTING_COLUMNS, 0);
    // Spot checks against the values written, not only against the source's reading of them.
    // Instants: the moment written, whatever offset SQLite held it with (none: UTC).
    for (j, utc) in [
        (0, Some("2026-01-02 01:04:05")),
        (1, None),
        (2, Some("2024-02-29 23:59:59.999999")),
        (3, Some("2000-01-01 01:00:00.5")),
        (4, Some("2026-06-30 12:00:00")),
        (5, Some("2000-01-01 00:00:00")),
    ] {
        let held: Option<String> = client
            .query_one(
                "SELECT (updated_at AT TIME ZONE 'UTC')::text FROM sales WHERE id = $1",
                &[&sale_id(j)],
            )
            .unwrap()
            .get(0);
        assert_eq!(held.as_deref(), utc, "sales.updated_at of sale {j}");
    }
    let row = client
        .query_one(
            "SELECT title::text, cost, quantity, tags::text, listed_on::text, created_at::text \
             FROM items WHERE id = $1",
            &[&item_id(5)],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), format!("{} #5", TEXTS[2]));
    assert_eq!(row.get::<_, f64>(1), FLOATS[5]);
    assert_eq!(row.get::<_, i64>(2), INTS[5]);
    assert_eq!(json(&row.get::<_, String>(3)), json(JSONS[5].unwrap()));
    assert_eq!(row.get::<_, Option<String>>(4), None);
    assert_eq!(row.get::<_, String>(5), "0001-01-01 00:00:00");
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM items WHERE tags = 'null'::jsonb"
        ),
        (ITEMS / JSONS.len()) as i64
    );
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM items WHERE tags IS NULL"),
        (ITEMS / JSONS.len()) as i64
    );
    let nul_like: i64 = conn
        .query_row("SELECT count(*) FROM items WHERE title = '\\N'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(nul_like > 0);
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM items WHERE title = '\\N'"
        ),
        nul_like
    );

    p.qvdiff(&["check", "--db", url]).expect_code(0);

    // Sequences: the next id is past the highest copied one (1 for the empty table).
    let max_user = user_id(USERS - 1);
    let max_item = item_id(ITEMS - 1);
    let max_sale = sale_id(SALES - 1);
    let next =
        |client: &mut Client, sql: &str| -> i64 { client.query_one(sql, &[]).unwrap().get(0) };
    assert_eq!(
        next(
            &mut client,
            "INSERT INTO users (email, display_name) VALUES ('new@example.com', 'New') \
             RETURNING id"
        ),
        max_user + 1
    );
    assert_eq!(
        next(
            &mut client,
            &format!(
                "INSERT INTO items (user_id, title, sku, cost, price) \
                 VALUES ({max_user}, 'new', 'NEW-1', 1, 2) RETURNING id"
            )
        ),
        max_item + 1
    );
    assert_eq!(
        next(
            &mut client,
            "INSERT INTO sales (sale_price, sold_at) VALUES (1, now()) RETURNING id"
        ),
        max_sale + 1
    );
    assert_eq!(
        next(
            &mut client,
            &format!(
                "INSERT INTO listings (item_id, marketplace, external_id) \
                 VALUES ({max_item}, 'ebay', 'E-1') RETURNING id"
            )
        ),
        1
    );
}

#[test]
fn port_refusals_change_neither_side() {
    let Some(empty) = database("port_refused_empty") else {
        return;
    };
    let Some(filled) = database("port_refused_filled") else {
        return;
    };
    let p = example_app();
    let one_user = "INSERT INTO users (email, display_name) VALUES ('ann@example.com', 'Ann')";

    // A source one revision behind head.
    p.qvdiff(&[
        "upgrade",
        FOURTH,
        "--db",
        "sqlite://behind.db",
        "--no-backup",
    ])
    .expect_code(0);
    rusqlite::Connection::open(p.path("behind.db"))
        .unwrap()
        .execute(one_user, [])
        .unwrap();
    // A source at head.
    p.qvdiff(&["upgrade", "--db", "sqlite://head.db", "--no-backup"])
        .expect_code(0);
    rusqlite::Connection::open(p.path("head.db"))
        .unwrap()
        .execute(one_user, [])
        .unwrap();
    // A target at head holding one row.
    p.qvdiff(&["upgrade", "--db", &filled.url]).expect_code(0);
    let mut filled_client = filled.connect();
    filled_client.execute(one_user, &[]).unwrap();
    let mut empty_client = empty.connect();

    let files = p.snapshot();
    let empty_before = dump(&mut empty_client);
    let filled_before = dump(&mut filled_client);
    let unchanged = |empty_client: &mut Client, filled_client: &mut Client, what: &str| {
        assert_eq!(
            dump(empty_client),
            empty_before,
            "{what}: the empty target changed"
        );
        assert_eq!(
            dump(filled_client),
            filled_before,
            "{what}: the filled target changed"
        );
        assert!(p.snapshot() == files, "{what}: a file changed");
    };

    let behind = p
        .qvdiff(&["port", "--from", "sqlite://behind.db", "--to", &empty.url])
        .expect_code(2);
    assert!(behind.stderr.contains("not at head"), "{}", behind.stderr);
    assert!(behind.stderr.contains(HEAD), "{}", behind.stderr);
    assert_eq!(error_lines(&behind), 1, "{}", behind.stderr);
    unchanged(&mut empty_client, &mut filled_client, "source behind");

    let not_empty = p
        .qvdiff(&["port", "--from", "sqlite://head.db", "--to", &filled.url])
        .expect_code(2);
    assert!(
        not_empty.stderr.contains("not empty"),
        "{}",
        not_empty.stderr
    );
    assert!(
        not_empty.stderr.contains("users (1 row)"),
        "{}",
        not_empty.stderr
    );
    assert_eq!(error_lines(&not_empty), 1, "{}", not_empty.stderr);
    unchanged(&mut empty_client, &mut filled_client, "target not empty");

    let from_postgres = p
        .qvdiff(&["port", "--from", &filled.url, "--to", &empty.url])
        .expect_code(2);
    assert!(
        from_postgres.stderr.contains("--from"),
        "{}",
        from_postgres.stderr
    );
    assert!(
        from_postgres.stderr.contains("SQLite"),
        "{}",
        from_postgres.stderr
    );
    assert_eq!(error_lines(&from_postgres), 1, "{}", from_postgres.stderr);
    unchanged(&mut empty_client, &mut filled_client, "--from postgres");

    // The same ports are accepted once the problem is gone (the refusals were for the reason).
    let ported = p
        .qvdiff(&["port", "--from", "sqlite://head.db", "--to", &empty.url])
        .expect_code(0);
    let said = format!("{}{}", ported.stdout, ported.stderr);
    assert!(said.contains("  users: 1 row, checksum"), "{said}");
    assert!(said.contains("Ported 1 row in "), "{said}");
    assert_eq!(
        count(
            &mut empty_client,
            "SELECT count(*) FROM users WHERE email = 'ann@example.com'"
        ),
        1
    );
}

#[test]
fn a_port_whose_copy_fails_commits_no_row_and_can_be_run_again() {
    let Some(db) = database("port_copy_fails") else {
        return;
    };
    let p = example_app();
    p.qvdiff(&["upgrade", "--db", "sqlite://source.db", "--no-backup"])
        .expect_code(0);
    let source = rusqlite::Connection::open(p.path("source.db")).unwrap();
    source
        .execute_batch(
            "INSERT INTO users (id, email, display_name, created_at) \
               VALUES (7, 'ann@example.com', 'Ann', '2026-01-02 03:04:05');
             INSERT INTO items (id, user_id, title, sku, cost, price) \
               VALUES (3, 7, 'lamp', 'L-1', 1.5, 2.5);",
        )
        .unwrap();
    // A timestamp with a zone offset: a PostgreSQL `timestamp` would drop the offset, so the copy
    // cannot equal the source.
    source
        .execute(
            "INSERT INTO users (id, email, display_name, created_at) \
             VALUES (9, 'bob@example.com', 'Bob', '2026-01-02 03:04:05+02:00')",
            [],
        )
        .unwrap();
    // The target: at the first revision, no rows (port upgrades it).
    p.qvdiff(&["upgrade", FIRST, "--db", &db.url])
        .expect_code(0);
    let mut client = db.connect();
    let source_bytes = std::fs::read(p.path("source.db")).unwrap();
    let schema_before = schema_dump(&mut client);

    let failed = p
        .qvdiff(&["port", "--from", "sqlite://source.db", "--to", &db.url])
        .expect_code(2);
    assert!(failed.stderr.contains("table users"), "{}", failed.stderr);
    // The first differing row: key, column, both values.
    assert!(
        failed.stderr.contains(
            "row id = 9, column created_at: '2026-01-02 03:04:05+02:00' in SQLite, \
             '2026-01-02 03:04:05' in PostgreSQL"
        ),
        "{}",
        failed.stderr
    );
    assert_eq!(error_lines(&failed), 1, "{}", failed.stderr);
    assert_eq!(std::fs::read(p.path("source.db")).unwrap(), source_bytes);
    // Schema and ledger commit with the rows: the target is still at the first revision.
    assert_eq!(ledger(&mut client), [FIRST]);
    assert_eq!(schema_dump(&mut client), schema_before);
    for table in tables(&mut client) {
        if table != "qvdiff_migrations" {
            assert_eq!(
                count(&mut client, &format!("SELECT count(*) FROM \"{table}\"")),
                0,
                "{table}: rows were committed by a failed port"
            );
        }
    }

    // Fixed at the source, the same port goes through.
    source
        .execute(
            "UPDATE users SET created_at = '2026-01-02 01:04:05' WHERE id = 9",
            [],
        )
        .unwrap();
    drop(source);
    p.qvdiff(&["port", "--from", "sqlite://source.db", "--to", &db.url])
        .expect_code(0);
    assert_eq!(ledger(&mut client), [FIRST, SECOND, THIRD, FOURTH, HEAD]);
    let users: Vec<(i64, String)> = client
        .query("SELECT id, created_at::text FROM users ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        users,
        [
            (7, "2026-01-02 03:04:05".to_string()),
            (9, "2026-01-02 01:04:05".to_string())
        ]
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM items WHERE id = 3 AND user_id = 7"
        ),
        1
    );
    p.qvdiff(&["check", "--db", &db.url]).expect_code(0);
}

/// The schema part of [`dump`] (relations, columns, constraints, indexes; no rows, no sequences)
/// and the comments on constraints and indexes.
fn schema_dump(client: &mut Client) -> String {
    let mut out = dump(client)
        .split("--\n")
        .take(5)
        .collect::<Vec<_>>()
        .join("--\n");
    for row in client
        .query(
            "SELECT coalesce(c.conname, i.relname)::text || ' ' || d.description \
             FROM pg_description d \
             LEFT JOIN pg_constraint c ON d.classoid = 'pg_constraint'::regclass AND c.oid = d.objoid \
             LEFT JOIN pg_class i ON d.classoid = 'pg_class'::regclass AND i.oid = d.objoid \
             WHERE c.oid IS NOT NULL OR i.relkind = 'i' ORDER BY 1",
            &[],
        )
        .unwrap()
    {
        let line: String = row.get(0);
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Waits until a session of database `name` other than the watcher runs a statement that starts
/// with `prefix`; `false` when `child` exits first.
fn wait_for_statement(
    watcher: &mut Client,
    name: &str,
    prefix: &str,
    child: &mut std::process::Child,
) -> bool {
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(120) {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let seen: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid() AND state = 'active' \
                   AND starts_with(query, $2)",
                &[&name, &prefix],
            )
            .unwrap()
            .get(0);
        if seen > 0 {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    false
}

#[test]
fn a_port_killed_with_sigkill_leaves_no_row_and_a_second_port_succeeds() {
    let Some(db) = database("port_killed") else {
        return;
    };
    let Some(reference) = database("port_killed_reference") else {
        return;
    };
    let p = example_app();
    p.qvdiff(&["upgrade", "--db", "sqlite://source.db", "--no-backup"])
        .expect_code(0);
    fill_source(&p.path("source.db"));
    // Both targets at head, with comments on a key and an index (which the port drops and
    // builds again).
    let comments = "COMMENT ON CONSTRAINT items_pkey ON items IS 'one per listing'; \
                    COMMENT ON INDEX ix_items_user_id IS 'for the user''s page'";
    for target in [&reference, &db] {
        p.qvdiff(&["upgrade", "--db", &target.url]).expect_code(0);
        target.connect().batch_execute(comments).unwrap();
    }
    let built = schema_dump(&mut reference.connect());
    assert!(
        built.contains("ix_items_user_id for the user's page"),
        "{built}"
    );
    assert!(built.contains("items_pkey one per listing"), "{built}");
    let mut watcher = db.connect();

    // Killed while rows of items stream in, then while items is read back for its checksum (its
    // rows all written, not committed).
    for moment in ["COPY \"items\"", "COPY (SELECT"] {
        let mut child = base_command(
            p.root(),
            &["port", "--from", "sqlite://source.db", "--to", &db.url],
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn qvdiff");
        let caught = wait_for_statement(&mut watcher, &db.name, moment, &mut child);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(caught, "the port ended before it ran `{moment}…`");
        for table in ["users", "items", "sales", "listings"] {
            assert_eq!(
                count(&mut watcher, &format!("SELECT count(*) FROM \"{table}\"")),
                0,
                "{table}: rows left by a port killed during `{moment}…`"
            );
        }
        // The target keeps the schema the migrations built (a killed transaction dropped no key
        // or index for good).
        assert_eq!(
            schema_dump(&mut watcher),
            built,
            "killed during `{moment}…`"
        );
    }

    let port = p
        .qvdiff(&["port", "--from", "sqlite://source.db", "--to", &db.url])
        .expect_code(0);
    assert!(port.stderr.contains("Ported") || port.stdout.contains("Ported"));
    // No progress lines when stderr is not a terminal.
    assert!(!port.stderr.contains("copying"), "{}", port.stderr);
    let conn = rusqlite::Connection::open_with_flags(
        p.path("source.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    assert_same_rows(&conn, &mut watcher, "users", USER_COLUMNS, USERS);
    assert_same_rows(&conn, &mut watcher, "items", ITEM_COLUMNS, ITEMS);
    assert_same_rows(&conn, &mut watcher, "sales", SALE_COLUMNS, SALES);
    // Keys, foreign keys and indexes built after the load are the ones the migrations built.
    assert_eq!(schema_dump(&mut watcher), built);
    p.qvdiff(&["check", "--db", &db.url]).expect_code(0);
}

/// Peak resident memory of a running process (`VmHWM`, a high-water mark), in kilobytes.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Rows of the long run: 10 000 users, 7 000 000 items, 2 990 000 sales.
const LONG_USERS: i64 = 10_000;
const LONG_ITEMS: i64 = 7_000_000;
const LONG_SALES: i64 = 2_990_000;

#[test]
#[ignore = "10 000 000 rows, several minutes: cargo test -p qvdiff-cli --test e2e -- --ignored port_of_10"]
fn port_of_10_000_000_rows_stays_under_100_mb() {
    let Some(db) = database("port_10m") else {
        return;
    };
    let p = example_app();
    p.qvdiff(&["upgrade", "--db", "sqlite://source.db", "--no-backup"])
        .expect_code(0);
    let conn = rusqlite::Connection::open(p.path("source.db")).unwrap();
    conn.execute_batch(&format!(
        "BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {LONG_USERS})
         INSERT INTO users (id, email, display_name, created_at)
           SELECT i, 'user' || i || '@example.com', 'User ' || i,
                  datetime(1700000000 + i * 60, 'unixepoch') FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {LONG_ITEMS})
         INSERT INTO items (id, user_id, title, sku, description, supplier, cost, price, quantity,
                            is_active, tags, listed_on, created_at, updated_at)
           SELECT i, 1 + i % {LONG_USERS}, 'item ' || i || ' tab' || char(9) || 'x', 'SKU-' || i,
                  CASE WHEN i % 3 THEN 'a longer description of item ' || i END,
                  CASE WHEN i % 2 THEN 'supplier ' || (i % 97) END,
                  (i % 1000) / 8.0, (i % 5000) / 4.0, i % 40, i % 3 <> 0,
                  CASE WHEN i % 4 THEN '{{\"n\": ' || (i % 17) || '}}' END,
                  CASE WHEN i % 5 THEN date(1700000000 + i, 'unixepoch') END,
                  datetime(1700000000 + i, 'unixepoch'), datetime(1700000000 + i * 2, 'unixepoch')
           FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {LONG_SALES})
         INSERT INTO sales (id, item_id, sale_price, shipping_price, fees, status, sold_at)
           SELECT i, CASE WHEN i % 10 THEN 1 + (i * 7) % {LONG_ITEMS} END, (i % 900) / 2.0,
                  (i % 20) / 4.0, 1.25, 'shipped', datetime(1700000000 + i * 3, 'unixepoch')
           FROM n;
         COMMIT;"
    ))
    .unwrap();
    drop(conn);

    let mut child = base_command(
        p.root(),
        &["port", "--from", "sqlite://source.db", "--to", &db.url],
    )
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("spawn qvdiff");
    // The high-water mark read every 20 ms while the port runs: every reading covers the whole
    // run up to then.
    let mut peak_kb = 0;
    while child.try_wait().unwrap().is_none() {
        if let Some(kb) = peak_rss_kb(child.id()) {
            peak_kb = peak_kb.max(kb);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("Ported"), "{said}");
    assert!(peak_kb > 0, "no memory reading of the port");
    eprintln!("port of 10 000 000 rows: peak RSS {} MB", peak_kb / 1024);
    assert!(
        peak_kb <= 100 * 1024,
        "peak RSS {} MB over 100 MB",
        peak_kb / 1024
    );
    let mut client = db.connect();
    for (table, rows) in [
        ("users", LONG_USERS),
        ("items", LONG_ITEMS),
        ("sales", LONG_SALES),
    ] {
        assert_eq!(
            count(&mut client, &format!("SELECT count(*) FROM {table}")),
            rows,
            "{table}"
        );
        assert!(said.contains(&format!("{table}: {rows} rows")), "{said}");
    }
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM items WHERE id = 4242 AND title = 'item 4242 tab' || chr(9) || 'x' \
             AND tags = '{\"n\": 9}'::jsonb AND supplier IS NULL"
        ),
        1
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Concurrent upgrades
// ---------------------------------------------------------------------------------------------

const COUNTER_MODELS: &str = r#"
use qvdiff::Model;

#[derive(Model)]
#[model(table = "counter")]
pub struct Counter {
    #[column(primary_key, autoincrement)]
    pub id: i64,
    pub note: String,
}
"#;

#[test]
fn concurrent_upgrades_apply_each_revision_and_the_data_migration_once() {
    let Some(probe) = database("concurrent") else {
        return;
    };
    drop(probe);
    let p = Project::empty();
    p.write("qvdiff.toml", PG_CONFIG);
    p.write("src/models.rs", COUNTER_MODELS);
    let revs = ["20260101000001", "20260101000002", "20260101000003"];
    p.qvdiff(&["migrate", "-m", "create counter", "--rev-id", revs[0]])
        .expect_code(0);
    p.qvdiff(&[
        "migrate",
        "--empty",
        "-m",
        "seed counter",
        "--rev-id",
        revs[1],
    ])
    .expect_code(0);
    let seed_name = sql_files(&p, "migrations")
        .into_iter()
        .find(|f| f.starts_with(revs[1]))
        .unwrap();
    let seed_path = format!("migrations/{seed_name}");
    let seed = p.read(&seed_path);
    let (head, rest) = seed.split_at(seed.find("-- qvdiff:up").unwrap());
    assert!(rest.contains("-- qvdiff:down"), "{seed}");
    p.write(
        &seed_path,
        &format!(
            "{head}-- qvdiff:up\nINSERT INTO \"counter\" (\"note\") VALUES ('seeded');\n\
             -- qvdiff:down\nDELETE FROM \"counter\" WHERE \"note\" = 'seeded';\n"
        ),
    );
    p.write(
        "src/models.rs",
        &COUNTER_MODELS.replace(
            "    pub note: String,\n",
            "    pub note: String,\n    pub hits: Option<i64>,\n",
        ),
    );
    p.qvdiff(&["migrate", "-m", "add hits", "--rev-id", revs[2]])
        .expect_code(0);
    p.qvdiff(&["check"]).expect_code(0);

    for (round, processes) in [2, 2, 2, 4, 4, 4].into_iter().enumerate() {
        let db = database(&format!("concurrent_{round}")).expect("a test server");
        let children: Vec<_> = (0..processes)
            .map(|_| {
                base_command(p.root(), &["upgrade", "--db", &db.url])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn qvdiff")
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round} ({processes} processes): exit {:?}\nstdout:\n{}\nstderr:\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut client = db.connect();
        assert_eq!(ledger(&mut client), revs, "round {round}");
        for rev in revs {
            let n: i64 = client
                .query_one(
                    "SELECT count(*) FROM qvdiff_migrations WHERE revision = $1",
                    &[&rev],
                )
                .unwrap()
                .get(0);
            assert_eq!(n, 1, "round {round}: ledger rows of {rev}");
        }
        assert_eq!(
            count(&mut client, "SELECT count(*) FROM counter"),
            1,
            "round {round} ({processes} processes): the data migration ran more than once"
        );
        assert_eq!(
            count(
                &mut client,
                "SELECT count(*) FROM counter WHERE note = 'seeded' AND hits IS NULL"
            ),
            1
        );
        p.qvdiff(&["check", "--db", &db.url]).expect_code(0);
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Bad input at the boundary
// ---------------------------------------------------------------------------------------------

#[test]
fn a_postgres_url_in_a_sqlite_only_project_is_refused_and_nothing_is_written() {
    let Some(db) = database("dialect_mismatch") else {
        return;
    };
    let url = with_password(&db.url, SECRET);
    let p = Project::with_models(&[("src/models.rs", DUAL_MODELS)]);
    p.qvdiff(&["migrate", "-m", "init", "--rev-id", "r1"])
        .expect_code(0);
    let files = p.snapshot();
    let mut client = db.connect();
    let before = dump(&mut client);

    for args in [
        vec!["upgrade", "--db", &url],
        vec!["upgrade", "--sql", "--db", &url],
        vec!["downgrade", "base", "--db", &url],
        vec!["check", "--db", &url],
        vec!["current", "--db", &url],
        vec!["stamp", "r1", "--db", &url],
        vec!["migrate", "-m", "y", "--db", &url],
        vec!["diff", "--db", &url],
    ] {
        let run = p.qvdiff(&args).expect_code(2);
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(
            !all.contains(SECRET),
            "{args:?} printed the password:\n{all}"
        );
        assert_eq!(error_lines(&run), 1, "{args:?}:\n{}", run.stderr);
        for word in ["PostgreSQL", "SQLite", "dialect", "qvdiff.toml"] {
            assert!(
                run.stderr.contains(word),
                "{args:?}: no {word:?} in\n{}",
                run.stderr
            );
        }
        assert!(p.snapshot() == files, "{args:?} wrote a file");
        assert_eq!(dump(&mut client), before, "{args:?} changed the database");
    }

    // The same from DATABASE_URL.
    let out = base_command(p.root(), &["upgrade"])
        .env("DATABASE_URL", &url)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(stderr.contains("qvdiff.toml"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
    assert!(p.snapshot() == files);
    assert_eq!(dump(&mut client), before);
}

#[test]
fn file_only_commands_refuse_a_postgres_url() {
    let p = example_app();
    let url = format!("postgres://app:{SECRET}@127.0.0.1:54329/app");
    let files = p.snapshot();
    for args in [
        vec!["backup", "--db", &url],
        vec!["backups", "--db", &url],
        vec!["restore", "latest", "--db", &url],
    ] {
        let run = p.qvdiff(&args).expect_code(2);
        assert!(
            run.stderr.contains("SQLite files only"),
            "{args:?}:\n{}",
            run.stderr
        );
        assert_eq!(error_lines(&run), 1, "{args:?}:\n{}", run.stderr);
        assert!(
            !format!("{}{}", run.stdout, run.stderr).contains(SECRET),
            "{args:?} printed the password:\n{}",
            run.stderr
        );
        assert!(p.snapshot() == files, "{args:?} wrote a file");
    }
}

#[test]
fn an_unreachable_server_is_an_error_that_names_the_url_without_its_password() {
    let p = example_app();
    p.qvdiff(&["upgrade", "--db", "sqlite://head.db", "--no-backup"])
        .expect_code(0);
    let url = format!("postgres://postgres:{SECRET}@127.0.0.1:1/x");
    let files = p.snapshot();
    for args in [
        vec!["upgrade", "--db", &url],
        vec!["downgrade", "--db", &url],
        vec!["current", "--db", &url],
        vec!["check", "--db", &url],
        vec!["stamp", HEAD, "--db", &url],
        vec!["migrate", "-m", "x", "--db", &url],
        vec!["port", "--from", "sqlite://head.db", "--to", &url],
    ] {
        let run = p.qvdiff(&args).expect_code(2);
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(
            !all.contains(SECRET),
            "{args:?} printed the password:\n{all}"
        );
        assert_eq!(error_lines(&run), 1, "{args:?}:\n{}", run.stderr);
        assert!(
            run.stderr.contains("postgres://postgres:***@127.0.0.1:1/x")
                || run.stderr.contains("postgres://postgres@127.0.0.1:1/x"),
            "{args:?}: the URL is not named:\n{}",
            run.stderr
        );
        assert!(p.snapshot() == files, "{args:?} wrote a file");
    }
    let out = base_command(p.root(), &["upgrade"])
        .env("DATABASE_URL", &url)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("127.0.0.1:1"), "{all}");
    assert!(!all.contains(SECRET), "{all}");
    assert!(p.snapshot() == files);
}

#[test]
fn check_db_says_what_it_does_not_compare_on_postgres() {
    let Some(db) = database("pg_check_blind_spots") else {
        return;
    };
    let url = db.url.as_str();
    let p = Project::empty();
    p.write("qvdiff.toml", PG_CONFIG);
    p.write("src/models.rs", PG_MODELS);
    p.qvdiff(&["migrate", "-m", "create items"]).expect_code(0);
    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    let mut client = db.connect();
    client
        .execute(
            "INSERT INTO items (title, quantity) VALUES ('lamp', 2)",
            &[],
        )
        .unwrap();

    // A view, a function and a trigger made by hand: none of it is reported as drift, and the
    // report says so.
    client
        .batch_execute(
            "CREATE VIEW cheap_items AS SELECT id, title FROM items WHERE price < 10;
             CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS
                 $$ BEGIN NEW.quantity := NEW.quantity; RETURN NEW; END $$;
             CREATE TRIGGER items_touch BEFORE UPDATE ON items
                 FOR EACH ROW EXECUTE FUNCTION touch();",
        )
        .unwrap();
    let line = "Not compared on PostgreSQL (drift in these goes unseen): views, triggers,";
    let ok = p.qvdiff(&["check", "--db", url]).expect_code(0);
    let said: Vec<&str> = ok.stderr.lines().filter(|l| l.starts_with(line)).collect();
    assert_eq!(said.len(), 1, "one line: {}", ok.stderr);
    for part in [
        "views",
        "triggers",
        "functions",
        "extensions",
        "NOT VALID",
        "sort order",
    ] {
        assert!(said[0].contains(part), "`{}` lacks {part}", said[0]);
    }
    assert!(!said[0].contains(SECRET));

    // Drift it does compare is still reported, with the same line beside it.
    client
        .batch_execute("ALTER TABLE items ADD COLUMN note text")
        .unwrap();
    let drift = p.qvdiff(&["check", "--db", url]).expect_code(1);
    assert!(drift.stdout.contains("items.note"), "{}", drift.stdout);
    assert_eq!(
        drift.stderr.lines().filter(|l| l.starts_with(line)).count(),
        1,
        "{}",
        drift.stderr
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM items WHERE title = 'lamp'"
        ),
        1
    );

    // SQLite compares its whole schema: no such line.
    let s = Project::with_models(&[("src/models.rs", PG_MODELS)]);
    s.qvdiff(&["migrate", "-m", "create items"]).expect_code(0);
    s.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    let sqlite = s
        .qvdiff(&["check", "--db", "sqlite://app.db"])
        .expect_code(0);
    assert!(!sqlite.stderr.contains(line), "{}", sqlite.stderr);
}

#[test]
fn downgrade_sql_on_postgres_prints_the_down_sections_and_changes_nothing() {
    let Some(db) = database("downgrade_sql") else {
        return;
    };
    let url = db.url.as_str();
    let p = Project::empty();
    p.write("qvdiff.toml", PG_CONFIG);
    p.write("src/models.rs", PG_MODELS);
    p.qvdiff(&["migrate", "-m", "create items", "--rev-id", "r1"])
        .expect_code(0);
    p.write(
        "src/models.rs",
        &PG_MODELS.replace(
            "    pub price: Option<f64>,\n",
            "    pub price: Option<f64>,\n    pub notes: Option<String>,\n",
        ),
    );
    p.qvdiff(&["migrate", "-m", "add notes", "--rev-id", "r2"])
        .expect_code(0);
    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    let mut client = db.connect();
    client
        .batch_execute("INSERT INTO items (title, quantity, notes) VALUES ('desk', 2, 'oak')")
        .unwrap();
    let files = p.snapshot();
    let before = dump(&mut client);

    let one = p
        .qvdiff(&["downgrade", "--sql", "--db", url])
        .expect_code(0);
    assert!(
        one.stdout
            .contains("ALTER TABLE \"items\" DROP COLUMN \"notes\""),
        "{}",
        one.stdout
    );
    assert!(!one.stdout.contains("DROP TABLE"), "{}", one.stdout);
    assert!(one.stdout.contains("'r2'"), "{}", one.stdout);
    let all = p
        .qvdiff(&["downgrade", "base", "--sql", "--db", url])
        .expect_code(0);
    assert!(
        all.stdout.contains("DROP TABLE \"items\""),
        "{}",
        all.stdout
    );
    assert!(
        all.stdout.find("DROP COLUMN \"notes\"") < all.stdout.find("DROP TABLE \"items\""),
        "children first:\n{}",
        all.stdout
    );
    assert_eq!(dump(&mut client), before, "the database changed");
    assert_eq!(ledger(&mut client), ["r1", "r2"]);
    assert!(p.snapshot() == files, "a file changed");

    // The real downgrade then reverts what the script showed: r2 only.
    p.qvdiff(&["downgrade", "--db", url]).expect_code(0);
    assert_eq!(ledger(&mut client), ["r1"]);
    assert_eq!(columns(&mut client, "items").len(), 4);
}

// ---------------------------------------------------------------------------------------------
// 7. A schema of the project's own: `[postgres] schema`
// ---------------------------------------------------------------------------------------------

/// Tables, views and sequences of schema `schema`, sorted.
fn relations_in(client: &mut Client, schema: &str) -> Vec<String> {
    client
        .query(
            "SELECT c.relname::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY 1",
            &[&schema],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn ledger_in(client: &mut Client, schema: &str) -> Vec<String> {
    client
        .query(
            &format!("SELECT revision FROM \"{schema}\".qvdiff_migrations ORDER BY applied_order"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn a_project_schema_holds_tables_and_ledger_through_upgrade_check_migrate_and_port() {
    let Some(db) = database("schema_app") else {
        return;
    };
    let Some(target) = database("schema_app_port") else {
        return;
    };
    let p = example_app();
    let config = std::fs::read_to_string(p.path("qvdiff.toml")).unwrap();
    p.write(
        "qvdiff.toml",
        &config.replace(
            "migrations = \"migrations/postgres\"\n",
            "migrations = \"migrations/postgres\"\nschema = \"app\"\n",
        ),
    );
    let url = db.url.as_str();
    let mut client = db.connect();

    // `upgrade` creates the schema; tables and ledger go there, nothing into public.
    p.qvdiff(&["upgrade", FIRST, "--db", url]).expect_code(0);
    assert_eq!(
        relations_in(&mut client, "app"),
        ["items", "qvdiff_migrations", "users"]
    );
    assert!(relations_in(&mut client, "public").is_empty());
    assert_eq!(ledger_in(&mut client, "app"), [FIRST]);
    let pending = p.qvdiff(&["check", "--db", url]).expect_code(1);
    assert!(pending.stdout.contains("pending"), "{}", pending.stdout);
    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    assert_eq!(
        ledger_in(&mut client, "app"),
        [FIRST, SECOND, THIRD, FOURTH, HEAD]
    );
    p.qvdiff(&["check", "--db", url]).expect_code(0);
    p.qvdiff(&["current", "--db", url]).expect_code(0);

    // A table of the same name in public is not the project's; drift in app is.
    client
        .batch_execute("CREATE TABLE public.users (x integer)")
        .unwrap();
    p.qvdiff(&["check", "--db", url]).expect_code(0);
    client
        .batch_execute("ALTER TABLE app.users ADD COLUMN nickname text")
        .unwrap();
    let drift = p.qvdiff(&["check", "--db", url]).expect_code(1);
    assert!(drift.stdout.contains("users.nickname"), "{}", drift.stdout);
    let refused = p
        .qvdiff(&["migrate", "--db", url, "-m", "notes", "--no-input"])
        .expect_code(2);
    assert!(
        refused.stderr.contains("users.nickname"),
        "{}",
        refused.stderr
    );
    client
        .batch_execute("ALTER TABLE app.users DROP COLUMN nickname")
        .unwrap();

    // `migrate --db` plans from the schema of app, `upgrade` applies there.
    let models = std::fs::read_to_string(p.path("examples/inventory/src/models.rs")).unwrap();
    p.write(
        "examples/inventory/src/models.rs",
        &format!(
            "{models}\n#[derive(Debug, Clone, Model)]\n#[model(table = \"notes\")]\npub struct Note {{\n    #[column(primary_key)]\n    pub id: i64,\n    pub body: String,\n}}\n"
        ),
    );
    p.qvdiff(&[
        "migrate",
        "--db",
        url,
        "-m",
        "notes",
        "--rev-id",
        "20261125133837",
        "--no-input",
    ])
    .expect_code(0);
    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    assert!(relations_in(&mut client, "app").contains(&"notes".to_string()));
    assert_eq!(relations_in(&mut client, "public"), ["users"]);
    p.qvdiff(&["check", "--db", url]).expect_code(0);

    // `port` into a new database builds the schema and fills it, in one transaction.
    p.qvdiff(&["upgrade", "--db", "sqlite://source.db", "--no-backup"])
        .expect_code(0);
    rusqlite::Connection::open(p.path("source.db"))
        .unwrap()
        .execute_batch(
            "INSERT INTO users (id, email, display_name, created_at) \
               VALUES (7, 'ann@example.com', 'Ann', '2026-01-02 03:04:05');
             INSERT INTO notes (id, body) VALUES (1, 'first');",
        )
        .unwrap();
    p.qvdiff(&["port", "--from", "sqlite://source.db", "--to", &target.url])
        .expect_code(0);
    let mut target_client = target.connect();
    assert!(relations_in(&mut target_client, "public").is_empty());
    assert_eq!(
        ledger_in(&mut target_client, "app"),
        [FIRST, SECOND, THIRD, FOURTH, HEAD, "20261125133837"]
    );
    assert_eq!(
        count(
            &mut target_client,
            "SELECT count(*) FROM app.users WHERE email = 'ann@example.com'"
        ),
        1
    );
    assert_eq!(
        count(&mut target_client, "SELECT count(*) FROM app.notes"),
        1
    );
    p.qvdiff(&["check", "--db", &target.url]).expect_code(0);
}

// ---------------------------------------------------------------------------------------------
// Comments: a model's doc comments on both dialects.

const COMMENTED_MODELS: &str = r#"
use qvdiff::Model;

/// Things in stock.
#[derive(Model)]
#[model(table = "items")]
pub struct Item {
    #[column(primary_key, autoincrement)]
    pub id: i64,
    /// The name buyers see; it's searched.
    pub title: String,
}
"#;

/// The comment of `items` (`column`: of that column) as the server holds it.
fn comment_on(client: &mut Client, column: Option<&str>) -> Option<String> {
    let row = match column {
        None => client.query_one("SELECT obj_description('items'::regclass, 'pg_class')", &[]),
        Some(column) => client.query_one(
            "SELECT col_description('items'::regclass, \
             (SELECT attnum FROM pg_attribute WHERE attrelid = 'items'::regclass \
              AND attname = $1))",
            &[&column],
        ),
    };
    row.unwrap().get(0)
}

#[test]
fn doc_comments_become_postgresql_comments_that_check_review_and_erd_see() {
    let Some(db) = database("pg_comments") else {
        return;
    };
    let url = db.url.as_str();
    let p = Project::empty();
    p.write("qvdiff.toml", PG_CONFIG);
    p.write("src/models.rs", COMMENTED_MODELS);
    p.qvdiff(&[
        "migrate",
        "-m",
        "create items",
        "--rev-id",
        "20260101000000",
    ])
    .expect_code(0);
    let create = p.read(&format!("migrations/{}", sql_files(&p, "migrations")[0]));
    assert!(
        create.contains("COMMENT ON TABLE \"items\" IS 'Things in stock.';"),
        "{create}"
    );
    assert!(
        create.contains("(comment 'Things in stock.'; comments on 1 column(s))"),
        "{create}"
    );
    let mut client = db.connect();
    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    client
        .batch_execute("INSERT INTO items (title) VALUES ('lamp'), ('O''Brien''s desk')")
        .unwrap();
    assert_eq!(
        comment_on(&mut client, None).as_deref(),
        Some("Things in stock.")
    );
    assert_eq!(
        comment_on(&mut client, Some("title")).as_deref(),
        Some("The name buyers see; it's searched.")
    );
    p.qvdiff(&["check", "--db", url]).expect_code(0);

    // A comment changed by hand on the server is drift.
    client
        .batch_execute("COMMENT ON COLUMN items.title IS 'by hand'")
        .unwrap();
    let drift = p.qvdiff(&["check", "--db", url]).expect_code(1);
    assert!(drift.stdout.contains("items.title"), "{}", drift.stdout);
    client
        .batch_execute("COMMENT ON COLUMN items.title IS 'The name buyers see; it''s searched.'")
        .unwrap();
    p.qvdiff(&["check", "--db", url]).expect_code(0);

    // A comment-only change is a migration with a way back, and review shows the comments.
    p.write(
        "src/models.rs",
        &COMMENTED_MODELS.replace("/// Things in stock.", "/// What the shop sells."),
    );
    p.qvdiff(&["migrate", "-m", "reword", "--rev-id", "20260102000000"])
        .expect_code(0);
    let reword = p.read(&format!("migrations/{}", sql_files(&p, "migrations")[1]));
    assert!(
        reword.contains("-- ~ comment on items: 'Things in stock.' -> 'What the shop sells.'"),
        "{reword}"
    );
    let review = p
        .qvdiff(&["review", "20260102000000"])
        .expect_code(0)
        .stdout;
    assert!(review.contains("items: Things in stock."), "{review}");
    assert!(review.contains("items: What the shop sells."), "{review}");
    assert!(
        review.contains("The name buyers see; it's searched."),
        "{review}"
    );
    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    assert_eq!(
        comment_on(&mut client, None).as_deref(),
        Some("What the shop sells.")
    );
    p.qvdiff(&["downgrade", "--db", url]).expect_code(0);
    assert_eq!(
        comment_on(&mut client, None).as_deref(),
        Some("Things in stock.")
    );
    assert_eq!(count(&mut client, "SELECT count(*) FROM items"), 2);
    let erd = p
        .qvdiff(&["erd", "--from", "migrations"])
        .expect_code(0)
        .stdout;
    assert!(
        erd.contains("items[\"items: What the shop sells.\"]"),
        "{erd}"
    );

    // SQLite keeps no comments: the same models need no migration there, and the diagram of
    // the models shows them all the same.
    let sqlite = Project::empty();
    sqlite.write(
        "qvdiff.toml",
        "models = [\"src\"]\nmigrations = \"migrations\"\ndialect = \"sqlite\"\n",
    );
    sqlite.write("src/models.rs", &COMMENTED_MODELS.replace("/// ", "// "));
    sqlite
        .qvdiff(&["migrate", "-m", "create items"])
        .expect_code(0);
    sqlite.write("src/models.rs", COMMENTED_MODELS);
    let files = sqlite.snapshot();
    let none = sqlite.qvdiff(&["migrate", "-m", "comments"]).expect_code(0);
    assert!(
        none.stderr.contains("No changes detected"),
        "{}",
        none.stderr
    );
    assert!(sqlite.snapshot() == files, "a file was written");
    sqlite.qvdiff(&["check"]).expect_code(0);
    let erd = sqlite.qvdiff(&["erd"]).expect_code(0).stdout;
    assert!(erd.contains("items[\"items: Things in stock.\"]"), "{erd}");
    assert!(
        erd.contains("TEXT title \"The name buyers see; it's searched.\""),
        "{erd}"
    );
}
