//! `#[derive(Enum)]` input -> [`EnumDef`]: the stored values of a unit-variant enum, its
//! PostgreSQL type name and its variant renames, with every mistake collected at its span.

use crate::attrs::unknown_key_message;
use crate::errors::Errors;
use crate::mapping::snake_case;
use proc_macro2::Span;
use qvdiff_core::{ColumnType, VariantRename};
use syn::ext::IdentExt;
use syn::{Attribute, Data, DeriveInput, Fields, LitStr};

/// A Rust enum stored in a column, as `#[derive(Enum)]` and the scanner read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumDef {
    /// The Rust enum's name.
    pub rust_name: String,
    /// The PostgreSQL type (`#[enum_type(name = "…")]`, else the enum's name in snake_case).
    pub type_name: String,
    /// The Rust variants, in declaration order.
    pub variants: Vec<String>,
    /// Each variant's stored value (`#[variant(name = "…")]`, else its name in snake_case).
    pub values: Vec<String>,
    /// `#[variant(renamed_from = "…")]`: the value's previous spelling.
    pub renames: Vec<VariantRename>,
}

impl EnumDef {
    /// The logical column type of a field of this enum.
    pub fn column_type(&self) -> ColumnType {
        ColumnType::Enum {
            name: self.type_name.clone(),
            values: self.values.clone(),
            renames: self.renames.clone(),
        }
    }
}

/// Parses a `#[derive(Enum)]` input, or returns every error found, combined.
pub fn parse_enum(input: &DeriveInput) -> Result<EnumDef, syn::Error> {
    let mut errors = Errors::default();
    let def = build_enum(input, &mut errors);
    errors.finish()?;
    def.ok_or_else(|| {
        syn::Error::new(
            input.ident.span(),
            format!("`{}` could not be read as an enum", input.ident),
        )
    })
}

fn build_enum(input: &DeriveInput, errors: &mut Errors) -> Option<EnumDef> {
    let rust_name = input.ident.unraw().to_string();
    let Data::Enum(data) = &input.data else {
        errors.at(
            input.ident.span(),
            format!(
                "`#[derive(Enum)]` works on enums with unit variants, but `{rust_name}` is not an \
                 enum; use `#[derive(Model)]` for a table"
            ),
        );
        return None;
    };
    let type_name = enum_type_name(&input.attrs, errors).unwrap_or_else(|| snake_case(&rust_name));
    crate::mapping::check_name_length(
        &type_name,
        input.ident.span(),
        "enum type",
        "set a shorter `#[enum_type(name = \"…\")]`",
        errors,
    );
    if data.variants.is_empty() {
        errors.at(
            input.ident.span(),
            format!(
                "enum `{rust_name}` has no variants, so a column of it could hold no value; add \
                 the variants it stores"
            ),
        );
    }
    let mut def = EnumDef {
        rust_name: rust_name.clone(),
        type_name,
        variants: Vec::new(),
        values: Vec::new(),
        renames: Vec::new(),
    };
    // Where each stored value (and each old spelling) was given, to point at a clash.
    let mut taken: Vec<(String, String)> = Vec::new();
    for variant in &data.variants {
        let variant_name = variant.ident.unraw().to_string();
        if !matches!(variant.fields, Fields::Unit) {
            errors.spanned(
                &variant.fields,
                format!(
                    "variant `{rust_name}::{variant_name}` has fields, but a stored enum is one \
                     text value per variant; remove the fields (store data in columns of the \
                     model) or give the field `#[column(sql_type = \"JSON\")]`"
                ),
            );
        }
        let attrs = variant_attrs(&variant.attrs, errors);
        let (value, value_span) = match &attrs.name {
            Some(name) => (name.value(), name.span()),
            None => (snake_case(&variant_name), variant.ident.span()),
        };
        if value.is_empty() {
            errors.at(
                value_span,
                format!(
                    "variant `{rust_name}::{variant_name}` is stored as an empty text; give it a \
                     name, e.g. `#[variant(name = \"{}\")]`",
                    snake_case(&variant_name)
                ),
            );
        }
        if let Some((_, other)) = taken.iter().find(|(v, _)| *v == value) {
            errors.at(
                value_span,
                format!(
                    "variants `{rust_name}::{other}` and `{rust_name}::{variant_name}` are both \
                     stored as \"{value}\", so rows could not tell them apart; give one \
                     `#[variant(name = \"…\")]` with another value"
                ),
            );
        }
        taken.push((value.clone(), variant_name.clone()));
        if let Some(old) = &attrs.renamed_from {
            let old_value = old.value();
            if old_value == value {
                errors.at(
                    old.span(),
                    format!(
                        "`renamed_from = \"{old_value}\"` is the stored value of \
                         `{rust_name}::{variant_name}` itself; remove it, or name the value it \
                         had before"
                    ),
                );
            } else {
                def.renames.push(VariantRename {
                    from: old_value,
                    to: value.clone(),
                });
            }
        }
        def.variants.push(variant_name);
        def.values.push(value);
    }
    for rename in &def.renames {
        if def.values.contains(&rename.from) {
            errors.at(
                input.ident.span(),
                format!(
                    "`renamed_from = \"{}\"` names a value that enum `{rust_name}` still stores; \
                     a variant can only take over a value that is gone",
                    rename.from
                ),
            );
        }
    }
    Some(def)
}

/// `#[enum_type(name = "…")]`.
fn enum_type_name(attrs: &[Attribute], errors: &mut Errors) -> Option<String> {
    let mut name = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("enum_type")) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                let value: LitStr = meta.value()?.parse()?;
                if value.value().is_empty() {
                    errors.at(
                        value.span(),
                        "`enum_type(name = \"\")` is empty; name the type",
                    );
                } else {
                    name = Some(value.value());
                }
                Ok(())
            } else {
                unknown_key(&meta, "enum_type", &["name"], errors)
            }
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    name
}

#[derive(Default)]
struct VariantAttrs {
    name: Option<LitStr>,
    renamed_from: Option<LitStr>,
}

/// `#[variant(name = "…", renamed_from = "…")]`.
fn variant_attrs(attrs: &[Attribute], errors: &mut Errors) -> VariantAttrs {
    let mut out = VariantAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("variant")) {
        let result = attr.parse_nested_meta(|meta| {
            let slot = if meta.path.is_ident("name") {
                &mut out.name
            } else if meta.path.is_ident("renamed_from") {
                &mut out.renamed_from
            } else {
                return unknown_key(&meta, "variant", &["name", "renamed_from"], errors);
            };
            let value: LitStr = meta.value()?.parse()?;
            if slot.is_some() {
                errors.at(
                    meta_span(&meta.path),
                    "this key is given twice for one variant; keep one",
                );
            }
            *slot = Some(value);
            Ok(())
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    out
}

fn meta_span(path: &syn::Path) -> Span {
    path.segments
        .first()
        .map(|s| s.ident.span())
        .unwrap_or_else(Span::call_site)
}

/// Reports an unknown key of `#[attribute(…)]` at the key, then skips its value so that the keys
/// after it are read too.
fn unknown_key(
    meta: &syn::meta::ParseNestedMeta,
    attribute: &str,
    known: &[&str],
    errors: &mut Errors,
) -> syn::Result<()> {
    let key = meta
        .path
        .get_ident()
        .map(|i| i.to_string())
        .unwrap_or_default();
    errors.at(
        meta_span(&meta.path),
        unknown_key_message(attribute, &key, known),
    );
    skip_value(meta)
}

/// Consumes `= value` after an unknown key, so parsing goes on to the next key.
fn skip_value(meta: &syn::meta::ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        let _: proc_macro2::TokenStream = content.parse()?;
    }
    Ok(())
}
