//! PostgreSQL's spelling of SQL for the one tokenizer ([`qvdiff_core::sqltext`]): where a
//! migration section's statements begin and end.
//!
//! The runner sends a section to the server one statement at a time, as `psql -f` does, so that
//! a failure always names its statement (PostgreSQL gives no error position for most DDL
//! failures). This module finds the statements, and tells which must run outside a transaction
//! (`CREATE INDEX CONCURRENTLY`) and which are transaction control. It follows psql's lexer:
//! quotes, `E'…'` escapes, dollar quotes, nested block comments, parentheses and
//! `BEGIN ATOMIC … END` function bodies. It is deliberately not a parser: the server parses each
//! statement.

use qvdiff_core::sqltext::{self as lexer, Lexicon};
pub(crate) use qvdiff_core::sqltext::{Token, TokenKind};

/// PostgreSQL's spelling: dollar quotes, `E'…'` strings, nested comments, `;` kept inside
/// parentheses (`CREATE RULE … DO (…; …)`) and inside the `BEGIN ATOMIC … END` body of a
/// `CREATE [OR REPLACE] FUNCTION|PROCEDURE` (psql's rules).
pub(crate) const LEXICON: Lexicon = Lexicon {
    backtick_and_bracket_identifiers: false,
    dollar_quotes: true,
    escape_strings: true,
    nested_comments: true,
    semicolons_in_parentheses: true,
    opens_body: is_routine_definition,
};

/// Whether the statement so far starts `CREATE [OR REPLACE] FUNCTION|PROCEDURE`: there every
/// `BEGIN` opens a body, as psql counts them.
fn is_routine_definition(sql: &str, tokens: &[Token], _depth: usize) -> bool {
    let is = |i: usize, word: &str| tokens.get(i).is_some_and(|t| t.is_word(sql, word));
    let routine = |i: usize| is(i, "FUNCTION") || is(i, "PROCEDURE");
    is(0, "CREATE") && (routine(1) || (is(1, "OR") && is(2, "REPLACE") && routine(3)))
}

/// Splits `sql` into tokens. Unterminated quotes or comments run to the end of the text.
pub(crate) fn tokenize(sql: &str) -> Vec<Token> {
    lexer::tokenize(sql, &LEXICON)
}

/// One statement of a script: its byte span (trimmed, without the `;`) and its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement {
    /// Byte offset of the first token.
    pub start: usize,
    /// Byte offset just after the last token (before the `;`, if any).
    pub end: usize,
    tokens: Vec<Token>,
}

impl Statement {
    /// The statement's text.
    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        &sql[self.start..self.end]
    }

    /// The statement's tokens.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// The statement's bare words, upper-cased, in order (quoted names and literals skipped).
    pub fn words(&self, sql: &str) -> Vec<String> {
        self.tokens
            .iter()
            .filter(|t| t.kind == TokenKind::Word)
            .map(|t| t.text(sql).to_ascii_uppercase())
            .collect()
    }
}

/// Splits a script into its statements, skipping empty ones.
///
/// A `;` ends a statement unless it is inside parentheses (`CREATE RULE … DO (…; …)`) or inside
/// the `BEGIN ATOMIC … END` body of a `CREATE [OR REPLACE] FUNCTION|PROCEDURE` (psql's rule).
pub(crate) fn split_statements(sql: &str) -> Vec<Statement> {
    let mut statements = Vec::new();
    lexer::each_statement(sql, &LEXICON, |_, tokens| {
        if let (Some(first), Some(last)) = (tokens.first(), tokens.last()) {
            statements.push(Statement {
                start: first.start,
                end: last.end,
                tokens: tokens.to_vec(),
            });
        }
    });
    statements
}

/// Whether the script's last statement has no `;` after it (comments aside).
pub(crate) fn ends_unterminated(sql: &str) -> bool {
    tokenize(sql)
        .last()
        .is_some_and(|token| token.kind != TokenKind::Semicolon)
}

/// Whether PostgreSQL refuses to run this statement inside a transaction block, among those a
/// migration is expected to hold: `CREATE [UNIQUE] INDEX CONCURRENTLY`, `DROP INDEX
/// CONCURRENTLY`, `REINDEX … CONCURRENTLY`, `ALTER TABLE … DETACH PARTITION … CONCURRENTLY`,
/// and `VACUUM`.
pub(crate) fn needs_autocommit(words: &[String]) -> bool {
    let at = |i: usize, word: &str| words.get(i).is_some_and(|w| w == word);
    let has = |word: &str| words.iter().any(|w| w == word);
    match words.first().map(String::as_str) {
        Some("CREATE") => {
            let index_at = if at(1, "UNIQUE") { 2 } else { 1 };
            at(index_at, "INDEX") && at(index_at + 1, "CONCURRENTLY")
        }
        Some("DROP") => at(1, "INDEX") && at(2, "CONCURRENTLY"),
        // `REINDEX [(options)] INDEX|TABLE|SCHEMA|DATABASE|SYSTEM CONCURRENTLY name`: the option
        // list holds no bare CONCURRENTLY, so the word anywhere before the name is the keyword.
        Some("REINDEX") => words.iter().take(6).any(|w| w == "CONCURRENTLY"),
        Some("ALTER") => has("DETACH") && words.last().is_some_and(|w| w == "CONCURRENTLY"),
        Some("VACUUM") => true,
        _ => false,
    }
}

/// Whether a statement makes its revision run statement by statement, each in a transaction of
/// its own: one that cannot run inside a transaction ([`needs_autocommit`]), or `ALTER TABLE …
/// VALIDATE CONSTRAINT`, whose read of every row lets writes through only when the lock of the
/// `ADD … NOT VALID` before it was already let go by a commit.
pub(crate) fn runs_on_its_own(words: &[String]) -> bool {
    needs_autocommit(words) || is_validate_constraint(words)
}

/// `ALTER TABLE … VALIDATE CONSTRAINT …`.
pub(crate) fn is_validate_constraint(words: &[String]) -> bool {
    words.first().is_some_and(|w| w == "ALTER")
        && words
            .windows(2)
            .any(|pair| pair[0] == "VALIDATE" && pair[1] == "CONSTRAINT")
}

/// `CREATE [UNIQUE] INDEX CONCURRENTLY …` or `DROP INDEX CONCURRENTLY …` without the word
/// `CONCURRENTLY`, for a run inside one transaction over tables that hold no rows (where
/// building concurrently spares no writer and PostgreSQL refuses it); `None` for any other
/// statement that must run outside a transaction (`VACUUM`, `REINDEX … CONCURRENTLY`, …) and
/// for statements that need no change.
pub(crate) fn without_concurrently(statement: &Statement, sql: &str) -> Option<String> {
    let words: Vec<&Token> = statement
        .tokens
        .iter()
        .filter(|t| t.kind == TokenKind::Word)
        .collect();
    let word = |i: usize, w: &str| words.get(i).is_some_and(|t| t.is_word(sql, w));
    let at = if word(0, "CREATE") {
        if word(1, "UNIQUE") {
            3
        } else {
            2
        }
    } else if word(0, "DROP") {
        2
    } else {
        return None;
    };
    if !word(at - 1, "INDEX") || !word(at, "CONCURRENTLY") {
        return None;
    }
    let keyword = words[at];
    let text = statement.text(sql);
    let (from, to) = (
        keyword.start - statement.start,
        keyword.end - statement.start,
    );
    Some(format!("{}{}", &text[..from], text[to..].trim_start()))
}

/// Whether the statement begins or ends a transaction (`BEGIN`, `START TRANSACTION`, `COMMIT`,
/// `END`, `ABORT`, `ROLLBACK` but not `ROLLBACK TO`), which would break the runner's own.
pub(crate) fn is_transaction_control(words: &[String]) -> bool {
    match words.first().map(String::as_str) {
        Some("BEGIN" | "COMMIT" | "END" | "ABORT") => true,
        Some("START") => words.get(1).is_some_and(|w| w == "TRANSACTION"),
        Some("ROLLBACK") => words.get(1).map(String::as_str) != Some("TO"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        split_statements(sql).iter().map(|s| s.text(sql)).collect()
    }

    #[test]
    fn splits_around_quotes_comments_and_dollar_quotes() {
        let sql = "CREATE TABLE \"a;b\" (x text DEFAULT 'it''s; fine');\n\
                   -- a comment; with a semicolon\n\
                   /* block /* nested; */ still comment; */\n\
                   INSERT INTO t VALUES (E'back\\'slash; still');\n\
                   DO $body$ BEGIN PERFORM 1; END $body$;\n\
                   SELECT $$a;b$$, $1;;\n\
                   SELECT a$b FROM t";
        assert_eq!(
            texts(sql),
            [
                "CREATE TABLE \"a;b\" (x text DEFAULT 'it''s; fine')",
                "INSERT INTO t VALUES (E'back\\'slash; still')",
                "DO $body$ BEGIN PERFORM 1; END $body$",
                "SELECT $$a;b$$, $1",
                "SELECT a$b FROM t",
            ]
        );
    }

    #[test]
    fn keeps_atomic_function_bodies_and_rule_actions_whole() {
        let sql = "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC \
                   SELECT CASE WHEN true THEN 1 END; SELECT 2; END;\n\
                   CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO u VALUES (1); \
                   INSERT INTO u VALUES (2));\n\
                   BEGIN;";
        let statements = texts(sql);
        assert_eq!(statements.len(), 3, "{statements:?}");
        assert!(statements[0].ends_with("SELECT 2; END"));
        assert!(statements[1].ends_with("VALUES (2))"));
        assert_eq!(statements[2], "BEGIN");
    }

    #[test]
    fn tells_an_unterminated_last_statement() {
        assert!(ends_unterminated("SELECT 1;\nSELECT 2\n-- done;\n"));
        assert!(!ends_unterminated("SELECT 1; -- done\n"));
        assert!(!ends_unterminated("-- only a comment\n"));
    }

    #[test]
    fn finds_statements_that_need_autocommit() {
        let needs = |sql: &str| {
            split_statements(sql)
                .iter()
                .any(|s| needs_autocommit(&s.words(sql)))
        };
        assert!(needs("CREATE INDEX CONCURRENTLY ix ON t (a)"));
        assert!(needs(
            "create unique index concurrently if not exists ix on t (a)"
        ));
        assert!(needs("DROP INDEX CONCURRENTLY IF EXISTS ix"));
        assert!(needs("REINDEX (VERBOSE) TABLE CONCURRENTLY t"));
        assert!(needs("ALTER TABLE p DETACH PARTITION c CONCURRENTLY"));
        assert!(!needs("CREATE INDEX ix ON t (a)"));
        assert!(!needs("CREATE TABLE concurrently (a int)"));
        assert!(!needs("SELECT 'CREATE INDEX CONCURRENTLY'"));
    }

    #[test]
    fn concurrently_comes_out_of_index_statements_only() {
        let without = |sql: &str| without_concurrently(&split_statements(sql)[0], sql);
        assert_eq!(
            without("CREATE INDEX CONCURRENTLY \"ix\" ON \"t\" (\"a\")").as_deref(),
            Some("CREATE INDEX \"ix\" ON \"t\" (\"a\")")
        );
        assert_eq!(
            without("create unique index concurrently if not exists ix on t (a)").as_deref(),
            Some("create unique index if not exists ix on t (a)")
        );
        assert_eq!(
            without("DROP INDEX CONCURRENTLY IF EXISTS ix").as_deref(),
            Some("DROP INDEX IF EXISTS ix")
        );
        assert_eq!(without("REINDEX TABLE CONCURRENTLY t"), None);
        assert_eq!(without("VACUUM t"), None);
        assert_eq!(without("CREATE INDEX ix ON t (a)"), None);
    }

    #[test]
    fn recognizes_transaction_control() {
        let control = |sql: &str| is_transaction_control(&split_statements(sql)[0].words(sql));
        assert!(control("BEGIN"));
        assert!(control("commit"));
        assert!(control("START TRANSACTION ISOLATION LEVEL SERIALIZABLE"));
        assert!(control("ROLLBACK"));
        assert!(!control("ROLLBACK TO SAVEPOINT s"));
        assert!(!control("DO $$ BEGIN END $$"));
        assert!(!control(
            "CREATE FUNCTION f() RETURNS int BEGIN ATOMIC SELECT 1; END"
        ));
    }
}
