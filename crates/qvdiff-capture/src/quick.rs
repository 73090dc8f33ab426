//! The quick reader: the common shape of a model file, read without syn.
//!
//! syn turns every item into a full syntax tree, which is most of the time a scan takes on a big
//! project (1000 models: tens of milliseconds). Model files are mostly one shape: `use` lines and
//! structs whose attributes are `derive`, `#[model(table = …)]` and `#[column(…)]` with plain
//! values, whose fields have a type that is one word, perhaps in `Option<…>`. This module reads
//! exactly that shape and nothing else, straight into the values syn's reading produces
//! ([`ModelAttrs`], [`ColumnAttrs`]), and hands them to the same mapping rules
//! ([`field_info`], [`assemble`]).
//!
//! It never judges: whatever it does not recognise — any other token, attribute, item or value
//! spelling, and any model with an error — makes it give up on the piece (`None`), and syn reads
//! that piece as before, so every error keeps syn's wording and position. Its rule is that a piece
//! it accepts gives exactly what syn's reading gives; tests hold it to that on every prefix and
//! every one-byte deletion of sample files.

use crate::attrs::{literal, parse_reference, ColumnAttrs, ModelAttrs, Spanned};
use crate::errors::Errors;
use crate::mapping::{assemble, field_info, FieldInfo, FieldType};
use crate::types::builtin_named;
use crate::CapturedTable;
use proc_macro2::Span;
use qvdiff_core::schema::comment_from_doc_lines;
use qvdiff_core::{DefaultValue, FkAction};

/// The models of one piece of a source file (whole top-level items), with lines counted from
/// the piece's first line and an empty `file`; `None` when the piece is not in the shape this
/// reader knows, or a model in it has an error.
pub(crate) fn read_piece(piece: &str) -> Option<Vec<CapturedTable>> {
    let tokens = tokenize(piece)?;
    let mut parser = Parser {
        piece,
        tokens: &tokens,
        at: 0,
    };
    let mut tables = Vec::new();
    while parser.at < tokens.len() {
        if let Some(table) = parser.item()? {
            tables.push(table);
        }
    }
    Some(tables)
}

/// One token, with the byte offset where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    /// An identifier or keyword (ASCII only).
    Word(&'a str),
    /// One punctuation character of `# [ ] ( ) { } < > : , ; = - *`.
    Punct(u8),
    /// `::`.
    PathSep,
    /// A string literal without escapes or control characters: its contents.
    Str(&'a str),
    /// A decimal number without suffix, exponent or `_`: `12` or `1.5`.
    Number(&'a str),
    /// A `///` doc comment (an attribute to syn): the text after `///`.
    Doc(&'a str),
}

/// The tokens of `text`, or `None` at anything outside the shape (block comments, inner doc
/// comments, escapes, raw identifiers, literal prefixes or suffixes, non-ASCII outside strings
/// and comments, carriage returns, other punctuation).
fn tokenize(text: &str) -> Option<Vec<(Token<'_>, usize)>> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::with_capacity(text.len() / 4);
    let mut i = 0;
    let continues_word =
        |b: Option<&u8>| b.is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80);
    while i < bytes.len() {
        let start = i;
        let b = bytes[i];
        let token = match b {
            b' ' | b'\t' | b'\n' => {
                i += 1;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let doc = match (bytes.get(i + 2), bytes.get(i + 3)) {
                    (Some(b'!'), _) => return None,
                    (Some(b'/'), Some(b'/')) => false,
                    (Some(b'/'), _) => true,
                    _ => false,
                };
                let end = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| i + p);
                if bytes[i..end].contains(&b'\r') {
                    return None;
                }
                i = end;
                if !doc {
                    continue;
                }
                Token::Doc(&text[start + 3..end])
            }
            b'"' => {
                let close = bytes[i + 1..].iter().position(|&b| b == b'"')? + i + 1;
                let contents = &text[i + 1..close];
                if contents
                    .bytes()
                    .any(|b| b == b'\\' || b < 0x20 || b == 0x7f)
                {
                    return None;
                }
                i = close + 1;
                if continues_word(bytes.get(i)) {
                    return None;
                }
                Token::Str(contents)
            }
            b'0'..=b'9' => {
                while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                        i += 1;
                    }
                }
                if continues_word(bytes.get(i)) || bytes.get(i) == Some(&b'.') {
                    return None;
                }
                Token::Number(&text[start..i])
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while bytes
                    .get(i)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
                {
                    i += 1;
                }
                // `r#raw`, `b"…"`, `r"…"`, `c'…'` and non-ASCII identifiers: left to syn.
                if matches!(bytes.get(i), Some(b'"' | b'\'' | b'#'))
                    || bytes.get(i).is_some_and(|&b| b >= 0x80)
                {
                    return None;
                }
                Token::Word(&text[start..i])
            }
            b':' if bytes.get(i + 1) == Some(&b':') => {
                i += 2;
                Token::PathSep
            }
            b'#' | b'[' | b']' | b'(' | b')' | b'{' | b'}' | b'<' | b'>' | b':' | b',' | b';'
            | b'=' | b'-' | b'*' => {
                i += 1;
                // Joined punctuation (`=>`, `->`, `>>`, `#!`, …) means something else.
                if matches!(
                    (b, bytes.get(i)),
                    (b'=' | b'-' | b'<' | b'>', Some(b'=' | b'>' | b'<'))
                        | (b'#', Some(b'!'))
                        | (b'*', Some(b'='))
                ) {
                    return None;
                }
                Token::Punct(b)
            }
            _ => return None,
        };
        tokens.push((token, start));
    }
    Some(tokens)
}

/// Words syn does not take as an identifier (Rust's strict and reserved keywords, and `_`).
fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "_" | "abstract"
            | "as"
            | "async"
            | "await"
            | "become"
            | "box"
            | "break"
            | "const"
            | "continue"
            | "crate"
            | "do"
            | "dyn"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "final"
            | "fn"
            | "for"
            | "gen"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "macro"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "override"
            | "priv"
            | "pub"
            | "ref"
            | "return"
            | "Self"
            | "self"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "try"
            | "type"
            | "typeof"
            | "union"
            | "unsafe"
            | "unsized"
            | "use"
            | "virtual"
            | "where"
            | "while"
            | "yield"
    )
}

/// An attribute in the shape: `///`, `#[derive(…)]`, `#[model(…)]` or `#[column(…)]`.
enum Attribute<'a> {
    /// A `///` line's text.
    Doc(&'a str),
    /// Whether one of the derived paths is `Model`, `qvdiff::Model` or `qvdiff_derive::Model`.
    Derive(bool),
    /// Boxed: the struct attributes are large beside the other variants.
    Model(Box<ModelAttrs>),
    /// `#[column(…)]`: keys and values in order.
    Column(Vec<(&'a str, Option<Value<'a>>)>),
}

/// A value after `key =`.
#[derive(Clone, Copy)]
enum Value<'a> {
    Str(&'a str),
    Number { digits: &'a str, negative: bool },
    Bool(bool),
}

struct Parser<'a, 't> {
    piece: &'a str,
    tokens: &'t [(Token<'a>, usize)],
    at: usize,
}

impl<'a> Parser<'a, '_> {
    fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.at).map(|(t, _)| *t)
    }

    fn next(&mut self) -> Option<Token<'a>> {
        let token = self.peek()?;
        self.at += 1;
        Some(token)
    }

    fn eat(&mut self, token: Token<'a>) -> bool {
        let here = self.peek() == Some(token);
        if here {
            self.at += 1;
        }
        here
    }

    fn expect(&mut self, token: Token<'a>) -> Option<()> {
        self.eat(token).then_some(())
    }

    /// An identifier that is not a keyword.
    fn name(&mut self) -> Option<&'a str> {
        match self.next()? {
            Token::Word(word) if !is_keyword(word) => Some(word),
            _ => None,
        }
    }

    /// `pub` (but not `pub(…)`), if present.
    fn visibility(&mut self) -> Option<()> {
        if self.eat(Token::Word("pub")) && self.peek() == Some(Token::Punct(b'(')) {
            return None;
        }
        Some(())
    }

    /// One item: `use …;` (no models) or a struct (a model when it derives `Model`).
    fn item(&mut self) -> Option<Option<CapturedTable>> {
        let attrs = self.attributes(false)?;
        self.visibility()?;
        match self.next()? {
            Token::Word("use") if attrs.iter().all(|a| matches!(a, Attribute::Doc(_))) => {
                self.use_tree(true)?;
                self.expect(Token::Punct(b';'))?;
                Some(None)
            }
            Token::Word("struct") => self.model_struct(attrs),
            _ => None,
        }
    }

    /// `a::b::c`, `a::{b, c::d}`, `a::*`; `crate`, `self` and `super` only first.
    fn use_tree(&mut self, first: bool) -> Option<()> {
        match self.next()? {
            Token::Word("crate" | "self" | "super") if first => {}
            Token::Word(word) if !is_keyword(word) => {}
            Token::Punct(b'*') if !first => return Some(()),
            Token::Punct(b'{') if !first => {
                while !self.eat(Token::Punct(b'}')) {
                    self.use_tree(false)?;
                    if !self.eat(Token::Punct(b',')) {
                        return self.expect(Token::Punct(b'}'));
                    }
                }
                return Some(());
            }
            _ => return None,
        }
        if self.eat(Token::PathSep) {
            return self.use_tree(false);
        }
        Some(())
    }

    /// The outer attributes before an item (`on_field`: before a field).
    fn attributes(&mut self, on_field: bool) -> Option<Vec<Attribute<'a>>> {
        let mut attrs = Vec::new();
        loop {
            if let Some(&(Token::Doc(line), _)) = self.tokens.get(self.at) {
                self.at += 1;
                attrs.push(Attribute::Doc(line));
                continue;
            }
            if !self.eat(Token::Punct(b'#')) {
                return Some(attrs);
            }
            self.expect(Token::Punct(b'['))?;
            let attr = match (self.next()?, on_field) {
                (Token::Word("derive"), false) => Attribute::Derive(self.derive_list()?),
                (Token::Word("model"), false) => Attribute::Model(Box::new(self.model_list()?)),
                (Token::Word("column"), true) => Attribute::Column(self.list()?),
                _ => return None,
            };
            self.expect(Token::Punct(b']'))?;
            attrs.push(attr);
        }
    }

    /// `(Path, Path, …)` of a derive: whether one of them is the Model derive.
    fn derive_list(&mut self) -> Option<bool> {
        self.expect(Token::Punct(b'('))?;
        let mut model = false;
        while !self.eat(Token::Punct(b')')) {
            let mut segments = vec![self.name()?];
            while self.eat(Token::PathSep) {
                segments.push(self.name()?);
            }
            model |= match segments.as_slice() {
                [only] => *only == "Model",
                [krate, last] => *last == "Model" && matches!(*krate, "qvdiff" | "qvdiff_derive"),
                _ => false,
            };
            if !self.eat(Token::Punct(b',')) {
                self.expect(Token::Punct(b')'))?;
                break;
            }
        }
        Some(model)
    }

    /// `key = value, …` inside parentheses; a key without a value is a flag.
    fn list(&mut self) -> Option<Vec<(&'a str, Option<Value<'a>>)>> {
        self.expect(Token::Punct(b'('))?;
        let mut items = Vec::new();
        while !self.eat(Token::Punct(b')')) {
            let key = self.name()?;
            let value = if self.eat(Token::Punct(b'=')) {
                Some(self.value()?)
            } else {
                None
            };
            items.push((key, value));
            if !self.eat(Token::Punct(b',')) {
                self.expect(Token::Punct(b')'))?;
                break;
            }
        }
        Some(items)
    }

    fn value(&mut self) -> Option<Value<'a>> {
        match self.next()? {
            Token::Str(text) => Some(Value::Str(text)),
            Token::Number(digits) => Some(Value::Number {
                digits,
                negative: false,
            }),
            Token::Punct(b'-') => match self.next()? {
                Token::Number(digits) => Some(Value::Number {
                    digits,
                    negative: true,
                }),
                _ => None,
            },
            Token::Word("true") => Some(Value::Bool(true)),
            Token::Word("false") => Some(Value::Bool(false)),
            _ => None,
        }
    }

    /// `#[model(table = "…", renamed_from = "…")]`; other keys are left to syn.
    fn model_list(&mut self) -> Option<ModelAttrs> {
        let mut attrs = ModelAttrs::default();
        for (key, value) in self.list()? {
            let slot = match key {
                "table" => &mut attrs.table,
                "renamed_from" => &mut attrs.renamed_from,
                _ => return None,
            };
            set_once(slot, text_value(value?)?)?;
        }
        Some(attrs)
    }

    /// `struct Name { fields }` after its attributes and visibility.
    fn model_struct(&mut self, attrs: Vec<Attribute<'a>>) -> Option<Option<CapturedTable>> {
        let mut derives = false;
        let mut model = ModelAttrs::default();
        let mut doc = Vec::new();
        for attr in attrs {
            match attr {
                Attribute::Derive(is_model) => derives |= is_model,
                Attribute::Model(more) => merge_model(&mut model, *more)?,
                Attribute::Doc(line) => doc.push(line),
                Attribute::Column(_) => return None,
            }
        }
        model.doc = comment_from_doc_lines(doc);
        let name_at = self.tokens.get(self.at)?.1;
        let struct_name = self.name()?;
        self.expect(Token::Punct(b'{'))?;
        // Each field has one `:` (paths are `::`): sized once, since a field's attributes are
        // large to move (growing the list was a sixth of reading a model).
        let colons = self.tokens[self.at..]
            .iter()
            .take_while(|(token, _)| *token != Token::Punct(b'}'))
            .filter(|(token, _)| *token == Token::Punct(b':'))
            .count();
        let mut infos = Vec::with_capacity(colons);
        let mut errors = Errors::default();
        while !self.eat(Token::Punct(b'}')) {
            infos.push(self.field(&mut errors)?);
            if !self.eat(Token::Punct(b',')) {
                self.expect(Token::Punct(b'}'))?;
                break;
            }
        }
        if !derives {
            // Well-formed, but not a model: syn's reading captures nothing from it either.
            return Some(None);
        }
        let table = assemble(struct_name, Span::call_site(), &model, &infos, &mut errors);
        errors.finish().ok()?;
        let (line, column) = self.position(name_at);
        Some(Some(CapturedTable {
            table,
            struct_name: struct_name.to_string(),
            file: String::new(),
            line,
            column,
            enum_fields: Vec::new(),
        }))
    }

    /// One field: attributes, visibility, name, `:`, and a type that is one word, perhaps in
    /// `Option<…>`; its column by the mapping rules (their errors go to `errors`).
    fn field(&mut self, errors: &mut Errors) -> Option<FieldInfo> {
        let mut column = ColumnAttrs::default();
        let mut doc = Vec::new();
        for attr in self.attributes(true)? {
            match attr {
                Attribute::Column(items) => {
                    for (key, value) in items {
                        column_item(&mut column, key, value)?;
                    }
                }
                Attribute::Doc(line) => doc.push(line),
                Attribute::Derive(_) | Attribute::Model(_) => {}
            }
        }
        column.doc = comment_from_doc_lines(doc);
        self.visibility()?;
        let name = self.name()?;
        self.expect(Token::Punct(b':'))?;
        let word = self.name()?;
        let (nullable, inner) = if word == "Option" && self.eat(Token::Punct(b'<')) {
            let inner = self.name()?;
            self.expect(Token::Punct(b'>'))?;
            (true, inner)
        } else if matches!(self.peek(), Some(Token::Punct(b'<') | Token::PathSep)) {
            return None;
        } else {
            (false, word)
        };
        let field_type = FieldType {
            nullable,
            builtin: builtin_named(inner),
            text: &|| inner.to_string(),
        };
        let info = field_info(
            name.to_string(),
            Span::call_site(),
            column,
            &field_type,
            errors,
        );
        // An enum field's values come from elsewhere and its errors need syn's spans.
        (!info.is_enum()).then_some(info)
    }

    /// The 1-based line and column (in characters) of byte `offset`, as syn's spans count them.
    fn position(&self, offset: usize) -> (usize, usize) {
        let before = &self.piece[..offset];
        let line_start = before.rfind('\n').map_or(0, |p| p + 1);
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        (line, before[line_start..].chars().count() + 1)
    }
}

/// Adds one `#[column(…)]` key; `None` for a key or value this reader leaves to syn (and for
/// anything syn's reading would report).
fn column_item(attrs: &mut ColumnAttrs, key: &str, value: Option<Value>) -> Option<()> {
    let flag = |slot: &mut Option<Span>| {
        (slot.is_none() && value.is_none()).then(|| *slot = Some(Span::call_site()))
    };
    match key {
        "primary_key" => flag(&mut attrs.primary_key),
        "autoincrement" => flag(&mut attrs.autoincrement),
        "unique" => flag(&mut attrs.unique),
        "index" => flag(&mut attrs.index),
        "skip" => flag(&mut attrs.skip),
        "name" => set_once(&mut attrs.name, text_value(value?)?),
        "renamed_from" => set_once(&mut attrs.renamed_from, text_value(value?)?),
        "sql_type" => set_once(&mut attrs.sql_type, text_value(value?)?),
        "default_sql" => {
            let text = text_value(value?)?;
            set_once(
                &mut attrs.default_sql,
                spanned(DefaultValue::Sql(text.value)),
            )
        }
        "backfill_sql" => set_once(&mut attrs.backfill_sql, text_value(value?)?),
        "using" => set_once(&mut attrs.using, text_value(value?)?),
        "references" => {
            let target = text_value(value?)?.value;
            set_once(&mut attrs.references, spanned(parse_reference(&target)?))
        }
        "on_delete" | "on_update" => {
            let action = FkAction::parse(&text_value(value?)?.value)?;
            let slot = if key == "on_delete" {
                &mut attrs.on_delete
            } else {
                &mut attrs.on_update
            };
            set_once(slot, spanned(action))
        }
        "max_length" | "precision" | "scale" => match value? {
            Value::Number {
                digits,
                negative: false,
            } if !digits.contains('.') => {
                let min = if key == "scale" { 0 } else { 1 };
                let n = digits.parse::<u32>().ok().filter(|&n| n >= min)?;
                let slot = match key {
                    "max_length" => &mut attrs.max_length,
                    "precision" => &mut attrs.precision,
                    _ => &mut attrs.scale,
                };
                set_once(slot, spanned(n))
            }
            _ => None,
        },
        "default" => set_once(&mut attrs.default, spanned(literal_of(value?)?)),
        "backfill" => set_once(&mut attrs.backfill, spanned(literal_of(value?)?)),
        _ => None,
    }
}

/// A typed literal as syn's reading makes it (the same conversion, on the same literal).
fn literal_of(value: Value) -> Option<DefaultValue> {
    let span = Span::call_site();
    let (lit, negative) = match value {
        Value::Str(text) => (syn::Lit::Str(syn::LitStr::new(text, span)), false),
        Value::Bool(value) => (syn::Lit::Bool(syn::LitBool::new(value, span)), false),
        Value::Number { digits, negative } if digits.contains('.') => {
            (syn::Lit::Float(syn::LitFloat::new(digits, span)), negative)
        }
        Value::Number { digits, negative } => {
            (syn::Lit::Int(syn::LitInt::new(digits, span)), negative)
        }
    };
    literal(&lit, negative).ok()
}

fn spanned<T>(value: T) -> Spanned<T> {
    Spanned {
        value,
        key: Span::call_site(),
        value_span: Span::call_site(),
    }
}

/// A string value that syn's reading takes without a word: not blank, no control character.
fn text_value(value: Value) -> Option<Spanned<String>> {
    match value {
        Value::Str(text) if !text.trim().is_empty() && !text.chars().any(char::is_control) => {
            Some(spanned(text.to_string()))
        }
        _ => None,
    }
}

/// Sets a key given once; a second time is left to syn (which reports it).
fn set_once<T>(slot: &mut Option<Spanned<T>>, value: Spanned<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

/// Adds the keys of a second `#[model(…)]` attribute; a key given twice is left to syn.
fn merge_model(into: &mut ModelAttrs, more: ModelAttrs) -> Option<()> {
    if let Some(table) = more.table {
        set_once(&mut into.table, table)?;
    }
    if let Some(renamed_from) = more.renamed_from {
        set_once(&mut into.renamed_from, renamed_from)?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::read_piece;
    use crate::{CapturedTable, ScanOutput};

    /// Every key and value spelling the quick reader knows, a doc comment, a struct that is not
    /// a model, `use` trees, and a non-ASCII name on the line of a struct's name.
    const COMMON: &str = r#"use qvdiff::Model;
use std::{collections::HashMap, fmt::*};
use crate::schema;

/// Rows of the shop.
#[derive(Debug, Clone, Model)]
#[model(table = "items", renamed_from = "old_items")]
pub struct Item {
    /// The key.
    #[column(primary_key, autoincrement)]
    pub id: i64,
    #[column(max_length = 120, index)]
    pub title: String,
    pub notes: Option<String>,
    #[column(default = true)]
    pub active: bool,
    #[column(default = -3, backfill = 7)]
    count: i32,
    #[column(default = 1.5, using = "CAST(price AS REAL)")]
    pub price: f64,
    #[column(default = "new", name = "state_text")]
    pub state: String,
    // a plain comment
    #[column(references = "users.id", on_delete = "cascade", on_update = "set null")]
    pub owner: Option<i64>,
    #[column(unique)]
    #[column(renamed_from = "code_old")]
    pub code: String,
    #[column(sql_type = "JSON", default_sql = "'{}'", backfill_sql = "'{}'")]
    pub extra: Value,
    #[column(skip)]
    pub cached: Option<Value>,
    pub seen: Option<DateTime>,
    pub data: Option<Uuid>,
}

#[derive(Model)] #[model(table = "é_tags")] pub struct Tag { #[column(primary_key)] id: i64, }

#[derive(Debug)]
struct Plain {
    a: i64,
}

#[derive(qvdiff::Model)]
#[model()]
struct UserAccount {
    #[column(primary_key)]
    pub id: i64,
    #[column(max_length = 0040)]
    pub email: String,
}
"#;

    /// Models with errors the quick reader must leave to syn.
    const WRONG: &[&str] = &[
        "#[derive(Model)]\nstruct A { a: i64 }\n",
        "#[derive(Model)]\nstruct A { #[column(primary_key, primary_key)] a: i64 }\n",
        "#[derive(Model)]\nstruct A { #[column(primary_key)] a: i64, #[column(max_length = 5)] b: i64 }\n",
        "#[derive(Model)]\nstruct A { #[column(primary_key)] a: i64, #[column(default = \"x\")] b: i64 }\n",
        "#[derive(Model)]\nstruct A { #[column(primary_key)] a: i64, #[column(skip, index)] b: i64 }\n",
        "#[derive(Model)]\nstruct A { #[column(primary_key)] a: i64, #[column(name = \"a\")] b: i64 }\n",
        "#[derive(Model)]\nstruct A { #[column(primary_key)] a: i64, #[column(default = 99999999999999999999)] b: i64 }\n",
        "#[derive(Model)]\nstruct A { #[column(primary_key)] a: i64, #[column(references = \"users\")] b: i64 }\n",
        "#[derive(Model)]\nstruct A { #[column(primary_key)] a: i64, #[column(on_delete = \"set null\", references = \"u.id\")] b: i64 }\n",
        "#[derive(Model)]\nstruct A { #[column(primary_key)] a: i64, #[column(name = \" \")] b: i64 }\n",
        "#[derive(Model)]\n#[model(table = \"a\")]\n#[model(table = \"b\")]\nstruct A { #[column(primary_key)] a: i64 }\n",
        "#[derive(Model)]\nstruct A { #[column(primary_key, autoincrement)] a: String }\n",
    ];

    /// What syn's reading of `piece` gives; `None` when it does not parse.
    fn by_syn(piece: &str) -> Option<ScanOutput> {
        let parsed = syn::parse_file(piece).ok()?;
        let mut output = ScanOutput::default();
        for item in parsed.items {
            crate::scan::scan_item("", item, &mut output);
        }
        Some(output)
    }

    /// Whatever the quick reader accepts, syn reads the same way and without error.
    fn agrees(piece: &str) -> bool {
        match read_piece(piece) {
            None => true,
            Some(quick) => by_syn(piece)
                .is_some_and(|slow: ScanOutput| slow.errors.is_empty() && slow.tables == quick),
        }
    }

    #[test]
    fn the_common_shape_reads_as_syn_reads_it() {
        let quick: Vec<CapturedTable> = read_piece(COMMON).expect("the common shape is read");
        let slow = by_syn(COMMON).expect("parses");
        assert!(slow.errors.is_empty(), "{:?}", slow.errors);
        assert_eq!(quick, slow.tables);
        let names: Vec<&str> = quick.iter().map(|t| t.table.name.as_str()).collect();
        assert_eq!(names, ["items", "é_tags", "user_account"]);
        // The position of a struct name counts characters, as syn's spans do.
        assert_eq!((quick[1].line, quick[1].column), (37, 56));
    }

    #[test]
    fn models_with_errors_are_left_to_syn() {
        for piece in WRONG {
            assert!(read_piece(piece).is_none(), "{piece}");
            let slow = by_syn(piece).expect("parses");
            assert!(!slow.errors.is_empty(), "syn reports {piece}");
        }
    }

    #[test]
    fn enum_fields_are_left_to_syn() {
        // Not builtin: an enum, resolved after the scan with the positions syn gives.
        let piece = "#[derive(Model)]\nstruct A { #[column(primary_key)] a: i64, b: Status }\n";
        assert!(read_piece(piece).is_none());
        let slow = by_syn(piece).expect("parses");
        assert!(slow.errors.is_empty(), "{:?}", slow.errors);
        assert_eq!(slow.tables[0].enum_fields[0].rust_type, "Status");
        assert_eq!(
            (
                slow.tables[0].enum_fields[0].line,
                slow.tables[0].enum_fields[0].column_number
            ),
            (2, 46)
        );
    }

    #[test]
    fn other_rust_is_left_to_syn() {
        for piece in [
            "fn main() {}\n",
            "mod inner { use qvdiff::Model; }\n",
            "#[derive(Model)]\nstruct A<T> { #[column(primary_key)] a: T }\n",
            "#[derive(Model)]\nstruct A { #[column(primary_key)] a: std::primitive::i64 }\n",
            "#[derive(Model)]\nstruct A { #[column(primary_key)] r#type: i64 }\n",
            "#[derive(Model)]\nstruct A { /* key */ #[column(primary_key)] a: i64 }\n",
            "#[derive(Model)]\nstruct A { #[column(primary_key)] a: i64, #[column(default = 1_000)] b: i64 }\n",
            "#[derive(Model)]\nstruct A { #[column(primary_key)] a: i64, #[column(default = \"a\\nb\")] b: String }\n",
            "#[derive(Model)]\n#[cfg(test)]\nstruct A { #[column(primary_key)] a: i64 }\n",
            "#[derive(Model)]\r\nstruct A { #[column(primary_key)] a: i64 }\r\n",
            "//! Models.\n#[derive(Model)]\nstruct A { #[column(primary_key)] a: i64 }\n",
            "#[derive(Model)]\npub(crate) struct A { #[column(primary_key)] a: i64 }\n",
            "#[derive(Model)]\nstruct A { #[column(primary_key)] type: i64 }\n",
        ] {
            assert!(read_piece(piece).is_none(), "{piece}");
        }
    }

    /// Every `.rs` file of the repository's fixtures and example app (the models of the test
    /// cases, the bad-input corpus, the example application), cut into items as the scanner
    /// cuts them: every item the quick reader takes reads exactly as syn reads it.
    #[test]
    fn every_fixture_item_agrees_with_syn() {
        fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("a directory").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    rust_files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        rust_files(&root.join("fixtures"), &mut files);
        rust_files(&root.join("examples"), &mut files);
        assert!(files.len() > 100, "{} files", files.len());
        // Pieces syn captures a model from without errors, and those the quick reader takes.
        let (mut models, mut quick) = (0, 0);
        for file in &files {
            let text = std::fs::read_to_string(file).expect("readable");
            for chunk in crate::scan::split_items(&text, 1) {
                let piece = &text[chunk.start..chunk.end];
                assert!(
                    agrees(piece),
                    "{}:{}:\n{piece}",
                    file.display(),
                    chunk.first_line
                );
                models += usize::from(
                    by_syn(piece).is_some_and(|o| !o.tables.is_empty() && o.errors.is_empty()),
                );
                quick += usize::from(read_piece(piece).is_some_and(|t| !t.is_empty()));
            }
        }
        // The common shape is common: most fixture models are read quickly.
        assert!(quick * 4 >= models * 3, "{quick} of {models} models");
    }

    /// Cut anywhere, or with any one byte deleted or doubled, a piece is either left to syn or
    /// read exactly as syn reads it.
    #[test]
    fn every_cut_and_one_byte_edit_agrees_with_syn() {
        let mut read = 0;
        for text in std::iter::once(COMMON).chain(WRONG.iter().copied()) {
            for at in (0..=text.len()).filter(|&at| text.is_char_boundary(at)) {
                assert!(agrees(&text[..at]), "prefix of {} bytes of:\n{text}", at);
                let Some(c) = text[at..].chars().next() else {
                    continue;
                };
                let deleted = format!("{}{}", &text[..at], &text[at + c.len_utf8()..]);
                assert!(agrees(&deleted), "deleted at {at}:\n{deleted}");
                let doubled = format!("{}{c}{}", &text[..at], &text[at..]);
                assert!(agrees(&doubled), "doubled at {at}:\n{doubled}");
                read += usize::from(read_piece(&deleted).is_some_and(|t| !t.is_empty()));
            }
        }
        // Not a vacuous check: many edits (in comments, spacing, values) still read quickly.
        assert!(read > 100, "only {read} edited pieces were read");
    }
}
