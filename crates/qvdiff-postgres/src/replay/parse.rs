//! The statement parser: reads a statement's tokens into the pieces of DDL qvdiff models.

use super::naming::{fold_identifier, unquote_identifier};
use super::{invalid, unsupported, Step};
use crate::render::quote_ident;
use crate::sqltext::{self, Token, TokenKind};
use qvdiff_core::FkAction;

/// A column definition of `CREATE TABLE` or `ADD COLUMN`.
#[derive(Debug)]
pub(super) struct ColumnDef {
    pub(super) name: String,
    pub(super) type_text: String,
    pub(super) not_null: bool,
    pub(super) default: Option<String>,
    pub(super) identity: bool,
    pub(super) constraints: Vec<NewConstraint>,
}

/// A constraint as written, before the server names it and resolves its references.
#[derive(Debug)]
pub(super) struct NewConstraint {
    pub(super) name: Option<String>,
    pub(super) kind: NewKind,
}

#[derive(Debug)]
pub(super) enum NewKind {
    PrimaryKey(Vec<String>),
    Unique(Vec<String>),
    /// `ADD [CONSTRAINT n] PRIMARY KEY|UNIQUE USING INDEX i`.
    UsingIndex {
        primary: bool,
        index: String,
    },
    ForeignKey(NewForeignKey),
    Check(String),
}

#[derive(Debug)]
pub(super) struct NewForeignKey {
    pub(super) columns: Vec<String>,
    pub(super) ref_table: String,
    /// `None`: the referenced table's primary key.
    pub(super) ref_columns: Option<Vec<String>>,
    pub(super) on_delete: FkAction,
    pub(super) on_update: FkAction,
}

/// Words that end a column's type and start its constraints.
pub(super) const COLUMN_CONSTRAINT_WORDS: &[&str] = &[
    "CONSTRAINT",
    "NOT",
    "NULL",
    "DEFAULT",
    "GENERATED",
    "PRIMARY",
    "UNIQUE",
    "REFERENCES",
    "CHECK",
    "COLLATE",
    "DEFERRABLE",
    "INITIALLY",
];

pub(super) fn is_table_constraint_start(p: &Parser) -> bool {
    matches!(
        p.peek_keyword().as_deref(),
        Some("CONSTRAINT" | "PRIMARY" | "UNIQUE" | "FOREIGN" | "CHECK")
    )
}

pub(super) fn parse_column_def(p: &mut Parser) -> Step<ColumnDef> {
    let name = p.ident()?;
    let (start, end) = p.type_span();
    let type_text = p.sql[start..end].trim().to_string();
    if type_text.is_empty() {
        return unsupported(format!("column {} has no type", quote_ident(&name)));
    }
    let mut def = ColumnDef {
        name,
        type_text,
        not_null: false,
        default: None,
        identity: false,
        constraints: Vec::new(),
    };
    let mut constraint_name = None;
    loop {
        if p.at_end() || p.at_punct(",") || p.at_punct(")") {
            break;
        }
        if p.eat("CONSTRAINT") {
            constraint_name = Some(p.ident()?);
            continue;
        }
        let column = vec![def.name.clone()];
        let kind = if p.eat_all(&["NOT", "NULL"]) {
            def.not_null = true;
            None
        } else if p.eat("NULL") {
            def.not_null = false;
            None
        } else if p.eat("DEFAULT") {
            let (start, end) = p.expr_span(COLUMN_CONSTRAINT_WORDS);
            def.default = Some(p.sql[start..end].trim().to_string());
            None
        } else if p.eat("GENERATED") {
            if !(p.eat("ALWAYS") || p.eat_all(&["BY", "DEFAULT"])) {
                return unsupported("expected ALWAYS or BY DEFAULT after GENERATED");
            }
            p.expect("AS")?;
            if !p.eat("IDENTITY") {
                return unsupported("generated columns are not modelled");
            }
            if p.at_punct("(") {
                p.paren_body()?;
            }
            def.identity = true;
            None
        } else if p.eat_all(&["PRIMARY", "KEY"]) {
            Some(NewKind::PrimaryKey(column))
        } else if p.eat("UNIQUE") {
            p.eat_all(&["NULLS", "NOT", "DISTINCT"]);
            p.eat_all(&["NULLS", "DISTINCT"]);
            Some(NewKind::Unique(column))
        } else if p.eat("REFERENCES") {
            Some(NewKind::ForeignKey(parse_references(p, column)?))
        } else if p.eat("CHECK") {
            let (start, end) = p.paren_body()?;
            p.eat_all(&["NO", "INHERIT"]);
            Some(NewKind::Check(p.sql[start..end].trim().to_string()))
        } else if p.at("COLLATE") {
            return unsupported("COLLATE is not modelled");
        } else if eat_deferrability(p) {
            None
        } else {
            return unsupported(format!("column option `{}` is not modelled", p.rest_text()));
        };
        // A `CONSTRAINT name` belongs to the one clause after it (a named NOT NULL too).
        let name = constraint_name.take();
        if let Some(kind) = kind {
            def.constraints.push(NewConstraint { name, kind });
        }
    }
    Ok(def)
}

pub(super) fn parse_table_constraint(p: &mut Parser) -> Step<NewConstraint> {
    let name = if p.eat("CONSTRAINT") {
        Some(p.ident()?)
    } else {
        None
    };
    let kind = if p.eat_all(&["PRIMARY", "KEY"]) {
        if p.eat_all(&["USING", "INDEX"]) {
            NewKind::UsingIndex {
                primary: true,
                index: p.ident()?,
            }
        } else {
            NewKind::PrimaryKey(p.ident_list()?)
        }
    } else if p.eat("UNIQUE") {
        p.eat_all(&["NULLS", "NOT", "DISTINCT"]);
        p.eat_all(&["NULLS", "DISTINCT"]);
        if p.eat_all(&["USING", "INDEX"]) {
            NewKind::UsingIndex {
                primary: false,
                index: p.ident()?,
            }
        } else {
            NewKind::Unique(p.ident_list()?)
        }
    } else if p.eat_all(&["FOREIGN", "KEY"]) {
        let columns = p.ident_list()?;
        p.expect("REFERENCES")?;
        NewKind::ForeignKey(parse_references(p, columns)?)
    } else if p.eat("CHECK") {
        let (start, end) = p.paren_body()?;
        p.eat_all(&["NO", "INHERIT"]);
        NewKind::Check(p.sql[start..end].trim().to_string())
    } else {
        return unsupported(format!("constraint `{}` is not modelled", p.rest_text()));
    };
    if p.eat("INCLUDE") {
        p.ident_list()?;
    }
    while eat_deferrability(p) || p.eat_all(&["NOT", "VALID"]) {}
    if p.at("USING") || p.at("WITH") {
        return unsupported(format!(
            "constraint option `{}` is not modelled",
            p.rest_text()
        ));
    }
    Ok(NewConstraint { name, kind })
}

/// `REFERENCES t [(cols)] [MATCH …] [ON DELETE …] [ON UPDATE …]`, after `REFERENCES`.
pub(super) fn parse_references(p: &mut Parser, columns: Vec<String>) -> Step<NewForeignKey> {
    let ref_table = p.table_name()?;
    let ref_columns = if p.at_punct("(") {
        Some(p.ident_list()?)
    } else {
        None
    };
    let mut fk = NewForeignKey {
        columns,
        ref_table,
        ref_columns,
        on_delete: FkAction::NoAction,
        on_update: FkAction::NoAction,
    };
    loop {
        if p.eat("MATCH") {
            if !(p.eat("SIMPLE") || p.eat("FULL") || p.eat("PARTIAL")) {
                return unsupported("expected SIMPLE, FULL or PARTIAL after MATCH");
            }
        } else if p.eat_all(&["ON", "DELETE"]) {
            fk.on_delete = parse_action(p)?;
        } else if p.eat_all(&["ON", "UPDATE"]) {
            fk.on_update = parse_action(p)?;
        } else {
            return Ok(fk);
        }
    }
}

pub(super) fn parse_action(p: &mut Parser) -> Step<FkAction> {
    let action = if p.eat_all(&["NO", "ACTION"]) {
        FkAction::NoAction
    } else if p.eat("RESTRICT") {
        FkAction::Restrict
    } else if p.eat("CASCADE") {
        FkAction::Cascade
    } else if p.eat_all(&["SET", "NULL"]) {
        FkAction::SetNull
    } else if p.eat_all(&["SET", "DEFAULT"]) {
        FkAction::SetDefault
    } else {
        return unsupported(format!("unknown foreign key action `{}`", p.rest_text()));
    };
    if p.at_punct("(") {
        return unsupported("a column list after SET NULL / SET DEFAULT is not modelled");
    }
    Ok(action)
}

/// `[NOT] DEFERRABLE`, `INITIALLY DEFERRED|IMMEDIATE`: not part of a Schema.
pub(super) fn eat_deferrability(p: &mut Parser) -> bool {
    p.eat("DEFERRABLE")
        || p.eat_all(&["NOT", "DEFERRABLE"])
        || p.eat_all(&["INITIALLY", "DEFERRED"])
        || p.eat_all(&["INITIALLY", "IMMEDIATE"])
}

/// What `ALTER TABLE … DROP COLUMN | CONSTRAINT` drops, and how.
pub(super) struct DropClause {
    /// The column or constraint.
    pub(super) name: String,
    /// `IF EXISTS`: a missing one is no error.
    pub(super) if_exists: bool,
    /// `CASCADE`: what depends on it goes too.
    pub(super) cascade: bool,
}

/// A cursor over one statement's tokens.
pub(super) struct Parser<'a> {
    pub(super) sql: &'a str,
    pub(super) tokens: Vec<Token>,
    pub(super) pos: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(sql: &'a str) -> Parser<'a> {
        Parser {
            sql,
            tokens: sqltext::tokenize(sql),
            pos: 0,
        }
    }

    pub(super) fn peek(&self) -> Option<Token> {
        self.tokens.get(self.pos).copied()
    }

    pub(super) fn peek_at(&self, ahead: usize) -> Option<Token> {
        self.tokens.get(self.pos + ahead).copied()
    }

    pub(super) fn peek_kind(&self) -> Option<TokenKind> {
        self.peek().map(|t| t.kind)
    }

    pub(super) fn text(&self, token: Token) -> &'a str {
        &self.sql[token.start..token.end]
    }

    pub(super) fn peek_text(&self) -> &'a str {
        self.peek().map_or("", |t| self.text(t))
    }

    /// From the current token to the end of the statement.
    pub(super) fn rest_text(&self) -> &'a str {
        self.peek().map_or("", |t| self.sql[t.start..].trim())
    }

    /// The current token upper-cased, when it is a bare word.
    pub(super) fn peek_keyword(&self) -> Option<String> {
        self.peek_keyword_at(0)
    }

    pub(super) fn peek_keyword_at(&self, ahead: usize) -> Option<String> {
        self.peek_at(ahead)
            .filter(|t| t.kind == TokenKind::Word)
            .map(|t| self.text(t).to_ascii_uppercase())
    }

    /// The bare words from here on, upper-cased.
    pub(super) fn remaining_words(&self) -> Vec<String> {
        self.tokens[self.pos..]
            .iter()
            .filter(|t| t.kind == TokenKind::Word)
            .map(|t| self.text(*t).to_ascii_uppercase())
            .collect()
    }

    /// Whether `word` appears from here on outside parentheses.
    pub(super) fn has_top_level_word(&self, word: &str) -> bool {
        let mut depth = 0usize;
        self.tokens[self.pos..].iter().any(|t| {
            match t.kind {
                TokenKind::Open => depth += 1,
                TokenKind::Close => depth = depth.saturating_sub(1),
                _ => {}
            }
            depth == 0 && t.is_word(self.sql, word)
        })
    }

    pub(super) fn advance(&mut self) {
        self.pos += 1;
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    pub(super) fn at(&self, word: &str) -> bool {
        self.peek().is_some_and(|t| t.is_word(self.sql, word))
    }

    pub(super) fn at_punct(&self, punct: &str) -> bool {
        self.peek().is_some_and(|t| {
            !matches!(
                t.kind,
                TokenKind::Word | TokenKind::QuotedIdent | TokenKind::String
            ) && self.text(t) == punct
        })
    }

    pub(super) fn eat(&mut self, word: &str) -> bool {
        let found = self.at(word);
        if found {
            self.pos += 1;
        }
        found
    }

    /// Eats all of `words` in sequence, or none of them.
    pub(super) fn eat_all(&mut self, words: &[&str]) -> bool {
        let matches = words
            .iter()
            .enumerate()
            .all(|(i, word)| self.peek_at(i).is_some_and(|t| t.is_word(self.sql, word)));
        if matches {
            self.pos += words.len();
        }
        matches
    }

    pub(super) fn eat_punct(&mut self, punct: &str) -> bool {
        let found = self.at_punct(punct);
        if found {
            self.pos += 1;
        }
        found
    }

    pub(super) fn expect(&mut self, word: &str) -> Step {
        if self.eat(word) {
            Ok(())
        } else {
            unsupported(format!("expected {word} at `{}`", self.rest_text()))
        }
    }

    pub(super) fn expect_end(&self) -> Step {
        if self.at_end() {
            Ok(())
        } else {
            unsupported(format!("`{}` is not modelled", self.rest_text()))
        }
    }

    /// An identifier: a bare word (folded to lower case) or a `"quoted"` name.
    pub(super) fn ident(&mut self) -> Step<String> {
        let Some(token) = self.peek() else {
            return unsupported("expected a name at the end of the statement");
        };
        let text = self.text(token);
        let name = match token.kind {
            TokenKind::Word => fold_identifier(text),
            TokenKind::QuotedIdent => {
                let name = unquote_identifier(text);
                if name.is_empty() {
                    return invalid("zero-length delimited identifier");
                }
                name
            }
            _ => return unsupported(format!("expected a name at `{}`", self.rest_text())),
        };
        self.pos += 1;
        Ok(name)
    }

    /// A string literal `'…'` (doubled quotes undone).
    pub(super) fn string_literal(&mut self) -> Step<String> {
        let Some(token) = self.peek() else {
            return unsupported("expected a string literal at the end of the statement");
        };
        let text = self.text(token);
        if token.kind != TokenKind::String || !text.starts_with('\'') || text.len() < 2 {
            return unsupported(format!(
                "expected a string literal at `{}`",
                self.rest_text()
            ));
        }
        self.pos += 1;
        Ok(text[1..text.len() - 1].replace("''", "'"))
    }

    /// A table name, possibly qualified by the `public` schema (the only one modelled).
    pub(super) fn table_name(&mut self) -> Step<String> {
        let first = self.ident()?;
        if self.at_punct(".") {
            self.pos += 1;
            let second = self.ident()?;
            if first != "public" {
                return unsupported(format!(
                    "schema {} is not modelled: qvdiff models the public schema",
                    quote_ident(&first)
                ));
            }
            return Ok(second);
        }
        Ok(first)
    }

    /// `name [, name …]`.
    pub(super) fn name_list(&mut self) -> Step<Vec<String>> {
        let mut names = vec![self.table_name()?];
        while self.eat_punct(",") {
            names.push(self.table_name()?);
        }
        Ok(names)
    }

    /// `[IF EXISTS] name [CASCADE | RESTRICT]`, the rest of `ALTER TABLE … DROP [COLUMN |
    /// CONSTRAINT]`.
    pub(super) fn drop_clause(&mut self) -> Step<DropClause> {
        let if_exists = self.eat_all(&["IF", "EXISTS"]);
        let name = self.ident()?;
        let cascade = self.drop_behavior()?;
        Ok(DropClause {
            name,
            if_exists,
            cascade,
        })
    }

    /// `[CASCADE | RESTRICT]`: whether it cascades.
    pub(super) fn drop_behavior(&mut self) -> Step<bool> {
        if self.eat("CASCADE") {
            return Ok(true);
        }
        self.eat("RESTRICT");
        Ok(false)
    }

    /// `(a, b, …)`.
    pub(super) fn ident_list(&mut self) -> Step<Vec<String>> {
        if !self.eat_punct("(") {
            return unsupported(format!("expected `(` at `{}`", self.rest_text()));
        }
        let mut names = vec![self.ident()?];
        loop {
            if self.eat_punct(",") {
                names.push(self.ident()?);
            } else if self.eat_punct(")") {
                return Ok(names);
            } else {
                return unsupported(format!(
                    "expected a column name list at `{}`",
                    self.rest_text()
                ));
            }
        }
    }

    /// Consumes `( … )` and returns the byte span inside the parentheses.
    pub(super) fn paren_body(&mut self) -> Step<(usize, usize)> {
        let Some(open) = self.peek().filter(|t| t.kind == TokenKind::Open) else {
            return unsupported(format!("expected `(` at `{}`", self.rest_text()));
        };
        let Some(close) = qvdiff_core::sqltext::closing_paren(&self.tokens, self.pos) else {
            self.pos = self.tokens.len();
            return unsupported("unbalanced parentheses");
        };
        self.pos = close + 1;
        Ok((open.end, self.tokens[close].start))
    }

    /// Consumes an expression: tokens up to a `,` or `)` outside parentheses, the end, or one of
    /// `stop` words outside parentheses (`NOT` only as `NOT NULL`, not `IS NOT NULL`). Returns
    /// its byte span.
    pub(super) fn expr_span(&mut self, stop: &[&str]) -> (usize, usize) {
        let start = self.peek().map_or(self.sql.len(), |t| t.start);
        let mut end = start;
        let mut depth = 0usize;
        let mut first = true;
        while let Some(token) = self.peek() {
            match token.kind {
                TokenKind::Open => depth += 1,
                TokenKind::Close if depth == 0 => break,
                TokenKind::Close => depth -= 1,
                _ if depth == 0 && self.text(token) == "," => break,
                TokenKind::Word if depth == 0 && !first => {
                    let word = self.text(token).to_ascii_uppercase();
                    if stop.contains(&word.as_str()) {
                        let is_not_null = word != "NOT"
                            || (self.peek_keyword_at(1).as_deref() == Some("NULL")
                                && !self
                                    .pos
                                    .checked_sub(1)
                                    .and_then(|i| self.tokens.get(i))
                                    .is_some_and(|t| t.is_word(self.sql, "IS")));
                        if is_not_null {
                            break;
                        }
                    }
                }
                _ => {}
            }
            first = false;
            end = token.end;
            self.pos += 1;
        }
        (start, end)
    }

    /// Consumes a column type: words, parenthesized modifiers and `[]` up to the first column
    /// constraint word, `,` or `)`. Returns its byte span.
    pub(super) fn type_span(&mut self) -> (usize, usize) {
        let start = self.peek().map_or(self.sql.len(), |t| t.start);
        let mut end = start;
        while let Some(token) = self.peek() {
            match token.kind {
                TokenKind::Open => {
                    if self.paren_body().is_err() {
                        break;
                    }
                    end = self.tokens[self.pos - 1].end;
                    continue;
                }
                TokenKind::Close => break,
                TokenKind::Word => {
                    let word = self.text(token).to_ascii_uppercase();
                    if COLUMN_CONSTRAINT_WORDS.contains(&word.as_str()) || word == "USING" {
                        break;
                    }
                }
                _ if self.text(token) == "," => break,
                _ => {}
            }
            end = token.end;
            self.pos += 1;
        }
        (start, end)
    }
}
