//! The one SQL tokenizer of qvdiff, for every dialect: where tokens and statements begin and end.
//!
//! A dialect describes what its SQL spells differently in a [`Lexicon`] (which quotes it has,
//! whether block comments nest, which statements hold a `BEGIN … END` body whose `;`s do not end
//! them); everything else — words, numbers, `'…'` strings, `"…"` identifiers, `--` and `/* */`
//! comments, punctuation — is read the same way. It is deliberately not a parser: it knows
//! quotes, comments and parentheses, nothing more; the dialects' readers and the database judge
//! the rest.
//!
//! The dialects call [`Token::is_word`], [`Token::text`] and the tokenizer itself from their
//! own crates, hundreds of thousands of times for a 1000-table script: those are `#[inline]`,
//! else every one is a call across crates (the release build has no link-time optimization).

use std::ops::Range;

/// What a dialect's SQL spells differently from the common rules.
#[derive(Debug, Clone, Copy)]
pub struct Lexicon {
    /// `` `x` `` and `[x]` quote identifiers, as `"x"` does (SQLite).
    pub backtick_and_bracket_identifiers: bool,
    /// `$tag$…$tag$` is a string and `$1` a parameter (PostgreSQL); otherwise `$` is a word
    /// character, also at the start of a word.
    pub dollar_quotes: bool,
    /// `E'…'` is a string with backslash escapes (PostgreSQL).
    pub escape_strings: bool,
    /// `/* … */` comments nest (PostgreSQL).
    pub nested_comments: bool,
    /// A `;` inside parentheses does not end a statement (PostgreSQL's
    /// `CREATE RULE … DO (…; …)`).
    pub semicolons_in_parentheses: bool,
    /// Whether the word `BEGIN` opens a body whose `;`s do not end the statement, given the
    /// text, the statement's tokens before it and how many bodies (and `CASE`s inside them) are
    /// open. A body ends at its `END`; a `CASE` inside one ends with `END` too.
    pub opens_body: fn(sql: &str, before: &[Token], depth: usize) -> bool,
}

/// What kind of token a [`Token`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A bare word: keyword or unquoted identifier.
    Word,
    /// A quoted identifier: `"x"`, and in SQLite `` `x` `` or `[x]`.
    QuotedIdent,
    /// A string literal: `'x'`, and in PostgreSQL `E'x'` or `$tag$x$tag$`.
    String,
    /// A numeric literal.
    Number,
    /// `(`.
    Open,
    /// `)`.
    Close,
    /// `,`.
    Comma,
    /// `;`.
    Semicolon,
    /// Any other punctuation or operator character, or a PostgreSQL parameter (`$1`).
    Other,
}

/// One token with its byte span in the source text. Whitespace and comments are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// What the token is.
    pub kind: TokenKind,
    /// Byte offset of its first byte.
    pub start: usize,
    /// Byte offset just after it.
    pub end: usize,
}

impl Token {
    /// The token's source text.
    #[inline]
    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        &sql[self.start..self.end]
    }

    /// Whether this is the bare word `word` (ASCII case-insensitive).
    #[inline]
    pub fn is_word(&self, sql: &str, word: &str) -> bool {
        self.kind == TokenKind::Word && self.text(sql).eq_ignore_ascii_case(word)
    }

    /// The name this token spells if it can spell one, unquoted but not folded: a bare word as
    /// written, a quoted identifier or a string literal (which SQLite may read as a name)
    /// without its quotes.
    pub fn ident(&self, sql: &str) -> Option<String> {
        let text = self.text(sql);
        match self.kind {
            TokenKind::Word => Some(text.to_string()),
            TokenKind::QuotedIdent | TokenKind::String => Some(unquote(text)),
            _ => None,
        }
    }
}

/// Removes the quotes around an identifier or string literal and undoes doubled quotes.
pub fn unquote(text: &str) -> String {
    let mut chars = text.chars();
    let (open, close) = match chars.next() {
        Some('"') => ('"', '"'),
        Some('\'') => ('\'', '\''),
        Some('`') => ('`', '`'),
        Some('[') => ('[', ']'),
        _ => return text.to_string(),
    };
    // Every quote character is one byte, so slicing after it is on a char boundary.
    let body = &text[open.len_utf8()..];
    let inner = body.strip_suffix(close).unwrap_or(body);
    if open == '[' || !inner.contains(close) {
        return inner.to_string();
    }
    let doubled: String = [close, close].iter().collect();
    inner.replace(&doubled, &close.to_string())
}

/// The tokens of `sql`, one at a time (a 1000-table script has hundreds of thousands; a pass
/// that only looks at each once, or at the first few, need not hold them all). Unterminated
/// quotes or comments run to the end of the text.
#[inline]
pub fn tokens<'a>(sql: &'a str, lexicon: &'a Lexicon) -> Tokens<'a> {
    Tokens {
        sql,
        lexicon,
        pos: 0,
    }
}

/// All the tokens of `sql` (see [`tokens`]).
pub fn tokenize(sql: &str, lexicon: &Lexicon) -> Vec<Token> {
    tokens(sql, lexicon).collect()
}

/// [`tokenize`] into `buffer` (cleared first): a caller reading thousands of statements keeps
/// one buffer.
#[inline]
pub fn tokenize_into(sql: &str, lexicon: &Lexicon, buffer: &mut Vec<Token>) {
    buffer.clear();
    buffer.extend(tokens(sql, lexicon));
}

/// The tokens of a text, one at a time: [`tokens`].
#[derive(Debug, Clone)]
pub struct Tokens<'a> {
    sql: &'a str,
    lexicon: &'a Lexicon,
    pos: usize,
}

impl Iterator for Tokens<'_> {
    type Item = Token;

    #[inline]
    fn next(&mut self) -> Option<Token> {
        let (sql, lexicon) = (self.sql, self.lexicon);
        let bytes = sql.as_bytes();
        let mut pos = self.pos;
        while pos < bytes.len() {
            let start = pos;
            let byte = bytes[pos];
            let next = bytes.get(pos + 1).copied();
            let kind = match byte {
                b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => {
                    pos += 1;
                    continue;
                }
                b'-' if next == Some(b'-') => {
                    pos = find_from(bytes, pos, b"\n").map_or(bytes.len(), |p| p + 1);
                    continue;
                }
                b'/' if next == Some(b'*') => {
                    pos = if lexicon.nested_comments {
                        end_of_nested_comment(bytes, pos)
                    } else {
                        find_from(bytes, pos + 2, b"*/").map_or(bytes.len(), |p| p + 2)
                    };
                    continue;
                }
                b'\'' => {
                    pos = end_of_quoted(bytes, pos, b'\'', false);
                    TokenKind::String
                }
                b'"' => {
                    pos = end_of_quoted(bytes, pos, b'"', false);
                    TokenKind::QuotedIdent
                }
                b'`' if lexicon.backtick_and_bracket_identifiers => {
                    pos = end_of_quoted(bytes, pos, b'`', false);
                    TokenKind::QuotedIdent
                }
                b'[' if lexicon.backtick_and_bracket_identifiers => {
                    pos = find_from(bytes, pos, b"]").map_or(bytes.len(), |p| p + 1);
                    TokenKind::QuotedIdent
                }
                b'$' if lexicon.dollar_quotes => match dollar_tag(bytes, pos) {
                    Some(tag_end) => {
                        let tag = &bytes[pos..tag_end];
                        pos = find_from(bytes, tag_end, tag).map_or(bytes.len(), |p| p + tag.len());
                        TokenKind::String
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
                b'(' | b')' | b',' | b';' => {
                    pos += 1;
                    punctuation(byte)
                }
                b'0'..=b'9' => {
                    pos = end_of_number(bytes, pos);
                    TokenKind::Number
                }
                b'.' if next.is_some_and(|b| b.is_ascii_digit()) => {
                    pos = end_of_number(bytes, pos);
                    TokenKind::Number
                }
                // `E'…'` is a string with backslash escapes: `\'` does not end it.
                b'e' | b'E' if lexicon.escape_strings && next == Some(b'\'') => {
                    pos = end_of_quoted(bytes, pos + 1, b'\'', true);
                    TokenKind::String
                }
                _ if is_word_byte(byte) => {
                    while pos < bytes.len() && is_word_byte(bytes[pos]) {
                        pos += 1;
                    }
                    TokenKind::Word
                }
                _ => {
                    // One character (possibly multi-byte: keep the span on a char boundary).
                    pos += sql[pos..].chars().next().map_or(1, char::len_utf8);
                    TokenKind::Other
                }
            };
            self.pos = pos;
            return Some(Token {
                kind,
                start,
                end: pos,
            });
        }
        self.pos = pos;
        None
    }
}

/// The kind of a one-byte punctuation token: `(`, `)`, `,` or `;`.
#[inline]
fn punctuation(byte: u8) -> TokenKind {
    match byte {
        b'(' => TokenKind::Open,
        b')' => TokenKind::Close,
        b',' => TokenKind::Comma,
        _ => TokenKind::Semicolon,
    }
}

#[inline]
fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$' || byte >= 0x80
}

#[inline]
fn find_from(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// End of a `/* … */` comment that nests.
fn end_of_nested_comment(bytes: &[u8], start: usize) -> usize {
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
#[inline]
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
        if !(bytes[pos].is_ascii_alphanumeric() || bytes[pos] == b'_' || bytes[pos] >= 0x80) {
            return None;
        }
        pos += 1;
    }
    (pos < bytes.len()).then_some(pos + 1)
}

#[inline]
fn end_of_number(bytes: &[u8], start: usize) -> usize {
    let mut pos = start;
    if bytes[pos] == b'0' && matches!(bytes.get(pos + 1), Some(b'x' | b'X')) {
        pos += 2;
        while pos < bytes.len() && (bytes[pos].is_ascii_hexdigit() || bytes[pos] == b'_') {
            pos += 1;
        }
        return pos;
    }
    while pos < bytes.len() {
        match bytes[pos] {
            b'0'..=b'9' | b'.' | b'_' => pos += 1,
            b'e' | b'E' => {
                pos += 1;
                if matches!(bytes.get(pos), Some(b'+' | b'-')) {
                    pos += 1;
                }
            }
            _ => break,
        }
    }
    pos
}

/// Calls `each` with every statement of a script, in order, skipping empty ones: its byte
/// range, from its first token through its `;` (to the end of its last token when none
/// follows), and its tokens without the `;`. A `;` inside a body the lexicon names (or inside
/// parentheses, where it says so) does not end a statement.
pub fn each_statement(sql: &str, lexicon: &Lexicon, mut each: impl FnMut(Range<usize>, &[Token])) {
    // One buffer for every statement's tokens.
    let mut current: Vec<Token> = Vec::new();
    let mut paren_depth = 0usize;
    let mut body_depth = 0usize;
    for token in tokens(sql, lexicon) {
        match token.kind {
            TokenKind::Semicolon if paren_depth == 0 && body_depth == 0 => {
                if let Some(first) = current.first() {
                    each(first.start..token.end, &current);
                    current.clear();
                }
                continue;
            }
            TokenKind::Open if lexicon.semicolons_in_parentheses => paren_depth += 1,
            TokenKind::Close if lexicon.semicolons_in_parentheses => {
                paren_depth = paren_depth.saturating_sub(1);
            }
            TokenKind::Word if paren_depth == 0 => {
                if token.is_word(sql, "BEGIN") {
                    if (lexicon.opens_body)(sql, &current, body_depth) {
                        body_depth += 1;
                    }
                } else if body_depth > 0 && token.is_word(sql, "CASE") {
                    body_depth += 1;
                } else if body_depth > 0 && token.is_word(sql, "END") {
                    body_depth -= 1;
                }
            }
            _ => {}
        }
        current.push(token);
    }
    if let (Some(first), Some(last)) = (current.first(), current.last()) {
        each(first.start..last.end, &current);
    }
}

/// The index of the `)` that closes the `(` at `tokens[open]`; `None` when that token is not
/// `(` or the parentheses do not balance.
pub fn closing_paren(tokens: &[Token], open: usize) -> Option<usize> {
    if tokens.get(open)?.kind != TokenKind::Open {
        return None;
    }
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token.kind {
            TokenKind::Open => depth += 1,
            TokenKind::Close => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// A statement shortened for a one-line message: whitespace collapsed, at most 200 characters.
pub fn excerpt(statement: &str) -> String {
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

    const PLAIN: Lexicon = Lexicon {
        backtick_and_bracket_identifiers: false,
        dollar_quotes: false,
        escape_strings: false,
        nested_comments: false,
        semicolons_in_parentheses: false,
        opens_body: |_, _, _| false,
    };

    const EVERYTHING: Lexicon = Lexicon {
        backtick_and_bracket_identifiers: true,
        dollar_quotes: true,
        escape_strings: true,
        nested_comments: true,
        semicolons_in_parentheses: true,
        opens_body: |_, before, _| !before.is_empty(),
    };

    fn kinds<'a>(sql: &'a str, lexicon: &Lexicon) -> Vec<(TokenKind, &'a str)> {
        tokenize(sql, lexicon)
            .iter()
            .map(|t| (t.kind, t.text(sql)))
            .collect()
    }

    #[test]
    fn common_tokens_read_alike_under_every_lexicon() {
        let sql = "SELECT a_1, 'it''s', \"x\"\"y\" -- note\n FROM t /* c */ WHERE n >= 1.5e-3;";
        let expected = vec![
            (TokenKind::Word, "SELECT"),
            (TokenKind::Word, "a_1"),
            (TokenKind::Comma, ","),
            (TokenKind::String, "'it''s'"),
            (TokenKind::Comma, ","),
            (TokenKind::QuotedIdent, "\"x\"\"y\""),
            (TokenKind::Word, "FROM"),
            (TokenKind::Word, "t"),
            (TokenKind::Word, "WHERE"),
            (TokenKind::Word, "n"),
            (TokenKind::Other, ">"),
            (TokenKind::Other, "="),
            (TokenKind::Number, "1.5e-3"),
            (TokenKind::Semicolon, ";"),
        ];
        assert_eq!(kinds(sql, &PLAIN), expected);
        assert_eq!(kinds(sql, &EVERYTHING), expected);
    }

    #[test]
    fn each_rule_of_a_lexicon_changes_only_its_own_spelling() {
        let sql = "`a` [b] $$x;y$$ $1 E'\\'' /* /* */ */ é";
        assert_eq!(
            kinds(sql, &EVERYTHING),
            vec![
                (TokenKind::QuotedIdent, "`a`"),
                (TokenKind::QuotedIdent, "[b]"),
                (TokenKind::String, "$$x;y$$"),
                (TokenKind::Other, "$1"),
                (TokenKind::String, "E'\\''"),
                (TokenKind::Word, "é"),
            ]
        );
        assert_eq!(
            kinds("`a` [b] $$x $1 E'x' /* /* */ x */", &PLAIN),
            vec![
                (TokenKind::Other, "`"),
                (TokenKind::Word, "a"),
                (TokenKind::Other, "`"),
                (TokenKind::Other, "["),
                (TokenKind::Word, "b"),
                (TokenKind::Other, "]"),
                (TokenKind::Word, "$$x"),
                (TokenKind::Word, "$1"),
                (TokenKind::Word, "E"),
                (TokenKind::String, "'x'"),
                (TokenKind::Word, "x"),
                (TokenKind::Other, "*"),
                (TokenKind::Other, "/"),
            ]
        );
    }

    #[test]
    fn unquotes_every_quote_and_undoes_doubled_quotes() {
        assert_eq!(unquote("\"a\"\"b\""), "a\"b");
        assert_eq!(unquote("'it''s'"), "it's");
        assert_eq!(unquote("`a``b`"), "a`b");
        assert_eq!(unquote("[a]]"), "a]");
        assert_eq!(unquote("bare"), "bare");
    }

    #[test]
    fn statements_end_at_semicolons_outside_bodies_and_parentheses() {
        let statements = |sql: &str, lexicon: &Lexicon| {
            let mut texts = Vec::new();
            each_statement(sql, lexicon, |range, tokens| {
                texts.push((sql[range].to_string(), tokens.len()));
            });
            texts
        };
        let sql = ";; A (b; c); X BEGIN y; CASE z END; END; last";
        assert_eq!(
            statements(sql, &PLAIN),
            [
                ("A (b;".to_string(), 3),
                ("c);".to_string(), 2),
                ("X BEGIN y;".to_string(), 3),
                ("CASE z END;".to_string(), 3),
                ("END;".to_string(), 1),
                ("last".to_string(), 1),
            ]
        );
        assert_eq!(
            statements(sql, &EVERYTHING),
            [
                ("A (b; c);".to_string(), 6),
                ("X BEGIN y; CASE z END; END;".to_string(), 9),
                ("last".to_string(), 1),
            ]
        );
    }

    #[test]
    fn the_closing_parenthesis_is_the_one_that_balances_the_opening_one() {
        let tokens = tokenize("f((a), (b)) (c", &PLAIN);
        // f ( ( a ) , ( b ) ) ( c
        assert_eq!(closing_paren(&tokens, 1), Some(9));
        assert_eq!(closing_paren(&tokens, 2), Some(4));
        assert_eq!(closing_paren(&tokens, 6), Some(8));
        assert_eq!(closing_paren(&tokens, 10), None, "unbalanced");
        assert_eq!(closing_paren(&tokens, 0), None, "not a parenthesis");
        assert_eq!(closing_paren(&tokens, 99), None, "past the end");
    }

    #[test]
    fn excerpts_collapse_whitespace_and_cut_long_statements() {
        assert_eq!(excerpt("SELECT\n   1,\t2"), "SELECT 1, 2");
        let long = "x ".repeat(300);
        let short = excerpt(&long);
        assert_eq!(short.chars().count(), 201);
        assert!(short.ends_with('…'));
    }
}
