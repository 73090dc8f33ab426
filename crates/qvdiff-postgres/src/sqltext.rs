//! A small PostgreSQL tokenizer: where a migration section's statements begin and end.
//!
//! The runner sends a section to the server one statement at a time, as `psql -f` does, so that
//! a failure always names its statement (PostgreSQL gives no error position for most DDL
//! failures). This module finds the statements, and tells which must run outside a transaction
//! (`CREATE INDEX CONCURRENTLY`) and which are transaction control. It follows psql's lexer:
//! quotes, `E'…'` escapes, dollar quotes, nested block comments, parentheses and
//! `BEGIN ATOMIC … END` function bodies. It is deliberately not a parser: the server parses each
//! statement.

/// What kind of token a [`Token`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A bare word: keyword, unquoted identifier, or number.
    Word,
    /// `"x"`, `'x'`, `E'x'`, `$tag$x$tag$`: never a keyword.
    Quoted,
    /// `(`.
    Open,
    /// `)`.
    Close,
    /// `;`.
    Semicolon,
    /// Any other punctuation or operator character.
    Other,
}

/// One token with its byte span in the source text. Whitespace and comments are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// Whether this is the bare word `word` (ASCII case-insensitive).
    pub fn is_word(&self, sql: &str, word: &str) -> bool {
        self.kind == TokenKind::Word && sql[self.start..self.end].eq_ignore_ascii_case(word)
    }
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
            .map(|t| sql[t.start..t.end].to_ascii_uppercase())
            .collect()
    }
}

/// Splits `sql` into tokens. Unterminated quotes or comments run to the end of the text.
pub(crate) fn tokenize(sql: &str) -> Vec<Token> {
    let bytes = sql.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let start = pos;
        let byte = bytes[pos];
        let kind = match byte {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => {
                pos += 1;
                continue;
            }
            b'-' if bytes.get(pos + 1) == Some(&b'-') => {
                pos = find_from(bytes, pos, b"\n").map_or(bytes.len(), |p| p + 1);
                continue;
            }
            b'/' if bytes.get(pos + 1) == Some(&b'*') => {
                pos = end_of_block_comment(bytes, pos);
                continue;
            }
            b'\'' => {
                pos = end_of_quoted(bytes, pos, b'\'', false);
                TokenKind::Quoted
            }
            b'"' => {
                pos = end_of_quoted(bytes, pos, b'"', false);
                TokenKind::Quoted
            }
            b'$' => match dollar_tag(bytes, pos) {
                Some(tag_end) => {
                    let tag = &bytes[pos..tag_end];
                    pos = find_from(bytes, tag_end, tag).map_or(bytes.len(), |p| p + tag.len());
                    TokenKind::Quoted
                }
                None => {
                    // `$1` (a parameter) or a lone `$`.
                    pos += 1;
                    while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                        pos += 1;
                    }
                    TokenKind::Other
                }
            },
            b'(' => {
                pos += 1;
                TokenKind::Open
            }
            b')' => {
                pos += 1;
                TokenKind::Close
            }
            b';' => {
                pos += 1;
                TokenKind::Semicolon
            }
            _ if is_word_start(byte) || byte.is_ascii_digit() => {
                while pos < bytes.len() && is_word_byte(bytes[pos]) {
                    pos += 1;
                }
                // `E'…'` is a string with backslash escapes: `\'` does not end it.
                if pos - start == 1 && matches!(byte, b'e' | b'E') && bytes.get(pos) == Some(&b'\'')
                {
                    pos = end_of_quoted(bytes, pos, b'\'', true);
                    TokenKind::Quoted
                } else {
                    TokenKind::Word
                }
            }
            _ => {
                // One character (possibly multi-byte: keep the span on a char boundary).
                pos += sql[pos..].chars().next().map_or(1, char::len_utf8);
                TokenKind::Other
            }
        };
        tokens.push(Token {
            kind,
            start,
            end: pos,
        });
    }
    tokens
}

fn is_word_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_' || byte >= 0x80
}

fn is_word_byte(byte: u8) -> bool {
    is_word_start(byte) || byte.is_ascii_digit() || byte == b'$'
}

fn find_from(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// End of a `/* … */` comment, which nests in PostgreSQL.
fn end_of_block_comment(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut pos = start;
    while pos < bytes.len() {
        if bytes[pos] == b'/' && bytes.get(pos + 1) == Some(&b'*') {
            depth += 1;
            pos += 2;
        } else if bytes[pos] == b'*' && bytes.get(pos + 1) == Some(&b'/') {
            depth -= 1;
            pos += 2;
            if depth == 0 {
                return pos;
            }
        } else {
            pos += 1;
        }
    }
    bytes.len()
}

/// End of a quoted string or identifier starting at `start` (a doubled quote is a quote;
/// with `backslash`, `\x` is an escape).
fn end_of_quoted(bytes: &[u8], start: usize, quote: u8, backslash: bool) -> usize {
    let mut pos = start + 1;
    while pos < bytes.len() {
        if backslash && bytes[pos] == b'\\' {
            pos += 2;
            continue;
        }
        if bytes[pos] == quote {
            if bytes.get(pos + 1) == Some(&quote) {
                pos += 2;
                continue;
            }
            return pos + 1;
        }
        pos += 1;
    }
    bytes.len()
}

/// The end of a dollar-quote opening tag (`$$`, `$body$`) at `start`, if there is one.
fn dollar_tag(bytes: &[u8], start: usize) -> Option<usize> {
    let mut pos = start + 1;
    if bytes.get(pos).is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    while pos < bytes.len() && bytes[pos] != b'$' {
        if !(is_word_start(bytes[pos]) || bytes[pos].is_ascii_digit()) {
            return None;
        }
        pos += 1;
    }
    (pos < bytes.len()).then_some(pos + 1)
}

/// Splits a script into its statements, skipping empty ones.
///
/// A `;` ends a statement unless it is inside parentheses (`CREATE RULE … DO (…; …)`) or inside
/// the `BEGIN ATOMIC … END` body of a `CREATE [OR REPLACE] FUNCTION|PROCEDURE` (psql's rule).
pub(crate) fn split_statements(sql: &str) -> Vec<Statement> {
    let mut statements = Vec::new();
    let mut current: Vec<Token> = Vec::new();
    let mut paren_depth = 0usize;
    let mut begin_depth = 0usize;
    for token in tokenize(sql) {
        match token.kind {
            TokenKind::Semicolon if paren_depth == 0 && begin_depth == 0 => {
                if let (Some(first), Some(last)) = (current.first(), current.last()) {
                    statements.push(Statement {
                        start: first.start,
                        end: last.end,
                        tokens: std::mem::take(&mut current),
                    });
                }
                continue;
            }
            TokenKind::Open => paren_depth += 1,
            TokenKind::Close => paren_depth = paren_depth.saturating_sub(1),
            TokenKind::Word if paren_depth == 0 && is_routine_definition(sql, &current) => {
                if token.is_word(sql, "BEGIN") {
                    begin_depth += 1;
                } else if token.is_word(sql, "CASE") && begin_depth > 0 {
                    // CASE also ends with END; it only matters inside a body.
                    begin_depth += 1;
                } else if token.is_word(sql, "END") {
                    begin_depth = begin_depth.saturating_sub(1);
                }
            }
            _ => {}
        }
        current.push(token);
    }
    if let (Some(first), Some(last)) = (current.first(), current.last()) {
        statements.push(Statement {
            start: first.start,
            end: last.end,
            tokens: current,
        });
    }
    statements
}

/// Whether the statement so far starts `CREATE [OR REPLACE] FUNCTION|PROCEDURE`.
fn is_routine_definition(sql: &str, tokens: &[Token]) -> bool {
    let words: Vec<&Token> = tokens.iter().take(4).collect();
    let is = |i: usize, word: &str| words.get(i).is_some_and(|t| t.is_word(sql, word));
    let routine = |i: usize| is(i, "FUNCTION") || is(i, "PROCEDURE");
    is(0, "CREATE") && (routine(1) || (is(1, "OR") && is(2, "REPLACE") && routine(3)))
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

/// A statement shortened for a one-line message: whitespace collapsed, at most 200 characters.
pub(crate) fn excerpt(statement: &str) -> String {
    const MAX_CHARS: usize = 200;
    let collapsed = statement.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= MAX_CHARS {
        collapsed
    } else {
        let mut short: String = collapsed.chars().take(MAX_CHARS).collect();
        short.push('…');
        short
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
