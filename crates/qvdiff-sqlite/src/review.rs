//! What `qvdiff lint` and `qvdiff review` need to know about a section's SQL, read with the
//! dialect's tokenizer: its statements with their lines and comments, the table each acts on,
//! and the renames it performs.
//!
//! Like the tokenizer, this is not a parser: it recognises the statement shapes qvdiff writes
//! and the common hand-written ones; anything else is a statement with no table.

use crate::plan::REBUILD_PREFIX;
use crate::sqltext::{tokenize, Token, TokenKind};
use crate::{apply_script, comparable, introspect, replay, schema_copy, SqliteError};
use qvdiff_core::diff::diff;
use qvdiff_core::lint::{down_mismatch, Analysis, Section, SectionKind};
use qvdiff_core::section::{Lexed, Lexeme, Spelling};
use qvdiff_core::{Renames, Replay};
use rusqlite::Connection;

/// SQLite keeps a bare name as written; a rebuild's temporary table is `_qvdiff_new_<table>`.
const SPELLING: Spelling = Spelling {
    fold: str::to_string,
    rebuild_prefix: Some(REBUILD_PREFIX),
};

/// Splits a section body into statements. `marker_line` is the 1-based line of the section's
/// marker; the body starts on the next line.
///
/// The temporary table of a rebuild (`_qvdiff_new_t`) is reported as the table it rebuilds
/// (`t`), so every statement of a rebuild points at the same table.
pub fn section(body: &str, marker_line: usize) -> Section {
    qvdiff_core::section::section(body, marker_line, &lex(body), SPELLING)
}

/// The renames a script performs (see [`qvdiff_core::section::renames`]).
pub fn renames(sql: &str) -> Renames {
    qvdiff_core::section::renames(&lex(sql), SPELLING)
}

/// A scratch in-memory database that migration files are replayed on for `lint` and `review`
/// ([`qvdiff_core::Replay`]). A database that could not be opened refuses every script.
pub struct ScratchDatabase {
    conn: Result<Connection, String>,
}

impl ScratchDatabase {
    /// An empty in-memory database.
    pub fn new() -> ScratchDatabase {
        ScratchDatabase {
            conn: replay(std::iter::empty()).map_err(|e| e.to_string()),
        }
    }
}

impl Default for ScratchDatabase {
    fn default() -> Self {
        ScratchDatabase::new()
    }
}

impl Replay for ScratchDatabase {
    fn apply(&mut self, revision: &str, sql: &str) -> Result<(), String> {
        let conn = self.conn.as_mut().map_err(|e| e.clone())?;
        apply_script(conn, revision, sql).map_err(|e| e.to_string())
    }

    fn analyze(&self, revision: &str, up: &str, down: &str) -> Option<Analysis> {
        let mut conn = schema_copy(self.conn.as_ref().ok()?).ok()?;
        let before = introspect(&conn).ok()?;
        let mut analysis = Analysis::starting_at(before.clone(), "SQLite");
        if let Err(e) = apply_script(&mut conn, revision, up) {
            analysis.failure = Some(failure(SectionKind::Up, e));
            return Some(analysis);
        }
        let after = introspect(&conn).ok()?;
        analysis.changes = diff(&before, &after, &renames(up));
        analysis.after = after;
        if let Err(e) = apply_script(&mut conn, revision, down) {
            analysis.failure = Some(failure(SectionKind::Down, e));
            return Some(analysis);
        }
        let back = introspect(&conn).ok()?;
        analysis.down_mismatch = down_mismatch(&comparable(&before), &comparable(&back));
        Some(analysis)
    }
}

/// A failed statement as lint reports it: section, statement, SQLite's message.
fn failure(kind: SectionKind, error: SqliteError) -> (SectionKind, String, String) {
    match error {
        SqliteError::Statement {
            statement, message, ..
        } => (kind, statement, message),
        other => (kind, String::new(), other.to_string()),
    }
}

/// The statements of `sql` with their tokens, each `;` included in its statement.
fn lex(sql: &str) -> Vec<Lexed> {
    let tokens = tokenize(sql);
    statement_ranges(sql, &tokens)
        .into_iter()
        .map(|(first, past)| Lexed {
            start: tokens[first].start,
            end: tokens[past - 1].end,
            tokens: tokens[first..past].iter().map(|t| lexeme(sql, t)).collect(),
        })
        .collect()
}

fn lexeme(sql: &str, token: &Token) -> Lexeme {
    match token.kind {
        TokenKind::Word => Lexeme::Word(token.text(sql).to_string()),
        // SQLite reads a string literal where a name must be as that name.
        TokenKind::QuotedIdent | TokenKind::String => {
            Lexeme::Quoted(token.ident(sql).unwrap_or_default())
        }
        _ => Lexeme::Other,
    }
}

/// Token index ranges `[first, past_last)` of each statement, the `;` included;
/// `CREATE TRIGGER … BEGIN … END` bodies stay whole (as in the crate's statement splitter).
fn statement_ranges(sql: &str, tokens: &[Token]) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut first: Option<usize> = None;
    let mut in_body = false;
    let mut case_depth = 0usize;
    for (i, token) in tokens.iter().enumerate() {
        let start = match first {
            Some(start) => start,
            None if token.kind == TokenKind::Semicolon => continue,
            None => {
                in_body = false;
                case_depth = 0;
                first = Some(i);
                i
            }
        };
        if !in_body && token.is_word(sql, "BEGIN") && is_create_trigger(sql, &tokens[start..i]) {
            in_body = true;
        }
        if in_body {
            if token.is_word(sql, "CASE") {
                case_depth += 1;
            } else if token.is_word(sql, "END") {
                if case_depth > 0 {
                    case_depth -= 1;
                } else {
                    in_body = false;
                }
            }
        }
        if token.kind == TokenKind::Semicolon && !in_body {
            ranges.push((start, i + 1));
            first = None;
        }
    }
    if let Some(start) = first {
        ranges.push((start, tokens.len()));
    }
    ranges
}

fn is_create_trigger(sql: &str, tokens: &[Token]) -> bool {
    let mut words = tokens.iter().filter(|t| t.kind == TokenKind::Word);
    words.next().is_some_and(|t| t.is_word(sql, "CREATE"))
        && words.take(2).any(|t| t.is_word(sql, "TRIGGER"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_keep_lines_comments_and_tables() {
        let body = "ALTER TABLE \"items\" RENAME COLUMN \"notes\" TO \"description\";\n\
                    -- rebuild \"items\": \"price\" becomes NOT NULL\n\
                    CREATE TABLE \"_qvdiff_new_items\" (\n    \"id\" INTEGER\n);\n\
                    -- qvdiff:allow destructive \"unused\"\n\
                    DROP TABLE \"items\";  -- DESTRUCTIVE: drops data in items.url\n\
                    CREATE UNIQUE INDEX IF NOT EXISTS \"ix\" ON \"items\" (\"id\");\n\
                    -- the end\n";
        let s = section(body, 4);
        let lines: Vec<usize> = s.statements.iter().map(|s| s.line).collect();
        assert_eq!(lines, [5, 7, 11, 12]);
        let tables: Vec<Option<&str>> = s.statements.iter().map(|s| s.table.as_deref()).collect();
        assert_eq!(tables, [Some("items"); 4]);
        assert_eq!(
            s.statements[1].comments,
            [(
                6,
                "-- rebuild \"items\": \"price\" becomes NOT NULL".to_string()
            )]
        );
        assert_eq!(s.statements[2].comments[0].0, 10);
        assert_eq!(
            s.statements[2].trailing_comment.as_deref(),
            Some("-- DESTRUCTIVE: drops data in items.url")
        );
        assert!(s.statements[3].comments.is_empty());
        assert_eq!(s.tail_comments, [(13, "-- the end".to_string())]);
        let rebuilt = qvdiff_core::section::rebuilt_tables(&s, |_| true);
        assert_eq!(rebuilt.into_iter().collect::<Vec<_>>(), ["items"]);
    }

    #[test]
    fn only_sql_with_a_rebuild_note_or_a_drop_may_rebuild() {
        let noted = "-- rebuild \"items\": \"price\" becomes NOT NULL\nCREATE TABLE \"a\" (\"id\" INTEGER);\n";
        let dropped = "drop table \"items\";\n";
        for sql in [noted, dropped] {
            assert!(qvdiff_core::section::may_rebuild(sql), "{sql}");
            assert!(
                !qvdiff_core::section::rebuilt_tables(&section(sql, 0), |_| true).is_empty(),
                "{sql}"
            );
        }
        let created = "CREATE TABLE \"items\" (\"id\" INTEGER);\nCREATE INDEX \"ix\" ON \"items\" (\"id\");\n";
        assert!(!qvdiff_core::section::may_rebuild(created));
        assert!(qvdiff_core::section::rebuilt_tables(&section(created, 0), |_| true).is_empty());
    }

    #[test]
    fn renames_are_read_from_alter_statements() {
        let sql = "ALTER TABLE users RENAME TO \"customers\";\n\
                   ALTER TABLE \"users\" RENAME \"mail\" TO \"email\";\n\
                   ALTER TABLE \"_qvdiff_new_x\" RENAME TO \"x\";\n";
        let r = renames(sql);
        assert_eq!(r.tables, [("users".to_string(), "customers".to_string())]);
        assert_eq!(
            r.columns,
            [(
                "customers".to_string(),
                "mail".to_string(),
                "email".to_string()
            )]
        );
    }

    #[test]
    fn a_trigger_body_is_one_statement() {
        let body = "CREATE TRIGGER t AFTER INSERT ON items BEGIN UPDATE items SET a = 1; END;\nDELETE FROM items;\n";
        let s = section(body, 1);
        assert_eq!(s.statements.len(), 2);
        assert_eq!(s.statements[1].line, 3);
        assert_eq!(s.statements[1].table.as_deref(), Some("items"));
    }
}
