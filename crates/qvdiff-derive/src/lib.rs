//! `#[derive(Model)]` and `#[derive(Enum)]`: thin proc-macros over qvdiff-capture.
//!
//! All grammar and checking lives in [`qvdiff_capture::parse_model`], the same parser the CLI's
//! scanner uses. This crate only turns the resulting table into tokens: an
//! `impl ::qvdiff::Model` whose `table()` rebuilds the captured table value. On error every
//! problem found is emitted as its own `compile_error!` at its own span.

mod embed;
mod emit;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `qvdiff::Model` for a struct with named fields.
///
/// See the `qvdiff` crate for the attribute grammar (`#[model(…)]` on the struct, `#[column(…)]`
/// on fields).
#[proc_macro_derive(Model, attributes(model, column))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match qvdiff_capture::parse_model_parts(&input) {
        Ok((table, enum_fields)) => emit::model_impl(&input, &table, &enum_fields).into(),
        Err(errors) => errors.to_compile_error().into(),
    }
}

/// Derives `qvdiff::Enum` for an enum of unit variants, stored as text: each variant's name in
/// snake_case, or `#[variant(name = "…")]`; `#[variant(renamed_from = "…")]` records a value's
/// old spelling; `#[enum_type(name = "…")]` names the PostgreSQL type (default: the enum's name
/// in snake_case).
#[proc_macro_derive(Enum, attributes(enum_type, variant))]
pub fn derive_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match qvdiff_capture::parse_enum(&input) {
        Ok(def) => emit::enum_impl(&input, &def).into(),
        Err(errors) => errors.to_compile_error().into(),
    }
}

/// The migration files of a directory (default `migrations`, relative to the invoking crate's
/// `Cargo.toml`) as `&'static [(file_name, contents)]`, sorted by file name, for
/// `qvdiff::Migrator::new`. Malformed files are compile errors.
///
/// Edits to a listed file trigger a rebuild; a file added to the directory is seen on the next
/// build of the crate (a `build.rs` with `cargo:rerun-if-changed=migrations` makes that
/// automatic).
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    embed::expand(input.into()).into()
}
