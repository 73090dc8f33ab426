//! Running migration scripts: on a live database, on the in-memory shadow database (replay),
//! and the up/down/up proof of a generated migration (verify).

use crate::error::{
    ForeignKeyViolation, SqliteError, VerifyError, VerifyStep, MAX_REPORTED_VIOLATIONS,
};
use crate::introspect::{introspect, is_internal_table, is_sqlite_table, tables_of_kinds};
use crate::partition::{parent_keys_resolve, partition, run_in_parallel, StoredObject};
use crate::plan::Sqlite;
use crate::replay::SchemaReplay;
use crate::sqltext;
use qvdiff_core::{Dialect, Schema, UnusableDefault};
use rusqlite::{Batch, Connection, TransactionBehavior};
use std::collections::{BTreeMap, HashSet};

/// Turns off SQLite's double-quoted string literals in DML on `conn`: by default a
/// double-quoted name that matches no column (`SET "title" = "note"`, a rebuild copying a
/// column a pending revision renamed away) is silently the string `'note'`, written into every
/// row. Off, it is `no such column` and the run rolls back. Every connection that runs
/// migration SQL, real or in memory, reads it this way.
pub fn refuse_double_quoted_strings(conn: &Connection) -> Result<(), SqliteError> {
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DQS_DML, false)
        .map(drop)
        .map_err(|e| SqliteError::database("configuring the connection", e))
}

/// Applies scripts in order to a fresh in-memory database in ONE transaction; an error names the
/// revision, the failing statement and SQLite's message.
pub fn replay<'a>(
    scripts: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Connection, SqliteError> {
    let mut conn = Connection::open_in_memory()
        .map_err(|e| SqliteError::database("opening an in-memory database", e))?;
    refuse_double_quoted_strings(&conn)?;
    apply_scripts(&mut conn, scripts)?;
    Ok(conn)
}

/// A schema-only in-memory copy of a live database (for `migrate --db`: no rows are copied).
///
/// Tables, indexes, views and triggers are recreated from their stored `CREATE` statements.
pub fn schema_copy(live: &Connection) -> Result<Connection, SqliteError> {
    shadow_from(&stored_objects(live)?)
}

/// The schema objects of `conn`'s main database as stored (`sqlite_master` rows with SQL):
/// tables, then indexes, views and triggers, each in creation order. SQLite's own tables and
/// the shadow tables of virtual tables are left out: SQLite creates them itself.
pub fn stored_objects(conn: &Connection) -> Result<Vec<StoredObject>, SqliteError> {
    let context = "reading the stored schema";
    let db = |e| SqliteError::database(context, e);
    let shadow_tables = tables_of_kinds(conn, &["shadow"]).map_err(db)?;
    let mut statement = conn
        .prepare(
            "SELECT m.type, m.name, m.tbl_name, m.sql \
             FROM sqlite_master AS m \
             WHERE m.sql IS NOT NULL \
             ORDER BY CASE m.type WHEN 'table' THEN 0 WHEN 'index' THEN 1 \
                                  WHEN 'view' THEN 2 ELSE 3 END, m.rowid",
        )
        .map_err(db)?;
    let mut objects = Vec::new();
    let mut rows = statement.query([]).map_err(db)?;
    while let Some(row) = rows.next().map_err(db)? {
        let object = StoredObject {
            kind: row.get(0).map_err(db)?,
            name: row.get(1).map_err(db)?,
            table: row.get(2).map_err(db)?,
            sql: row.get(3).map_err(db)?,
        };
        if is_sqlite_table(&object.name) || shadow_tables.contains(&object.name) {
            continue;
        }
        objects.push(object);
    }
    Ok(objects)
}

/// A new in-memory database holding `objects` (no rows), created in one transaction in the
/// order given.
pub fn shadow_from(objects: &[StoredObject]) -> Result<Connection, SqliteError> {
    let db = |e| SqliteError::database("copying the database schema", e);
    let mut copy = Connection::open_in_memory()
        .map_err(|e| SqliteError::database("opening an in-memory database", e))?;
    refuse_double_quoted_strings(&copy)?;
    let transaction = copy.transaction().map_err(db)?;
    for object in objects {
        transaction
            .execute_batch(&object.sql)
            .map_err(|e| SqliteError::Statement {
                revision: format!("(schema copy of {})", object.name),
                statement: object.sql.clone(),
                message: crate::error::sqlite_message(&e),
            })?;
    }
    transaction.commit().map_err(db)?;
    Ok(copy)
}

/// The schema the scripts (`(revision, sql)`, in order) produce, and its stored objects, as
/// [`replay`] then [`introspect`] and [`stored_objects`] would give them.
///
/// A history of the plain DDL qvdiff writes is read by the pure replay of SQLite's schema, without
/// SQLite (the crate's `replay` module); other plain DDL is replayed in independent parts on all
/// cores (its `partition` module): SQLite's O(n²) schema building is most of a cold `check`
/// otherwise. Any other history, or any part that fails, is replayed whole, so errors are the
/// ones the whole history gives.
pub fn replay_schema<'a>(
    scripts: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(Schema, Vec<StoredObject>), SqliteError> {
    let scripts: Vec<(&str, &str)> = scripts.into_iter().collect();
    let mut pure = SchemaReplay::default();
    if pure.apply(scripts.iter().map(|(_, sql)| *sql)).is_some() {
        return Ok(pure.into_parts());
    }
    if let Some(replayed) = replay_in_parts(&scripts) {
        return Ok(replayed);
    }
    let conn = replay(scripts.iter().copied())?;
    Ok((introspect(&conn)?, stored_objects(&conn)?))
}

fn replay_in_parts(scripts: &[(&str, &str)]) -> Option<(Schema, Vec<StoredObject>)> {
    let statements: Vec<&str> = scripts
        .iter()
        .flat_map(|(_, sql)| sqltext::statement_texts(sql))
        .collect();
    let parts = partition(&[], [], std::slice::from_ref(&statements))?;
    if parts.len() < 2 {
        return None;
    }
    let replayed = run_in_parallel(&parts, |part| {
        let sql = part_sql(&statements, &part.statements[0]);
        let conn = replay([("replay", sql.as_str())]).ok()?;
        Some((introspect(&conn).ok()?, stored_objects(&conn).ok()?))
    });
    let mut schema = Schema::default();
    let mut objects = Vec::new();
    for part in replayed {
        let (part_schema, part_objects) = part?;
        schema.tables.extend(part_schema.tables);
        objects.extend(part_objects);
    }
    let schema = schema.normalized();
    // Tables first, then indexes: the order a shadow database is built in.
    objects.sort_by_key(|o| o.kind != "table");
    parent_keys_resolve(&schema.tables).then_some((schema, objects))
}

/// A part's statements (as [`sqltext::statement_texts`] cut them) as one script. A statement
/// without its `;` (the last of a script) gets one on a line of its own, after any comment.
fn part_sql(statements: &[&str], indices: &[usize]) -> String {
    let mut sql = String::new();
    for &i in indices {
        sql.push_str(statements[i]);
        if !statements[i].ends_with(';') {
            sql.push_str("\n;");
        }
        sql.push('\n');
    }
    sql
}

/// Applies one script on `conn` inside a transaction with foreign keys off around it and
/// `PRAGMA foreign_key_check` before commit (see the crate docs).
pub fn apply_script(conn: &mut Connection, revision: &str, sql: &str) -> Result<(), SqliteError> {
    apply_scripts(conn, [(revision, sql)])
}

/// Applies several scripts (`(revision, sql)`) in order in ONE transaction: all or nothing.
///
/// `PRAGMA foreign_keys` cannot change inside a transaction, and a table rebuild's `DROP TABLE`
/// would cascade deletes into child tables with foreign keys on. So this switches foreign keys
/// off before `BEGIN IMMEDIATE` (which also takes the write lock up front, so two concurrent
/// upgrades serialize), runs the scripts, then runs `PRAGMA foreign_key_check`: rows violating a
/// foreign key that were not already violating before (counted per child and parent table) roll
/// everything back and are reported with table, rowid and parent. The previous `foreign_keys`
/// setting is restored afterwards, whatever happened.
///
/// `conn` must not be inside a transaction. A script must not contain `BEGIN`/`COMMIT`.
pub fn apply_scripts<'a>(
    conn: &mut Connection,
    scripts: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), SqliteError> {
    with_foreign_keys_off(conn, |conn| apply_in_transaction(conn, scripts))
}

/// Runs `work` with `PRAGMA foreign_keys` OFF and restores the previous setting afterwards,
/// whatever happened. Shared by [`apply_scripts`] and the runner (which also writes the ledger
/// inside the transaction `work` opens).
///
/// `conn` must not be inside a transaction: the pragma is a no-op there.
pub(crate) fn with_foreign_keys_off<T, E: From<SqliteError>>(
    conn: &mut Connection,
    work: impl FnOnce(&mut Connection) -> Result<T, E>,
) -> Result<T, E> {
    let context = "applying migrations";
    let db = |e| SqliteError::database(context, e);
    if !conn.is_autocommit() {
        return Err(SqliteError::Database {
            context: context.to_string(),
            message: "a transaction is already open on this connection, so foreign keys \
                      cannot be switched off"
                .to_string(),
        }
        .into());
    }
    let foreign_keys_were_on: bool = conn
        .query_row("PRAGMA foreign_keys", [], |row| row.get(0))
        .map_err(db)?;
    conn.execute_batch("PRAGMA foreign_keys = OFF")
        .map_err(db)?;
    let result = work(conn);
    let restore = if foreign_keys_were_on {
        "PRAGMA foreign_keys = ON"
    } else {
        "PRAGMA foreign_keys = OFF"
    };
    let restored = conn.execute_batch(restore).map_err(db);
    match (result, restored) {
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(e.into()),
        (Ok(value), Ok(())) => Ok(value),
    }
}

fn apply_in_transaction<'a>(
    conn: &mut Connection,
    scripts: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), SqliteError> {
    let db = |e| SqliteError::database("applying migrations", e);
    let transaction = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let violations_before = foreign_key_violations(&transaction).map_err(db)?;
    let mut revisions = Vec::new();
    for (revision, sql) in scripts {
        run_script(&transaction, revision, sql)?;
        if transaction.is_autocommit() {
            return Err(SqliteError::Statement {
                revision: revision.to_string(),
                statement: "COMMIT / END / ROLLBACK".to_string(),
                message: "the script ended the migration transaction; a migration must not \
                          contain BEGIN, COMMIT or ROLLBACK"
                    .to_string(),
            });
        }
        revisions.push(revision);
    }
    let violations_after = foreign_key_violations(&transaction).map_err(db)?;
    let new_violations = added_violations(&violations_before, violations_after);
    if !new_violations.is_empty() {
        let total = new_violations.len();
        return Err(SqliteError::ForeignKeyViolations {
            revision: revisions.join(", "),
            violations: new_violations
                .into_iter()
                .take(MAX_REPORTED_VIOLATIONS)
                .collect(),
            total,
        });
    }
    // Dropping the transaction without commit (any `?` above) rolls back.
    transaction.commit().map_err(db)
}

/// Runs every statement of `sql`, stopping at the first failure.
///
/// SQLite itself finds the statement boundaries (triggers, strings and comments included); the
/// crate's own splitter is only used to name a statement that fails to prepare.
pub(crate) fn run_script(conn: &Connection, revision: &str, sql: &str) -> Result<(), SqliteError> {
    let mut batch = Batch::new(conn, sql);
    let mut executed = 0usize;
    loop {
        let failure = match batch.next() {
            Ok(None) => return Ok(()),
            Ok(Some(mut statement)) => {
                let text = statement.expanded_sql();
                let mut rows = statement.raw_query();
                let stepped = loop {
                    match rows.next() {
                        Ok(Some(_)) => continue,
                        Ok(None) => break Ok(()),
                        Err(error) => break Err(error),
                    }
                };
                match stepped {
                    Ok(()) => {
                        executed += 1;
                        continue;
                    }
                    Err(error) => (text, error),
                }
            }
            Err(error) => (None, error),
        };
        let (text, error) = failure;
        let statement = text.unwrap_or_else(|| {
            sqltext::split_statements(sql)
                .get(executed)
                .map_or_else(|| sql.trim().to_string(), |s| s.to_string())
        });
        return Err(SqliteError::Statement {
            revision: revision.to_string(),
            statement,
            message: crate::error::sqlite_message(&error),
        });
    }
}

pub(crate) fn foreign_key_violations(
    conn: &Connection,
) -> rusqlite::Result<Vec<ForeignKeyViolation>> {
    let mut statement =
        conn.prepare("SELECT \"table\", rowid, parent FROM pragma_foreign_key_check")?;
    let rows = statement.query_map([], |row| {
        Ok(ForeignKeyViolation {
            table: row.get(0)?,
            rowid: row.get(1)?,
            parent: row.get(2)?,
        })
    })?;
    rows.collect()
}

/// Violations beyond those that existed before, counted per (child table, parent table): rowids
/// are not stable across a table rebuild, counts are.
pub(crate) fn added_violations(
    before: &[ForeignKeyViolation],
    after: Vec<ForeignKeyViolation>,
) -> Vec<ForeignKeyViolation> {
    let mut allowance: BTreeMap<(String, String), usize> = BTreeMap::new();
    for v in before {
        *allowance
            .entry((v.table.clone(), v.parent.clone()))
            .or_default() += 1;
    }
    let mut groups: BTreeMap<(String, String), Vec<ForeignKeyViolation>> = BTreeMap::new();
    for v in after {
        groups
            .entry((v.table.clone(), v.parent.clone()))
            .or_default()
            .push(v);
    }
    groups
        .into_iter()
        .filter(|(key, rows)| rows.len() > allowance.get(key).copied().unwrap_or(0))
        .flat_map(|(_, rows)| rows)
        .collect()
}

/// The schema as two databases are compared (by [`verify`], `stamp`, drift checks):
/// [`Schema::comparable`] of the schema as SQLite stores it, without SQLite's or qvdiff's own
/// tables.
pub fn comparable(schema: &Schema) -> Schema {
    let mut schema = Sqlite.comparable(schema);
    schema.tables.retain(|t| !is_internal_table(&t.name));
    schema
}

/// The generated-migration proof: on `conn` (an in-memory db at the `from` state): apply up →
/// introspect must equal `wanted` (normalized, hint-free, tables only); apply down → must equal
/// the schema before; up again → wanted. Returns which step failed and both schemas so the CLI
/// can print a unified diff.
pub fn verify(
    conn: &mut Connection,
    wanted: &Schema,
    up: &str,
    down: &str,
) -> Result<(), VerifyError> {
    let before = introspect(conn).map_err(|error| VerifyError::Introspect { step: None, error })?;
    verify_from(conn, &before, wanted, up, down)
}

/// [`verify`] for a caller that already holds `conn`'s introspected schema (`before`): the CLI
/// read it when it replayed or loaded the shadow database, and reading 1000 tables again was a
/// tenth of a `migrate`.
pub fn verify_from(
    conn: &mut Connection,
    before: &Schema,
    wanted: &Schema,
    up: &str,
    down: &str,
) -> Result<(), VerifyError> {
    let read = |conn: &Connection, step: Option<VerifyStep>| {
        introspect(conn)
            .map(|schema| comparable(&schema))
            .map_err(|error| VerifyError::Introspect { step, error })
    };
    let before = comparable(before);
    let before_state = empty_state(conn);
    let wanted = comparable(wanted);
    let checks = [
        (VerifyStep::Up, up, &wanted),
        (VerifyStep::Down, down, &before),
        (VerifyStep::UpAgain, up, &wanted),
    ];
    for (step, sql, expected) in checks {
        if step == VerifyStep::UpAgain
            && before_state.is_some()
            && empty_state(conn) == before_state
        {
            // Down brought back exactly the starting state (same schema text, no rows), and the
            // first up already succeeded from that state with the wanted result: up again would
            // replay the same statements on the same input. For an initial migration this saves
            // a third of the proof, whose CREATEs cost O(n²) in SQLite.
            break;
        }
        apply_script(conn, &format!("verify {step}"), sql)
            .map_err(|error| VerifyError::Apply { step, error })?;
        let actual = read(conn, Some(step))?;
        if &actual != expected {
            return Err(VerifyError::Mismatch {
                step,
                expected: Box::new(expected.clone()),
                actual: Box::new(actual),
            });
        }
    }
    Ok(())
}

/// [`verify_from`] on a database holding `start` (the stored objects of the schema `before`).
///
/// The proof runs without SQLite on its replay of the schema when every statement is plain DDL
/// as qvdiff writes it (the crate's `replay` module), or on the parts of the scripts that touch
/// disjoint objects, each on a database holding only its own (its `partition` module), in
/// parallel; tables no statement names must then be the same in `before` and `wanted`. A few
/// statements against a big schema try the parts first (the pure replay reads every object). When
/// neither can pass it, it runs whole on one database holding all of `start`, so a failure is
/// always reported as the whole migration gives it.
pub fn verify_stored(
    start: &[StoredObject],
    before: &Schema,
    wanted: &Schema,
    up: &str,
    down: &str,
) -> Result<(), VerifyError> {
    let proof = Proof {
        start,
        before,
        wanted,
        up,
        down,
    };
    let by_pure_replay = || proof.by_pure_replay();
    let in_parts = || proof.in_parts();
    // The pure replay reads every starting object; the parts build only the objects the statements
    // name, in SQLite. A few statements against a big schema are cheaper in parts.
    // (Counting statements splits the scripts: not needed when the schema is small anyway.)
    let statements = || sqltext::statement_texts(up).len() + sqltext::statement_texts(down).len();
    let pure_replay_first = start.len() <= PURE_REPLAY_OBJECTS_PER_STATEMENT
        || start.len() <= statements() * PURE_REPLAY_OBJECTS_PER_STATEMENT;
    let (first, second): (&dyn Fn() -> bool, &dyn Fn() -> bool) = if pure_replay_first {
        (&by_pure_replay, &in_parts)
    } else {
        (&in_parts, &by_pure_replay)
    };
    if first() || second() {
        return Ok(());
    }
    let mut conn =
        shadow_from(start).map_err(|error| VerifyError::Introspect { step: None, error })?;
    verify_from(&mut conn, before, wanted, up, down)
}

/// About how many starting objects the pure replay reads in the time SQLite takes for one DDL
/// statement of a part (some 5 µs against 60 µs, measured on the 1000-table benchmark project).
const PURE_REPLAY_OBJECTS_PER_STATEMENT: usize = 12;

/// What [`verify_stored`] proves: from the stored objects `start` of the schema `before`, `up`
/// gives `wanted` and `down` gives `before` back.
#[derive(Clone, Copy)]
struct Proof<'a> {
    start: &'a [StoredObject],
    before: &'a Schema,
    wanted: &'a Schema,
    up: &'a str,
    down: &'a str,
}

impl Proof<'_> {
    /// Whether the proof passed on the pure replay of SQLite's schema ([`SchemaReplay`]); `false`
    /// also when a statement is outside it. The steps and comparisons are [`verify_from`]'s.
    fn by_pure_replay(self) -> bool {
        // Both scripts split once, and known to be read before any starting object is.
        let (Some(up), Some(down)) = (
            SchemaReplay::statements_of([self.up]),
            SchemaReplay::statements_of([self.down]),
        ) else {
            return false;
        };
        let Some(mut replay) = SchemaReplay::from_stored(self.start) else {
            return false;
        };
        let start_objects = replay.objects();
        let step = |replay: &mut SchemaReplay, statements: &[&str], expected: &Schema| {
            replay.run_statements(statements).is_some()
                && tables_agree(replay.tables(), &expected.tables, &HashSet::new())
        };
        if !step(&mut replay, &up, self.wanted) || !step(&mut replay, &down, self.before) {
            return false;
        }
        // As in `verify_from`: up again from exactly the starting state would repeat the first up.
        replay.objects() == start_objects || step(&mut replay, &up, self.wanted)
    }

    /// Whether the proof passed part by part; `false` also when it could not be split.
    fn in_parts(self) -> bool {
        let Proof {
            start,
            before,
            wanted,
            ..
        } = self;
        if !parent_keys_resolve(&before.tables) || !parent_keys_resolve(&wanted.tables) {
            return false;
        }
        let up_statements = sqltext::statement_texts(self.up);
        let down_statements = sqltext::statement_texts(self.down);
        let references = before.tables.iter().flat_map(|table| {
            table
                .foreign_keys
                .iter()
                .map(|fk| (table.name.clone(), fk.ref_table.clone()))
        });
        let Some(parts) = partition(
            start,
            references,
            &[up_statements.clone(), down_statements.clone()],
        ) else {
            return false;
        };
        let touched: HashSet<&str> = parts
            .iter()
            .flat_map(|p| p.names.iter().map(String::as_str))
            .collect();
        let in_part = |names: &HashSet<String>, schema: &Schema| Schema {
            tables: schema
                .tables
                .iter()
                .filter(|t| names.contains(&t.name.to_ascii_lowercase()))
                .cloned()
                .collect(),
            ..Schema::default()
        };
        if !tables_agree(&before.tables, &wanted.tables, &touched) {
            return false;
        }
        let passed = run_in_parallel(&parts, |part| {
            let objects: Vec<StoredObject> =
                part.objects.iter().map(|&i| start[i].clone()).collect();
            let Ok(mut conn) = shadow_from(&objects) else {
                return false;
            };
            let up = part_sql(&up_statements, &part.statements[0]);
            let down = part_sql(&down_statements, &part.statements[1]);
            verify_from(
                &mut conn,
                &in_part(&part.names, before),
                &in_part(&part.names, wanted),
                &up,
                &down,
            )
            .is_ok()
        });
        passed.into_iter().all(|ok| ok)
    }
}

/// Whether the tables of `a` and `b` outside `except` (lowercased names; SQLite's and qvdiff's
/// own tables aside) are the same, compared as [`comparable`] compares schemas. Both are
/// usually in SQLite's normal form already, so tables are first compared as they are, and
/// normalized only when they differ.
pub(crate) fn tables_agree<'t>(
    a: impl IntoIterator<Item = &'t qvdiff_core::Table>,
    b: impl IntoIterator<Item = &'t qvdiff_core::Table>,
    except: &HashSet<&str>,
) -> bool {
    fn by_name<'t>(
        tables: impl IntoIterator<Item = &'t qvdiff_core::Table>,
        except: &HashSet<&str>,
    ) -> BTreeMap<String, &'t qvdiff_core::Table> {
        tables
            .into_iter()
            .filter(|t| !is_internal_table(&t.name))
            .map(|t| (t.name.to_ascii_lowercase(), t))
            .filter(|(name, _)| !except.contains(name.as_str()))
            .collect()
    }
    let normalized = |t: &qvdiff_core::Table| {
        let mut t = crate::plan::normalize_table(t);
        t.normalize();
        t
    };
    let (a, b) = (by_name(a, except), by_name(b, except));
    a.len() == b.len()
        && a.iter().zip(&b).all(|((name_a, a), (name_b, b))| {
            name_a == name_b
                && (a.same_as_compared(b) || normalized(a).same_as_compared(&normalized(b)))
        })
}

/// The whole schema as SQLite stores it (`type`, `name`, `tbl_name`, `sql`, sorted), when every
/// table is empty and none is virtual; `None` otherwise (or on any error). Two equal states are
/// the same input to any script: root page numbers and free pages are all that may differ, and
/// SQL cannot branch on them.
fn empty_state(conn: &Connection) -> Option<Vec<[Option<String>; 4]>> {
    let mut statement = conn
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master")
        .ok()?;
    let mut objects: Vec<[Option<String>; 4]> = statement
        .query_map([], |row| {
            Ok([row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?])
        })
        .ok()?
        .collect::<rusqlite::Result<_>>()
        .ok()?;
    objects.sort();
    for [kind, name, _, sql] in &objects {
        if kind.as_deref() != Some("table") {
            continue;
        }
        let virtual_table = sql.as_deref().is_some_and(|sql| {
            sql.trim_start()
                .get(..14)
                .is_some_and(|p| p.eq_ignore_ascii_case("create virtual"))
        });
        let name = name.as_deref()?;
        if virtual_table {
            return None;
        }
        let has_rows: bool = conn
            .query_row(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM {})",
                    crate::render::quote_ident(name)
                ),
                [],
                |row| row.get(0),
            )
            .ok()?;
        if has_rows {
            return None;
        }
    }
    Some(objects)
}

/// The defaults of `schema` that no insert could take. SQLite accepts any `DEFAULT (…)` clause
/// in `CREATE TABLE` and evaluates it only when a row takes it (`now()` fails with "no such
/// function" at the application's first insert), so each SQL default of `schema` is taken by an
/// insert on an in-memory database, into a one-column table declared as the column is.
pub fn unusable_defaults(schema: &Schema) -> Result<Vec<UnusableDefault>, SqliteError> {
    let mut unusable = Vec::new();
    let sql_defaults = schema.tables.iter().flat_map(|t| {
        t.columns.iter().filter_map(move |c| match &c.default {
            Some(default @ qvdiff_core::DefaultValue::Sql(_)) => Some((t, c, default)),
            _ => None,
        })
    });
    let mut conn: Option<Connection> = None;
    for (table, column, default) in sql_defaults {
        let conn = match &mut conn {
            Some(conn) => conn,
            None => conn.insert(
                Connection::open_in_memory()
                    .map_err(|e| SqliteError::database("opening an in-memory database", e))?,
            ),
        };
        let clause = crate::render::render_default(default);
        let sql = format!(
            "CREATE TABLE \"d\" (\"v\" {} DEFAULT {clause}); INSERT INTO \"d\" DEFAULT VALUES;",
            crate::render::render_type(&column.ty)
        );
        let result = conn.execute_batch(&sql);
        // Dropped whatever happened, so the next column starts from an empty database.
        let _ = conn.execute_batch("DROP TABLE IF EXISTS \"d\"");
        if let Err(error) = result {
            unusable.push(UnusableDefault {
                table: table.name.clone(),
                column: column.name.clone(),
                default: clause,
                reason: error.to_string(),
            });
        }
    }
    Ok(unusable)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HISTORY: &str = "
        CREATE TABLE \"a\" (\"id\" INTEGER NOT NULL PRIMARY KEY, \"name\" TEXT);
        CREATE INDEX \"ix_a_name\" ON \"a\" (\"name\");
        CREATE TABLE \"b\" (\"id\" INTEGER NOT NULL PRIMARY KEY,
                            \"a_id\" INTEGER REFERENCES \"a\" (\"id\"));  -- the parent alone joins nothing
        CREATE TABLE \"c\" (\"id\" INTEGER NOT NULL PRIMARY KEY)
    ";

    #[test]
    fn plain_ddl_replays_in_parts_and_gives_what_the_whole_replay_gives() {
        let parts = partition(&[], [], &[sqltext::statement_texts(HISTORY)]).expect("splits");
        assert!(parts.len() >= 2, "{parts:?}");
        let (schema, mut objects) = replay_in_parts(&[("r1", HISTORY)]).expect("replayed in parts");
        let whole = replay([("r1", HISTORY)]).expect("replays");
        let mut whole_objects = stored_objects(&whole).expect("objects");
        assert_eq!(schema, introspect(&whole).expect("introspects"));
        objects.sort_by(|x, y| x.name.cmp(&y.name));
        whole_objects.sort_by(|x, y| x.name.cmp(&y.name));
        assert_eq!(objects, whole_objects);
    }

    #[test]
    fn verification_in_parts_proves_and_refuses_like_the_whole() {
        let start_db = replay([("r1", HISTORY)]).expect("replays");
        let start = stored_objects(&start_db).expect("objects");
        let before = introspect(&start_db).expect("introspects");
        let up = "ALTER TABLE \"c\" ADD COLUMN \"note\" TEXT;\n";
        let down = "ALTER TABLE \"c\" DROP COLUMN \"note\";\n";
        let wanted_db = replay([("r1", HISTORY), ("r2", up)]).expect("replays");
        let wanted = introspect(&wanted_db).expect("introspects");
        let proof = Proof {
            start: &start,
            before: &before,
            wanted: &wanted,
            up,
            down,
        };
        assert!(proof.in_parts());
        assert!(verify_from(
            &mut shadow_from(&start).unwrap(),
            &before,
            &wanted,
            up,
            down
        )
        .is_ok());
        // A down that forgets the column: refused in parts, and by the whole proof.
        assert!(!Proof {
            down: "SELECT 1;",
            ..proof
        }
        .in_parts());
        let forgetful = "UPDATE \"c\" SET \"id\" = \"id\";";
        assert!(!Proof {
            down: forgetful,
            ..proof
        }
        .in_parts());
        assert!(verify_stored(&start, &before, &wanted, up, forgetful).is_err());
        // A table the scripts never name must not change either.
        let mut changed = wanted.clone();
        changed.tables.retain(|t| t.name != "b");
        assert!(!Proof {
            wanted: &changed,
            ..proof
        }
        .in_parts());
        assert!(verify_stored(&start, &before, &changed, up, down).is_err());
    }
}
