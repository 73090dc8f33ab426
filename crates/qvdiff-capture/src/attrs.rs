//! The attribute grammar: `#[model(…)]` on the struct and `#[column(…)]` on fields, parsed into
//! plain values with the spans that error messages point at.
//!
//! Parsing never stops at the first problem: an unknown key or a bad value is recorded in
//! [`Errors`] and the rest of the attribute is still read.

use crate::errors::{closest, Errors};
use proc_macro2::Span;
use qvdiff_core::{DefaultValue, FkAction, PerDialectSql};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned as _;
use syn::{Attribute, Expr, ExprLit, Ident, Lit, Meta, Token, UnOp};

/// Struct-level keys, for suggestions.
pub(crate) const MODEL_KEYS: &[&str] = &[
    "table",
    "renamed_from",
    "unique",
    "index",
    "primary_key",
    "check",
    "foreign_key",
];

/// Field-level keys, for suggestions.
pub(crate) const COLUMN_KEYS: &[&str] = &[
    "primary_key",
    "autoincrement",
    "name",
    "sql_type",
    "max_length",
    "precision",
    "scale",
    "default",
    "default_sql",
    "unique",
    "index",
    "references",
    "on_delete",
    "on_update",
    "renamed_from",
    "backfill",
    "backfill_sql",
    "using",
    "skip",
];

const INDEX_KEYS: &[&str] = &["fields", "unique", "name", "where"];
const UNIQUE_KEYS: &[&str] = &["name"];

/// What `where` on anything but `index(…)` is told: a condition belongs to a partial index.
const PARTIAL_UNIQUE_HINT: &str = "`where` makes a partial index and belongs in `index(…)`: \
    `#[model(index(fields(a, b), unique, where = \"status = 'draft'\"))]`";
const CHECK_KEYS: &[&str] = &["name", "expr"];
const FOREIGN_KEY_KEYS: &[&str] = &["fields", "references", "on_delete", "on_update"];

/// A value from an attribute with the span of its key (for conflicts) and of its value (for bad
/// values).
#[derive(Debug, Clone)]
pub(crate) struct Spanned<T> {
    pub value: T,
    pub key: Span,
    pub value_span: Span,
}

/// A Rust field name as written in a struct-level list.
#[derive(Debug, Clone)]
pub(crate) struct FieldRef {
    pub name: String,
    pub span: Span,
}

/// `unique(a, b)` or `unique(a, b, name = "…")`.
#[derive(Debug, Clone)]
pub(crate) struct UniqueSpec {
    pub fields: Vec<FieldRef>,
    pub name: Option<Spanned<String>>,
}

/// `index(fields(a, b), unique, name = "…", where = "…")`.
#[derive(Debug, Clone)]
pub(crate) struct IndexSpec {
    pub fields: Vec<FieldRef>,
    pub unique: bool,
    pub name: Option<Spanned<String>>,
    /// A partial index's condition, trimmed and never empty.
    pub predicate: Option<Spanned<String>>,
    pub key: Span,
}

/// `check(name = "…", expr = "…")`.
#[derive(Debug, Clone)]
pub(crate) struct CheckSpec {
    pub name: Spanned<String>,
    pub expr: String,
    pub key: Span,
}

/// `foreign_key(fields(a, b), references = "t(x, y)", on_delete = "…", on_update = "…")`: a
/// foreign key over several columns.
#[derive(Debug, Clone)]
pub(crate) struct ForeignKeySpec {
    pub fields: Vec<FieldRef>,
    /// The referenced table and its columns, in order.
    pub references: Spanned<(String, Vec<String>)>,
    pub on_delete: Option<Spanned<FkAction>>,
    pub on_update: Option<Spanned<FkAction>>,
}

/// Everything the struct's `#[model(…)]` attributes say.
#[derive(Debug, Default)]
pub(crate) struct ModelAttrs {
    pub table: Option<Spanned<String>>,
    pub renamed_from: Option<Spanned<String>>,
    pub uniques: Vec<UniqueSpec>,
    pub indexes: Vec<IndexSpec>,
    pub primary_key: Option<Spanned<Vec<FieldRef>>>,
    pub checks: Vec<CheckSpec>,
    pub foreign_keys: Vec<ForeignKeySpec>,
    /// The struct's doc comment (`///`), as the table's comment.
    pub doc: Option<String>,
}

/// Everything a field's `#[column(…)]` attributes say.
#[derive(Debug, Default)]
pub(crate) struct ColumnAttrs {
    pub primary_key: Option<Span>,
    pub autoincrement: Option<Span>,
    pub name: Option<Spanned<String>>,
    pub sql_type: Option<Spanned<String>>,
    pub max_length: Option<Spanned<u32>>,
    pub precision: Option<Spanned<u32>>,
    pub scale: Option<Spanned<u32>>,
    pub default: Option<Spanned<DefaultValue>>,
    /// `default_sql = "…"` ([`DefaultValue::Sql`]) or `default_sql(sqlite = "…", postgres =
    /// "…")` ([`DefaultValue::PerDialect`]).
    pub default_sql: Option<Spanned<DefaultValue>>,
    pub unique: Option<Span>,
    pub index: Option<Span>,
    pub references: Option<Spanned<(String, String)>>,
    pub on_delete: Option<Spanned<FkAction>>,
    pub on_update: Option<Spanned<FkAction>>,
    pub renamed_from: Option<Spanned<String>>,
    pub backfill: Option<Spanned<DefaultValue>>,
    pub backfill_sql: Option<Spanned<String>>,
    pub using: Option<Spanned<String>>,
    pub skip: Option<Span>,
    /// The field's doc comment (`///`), as the column's comment.
    pub doc: Option<String>,
}

impl ColumnAttrs {
    /// Every key given besides `skip`, with its key span: what `skip` conflicts with.
    pub(crate) fn keys_other_than_skip(&self) -> Vec<(&'static str, Span)> {
        let flags = [
            ("primary_key", self.primary_key),
            ("autoincrement", self.autoincrement),
            ("unique", self.unique),
            ("index", self.index),
        ];
        let valued = [
            ("name", self.name.as_ref().map(|s| s.key)),
            ("sql_type", self.sql_type.as_ref().map(|s| s.key)),
            ("max_length", self.max_length.as_ref().map(|s| s.key)),
            ("precision", self.precision.as_ref().map(|s| s.key)),
            ("scale", self.scale.as_ref().map(|s| s.key)),
            ("default", self.default.as_ref().map(|s| s.key)),
            ("default_sql", self.default_sql.as_ref().map(|s| s.key)),
            ("references", self.references.as_ref().map(|s| s.key)),
            ("on_delete", self.on_delete.as_ref().map(|s| s.key)),
            ("on_update", self.on_update.as_ref().map(|s| s.key)),
            ("renamed_from", self.renamed_from.as_ref().map(|s| s.key)),
            ("backfill", self.backfill.as_ref().map(|s| s.key)),
            ("backfill_sql", self.backfill_sql.as_ref().map(|s| s.key)),
            ("using", self.using.as_ref().map(|s| s.key)),
        ];
        flags
            .into_iter()
            .chain(valued)
            .filter_map(|(key, span)| span.map(|span| (key, span)))
            .collect()
    }
}

/// The comment a struct's or field's `///` lines (`#[doc = "…"]`) give, as
/// [`qvdiff_core::schema::comment_from_doc_lines`] joins them.
pub(crate) fn doc_comment(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(text),
                    ..
                }) => Some(text.value()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    qvdiff_core::schema::comment_from_doc_lines(lines.iter().map(String::as_str))
}

/// Parses every `#[model(…)]` on the struct. `#[column]` on the struct is an error.
pub(crate) fn parse_model_attrs(attrs: &[Attribute], errors: &mut Errors) -> ModelAttrs {
    let mut out = ModelAttrs {
        doc: doc_comment(attrs),
        ..ModelAttrs::default()
    };
    for attr in attrs {
        if attr.path().is_ident("column") {
            errors.spanned(
                attr,
                "`#[column(…)]` belongs on a field; on the struct use `#[model(…)]`",
            );
            continue;
        }
        if !attr.path().is_ident("model") {
            continue;
        }
        if !is_list(attr, "model", "table = \"items\"", errors) {
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            let Some(key) = ident_key(&meta) else {
                errors.unknown_key_seen = true;
                errors.spanned(&meta.path, unknown_key_message("model", &path_text(&meta.path), MODEL_KEYS));
                return skip_value(&meta);
            };
            let key_span = path_span(&meta.path);
            match key.as_str() {
                "table" => {
                    if let Some(value) = string_value(&meta, &key, "items", errors)? {
                        set_once(&mut out.table, value, &key, "the struct", errors);
                    }
                }
                "renamed_from" => {
                    if let Some(value) = string_value(&meta, &key, "old_table_name", errors)? {
                        set_once(&mut out.renamed_from, value, &key, "the struct", errors);
                    }
                }
                "unique" => {
                    if let Some(spec) = parse_unique(&meta, errors)? {
                        out.uniques.push(spec);
                    }
                }
                "index" => {
                    if let Some(spec) = parse_index(&meta, errors)? {
                        out.indexes.push(spec);
                    }
                }
                "primary_key" => {
                    if !meta.input.peek(syn::token::Paren) {
                        errors.at(
                            key_span,
                            "struct-level `primary_key` lists the key's fields: \
                             `#[model(primary_key(a, b))]`; for one field use `#[column(primary_key)]`",
                        );
                        return skip_value(&meta);
                    }
                    let fields = parse_field_list(&meta, "primary_key", errors)?;
                    let value = Spanned { value: fields, key: key_span, value_span: key_span };
                    set_once(&mut out.primary_key, value, &key, "the struct", errors);
                }
                "check" => {
                    if let Some(spec) = parse_check(&meta, errors)? {
                        out.checks.push(spec);
                    }
                }
                "foreign_key" => {
                    if let Some(spec) = parse_foreign_key(&meta, errors)? {
                        out.foreign_keys.push(spec);
                    }
                }
                other => {
                    errors.unknown_key_seen = true;
                    errors.at(key_span, unknown_key_message("model", other, MODEL_KEYS));
                    skip_value(&meta)?;
                }
            }
            Ok(())
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    out
}

/// Parses every `#[column(…)]` on one field. `#[model]` on a field is an error.
pub(crate) fn parse_column_attrs(
    attrs: &[Attribute],
    field: &str,
    errors: &mut Errors,
) -> ColumnAttrs {
    let mut out = ColumnAttrs {
        doc: doc_comment(attrs),
        ..ColumnAttrs::default()
    };
    let owner = format!("field `{field}`");
    for attr in attrs {
        if attr.path().is_ident("model") {
            errors.spanned(
                attr,
                "`#[model(…)]` belongs on the struct; on a field use `#[column(…)]`",
            );
            continue;
        }
        if !attr.path().is_ident("column") {
            continue;
        }
        if !is_list(attr, "column", "primary_key", errors) {
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            let Some(key) = ident_key(&meta) else {
                errors.unknown_key_seen = true;
                errors.spanned(&meta.path, unknown_key_message("column", &path_text(&meta.path), COLUMN_KEYS));
                return skip_value(&meta);
            };
            let key_span = path_span(&meta.path);
            let flag = |slot: &mut Option<Span>, errors: &mut Errors| -> syn::Result<()> {
                // Set even when a value was wrongly given: the intent is clear, and leaving it
                // unset would add follow-on errors (e.g. "no primary key").
                if takes_no_value(&meta, &key, "column", errors)? && slot.is_some() {
                    errors.at(key_span, format!("`{key}` is given twice for {owner}; remove one"));
                }
                *slot = Some(key_span);
                Ok(())
            };
            match key.as_str() {
                "primary_key" => flag(&mut out.primary_key, errors)?,
                "autoincrement" => flag(&mut out.autoincrement, errors)?,
                "unique" => flag(&mut out.unique, errors)?,
                "index" => flag(&mut out.index, errors)?,
                "skip" => flag(&mut out.skip, errors)?,
                "name" => {
                    if let Some(value) = string_value(&meta, &key, "column_name", errors)? {
                        set_once(&mut out.name, value, &key, &owner, errors);
                    }
                }
                "sql_type" => {
                    if let Some(value) = string_value(&meta, &key, "JSON", errors)? {
                        set_once(&mut out.sql_type, value, &key, &owner, errors);
                    }
                }
                "default_sql" => {
                    let value = if meta.input.peek(syn::token::Paren) {
                        parse_default_sql_per_dialect(&meta, errors)?
                    } else {
                        string_value(&meta, &key, "CURRENT_TIMESTAMP", errors)?.map(|text| Spanned {
                            value: DefaultValue::Sql(text.value),
                            key: text.key,
                            value_span: text.value_span,
                        })
                    };
                    if let Some(value) = value {
                        set_once(&mut out.default_sql, value, &key, &owner, errors);
                    }
                }
                "backfill_sql" => {
                    if let Some(value) = string_value(&meta, &key, "CURRENT_TIMESTAMP", errors)? {
                        set_once(&mut out.backfill_sql, value, &key, &owner, errors);
                    }
                }
                "renamed_from" => {
                    if let Some(value) = string_value(&meta, &key, "old_column_name", errors)? {
                        set_once(&mut out.renamed_from, value, &key, &owner, errors);
                    }
                }
                "using" => {
                    if let Some(value) =
                        string_value(&meta, &key, "CAST(color AS INTEGER)", errors)?
                    {
                        set_once(&mut out.using, value, &key, &owner, errors);
                    }
                }
                "max_length" => {
                    if let Some(value) = int_value(&meta, "max_length", "200", 1, errors)? {
                        set_once(&mut out.max_length, value, &key, &owner, errors);
                    }
                }
                "precision" => {
                    if let Some(value) = int_value(&meta, "precision", "10", 1, errors)? {
                        set_once(&mut out.precision, value, &key, &owner, errors);
                    }
                }
                "scale" => {
                    if let Some(value) = int_value(&meta, "scale", "2", 0, errors)? {
                        set_once(&mut out.scale, value, &key, &owner, errors);
                    }
                }
                "default" | "backfill" => {
                    if let Some(value) = literal_value(&meta, &key, errors)? {
                        let slot = if key == "default" { &mut out.default } else { &mut out.backfill };
                        set_once(slot, value, &key, &owner, errors);
                    }
                }
                "references" => {
                    if let Some(text) = string_value(&meta, &key, "users.id", errors)? {
                        match parse_reference(&text.value) {
                            Some(target) => {
                                let value = Spanned { value: target, key: text.key, value_span: text.value_span };
                                set_once(&mut out.references, value, &key, &owner, errors);
                            }
                            None => errors.at(
                                text.value_span,
                                format!(
                                    "`references = \"{}\"` is not `table.column`; write the referenced \
                                     table and column separated by one dot, e.g. `references = \"users.id\"`",
                                    text.value
                                ),
                            ),
                        }
                    }
                }
                "on_delete" | "on_update" => {
                    if let Some(text) = string_value(&meta, &key, "cascade", errors)? {
                        match FkAction::parse(&text.value) {
                            Some(action) => {
                                let value = Spanned { value: action, key: text.key, value_span: text.value_span };
                                let slot = if key == "on_delete" { &mut out.on_delete } else { &mut out.on_update };
                                set_once(slot, value, &key, &owner, errors);
                            }
                            None => errors.at(
                                text.value_span,
                                format!(
                                    "`{key} = \"{}\"` is not a foreign-key action; use one of \"cascade\", \
                                     \"set null\", \"set default\", \"restrict\", \"no action\"",
                                    text.value
                                ),
                            ),
                        }
                    }
                }
                other => {
                    errors.unknown_key_seen = true;
                    errors.at(key_span, unknown_key_message("column", other, COLUMN_KEYS));
                    skip_value(&meta)?;
                }
            }
            Ok(())
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    out
}

/// `#[model]` / `#[column]` must be a list: `#[column(…)]`.
fn is_list(attr: &Attribute, name: &str, example: &str, errors: &mut Errors) -> bool {
    match &attr.meta {
        Meta::List(_) => true,
        _ => {
            errors.spanned(
                attr,
                format!("expected `#[{name}(…)]`, e.g. `#[{name}({example})]`"),
            );
            false
        }
    }
}

fn ident_key(meta: &ParseNestedMeta) -> Option<String> {
    meta.path
        .get_ident()
        .map(|ident| syn::ext::IdentExt::unraw(ident).to_string())
}

fn path_text(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// "unknown column attribute `primray_key`; did you mean `primary_key`?" — with a hint for keys
/// people bring from other ORMs.
pub(crate) fn unknown_key_message(attribute: &str, key: &str, known: &[&str]) -> String {
    let hint = match (attribute, key) {
        (_, "where") => Some(PARTIAL_UNIQUE_HINT.to_string()),
        ("column", "nullable" | "null" | "optional") => {
            Some("nullability comes from the type: make the field `Option<T>`".to_string())
        }
        ("column", "pk" | "primary" | "id") => Some("did you mean `primary_key`?".to_string()),
        ("column", "type" | "sql" | "db_type" | "column_type") => {
            Some("did you mean `sql_type`?".to_string())
        }
        ("column", "foreign_key" | "fk" | "belongs_to") => {
            Some("did you mean `references = \"table.column\"`?".to_string())
        }
        ("column" | "model", "rename" | "old_name" | "previous_name") => {
            Some("did you mean `renamed_from`?".to_string())
        }
        ("column", "ignore" | "transient") => Some("did you mean `skip`?".to_string()),
        ("model", "name" | "table_name") => Some("did you mean `table = \"…\"`?".to_string()),
        _ => closest(key, known.iter().copied()).map(|k| format!("did you mean `{k}`?")),
    };
    let hint = hint.unwrap_or_else(|| format!("expected one of: {}", known.join(", ")));
    format!("unknown {attribute} attribute `{key}`; {hint}")
}

/// Consumes whatever follows an unknown key (`= value` or `(…)`) so parsing can go on.
fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<proc_macro2::TokenStream>()?;
    }
    Ok(())
}

/// A flag key: `true` when it has no value; otherwise records an error and skips the value.
fn takes_no_value(
    meta: &ParseNestedMeta,
    key: &str,
    attribute: &str,
    errors: &mut Errors,
) -> syn::Result<bool> {
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        errors.at(
            path_span(&meta.path),
            format!("`{key}` is a flag and takes no value; write `#[{attribute}({key})]`"),
        );
        skip_value(meta)?;
        return Ok(false);
    }
    Ok(true)
}

/// The `= <expr>` after a key, or an error (and `None`) when the key has no value.
fn value_expr(
    meta: &ParseNestedMeta,
    key: &str,
    example: &str,
    errors: &mut Errors,
) -> syn::Result<Option<Expr>> {
    if !meta.input.peek(Token![=]) {
        errors.at(
            path_span(&meta.path),
            format!("`{key}` needs a value: `{key} = {example}`"),
        );
        skip_value(meta)?;
        return Ok(None);
    }
    let input = meta.value()?;
    // Fast path for the common case, a plain literal: a full `Expr` parse costs several times more,
    // and scanning speed matters for large model files.
    if input.peek(Lit) && (input.peek2(Token![,]) || peek_end_after_one(input)) {
        let lit: Lit = input.parse()?;
        return Ok(Some(Expr::Lit(ExprLit {
            attrs: Vec::new(),
            lit,
        })));
    }
    Ok(Some(input.parse::<Expr>()?))
}

/// Whether exactly one token tree is left in `input`.
fn peek_end_after_one(input: syn::parse::ParseStream) -> bool {
    let mut cursor = input.cursor();
    match cursor.token_tree() {
        Some((_, rest)) => {
            cursor = rest;
            cursor.eof()
        }
        None => false,
    }
}

/// The span of an attribute key; for a plain identifier that is the identifier's own span, which
/// is much cheaper than joining the spans of a path.
fn path_span(path: &syn::Path) -> Span {
    match path.get_ident() {
        Some(ident) => ident.span(),
        None => path.span(),
    }
}

fn strip_expr_groups(expr: &Expr) -> &Expr {
    match expr {
        Expr::Group(group) => strip_expr_groups(&group.expr),
        Expr::Paren(paren) => strip_expr_groups(&paren.expr),
        other => other,
    }
}

fn string_value(
    meta: &ParseNestedMeta,
    key: &str,
    example: &str,
    errors: &mut Errors,
) -> syn::Result<Option<Spanned<String>>> {
    let example = format!("\"{example}\"");
    let Some(expr) = value_expr(meta, key, &example, errors)? else {
        return Ok(None);
    };
    match strip_expr_groups(&expr) {
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => {
            let value = text.value();
            if value.trim().is_empty() {
                errors.at(
                    text.span(),
                    format!("`{key}` must not be empty, e.g. `{key} = {example}`"),
                );
                return Ok(None);
            }
            // A name is written into SQL and into `--` comments of migration files; a newline in
            // it would end the comment and let the rest of the name run as SQL, or start a line
            // that looks like a `-- qvdiff:down` marker. No real table or column needs one.
            // A partial index's condition is shown on one summary line of a migration file too.
            let names_something = matches!(
                key,
                "table" | "name" | "renamed_from" | "references" | "where"
            );
            if names_something && value.chars().any(char::is_control) {
                errors.at(
                    text.span(),
                    format!(
                        "`{key}` must not contain control characters (newline, tab, …): \
                         {value:?}; use a name on one line, e.g. `{key} = {example}`"
                    ),
                );
                return Ok(None);
            }
            Ok(Some(Spanned {
                value,
                key: path_span(&meta.path),
                value_span: text.span(),
            }))
        }
        _ => {
            errors.spanned(
                &expr,
                format!("`{key}` expects a string literal, e.g. `{key} = {example}`"),
            );
            Ok(None)
        }
    }
}

/// An integer literal of at least `min` for `key` (`max_length`, `precision`: 1; `scale`: 0).
fn int_value(
    meta: &ParseNestedMeta,
    key: &str,
    example: &str,
    min: u32,
    errors: &mut Errors,
) -> syn::Result<Option<Spanned<u32>>> {
    let kind = if min == 0 {
        "a non-negative"
    } else {
        "a positive"
    };
    let help = format!("`{key}` expects {kind} integer literal, e.g. `{key} = {example}`");
    let Some(expr) = value_expr(meta, key, example, errors)? else {
        return Ok(None);
    };
    match strip_expr_groups(&expr) {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => match int.base10_parse::<u32>() {
            Ok(n) if n >= min => Ok(Some(Spanned {
                value: n,
                key: path_span(&meta.path),
                value_span: int.span(),
            })),
            _ => {
                errors.at(int.span(), format!("{help} (at most {})", u32::MAX));
                Ok(None)
            }
        },
        _ => {
            errors.spanned(&expr, help);
            Ok(None)
        }
    }
}

/// A typed literal for `default` / `backfill`: integer, float, bool or string, optionally negated.
fn literal_value(
    meta: &ParseNestedMeta,
    key: &str,
    errors: &mut Errors,
) -> syn::Result<Option<Spanned<DefaultValue>>> {
    let Some(expr) = value_expr(meta, key, "0", errors)? else {
        return Ok(None);
    };
    let parsed = match strip_expr_groups(&expr) {
        Expr::Lit(ExprLit { lit, .. }) => literal(lit, false),
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => {
            match strip_expr_groups(&unary.expr) {
                Expr::Lit(ExprLit {
                    lit: lit @ (Lit::Int(_) | Lit::Float(_)),
                    ..
                }) => literal(lit, true),
                _ => Err(None),
            }
        }
        _ => Err(None),
    };
    match parsed {
        Ok(value) => Ok(Some(Spanned {
            value,
            key: path_span(&meta.path),
            value_span: expr.span(),
        })),
        Err(problem) => {
            let sql_key = format!("{key}_sql");
            let message = problem.unwrap_or_else(|| {
                format!(
                    "`{key}` expects a literal: an integer, a float, `true`/`false` or a string, e.g. \
                     `{key} = 0`; for an SQL expression use `{sql_key} = \"…\"`"
                )
            });
            errors.spanned(&expr, message);
            Ok(None)
        }
    }
}

/// `Err(None)`: not a supported literal kind; `Err(Some(msg))`: supported kind, bad value.
pub(crate) fn literal(lit: &Lit, negative: bool) -> Result<DefaultValue, Option<String>> {
    let sign = if negative { "-" } else { "" };
    match lit {
        Lit::Int(int) => format!("{sign}{}", int.base10_digits())
            .parse::<i64>()
            .map(DefaultValue::Integer)
            .map_err(|_| {
                Some(format!(
                    "integer literal {sign}{} does not fit in 64 bits",
                    int.base10_digits()
                ))
            }),
        Lit::Float(float) => match format!("{sign}{}", float.base10_digits()).parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(DefaultValue::Float(value)),
            _ => Err(Some(format!(
                "float literal {sign}{} is not a finite 64-bit float",
                float.base10_digits()
            ))),
        },
        Lit::Bool(boolean) => Ok(DefaultValue::Bool(boolean.value)),
        Lit::Str(text) => Ok(DefaultValue::Text(text.value())),
        _ => Err(None),
    }
}

pub(crate) fn parse_reference(text: &str) -> Option<(String, String)> {
    let (table, column) = text.split_once('.')?;
    let valid =
        |part: &str| !part.is_empty() && !part.contains(char::is_whitespace) && !part.contains('.');
    (valid(table) && valid(column)).then(|| (table.to_string(), column.to_string()))
}

fn set_once<T>(
    slot: &mut Option<Spanned<T>>,
    value: Spanned<T>,
    key: &str,
    owner: &str,
    errors: &mut Errors,
) {
    if slot.is_some() {
        errors.at(
            value.key,
            format!("`{key}` is given twice for {owner}; remove one"),
        );
    }
    *slot = Some(value);
}

/// `(a, b, …)` of Rust field names.
fn parse_field_list(
    meta: &ParseNestedMeta,
    list: &str,
    errors: &mut Errors,
) -> syn::Result<Vec<FieldRef>> {
    let mut fields = Vec::new();
    meta.parse_nested_meta(|item| {
        match item.path.get_ident() {
            Some(ident) if !item.input.peek(Token![=]) && !item.input.peek(syn::token::Paren) => {
                fields.push(field_ref(ident));
            }
            _ => {
                errors.spanned(
                    &item.path,
                    format!("`{list}(…)` lists field names, e.g. `{list}(user_id, sku)`"),
                );
                skip_value(&item)?;
            }
        }
        Ok(())
    })?;
    if fields.is_empty() {
        errors.at(
            path_span(&meta.path),
            format!("`{list}(…)` needs at least one field, e.g. `{list}(user_id, sku)`"),
        );
    }
    Ok(fields)
}

fn field_ref(ident: &Ident) -> FieldRef {
    FieldRef {
        name: syn::ext::IdentExt::unraw(ident).to_string(),
        span: ident.span(),
    }
}

fn parse_unique(meta: &ParseNestedMeta, errors: &mut Errors) -> syn::Result<Option<UniqueSpec>> {
    let key = path_span(&meta.path);
    if !meta.input.peek(syn::token::Paren) {
        errors.at(
            key,
            "struct-level `unique` lists fields: `#[model(unique(a, b))]`; for one field use `#[column(unique)]`",
        );
        skip_value(meta)?;
        return Ok(None);
    }
    let mut fields = Vec::new();
    let mut name = None;
    meta.parse_nested_meta(|item| {
        let ident = item.path.get_ident().cloned();
        match ident {
            Some(ident) if ident == "name" && item.input.peek(Token![=]) => {
                if let Some(value) = string_value(&item, "name", "uq_items_user_sku", errors)? {
                    name = Some(value);
                }
            }
            Some(ident) if !item.input.peek(Token![=]) && !item.input.peek(syn::token::Paren) => {
                fields.push(field_ref(&ident));
            }
            Some(ident) if ident == "where" => {
                errors.spanned(&item.path, PARTIAL_UNIQUE_HINT);
                skip_value(&item)?;
            }
            _ => {
                errors.spanned(
                    &item.path,
                    format!(
                        "`unique(…)` lists field names and optionally `name = \"…\"` ({}), e.g. `unique(user_id, sku)`",
                        UNIQUE_KEYS.join(", ")
                    ),
                );
                skip_value(&item)?;
            }
        }
        Ok(())
    })?;
    if fields.is_empty() {
        errors.at(
            key,
            "`unique(…)` needs at least one field, e.g. `unique(user_id, sku)`",
        );
        return Ok(None);
    }
    Ok(Some(UniqueSpec { fields, name }))
}

fn parse_index(meta: &ParseNestedMeta, errors: &mut Errors) -> syn::Result<Option<IndexSpec>> {
    let key = path_span(&meta.path);
    if !meta.input.peek(syn::token::Paren) {
        errors.at(
            key,
            "struct-level `index` needs its fields: `#[model(index(fields(a, b)))]`; for one field use `#[column(index)]`",
        );
        skip_value(meta)?;
        return Ok(None);
    }
    let mut fields: Option<Vec<FieldRef>> = None;
    let mut unique = false;
    let mut name = None;
    let mut predicate: Option<Spanned<String>> = None;
    let mut unknown_option = false;
    meta.parse_nested_meta(|item| {
        let item_key = ident_key(&item).unwrap_or_else(|| path_text(&item.path));
        match item_key.as_str() {
            "fields" if item.input.peek(syn::token::Paren) => {
                if fields.is_some() {
                    errors.at(path_span(&item.path), "`fields(…)` is given twice in one `index(…)`; remove one");
                }
                fields = Some(parse_field_list(&item, "fields", errors)?);
            }
            "fields" => {
                errors.at(path_span(&item.path), "`fields` lists the indexed fields: `index(fields(a, b))`");
                skip_value(&item)?;
            }
            "unique" => {
                if takes_no_value(&item, "unique", "model(index(…, unique))", errors)? {
                    unique = true;
                }
            }
            "name" => {
                if let Some(value) = string_value(&item, "name", "ix_items_user_category", errors)? {
                    name = Some(value);
                }
            }
            "where" => {
                // `string_value` refuses an empty condition.
                if let Some(value) = string_value(&item, "where", "status = 'draft'", errors)? {
                    if predicate.is_some() {
                        errors.at(value.key, "`where` is given twice in one `index(…)`; remove one");
                    } else {
                        predicate = Some(Spanned {
                            value: value.value.trim().to_string(),
                            ..value
                        });
                    }
                }
            }
            other => {
                let hint = if item.input.peek(Token![=]) || item.input.peek(syn::token::Paren) {
                    unknown_key_message("index", other, INDEX_KEYS)
                } else {
                    format!(
                        "unknown index option `{other}`; list the indexed fields as `index(fields({other}, …))`"
                    )
                };
                errors.at(path_span(&item.path), hint);
                unknown_option = true;
                skip_value(&item)?;
            }
        }
        Ok(())
    })?;
    match fields {
        Some(fields) if !fields.is_empty() => Ok(Some(IndexSpec {
            fields,
            unique,
            name,
            predicate,
            key,
        })),
        Some(_) => Ok(None),
        // `index(user_id)` already got an error that says how to write `fields(…)`.
        None if unknown_option => Ok(None),
        None => {
            errors.at(
                key,
                "`index(…)` needs `fields(…)`, e.g. `index(fields(user_id, category))`",
            );
            Ok(None)
        }
    }
}

fn parse_foreign_key(
    meta: &ParseNestedMeta,
    errors: &mut Errors,
) -> syn::Result<Option<ForeignKeySpec>> {
    const EXAMPLE: &str = "`#[model(foreign_key(fields(a, b), references = \"table(x, y)\"))]`";
    let key = path_span(&meta.path);
    if !meta.input.peek(syn::token::Paren) {
        errors.at(
            key,
            format!(
                "struct-level `foreign_key` lists its fields and what they reference: {EXAMPLE}; \
                 for one field use `#[column(references = \"table.column\")]`"
            ),
        );
        skip_value(meta)?;
        return Ok(None);
    }
    let mut fields: Option<Vec<FieldRef>> = None;
    let mut references = None;
    let mut on_delete = None;
    let mut on_update = None;
    let mut complete = true;
    meta.parse_nested_meta(|item| {
        let item_key = ident_key(&item).unwrap_or_else(|| path_text(&item.path));
        match item_key.as_str() {
            "fields" if item.input.peek(syn::token::Paren) => {
                if fields.is_some() {
                    errors.at(
                        path_span(&item.path),
                        "`fields(…)` is given twice in one `foreign_key(…)`; remove one",
                    );
                }
                fields = Some(parse_field_list(&item, "fields", errors)?);
            }
            "references" => {
                if let Some(text) = string_value(&item, "references", "users(id, tenant_id)", errors)? {
                    match parse_table_columns(&text.value) {
                        Some(target) => {
                            references = Some(Spanned {
                                value: target,
                                key: text.key,
                                value_span: text.value_span,
                            });
                        }
                        None => {
                            complete = false;
                            errors.at(
                                text.value_span,
                                format!(
                                    "`references = \"{}\"` is not `table(column, …)`; write the referenced \
                                     table and its columns in parentheses, e.g. `references = \"orders(id, region)\"`",
                                    text.value
                                ),
                            );
                        }
                    }
                } else {
                    complete = false;
                }
            }
            "on_delete" | "on_update" => {
                if let Some(text) = string_value(&item, &item_key, "cascade", errors)? {
                    match FkAction::parse(&text.value) {
                        Some(action) => {
                            let value = Spanned { value: action, key: text.key, value_span: text.value_span };
                            if item_key == "on_delete" {
                                on_delete = Some(value);
                            } else {
                                on_update = Some(value);
                            }
                        }
                        None => errors.at(
                            text.value_span,
                            format!(
                                "`{item_key} = \"{}\"` is not an action; use one of \"cascade\", \
                                 \"set null\", \"set default\", \"restrict\", \"no action\"",
                                text.value
                            ),
                        ),
                    }
                }
            }
            other => {
                complete = false;
                errors.at(
                    path_span(&item.path),
                    unknown_key_message("foreign_key", other, FOREIGN_KEY_KEYS),
                );
                skip_value(&item)?;
            }
        }
        Ok(())
    })?;
    match (fields, references) {
        (Some(fields), Some(references)) if !fields.is_empty() => Ok(Some(ForeignKeySpec {
            fields,
            references,
            on_delete,
            on_update,
        })),
        (fields, references) => {
            if complete && fields.is_none() {
                errors.at(
                    key,
                    format!("`foreign_key(…)` needs `fields(…)`, e.g. {EXAMPLE}"),
                );
            }
            if complete && references.is_none() {
                errors.at(
                    key,
                    format!("`foreign_key(…)` needs `references = \"table(column, …)\"`, e.g. {EXAMPLE}"),
                );
            }
            Ok(None)
        }
    }
}

/// `table(a, b)`: a table name and at least one column, names without spaces or quotes.
fn parse_table_columns(text: &str) -> Option<(String, Vec<String>)> {
    let (table, rest) = text.trim().split_once('(')?;
    let inner = rest.strip_suffix(')')?;
    let is_name = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
    let table = table.trim();
    let columns: Vec<String> = inner.split(',').map(|c| c.trim().to_string()).collect();
    (is_name(table) && columns.iter().all(|c| is_name(c))).then(|| (table.to_string(), columns))
}

/// The dialects `default_sql(…)` names, as `dialect` in `qvdiff.toml`.
const DIALECT_KEYS: &[&str] = &["sqlite", "postgres"];

/// `default_sql(sqlite = "…", postgres = "…")`: one expression per dialect, both required.
fn parse_default_sql_per_dialect(
    meta: &ParseNestedMeta,
    errors: &mut Errors,
) -> syn::Result<Option<Spanned<DefaultValue>>> {
    const EXAMPLE: &str = "`default_sql(sqlite = \"datetime('now')\", postgres = \"now()\")`";
    let key = path_span(&meta.path);
    let mut sqlite: Option<Spanned<String>> = None;
    let mut postgres: Option<Spanned<String>> = None;
    let mut broken = false;
    meta.parse_nested_meta(|item| {
        let item_key = ident_key(&item).unwrap_or_else(|| path_text(&item.path));
        let (slot, example) = match item_key.as_str() {
            "sqlite" => (&mut sqlite, "datetime('now')"),
            "postgres" => (&mut postgres, "now()"),
            other => {
                broken = true;
                let hint = closest(other, DIALECT_KEYS.iter().copied())
                    .map(|k| format!("did you mean `{k}`?"))
                    .unwrap_or_else(|| format!("expected one of: {}", DIALECT_KEYS.join(", ")));
                errors.at(
                    path_span(&item.path),
                    format!("unknown dialect `{other}` in `default_sql(…)`; {hint}"),
                );
                return skip_value(&item);
            }
        };
        match string_value(&item, &item_key, example, errors)? {
            Some(value) => {
                if slot.is_some() {
                    broken = true;
                    errors.at(
                        value.key,
                        format!("`{item_key}` is given twice in `default_sql(…)`; remove one"),
                    );
                }
                *slot = Some(value);
            }
            None => broken = true,
        }
        Ok(())
    })?;
    match (sqlite, postgres) {
        (Some(sqlite), Some(postgres)) if !broken => Ok(Some(Spanned {
            value: DefaultValue::PerDialect(Box::new(PerDialectSql {
                sqlite: sqlite.value,
                postgres: postgres.value,
            })),
            key,
            value_span: sqlite.value_span,
        })),
        (sqlite, postgres) => {
            let missing: Vec<&str> = [
                ("sqlite", sqlite.is_none()),
                ("postgres", postgres.is_none()),
            ]
            .into_iter()
            .filter_map(|(name, missing)| missing.then_some(name))
            .collect();
            // A mistake inside the list is reported where it is; a missing dialect only then.
            if !broken {
                let missing: Vec<String> =
                    missing.iter().map(|m| format!("`{m} = \"…\"`")).collect();
                errors.at(
                    key,
                    format!(
                        "`default_sql(…)` needs an expression for each dialect: add {}, e.g. \
                         {EXAMPLE} (one expression for both is `default_sql = \"…\"`)",
                        missing.join(" and ")
                    ),
                );
            }
            Ok(None)
        }
    }
}

fn parse_check(meta: &ParseNestedMeta, errors: &mut Errors) -> syn::Result<Option<CheckSpec>> {
    let key = path_span(&meta.path);
    const EXAMPLE: &str = "`check(name = \"ck_items_price\", expr = \"price >= 0\")`";
    if !meta.input.peek(syn::token::Paren) {
        errors.at(
            key,
            format!("`check` needs a name and an SQL expression: {EXAMPLE}"),
        );
        skip_value(meta)?;
        return Ok(None);
    }
    let mut name = None;
    let mut expr = None;
    meta.parse_nested_meta(|item| {
        let item_key = ident_key(&item).unwrap_or_else(|| path_text(&item.path));
        match item_key.as_str() {
            "name" => {
                if let Some(value) = string_value(&item, "name", "ck_items_price", errors)? {
                    name = Some(value);
                }
            }
            "expr" => {
                if let Some(value) = string_value(&item, "expr", "price >= 0", errors)? {
                    expr = Some(value.value);
                }
            }
            other => {
                errors.at(
                    path_span(&item.path),
                    unknown_key_message("check", other, CHECK_KEYS),
                );
                skip_value(&item)?;
            }
        }
        Ok(())
    })?;
    match (name, expr) {
        (Some(name), Some(expr)) => Ok(Some(CheckSpec { name, expr, key })),
        (None, _) => {
            errors.at(key, format!("`check(…)` needs `name = \"…\"`: {EXAMPLE}"));
            Ok(None)
        }
        (_, None) => {
            errors.at(key, format!("`check(…)` needs `expr = \"…\"`: {EXAMPLE}"));
            Ok(None)
        }
    }
}
