//! SQLite's spelling of SQL for the one tokenizer ([`qvdiff_core::sqltext`]), and what the
//! SQLite crate reads with it where SQLite's PRAGMAs are silent.
//!
//! It is used to read `CREATE TABLE` text back (CHECK constraints, constraint names,
//! AUTOINCREMENT), to find which views and triggers mention a table or column, to rewrite
//! renamed identifiers in them, and to name the failing statement of a script in an error.
//! It is deliberately not a parser: it knows quotes, comments and parentheses, nothing more.

use qvdiff_core::sqltext::{self as lexer, Lexicon};
pub(crate) use qvdiff_core::sqltext::{unquote, Token, TokenKind};
use std::ops::Range;

/// SQLite's spelling: `` `x` `` and `[x]` quote names too, `$` is a word character, comments do
/// not nest, and a `CREATE TRIGGER … BEGIN … END` body holds its statements' `;`s.
pub(crate) const LEXICON: Lexicon = Lexicon {
    backtick_and_bracket_identifiers: true,
    dollar_quotes: false,
    escape_strings: false,
    nested_comments: false,
    semicolons_in_parentheses: false,
    opens_body: opens_trigger_body,
};

/// A `BEGIN` opens a body in `CREATE [TEMP|TEMPORARY] TRIGGER`, and only there (inside one it
/// is a name: triggers do not nest).
fn opens_trigger_body(sql: &str, before: &[Token], depth: usize) -> bool {
    let mut words = before.iter().filter(|t| t.kind == TokenKind::Word);
    depth == 0
        && words.next().is_some_and(|t| t.is_word(sql, "CREATE"))
        && words.take(2).any(|t| t.is_word(sql, "TRIGGER"))
}

/// Splits `sql` into tokens. Unterminated quotes or comments run to the end of the text.
pub(crate) fn tokenize(sql: &str) -> Vec<Token> {
    lexer::tokenize(sql, &LEXICON)
}

/// The tokens of `sql`, one at a time (to look at the first few without splitting the rest).
pub(crate) fn tokens(sql: &str) -> impl Iterator<Item = Token> + '_ {
    lexer::tokens(sql, &LEXICON)
}

/// [`tokenize`] into `tokens` (cleared first): a caller reading thousands of statements keeps
/// one buffer.
pub(crate) fn tokenize_into(sql: &str, tokens: &mut Vec<Token>) {
    lexer::tokenize_into(sql, &LEXICON, tokens);
}

/// Splits a script into its statements (text without the trailing `;`, trimmed), skipping empty
/// ones. `CREATE TRIGGER … BEGIN … END` bodies (with `CASE … END` inside) stay whole.
///
/// Used to name the failing statement in an error and to decide how a script can be split:
/// execution itself is done by SQLite.
pub(crate) fn split_statements(sql: &str) -> Vec<&str> {
    statement_spans(sql)
        .into_iter()
        .map(|range| sql[range].trim_end_matches(';').trim())
        .collect()
}

/// The statements of a script exactly as written: from each statement's first token through
/// its `;` (the last one up to the end of the text when it has none). Concatenated, they run
/// as the script does, and SQLite stores the same `CREATE` text for them.
pub(crate) fn statement_texts(sql: &str) -> Vec<&str> {
    statement_spans(sql)
        .into_iter()
        .map(|range| &sql[range])
        .collect()
}

/// Byte ranges of the statements: first token through `;`, or to the end of the text (trailing
/// comments included, as SQLite keeps them).
fn statement_spans(sql: &str) -> Vec<Range<usize>> {
    let mut statements: Vec<Range<usize>> = Vec::new();
    lexer::each_statement(sql, &LEXICON, |range, _| statements.push(range));
    if let Some(last) = statements.last_mut() {
        if !sql[..last.end].ends_with(';') {
            last.end = sql.len();
        }
    }
    statements
}

/// Whether `sql` mentions the identifier `name` (as a bare word or quoted identifier, or a
/// string literal, which SQLite may read as an identifier), ASCII case-insensitively.
pub(crate) fn mentions_identifier(sql: &str, name: &str) -> bool {
    tokenize(sql).iter().any(|t| {
        matches!(
            t.kind,
            TokenKind::Word | TokenKind::QuotedIdent | TokenKind::String
        ) && t
            .ident(sql)
            .is_some_and(|ident| ident.eq_ignore_ascii_case(name))
    })
}

/// Replaces every identifier token (bare or quoted, not string literals) naming `from` with the
/// quoted identifier `to`.
pub(crate) fn rename_identifier(sql: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut copied = 0;
    for token in tokenize(sql) {
        let is_ident = matches!(token.kind, TokenKind::Word | TokenKind::QuotedIdent);
        if is_ident
            && token
                .ident(sql)
                .is_some_and(|ident| ident.eq_ignore_ascii_case(from))
        {
            out.push_str(&sql[copied..token.start]);
            out.push_str(&crate::render::quote_ident(to));
            copied = token.end;
        }
    }
    out.push_str(&sql[copied..]);
    out
}

/// What the text of a `CREATE TABLE` says that SQLite's PRAGMAs do not.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct CreateTableExtras {
    /// Columns declared `AUTOINCREMENT`.
    pub autoincrement: Vec<String>,
    /// CHECK constraints as `(name or "", expression text)`, in declaration order.
    pub checks: Vec<(String, String)>,
    /// Named UNIQUE constraints as `(name, columns)`.
    pub named_uniques: Vec<(String, Vec<String>)>,
    /// Column CHECKs of the enum form `CONSTRAINT "type" CHECK ("column" IN ('a', …))`, as
    /// `(column, type name, values)`: the column is an enum (they are not in `checks`).
    pub enum_checks: Vec<(String, String, Vec<String>)>,
}

/// Reads the column and table constraints of a `CREATE TABLE` statement's text.
pub(crate) fn parse_create_table(sql: &str) -> CreateTableExtras {
    let tokens = tokenize(sql);
    let mut extras = CreateTableExtras::default();
    let Some(open) = tokens.iter().position(|t| t.kind == TokenKind::Open) else {
        return extras;
    };
    // Split the body into top-level definitions.
    let mut depth = 0usize;
    let mut definitions: Vec<&[Token]> = Vec::new();
    let mut def_start = open + 1;
    for (i, token) in tokens.iter().enumerate().skip(open + 1) {
        match token.kind {
            TokenKind::Open => depth += 1,
            TokenKind::Close if depth == 0 => {
                definitions.push(&tokens[def_start..i]);
                break;
            }
            TokenKind::Close => depth -= 1,
            TokenKind::Comma if depth == 0 => {
                definitions.push(&tokens[def_start..i]);
                def_start = i + 1;
            }
            _ => {}
        }
    }
    for definition in definitions {
        read_definition(sql, definition, &mut extras);
    }
    extras
}

const TABLE_CONSTRAINT_WORDS: [&str; 5] = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"];

fn read_definition(sql: &str, definition: &[Token], extras: &mut CreateTableExtras) {
    let Some(first) = definition.first() else {
        return;
    };
    let is_table_constraint = first.kind == TokenKind::Word
        && TABLE_CONSTRAINT_WORDS
            .iter()
            .any(|word| first.is_word(sql, word));
    let (column, mut i) = if is_table_constraint {
        (None, 0)
    } else {
        (first.ident(sql), 1)
    };
    let mut pending_name: Option<String> = None;
    while i < definition.len() {
        let token = &definition[i];
        if token.is_word(sql, "CONSTRAINT") {
            pending_name = definition.get(i + 1).and_then(|t| t.ident(sql));
            i += 2;
            continue;
        }
        if token.is_word(sql, "AUTOINCREMENT") {
            if let Some(column) = &column {
                extras.autoincrement.push(column.clone());
            }
        } else if token.is_word(sql, "CHECK") {
            if let Some((expr, next)) = parenthesized(sql, definition, i + 1) {
                let name = pending_name.take().unwrap_or_default();
                match column.as_deref().and_then(|c| enum_values(&expr, c)) {
                    Some(values) if !name.is_empty() => {
                        extras
                            .enum_checks
                            .push((column.clone().unwrap_or_default(), name, values));
                    }
                    _ => extras.checks.push((name, expr)),
                }
                i = next;
                continue;
            }
        } else if token.is_word(sql, "UNIQUE") {
            let name = pending_name.take();
            let columns = match &column {
                Some(column) => Some(vec![column.clone()]),
                None => parenthesized_idents(sql, definition, i + 1),
            };
            if let (Some(name), Some(columns)) = (name, columns) {
                extras.named_uniques.push((name, columns));
            }
        } else if matches!(token.kind, TokenKind::Word)
            && [
                "PRIMARY",
                "NOT",
                "NULL",
                "DEFAULT",
                "REFERENCES",
                "FOREIGN",
                "COLLATE",
                "GENERATED",
                "AS",
            ]
            .iter()
            .any(|word| token.is_word(sql, word))
        {
            // Any other constraint consumes a pending CONSTRAINT name.
            pending_name = None;
        }
        i += 1;
    }
}

/// The text between the parentheses opening at `definition[at]`, trimmed, and the index after
/// the closing parenthesis.
fn parenthesized(sql: &str, definition: &[Token], at: usize) -> Option<(String, usize)> {
    let close = lexer::closing_paren(definition, at)?;
    let inside = &sql[definition[at].end..definition[close].start];
    Some((inside.trim().to_string(), close + 1))
}

/// The values of `"column" IN ('a', 'b')`, exactly that shape (a column CHECK of an enum).
fn enum_values(expr: &str, column: &str) -> Option<Vec<String>> {
    let tokens = tokenize(expr);
    let (first, rest) = tokens.split_first()?;
    if !matches!(first.kind, TokenKind::Word | TokenKind::QuotedIdent)
        || first.ident(expr)? != column
    {
        return None;
    }
    let (in_word, rest) = rest.split_first()?;
    if !in_word.is_word(expr, "IN") {
        return None;
    }
    let (open, rest) = rest.split_first()?;
    let (close, inner) = rest.split_last()?;
    if open.kind != TokenKind::Open || close.kind != TokenKind::Close {
        return None;
    }
    let mut values = Vec::new();
    for (i, token) in inner.iter().enumerate() {
        match (i % 2, token.kind) {
            (0, TokenKind::String) => values.push(unquote(token.text(expr))),
            (1, TokenKind::Comma) => {}
            _ => return None,
        }
    }
    (!values.is_empty() && inner.len() % 2 == 1).then_some(values)
}

fn parenthesized_idents(sql: &str, definition: &[Token], at: usize) -> Option<Vec<String>> {
    let (inner, _) = parenthesized(sql, definition, at)?;
    let tokens = tokenize(&inner);
    let mut columns = Vec::new();
    let mut expect_name = true;
    for token in &tokens {
        match token.kind {
            TokenKind::Comma => expect_name = true,
            _ if expect_name => {
                columns.push(token.ident(&inner)?);
                expect_name = false;
            }
            _ => {}
        }
    }
    Some(columns)
}

/// The condition of a partial index's `CREATE INDEX … WHERE <condition>` text, trimmed and
/// without a final `;`: the text after the `WHERE` outside any parentheses. `None` without one.
pub(crate) fn index_predicate(sql: &str) -> Option<&str> {
    let mut depth = 0usize;
    for token in tokens(sql) {
        match token.kind {
            TokenKind::Open => depth += 1,
            TokenKind::Close => depth = depth.saturating_sub(1),
            TokenKind::Word if depth == 0 && token.is_word(sql, "WHERE") => {
                let rest = sql[token.end..].trim();
                let rest = rest.strip_suffix(';').unwrap_or(rest).trim_end();
                return (!rest.is_empty()).then_some(rest);
            }
            _ => {}
        }
    }
    None
}

/// Strips parentheses that enclose the whole of `text` (any number of layers), and trims.
pub(crate) fn strip_outer_parens(text: &str) -> &str {
    let mut text = text.trim();
    loop {
        let tokens = tokenize(text);
        let (Some(first), Some(last)) = (tokens.first(), tokens.last()) else {
            return text;
        };
        if first.kind != TokenKind::Open || last.kind != TokenKind::Close || tokens.len() < 2 {
            return text;
        }
        // The first parenthesis must close at the very last token.
        let mut depth = 0usize;
        for (i, token) in tokens.iter().enumerate() {
            match token.kind {
                TokenKind::Open => depth += 1,
                TokenKind::Close => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 && i != tokens.len() - 1 {
                        return text;
                    }
                }
                _ => {}
            }
        }
        text = text[first.end..last.start].trim();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_index_condition_is_the_text_after_its_where() {
        assert_eq!(
            index_predicate(
                "CREATE UNIQUE INDEX \"ix\" ON \"t\" (\"a\", \"where\") WHERE status = 'a WHERE b'"
            ),
            Some("status = 'a WHERE b'")
        );
        assert_eq!(
            index_predicate("CREATE INDEX ix ON t (a) where\n  (a > 0) AND b IS NULL;"),
            Some("(a > 0) AND b IS NULL")
        );
        assert_eq!(index_predicate("CREATE INDEX ix ON t (a)"), None);
        assert_eq!(index_predicate("CREATE INDEX \"WHERE\" ON t (a)"), None);
    }

    #[test]
    fn splits_triggers_strings_and_comments() {
        let script = "-- a comment; with a semicolon\n\
            CREATE TABLE t (x TEXT DEFAULT 'a;b');\n\
            CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n\
              UPDATE t SET x = CASE WHEN x = 'a' THEN 'b' END;\n\
              SELECT 1; /* ; */\n\
            END;\n\
            ;;\n\
            INSERT INTO t VALUES ('x')";
        let statements = split_statements(script);
        assert_eq!(statements.len(), 3, "{statements:#?}");
        assert!(statements[0].starts_with("CREATE TABLE t"));
        assert!(statements[1].ends_with("END"));
        assert_eq!(statements[2], "INSERT INTO t VALUES ('x')");
    }

    #[test]
    fn reads_checks_uniques_and_autoincrement() {
        let sql = r#"CREATE TABLE "my ""t""" (
            "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
            a TEXT CONSTRAINT a_len CHECK (length(a) > 0 AND a <> ')') UNIQUE,
            b INTEGER CONSTRAINT uq_b UNIQUE,
            CONSTRAINT "uq ab" UNIQUE ("a", b),
            CHECK (b > (0)),
            CONSTRAINT fk FOREIGN KEY (b) REFERENCES other (id)
        )"#;
        let extras = parse_create_table(sql);
        assert_eq!(extras.autoincrement, vec!["id".to_string()]);
        assert_eq!(
            extras.checks,
            vec![
                (
                    "a_len".to_string(),
                    "length(a) > 0 AND a <> ')'".to_string()
                ),
                (String::new(), "b > (0)".to_string()),
            ]
        );
        assert_eq!(
            extras.named_uniques,
            vec![
                ("uq_b".to_string(), vec!["b".to_string()]),
                ("uq ab".to_string(), vec!["a".to_string(), "b".to_string()]),
            ]
        );
    }

    #[test]
    fn strips_only_enclosing_parens() {
        assert_eq!(strip_outer_parens(" ((1)) "), "1");
        assert_eq!(strip_outer_parens("(a) + (b)"), "(a) + (b)");
        assert_eq!(strip_outer_parens("(datetime('now'))"), "datetime('now')");
    }

    #[test]
    fn renames_identifiers_not_strings() {
        assert_eq!(
            rename_identifier("SELECT items.x, 'items' FROM \"items\"", "items", "goods"),
            "SELECT \"goods\".x, 'items' FROM \"goods\""
        );
        assert!(mentions_identifier("select * from [Items]", "items"));
        assert!(!mentions_identifier("select 'itemsx' from t", "items"));
    }
}
