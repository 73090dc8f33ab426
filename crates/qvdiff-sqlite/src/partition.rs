//! Schema scripts split into independent parts, each run on a small database of its own.
//!
//! SQLite keeps no index on `sqlite_master`: every `CREATE` and `DROP` scans it, so building a
//! schema of n objects in one database costs O(n²) — most of a `check` or `migrate` of a
//! 1000-table project. Statements that name disjoint sets of schema objects cannot see each
//! other, so each group can run on a database holding only its own objects: O(n²/k) work, spread
//! over the machine's cores, and objects no statement names are not built at all.
//!
//! [`partition`] is an accelerator, never the judge. It splits only scripts it fully
//! understands — plain DDL and row copies between tables that hold no rows — and keeps a script
//! whole when anything links objects in a way names do not show: views and triggers (which read
//! other tables), rows (which foreign keys check), `COLLATE` (which decides whether a parent key
//! matches). The callers ([`crate::replay_schema`], [`crate::verify_stored`]) also run the whole
//! script on one database whenever a part fails, so every error is the one SQLite gives for the
//! whole script.

use crate::sqltext::{self, Token, TokenKind};
use std::collections::{HashMap, HashSet};

/// One object of a database's schema as SQLite stores it: a row of `sqlite_master`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// `table`, `index`, `view` or `trigger`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The table it belongs to (a table's own name; a view's too).
    pub table: String,
    /// The `CREATE` statement, as stored.
    pub sql: String,
}

/// Statements and starting objects that only name each other.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Part {
    /// The starting objects it needs (indices into the starting objects).
    pub objects: Vec<usize>,
    /// Its statements of each script (indices into that script's statements).
    pub statements: Vec<Vec<usize>>,
    /// Every object name (ASCII lower case) the part's objects and statements use.
    pub names: HashSet<String>,
}

/// Parts are filled up to this many objects and statements, fewer when that leaves a core idle:
/// small enough that SQLite's scans stay short, large enough that opening a database per part
/// costs nothing.
const PART_SIZE: usize = 256;

/// Splits `scripts` (each a list of statements, run in order on a database holding `start`)
/// into parts that can run on separate databases; `None` when it cannot be done safely.
///
/// Starting objects no statement touches belong to no part. Statements are connected through
/// every schema object name they mention (so two statements creating the same name meet, and a
/// row copy joins both tables); a table that is renamed or altered also joins every table whose
/// foreign key names it, as SQLite rewrites those references. A foreign key's parent alone does
/// not join: without rows, only SQLite's "foreign key mismatch" check reads it, and
/// [`parent_keys_resolve`] checks that on the whole schema.
///
/// `start_references` are the `(child, parent)` table pairs of the starting objects' foreign
/// keys (the caller has them introspected; reading them from 1000 tables' SQL again cost more
/// than the rest of the split).
pub(crate) fn partition(
    start: &[StoredObject],
    start_references: impl IntoIterator<Item = (String, String)>,
    scripts: &[Vec<&str>],
) -> Option<Vec<Part>> {
    let threads = worker_count();
    if start.iter().any(|o| {
        !matches!(o.kind.as_str(), "table" | "index")
            || is_virtual_table(&o.sql)
            || mentions_collate(&o.sql)
    }) {
        return None;
    }
    // First pass: every statement must be one the splitter understands; collect every name an
    // object can have at some point.
    let mut known: HashSet<String> = HashSet::new();
    let mut references: Vec<(String, String)> = start_references
        .into_iter()
        .map(|(child, parent)| (lower(&child), lower(&parent)))
        .collect();
    for object in start {
        known.insert(lower(&object.name));
        known.insert(lower(&object.table));
    }
    let mut statements: Vec<Vec<(Vec<Token>, Statement)>> = Vec::new();
    for script in scripts {
        let mut classified = Vec::new();
        for sql in script {
            let mut tokens = sqltext::tokenize(sql);
            if tokens
                .last()
                .is_some_and(|t| t.kind == TokenKind::Semicolon)
            {
                tokens.pop();
            }
            if mentions_collate(sql) {
                return None;
            }
            let statement = classify(sql, &tokens)?;
            known.extend(statement.creates.iter().cloned());
            // A foreign key a statement declares (CREATE TABLE, ALTER TABLE … ADD COLUMN).
            if let Some(child) = statement
                .created_table
                .as_ref()
                .or(statement.altered_table.as_ref())
            {
                references.extend(referenced_tables(sql, &tokens).map(|p| (child.clone(), p)));
            }
            // Only the tokens that can name an object are kept for the second pass (a 1000-table
            // history has hundreds of thousands of tokens).
            let candidates = name_candidates(sql, &tokens);
            classified.push((candidates, statement));
        }
        statements.push(classified);
    }

    // Second pass: join names.
    let mut names = NameSets::default();
    for object in start {
        names.join(&lower(&object.name), &lower(&object.table));
    }
    let mut statement_names: Vec<Vec<String>> = Vec::new();
    for (script, classified) in scripts.iter().zip(&statements) {
        for (sql, (tokens, statement)) in script.iter().zip(classified) {
            let mentioned = mentioned_names(sql, tokens, &known);
            let Some(first) = mentioned.first() else {
                // A statement naming no object could touch any: keep the script whole.
                return None;
            };
            for other in &mentioned[1..] {
                names.join(first, other);
            }
            if let Some(altered) = &statement.altered_table {
                for (child, parent) in &references {
                    let renamed_to = statement.creates.iter().any(|c| c == parent);
                    if parent == altered || renamed_to {
                        names.join(altered, child);
                    }
                }
            }
            statement_names.push(mentioned);
        }
    }

    // Group by component, in order of first use, and pack components into parts.
    let mut component_of_root: HashMap<usize, usize> = HashMap::new();
    let mut components: Vec<Part> = Vec::new();
    let mut flat = statement_names.into_iter();
    for (s, classified) in statements.iter().enumerate() {
        for index in 0..classified.len() {
            let mentioned = flat.next().expect("one entry per statement");
            let root = names.root(&mentioned[0]);
            let c = *component_of_root.entry(root).or_insert_with(|| {
                components.push(Part {
                    statements: vec![Vec::new(); scripts.len()],
                    ..Part::default()
                });
                components.len() - 1
            });
            components[c].statements[s].push(index);
            components[c].names.extend(mentioned);
        }
    }
    for (index, object) in start.iter().enumerate() {
        let name = lower(&object.name);
        let root = names.root(&name);
        if let Some(&c) = component_of_root.get(&root) {
            let part = &mut components[c];
            part.objects.push(index);
            part.names.insert(name);
            part.names.insert(lower(&object.table));
        }
    }
    let total: usize = components.iter().map(weight).sum();
    let target = PART_SIZE.min(total.div_ceil(threads.max(1)).max(1));
    let mut parts: Vec<Part> = Vec::new();
    for component in components {
        match parts.last_mut() {
            Some(last) if weight(last) < target => merge_into(last, component),
            _ => parts.push(component),
        }
    }
    Some(parts)
}

fn weight(part: &Part) -> usize {
    part.objects.len() + part.statements.iter().map(Vec::len).sum::<usize>()
}

fn merge_into(into: &mut Part, from: Part) {
    into.objects.extend(from.objects);
    into.objects.sort_unstable();
    for (mine, theirs) in into.statements.iter_mut().zip(from.statements) {
        mine.extend(theirs);
        mine.sort_unstable();
    }
    into.names.extend(from.names);
}

/// Whether every foreign key of `tables` whose parent table exists names the parent's primary
/// key or the columns of one of its UNIQUE constraints or indexes — what SQLite's
/// `PRAGMA foreign_key_check` requires of the whole database (else: "foreign key mismatch").
pub(crate) fn parent_keys_resolve<'t>(
    tables: impl IntoIterator<Item = &'t qvdiff_core::Table> + Clone,
) -> bool {
    let by_name: HashMap<String, &qvdiff_core::Table> = tables
        .clone()
        .into_iter()
        .map(|t| (lower(&t.name), t))
        .collect();
    let same_set = |a: &[String], b: &[String]| {
        let mut a: Vec<String> = a.iter().map(|s| lower(s)).collect();
        let mut b: Vec<String> = b.iter().map(|s| lower(s)).collect();
        a.sort();
        b.sort();
        a == b
    };
    tables.into_iter().all(|table| {
        table.foreign_keys.iter().all(|fk| {
            let Some(parent) = by_name.get(&lower(&fk.ref_table)) else {
                return true;
            };
            if fk.ref_columns.is_empty() {
                return !parent.primary_key.is_empty()
                    && parent.primary_key.len() == fk.columns.len();
            }
            same_set(&fk.ref_columns, &parent.primary_key)
                || parent
                    .uniques
                    .iter()
                    .any(|u| same_set(&fk.ref_columns, &u.columns))
                || parent
                    .indexes
                    .iter()
                    .any(|i| i.unique && same_set(&fk.ref_columns, &i.columns))
        })
    })
}

/// Turns SQLite's memory statistics off for this process, and says whether it took effect.
///
/// With them on (SQLite's default), every allocation of every connection takes one global
/// mutex, and the parts of a replay or verification (`run_in_parallel`) queue on it: a cold
/// `check` of 1000 tables used 30 % more CPU and 40 % more wall time with them. qvdiff reads no
/// statistics. It must run before the process opens its first connection (SQLite refuses the
/// change afterwards, and nothing else changes).
pub fn disable_memory_statistics() -> bool {
    // SAFETY: `sqlite3_config` with SQLITE_CONFIG_MEMSTATUS takes one int. SQLite only accepts
    // it before initialization (else it returns SQLITE_MISUSE and changes nothing), which also
    // rules out a race with connections in other threads.
    let code = unsafe {
        rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int)
    };
    code == rusqlite::ffi::SQLITE_OK
}

/// How many parts run at once: the machine's cores.
pub(crate) fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `job` on every item, on up to [`worker_count`] threads (this one included); results in
/// item order. A helper thread that cannot be started only leaves more work to the others.
pub(crate) fn run_in_parallel<I: Sync, T: Send>(
    items: &[I],
    job: impl Fn(&I) -> T + Sync,
) -> Vec<T> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, job(item)));
        }
    };
    let helpers = worker_count().min(items.len()).saturating_sub(1);
    let mut results: Vec<(usize, T)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..helpers)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .name("qvdiff-sqlite-part".to_string())
                    .spawn_scoped(scope, work)
                    .ok()
            })
            .collect();
        let mut results = work();
        for handle in handles {
            results.extend(handle.join().expect("a partition worker panicked"));
        }
        results
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, result)| result).collect()
}

/// What the splitter knows of one statement.
struct Statement {
    /// Names the statement gives to objects (lower case).
    creates: Vec<String>,
    /// The table a `CREATE TABLE` creates.
    created_table: Option<String>,
    /// The table an `ALTER TABLE` changes.
    altered_table: Option<String>,
}

/// The statement's shape, or `None` for anything but the DDL and row copies the splitter knows:
/// `CREATE TABLE name (…)`, `CREATE [UNIQUE] INDEX name ON table (…)`, `DROP TABLE|INDEX`,
/// `ALTER TABLE`, `INSERT INTO t (…) SELECT … FROM u`, `UPDATE`, `DELETE`. No statement of
/// these can create a row from nothing, so every table stays empty.
fn classify(sql: &str, tokens: &[Token]) -> Option<Statement> {
    let word = |i: usize, w: &str| tokens.get(i).is_some_and(|t| t.is_word(sql, w));
    let name_at = |i: usize| -> Option<String> {
        let token = tokens.get(i)?;
        match token.kind {
            TokenKind::Word | TokenKind::QuotedIdent => token.ident(sql).map(|n| lower(&n)),
            _ => None,
        }
    };
    // The position after `IF [NOT] EXISTS` when it is there.
    let after = |at: usize, words: &[&str]| {
        let present = words.iter().enumerate().all(|(k, w)| word(at + k, w));
        if present {
            at + words.len()
        } else {
            at
        }
    };
    let mut statement = Statement {
        creates: Vec::new(),
        created_table: None,
        altered_table: None,
    };
    if word(0, "CREATE") && word(1, "TABLE") {
        let at = after(2, &["IF", "NOT", "EXISTS"]);
        let name = name_at(at)?;
        // `CREATE TABLE … AS SELECT` can make rows; `schema.name` is another database.
        if tokens.get(at + 1)?.kind != TokenKind::Open {
            return None;
        }
        statement.creates.push(name.clone());
        statement.created_table = Some(name);
    } else if word(0, "CREATE") && (word(1, "INDEX") || (word(1, "UNIQUE") && word(2, "INDEX"))) {
        let at = after(
            if word(1, "UNIQUE") { 3 } else { 2 },
            &["IF", "NOT", "EXISTS"],
        );
        statement.creates.push(name_at(at)?);
        if !word(at + 1, "ON") {
            return None;
        }
        name_at(at + 2)?;
    } else if word(0, "DROP") && (word(1, "TABLE") || word(1, "INDEX")) {
        let at = after(2, &["IF", "EXISTS"]);
        name_at(at)?;
        if tokens.len() != at + 1 {
            return None;
        }
    } else if word(0, "ALTER") && word(1, "TABLE") {
        let table = name_at(2)?;
        if tokens.get(3).is_some_and(|t| t.kind == TokenKind::Other) {
            return None; // `schema.table`
        }
        if word(3, "RENAME") && word(4, "TO") {
            statement.creates.push(name_at(5)?);
        }
        statement.altered_table = Some(table);
    } else if word(0, "INSERT") && word(1, "INTO") {
        // Only `INSERT INTO t (…) SELECT … FROM u`: rows copied from a table, never made.
        let depth_zero_words: Vec<usize> = depth_zero(tokens)
            .filter(|&i| tokens[i].kind == TokenKind::Word)
            .collect();
        let is = |i: usize, w: &str| tokens[i].is_word(sql, w);
        if depth_zero_words
            .iter()
            .any(|&i| is(i, "VALUES") || is(i, "DEFAULT"))
        {
            return None;
        }
        if !depth_zero_words.iter().any(|&i| is(i, "SELECT")) {
            return None;
        }
        let from = depth_zero_words.iter().rev().find(|&&i| is(i, "FROM"))?;
        if tokens.len() != from + 2 {
            return None;
        }
        name_at(from + 1)?;
    } else if word(0, "UPDATE") || (word(0, "DELETE") && word(1, "FROM")) {
        // No table holds rows (see above): these change nothing but may still fail.
    } else {
        return None;
    }
    Some(statement)
}

/// Indices of the tokens outside any parentheses.
fn depth_zero<'a>(tokens: &'a [Token]) -> impl Iterator<Item = usize> + 'a {
    let mut depth = 0i32;
    tokens.iter().enumerate().filter_map(move |(i, t)| {
        match t.kind {
            TokenKind::Open => depth += 1,
            TokenKind::Close => depth -= 1,
            _ if depth == 0 => return Some(i),
            _ => {}
        }
        None
    })
}

/// The known object names a statement mentions (bare, quoted or as a string, which SQLite may
/// read as a name), the parent of a `REFERENCES` clause excepted; first mention first.
fn mentioned_names(sql: &str, candidates: &[Token], known: &HashSet<String>) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for token in candidates {
        let Some(name) = token.ident(sql).map(|n| lower(&n)) else {
            continue;
        };
        if known.contains(&name) && !found.contains(&name) {
            found.push(name);
        }
    }
    found
}

/// The tokens of a statement that can name a schema object: bare words, quoted identifiers and
/// strings (SQLite may read a string as a name), the parent of a `REFERENCES` clause excepted.
fn name_candidates(sql: &str, tokens: &[Token]) -> Vec<Token> {
    tokens
        .iter()
        .enumerate()
        .filter(|(i, token)| {
            matches!(
                token.kind,
                TokenKind::Word | TokenKind::QuotedIdent | TokenKind::String
            ) && !(*i > 0 && tokens[i - 1].is_word(sql, "REFERENCES"))
        })
        .map(|(_, token)| *token)
        .collect()
}

/// The tables a `CREATE TABLE` statement's foreign keys name (lower case).
fn referenced_tables<'a>(sql: &'a str, tokens: &'a [Token]) -> impl Iterator<Item = String> + 'a {
    tokens.windows(2).filter_map(move |pair| {
        if pair[0].is_word(sql, "REFERENCES") {
            pair[1].ident(sql).map(|n| lower(&n))
        } else {
            None
        }
    })
}

/// `CREATE VIRTUAL TABLE …` (SQLite stores the statement as written, from `CREATE` on).
fn is_virtual_table(sql: &str) -> bool {
    let mut words = sql.split_ascii_whitespace();
    words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("create"))
        && words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("virtual"))
}

/// Whether the text holds the word `COLLATE` anywhere (in any case; strings and comments too:
/// a false alarm only keeps a script whole).
fn mentions_collate(sql: &str) -> bool {
    let bytes = sql.as_bytes();
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| matches!(b, b'c' | b'C'))
        .any(|(i, _)| {
            bytes
                .get(i..i + 7)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"collate"))
        })
}

fn lower(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Union–find over object names.
#[derive(Default)]
struct NameSets {
    index: HashMap<String, usize>,
    parent: Vec<usize>,
}

impl NameSets {
    fn node(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.parent.len();
        self.parent.push(i);
        self.index.insert(name.to_string(), i);
        i
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn root(&mut self, name: &str) -> usize {
        let i = self.node(name);
        self.find(i)
    }

    fn join(&mut self, a: &str, b: &str) {
        let a = self.root(a);
        let b = self.root(b);
        if a != b {
            self.parent[a] = b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, sql: &str) -> StoredObject {
        StoredObject {
            kind: "table".into(),
            name: name.into(),
            table: name.into(),
            sql: sql.into(),
        }
    }

    fn split(start: &[StoredObject], script: &[&str]) -> Option<Vec<Part>> {
        let references = start.iter().flat_map(|o| {
            let tokens = sqltext::tokenize(&o.sql);
            referenced_tables(&o.sql, &tokens)
                .map(|parent| (o.name.clone(), parent))
                .collect::<Vec<_>>()
        });
        partition(start, references, &[script.to_vec()])
    }

    fn groups(parts: &[Part]) -> Vec<Vec<usize>> {
        parts.iter().map(|p| p.statements[0].clone()).collect()
    }

    #[test]
    fn an_index_stays_with_its_table() {
        let script = [
            "CREATE TABLE \"a\" (\"id\" INTEGER PRIMARY KEY)",
            "CREATE TABLE \"b\" (\"id\" INTEGER PRIMARY KEY, \"a_id\" INTEGER REFERENCES \"a\" (\"id\"))",
            "CREATE INDEX \"ix_b\" ON \"b\" (\"a_id\")",
            "DROP INDEX \"ix_b\"",
        ];
        let start = [];
        let parts = split(&start, &script).expect("splits");
        let all: Vec<usize> = groups(&parts).concat();
        assert_eq!(all.len(), 4);
        // Whatever the packing, the index statements stay with their table.
        let with_b = parts
            .iter()
            .find(|p| p.names.contains("b"))
            .expect("b has a part");
        assert!(with_b.names.contains("ix_b"));
        assert!(with_b.statements[0].contains(&1) && with_b.statements[0].contains(&3));
    }

    #[test]
    fn a_rename_joins_the_tables_whose_foreign_keys_name_it() {
        let start = [
            table("a", "CREATE TABLE \"a\" (\"id\" INTEGER PRIMARY KEY)"),
            table(
                "b",
                "CREATE TABLE \"b\" (\"a_id\" INTEGER REFERENCES \"a\" (\"id\"))",
            ),
            table("c", "CREATE TABLE \"c\" (\"id\" INTEGER)"),
        ];
        let parts = split(&start, &["ALTER TABLE \"a\" RENAME TO \"z\""]).expect("splits");
        assert_eq!(parts.len(), 1);
        let objects = &parts[0].objects;
        assert_eq!(objects, &vec![0, 1], "c is untouched: no part holds it");
    }

    #[test]
    fn anything_unknown_keeps_the_script_whole() {
        let start = [table("a", "CREATE TABLE \"a\" (\"id\" INTEGER)")];
        for statement in [
            "INSERT INTO \"a\" VALUES (1)",
            "INSERT INTO \"a\" DEFAULT VALUES",
            "INSERT INTO \"a\" SELECT 1",
            "CREATE VIEW \"v\" AS SELECT * FROM \"a\"",
            "CREATE TABLE \"b\" AS SELECT * FROM \"a\"",
            "CREATE TEMP TABLE \"b\" (\"id\" INTEGER)",
            "PRAGMA foreign_keys = ON",
            "CREATE TABLE \"b\" (\"t\" TEXT COLLATE NOCASE)",
            "SELECT 1",
        ] {
            assert!(split(&start, &[statement]).is_none(), "{statement}");
        }
        let with_view = [StoredObject {
            kind: "view".into(),
            name: "v".into(),
            table: "v".into(),
            sql: "CREATE VIEW \"v\" AS SELECT * FROM \"a\"".into(),
        }];
        assert!(split(&with_view, &["DROP TABLE \"a\""]).is_none());
    }

    #[test]
    fn a_row_copy_joins_both_tables() {
        let parts = split(
            &[],
            &[
                "CREATE TABLE \"a\" (\"id\" INTEGER)",
                "CREATE TABLE \"_qvdiff_new_a\" (\"id\" INTEGER)",
                "INSERT INTO \"_qvdiff_new_a\" (\"id\")\nSELECT \"id\"\nFROM \"a\"",
                "DROP TABLE \"a\"",
                "ALTER TABLE \"_qvdiff_new_a\" RENAME TO \"a\"",
                "CREATE TABLE \"other\" (\"id\" INTEGER)",
            ],
        )
        .expect("splits");
        let first = parts.iter().find(|p| p.names.contains("a")).expect("a");
        assert_eq!(first.statements[0][..5], [0, 1, 2, 3, 4]);
    }

    #[test]
    fn parent_keys_must_be_a_key_of_the_parent() {
        use qvdiff_core::{Column, ColumnType, ForeignKey, Table};
        let mut parent = Table::new(
            "p",
            vec![Column::new("id", ColumnType::Integer { bits: 64 })],
        );
        let mut child = Table::new(
            "c",
            vec![Column::new("p_id", ColumnType::Integer { bits: 64 })],
        );
        child.foreign_keys.push(ForeignKey {
            columns: vec!["p_id".into()],
            ref_table: "p".into(),
            ref_columns: vec!["id".into()],
            on_delete: Default::default(),
            on_update: Default::default(),
        });
        assert!(!parent_keys_resolve([&parent, &child]));
        parent.primary_key = vec!["id".into()];
        assert!(parent_keys_resolve([&parent, &child]));
    }
}
