//! `DeriveInput` -> [`Table`]: applies the mapping rules and checks every combination of
//! attributes, collecting all errors.

use crate::attrs::{parse_column_attrs, parse_model_attrs, ColumnAttrs, FieldRef, ModelAttrs};
use crate::errors::{closest, Errors};
use crate::literals::text_literal_problem;
use crate::types::{builtin_column_type, describe, option_inner, sql_type_to_column_type};
use proc_macro2::Span;
use qvdiff_core::{
    Check, Column, ColumnType, DefaultValue, FkAction, ForeignKey, Index, Table, Unique,
};
use std::collections::HashMap;
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields};

/// Parses a `#[derive(Model)]` input into its table, or returns every error found, combined.
///
/// This is the one parser behind both the derive and the source scanner, so `T::table()` and
/// `qvdiff manifest` can never disagree. The returned table is normalized (constraint lists
/// sorted; columns in declaration order).
pub fn parse_model(input: &DeriveInput) -> Result<Table, syn::Error> {
    parse_model_parts(input).map(|(table, _)| table)
}

/// A field whose type is not builtin: a Rust enum deriving `qvdiff::Enum`. Its column's type
/// is an [`ColumnType::Enum`] with no values yet, named by the Rust type as written.
#[derive(Debug, Clone)]
pub struct EnumField {
    /// The column's name.
    pub column: String,
    /// The field's type inside any `Option`, with its spans.
    pub ty: syn::Type,
    /// Text literals the field's attributes give (`default`, `backfill`), each with its span:
    /// each must name a stored value of the enum.
    pub literals: Vec<(String, Span)>,
}

/// [`parse_model`], and every field of an enum type: the derive fills their types in from the
/// `qvdiff::Enum` trait, the scanner from the enums it read.
pub fn parse_model_parts(input: &DeriveInput) -> Result<(Table, Vec<EnumField>), syn::Error> {
    let mut errors = Errors::default();
    let mut enum_fields = Vec::new();
    let table = build_table(input, &mut enum_fields, &mut errors);
    errors.finish()?;
    let table = table.ok_or_else(|| {
        syn::Error::new(
            input.ident.span(),
            format!("`{}` could not be read as a model", input.ident),
        )
    })?;
    Ok((table, enum_fields))
}

/// What one struct field turned into.
pub(crate) struct FieldInfo {
    rust_name: String,
    /// Column name (`name = "…"` or the field name).
    column: String,
    /// Where a duplicate-column error points: the `name = "…"` value or the field ident.
    column_span: Span,
    skipped: bool,
    nullable: bool,
    /// `None` when the type is unknown (already reported).
    ty: Option<ColumnType>,
    attrs: ColumnAttrs,
}

fn build_table(
    input: &DeriveInput,
    enum_fields: &mut Vec<EnumField>,
    errors: &mut Errors,
) -> Option<Table> {
    let struct_name = input.ident.unraw().to_string();
    let model = parse_model_attrs(&input.attrs, errors);
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => &named.named,
            Fields::Unnamed(unnamed) => {
                errors.spanned(
                    unnamed,
                    format!(
                        "`#[derive(Model)]` needs named fields, but `{struct_name}` is a tuple struct; \
                         write `struct {struct_name} {{ id: i64, … }}` so every column has a name"
                    ),
                );
                return None;
            }
            Fields::Unit => {
                errors.at(
                    input.ident.span(),
                    format!(
                        "`#[derive(Model)]` needs named fields, but `{struct_name}` is a unit struct; \
                         declare the table's columns as named fields"
                    ),
                );
                return None;
            }
        },
        Data::Enum(data) => {
            not_a_struct(
                errors,
                data.enum_token.span,
                &struct_name,
                "an enum",
                "a model is one table, so use a struct (to store an enum in a column, derive \
                 `qvdiff::Enum` on it)",
            );
            return None;
        }
        Data::Union(data) => {
            let span = data.union_token.span;
            not_a_struct(errors, span, &struct_name, "a union", "use a struct");
            return None;
        }
    };

    let infos: Vec<FieldInfo> = fields
        .iter()
        .filter_map(|field| {
            let ident = field.ident.as_ref()?;
            let info = read_field(ident, &field.ty, &field.attrs, errors);
            if info.is_enum() {
                let inner = option_inner(&field.ty).unwrap_or(&field.ty);
                enum_fields.push(EnumField {
                    column: info.column.clone(),
                    ty: inner.clone(),
                    literals: info.text_literals(),
                });
            }
            Some(info)
        })
        .collect();
    Some(assemble(
        &struct_name,
        input.ident.span(),
        &model,
        &infos,
        errors,
    ))
}

/// The error for `#[derive(Model)]` on something other than a struct: `what` it is, and what to
/// do `instead`.
fn not_a_struct(errors: &mut Errors, span: Span, struct_name: &str, what: &str, instead: &str) {
    errors.at(
        span,
        format!(
            "`#[derive(Model)]` works on structs with named fields, but `{struct_name}` is {what}; \
             {instead}"
        ),
    );
}

/// The mapping rules from a struct's attributes and fields to its table, with the checks that
/// need the whole struct. Shared by both readers of models: syn ([`parse_model`]) and the quick
/// reader of common model files (`crate::quick`).
pub(crate) fn assemble(
    struct_name: &str,
    name_span: Span,
    model: &ModelAttrs,
    infos: &[FieldInfo],
    errors: &mut Errors,
) -> Table {
    let table_name = match &model.table {
        Some(table) => {
            check_name_length(
                &table.value,
                table.value_span,
                &format!("table name `{}`", table.value),
                "choose a shorter `#[model(table = \"…\")]`",
                errors,
            );
            table.value.clone()
        }
        None => {
            let name = snake_case(struct_name);
            check_name_length(
                &name,
                name_span,
                &format!("table name `{name}` (from struct `{struct_name}`)"),
                "give the struct a shorter `#[model(table = \"…\")]`",
                errors,
            );
            name
        }
    };

    // Exactly as many columns as fields: the captured tables live for the whole command, and a
    // vector grown by doubling would keep room for up to as many columns again.
    let columns = Vec::with_capacity(infos.iter().filter(|info| !info.skipped).count());
    let mut table = Table::new(table_name.clone(), columns);
    table.renamed_from = model.renamed_from.as_ref().map(|r| r.value.clone());
    table.comment = model.doc.clone();
    let mut column_owner: HashMap<&str, &str> = HashMap::new();
    for info in infos.iter().filter(|info| !info.skipped) {
        let (what, fix) = match &info.attrs.name {
            Some(_) => (
                format!(
                    "column name `{}` of field `{}`",
                    info.column, info.rust_name
                ),
                "choose a shorter `#[column(name = \"…\")]`",
            ),
            None => (
                format!("column name `{}` (the field's name)", info.column),
                "rename the field or give it a shorter `#[column(name = \"…\")]`",
            ),
        };
        check_name_length(&info.column, info.column_span, &what, fix, errors);
        if let Some(first) = column_owner.insert(&info.column, &info.rust_name) {
            errors.at(
                info.column_span,
                format!(
                    "duplicate column `{}`: fields `{first}` and `{}` both map to it; give one of them \
                     a different `#[column(name = \"…\")]`",
                    info.column, info.rust_name
                ),
            );
            continue;
        }
        if let Some(ty) = &info.ty {
            table.columns.push(column_of(info, ty.clone()));
        }
    }

    let lookup = FieldLookup { struct_name, infos };
    table.primary_key = primary_key(model, &lookup, name_span, errors);
    check_autoincrement(infos, &table.primary_key, struct_name, errors);
    for info in infos.iter().filter(|info| !info.skipped) {
        add_field_constraints(info, &mut table, errors);
    }
    add_struct_constraints(model, &lookup, &mut table, errors);
    table.normalize();
    table
}

/// A field's Rust type as a reader saw it: what the mapping rules and their messages need.
pub(crate) struct FieldType<'a> {
    /// The type is `Option<…>`.
    pub nullable: bool,
    /// The built-in column type of the type inside any `Option`, if it has one.
    pub builtin: Option<ColumnType>,
    /// The type inside any `Option` as written (for messages only).
    pub text: &'a dyn Fn() -> String,
}

impl FieldInfo {
    /// Whether the field is a column of an enum type (not builtin, no `sql_type`).
    pub(crate) fn is_enum(&self) -> bool {
        !self.skipped && matches!(self.ty, Some(ColumnType::Enum { .. }))
    }

    /// The text literals of `default` and `backfill`, with their spans.
    fn text_literals(&self) -> Vec<(String, Span)> {
        [&self.attrs.default, &self.attrs.backfill]
            .into_iter()
            .flatten()
            .filter_map(|value| match &value.value {
                DefaultValue::Text(text) => Some((text.clone(), value.value_span)),
                _ => None,
            })
            .collect()
    }
}

/// Parses one field's attributes and type (syn's reading) and applies [`field_info`].
fn read_field(
    ident: &syn::Ident,
    ty: &syn::Type,
    attrs: &[syn::Attribute],
    errors: &mut Errors,
) -> FieldInfo {
    let rust_name = ident.unraw().to_string();
    let attrs = parse_column_attrs(attrs, &rust_name, errors);
    let (nullable, inner) = match option_inner(ty) {
        Some(inner) => (true, inner),
        None => (false, ty),
    };
    let text = || type_text(inner);
    let ty = FieldType {
        nullable,
        builtin: builtin_column_type(inner),
        text: &text,
    };
    field_info(rust_name, ident.span(), attrs, &ty, errors)
}

/// One field's column, from its name, attributes and type; checks the combinations that need
/// only the field.
pub(crate) fn field_info(
    rust_name: String,
    name_span: Span,
    attrs: ColumnAttrs,
    ty: &FieldType,
    errors: &mut Errors,
) -> FieldInfo {
    let (column, column_span) = match &attrs.name {
        Some(name) => (name.value.clone(), name.value_span),
        None => (rust_name.clone(), name_span),
    };
    if attrs.skip.is_some() {
        for (key, span) in attrs.keys_other_than_skip() {
            errors.at(
                span,
                format!(
                    "`skip` cannot be combined with `{key}`: field `{rust_name}` is skipped, so it is not a \
                     column; remove `{key}` or remove `skip`"
                ),
            );
        }
        return FieldInfo {
            rust_name,
            column,
            column_span,
            skipped: true,
            nullable: false,
            ty: None,
            attrs,
        };
    }

    let column_type = match (&attrs.sql_type, ty.builtin.clone()) {
        (Some(sql), _) => {
            if let Some(max) = &attrs.max_length {
                errors.at(
                    max.key,
                    format!(
                        "`max_length` and `sql_type` both set the type of field `{rust_name}`; keep one \
                         (e.g. `sql_type = \"VARCHAR({})\"` alone)",
                        max.value
                    ),
                );
            }
            for given in [&attrs.precision, &attrs.scale].into_iter().flatten() {
                errors.at(
                    given.key,
                    format!(
                        "`precision`/`scale` and `sql_type` both set the type of field \
                         `{rust_name}`; keep one (e.g. `precision = 10, scale = 2` alone)"
                    ),
                );
            }
            Some(sql_type_to_column_type(&sql.value))
        }
        (None, Some(ColumnType::Text { .. })) => {
            if attrs.precision.is_some() || attrs.scale.is_some() {
                precision_not_here(&attrs, &rust_name, &(ty.text)(), "text", errors);
            }
            Some(ColumnType::Text {
                max_length: attrs.max_length.as_ref().map(|m| m.value),
            })
        }
        (None, Some(builtin @ ColumnType::Decimal { .. })) => {
            if attrs.max_length.is_some() {
                let (rust_type, kind) = ((ty.text)(), describe(&builtin));
                max_length_not_here(&attrs, &rust_name, &rust_type, &kind, errors);
            }
            Some(decimal_type(&attrs, &rust_name, errors))
        }
        (None, Some(builtin)) => {
            // The type's names are for the messages: spelled out only when there is one (a
            // thousand models have twenty thousand fields).
            if attrs.precision.is_some() || attrs.scale.is_some() || attrs.max_length.is_some() {
                let (rust_type, kind) = ((ty.text)(), describe(&builtin));
                precision_not_here(&attrs, &rust_name, &rust_type, &kind, errors);
                max_length_not_here(&attrs, &rust_name, &rust_type, &kind, errors);
            }
            Some(builtin)
        }
        // Not builtin: a Rust enum deriving `qvdiff::Enum`, whose values the derive fills in at
        // run time and the scanner from the enums it read (either refuses any other type).
        (None, None) => {
            if let Some(max) = &attrs.max_length {
                errors.at(
                    max.key,
                    format!(
                        "`max_length` applies to text columns, but field `{rust_name}` has type `{}`; \
                         remove `max_length`",
                        (ty.text)()
                    ),
                );
            }
            Some(ColumnType::Enum {
                name: (ty.text)(),
                values: Vec::new(),
                renames: Vec::new(),
            })
        }
    };

    check_literal_pair(&attrs, &rust_name, column_type.as_ref(), errors);
    FieldInfo {
        rust_name,
        column,
        column_span,
        skipped: false,
        nullable: ty.nullable,
        ty: column_type,
        attrs,
    }
}

/// The largest `precision` a decimal column takes here (the schema keeps it in a byte;
/// PostgreSQL's own limit is 1000).
const MAX_PRECISION: u32 = 255;

/// A `Decimal` field's type: `numeric(precision, scale)` when the attributes give them.
fn decimal_type(attrs: &ColumnAttrs, rust_name: &str, errors: &mut Errors) -> ColumnType {
    let precision = attrs.precision.as_ref().and_then(|p| {
        if p.value > MAX_PRECISION {
            errors.at(
                p.value_span,
                format!(
                    "`precision = {}` on field `{rust_name}` is over the limit of \
                     {MAX_PRECISION} digits; give a smaller precision",
                    p.value
                ),
            );
            return None;
        }
        u8::try_from(p.value).ok()
    });
    let scale = attrs.scale.as_ref().and_then(|s| match &attrs.precision {
        None => {
            errors.at(
                s.key,
                format!(
                    "`scale` on field `{rust_name}` needs `precision` too: numeric(p, s) has \
                     both; add `precision = N` (the total number of digits)"
                ),
            );
            None
        }
        Some(p) if s.value > p.value => {
            errors.at(
                s.value_span,
                format!(
                    "`scale = {}` on field `{rust_name}` is more than its `precision = {}`: the \
                     digits after the point are part of the precision; give a scale of at most {}",
                    s.value, p.value, p.value
                ),
            );
            None
        }
        Some(_) => u8::try_from(s.value).ok(),
    });
    ColumnType::Decimal { precision, scale }
}

/// `precision` and `scale` given to a field that is not a `Decimal`.
fn precision_not_here(
    attrs: &ColumnAttrs,
    rust_name: &str,
    rust_type: &str,
    kind: &str,
    errors: &mut Errors,
) {
    for (key, given) in [("precision", &attrs.precision), ("scale", &attrs.scale)] {
        if let Some(given) = given {
            errors.at(
                given.key,
                format!(
                    "`{key}` applies to decimal columns, but field `{rust_name}` has type \
                     `{rust_type}` ({kind}); remove `{key}` or make the field a \
                     `rust_decimal::Decimal`"
                ),
            );
        }
    }
}

/// `max_length` on a field whose type is not text.
fn max_length_not_here(
    attrs: &ColumnAttrs,
    rust_name: &str,
    rust_type: &str,
    kind: &str,
    errors: &mut Errors,
) {
    if let Some(max) = &attrs.max_length {
        errors.at(
            max.key,
            format!(
                "`max_length` applies to text columns, but field `{rust_name}` has type \
                 `{rust_type}` ({kind}); remove `max_length` or make the field a `String`"
            ),
        );
    }
}

/// `default` vs `default_sql`, `backfill` vs `backfill_sql`, and literal kinds vs the column type.
fn check_literal_pair(
    attrs: &ColumnAttrs,
    field: &str,
    ty: Option<&ColumnType>,
    errors: &mut Errors,
) {
    if let (Some(_), Some(sql)) = (&attrs.default, &attrs.default_sql) {
        errors.at(
            sql.key,
            format!(
                "`default` and `default_sql` both give field `{field}` a default; keep one: `default` for a \
                 literal, `default_sql` for an SQL expression"
            ),
        );
    }
    if let (Some(_), Some(sql)) = (&attrs.backfill, &attrs.backfill_sql) {
        errors.at(
            sql.key,
            format!(
                "`backfill` and `backfill_sql` both give field `{field}` a backfill value; keep one: \
                 `backfill` for a literal, `backfill_sql` for an SQL expression"
            ),
        );
    }
    let Some(ty) = ty else { return };
    for (key, value) in [("default", &attrs.default), ("backfill", &attrs.backfill)] {
        let Some(value) = value else { continue };
        if !literal_fits(&value.value, ty) {
            errors.at(
                value.value_span,
                format!(
                    "`{key}` is {} but field `{field}` is {}; use {}, or `{key}_sql = \"…\"` for an SQL expression",
                    literal_kind(&value.value),
                    describe(ty),
                    literal_example(ty)
                ),
            );
        } else if let DefaultValue::Text(text) = &value.value {
            if let Some(problem) = text_literal_problem(text, ty) {
                errors.at(
                    value.value_span,
                    format!(
                        "`{key}` {text:?} is not a valid {} for field `{field}`; {problem}, or use \
                         `{key}_sql = \"…\"` for an SQL expression",
                        describe(ty)
                    ),
                );
            }
        }
    }
}

/// Whether a typed literal can be stored in a column of this logical type.
fn literal_fits(value: &DefaultValue, ty: &ColumnType) -> bool {
    match (value, ty) {
        (_, ColumnType::Custom { .. })
        | (DefaultValue::Sql(_) | DefaultValue::PerDialect(_), _) => true,
        (
            DefaultValue::Integer(_),
            ColumnType::Integer { .. }
            | ColumnType::Float
            | ColumnType::Float32
            | ColumnType::Decimal { .. },
        ) => true,
        (
            DefaultValue::Float(_),
            ColumnType::Float | ColumnType::Float32 | ColumnType::Decimal { .. },
        ) => true,
        (DefaultValue::Bool(_), ColumnType::Bool) => true,
        (DefaultValue::Text(text), ColumnType::Text { max_length }) => match max_length {
            Some(max) => text.chars().count() <= *max as usize,
            None => true,
        },
        (
            DefaultValue::Text(_),
            ColumnType::DateTime
            | ColumnType::DateTimeTz
            | ColumnType::Date
            | ColumnType::Time
            | ColumnType::Uuid
            | ColumnType::Json,
        ) => true,
        (DefaultValue::Text(_), ColumnType::Decimal { .. }) => true,
        // An enum not yet resolved is checked once its values are known.
        (DefaultValue::Text(text), ColumnType::Enum { values, .. }) => {
            values.is_empty() || values.contains(text)
        }
        _ => false,
    }
}

fn literal_kind(value: &DefaultValue) -> &'static str {
    match value {
        DefaultValue::Integer(_) => "an integer",
        DefaultValue::Float(_) => "a float",
        DefaultValue::Bool(_) => "a boolean",
        DefaultValue::Text(_) => "a string",
        DefaultValue::Sql(_) | DefaultValue::PerDialect(_) => "an SQL expression",
    }
}

fn literal_example(ty: &ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer { .. } => "an integer literal like `0`",
        ColumnType::Float | ColumnType::Float32 | ColumnType::Decimal { .. } => {
            "a number literal like `0.0`"
        }
        ColumnType::Bool => "`true` or `false`",
        ColumnType::Text {
            max_length: Some(_),
        } => "a string literal no longer than `max_length`",
        ColumnType::Blob => "no literal (bytes have none)",
        ColumnType::Enum { .. } => "a string literal naming a stored value of the enum",
        _ => "a string literal",
    }
}

fn column_of(info: &FieldInfo, ty: ColumnType) -> Column {
    let attrs = &info.attrs;
    let default = match (&attrs.default, &attrs.default_sql) {
        (Some(value), _) => Some(value.value.clone()),
        (None, Some(sql)) => Some(sql.value.clone()),
        (None, None) => None,
    };
    let backfill = match (&attrs.backfill, &attrs.backfill_sql) {
        (Some(value), _) => Some(value.value.clone()),
        (None, Some(sql)) => Some(DefaultValue::Sql(sql.value.clone())),
        (None, None) => None,
    };
    Column {
        name: info.column.clone(),
        ty,
        nullable: info.nullable,
        default,
        autoincrement: attrs.autoincrement.is_some(),
        comment: attrs.doc.clone(),
        renamed_from: attrs.renamed_from.as_ref().map(|r| r.value.clone()),
        backfill,
        using: attrs.using.as_ref().map(|u| u.value.clone()),
    }
}

/// Resolves Rust field names in struct-level lists to column names.
struct FieldLookup<'a> {
    struct_name: &'a str,
    infos: &'a [FieldInfo],
}

impl FieldLookup<'_> {
    /// The column of field `field`, or an error naming the list it appeared in.
    fn column(&self, field: &FieldRef, list: &str, errors: &mut Errors) -> Option<String> {
        match self.infos.iter().find(|info| info.rust_name == field.name) {
            Some(info) if info.skipped => {
                errors.at(
                    field.span,
                    format!(
                        "`{list}(…)` names field `{}`, which is `#[column(skip)]` and has no column; remove it \
                         from the list or remove `skip`",
                        field.name
                    ),
                );
                None
            }
            Some(info) => Some(info.column.clone()),
            None => {
                let by_column = self
                    .infos
                    .iter()
                    .find(|info| !info.skipped && info.column == field.name);
                let hint = match by_column {
                    Some(info) => format!(
                        "`{}` is the column name of field `{}`; lists take Rust field names",
                        field.name, info.rust_name
                    ),
                    None => {
                        match closest(&field.name, self.infos.iter().map(|i| i.rust_name.as_str()))
                        {
                            Some(near) => format!("did you mean `{near}`?"),
                            None => format!(
                                "fields are: {}",
                                self.infos
                                    .iter()
                                    .map(|i| format!("`{}`", i.rust_name))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        }
                    }
                };
                errors.at(
                    field.span,
                    format!(
                        "`{list}(…)` names `{}`, which is not a field of `{}`; {hint}",
                        field.name, self.struct_name
                    ),
                );
                None
            }
        }
    }

    /// All columns of a list, or `None` if any name is bad (each reported). Repeats are errors.
    fn columns(&self, fields: &[FieldRef], list: &str, errors: &mut Errors) -> Option<Vec<String>> {
        let mut columns = Vec::with_capacity(fields.len());
        let mut ok = true;
        for field in fields {
            match self.column(field, list, errors) {
                Some(column) if columns.contains(&column) => {
                    errors.at(
                        field.span,
                        format!("`{list}(…)` lists field `{}` twice; remove one", field.name),
                    );
                    ok = false;
                }
                Some(column) => columns.push(column),
                None => ok = false,
            }
        }
        ok.then_some(columns)
    }
}

fn primary_key(
    model: &ModelAttrs,
    lookup: &FieldLookup,
    name_span: Span,
    errors: &mut Errors,
) -> Vec<String> {
    let field_keys: Vec<&FieldInfo> = lookup
        .infos
        .iter()
        .filter(|info| !info.skipped && info.attrs.primary_key.is_some())
        .collect();
    if let Some(listed) = &model.primary_key {
        for info in &field_keys {
            if let Some(span) = info.attrs.primary_key {
                errors.at(
                    span,
                    format!(
                        "the primary key of `{}` is declared twice: by `#[model(primary_key(…))]` and by \
                         `#[column(primary_key)]` on `{}`; keep one",
                        lookup.struct_name, info.rust_name
                    ),
                );
            }
        }
        // A bad name in the list was reported already; do not also report a missing key.
        return lookup
            .columns(&listed.value, "primary_key", errors)
            .unwrap_or_default();
    }
    if field_keys.is_empty() && !errors.unknown_key_seen {
        errors.at(
            name_span,
            format!(
                "model `{}` has no primary key: add #[column(primary_key)] to a field or \
                 #[model(primary_key(a, b))]",
                lookup.struct_name
            ),
        );
    }
    field_keys.iter().map(|info| info.column.clone()).collect()
}

fn check_autoincrement(
    infos: &[FieldInfo],
    primary_key: &[String],
    struct_name: &str,
    errors: &mut Errors,
) {
    for info in infos.iter().filter(|info| !info.skipped) {
        let Some(span) = info.attrs.autoincrement else {
            continue;
        };
        let field = &info.rust_name;
        if !primary_key.contains(&info.column) {
            errors.at(
                span,
                format!(
                    "`autoincrement` needs field `{field}` to be the primary key; write \
                     `#[column(primary_key, autoincrement)]`"
                ),
            );
        } else if primary_key.len() > 1 {
            errors.at(
                span,
                format!(
                    "`autoincrement` needs a single-column primary key, but `{struct_name}` has the composite \
                     key ({}); remove `autoincrement`",
                    primary_key.join(", ")
                ),
            );
        }
        match &info.ty {
            Some(ColumnType::Integer { .. }) | None => {}
            Some(other) => errors.at(
                span,
                format!(
                    "`autoincrement` needs an integer column, but field `{field}` is {}; use an integer type \
                     such as `i64`, or remove `autoincrement`",
                    describe(other)
                ),
            ),
        }
    }
}

fn add_field_constraints(info: &FieldInfo, table: &mut Table, errors: &mut Errors) {
    let attrs = &info.attrs;
    let field = &info.rust_name;
    if attrs.unique.is_some() {
        table.uniques.push(Unique {
            name: None,
            columns: vec![info.column.clone()],
        });
    }
    if let Some(span) = attrs.index {
        let index = Index {
            name: format!("ix_{}_{}", table.name, info.column),
            columns: vec![info.column.clone()],
            unique: false,
            predicate: None,
        };
        push_index(table, index, span, errors);
    }
    match &attrs.references {
        Some(target) => {
            for action in [&attrs.on_delete, &attrs.on_update].into_iter().flatten() {
                if action.value == FkAction::SetNull && !info.nullable {
                    errors.at(
                        action.value_span,
                        format!(
                            "\"set null\" needs a nullable column, but field `{field}` is NOT NULL; make it \
                             `Option<…>` or choose another action"
                        ),
                    );
                }
            }
            let (ref_table, ref_column) = &target.value;
            table.foreign_keys.push(ForeignKey {
                columns: vec![info.column.clone()],
                ref_table: ref_table.clone(),
                ref_columns: vec![ref_column.clone()],
                on_delete: attrs
                    .on_delete
                    .as_ref()
                    .map(|a| a.value)
                    .unwrap_or_default(),
                on_update: attrs
                    .on_update
                    .as_ref()
                    .map(|a| a.value)
                    .unwrap_or_default(),
            });
        }
        None => {
            for (key, action) in [
                ("on_delete", &attrs.on_delete),
                ("on_update", &attrs.on_update),
            ] {
                if let Some(action) = action {
                    errors.at(
                        action.key,
                        format!(
                            "`{key}` only applies to a foreign key, but field `{field}` has no `references`; \
                             add `references = \"table.column\"` or remove `{key}`"
                        ),
                    );
                }
            }
        }
    }
}

fn add_struct_constraints(
    model: &ModelAttrs,
    lookup: &FieldLookup,
    table: &mut Table,
    errors: &mut Errors,
) {
    for unique in &model.uniques {
        if let Some(name) = &unique.name {
            check_name_length(
                &name.value,
                name.value_span,
                &format!("unique constraint name `{}`", name.value),
                "choose a shorter `name = \"…\"`",
                errors,
            );
        }
        if let Some(columns) = lookup.columns(&unique.fields, "unique", errors) {
            table.uniques.push(Unique {
                name: unique.name.as_ref().map(|name| name.value.clone()),
                columns,
            });
        }
    }
    for spec in &model.indexes {
        let Some(columns) = lookup.columns(&spec.fields, "fields", errors) else {
            continue;
        };
        let (name, span) = match &spec.name {
            Some(name) => {
                check_name_length(
                    &name.value,
                    name.value_span,
                    &format!("index name `{}`", name.value),
                    "choose a shorter `name = \"…\"` (or leave it out: a generated name is shortened \
                     with a hash)",
                    errors,
                );
                (name.value.clone(), name.value_span)
            }
            None => (format!("ix_{}_{}", table.name, columns.join("_")), spec.key),
        };
        push_index(
            table,
            Index {
                name,
                columns,
                unique: spec.unique,
                predicate: spec.predicate.as_ref().map(|p| p.value.clone()),
            },
            span,
            errors,
        );
    }
    let mut check_names: Vec<&str> = Vec::new();
    for check in &model.checks {
        let name = &check.name.value;
        if check_names.contains(&name.as_str()) {
            errors.at(
                check.key,
                format!(
                    "two checks of `{}` are named `{name}`; give each a distinct name",
                    lookup.struct_name
                ),
            );
            continue;
        }
        check_name_length(
            name,
            check.name.value_span,
            &format!("check constraint name `{name}`"),
            "choose a shorter `name = \"…\"`",
            errors,
        );
        check_names.push(name);
        table.checks.push(Check {
            name: name.clone(),
            expr: check.expr.clone(),
        });
    }
    for spec in &model.foreign_keys {
        let Some(columns) = lookup.columns(&spec.fields, "fields", errors) else {
            continue;
        };
        let (ref_table, ref_columns) = &spec.references.value;
        if ref_columns.len() != columns.len() {
            errors.at(
                spec.references.value_span,
                format!(
                    "`foreign_key(…)` lists {} field(s) but references {} column(s) of `{ref_table}`; \
                     list one referenced column per field, in the same order",
                    columns.len(),
                    ref_columns.len()
                ),
            );
            continue;
        }
        for action in [&spec.on_delete, &spec.on_update].into_iter().flatten() {
            let not_null: Vec<&str> = spec
                .fields
                .iter()
                .filter(|f| {
                    lookup
                        .infos
                        .iter()
                        .any(|i| i.rust_name == f.name && !i.nullable)
                })
                .map(|f| f.name.as_str())
                .collect();
            if action.value == FkAction::SetNull && !not_null.is_empty() {
                errors.at(
                    action.value_span,
                    format!(
                        "\"set null\" needs nullable columns, but field(s) {} are NOT NULL; make \
                         them `Option<…>` or choose another action",
                        not_null
                            .iter()
                            .map(|f| format!("`{f}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
        table.foreign_keys.push(ForeignKey {
            columns,
            ref_table: ref_table.clone(),
            ref_columns: ref_columns.clone(),
            on_delete: spec.on_delete.as_ref().map(|a| a.value).unwrap_or_default(),
            on_update: spec.on_update.as_ref().map(|a| a.value).unwrap_or_default(),
        });
    }
}

/// The longest name PostgreSQL keeps, in bytes (`NAMEDATALEN - 1`); a longer one is cut there.
pub(crate) const MAX_NAME_BYTES: usize = 63;

/// Refuses a name the user wrote that PostgreSQL would cut; `what` names it (`table name `x``). SQLite has no such limit, but the same
/// models serve both dialects, so a model that only one of them can hold is refused for both.
/// Names qvdiff generates are not checked here: the dialect shortens those with a hash.
pub(crate) fn check_name_length(
    name: &str,
    span: Span,
    what: &str,
    fix: &str,
    errors: &mut Errors,
) {
    if name.len() <= MAX_NAME_BYTES {
        return;
    }
    errors.at(
        span,
        format!(
            "{what} is {} bytes long, over the limit of {MAX_NAME_BYTES} bytes: PostgreSQL would \
             cut it, and the same models must serve SQLite and PostgreSQL, so it is refused for both; {fix}",
            name.len()
        ),
    );
}

fn push_index(table: &mut Table, index: Index, span: Span, errors: &mut Errors) {
    if table
        .indexes
        .iter()
        .any(|existing| existing.name == index.name)
    {
        errors.at(
            span,
            format!(
                "two indexes of table `{}` are named `{}`; give one a different `name = \"…\"` (or drop the \
                 duplicate)",
                table.name, index.name
            ),
        );
        return;
    }
    table.indexes.push(index);
}

/// `SaleItem` -> `sale_item`, `HTTPRequest` -> `http_request`, `Item2` -> `item2`.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let previous = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let starts_word = match previous {
                None | Some('_') => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(|n| n.is_lowercase()),
                Some(_) => false,
            };
            if starts_word {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A type as the user wrote it, without the token spacing (`Vec<Tag>`, not `Vec < Tag >`).
pub(crate) fn type_text(ty: &syn::Type) -> String {
    let spaced = quote::ToTokens::to_token_stream(ty).to_string();
    let mut out = String::with_capacity(spaced.len());
    let mut chars = spaced.chars().peekable();
    let mut previous = ' ';
    while let Some(c) = chars.next() {
        if c == ' ' {
            let next = chars.peek().copied().unwrap_or(' ');
            let glue = matches!(next, '<' | '>' | ':' | ',' | ']' | ')' | ';')
                || matches!(previous, '<' | ':' | '&' | '[' | '(' | '\'');
            if glue {
                continue;
            }
        }
        out.push(c);
        previous = c;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_splits_words() {
        assert_eq!(snake_case("SaleItem"), "sale_item");
        assert_eq!(snake_case("Item"), "item");
        assert_eq!(snake_case("HTTPRequest"), "http_request");
        assert_eq!(snake_case("Item2Tag"), "item2_tag");
        assert_eq!(snake_case("already_snake"), "already_snake");
        assert_eq!(snake_case("UserID"), "user_id");
    }

    #[test]
    fn type_text_drops_token_spacing() {
        let ty: syn::Type = syn::parse_quote!(std::collections::HashMap<String, Vec<u8>>);
        assert_eq!(type_text(&ty), "std::collections::HashMap<String, Vec<u8>>");
        let ty: syn::Type = syn::parse_quote!(&'a [u8]);
        assert_eq!(type_text(&ty), "&'a [u8]");
    }
}
