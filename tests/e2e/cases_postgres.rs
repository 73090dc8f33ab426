//! Every fixture case of `fixtures/cases/` (see `cases.rs`) once more on PostgreSQL, with the
//! real binary: a project with `dialect = "postgres"`, a fresh database per case on the test
//! server (`QVDIFF_TEST_POSTGRES_URL`, see `qvdiff_postgres::testing`; skipped without one unless
//! `QVDIFF_REQUIRE_POSTGRES=1`). For each case:
//!
//! 1. `qvdiff migrate` writes the `before` migration offline, `qvdiff upgrade --db` applies it;
//! 2. the case's rows go in, in one transaction (see below), then `setup.postgres.sql` as a
//!    hand-written migration when the case has a `setup.sql`;
//! 3. `qvdiff migrate` writes the `after` migration (`answers.txt` typed at the prompts), compared
//!    with the `migration.postgres.sql` snapshot;
//! 4. `qvdiff upgrade --db` and `qvdiff check --db` (exit 0: no drift, models match), every value
//!    compared with `data_up.postgres.txt`; `qvdiff downgrade --db … -1`, every value compared
//!    with `data_down.postgres.txt` — and when the up section loses no data, that must equal the
//!    data as inserted (unless `down_differs.txt`), as on SQLite; an identity sequence may come
//!    back ahead of where it was, never behind.
//!
//! The data dumps hold every row of every table and view (each value as `value::text`, NULL
//! apart, with the columns' types), the last value of every sequence, and every trigger.
//!
//! Rows: `rows.sql` is written for SQLite. A case may hold `rows.postgres.sql`, the same rows
//! written for PostgreSQL; otherwise `rows.sql` runs with the two spellings PostgreSQL refuses
//! but whose meaning the column's type makes plain translated, and nothing else: `0`/`1` in a
//! `boolean` column become `FALSE`/`TRUE`, and a blob `X'ab'` in a `bytea` column becomes
//! `'\xab'::bytea`. Rows that PostgreSQL cannot hold at all are SQLite-only by nature; those
//! cases run without rows ([`SQLITE_ONLY_ROWS`]):
//!
//! - `default_sql_current_timestamp_on_existing_column`: one row's `created_at` is the text
//!   `'not a date'`, which SQLite keeps in a DATETIME column (type affinity) and the case checks
//!   survives the table rebuild; a PostgreSQL `timestamp` cannot hold it, and leaving it out or
//!   making it NULL would be other data.
//! - `bool_json_decimal_uuid_blob_round_trip`: one row's `price` is `1e10` in a `NUMERIC(12, 2)`
//!   column (at most 10 digits before the point), which SQLite stores as it is (NUMERIC
//!   affinity) and PostgreSQL refuses ("numeric field overflow").
//!
//! `setup.sql` is SQLite SQL (a view and a SQLite trigger); a case with one runs with its
//! `setup.postgres.sql` (the same view, audit trigger and data fix in PostgreSQL SQL) or is
//! skipped, saying so. PostgreSQL migration files are modelled offline, and a view or trigger
//! cannot be modelled without a server, so such a case writes its `after` migration with
//! `migrate --db` (what qvdiff's hint says to do).
//!
//! Refused steps: a planned step can meet a value PostgreSQL refuses to convert (a DESTRUCTIVE
//! type change, on the way up or back). The runner then rolls the revision back, which is the
//! safe outcome. A case that expects this holds `expect_refused.postgres.txt`, one required
//! substring of the error a line (revision and direction, the server's message, the statement):
//! with rows, the upgrade or the downgrade must exit 2 naming the revision and those substrings,
//! and leave every value as it was; then the case runs again without rows, to check the schema
//! path, and its data snapshots are those of that run.
//!
//! A case whose models PostgreSQL stores alike (AUTOINCREMENT is an identity either way) gets no
//! migration: its `migration.postgres.sql` says so and `qvdiff check --db` must pass.
//!
//! A case holding `migrate_with_db.txt` writes its `after` migration with `migrate --db` here
//! too (see `cases.rs`).
//!
//! A case may hold `config.postgres.toml`: lines added to the project's `qvdiff.toml` (such as
//! `[postgres] online_ddl = false`). With `[postgres] expand_contract = true` the change is
//! written as an expand and a contract revision (`migrate --online`): `migration.postgres.sql`
//! snapshots the expand, `contract.postgres.sql` the contract; `upgrade` applies the expand
//! (the data between the revisions, views included, in `data_expand.postgres.txt`), `upgrade
//! --contract` the contract, then `check --db` and `data_up.postgres.txt`; `downgrade r1_before`
//! undoes both (`data_down.postgres.txt`, every value as inserted unless the expand loses some).
//! SQLite plans such a case as one revision, as usual.
//!
//! Cases run in parallel threads, each on its own database. `QVDIFF_BLESS=1` rewrites the
//! snapshots, `QVDIFF_CASES=a,b` filters the cases, as in `cases.rs`.

use super::cases::{
    contract_change, down_must_restore, fixture_cases, hand_written_migration, migrate_change,
    snapshot,
};
use super::support::Project;
use postgres::Client;
use qvdiff_postgres::testing::{TestDatabase, URL_VAR};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Cases whose rows PostgreSQL cannot hold, with why (see the module documentation).
const SQLITE_ONLY_ROWS: &[(&str, &str)] = &[
    (
        "default_sql_current_timestamp_on_existing_column",
        "created_at 'not a date' cannot be a timestamp",
    ),
    (
        "bool_json_decimal_uuid_blob_round_trip",
        "price 1e10 does not fit NUMERIC(12, 2)",
    ),
];

/// Cases in flight per core: a case mostly waits for `qvdiff` processes and the server.
const WORKERS_PER_CORE: usize = 4;

/// How one case went.
enum Outcome {
    /// Ran with its rows.
    WithRows,
    /// Ran without rows: they are SQLite-only by nature.
    SqliteOnlyRows(&'static str),
    /// The up was refused on the case's rows as expected; then ran without rows.
    RefusedAsExpected,
    /// Not run, with why.
    Skipped(String),
}

/// What one run of a case (with or without rows) ended in.
enum Pass {
    Done,
    /// The up was refused as `expect_refused.postgres.txt` says (and checked).
    Refused,
    Skipped(String),
}

#[test]
fn every_fixture_case_on_postgres() {
    if std::env::var(URL_VAR).map_or(true, |u| u.is_empty()) {
        // Says why on stderr, or panics when a server is required.
        assert!(TestDatabase::create("fixture cases").is_none());
        return;
    }
    let cases = fixture_cases();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(PathBuf, Result<Outcome, String>)>> = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get() * WORKERS_PER_CORE);
    std::thread::scope(|s| {
        for _ in 0..workers.min(cases.len()) {
            s.spawn(|| {
                while let Some(case) = cases.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let result = run_case(case);
                    results
                        .lock()
                        .expect("results")
                        .push((case.clone(), result));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("results");
    results.sort_by(|a, b| a.0.cmp(&b.0));

    let name = |case: &Path| {
        case.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    let (mut with_rows, mut without_rows, mut refused, mut skipped, mut failures) =
        (0, Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (case, result) in &results {
        match result {
            Ok(Outcome::WithRows) => with_rows += 1,
            Ok(Outcome::SqliteOnlyRows(why)) => {
                without_rows.push(format!("{} ({why})", name(case)))
            }
            Ok(Outcome::RefusedAsExpected) => refused.push(name(case)),
            Ok(Outcome::Skipped(why)) => skipped.push(format!("{} ({why})", name(case))),
            Err(e) => failures.push(format!("[{}] {e}", name(case))),
        }
    }
    eprintln!(
        "PostgreSQL fixture cases: {} in all; passed with their rows: {with_rows}; refused as \
         expected with rows, then passed without: {}; passed without rows (SQLite-only): {}; \
         skipped: {}; failed: {}",
        results.len(),
        list(&refused),
        list(&without_rows),
        list(&skipped),
        failures.len(),
    );
    assert!(
        failures.is_empty(),
        "{} case(s) failed on PostgreSQL:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

fn run_case(case: &Path) -> Result<Outcome, String> {
    let name = case.file_name().unwrap_or_default().to_string_lossy();
    if let Some((_, why)) = SQLITE_ONLY_ROWS.iter().find(|(n, _)| *n == name) {
        return Ok(match run_pass(case, false)? {
            Pass::Skipped(why) => Outcome::Skipped(why),
            _ => Outcome::SqliteOnlyRows(why),
        });
    }
    match run_pass(case, true)? {
        Pass::Done => Ok(Outcome::WithRows),
        Pass::Skipped(why) => Ok(Outcome::Skipped(why)),
        Pass::Refused => match run_pass(case, false)? {
            Pass::Done => Ok(Outcome::RefusedAsExpected),
            Pass::Skipped(why) => Ok(Outcome::Skipped(why)),
            Pass::Refused => Err("refused without rows".to_string()),
        },
    }
}

/// One run of the case on a fresh database, with or without its rows.
fn run_pass(case: &Path, with_rows: bool) -> Result<Pass, String> {
    let name = case
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let read =
        |file: &str| std::fs::read_to_string(case.join(file)).map_err(|e| format!("{file}: {e}"));
    let setup = if case.join("setup.sql").exists() {
        match std::fs::read_to_string(case.join("setup.postgres.sql")) {
            Ok(setup) => Some(setup),
            Err(_) => {
                return Ok(Pass::Skipped(
                    "setup.sql is SQLite SQL and there is no setup.postgres.sql".to_string(),
                ))
            }
        }
    } else {
        None
    };
    let expect_refused = std::fs::read_to_string(case.join("expect_refused.postgres.txt")).ok();

    let p = Project::with_models(&[("src/models.rs", &read("before.rs")?)]);
    let config = std::fs::read_to_string(case.join("config.postgres.toml")).unwrap_or_default();
    p.write(
        "qvdiff.toml",
        &format!(
            "models = [\"src\"]\nmigrations = \"migrations\"\ndialect = \"postgres\"\n{config}"
        ),
    );
    let ok = |args: &[&str]| -> Result<String, String> {
        let run = p.qvdiff(args);
        if run.code == 0 {
            Ok(run.stdout)
        } else {
            Err(format!(
                "`qvdiff {}` exited {}:\n{}{}",
                args.join(" "),
                run.code,
                run.stdout,
                run.stderr
            ))
        }
    };
    ok(&[
        "migrate",
        "--no-input",
        "-m",
        "before",
        "--rev-id",
        "r1_before",
    ])?;
    let Some(db) = TestDatabase::create(&name) else {
        return Ok(Pass::Skipped(format!("{URL_VAR} is not set")));
    };
    let url = db.url.as_str();
    ok(&["upgrade", "--db", url])?;
    let mut client = db.connect();
    if with_rows {
        let rows = match std::fs::read_to_string(case.join("rows.postgres.sql")) {
            Ok(rows) => rows,
            Err(_) => translate_rows(&read("rows.sql")?, &column_types(&mut client)?),
        };
        let mut tx = client.transaction().map_err(|e| e.to_string())?;
        tx.batch_execute(&rows)
            .map_err(|e| format!("rows: {}\n{rows}", describe(&e)))?;
        tx.commit().map_err(|e| e.to_string())?;
    }
    if let Some(setup) = &setup {
        hand_written_migration(&p, setup)?;
        ok(&["upgrade", "--db", url])?;
    }
    let initial = dump(&mut client)?;

    p.write("src/models.rs", &read("after.rs")?);
    // A view or trigger in the history cannot be modelled offline: diff with the server.
    let live: &[&str] = if setup.is_some() || case.join("migrate_with_db.txt").exists() {
        &["--db", url]
    } else {
        &[]
    };
    let Some(migration) = migrate_change(&p, case, &name, live)? else {
        // The models differ only in what PostgreSQL stores alike.
        snapshot(case, "migration.postgres.sql", NO_MIGRATION)?;
        ok(&["check", "--db", url])?;
        return Ok(Pass::Done);
    };
    snapshot(case, "migration.postgres.sql", &migration)?;
    if let Some(contract) = contract_change(&p)? {
        if expect_refused.is_some() {
            return Err("an expand / contract case expects no refusal".to_string());
        }
        snapshot(case, "contract.postgres.sql", &contract)?;
        // Expand, with the window between the revisions in its own snapshot (a renamed
        // table's old name is a view there, its rows in the dump); then the contract.
        ok(&["upgrade", "--db", url])?;
        snapshot(case, "data_expand.postgres.txt", &dump(&mut client)?)?;
        ok(&["upgrade", "--db", url, "--contract"])?;
        ok(&["check", "--db", url])?;
        snapshot(case, "data_up.postgres.txt", &dump(&mut client)?)?;
        // Both revisions' way back.
        ok(&["downgrade", "--db", url, "r1_before"])?;
        let after_down = dump(&mut client)?;
        snapshot(case, "data_down.postgres.txt", &after_down)?;
        if down_must_restore(case, &migration) && !restores(&initial, &after_down) {
            return Err(format!(
                "the expand loses no data, so the way back must restore every value:\n--- \
                 inserted\n{initial}\n--- after down\n{after_down}"
            ));
        }
        return Ok(Pass::Done);
    }

    // A refusal is expected on this pass: the data snapshots belong to the pass without rows.
    let refusal = expect_refused.as_deref().filter(|_| with_rows);
    if run_or_refused(
        &p,
        &["upgrade", "--db", url],
        refusal,
        &mut client,
        &initial,
    )? {
        return Ok(Pass::Refused);
    }
    ok(&["check", "--db", url])?;
    let after_up = dump(&mut client)?;
    if refusal.is_none() {
        snapshot(case, "data_up.postgres.txt", &after_up)?;
    }
    let down = ["downgrade", "--db", url, "-1"];
    if run_or_refused(&p, &down, refusal, &mut client, &after_up)? {
        return Ok(Pass::Refused);
    }
    if refusal.is_some() {
        return Err("expect_refused.postgres.txt: upgrade and downgrade both ran".to_string());
    }
    let after_down = dump(&mut client)?;
    snapshot(case, "data_down.postgres.txt", &after_down)?;
    if down_must_restore(case, &migration) && !restores(&initial, &after_down) {
        return Err(format!(
            "up loses no data, so down must restore every value:\n--- inserted\n{initial}\n--- after down\n{after_down}"
        ));
    }
    Ok(Pass::Done)
}

/// Whether the dump `after_down` holds every value of `initial`: every row the same, and every
/// sequence still there and not behind. A sequence may be ahead: an identity that the up
/// dropped comes back continuing after the largest id, where the one as inserted (rows with
/// explicit ids) had not been used.
fn restores(initial: &str, after_down: &str) -> bool {
    fn split(dump: &str) -> (Vec<&str>, HashMap<&str, Option<i64>>) {
        let mut rows = Vec::new();
        let mut sequences = HashMap::new();
        for line in dump.lines() {
            match line
                .strip_prefix("== sequence ")
                .and_then(|s| s.rsplit_once(": "))
            {
                Some((name, last)) => {
                    sequences.insert(name, last.parse::<i64>().ok());
                }
                None => rows.push(line),
            }
        }
        (rows, sequences)
    }
    let (rows, sequences) = split(initial);
    let (rows_down, sequences_down) = split(after_down);
    rows == rows_down
        && sequences
            .iter()
            .all(|(name, last)| match (last, sequences_down.get(name)) {
                (None, Some(_)) => true,
                (Some(last), Some(Some(down))) => down >= last,
                _ => false,
            })
}

/// The `migration.postgres.sql` of a case whose models PostgreSQL stores alike (`migrate`
/// writes nothing).
const NO_MIGRATION: &str = "-- no migration: on PostgreSQL the models are the same schema\n";

/// Runs `qvdiff args`: `Ok(false)` when it succeeds; `Ok(true)` when it fails as `refusal`
/// expects (exit 2, the message naming revision `r2_change` and holding each line of
/// `refusal`, the data still `before`); an error otherwise.
fn run_or_refused(
    p: &Project,
    args: &[&str],
    refusal: Option<&str>,
    client: &mut Client,
    before: &str,
) -> Result<bool, String> {
    let run = p.qvdiff(args);
    let message = format!("{}{}", run.stdout, run.stderr);
    let Some(expected) = refusal else {
        return match run.code {
            0 => Ok(false),
            code => Err(format!(
                "`qvdiff {}` exited {code}:\n{message}",
                args.join(" ")
            )),
        };
    };
    if run.code == 0 {
        return Ok(false);
    }
    let missing: Vec<&str> = std::iter::once("r2_change")
        .chain(expected.lines().map(str::trim).filter(|l| !l.is_empty()))
        .filter(|needle| !message.contains(needle))
        .collect();
    if run.code != 2 || !missing.is_empty() {
        return Err(format!(
            "`qvdiff {}` should be refused as expect_refused.postgres.txt says (exit 2, naming \
             {missing:?}); it exited {}:\n{message}",
            args.join(" "),
            run.code
        ));
    }
    let after = dump(client)?;
    if after != before {
        return Err(format!(
            "`qvdiff {}` was refused but changed the data:\n--- before\n{before}\n--- after\n{after}",
            args.join(" ")
        ));
    }
    Ok(true)
}

fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `(table, column)` → `information_schema` data type, for the tables of the current schema.
fn column_types(client: &mut Client) -> Result<HashMap<(String, String), String>, String> {
    let rows = client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text \
             FROM information_schema.columns WHERE table_schema = current_schema()",
            &[],
        )
        .map_err(|e| describe(&e))?;
    Ok(rows
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect())
}

/// A token of SQLite's SQL, as far as `INSERT … VALUES` needs: its kind and byte span.
#[derive(Clone, Copy)]
struct Token {
    kind: TokenKind,
    start: usize,
    end: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    /// A keyword, bare name or number.
    Word,
    /// `'text'`.
    Text,
    /// `"name"`.
    Name,
    /// `X'hex'`.
    Blob,
    Punct(u8),
}

fn tokenize(sql: &str) -> Vec<Token> {
    let b = sql.as_bytes();
    let quoted_end = |mut i: usize, q: u8| {
        i += 1;
        while i < b.len() {
            if b[i] == q {
                if b.get(i + 1) == Some(&q) {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            i += 1;
        }
        b.len()
    };
    let word_byte = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c >= 0x80;
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let kind = match b[i] {
            c if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\'' => {
                i = quoted_end(i, b'\'');
                TokenKind::Text
            }
            b'"' => {
                i = quoted_end(i, b'"');
                TokenKind::Name
            }
            b'x' | b'X' if b.get(i + 1) == Some(&b'\'') => {
                i = quoted_end(i + 1, b'\'');
                TokenKind::Blob
            }
            c if word_byte(c) => {
                while i < b.len() && word_byte(b[i]) {
                    i += 1;
                }
                TokenKind::Word
            }
            c => {
                i += 1;
                TokenKind::Punct(c)
            }
        };
        tokens.push(Token {
            kind,
            start,
            end: i,
        });
    }
    tokens
}

/// `rows` (SQLite's SQL) with a `0`/`1` value in a `boolean` column written `FALSE`/`TRUE` and a
/// blob `X'…'` in a `bytea` column written `'\x…'::bytea`, in the `INSERT INTO t (columns)
/// VALUES (…), …` statements; everything else as written.
fn translate_rows(rows: &str, types: &HashMap<(String, String), String>) -> String {
    let tokens = tokenize(rows);
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for statement in tokens.split(|t| t.kind == TokenKind::Punct(b';')) {
        insert_edits(rows, statement, types, &mut edits);
    }
    let mut out = String::new();
    let mut at = 0;
    for (start, end, text) in edits {
        out.push_str(&rows[at..start]);
        out.push_str(&text);
        at = end;
    }
    out.push_str(&rows[at..]);
    out
}

fn insert_edits(
    sql: &str,
    t: &[Token],
    types: &HashMap<(String, String), String>,
    edits: &mut Vec<(usize, usize, String)>,
) -> Option<()> {
    let text = |tok: &Token| &sql[tok.start..tok.end];
    let is_word = |i: usize, w: &str| {
        t.get(i)
            .is_some_and(|x| x.kind == TokenKind::Word && text(x).eq_ignore_ascii_case(w))
    };
    let is_punct = |i: usize, c: u8| t.get(i).is_some_and(|x| x.kind == TokenKind::Punct(c));
    // PostgreSQL's spelling of a name: bare names fold to lower case.
    let name = |i: usize| -> Option<String> {
        let tok = t.get(i)?;
        match tok.kind {
            TokenKind::Word => Some(text(tok).to_lowercase()),
            TokenKind::Name => Some(text(tok)[1..tok.end - tok.start - 1].replace("\"\"", "\"")),
            _ => None,
        }
    };
    if !(is_word(0, "INSERT") && is_word(1, "INTO")) {
        return None;
    }
    let table = name(2)?;
    let mut i = 3;
    if !is_punct(i, b'(') {
        return None;
    }
    let mut columns = Vec::new();
    loop {
        columns.push(name(i + 1)?);
        i += 2;
        if is_punct(i, b')') {
            break;
        }
        if !is_punct(i, b',') {
            return None;
        }
    }
    i += 1;
    if !is_word(i, "VALUES") {
        return None;
    }
    i += 1;
    loop {
        if !is_punct(i, b'(') {
            return None;
        }
        i += 1;
        // The values of one row: token ranges split at commas outside parentheses.
        let mut values = Vec::new();
        let (mut from, mut depth) = (i, 0);
        loop {
            let tok = t.get(i)?;
            match tok.kind {
                TokenKind::Punct(b'(') => depth += 1,
                TokenKind::Punct(b')') if depth > 0 => depth -= 1,
                TokenKind::Punct(b')') | TokenKind::Punct(b',') if depth == 0 => {
                    values.push(&t[from..i]);
                    from = i + 1;
                    if tok.kind == TokenKind::Punct(b')') {
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        for (column, value) in columns.iter().zip(values) {
            let [tok] = value else { continue };
            let ty = types.get(&(table.clone(), column.clone()));
            let replacement = match (ty.map(String::as_str), tok.kind, text(tok)) {
                (Some("boolean"), TokenKind::Word, "0") => "FALSE".to_string(),
                (Some("boolean"), TokenKind::Word, "1") => "TRUE".to_string(),
                (Some("bytea"), TokenKind::Blob, blob) => {
                    format!("'\\x{}'::bytea", &blob[2..blob.len() - 1])
                }
                _ => continue,
            };
            edits.push((tok.start, tok.end, replacement));
        }
        i += 1;
        if !is_punct(i, b',') {
            return Some(());
        }
        i += 1;
    }
}

/// Every row of every table and view of the current schema (qvdiff's ledger aside), each value
/// as `value::text` (NULL apart), rows in primary-key order (or by every value), with the
/// columns' types; then the sequences' last values and the triggers. Instants are written on a
/// UTC clock, whatever the server's `TimeZone`.
fn dump(client: &mut Client) -> Result<String, String> {
    let err = |e: postgres::Error| describe(&e);
    client.batch_execute("SET TimeZone = 'UTC'").map_err(err)?;
    let relations = client
        .query(
            "SELECT c.oid, c.relname::text, c.relkind = 'v' FROM pg_class c \
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v') \
             AND c.relname NOT LIKE 'qvdiff\\_%' ORDER BY c.relkind = 'v', c.relname COLLATE \"C\"",
            &[],
        )
        .map_err(err)?;
    let mut out = String::new();
    for relation in relations {
        let oid: u32 = relation.get(0);
        let table: String = relation.get(1);
        let is_view: bool = relation.get(2);
        let columns: Vec<(String, String)> = client
            .query(
                "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute \
                 WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                &[&oid],
            )
            .map_err(err)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let key: Vec<String> = client
            .query(
                "SELECT a.attname::text FROM pg_index i \
                 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                 WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord",
                &[&oid],
            )
            .map_err(err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let values: Vec<String> = columns
            .iter()
            .map(|(c, _)| format!("{}::text", quote(c)))
            .collect();
        let order: Vec<String> = if key.is_empty() {
            (1..=columns.len()).map(|i| i.to_string()).collect()
        } else {
            key.iter().map(|c| quote(c)).collect()
        };
        let described: Vec<String> = columns.iter().map(|(c, t)| format!("{c} {t}")).collect();
        let label = if is_view {
            format!("view {table}")
        } else {
            table.clone()
        };
        let _ = writeln!(out, "== {label} ({})", described.join(", "));
        let select = format!(
            "SELECT {} FROM {} ORDER BY {}",
            values.join(", "),
            quote(&table),
            order.join(", ")
        );
        for row in client.query(&select, &[]).map_err(err)? {
            let shown: Vec<String> = (0..columns.len())
                .map(|i| match row.get::<_, Option<String>>(i) {
                    Some(v) => format!("{v:?}"),
                    None => "NULL".to_string(),
                })
                .collect();
            let _ = writeln!(out, "{}", shown.join(" | "));
        }
    }
    // Identity columns' promise (ids are not handed out twice) lives in their sequences.
    for row in client
        .query(
            "SELECT sequencename::text, last_value FROM pg_sequences \
             WHERE schemaname = current_schema() AND sequencename NOT LIKE 'qvdiff\\_%' ORDER BY sequencename COLLATE \"C\"",
            &[],
        )
        .map_err(err)?
    {
        let last: Option<i64> = row.get(1);
        let last = last.map_or("unused".to_string(), |v| v.to_string());
        let _ = writeln!(out, "== sequence {}: {last}", row.get::<_, String>(0));
    }
    for row in client
        .query(
            "SELECT tgname::text, tgrelid::regclass::text FROM pg_trigger \
             WHERE NOT tgisinternal ORDER BY tgname COLLATE \"C\"",
            &[],
        )
        .map_err(err)?
    {
        let _ = writeln!(
            out,
            "== trigger {} on {}",
            row.get::<_, String>(0),
            row.get::<_, String>(1)
        );
    }
    Ok(out)
}
