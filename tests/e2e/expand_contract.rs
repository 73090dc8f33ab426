//! `migrate --online`: a type change (int4 → int8) and a column rename written as expand and
//! contract revisions, applied with the real binary to a real server under the writes of an
//! "old" and a "new" app version; and the contract marker that `upgrade` stops before, on both
//! dialects.
//!
//! The PostgreSQL test needs a server (`QVDIFF_TEST_POSTGRES_URL`, see
//! `qvdiff_postgres::testing`); without one it says "skipped" on stderr and passes, unless
//! `QVDIFF_REQUIRE_POSTGRES=1`.

use super::support::Project;
use postgres::Client;
use qvdiff_postgres::testing::TestDatabase;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

const MODELS: &str = r#"
use qvdiff::Model;

#[derive(Model)]
#[model(table = "items")]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    #[column(index)]
    pub qty: i32,
    pub title: Option<String>,
}
"#;

/// Rows the table holds before the change.
const ROWS: i64 = 50_000;

/// `id → (qty, name)` as the rows should read after the contract.
type Expected = BTreeMap<i64, (i64, Option<String>)>;

/// Which app version a writer plays: the old one writes `qty` (int4) and `title`, the new one
/// `qty_new` (int8) and `name`.
#[derive(Clone, Copy)]
enum App {
    Old,
    New,
}

/// An app writing on its own connection until told to stop: `step` runs for i = 1, 2, …, a
/// millisecond apart, and records what it wrote; `stop` returns the record.
struct Writer<T> {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<T>,
}

impl<T: Default + Send + 'static> Writer<T> {
    fn start(
        db: &TestDatabase,
        mut step: impl FnMut(&mut Client, i64, &mut T) + Send + 'static,
    ) -> Writer<T> {
        let mut client = db.connect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut wrote = T::default();
            let mut i: i64 = 0;
            while !flag.load(Ordering::Relaxed) {
                i += 1;
                step(&mut client, i, &mut wrote);
                std::thread::sleep(Duration::from_millis(1));
            }
            wrote
        });
        Writer { stop, thread }
    }

    fn stop(self) -> T {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("a writer thread")
    }
}

/// A writer of `items` that inserts rows of its own and updates rows already there (the old app
/// the odd ids, the new app the even ones), interleaved with the other writer.
fn items_writer(db: &TestDatabase, app: App) -> Writer<Expected> {
    let (qty, name, first_id, parity) = match app {
        App::Old => ("qty", "title", 1_000_000, 1),
        App::New => ("qty_new", "name", 2_000_000, 0),
    };
    Writer::start(db, move |client, i, wrote: &mut Expected| {
        let id = first_id + i;
        let text = format!("{name} insert {i}");
        client
            .execute(
                &format!("INSERT INTO items (id, {qty}, {name}) VALUES ($1, $2::bigint, $3)"),
                &[&id, &i, &text],
            )
            .unwrap();
        wrote.insert(id, (i, Some(text)));
        // An existing row of this writer's parity, spread over the table.
        let target = (i * 7_919) % (ROWS / 2) * 2 + parity;
        let target = if target == 0 { 2 } else { target };
        let text = format!("{name} update {i}");
        let value = -i;
        client
            .execute(
                &format!("UPDATE items SET {qty} = $2::bigint, {name} = $3 WHERE id = $1"),
                &[&target, &value, &text],
            )
            .unwrap();
        wrote.insert(target, (value, Some(text)));
    })
}

fn count(client: &mut Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

/// Every row of `items` as `id → (qty, name)`, reading the given columns.
fn rows(client: &mut Client, qty: &str, name: &str) -> Expected {
    client
        .query(
            &format!("SELECT id, {qty}::bigint, {name} FROM items ORDER BY id"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect()
}

fn sync_objects(client: &mut Client) -> i64 {
    count(
        client,
        "SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'qvdiff_sync_%') \
         + (SELECT count(*) FROM pg_proc WHERE proname LIKE 'qvdiff_sync_%')",
    )
}

/// A PostgreSQL project with `models` whose first revision `r1` (`message`) is applied to `db`;
/// every later revision is proven on a throwaway database of the same server too.
fn project_at_r1(db: &TestDatabase, models: &str, message: &str) -> Project {
    let p = Project::empty();
    p.write(
        "qvdiff.toml",
        &format!(
            "models = [\"src\"]\nmigrations = \"migrations\"\ndialect = \"postgres\"\n\n\
             [postgres]\nshadow_url = \"{}\"\n",
            db.url
        ),
    );
    p.write("src/models.rs", models);
    p.qvdiff(&["migrate", "-m", message, "--rev-id", "r1"])
        .expect_code(0);
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    p
}

/// int4 → int8 and a rename through expand / contract on 50,000 rows: `upgrade` applies the
/// expand and stops before the contract; the old app (old column names and type) and the new
/// app (new columns) insert and update, interleaved, from before the expand through the window;
/// `upgrade --contract` then finds every value either wrote, the row count right, `check --db`
/// clean and no trigger or function left. The contract's downgrade gives the expand state back
/// with every value in both columns and the triggers in place.
#[test]
fn old_and_new_app_writes_through_the_window_are_all_found_after_contract() {
    let Some(db) = TestDatabase::create("expand_contract_window") else {
        return;
    };
    let p = project_at_r1(&db, MODELS, "create items");
    let mut client = db.connect();
    client
        .execute(
            "INSERT INTO items (id, qty, title) \
             SELECT g, g % 1000, 'row ' || g FROM generate_series(1, $1::bigint) g",
            &[&ROWS],
        )
        .unwrap();
    let mut expected: Expected = (1..=ROWS)
        .map(|g| (g, (g % 1000, Some(format!("row {g}")))))
        .collect();

    p.write(
        "src/models.rs",
        &MODELS.replace("pub qty: i32", "pub qty: i64").replace(
            "pub title: Option<String>",
            "#[column(renamed_from = \"title\")]\n    pub name: Option<String>",
        ),
    );
    let wrote = p
        .qvdiff(&[
            "migrate",
            "-m",
            "widen qty, rename title",
            "--rev-id",
            "r2",
            "--online",
        ])
        .expect_code(0);
    assert!(wrote.stderr.contains("r2_contract"), "{}", wrote.stderr);
    let contract = p.read("migrations/r2_contract_widen_qty_rename_title_contract.sql");
    assert!(contract.contains("\n-- qvdiff:contract\n"), "{contract}");
    let expand = p.read("migrations/r2_widen_qty_rename_title_expand.sql");
    // The backfill is an ordinary UPDATE the runner applies in batches by key.
    assert!(
        expand.contains(
            "-- qvdiff:batch 10000\nUPDATE \"items\" SET \"qty_new\" = \"qty\" \
             WHERE \"qty_new\" IS NULL AND \"qty\" IS NOT NULL;"
        ),
        "{expand}"
    );
    assert!(!expand.contains("DO "), "{expand}");
    // The index on qty is built on qty_new in the expand; the contract only renames it (its
    // down builds the old one again).
    let contract_up = contract.split("-- qvdiff:down").next().unwrap();
    assert!(
        expand
            .contains("CREATE INDEX CONCURRENTLY \"ix_items_qty_new\" ON \"items\" (\"qty_new\");"),
        "{expand}"
    );
    assert!(
        contract.contains("ALTER INDEX \"ix_items_qty_new\" RENAME TO \"ix_items_qty\";")
            && !contract_up.contains("CREATE INDEX"),
        "{contract}"
    );
    assert!(!expand.contains("-- qvdiff:contract"), "{expand}");

    // The old app writes from before the expand until the contract.
    let old_app = items_writer(&db, App::Old);
    let up = p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    assert!(
        up.stderr
            .contains("Stopped before contract revision r2_contract")
            && up.stderr.contains("qvdiff upgrade --contract"),
        "{}",
        up.stderr
    );
    let current = p.qvdiff(&["current", "--db", &db.url]).expect_code(0);
    assert!(current.stdout.starts_with("r2 "), "{}", current.stdout);
    assert!(
        current.stderr.contains("upgrade --contract"),
        "{}",
        current.stderr
    );
    // `upgrade --sql` stops there too; with `--contract` it prints the contract.
    let held = p
        .qvdiff(&["upgrade", "--db", &db.url, "--sql"])
        .expect_code(0);
    assert!(
        held.stdout
            .contains("stopped before contract revision r2_contract")
            && !held.stdout.contains("DROP COLUMN \"qty\""),
        "{}",
        held.stdout
    );
    let through = p
        .qvdiff(&["upgrade", "--db", &db.url, "--sql", "--contract"])
        .expect_code(0);
    assert!(
        through.stdout.contains("DROP COLUMN \"qty\""),
        "{}",
        through.stdout
    );
    // The expand applied, the contract pending: a second upgrade runs nothing.
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM qvdiff_migrations WHERE revision = 'r2_contract'"
        ),
        0
    );
    let new_app = items_writer(&db, App::New);
    std::thread::sleep(Duration::from_millis(1500));
    let (old_wrote, new_wrote) = (old_app.stop(), new_app.stop());
    assert!(old_wrote.len() > 20 && new_wrote.len() > 20);
    expected.extend(old_wrote);
    expected.extend(new_wrote);
    // Between the revisions both spellings read the same values.
    assert_eq!(rows(&mut client, "qty", "title"), expected);
    assert_eq!(rows(&mut client, "qty_new", "name"), expected);

    let up = p
        .qvdiff(&["upgrade", "--db", &db.url, "--contract"])
        .expect_code(0);
    assert!(up.stderr.contains("Applied r2_contract"), "{}", up.stderr);
    assert_eq!(rows(&mut client, "qty", "name"), expected);
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM items"),
        i64::try_from(expected.len()).unwrap()
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'items' \
             AND column_name = 'qty' AND data_type = 'bigint' AND is_nullable = 'NO'"
        ),
        1
    );
    assert_eq!(sync_objects(&mut client), 0);
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname \
             JOIN pg_index x ON x.indexrelid = c.oid WHERE i.tablename = 'items' \
             AND i.indexname = 'ix_items_qty' AND i.indexdef LIKE '%(qty)' AND x.indisvalid"
        ),
        1
    );
    p.qvdiff(&["check", "--db", &db.url]).expect_code(0);
    // A value only int8 holds fits now.
    client
        .execute("UPDATE items SET qty = 5000000000 WHERE id = 1", &[])
        .unwrap();
    client
        .execute("UPDATE items SET qty = $1 WHERE id = 1", &[&expected[&1].0])
        .unwrap();

    // Downgrading the contract gives the expand state back: both columns, every value, the
    // triggers keeping them in step.
    p.qvdiff(&["downgrade", "--db", &db.url]).expect_code(0);
    assert_eq!(rows(&mut client, "qty", "title"), expected);
    assert_eq!(rows(&mut client, "qty_new", "name"), expected);
    assert_eq!(sync_objects(&mut client), 4);
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'items' AND \
             (indexname, indexdef LIKE '%(qty)', indexdef LIKE '%(qty_new)') \
             IN (('ix_items_qty', true, false), ('ix_items_qty_new', false, true))"
        ),
        2
    );
    client
        .execute(
            "UPDATE items SET title = 'after downgrade' WHERE id = 3",
            &[],
        )
        .unwrap();
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM items WHERE id = 3 AND name = 'after downgrade'"
        ),
        1
    );
}

/// A hand-written contract revision on SQLite: `upgrade` applies what comes before it and stops,
/// `history` marks it, `upgrade --contract` applies it. `upgrade --sql` prints what `upgrade`
/// would run: without the contract revision unless `--contract`, on a database file not created
/// yet and on one that exists.
#[test]
fn upgrade_stops_before_a_contract_revision_until_told_to_go_on() {
    let p = Project::empty();
    p.write(
        "qvdiff.toml",
        "models = [\"src\"]\nmigrations = \"migrations\"\ndatabase = \"sqlite://app.db\"\n",
    );
    p.write(
        "migrations/r1_create.sql",
        "-- qvdiff revision: r1\n-- parents:\n-- message: create\n-- qvdiff:up\n\
         CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT);\n-- qvdiff:down\nDROP TABLE t;\n",
    );
    p.write(
        "migrations/r2_drop_a.sql",
        "-- qvdiff revision: r2\n-- parents: r1\n-- message: drop a\n-- qvdiff:contract\n\
         -- qvdiff:up\nALTER TABLE t DROP COLUMN a;\n-- qvdiff:down\nALTER TABLE t ADD COLUMN a TEXT;\n",
    );
    let script = |args: &[&str]| {
        let before = p.snapshot();
        let run = p.qvdiff(args).expect_code(0);
        assert_eq!(p.snapshot(), before, "{args:?} wrote something");
        run.stdout
    };
    let drop_a = "ALTER TABLE t DROP COLUMN a;";
    for applied in [false, true] {
        if applied {
            let up = p.qvdiff(&["upgrade"]).expect_code(0);
            assert!(up.stderr.contains("Applied r1 create"), "{}", up.stderr);
            assert!(
                up.stderr
                    .contains("Stopped before contract revision r2 (migrations/r2_drop_a.sql)"),
                "{}",
                up.stderr
            );
        }
        let held = script(&["upgrade", "--sql"]);
        assert_eq!(held.contains("CREATE TABLE t"), !applied, "{held}");
        assert!(!held.contains(drop_a), "{held}");
        assert!(
            held.contains("stopped before contract revision r2 (`--contract` goes on)"),
            "{held}"
        );
        let through = script(&["upgrade", "--sql", "--contract"]);
        assert!(through.contains(drop_a), "{through}");
        assert!(!through.contains("stopped before"), "{through}");
    }
    let history = p.qvdiff(&["history"]).expect_code(0);
    assert!(
        history.stdout.contains("o r2 (head; contract"),
        "{}",
        history.stdout
    );
    let up = p.qvdiff(&["upgrade", "--contract"]).expect_code(0);
    assert!(up.stderr.contains("Applied r2 drop a"), "{}", up.stderr);
    let current = p.qvdiff(&["current"]).expect_code(0);
    assert!(current.stdout.starts_with("r2 "), "{}", current.stdout);
}

/// `--online` on a SQLite project: one clear message, exit code 2, nothing written.
#[test]
fn online_on_sqlite_is_refused_and_writes_nothing() {
    let p = Project::empty();
    p.write(
        "qvdiff.toml",
        "models = [\"src\"]\nmigrations = \"migrations\"\n",
    );
    p.write("src/models.rs", MODELS);
    let before = p.snapshot();
    let run = p
        .qvdiff(&["migrate", "-m", "create items", "--online"])
        .expect_code(2);
    assert!(
        run.stderr
            .contains("--online writes expand / contract revisions for PostgreSQL"),
        "{}",
        run.stderr
    );
    assert_eq!(p.snapshot(), before);
}

/// `lint` on a contract revision: the drop and the rename that complete its expand (the old
/// column dropped, the new one given its name) are what expand / contract leads to, so no
/// `expand-contract` finding; a drop the expand prepared nothing for, added to the file after
/// review, is reported at its line like in any other revision.
#[test]
fn lint_reports_a_drop_added_to_a_contract_that_its_expand_did_not_prepare() {
    let p = Project::empty();
    p.write(
        "qvdiff.toml",
        "models = [\"src\"]\nmigrations = \"migrations\"\ndialect = \"postgres\"\n",
    );
    p.write("src/models.rs", MODELS);
    p.qvdiff(&["migrate", "-m", "create items", "--rev-id", "r1"])
        .expect_code(0);
    p.write(
        "src/models.rs",
        &MODELS.replace("pub qty: i32", "pub qty: i64"),
    );
    p.qvdiff(&["migrate", "-m", "widen qty", "--rev-id", "r2", "--online"])
        .expect_code(0);
    let path = "migrations/r2_contract_widen_qty_contract.sql";
    let contract = p.read(path);
    assert!(
        contract.contains("ALTER TABLE \"items\" DROP COLUMN \"qty\";")
            && contract.contains("ALTER TABLE \"items\" RENAME COLUMN \"qty_new\" TO \"qty\";"),
        "{contract}"
    );
    let lint = p.qvdiff(&["lint"]);
    assert!(
        !lint.stdout.contains("expand-contract"),
        "{}{}",
        lint.stdout,
        lint.stderr
    );

    let (up, down) = contract.split_once("-- qvdiff:down").unwrap();
    let edited = format!("{up}ALTER TABLE \"items\" DROP COLUMN \"title\";\n-- qvdiff:down{down}");
    p.write(path, &edited);
    let line = edited[..edited.find("DROP COLUMN \"title\"").unwrap()]
        .matches('\n')
        .count()
        + 1;
    let lint = p.qvdiff(&["lint"]).expect_code(1);
    assert!(
        lint.stdout.contains(&format!(
            "{path}:{line}: expand-contract: drops column items.title in one step"
        )),
        "{}",
        lint.stdout
    );
    assert_eq!(
        lint.stdout.matches("expand-contract:").count(),
        1,
        "{}",
        lint.stdout
    );
}

const ACCOUNTS: &str = r#"
use qvdiff::Model;

#[derive(Model)]
#[model(table = "accounts")]
pub struct Account {
    #[column(primary_key)]
    pub id: i64,
    pub email: String,
}
"#;

/// Rows `accounts` holds before the new column.
const ACCOUNT_ROWS: i64 = 20_000;

/// `id → (email, handle)` as the rows should read after the contract.
type Accounts = BTreeMap<i64, (String, String)>;

/// A writer of `accounts` until told to stop: the old app inserts rows without `handle` and
/// changes the case of the odd rows' emails (which keeps their computed handle); the new app
/// inserts rows with a handle of its own and writes the even rows' handles.
fn accounts_writer(db: &TestDatabase, app: App) -> Writer<Accounts> {
    Writer::start(db, move |client, i, wrote: &mut Accounts| match app {
        App::Old => {
            let id = 1_000_000 + i;
            let email = format!("Old Insert {i}");
            client
                .execute(
                    "INSERT INTO accounts (id, email) VALUES ($1, $2)",
                    &[&id, &email],
                )
                .unwrap();
            wrote.insert(id, (email.clone(), email.to_lowercase()));
            let target = (i * 7_919) % (ACCOUNT_ROWS / 2) * 2 + 1;
            let email = format!("ROW {target}");
            client
                .execute(
                    "UPDATE accounts SET email = $2 WHERE id = $1",
                    &[&target, &email],
                )
                .unwrap();
            wrote.insert(target, (email, format!("row {target}")));
        }
        App::New => {
            let id = 2_000_000 + i;
            let (email, handle) = (format!("New Insert {i}"), format!("new {i}"));
            client
                .execute(
                    "INSERT INTO accounts (id, email, handle) VALUES ($1, $2, $3)",
                    &[&id, &email, &handle],
                )
                .unwrap();
            wrote.insert(id, (email, handle));
            let target = (i * 7_919) % (ACCOUNT_ROWS / 2) * 2 + 2;
            let handle = format!("new update {i}");
            client
                .execute(
                    "UPDATE accounts SET handle = $2 WHERE id = $1",
                    &[&target, &handle],
                )
                .unwrap();
            wrote.insert(target, (format!("Row {target}"), handle));
        }
    })
}

fn accounts(client: &mut Client) -> Accounts {
    client
        .query("SELECT id, email, handle FROM accounts ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect()
}

/// Whether `accounts.handle` is nullable, and how many CHECKs `accounts` has.
fn handle_state(client: &mut Client) -> (String, i64) {
    let nullable: String = client
        .query_one(
            "SELECT is_nullable FROM information_schema.columns \
             WHERE table_name = 'accounts' AND column_name = 'handle'",
            &[],
        )
        .unwrap()
        .get(0);
    let checks = count(
        client,
        "SELECT count(*) FROM pg_constraint WHERE conrelid = 'accounts'::regclass \
         AND contype = 'c'",
    );
    (nullable, checks)
}

/// A new NOT NULL column with a computed value (`backfill_sql = "lower(email)"`) through
/// expand / contract on 20,000 rows: the expand adds it nullable, a trigger fills it for the old
/// app's writes, the batched backfill fills the rows there, a CHECK is validated; `upgrade`
/// stops before the contract. The old app (which does not know the column) and the new app
/// (which writes it) write through the window; `upgrade --contract` then finds every row with
/// its computed or new-app value, the column NOT NULL with the model's default, `check --db`
/// clean and no trigger or function left. The contract's downgrade gives the expand state back.
#[test]
fn new_not_null_column_with_a_computed_value_is_filled_for_old_app_writes() {
    let Some(db) = TestDatabase::create("expand_contract_computed") else {
        return;
    };
    let p = project_at_r1(&db, ACCOUNTS, "create accounts");
    let mut client = db.connect();
    client
        .execute(
            "INSERT INTO accounts (id, email) \
             SELECT g, 'Row ' || g FROM generate_series(1, $1::bigint) g",
            &[&ACCOUNT_ROWS],
        )
        .unwrap();
    let mut expected: Accounts = (1..=ACCOUNT_ROWS)
        .map(|g| (g, (format!("Row {g}"), format!("row {g}"))))
        .collect();

    p.write(
        "src/models.rs",
        &ACCOUNTS.replace(
            "pub email: String,",
            "pub email: String,\n    \
             #[column(default = \"anon\", backfill_sql = \"lower(email)\")]\n    \
             pub handle: String,",
        ),
    );
    let wrote = p
        .qvdiff(&["migrate", "-m", "add handle", "--rev-id", "r2", "--online"])
        .expect_code(0);
    assert!(wrote.stderr.contains("r2_contract"), "{}", wrote.stderr);
    let expand = p.read("migrations/r2_add_handle_expand.sql");
    let expand_up = expand.split("-- qvdiff:down").next().unwrap();
    for wanted in [
        "ALTER TABLE \"accounts\" ADD COLUMN \"handle\" text;",
        "CREATE TRIGGER \"qvdiff_sync_accounts_handle\" BEFORE INSERT OR UPDATE ON \"accounts\"",
        "-- qvdiff:batch 10000\nUPDATE \"accounts\" SET \"handle\" = lower(email) \
         WHERE \"handle\" IS NULL;",
        "CHECK (\"handle\" IS NOT NULL) NOT VALID;",
        "VALIDATE CONSTRAINT",
    ] {
        assert!(expand_up.contains(wanted), "{wanted} in {expand}");
    }
    assert!(!expand_up.contains("SET NOT NULL"), "{expand}");
    let contract = p.read("migrations/r2_contract_add_handle_contract.sql");
    let contract_up = contract.split("-- qvdiff:down").next().unwrap();
    for wanted in [
        "DROP TRIGGER IF EXISTS \"qvdiff_sync_accounts_handle\"",
        "ALTER TABLE \"accounts\" ALTER COLUMN \"handle\" SET NOT NULL;",
        "ALTER TABLE \"accounts\" ALTER COLUMN \"handle\" SET DEFAULT 'anon';",
    ] {
        assert!(contract_up.contains(wanted), "{wanted} in {contract}");
    }
    // The replay takes both revisions, trigger included.
    let lint = p.qvdiff(&["lint"]);
    assert_eq!(lint.code, 0, "{}{}", lint.stdout, lint.stderr);

    let old_app = accounts_writer(&db, App::Old);
    let up = p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    assert!(
        up.stderr
            .contains("Stopped before contract revision r2_contract"),
        "{}",
        up.stderr
    );
    assert_eq!(handle_state(&mut client), ("YES".to_string(), 1));
    let new_app = accounts_writer(&db, App::New);
    std::thread::sleep(Duration::from_millis(1500));
    let (old_wrote, new_wrote) = (old_app.stop(), new_app.stop());
    assert!(old_wrote.len() > 20 && new_wrote.len() > 20);
    expected.extend(old_wrote);
    expected.extend(new_wrote);
    // Between the revisions every row already has its value.
    assert_eq!(accounts(&mut client), expected);

    let up = p
        .qvdiff(&["upgrade", "--db", &db.url, "--contract"])
        .expect_code(0);
    assert!(up.stderr.contains("Applied r2_contract"), "{}", up.stderr);
    assert_eq!(accounts(&mut client), expected);
    assert_eq!(handle_state(&mut client), ("NO".to_string(), 0));
    assert_eq!(sync_objects(&mut client), 0);
    p.qvdiff(&["check", "--db", &db.url]).expect_code(0);
    client
        .execute(
            "INSERT INTO accounts (id, email) VALUES (3000000, 'After')",
            &[],
        )
        .unwrap();
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM accounts WHERE id = 3000000 AND handle = 'anon'"
        ),
        1
    );
    client
        .execute("DELETE FROM accounts WHERE id = 3000000", &[])
        .unwrap();

    // Downgrading the contract gives the expand state back: nullable under the CHECK, the
    // trigger filling the old app's inserts again.
    p.qvdiff(&["downgrade", "--db", &db.url]).expect_code(0);
    assert_eq!(handle_state(&mut client), ("YES".to_string(), 1));
    assert_eq!(sync_objects(&mut client), 2);
    client
        .execute(
            "INSERT INTO accounts (id, email) VALUES (3000001, 'Again')",
            &[],
        )
        .unwrap();
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM accounts WHERE id = 3000001 AND handle = 'again'"
        ),
        1
    );
    assert_eq!(accounts(&mut client).len(), expected.len() + 1);
}

const SHOP: &str = r#"
use qvdiff::Model;

#[derive(Model)]
#[model(table = "items")]
pub struct Item {
    #[column(primary_key, autoincrement)]
    pub id: i64,
    #[column(index)]
    pub sku: String,
    pub qty: i64,
}

#[derive(Model)]
#[model(table = "notes")]
pub struct Note {
    #[column(primary_key, autoincrement)]
    pub id: i64,
    #[column(references = "items.id", index)]
    pub item_id: i64,
    pub body: String,
}
"#;

/// Rows `items` holds before the rename, each with one note.
const SHOP_ROWS: i64 = 5_000;

/// `id → (sku, qty)` of the renamed table, and `id → (item_id, body)` of the notes.
type Shop = (BTreeMap<i64, (String, i64)>, BTreeMap<i64, (i64, String)>);

/// A writer of the shop until told to stop, under the table name its app version knows (the
/// old app `items`, the new one `products`): it inserts an item (its id from the identity) and
/// a note on it, and updates an existing item (the old app the odd ids, the new app the even).
/// The quantity goes as a `bigint`, which an `integer` column takes by assignment.
fn shop_writer(db: &TestDatabase, app: App) -> Writer<Shop> {
    let (table, parity) = match app {
        App::Old => ("items", 1),
        App::New => ("products", 0),
    };
    Writer::start(db, move |client, i, wrote: &mut Shop| {
        let sku = format!("{table} insert {i}");
        let id: i64 = client
            .query_one(
                &format!("INSERT INTO {table} (sku, qty) VALUES ($1, $2::bigint) RETURNING id"),
                &[&sku, &i],
            )
            .unwrap()
            .get(0);
        wrote.0.insert(id, (sku, i));
        let body = format!("{table} note {i}");
        let note: i64 = client
            .query_one(
                "INSERT INTO notes (item_id, body) VALUES ($1, $2) RETURNING id",
                &[&id, &body],
            )
            .unwrap()
            .get(0);
        wrote.1.insert(note, (id, body));
        let target = (i * 7_919) % (SHOP_ROWS / 2) * 2 + parity;
        let target = if target == 0 { 2 } else { target };
        let sku = format!("{table} update {i}");
        let updated = client
            .execute(
                &format!("UPDATE {table} SET sku = $2, qty = $3::bigint WHERE id = $1"),
                &[&target, &sku, &-i],
            )
            .unwrap();
        assert_eq!(updated, 1);
        wrote.0.insert(target, (sku, -i));
    })
}

/// Every item, read under `table` with its sku column `sku`, and every note.
fn shop(client: &mut Client, table: &str, sku: &str) -> Shop {
    let items = client
        .query(
            &format!("SELECT id, {sku}, qty::bigint FROM {table} ORDER BY id"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect();
    let notes = client
        .query("SELECT id, item_id, body FROM notes ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect();
    (items, notes)
}

/// What `name` is in the database: `r` a table, `v` a view, `-` nothing.
fn relation_kind(client: &mut Client, name: &str) -> String {
    client
        .query_one(
            "SELECT coalesce((SELECT relkind::text FROM pg_class \
             WHERE oid = to_regclass($1)), '-')",
            &[&name],
        )
        .unwrap()
        .get(0)
}

/// A table rename through expand / contract on 5,000 rows with notes pointing at them: the
/// expand renames `items` to `products` and leaves `items` as a view over it; the old app
/// (through `items`) and the new app (through `products`) insert, with ids from the identity,
/// add notes and update, interleaved, from before the expand through the window. `check --db`
/// is clean between the revisions (the view is no table), `lint` finds nothing to say, and
/// after `upgrade --contract` every row and note is there under `products`, the view gone.
/// Downgrading the contract brings the view back, downgrading the expand the table's old name,
/// every row still there each time.
#[test]
fn old_and_new_app_writes_through_a_table_rename_are_all_found_after_contract() {
    let Some(db) = TestDatabase::create("expand_contract_table_rename") else {
        return;
    };
    let p = project_at_r1(&db, SHOP, "create shop");
    let mut client = db.connect();
    client
        .batch_execute(&format!(
            "INSERT INTO items (sku, qty) SELECT 'row ' || g, g FROM generate_series(1, {SHOP_ROWS}) g;
             INSERT INTO notes (item_id, body) SELECT g, 'note ' || g FROM generate_series(1, {SHOP_ROWS}) g;"
        ))
        .unwrap();
    let mut expected = shop(&mut client, "items", "sku");
    assert_eq!(expected.0.len(), usize::try_from(SHOP_ROWS).unwrap());

    p.write(
        "src/models.rs",
        &SHOP
            .replace(
                "#[model(table = \"items\")]",
                "#[model(table = \"products\", renamed_from = \"items\")]",
            )
            .replace("references = \"items.id\"", "references = \"products.id\""),
    );
    let wrote = p
        .qvdiff(&[
            "migrate",
            "-m",
            "rename items",
            "--rev-id",
            "r2",
            "--online",
        ])
        .expect_code(0);
    assert!(wrote.stderr.contains("r2_contract"), "{}", wrote.stderr);
    let expand = p.read("migrations/r2_rename_items_expand.sql");
    let (expand_up, expand_down) = expand.split_once("-- qvdiff:down").unwrap();
    assert!(
        expand_up.contains("\nALTER TABLE \"items\" RENAME TO \"products\";\n")
            && expand_up.contains("ALTER INDEX \"ix_items_sku\" RENAME TO \"ix_products_sku\";")
            && expand_up.ends_with("CREATE VIEW \"items\" AS SELECT * FROM \"products\";\n"),
        "{expand}"
    );
    assert!(
        expand_down.starts_with("\nDROP VIEW IF EXISTS \"items\";\n")
            && expand_down.contains("ALTER TABLE \"products\" RENAME TO \"items\";"),
        "{expand}"
    );
    let contract = p.read("migrations/r2_contract_rename_items_contract.sql");
    let (contract_up, contract_down) = contract.split_once("-- qvdiff:down").unwrap();
    assert!(
        contract_up.ends_with("-- qvdiff:up\nDROP VIEW IF EXISTS \"items\";\n")
            && contract_down.trim() == "CREATE VIEW \"items\" AS SELECT * FROM \"products\";",
        "{contract}"
    );
    // The replay reads both files; the rename in the expand is the online form.
    let lint = p.qvdiff(&["lint"]);
    assert_eq!(lint.code, 0, "{}{}", lint.stdout, lint.stderr);

    let old_app = shop_writer(&db, App::Old);
    std::thread::sleep(Duration::from_millis(200));
    let up = p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    assert!(
        up.stderr
            .contains("Stopped before contract revision r2_contract"),
        "{}",
        up.stderr
    );
    assert_eq!(relation_kind(&mut client, "items"), "v");
    assert_eq!(relation_kind(&mut client, "products"), "r");
    // Introspection reads tables only: the live schema is the one the expand records; what
    // `check` reports is the contract still to apply.
    let check = p.qvdiff(&["check", "--db", &db.url]).expect_code(1);
    assert!(
        check.stdout.contains("1 pending revision: r2_contract") && !check.stdout.contains("drift"),
        "{}",
        check.stdout
    );
    let new_app = shop_writer(&db, App::New);
    std::thread::sleep(Duration::from_millis(1500));
    let (old_wrote, new_wrote) = (old_app.stop(), new_app.stop());
    assert!(old_wrote.1.len() > 20 && new_wrote.1.len() > 20);
    for wrote in [old_wrote, new_wrote] {
        expected.0.extend(wrote.0);
        expected.1.extend(wrote.1);
    }
    // Between the revisions both names read the same rows.
    assert_eq!(shop(&mut client, "items", "sku"), expected);
    assert_eq!(shop(&mut client, "products", "sku"), expected);

    let up = p
        .qvdiff(&["upgrade", "--db", &db.url, "--contract"])
        .expect_code(0);
    assert!(up.stderr.contains("Applied r2_contract"), "{}", up.stderr);
    assert_eq!(relation_kind(&mut client, "items"), "-");
    assert_eq!(shop(&mut client, "products", "sku"), expected);
    p.qvdiff(&["check", "--db", &db.url]).expect_code(0);
    // The foreign key follows the table: a note on a missing item is refused.
    assert!(client
        .execute(
            "INSERT INTO notes (item_id, body) VALUES (-1, 'orphan')",
            &[],
        )
        .is_err());

    // The contract's way back: the view again, writable; the expand's: the old name.
    p.qvdiff(&["downgrade", "--db", &db.url]).expect_code(0);
    assert_eq!(relation_kind(&mut client, "items"), "v");
    assert_eq!(shop(&mut client, "items", "sku"), expected);
    let id: i64 = client
        .query_one(
            "INSERT INTO items (sku, qty) VALUES ('after downgrade', 7) RETURNING id",
            &[],
        )
        .unwrap()
        .get(0);
    expected.0.insert(id, ("after downgrade".into(), 7));
    assert_eq!(shop(&mut client, "products", "sku"), expected);
    p.qvdiff(&["downgrade", "--db", &db.url]).expect_code(0);
    assert_eq!(relation_kind(&mut client, "items"), "r");
    assert_eq!(relation_kind(&mut client, "products"), "-");
    assert_eq!(shop(&mut client, "items", "sku"), expected);
    let check = p.qvdiff(&["check", "--db", &db.url]).expect_code(1);
    assert!(
        check
            .stdout
            .contains("2 pending revisions: r2, r2_contract")
            && !check.stdout.contains("drift"),
        "{}",
        check.stdout
    );
}

/// A table renamed online while one of its columns is renamed and another retyped (int4 →
/// int8), in one `migrate --online`: the carried columns' backfills commit on their own, so
/// the view under the old name could not come in the rename's transaction. Refused with one
/// message that says to split it (exit 2, nothing written); the split works: the table rename
/// alone first, under the writes of the old app (through `items`) and the new one (through
/// `products`), then the column changes, after which every value either app wrote is under
/// `products (code, qty bigint)`.
#[test]
fn a_table_rename_and_a_carried_column_in_one_online_migration_are_refused_then_split() {
    let Some(db) = TestDatabase::create("expand_contract_table_and_column") else {
        return;
    };
    let before = SHOP.replace("pub qty: i64", "pub qty: i32");
    let p = project_at_r1(&db, &before, "create shop");
    let mut client = db.connect();
    client
        .batch_execute(&format!(
            "INSERT INTO items (sku, qty) SELECT 'row ' || g, g FROM generate_series(1, {SHOP_ROWS}) g;
             INSERT INTO notes (item_id, body) SELECT g, 'note ' || g FROM generate_series(1, {SHOP_ROWS}) g;"
        ))
        .unwrap();
    let mut expected = shop(&mut client, "items", "sku");

    let renamed = before
        .replace(
            "#[model(table = \"items\")]",
            "#[model(table = \"products\", renamed_from = \"items\")]",
        )
        .replace("references = \"items.id\"", "references = \"products.id\"");
    let changed = renamed
        .replace(
            "#[column(index)]\n    pub sku: String",
            "#[column(index, renamed_from = \"sku\")]\n    pub code: String",
        )
        .replace("pub qty: i32", "pub qty: i64");
    p.write("src/models.rs", &changed);
    let snapshot = p.snapshot();
    let online = [
        "migrate",
        "-m",
        "rename items",
        "--rev-id",
        "r2",
        "--online",
    ];
    let refused = p.qvdiff(&online).expect_code(2);
    assert!(
        refused.stderr.contains(
            "items: renamed to products through expand / contract, but the same expand also runs \
             steps that commit on their own (the new columns and batched backfills of \
             products.sku, products.qty)"
        ) && refused.stderr.contains("split it into two migrations"),
        "{}",
        refused.stderr
    );
    assert_eq!(p.snapshot(), snapshot);

    // The split: the table rename alone, through its window under both apps' writes.
    p.write("src/models.rs", &renamed);
    p.qvdiff(&online).expect_code(0);
    let old_app = shop_writer(&db, App::Old);
    std::thread::sleep(Duration::from_millis(200));
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    let new_app = shop_writer(&db, App::New);
    std::thread::sleep(Duration::from_millis(1000));
    let (old_wrote, new_wrote) = (old_app.stop(), new_app.stop());
    assert!(old_wrote.1.len() > 20 && new_wrote.1.len() > 20);
    for wrote in [old_wrote, new_wrote] {
        expected.0.extend(wrote.0);
        expected.1.extend(wrote.1);
    }
    p.qvdiff(&["upgrade", "--db", &db.url, "--contract"])
        .expect_code(0);
    // Then the column changes, carried on the renamed table.
    p.write("src/models.rs", &changed);
    p.qvdiff(&["migrate", "-m", "code", "--rev-id", "r3", "--online"])
        .expect_code(0);
    p.qvdiff(&["upgrade", "--db", &db.url, "--contract"])
        .expect_code(0);
    assert_eq!(relation_kind(&mut client, "items"), "-");
    assert_eq!(shop(&mut client, "products", "code"), expected);
    assert_eq!(sync_objects(&mut client), 0);
    let qty_type: String = client
        .query_one(
            "SELECT data_type FROM information_schema.columns \
             WHERE table_name = 'products' AND column_name = 'qty'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(qty_type, "bigint");
    p.qvdiff(&["check", "--db", &db.url]).expect_code(0);
}

const ORDERS: &str = r#"
use qvdiff::Model;

#[derive(Model)]
#[model(table = "customers")]
pub struct Customer {
    #[column(primary_key)]
    pub id: i64,
    pub name: String,
}

#[derive(Model)]
#[model(table = "orders")]
#[model(check(name = "ck_orders_qty", expr = "qty > 0"))]
pub struct Order {
    #[column(primary_key)]
    pub id: i64,
    #[column(references = "customers.id", index)]
    pub customer_id: i32,
    #[column(unique)]
    pub code: String,
    pub qty: i32,
}
"#;

/// The constraints of `orders`: `(name, kind, validated)`, sorted.
fn order_constraints(client: &mut Client) -> Vec<(String, String, bool)> {
    client
        .query(
            "SELECT conname::text, contype::text, convalidated FROM pg_constraint \
             WHERE conrelid = 'orders'::regclass AND contype <> 'p' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

/// Whether a statement is refused, with the SQLSTATE it is refused with.
fn refused(client: &mut Client, sql: &str) -> Option<String> {
    client
        .batch_execute(sql)
        .err()
        .and_then(|e| e.code().map(|c| c.code().to_string()))
}

/// A foreign key and a CHECK on columns whose type changes (int4 → int8) and a UNIQUE on a
/// renamed column, through expand / contract on 10,000 rows: the expand builds each on the new
/// column (the unique index concurrently, the others `NOT VALID` then validated), and they hold
/// for the new app's writes between the revisions; the contract gives them their names, so
/// `check --db` is clean and each still refuses what it must. Its way back puts them on the old
/// columns again, and the contract applies again.
#[test]
fn unique_foreign_key_and_check_on_carried_columns_are_rebuilt_online_and_hold() {
    let Some(db) = TestDatabase::create("expand_contract_constraints") else {
        return;
    };
    let p = project_at_r1(&db, ORDERS, "create orders");
    let mut client = db.connect();
    client
        .batch_execute(
            "INSERT INTO customers (id, name) SELECT g, 'customer ' || g FROM generate_series(1, 100) g;
             INSERT INTO orders (id, customer_id, code, qty)
             SELECT g, g % 100 + 1, 'code ' || g, g FROM generate_series(1, 10000) g;",
        )
        .unwrap();
    p.write(
        "src/models.rs",
        &ORDERS
            .replace("pub customer_id: i32", "pub customer_id: i64")
            .replace("pub qty: i32", "pub qty: i64")
            .replace(
                "#[column(unique)]\n    pub code: String",
                "#[column(unique, renamed_from = \"code\")]\n    pub reference: String",
            ),
    );
    p.qvdiff(&["migrate", "-m", "widen", "--rev-id", "r2", "--online"])
        .expect_code(0);
    let expand = p.read("migrations/r2_widen_expand.sql");
    let expand_up = expand.split("-- qvdiff:down").next().unwrap();
    for wanted in [
        "CREATE UNIQUE INDEX CONCURRENTLY \"orders_reference_key_new\" ON \"orders\" (\"reference\");",
        "ALTER TABLE \"orders\" ADD CONSTRAINT \"orders_customer_id_new_fkey\" FOREIGN KEY \
         (\"customer_id_new\") REFERENCES \"customers\" (\"id\") ON DELETE NO ACTION ON UPDATE \
         NO ACTION NOT VALID;",
        "ALTER TABLE \"orders\" VALIDATE CONSTRAINT \"orders_customer_id_new_fkey\";",
        "ALTER TABLE \"orders\" ADD CONSTRAINT \"ck_orders_qty_new\" CHECK (qty_new > 0) NOT VALID;",
        "ALTER TABLE \"orders\" VALIDATE CONSTRAINT \"ck_orders_qty_new\";",
    ] {
        assert!(expand_up.contains(wanted), "{wanted} in {expand}");
    }
    let contract = p.read("migrations/r2_contract_widen_contract.sql");
    let contract_up = contract.split("-- qvdiff:down").next().unwrap();
    for wanted in [
        "ALTER TABLE \"orders\" ADD CONSTRAINT \"orders_reference_key\" UNIQUE USING INDEX \
         \"orders_reference_key_new\";",
        "ALTER TABLE \"orders\" RENAME CONSTRAINT \"orders_customer_id_new_fkey\" TO \
         \"orders_customer_id_fkey\";",
        "ALTER TABLE \"orders\" RENAME CONSTRAINT \"ck_orders_qty_new\" TO \"ck_orders_qty\";",
        "COMMENT ON CONSTRAINT \"ck_orders_qty\" ON \"orders\" IS 'qvdiff: qty > 0';",
    ] {
        assert!(contract_up.contains(wanted), "{wanted} in {contract}");
    }
    assert!(
        !contract_up.contains("VALIDATE") && !contract_up.contains("CREATE"),
        "{contract}"
    );
    // The expand is online throughout; the contract's findings are the old columns it drops
    // (the reviewer allows them), not the expand / contract it completes, nor the UNIQUE its
    // validated index already enforces.
    let lint = p.qvdiff(&["lint"]);
    let findings: Vec<&str> = lint
        .stdout
        .lines()
        .filter(|l| l.starts_with("migrations/"))
        .collect();
    assert!(
        lint.code == 1
            && findings.len() == 3
            && findings.iter().all(|f| {
                f.starts_with("migrations/r2_contract_widen_contract.sql:")
                    && f.contains(": destructive: loses data: drops data in orders.")
            }),
        "{}{}",
        lint.stdout,
        lint.stderr
    );

    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    let between = order_constraints(&mut client);
    for name in [
        "orders_code_key",
        "orders_customer_id_fkey",
        "ck_orders_qty",
        "orders_customer_id_new_fkey",
        "ck_orders_qty_new",
    ] {
        assert!(
            between.iter().any(|(n, _, valid)| n == name && *valid),
            "{name} in {between:?}"
        );
    }
    // The new app's writes meet the constraints on the new columns (its own CHECK refuses
    // first: 23514 either way).
    client
        .batch_execute(
            "INSERT INTO orders (id, customer_id_new, reference, qty_new) \
             VALUES (20001, 7, 'new app', 3)",
        )
        .unwrap();
    let dup = "INSERT INTO orders (id, customer_id_new, reference, qty_new) \
               VALUES (20002, 7, 'new app', 3)";
    assert_eq!(refused(&mut client, dup).as_deref(), Some("23505"));
    let zero = "INSERT INTO orders (id, customer_id_new, reference, qty_new) \
                VALUES (20003, 7, 'zero', 0)";
    assert_eq!(refused(&mut client, zero).as_deref(), Some("23514"));
    let orphan = "INSERT INTO orders (id, customer_id_new, reference, qty_new) \
                  VALUES (20004, 999, 'orphan', 1)";
    assert_eq!(refused(&mut client, orphan).as_deref(), Some("23503"));

    let contracted = |client: &mut Client, p: &Project| {
        p.qvdiff(&["upgrade", "--db", &db.url, "--contract"])
            .expect_code(0);
        p.qvdiff(&["check", "--db", &db.url]).expect_code(0);
        assert_eq!(
            order_constraints(client),
            [
                ("ck_orders_qty".to_string(), "c".to_string(), true),
                ("orders_customer_id_fkey".to_string(), "f".to_string(), true),
                ("orders_reference_key".to_string(), "u".to_string(), true),
            ]
        );
        let dup =
            "INSERT INTO orders (id, customer_id, reference, qty) VALUES (30001, 1, 'code 5', 1)";
        assert_eq!(refused(client, dup).as_deref(), Some("23505"));
        let zero = "INSERT INTO orders (id, customer_id, reference, qty) VALUES (30002, 1, 'x', 0)";
        assert_eq!(refused(client, zero).as_deref(), Some("23514"));
        let orphan =
            "INSERT INTO orders (id, customer_id, reference, qty) VALUES (30003, 999, 'y', 1)";
        assert_eq!(refused(client, orphan).as_deref(), Some("23503"));
        // What only int8 holds fits now.
        client
            .batch_execute(
                "INSERT INTO orders (id, customer_id, reference, qty) \
                 VALUES (30004, 1, 'big', 5000000000); DELETE FROM orders WHERE id = 30004",
            )
            .unwrap();
        assert_eq!(count(client, "SELECT count(*) FROM orders"), 10_001);
    };
    contracted(&mut client, &p);
    // The way back: the old columns' constraints again beside the new ones'.
    p.qvdiff(&["downgrade", "--db", &db.url]).expect_code(0);
    assert_eq!(order_constraints(&mut client), between);
    assert_eq!(
        refused(
            &mut client,
            "INSERT INTO orders (id, customer_id, code, qty) VALUES (40001, 1, 'code 5', 1)"
        )
        .as_deref(),
        Some("23505")
    );
    contracted(&mut client, &p);
}
