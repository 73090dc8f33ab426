//! A migration section's statements as `lint` and `review` read them, for every dialect.
//!
//! The one tokenizer ([`crate::sqltext`]), told a dialect's [`Spelling`], finds where each
//! statement starts and ends and what its tokens are ([`Lexed`]); this module does the rest the
//! same way for all of them: lines, the comments around each statement, its words, the table it
//! acts on ([`Statement::table`]) and the renames a script performs. Like the tokenizer, this is
//! not a parser: it recognises the statement shapes qvdiff writes and the common hand-written
//! ones; anything else is a statement with no table.

use crate::change::Renames;
use crate::lint::{Section, Statement};
use crate::sqltext::{each_statement, Lexicon, Token, TokenKind};

/// One token of a statement, as much as the readers here need of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lexeme {
    /// A bare word (keyword or unquoted name): its text as written.
    Word(String),
    /// A quoted name, unquoted (`"a""b"` → `a"b`).
    Quoted(String),
    /// A string literal, a number, punctuation: nothing a name can be.
    Other,
}

impl Lexeme {
    fn is_word(&self, word: &str) -> bool {
        matches!(self, Lexeme::Word(w) if w.eq_ignore_ascii_case(word))
    }

    /// The name this token spells, folded as `fold` says for bare words (PostgreSQL folds
    /// them to lower case, SQLite keeps them).
    fn name(&self, fold: fn(&str) -> String) -> Option<String> {
        match self {
            Lexeme::Word(w) => Some(fold(w)),
            Lexeme::Quoted(name) => Some(name.clone()),
            Lexeme::Other => None,
        }
    }
}

/// One statement of a section body, as the tokenizer found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexed {
    /// Byte offset of its first token.
    pub start: usize,
    /// Byte offset just after its last token (the `;` when there is one).
    pub end: usize,
    /// Its tokens, in order (without the `;`).
    pub tokens: Vec<Lexeme>,
}

/// How a dialect spells SQL and names: its [`Lexicon`], how bare words fold and quoted names
/// unquote, whether a string literal can stand for a name, and the prefix of the temporary
/// table a rebuild creates (reported as the table it rebuilds), if the dialect rebuilds tables.
#[derive(Debug, Clone, Copy)]
pub struct Spelling {
    /// Where the dialect's tokens and statements begin and end.
    pub lexicon: Lexicon,
    /// Folds a bare word into the name it means.
    pub fold: fn(&str) -> String,
    /// The name a quoted identifier's text (quotes included) means.
    pub unquote: fn(&str) -> String,
    /// Whether a string literal where a name must be is read as that name (SQLite).
    pub strings_are_names: bool,
    /// The prefix of a rebuild's temporary table, if any.
    pub rebuild_prefix: Option<&'static str>,
}

impl Spelling {
    fn table(&self, name: String) -> String {
        match self.rebuild_prefix.and_then(|p| name.strip_prefix(p)) {
            Some(rebuilt) => rebuilt.to_string(),
            None => name,
        }
    }

    fn lexeme(&self, sql: &str, token: &Token) -> Lexeme {
        let text = token.text(sql);
        match token.kind {
            TokenKind::Word => Lexeme::Word(text.to_string()),
            TokenKind::QuotedIdent => Lexeme::Quoted((self.unquote)(text)),
            TokenKind::String if self.strings_are_names => {
                Lexeme::Quoted(crate::sqltext::unquote(text))
            }
            _ => Lexeme::Other,
        }
    }
}

/// The statements of `sql` with their tokens, each `;` included in its statement's span (so
/// that a comment after it on the same line is the statement's trailing comment).
pub fn lex(sql: &str, spelling: &Spelling) -> Vec<Lexed> {
    let mut statements = Vec::new();
    each_statement(sql, &spelling.lexicon, |range, tokens| {
        statements.push(Lexed {
            start: range.start,
            end: range.end,
            tokens: tokens.iter().map(|t| spelling.lexeme(sql, t)).collect(),
        });
    });
    statements
}

/// Splits a section body into [`Statement`]s, read as `spelling` says. `marker_line` is the
/// 1-based line of the section's marker; the body starts on the next line.
pub fn section(body: &str, marker_line: usize, spelling: &Spelling) -> Section {
    let lexed = lex(body, spelling);
    // Newline offsets once, then a binary search per lookup: counting the newlines before each
    // statement from the start made a 1000-table initial migration quadratic.
    let newlines: Vec<usize> = body
        .bytes()
        .enumerate()
        .filter_map(|(i, b)| (b == b'\n').then_some(i))
        .collect();
    let line_of = |byte: usize| marker_line + 1 + newlines.partition_point(|&at| at < byte);
    let mut statements = Vec::new();
    let mut previous_end = 0usize;
    for statement in &lexed {
        let (start, end) = (statement.start, statement.end);
        let comments = own_line_comments(body, previous_end, start, &line_of);
        let line_end = body[end..].find('\n').map_or(body.len(), |i| end + i);
        let after = body[end..line_end].trim();
        let trailing_comment = after.starts_with("--").then(|| after.to_string());
        let words: Vec<String> = statement
            .tokens
            .iter()
            .filter_map(|t| match t {
                Lexeme::Word(w) => Some(w.to_ascii_uppercase()),
                _ => None,
            })
            .collect();
        let table = acted_on(&statement.tokens, spelling.fold).map(|t| spelling.table(t));
        statements.push(Statement {
            line: line_of(start),
            sql: body[start..end].to_string(),
            comments,
            trailing_comment,
            words,
            table,
        });
        previous_end = end;
    }
    let tail_comments = own_line_comments(body, previous_end, body.len(), &line_of);
    Section {
        marker_line,
        statements,
        tail_comments,
    }
}

/// The renames a script performs (`ALTER TABLE a RENAME TO b`, `ALTER TABLE t RENAME [COLUMN] a
/// TO b`, and `ALTER INDEX a RENAME TO b` for the summary), for diffing the schemas before and after it: without them a renamed column would look
/// like a dropped one and an added one. Column renames are keyed by the table's final name; a
/// rebuild's temporary table taking the old name back is not a rename.
pub fn renames(sql: &str, spelling: &Spelling) -> Renames {
    // Only `ALTER` statements rename: the others' tokens are never spelled out.
    let mut altering: Vec<Vec<Lexeme>> = Vec::new();
    each_statement(sql, &spelling.lexicon, |_, tokens| {
        if tokens.first().is_some_and(|t| t.is_word(sql, "ALTER")) {
            altering.push(tokens.iter().map(|t| spelling.lexeme(sql, t)).collect());
        }
    });
    let mut renames = Renames::default();
    for t in &altering {
        let word = |i: usize, w: &str| t.get(i).is_some_and(|tok| tok.is_word(w));
        let name = |i: usize| t.get(i).and_then(|tok| tok.name(spelling.fold));
        if word(0, "ALTER") && word(1, "INDEX") {
            // `ALTER INDEX [IF EXISTS] a RENAME TO b`.
            let at = if word(2, "IF") && word(3, "EXISTS") {
                4
            } else {
                2
            };
            if let (Some(old), true, true, Some(new)) = (
                name(at),
                word(at + 1, "RENAME"),
                word(at + 2, "TO"),
                name(at + 3),
            ) {
                renames.indexes.push((old, new));
            }
            continue;
        }
        if !(word(0, "ALTER") && word(1, "TABLE")) {
            continue;
        }
        // `ALTER TABLE [IF EXISTS] [ONLY] t`.
        let mut at = 2;
        while word(at, "IF") || word(at, "EXISTS") || word(at, "ONLY") {
            at += 1;
        }
        let Some(table) = name(at) else {
            continue;
        };
        if !word(at + 1, "RENAME") {
            continue;
        }
        if word(at + 2, "TO") {
            if let Some(new) = name(at + 3) {
                let temporary = spelling
                    .rebuild_prefix
                    .is_some_and(|p| table.starts_with(p));
                if !temporary {
                    renames.tables.push((table, new));
                }
            }
            continue;
        }
        let old_at = if word(at + 2, "COLUMN") {
            at + 3
        } else {
            at + 2
        };
        if let (Some(old), true, Some(new)) =
            (name(old_at), word(old_at + 1, "TO"), name(old_at + 2))
        {
            renames.columns.push((table, old, new));
        }
    }
    let tables = renames.tables.clone();
    for (table, _, _) in &mut renames.columns {
        if let Some((_, new)) = tables.iter().find(|(old, _)| old == table) {
            *table = new.clone();
        }
    }
    renames.tables.sort();
    renames.columns.sort();
    renames.indexes.sort();
    renames
}

/// Own-line `--` comments in `body[from..to]`, skipping the rest of the line `from` is on (a
/// trailing comment belongs to the statement before).
fn own_line_comments(
    body: &str,
    from: usize,
    to: usize,
    line_of: &impl Fn(usize) -> usize,
) -> Vec<(usize, String)> {
    let mut comments = Vec::new();
    let gap = &body[from..to];
    let mut offset = if from == 0 {
        0
    } else {
        match gap.find('\n') {
            Some(i) => i + 1,
            None => return comments,
        }
    };
    while offset < gap.len() {
        let rest = &gap[offset..];
        let len = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let line = rest[..len].trim();
        if line.starts_with("--") {
            comments.push((line_of(from + offset), line.to_string()));
        }
        offset += len;
    }
    comments
}

/// The table a statement acts on, unquoted (see [`Statement::table`]).
fn acted_on(t: &[Lexeme], fold: fn(&str) -> String) -> Option<String> {
    const NOISE: &[&str] = &[
        "IF",
        "NOT",
        "EXISTS",
        "OR",
        "REPLACE",
        "ROLLBACK",
        "ABORT",
        "FAIL",
        "IGNORE",
        "TEMP",
        "TEMPORARY",
        "UNIQUE",
        "ONLY",
        "CONCURRENTLY",
    ];
    let word = |i: usize, w: &str| t.get(i).is_some_and(|tok| tok.is_word(w));
    // The first name at or after `i` that is not a noise keyword.
    let name_from = |mut i: usize| -> Option<String> {
        while let Some(tok) = t.get(i) {
            if !NOISE.iter().any(|n| tok.is_word(n)) {
                return tok.name(fold);
            }
            i += 1;
        }
        None
    };
    if word(0, "CREATE") {
        if let Some(index) = t.iter().position(|tok| tok.is_word("INDEX")) {
            let on = t[index..].iter().position(|tok| tok.is_word("ON"))?;
            return name_from(index + on + 1);
        }
        let table = t.iter().position(|tok| tok.is_word("TABLE"))?;
        return name_from(table + 1);
    }
    if (word(0, "DROP") || word(0, "ALTER")) && word(1, "TABLE") {
        return name_from(2);
    }
    if word(0, "INSERT") || word(0, "REPLACE") {
        let into = t.iter().position(|tok| tok.is_word("INTO"))?;
        return name_from(into + 1);
    }
    if word(0, "DELETE") && word(1, "FROM") {
        return name_from(2);
    }
    if word(0, "UPDATE") {
        return name_from(1);
    }
    None
}
