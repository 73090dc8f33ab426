//! Turning "the server refused" (or, worse, "the server cut the value") into "these rows are in
//! the way".
//!
//! A migration step can meet rows it does not allow: `SET NOT NULL` over NULLs, a unique index
//! or constraint over duplicates, a foreign key over orphans, a CHECK over rows that break it,
//! a type change over values that do not convert. PostgreSQL then fails the statement with one
//! example at most. And a type change can succeed while changing values: the server rounds
//! `1.5` into an integer column and `1.234` into `numeric(5, 2)`, and an explicit cast cuts text
//! to a `varchar`'s length. So the runner recognises these statements ([`DataStep::of`]) and:
//!
//! - before a type change, counts the values that would come out changed or not at all (one
//!   query, a cheap predicate), and refuses when there are any;
//! - inside the migration transaction, runs the other steps under a savepoint; when one fails,
//!   it rolls back to the savepoint and counts the rows in the way (one query), so the success
//!   path costs no extra scan of a big table;
//! - outside a transaction (a revision with `CREATE INDEX CONCURRENTLY`), where a failed unique
//!   index would be left behind invalid and the steps before it committed, counts the duplicates
//!   before building it — unless the runner can undo the steps before it (`runner/undo.rs`):
//!   then the build runs at once, and the rows are counted only after it failed.
//!
//! Each count comes with a few example keys ([`MAX_EXAMPLE_KEYS`]). The caller then rolls the
//! whole transaction back: nothing is changed.

use crate::render::{parse_type, quote_string};
use crate::session::{Session, SessionError, TextRow};
use crate::sqltext::{self, Token, TokenKind};
use qvdiff_core::data_problem::{
    DataProblem, DataProblemKind, DuplicateGroup, MAX_EXAMPLE_KEYS, MAX_EXAMPLE_VALUES,
};
use qvdiff_core::ColumnType;

/// A name as written in the statement (valid SQL, quotes kept) and as shown to people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name {
    /// As written: `"Order Items"`, `public.users`, `users`.
    pub sql: String,
    /// As shown: the last part, unquoted (or folded to lower case when bare).
    pub shown: String,
}

/// A statement step that existing rows can block or change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DataStep {
    /// `ALTER TABLE t ALTER [COLUMN] c SET NOT NULL`.
    NotNull { table: Name, column: Name },
    /// `CREATE UNIQUE INDEX … ON t (c, …) [WHERE …]`, `ADD [CONSTRAINT n] UNIQUE|PRIMARY KEY (…)`.
    Unique {
        table: Name,
        columns: Vec<Name>,
        predicate: Option<String>,
        concurrently: bool,
    },
    /// `ADD [CONSTRAINT n] FOREIGN KEY (…) REFERENCES p [(…)]` (validated at once).
    ForeignKey {
        table: Name,
        columns: Vec<Name>,
        parent: Name,
        parent_columns: Option<Vec<Name>>,
    },
    /// `ADD [CONSTRAINT n] CHECK (expr)` (validated at once).
    Check {
        table: Name,
        name: Option<String>,
        expression: String,
    },
    /// `VALIDATE CONSTRAINT n`: a foreign key or a CHECK added `NOT VALID` before.
    Validate { table: Name, constraint: Name },
    /// `ALTER [COLUMN] c [SET DATA] TYPE ty [USING expr]`.
    Type {
        table: Name,
        column: Name,
        to: String,
        /// Whether the conversion is a plain cast of the column (no `USING`, or a `USING` that
        /// only casts it): then values that would come out changed are refused. Any other
        /// `USING` is the model's own conversion, taken as meant.
        plain_cast: bool,
        /// The `USING` expression, when there is one.
        using: Option<String>,
    },
}

/// The statement's tokens with the text, for the small recognisers of data steps (below) and
/// of the steps a refused run can undo (`runner/undo.rs`).
pub(crate) struct Words<'a> {
    sql: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

impl<'a> Words<'a> {
    pub(crate) fn new(sql: &'a str) -> Words<'a> {
        let tokens = sqltext::tokenize(sql)
            .into_iter()
            .filter(|t| t.kind != TokenKind::Semicolon)
            .collect();
        Words {
            sql,
            tokens,
            pos: 0,
        }
    }

    fn text(&self, at: usize) -> &'a str {
        self.tokens
            .get(at)
            .map_or("", |t| &self.sql[t.start..t.end])
    }

    pub(crate) fn at(&self, word: &str) -> bool {
        self.tokens
            .get(self.pos)
            .is_some_and(|t| t.is_word(self.sql, word))
    }

    pub(crate) fn eat(&mut self, word: &str) -> bool {
        let found = self.at(word);
        if found {
            self.pos += 1;
        }
        found
    }

    pub(crate) fn eat_all(&mut self, words: &[&str]) -> bool {
        let found = words.iter().enumerate().all(|(i, word)| {
            self.tokens
                .get(self.pos + i)
                .is_some_and(|t| t.is_word(self.sql, word))
        });
        if found {
            self.pos += words.len();
        }
        found
    }

    fn at_punct(&self, punct: &str) -> bool {
        self.tokens.get(self.pos).is_some_and(|t| {
            !matches!(
                t.kind,
                TokenKind::Word | TokenKind::QuotedIdent | TokenKind::String
            ) && self.text(self.pos) == punct
        })
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    /// `ALTER TABLE [IF EXISTS] [ONLY] t` with one action after it (no top-level comma): the
    /// table, the words left at the action.
    pub(crate) fn alter_table(&mut self) -> Option<Name> {
        if !self.eat_all(&["ALTER", "TABLE"]) {
            return None;
        }
        self.eat_all(&["IF", "EXISTS"]);
        self.eat("ONLY");
        let table = self.name()?;
        (!self.has_top_level_comma()).then_some(table)
    }

    /// One identifier part (a bare word or a `"quoted"` name).
    fn part(&mut self) -> Option<(String, String)> {
        let token = *self.tokens.get(self.pos)?;
        let text = &self.sql[token.start..token.end];
        let shown = match token.kind {
            TokenKind::Word => text.to_lowercase(),
            TokenKind::QuotedIdent if text.len() >= 2 => {
                text[1..text.len() - 1].replace("\"\"", "\"")
            }
            _ => return None,
        };
        self.pos += 1;
        Some((text.to_string(), shown))
    }

    /// A possibly qualified name.
    pub(crate) fn name(&mut self) -> Option<Name> {
        let (mut sql, mut shown) = self.part()?;
        while self.at_punct(".") {
            self.pos += 1;
            let (part_sql, part_shown) = self.part()?;
            sql = format!("{sql}.{part_sql}");
            shown = part_shown;
        }
        Some(Name { sql, shown })
    }

    /// `(a, b, …)` of plain names; `None` for anything else (an expression index).
    fn name_list(&mut self) -> Option<Vec<Name>> {
        if !self.at_punct("(") {
            return None;
        }
        self.pos += 1;
        let mut names = Vec::new();
        loop {
            names.push(self.name()?);
            if self.at_punct(",") {
                self.pos += 1;
            } else if self.at_punct(")") {
                self.pos += 1;
                return Some(names);
            } else {
                return None;
            }
        }
    }

    /// The text of a parenthesised body, consumed.
    fn paren_body(&mut self) -> Option<&'a str> {
        let open = *self.tokens.get(self.pos)?;
        if open.kind != TokenKind::Open {
            return None;
        }
        let Some(close) = qvdiff_core::sqltext::closing_paren(&self.tokens, self.pos) else {
            self.pos = self.tokens.len();
            return None;
        };
        self.pos = close + 1;
        Some(self.sql[open.end..self.tokens[close].start].trim())
    }

    /// The text from the current token to the first of `stop` words outside parentheses (or
    /// the end), consumed.
    fn until(&mut self, stop: &[&str]) -> &'a str {
        let start = self
            .tokens
            .get(self.pos)
            .map_or(self.sql.len(), |t| t.start);
        let mut end = start;
        let mut depth = 0usize;
        while let Some(token) = self.tokens.get(self.pos).copied() {
            match token.kind {
                TokenKind::Open => depth += 1,
                TokenKind::Close => depth = depth.saturating_sub(1),
                TokenKind::Word
                    if depth == 0 && stop.iter().any(|w| token.is_word(self.sql, w)) =>
                {
                    break
                }
                _ => {}
            }
            end = token.end;
            self.pos += 1;
        }
        self.sql[start..end].trim()
    }

    /// Whether `word` comes later in the statement outside parentheses.
    fn has_top_level(&self, word: &str) -> bool {
        let mut depth = 0usize;
        self.tokens[self.pos.min(self.tokens.len())..]
            .iter()
            .any(|t| {
                match t.kind {
                    TokenKind::Open => depth += 1,
                    TokenKind::Close => depth = depth.saturating_sub(1),
                    _ => {}
                }
                depth == 0 && t.is_word(self.sql, word)
            })
    }

    /// Whether a `,` follows outside parentheses (several actions in one `ALTER TABLE`).
    pub(crate) fn has_top_level_comma(&self) -> bool {
        let mut depth = 0usize;
        (self.pos..self.tokens.len()).any(|i| {
            match self.tokens[i].kind {
                TokenKind::Open => depth += 1,
                TokenKind::Close => depth = depth.saturating_sub(1),
                _ => {}
            }
            depth == 0 && self.text(i) == ","
        })
    }
}

impl DataStep {
    /// The data step a statement takes, if it is one of the forms above. Anything else
    /// (several actions in one `ALTER TABLE`, an expression index, …) is `None`: it runs as
    /// it is, and a failure is reported with the server's own message.
    pub(crate) fn of(statement: &str) -> Option<DataStep> {
        DataStep::read(statement, false)
    }

    /// The check a foreign key or CHECK added `NOT VALID` will meet at its `VALIDATE`, as if it
    /// were validated at once. `None` for any other statement.
    pub(crate) fn validated_later(statement: &str) -> Option<DataStep> {
        if !Words::new(statement).ends_not_valid() {
            return None;
        }
        DataStep::read(statement, true)
            .filter(|step| matches!(step, DataStep::Check { .. } | DataStep::ForeignKey { .. }))
    }

    /// [`DataStep::of`]; `not_valid_too`: read `ADD … NOT VALID` as if it were validated.
    fn read(statement: &str, not_valid_too: bool) -> Option<DataStep> {
        let mut w = Words::new(statement);
        if w.eat("CREATE") {
            return unique_index(&mut w);
        }
        let table = w.alter_table()?;
        if w.eat("VALIDATE") {
            w.eat("CONSTRAINT");
            let constraint = w.name()?;
            return Some(DataStep::Validate { table, constraint });
        }
        if w.eat("ALTER") {
            w.eat("COLUMN");
            let column = w.name()?;
            if w.eat_all(&["SET", "NOT", "NULL"]) {
                return w.at_end().then_some(DataStep::NotNull { table, column });
            }
            w.eat_all(&["SET", "DATA"]);
            if !w.eat("TYPE") {
                return None;
            }
            let to = w.until(&["COLLATE", "USING"]).to_string();
            if w.eat("COLLATE") {
                w.name()?;
            }
            let using = w.eat("USING").then(|| w.until(&[]).to_string());
            let plain_cast = using
                .as_deref()
                .is_none_or(|using| is_plain_cast(using, &column.sql, &to));
            return Some(DataStep::Type {
                table,
                column,
                to,
                plain_cast,
                using,
            });
        }
        if !w.eat("ADD") {
            return None;
        }
        let name = if w.eat("CONSTRAINT") {
            Some(w.name()?.shown)
        } else {
            None
        };
        if w.ends_not_valid() && !not_valid_too {
            return None;
        }
        if w.eat("UNIQUE") || w.eat_all(&["PRIMARY", "KEY"]) {
            w.eat_all(&["NULLS", "DISTINCT"]);
            let columns = w.name_list()?;
            return Some(DataStep::Unique {
                table,
                columns,
                predicate: None,
                concurrently: false,
            });
        }
        if w.eat_all(&["FOREIGN", "KEY"]) {
            let columns = w.name_list()?;
            if !w.eat("REFERENCES") {
                return None;
            }
            let parent = w.name()?;
            let parent_columns = if w.at_punct("(") {
                Some(w.name_list()?)
            } else {
                None
            };
            return Some(DataStep::ForeignKey {
                table,
                columns,
                parent,
                parent_columns,
            });
        }
        if w.eat("CHECK") {
            let expression = w.paren_body()?.to_string();
            return Some(DataStep::Check {
                table,
                name,
                expression,
            });
        }
        None
    }

    /// Whether the step is checked before it runs (a type change, whose losses the server
    /// does not report; any other step when a failure would not be undone, such as a unique
    /// index built concurrently, which stays behind invalid), rather than explained after it
    /// fails.
    pub(crate) fn checked_before(&self, undone_on_failure: bool) -> bool {
        match self {
            DataStep::Type { .. } => true,
            _ => !undone_on_failure,
        }
    }
}

/// For a revision that runs statement by statement (where a refused step would leave the steps
/// before it committed): the first step whose rows are in the way, found before anything runs,
/// as `(statement index, problem)`. What is read is [`checks_up_front`]'s decision; the
/// reading runs in a transaction rolled back at the end, so nothing of it stays.
pub(crate) fn problem_before_steps(
    session: &mut (impl Session + ?Sized),
    statements: &[&str],
    undoable: &[usize],
) -> Option<(usize, DataProblem)> {
    let checks = checks_up_front(statements, undoable);
    if checks.is_empty() {
        return None;
    }
    session.execute("BEGIN").ok()?;
    let found = checks.iter().find_map(|(index, check)| {
        let problem = match check {
            UpFront::Conversion(step) => conversion_problem(session, step),
            UpFront::Validation(step) => checked(session, |s| explain_failure(s, step)),
        };
        problem.map(|problem| (*index, problem))
    });
    let _ = session.execute("ROLLBACK");
    found
}

/// A reading of the rows before the first step of a revision (see [`checks_up_front`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UpFront {
    /// The values a type change would change or fail on.
    Conversion(DataStep),
    /// The rows that the `VALIDATE` of a constraint added `NOT VALID` will meet.
    Validation(DataStep),
}

/// Which steps of a revision run statement by statement are checked against the rows as they
/// are now, before the first step, in order:
///
/// - a constraint added `NOT VALID` (what its `VALIDATE` will meet), before the first statement
///   that writes rows, adds a column or changes a type (a backfill before a NOT NULL changes
///   what the check would meet; the `VALIDATE` then explains its own failure), unless it names
///   what an earlier statement renamed or created (not there yet to be read);
/// - a type change (values that would come out changed, or not at all), before the first
///   statement that writes rows, unless an earlier statement names its column (a rename, a
///   column added again, an earlier change of it) or renamed or created its table: then the
///   rows it meets are not those of now.
///
/// Anything else is checked right before its own step, and so are the constraints added by the
/// statements in `undoable` (their `VALIDATE` runs first and, when it fails, the runner undoes
/// the steps before it). So no reading names what the revision creates: the server would
/// refuse it (and log an error) before anything has run.
pub(crate) fn checks_up_front(statements: &[&str], undoable: &[usize]) -> Vec<(usize, UpFront)> {
    let mut checks = Vec::new();
    let mut constraints_checked = true;
    // The names earlier statements gave (renamed to or created), as shown.
    let mut given: Vec<String> = Vec::new();
    // The tables earlier statements renamed: the name before, and the name after as shown.
    let mut renamed_tables: Vec<(Name, String)> = Vec::new();
    for (index, statement) in statements.iter().enumerate() {
        let first = Words::new(statement).text_at(0).to_ascii_uppercase();
        if matches!(
            first.as_str(),
            "UPDATE" | "INSERT" | "DELETE" | "MERGE" | "DO"
        ) {
            break;
        }
        let step = DataStep::of(statement);
        match &step {
            Some(step @ DataStep::Type { table, column, .. }) => {
                let column_as_stored = !statements[..index].iter().any(|earlier| {
                    Words::new(earlier).names(&column.shown) && !keeps_values(earlier)
                });
                if let Some(stored_as) =
                    stored_under(table, &given, &renamed_tables).filter(|_| column_as_stored)
                {
                    let mut step = step.clone();
                    if let DataStep::Type { table, .. } = &mut step {
                        *table = stored_as;
                    }
                    checks.push((index, UpFront::Conversion(step)));
                }
            }
            _ if constraints_checked && !undoable.contains(&index) => {
                let words = Words::new(statement);
                let readable = !given.iter().any(|name| words.names(name));
                if let Some(validated) = DataStep::validated_later(statement).filter(|_| readable) {
                    checks.push((index, UpFront::Validation(validated)));
                }
            }
            _ => {}
        }
        let words = Words::new(statement);
        let adds_column = words.has_word("ADD") && words.has_word("COLUMN");
        if adds_column || matches!(step, Some(DataStep::Type { .. })) {
            constraints_checked = false;
        }
        given.extend(given_name(statement));
        renamed_tables.extend(renamed_table(statement));
    }
    checks
}

/// The name `table` has before the revision runs: itself when no earlier statement gave that
/// name, the name before a chain of earlier `ALTER TABLE … RENAME TO` (a renamed table holds the
/// same rows under its old name), and `None` when the revision creates it.
fn stored_under(table: &Name, given: &[String], renamed_tables: &[(Name, String)]) -> Option<Name> {
    let mut name = table.clone();
    for _ in 0..=renamed_tables.len() {
        if !given.contains(&name.shown) {
            return Some(name);
        }
        let (old, _) = renamed_tables
            .iter()
            .rev()
            .find(|(_, new)| *new == name.shown)?;
        name = old.clone();
    }
    None
}

/// `ALTER TABLE old RENAME TO new`: the table's name before, and after as shown.
fn renamed_table(statement: &str) -> Option<(Name, String)> {
    let mut w = Words::new(statement);
    let old = w.alter_table()?;
    if !w.eat_all(&["RENAME", "TO"]) {
        return None;
    }
    Some((old, w.name()?.shown))
}

/// The name a statement gives that was not there before it, as shown: what `RENAME [COLUMN |
/// CONSTRAINT] … TO` renames to, or the table or view `CREATE` makes.
fn given_name(statement: &str) -> Option<String> {
    let mut w = Words::new(statement);
    if w.eat_all(&["CREATE", "TABLE"])
        || w.eat_all(&["CREATE", "VIEW"])
        || w.eat_all(&["CREATE", "OR", "REPLACE", "VIEW"])
    {
        w.eat_all(&["IF", "NOT", "EXISTS"]);
        return w.name().map(|name| name.shown);
    }
    if !w.has_word("RENAME") {
        return None;
    }
    w.pos = w.tokens.iter().rposition(|t| t.is_word(w.sql, "TO"))? + 1;
    w.name().map(|name| name.shown)
}

/// Whether a statement leaves every stored value as it is: `ALTER TABLE t ALTER [COLUMN] c`
/// `SET DEFAULT …`, `DROP DEFAULT`, `SET NOT NULL` or `DROP NOT NULL`, one action.
fn keeps_values(statement: &str) -> bool {
    let mut w = Words::new(statement);
    if !w.eat_all(&["ALTER", "TABLE"]) {
        return false;
    }
    w.eat_all(&["IF", "EXISTS"]);
    w.eat("ONLY");
    if w.name().is_none() || w.has_top_level_comma() || !w.eat("ALTER") {
        return false;
    }
    w.eat("COLUMN");
    w.name().is_some()
        && (w.eat_all(&["SET", "DEFAULT"])
            || w.eat_all(&["DROP", "DEFAULT"])
            || w.eat_all(&["SET", "NOT", "NULL"])
            || w.eat_all(&["DROP", "NOT", "NULL"]))
}

/// Runs one reading under a savepoint: a failed one (a name the revision creates) is no
/// problem found, and leaves the transaction usable.
fn checked<S: Session + ?Sized>(
    session: &mut S,
    read: impl FnOnce(&mut S) -> Result<Option<DataProblem>, SessionError>,
) -> Option<DataProblem> {
    session
        .execute(&format!("SAVEPOINT {UP_FRONT_SAVEPOINT}"))
        .ok()?;
    let result = read(session);
    let end = if result.is_ok() {
        "RELEASE"
    } else {
        "ROLLBACK TO"
    };
    let _ = session.execute(&format!("{end} SAVEPOINT {UP_FRONT_SAVEPOINT}"));
    result.ok().flatten()
}

/// The savepoint each up-front reading runs under (see [`checked`]).
const UP_FRONT_SAVEPOINT: &str = "qvdiff_up_front";

/// The values a type change would change or fail on: the cheap predicate for losses first,
/// then whether the conversion runs over every row (one query); only when it does not are the
/// failing rows counted one by one.
fn conversion_problem(
    session: &mut (impl Session + ?Sized),
    step: &DataStep,
) -> Option<DataProblem> {
    let DataStep::Type {
        table,
        column,
        to,
        using,
        ..
    } = step
    else {
        return None;
    };
    if let Some(problem) = checked(session, |s| check_before(s, step)) {
        return Some(problem);
    }
    session
        .execute(&format!("SAVEPOINT {UP_FRONT_SAVEPOINT}"))
        .ok()?;
    let conversion = using.as_deref().unwrap_or(&column.sql);
    let converts = session
        .simple_query(&format!(
            "SELECT count(({conversion})::{to}) FROM {}",
            table.sql
        ))
        .is_ok();
    let end = if converts { "RELEASE" } else { "ROLLBACK TO" };
    session
        .execute(&format!("{end} SAVEPOINT {UP_FRONT_SAVEPOINT}"))
        .ok()?;
    if converts {
        return None;
    }
    // The query failed: on a missing column or table there is nothing to count either.
    checked(session, |s| explain_failure(s, step))
}

impl Words<'_> {
    /// The text of token `i` (empty past the end).
    fn text_at(&self, i: usize) -> &str {
        if i < self.tokens.len() {
            self.text(i)
        } else {
            ""
        }
    }

    /// Whether the statement names `name` (a bare word in any case, or quoted exactly).
    fn names(&self, name: &str) -> bool {
        self.tokens.iter().any(|t| {
            let text = &self.sql[t.start..t.end];
            match t.kind {
                TokenKind::Word => text.eq_ignore_ascii_case(name),
                TokenKind::QuotedIdent if text.len() >= 2 => {
                    text[1..text.len() - 1].replace("\"\"", "\"") == name
                }
                _ => false,
            }
        })
    }

    /// Whether the bare word appears anywhere in the statement.
    fn has_word(&self, word: &str) -> bool {
        self.tokens.iter().any(|t| t.is_word(self.sql, word))
    }

    /// Whether the rest of the statement ends in `NOT VALID` (then nothing is checked now).
    fn ends_not_valid(&self) -> bool {
        let n = self.tokens.len();
        n >= 2
            && self.tokens[n - 2].is_word(self.sql, "NOT")
            && self.tokens[n - 1].is_word(self.sql, "VALID")
    }
}

/// `CREATE UNIQUE INDEX [CONCURRENTLY] [[IF NOT EXISTS] name] ON [ONLY] t [USING m] (c, …)
/// [INCLUDE (…)] [NULLS [NOT] DISTINCT] [WITH (…)] [TABLESPACE x] [WHERE pred]`.
fn unique_index(w: &mut Words<'_>) -> Option<DataStep> {
    if !w.eat_all(&["UNIQUE", "INDEX"]) {
        return None;
    }
    let concurrently = w.eat("CONCURRENTLY");
    w.eat_all(&["IF", "NOT", "EXISTS"]);
    if !w.at("ON") {
        w.name()?;
    }
    if !w.eat("ON") {
        return None;
    }
    w.eat("ONLY");
    let table = w.name()?;
    if w.eat("USING") {
        w.name()?;
    }
    let columns = w.name_list()?;
    // A unique index with NULLS NOT DISTINCT counts NULLs as equal: not modelled, not checked.
    if w.has_top_level("NULLS") && w.has_top_level("NOT") {
        return None;
    }
    let predicate = if w.has_top_level("WHERE") {
        w.until(&["WHERE"]);
        w.eat("WHERE");
        Some(w.until(&[]).to_string())
    } else {
        None
    };
    Some(DataStep::Unique {
        table,
        columns,
        predicate,
        concurrently,
    })
}

/// Whether `using` only casts `column` to `to` (`c::to`, `c::text::to`, `CAST(c AS to)`), as
/// qvdiff wrote type changes before it left the cast to the server.
fn is_plain_cast(using: &str, column: &str, to: &str) -> bool {
    let compact = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let (using, to) = (compact(using), compact(to));
    let column = column.trim();
    using == format!("{column}::{to}")
        || using == format!("{column}::text::{to}")
        || using.eq_ignore_ascii_case(&format!("CAST({column} AS {to})"))
}

/// The primary key of a table as SQL expressions that show each key as a literal, the
/// ordering columns, and the label (`ids`, the key column names, or `rows at` for a table
/// without a key, shown by their physical position).
struct RowKey {
    /// Columns to order by (quoted).
    order: String,
    /// One text expression showing a row's key as a literal.
    shown: String,
    /// `ids`, `a, b`, or `ctids`.
    label: String,
}

fn text_of(rows: &[TextRow], row: usize, column: usize) -> Option<&str> {
    rows.get(row)?.get(column)?.as_deref()
}

/// The key of `table` read from the catalog.
fn row_key(session: &mut (impl Session + ?Sized), table: &Name) -> Result<RowKey, SessionError> {
    let rows = session.simple_query(&format!(
        "SELECT quote_ident(a.attname), a.attname, t.typcategory \
         FROM pg_index i \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
         JOIN pg_type t ON t.oid = a.atttypid \
         WHERE i.indrelid = {}::regclass AND i.indisprimary \
         ORDER BY array_position(i.indkey::int2[], a.attnum)",
        quote_string(&table.sql)
    ))?;
    if rows.is_empty() {
        return Ok(RowKey {
            order: "ctid".to_string(),
            shown: "quote_literal(ctid::text)".to_string(),
            label: "ctids".to_string(),
        });
    }
    let mut order = Vec::new();
    let mut shown = Vec::new();
    let mut names = Vec::new();
    for row in 0..rows.len() {
        let quoted = text_of(&rows, row, 0).unwrap_or_default().to_string();
        names.push(text_of(&rows, row, 1).unwrap_or_default().to_string());
        shown.push(literal_sql(&quoted, text_of(&rows, row, 2) == Some("N")));
        order.push(quoted);
    }
    let label = match names.as_slice() {
        [single] if single.eq_ignore_ascii_case("id") => "ids".to_string(),
        _ => names.join(", "),
    };
    Ok(RowKey {
        order: order.join(", "),
        shown: tuple_sql(&shown),
        label,
    })
}

/// SQL showing `expression` as a literal: numbers bare, anything else quoted, NULL as `NULL`.
fn literal_sql(expression: &str, numeric: bool) -> String {
    if numeric {
        format!("coalesce({expression}::text, 'NULL')")
    } else {
        format!("quote_nullable({expression}::text)")
    }
}

/// SQL joining literal expressions into one (a parenthesised tuple for several).
fn tuple_sql(parts: &[String]) -> String {
    match parts {
        [single] => single.clone(),
        _ => format!("'(' || concat_ws(', ', {}) || ')'", parts.join(", ")),
    }
}

/// Whether each of `columns` of `table` is numeric (shown bare), from the catalog.
fn numeric_columns(
    session: &mut (impl Session + ?Sized),
    table: &Name,
    columns: &[Name],
) -> Result<Vec<bool>, SessionError> {
    columns
        .iter()
        .map(|column| {
            let category = session.query_value(&format!(
                "SELECT t.typcategory FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
                 WHERE a.attrelid = {}::regclass AND a.attname = {}",
                quote_string(&table.sql),
                quote_string(&column.shown)
            ))?;
            Ok(category.as_deref() == Some("N"))
        })
        .collect()
}

/// Rows of `table` matching `condition`: how many, and the first keys. One query: the count
/// is a window over the matching rows, the keys the first few of them in key order.
fn matching_rows(
    session: &mut (impl Session + ?Sized),
    table: &Name,
    condition: &str,
    kind: DataProblemKind,
) -> Result<Option<DataProblem>, SessionError> {
    matching_rows_showing(session, table, condition, None, |_| kind)
}

/// [`matching_rows`], also reading the first rows' value of the SQL literal expression
/// `value` (in the keys' order) for `kind`: the values a type change does not convert.
fn matching_rows_showing(
    session: &mut (impl Session + ?Sized),
    table: &Name,
    condition: &str,
    value: Option<&str>,
    kind: impl FnOnce(Vec<String>) -> DataProblemKind,
) -> Result<Option<DataProblem>, SessionError> {
    let key = row_key(session, table)?;
    let value_column = value.map(|v| format!(", {v}")).unwrap_or_default();
    let rows = session.simple_query(&format!(
        "SELECT count(*) OVER (), {}{value_column} FROM {} WHERE {condition} ORDER BY {} \
         LIMIT {MAX_EXAMPLE_KEYS}",
        key.shown, table.sql, key.order
    ))?;
    let Some(count) = text_of(&rows, 0, 0).and_then(|n| n.parse::<u64>().ok()) else {
        return Ok(None);
    };
    let column_of = |column: usize| -> Vec<String> {
        (0..rows.len())
            .filter_map(|row| text_of(&rows, row, column).map(str::to_string))
            .collect()
    };
    let values = if value.is_some() {
        column_of(2)
    } else {
        Vec::new()
    };
    Ok(Some(DataProblem {
        table: table.shown.clone(),
        kind: kind(values),
        rows: count,
        key_label: key.label,
        example_keys: column_of(1),
    }))
}

/// The conversion problem of `column` of `table` over the rows matching `condition`, with
/// their values shown as SQL literals.
fn unconvertible_rows(
    session: &mut (impl Session + ?Sized),
    table: &Name,
    column: &Name,
    to: &str,
    condition: &str,
) -> Result<Option<DataProblem>, SessionError> {
    let numeric = numeric_columns(session, table, std::slice::from_ref(column))?
        .first()
        .copied()
        .unwrap_or(false);
    let value = literal_sql(&column.sql, numeric);
    matching_rows_showing(session, table, condition, Some(&value), |values| {
        DataProblemKind::Conversion {
            column: column.shown.clone(),
            to: to.to_string(),
            values,
        }
    })
}

/// The column list of a unique key and the filter of the rows it covers (NULLs never collide).
fn unique_grouping(columns: &[Name], predicate: Option<&str>) -> (String, String) {
    let quoted: Vec<&str> = columns.iter().map(|c| c.sql.as_str()).collect();
    let mut filter: Vec<String> = quoted.iter().map(|c| format!("{c} IS NOT NULL")).collect();
    if let Some(predicate) = predicate {
        filter.push(format!("({predicate})"));
    }
    (quoted.join(", "), filter.join(" AND "))
}

/// Whether any value of `columns` repeats: one aggregate, about half the cost of
/// [`duplicate_rows`]'s ordered report, which runs only when it finds one.
fn has_duplicates(
    session: &mut (impl Session + ?Sized),
    table: &Name,
    columns: &[Name],
    predicate: Option<&str>,
) -> Result<bool, SessionError> {
    let (list, filter) = unique_grouping(columns, predicate);
    let rows = session.simple_query(&format!(
        "SELECT 1 FROM {} WHERE {filter} GROUP BY {list} HAVING count(*) > 1 LIMIT 1",
        table.sql
    ))?;
    Ok(!rows.is_empty())
}

/// Rows sharing a value of `columns` (NULLs never collide), grouped by value: one query.
fn duplicate_rows(
    session: &mut (impl Session + ?Sized),
    table: &Name,
    columns: &[Name],
    predicate: Option<&str>,
) -> Result<Option<DataProblem>, SessionError> {
    let key = row_key(session, table)?;
    let numeric = numeric_columns(session, table, columns)?;
    let quoted: Vec<&str> = columns.iter().map(|c| c.sql.as_str()).collect();
    let (list, filter) = unique_grouping(columns, predicate);
    let shown: Vec<String> = quoted
        .iter()
        .zip(&numeric)
        .map(|(c, n)| literal_sql(c, *n))
        .collect();
    let rows = session.simple_query(&format!(
        "WITH groups AS (SELECT {value} AS value, count(*) AS n, \
           (array_agg({key_shown} ORDER BY {order}))[1:{keys}] AS keys, \
           min(row_number) AS first \
         FROM (SELECT *, ctid, row_number() OVER (ORDER BY {order}) FROM {table} WHERE {filter}) r \
         GROUP BY {list} HAVING count(*) > 1) \
         SELECT (SELECT count(*) FROM groups), (SELECT sum(n) FROM groups), value, n, \
           array_to_json(keys) FROM groups ORDER BY first LIMIT {MAX_EXAMPLE_VALUES}",
        value = tuple_sql(&shown),
        key_shown = key.shown,
        order = key.order,
        keys = MAX_EXAMPLE_KEYS,
        table = table.sql,
    ))?;
    let Some(values) = text_of(&rows, 0, 0).and_then(|n| n.parse::<u64>().ok()) else {
        return Ok(None);
    };
    let total = text_of(&rows, 0, 1)
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    let groups = (0..rows.len())
        .map(|row| {
            let n: u64 = text_of(&rows, row, 3)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let keys: Vec<String> = text_of(&rows, row, 4)
                .and_then(|json| serde_json::from_str(json).ok())
                .unwrap_or_default();
            DuplicateGroup {
                value: text_of(&rows, row, 2).unwrap_or_default().to_string(),
                more: n > keys.len() as u64,
                keys,
            }
        })
        .collect();
    Ok(Some(DataProblem {
        table: table.shown.clone(),
        kind: DataProblemKind::Duplicate {
            columns: columns.iter().map(|c| c.shown.clone()).collect(),
            duplicated_values: values,
            groups,
        },
        rows: total,
        key_label: key.label,
        example_keys: Vec::new(),
    }))
}

/// Rows whose foreign key (all columns set: MATCH SIMPLE) finds no parent row.
fn orphan_rows(
    session: &mut (impl Session + ?Sized),
    table: &Name,
    columns: &[Name],
    parent: &Name,
    parent_columns: &[String],
) -> Result<Option<DataProblem>, SessionError> {
    let set: Vec<String> = columns
        .iter()
        .map(|c| format!("{}.{} IS NOT NULL", table.sql, c.sql))
        .collect();
    let matches: Vec<String> = columns
        .iter()
        .zip(parent_columns)
        .map(|(c, p)| format!("qvdiff_parent.{p} = {}.{}", table.sql, c.sql))
        .collect();
    let condition = format!(
        "{} AND NOT EXISTS (SELECT 1 FROM {} AS qvdiff_parent WHERE {})",
        set.join(" AND "),
        parent.sql,
        matches.join(" AND ")
    );
    matching_rows(
        session,
        table,
        &condition,
        DataProblemKind::Orphan {
            columns: columns
                .iter()
                .map(|c| format!("{}.{}", table.shown, c.shown))
                .collect(),
            parent: parent.shown.clone(),
        },
    )
}

/// The referenced key of `parent` when a foreign key names none: its primary key.
fn primary_key_columns(
    session: &mut (impl Session + ?Sized),
    parent: &Name,
) -> Result<Vec<String>, SessionError> {
    let rows = session.simple_query(&format!(
        "SELECT quote_ident(a.attname) FROM pg_index i \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
         WHERE i.indrelid = {}::regclass AND i.indisprimary \
         ORDER BY array_position(i.indkey::int2[], a.attnum)",
        quote_string(&parent.sql)
    ))?;
    Ok((0..rows.len())
        .filter_map(|row| text_of(&rows, row, 0).map(str::to_string))
        .collect())
}

/// Rows for which a CHECK is false (NULL passes a CHECK). A check that only says a column is
/// not NULL (how `SET NOT NULL` is prepared online) is reported as NULLs in that column.
fn check_rows(
    session: &mut (impl Session + ?Sized),
    table: &Name,
    name: &str,
    expression: &str,
) -> Result<Option<DataProblem>, SessionError> {
    let kind = match not_null_column(expression) {
        Some(column) => DataProblemKind::Null { column },
        None => DataProblemKind::Check {
            name: name.to_string(),
        },
    };
    matching_rows(session, table, &format!("({expression}) IS FALSE"), kind)
}

/// `c IS NOT NULL` (in any parentheses): the column.
fn not_null_column(expression: &str) -> Option<String> {
    let mut text = expression.trim();
    while text.starts_with('(') && text.ends_with(')') {
        text = text[1..text.len() - 1].trim();
    }
    let mut w = Words::new(text);
    let column = w.name()?;
    (w.eat_all(&["IS", "NOT", "NULL"]) && w.at_end()).then_some(column.shown)
}

/// The SQL condition true for a value of `column` (of type `from`) that converts to `to`
/// changed: cut, rounded, or out of range. `None` when the conversion keeps every value it
/// accepts, or fails on the others (which the server reports).
fn changed_by_conversion(column: &str, from: &ColumnType, to: &ColumnType) -> Option<String> {
    use ColumnType as T;
    let numeric = |ty: &T| matches!(ty, T::Integer { .. } | T::Float | T::Decimal { .. });
    match (from, to) {
        (
            _,
            T::Text {
                max_length: Some(n),
            },
        ) if !matches!(from, T::Blob) => Some(format!("char_length({column}::text) > {n}")),
        (T::Integer { bits: a }, T::Integer { bits: b }) if b < a => Some(out_of_range(column, *b)),
        (T::Float | T::Decimal { .. }, T::Integer { bits }) => Some(format!(
            "({column} <> trunc({column}) OR {})",
            out_of_range(column, *bits)
        )),
        (
            from,
            T::Decimal {
                precision,
                scale: Some(scale),
            },
        ) if numeric(from) => {
            let rounded = format!("round({column}::numeric, {scale})");
            let mut condition = format!("{column}::numeric <> {rounded}");
            if let Some(precision) = precision {
                let digits = i64::from(*precision) - i64::from(*scale);
                condition = format!("({condition} OR abs({rounded}) >= 1e{digits})");
            }
            Some(condition)
        }
        // A double keeps 15 to 17 significant digits: a bigger integer or a longer decimal
        // would come back rounded (its shortest exact text is compared).
        (T::Integer { .. } | T::Decimal { .. }, T::Float) => Some(format!(
            "{column}::numeric <> {column}::double precision::text::numeric"
        )),
        _ => None,
    }
}

/// `column` outside the range of a `bits`-bit integer (NaN and infinities included).
fn out_of_range(column: &str, bits: u8) -> String {
    let (min, max) = match bits {
        16 => (i64::from(i16::MIN), i64::from(i16::MAX)),
        32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    };
    format!("{column}::numeric NOT BETWEEN {min} AND {max}")
}

/// The column's declared type now, as the server prints it.
fn column_type(
    session: &mut (impl Session + ?Sized),
    table: &Name,
    column: &Name,
) -> Result<Option<String>, SessionError> {
    session.query_value(&format!(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = {}::regclass AND attname = {} AND NOT attisdropped",
        quote_string(&table.sql),
        quote_string(&column.shown)
    ))
}

/// A function that says whether a row's value converts: it evaluates the conversion for the
/// row at `row` and catches the error (PostgreSQL 15 has no `pg_input_is_valid`, and a `USING`
/// expression can fail by itself, e.g. bytes that are no UTF-8). Temporary: it goes with the
/// session, and with the transaction that the refusal rolls back.
const CONVERTS_FUNCTION: &str = "CREATE OR REPLACE FUNCTION pg_temp.qvdiff_converts(row_id tid, \
     conversion text, relation text, target text) RETURNS boolean LANGUAGE plpgsql AS $qvdiff$ \
     BEGIN EXECUTE format('SELECT (%s)::%s FROM %s WHERE ctid = %L', conversion, target, \
     relation, row_id); RETURN true; EXCEPTION WHEN others THEN RETURN false; END $qvdiff$";

/// Runs the check of `step` before it runs: the values a type change would change, or (outside
/// a transaction) the rows any other step would fail on.
pub(crate) fn check_before(
    session: &mut (impl Session + ?Sized),
    step: &DataStep,
) -> Result<Option<DataProblem>, SessionError> {
    match step {
        DataStep::Type {
            table,
            column,
            to,
            plain_cast,
            ..
        } => {
            if !plain_cast {
                return Ok(None);
            }
            let Some(from) = column_type(session, table, column)? else {
                return Ok(None);
            };
            let Some(condition) =
                changed_by_conversion(&column.sql, &parse_type(&from), &parse_type(to))
            else {
                return Ok(None);
            };
            unconvertible_rows(
                session,
                table,
                column,
                to,
                &format!("{} IS NOT NULL AND {condition}", column.sql),
            )
        }
        DataStep::Unique {
            table,
            columns,
            predicate,
            ..
        } => {
            // Before a build that may well succeed on a large table: the cheap question first.
            if !has_duplicates(session, table, columns, predicate.as_deref())? {
                return Ok(None);
            }
            explain_failure(session, step)
        }
        _ => explain_failure(session, step),
    }
}

/// The rows that made `step` fail, looked for after the failure (the step rolled back to its
/// savepoint). `None` when no row explains it: the server's message is the report then.
pub(crate) fn explain_failure(
    session: &mut (impl Session + ?Sized),
    step: &DataStep,
) -> Result<Option<DataProblem>, SessionError> {
    match step {
        DataStep::NotNull { table, column } => matching_rows(
            session,
            table,
            &format!("{} IS NULL", column.sql),
            DataProblemKind::Null {
                column: column.shown.clone(),
            },
        ),
        DataStep::Unique {
            table,
            columns,
            predicate,
            ..
        } => duplicate_rows(session, table, columns, predicate.as_deref()),
        DataStep::ForeignKey {
            table,
            columns,
            parent,
            parent_columns,
        } => {
            let parent_columns = match parent_columns {
                Some(names) => names.iter().map(|n| n.sql.clone()).collect(),
                None => primary_key_columns(session, parent)?,
            };
            orphan_rows(session, table, columns, parent, &parent_columns)
        }
        DataStep::Check {
            table,
            name,
            expression,
        } => check_rows(
            session,
            table,
            name.as_deref().unwrap_or("(unnamed)"),
            expression,
        ),
        DataStep::Validate { table, constraint } => validate_rows(session, table, constraint),
        DataStep::Type {
            table,
            column,
            to,
            using,
            ..
        } => {
            if let Some(problem) = removed_variant_rows(session, table, column, to)? {
                return Ok(problem);
            }
            session.execute(CONVERTS_FUNCTION)?;
            // The conversion as the statement gives it, run row by row: only on the way to a
            // refusal, never on the way to success.
            let conversion = using.as_deref().unwrap_or(&column.sql);
            unconvertible_rows(
                session,
                table,
                column,
                to,
                &format!(
                    "NOT pg_temp.qvdiff_converts(ctid, {}, {}, {})",
                    quote_string(conversion),
                    quote_string(&table.sql),
                    quote_string(to),
                ),
            )
        }
    }
}

/// When `to` is an enum type (the column swapped to a rebuilt enum that lost a variant): the
/// rows holding a value it does not have, said as the enum's problem with the values, rather
/// than as a conversion that "does not fit". `None` when `to` is no enum type.
fn removed_variant_rows(
    session: &mut (impl Session + ?Sized),
    table: &Name,
    column: &Name,
    to: &str,
) -> Result<Option<Option<DataProblem>>, SessionError> {
    let regtype = format!("to_regtype({})", quote_string(to));
    let kind = session.query_value(&format!(
        "SELECT typtype::text FROM pg_catalog.pg_type WHERE oid = {regtype}"
    ))?;
    if kind.as_deref() != Some("e") {
        return Ok(None);
    }
    let condition = format!(
        "{0} IS NOT NULL AND {0}::text NOT IN (SELECT enumlabel::text FROM pg_catalog.pg_enum \
         WHERE enumtypid = {regtype})",
        column.sql
    );
    let rows = session.simple_query(&format!(
        "SELECT DISTINCT quote_literal({}::text) FROM {} WHERE {condition} ORDER BY 1 \
         LIMIT {MAX_EXAMPLE_VALUES}",
        column.sql, table.sql
    ))?;
    let values = (0..rows.len())
        .filter_map(|row| text_of(&rows, row, 0).map(str::to_string))
        .collect();
    let type_name = to
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|t| !t.contains('"'))
        .unwrap_or(to)
        .to_string();
    matching_rows(
        session,
        table,
        &condition,
        DataProblemKind::NotAVariant {
            column: column.shown.clone(),
            type_name,
            values,
        },
    )
    .map(Some)
}

/// The rows a `NOT VALID` foreign key or CHECK fails on, read from its definition.
fn validate_rows(
    session: &mut (impl Session + ?Sized),
    table: &Name,
    constraint: &Name,
) -> Result<Option<DataProblem>, SessionError> {
    let rows = session.simple_query(&format!(
        "SELECT c.contype::text, pg_get_expr(c.conbin, c.conrelid), c.confrelid::regclass::text, \
           (SELECT relname FROM pg_class WHERE oid = c.confrelid), \
           (SELECT json_agg(json_build_array(quote_ident(attname), attname) \
              ORDER BY array_position(c.conkey, attnum)) \
            FROM pg_attribute WHERE attrelid = c.conrelid AND attnum = ANY (c.conkey)), \
           (SELECT json_agg(quote_ident(attname) ORDER BY array_position(c.confkey, attnum)) \
            FROM pg_attribute WHERE attrelid = c.confrelid AND attnum = ANY (c.confkey)) \
         FROM pg_constraint c WHERE c.conrelid = {}::regclass AND c.conname = {}",
        quote_string(&table.sql),
        quote_string(&constraint.shown)
    ))?;
    match text_of(&rows, 0, 0) {
        Some("c") => {
            let expression = text_of(&rows, 0, 1).unwrap_or("true").to_string();
            check_rows(session, table, &constraint.shown, &expression)
        }
        Some("f") => {
            let parent = Name {
                sql: text_of(&rows, 0, 2).unwrap_or_default().to_string(),
                shown: text_of(&rows, 0, 3).unwrap_or_default().to_string(),
            };
            let columns: Vec<(String, String)> = text_of(&rows, 0, 4)
                .and_then(|json| serde_json::from_str(json).ok())
                .unwrap_or_default();
            let columns: Vec<Name> = columns
                .into_iter()
                .map(|(sql, shown)| Name { sql, shown })
                .collect();
            let parent_columns: Vec<String> = text_of(&rows, 0, 5)
                .and_then(|json| serde_json::from_str(json).ok())
                .unwrap_or_default();
            orphan_rows(session, table, &columns, &parent, &parent_columns)
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests;
