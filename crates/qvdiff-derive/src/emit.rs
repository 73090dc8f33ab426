//! Schema values -> tokens that rebuild them, using `::qvdiff::` paths.
//!
//! Every struct is written as a full struct literal (no `..Default`), so a field added to the
//! schema types is a compile error here rather than a silently dropped value.

use proc_macro2::{Literal, TokenStream};
use quote::{quote, quote_spanned};
use qvdiff_capture::{EnumDef, EnumField};
use qvdiff_core::{
    Check, Column, ColumnType, DefaultValue, FkAction, ForeignKey, Index, Table, Unique,
};
use syn::DeriveInput;

/// `impl ::qvdiff::Model for T { fn table() -> ::qvdiff::Table { … } }`.
///
/// A column of an enum type takes its type from `<E as ::qvdiff::Enum>::column_type()`; each
/// text literal given to it (`default`, `backfill`) is checked by a constant, so one that names
/// no stored value is a compile error at the literal.
pub(crate) fn model_impl(
    input: &DeriveInput,
    table: &Table,
    enum_fields: &[EnumField],
) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    let body = table_tokens(table, enum_fields);
    let checks = enum_fields.iter().flat_map(|field| {
        let ty = &field.ty;
        field.literals.iter().map(move |(value, span)| {
            let message = format!(
                "\"{value}\" is not a stored value of `{}` (field `{}`); a default or backfill \
                 names one of the enum's stored values",
                quote!(#ty).to_string().replace(' ', ""),
                field.column
            );
            quote_spanned! {*span=>
                const _: () = ::qvdiff::__private::assert_stored_value::<#ty>(#value, #message);
            }
        })
    });
    quote! {
        #[automatically_derived]
        impl #impl_generics ::qvdiff::Model for #ident #type_generics #where_clause {
            fn table() -> ::qvdiff::Table {
                #body
            }
        }
        #(#checks)*
    }
}

/// `impl ::qvdiff::Enum for E { … }`.
pub(crate) fn enum_impl(input: &DeriveInput, def: &EnumDef) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    let type_name = &def.type_name;
    let values = &def.values;
    let variants: Vec<syn::Ident> = match &input.data {
        syn::Data::Enum(data) => data.variants.iter().map(|v| v.ident.clone()).collect(),
        _ => Vec::new(),
    };
    let rename_from = def.renames.iter().map(|r| &r.from);
    let rename_to = def.renames.iter().map(|r| &r.to);
    quote! {
        #[automatically_derived]
        impl #impl_generics ::qvdiff::Enum for #ident #type_generics #where_clause {
            const TYPE_NAME: &'static str = #type_name;
            const VALUES: &'static [&'static str] = &[#(#values),*];
            const RENAMES: &'static [(&'static str, &'static str)] =
                &[#((#rename_from, #rename_to)),*];
            fn as_str(&self) -> &'static str {
                match self {
                    #(Self::#variants => #values,)*
                }
            }
            fn from_stored(value: &str) -> ::std::option::Option<Self> {
                match value {
                    #(#values => ::std::option::Option::Some(Self::#variants),)*
                    _ => ::std::option::Option::None,
                }
            }
        }
    }
}

fn table_tokens(table: &Table, enum_fields: &[EnumField]) -> TokenStream {
    let name = string(&table.name);
    let columns = table.columns.iter().map(|column| {
        let enum_type = enum_fields
            .iter()
            .find(|field| field.column == column.name)
            .map(|field| &field.ty);
        column_tokens(column, enum_type)
    });
    let primary_key = table.primary_key.iter().map(|c| string(c));
    let uniques = table.uniques.iter().map(unique_tokens);
    let indexes = table.indexes.iter().map(index_tokens);
    let foreign_keys = table.foreign_keys.iter().map(foreign_key_tokens);
    let checks = table.checks.iter().map(check_tokens);
    let renamed_from = optional_string(table.renamed_from.as_deref());
    let comment = optional_string(table.comment.as_deref());
    quote! {
        ::qvdiff::Table {
            name: #name,
            columns: ::std::vec![#(#columns),*],
            primary_key: ::std::vec![#(#primary_key),*],
            uniques: ::std::vec![#(#uniques),*],
            indexes: ::std::vec![#(#indexes),*],
            foreign_keys: ::std::vec![#(#foreign_keys),*],
            checks: ::std::vec![#(#checks),*],
            comment: #comment,
            renamed_from: #renamed_from,
        }
    }
}

fn column_tokens(column: &Column, enum_type: Option<&syn::Type>) -> TokenStream {
    let name = string(&column.name);
    let ty = match enum_type {
        Some(rust) => quote!(<#rust as ::qvdiff::Enum>::column_type()),
        None => column_type_tokens(&column.ty),
    };
    let nullable = column.nullable;
    let default = optional_default(column.default.as_ref());
    let autoincrement = column.autoincrement;
    let renamed_from = optional_string(column.renamed_from.as_deref());
    let comment = optional_string(column.comment.as_deref());
    let backfill = optional_default(column.backfill.as_ref());
    let using = optional_string(column.using.as_deref());
    quote! {
        ::qvdiff::Column {
            name: #name,
            ty: #ty,
            nullable: #nullable,
            default: #default,
            autoincrement: #autoincrement,
            comment: #comment,
            renamed_from: #renamed_from,
            backfill: #backfill,
            using: #using,
        }
    }
}

fn column_type_tokens(ty: &ColumnType) -> TokenStream {
    match ty {
        ColumnType::Integer { bits } => quote!(::qvdiff::ColumnType::Integer { bits: #bits }),
        ColumnType::Float => quote!(::qvdiff::ColumnType::Float),
        ColumnType::Float32 => quote!(::qvdiff::ColumnType::Float32),
        ColumnType::Text { max_length } => {
            let max_length = optional(max_length.map(|n| quote!(#n)));
            quote!(::qvdiff::ColumnType::Text { max_length: #max_length })
        }
        ColumnType::Bool => quote!(::qvdiff::ColumnType::Bool),
        ColumnType::DateTime => quote!(::qvdiff::ColumnType::DateTime),
        ColumnType::DateTimeTz => quote!(::qvdiff::ColumnType::DateTimeTz),
        ColumnType::Date => quote!(::qvdiff::ColumnType::Date),
        ColumnType::Time => quote!(::qvdiff::ColumnType::Time),
        ColumnType::Uuid => quote!(::qvdiff::ColumnType::Uuid),
        ColumnType::Json => quote!(::qvdiff::ColumnType::Json),
        ColumnType::Decimal { precision, scale } => {
            let precision = optional(precision.map(|n| quote!(#n)));
            let scale = optional(scale.map(|n| quote!(#n)));
            quote!(::qvdiff::ColumnType::Decimal { precision: #precision, scale: #scale })
        }
        ColumnType::Blob => quote!(::qvdiff::ColumnType::Blob),
        ColumnType::Array { element } => {
            let element = column_type_tokens(element);
            quote!(::qvdiff::ColumnType::Array {
                element: ::std::boxed::Box::new(#element),
            })
        }
        ColumnType::Custom { sql } => {
            let sql = string(sql);
            quote!(::qvdiff::ColumnType::Custom { sql: #sql })
        }
        ColumnType::Enum {
            name,
            values,
            renames,
        } => {
            let name = string(name);
            let values = values.iter().map(|v| string(v));
            let renames = renames.iter().map(|r| {
                let (from, to) = (string(&r.from), string(&r.to));
                quote!(::qvdiff::VariantRename { from: #from, to: #to })
            });
            quote!(::qvdiff::ColumnType::Enum {
                name: #name,
                values: ::std::vec![#(#values),*],
                renames: ::std::vec![#(#renames),*],
            })
        }
    }
}

fn default_tokens(value: &DefaultValue) -> TokenStream {
    match value {
        DefaultValue::Integer(n) => {
            let n = integer(*n);
            quote!(::qvdiff::DefaultValue::Integer(#n))
        }
        DefaultValue::Float(x) => {
            let x = float(*x);
            quote!(::qvdiff::DefaultValue::Float(#x))
        }
        DefaultValue::Bool(b) => quote!(::qvdiff::DefaultValue::Bool(#b)),
        DefaultValue::Text(text) => {
            let text = string(text);
            quote!(::qvdiff::DefaultValue::Text(#text))
        }
        DefaultValue::Sql(sql) => {
            let sql = string(sql);
            quote!(::qvdiff::DefaultValue::Sql(#sql))
        }
        DefaultValue::PerDialect(sql) => {
            let (sqlite, postgres) = (string(&sql.sqlite), string(&sql.postgres));
            quote!(::qvdiff::DefaultValue::PerDialect(::std::boxed::Box::new(
                ::qvdiff::PerDialectSql {
                    sqlite: #sqlite,
                    postgres: #postgres,
                }
            )))
        }
    }
}

fn unique_tokens(unique: &Unique) -> TokenStream {
    let name = optional_string(unique.name.as_deref());
    let columns = unique.columns.iter().map(|c| string(c));
    quote!(::qvdiff::Unique { name: #name, columns: ::std::vec![#(#columns),*] })
}

fn index_tokens(index: &Index) -> TokenStream {
    let name = string(&index.name);
    let columns = index.columns.iter().map(|c| string(c));
    let unique = index.unique;
    let predicate = optional_string(index.predicate.as_deref());
    quote!(::qvdiff::Index {
        name: #name,
        columns: ::std::vec![#(#columns),*],
        unique: #unique,
        predicate: #predicate,
    })
}

fn foreign_key_tokens(fk: &ForeignKey) -> TokenStream {
    let columns = fk.columns.iter().map(|c| string(c));
    let ref_table = string(&fk.ref_table);
    let ref_columns = fk.ref_columns.iter().map(|c| string(c));
    let on_delete = action_tokens(fk.on_delete);
    let on_update = action_tokens(fk.on_update);
    quote! {
        ::qvdiff::ForeignKey {
            columns: ::std::vec![#(#columns),*],
            ref_table: #ref_table,
            ref_columns: ::std::vec![#(#ref_columns),*],
            on_delete: #on_delete,
            on_update: #on_update,
        }
    }
}

fn action_tokens(action: FkAction) -> TokenStream {
    match action {
        FkAction::NoAction => quote!(::qvdiff::FkAction::NoAction),
        FkAction::Restrict => quote!(::qvdiff::FkAction::Restrict),
        FkAction::Cascade => quote!(::qvdiff::FkAction::Cascade),
        FkAction::SetNull => quote!(::qvdiff::FkAction::SetNull),
        FkAction::SetDefault => quote!(::qvdiff::FkAction::SetDefault),
    }
}

fn check_tokens(check: &Check) -> TokenStream {
    let name = string(&check.name);
    let expr = string(&check.expr);
    quote!(::qvdiff::Check { name: #name, expr: #expr })
}

/// `::std::string::String::from("…")`.
fn string(text: &str) -> TokenStream {
    quote!(::std::string::String::from(#text))
}

fn optional_string(text: Option<&str>) -> TokenStream {
    optional(text.map(string))
}

fn optional_default(value: Option<&DefaultValue>) -> TokenStream {
    optional(value.map(default_tokens))
}

fn optional(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(value) => quote!(::std::option::Option::Some(#value)),
        None => quote!(::std::option::Option::None),
    }
}

/// An `i64` expression. Negative literals are written as negation of a positive literal, since
/// a literal token cannot carry a sign; `i64::MIN` has no positive counterpart.
fn integer(n: i64) -> TokenStream {
    if n == i64::MIN {
        quote!(::core::primitive::i64::MIN)
    } else if n < 0 {
        let magnitude = Literal::i64_suffixed(-n);
        quote!(-#magnitude)
    } else {
        let literal = Literal::i64_suffixed(n);
        quote!(#literal)
    }
}

/// An `f64` expression; values are finite (the grammar rejects others). `Literal` prints the
/// shortest representation that round-trips, so the derive's value equals the scanner's.
fn float(x: f64) -> TokenStream {
    let magnitude = Literal::f64_suffixed(x.abs());
    if x.is_sign_negative() {
        quote!(-#magnitude)
    } else {
        quote!(#magnitude)
    }
}
