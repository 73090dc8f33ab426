//! qvdiff-capture: the `#[derive(Model)]` attribute grammar and the source scanner.
//!
//! One parser serves two callers. The derive (`qvdiff-derive`) calls [`parse_model`] on its
//! input and turns the [`Table`](qvdiff_core::Table) into tokens; the CLI calls [`scan_source`] on
//! each model file's text and [`validate`] on everything it found. Both therefore agree on every
//! rule, and every rule's errors are collected and reported together, each at its exact span.
//!
//! # Naming rules
//!
//! * Table: `#[model(table = "…")]`, else the struct name in snake_case (`SaleItem` ->
//!   `sale_item`).
//! * Column: `#[column(name = "…")]`, else the field name (raw identifiers lose their `r#`).
//! * Index from `#[column(index)]`: `ix_<table>_<column>`; from `#[model(index(fields(a, b)))]`
//!   without `name`: `ix_<table>_<a>_<b>` — also when the index is `unique`.
//! * Unique constraints are unnamed unless `#[model(unique(a, b, name = "…"))]` names them.

#![warn(missing_docs)]

mod attrs;
mod enums;
mod errors;
mod literals;
mod mapping;
mod quick;
mod scan;
pub mod types;
mod validate;

pub use enums::{parse_enum, EnumDef};
pub use mapping::{parse_model, parse_model_parts, EnumField};
pub use scan::{scan_source, scan_source_with, CaptureMemo};
pub use types::{builtin_column_type, sql_type_to_column_type, BuiltinType, BUILTIN_TYPES};
pub use validate::{resolve_enums, validate};

use std::fmt;

/// A problem in a model source file, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as the caller named it.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for Diagnostic {}

/// A table captured from a `#[derive(Model)]` struct, with where the struct is.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedTable {
    /// The table the struct maps to (normalized).
    pub table: qvdiff_core::Table,
    /// The struct's name.
    pub struct_name: String,
    /// The file, as the caller named it.
    pub file: String,
    /// 1-based line of the struct's name.
    pub line: usize,
    /// 1-based column of the struct's name.
    pub column: usize,
    /// Fields of an enum type, until [`resolve_enums`] fills their columns' types in.
    pub enum_fields: Vec<EnumFieldSite>,
}

/// A field of a captured model whose type is not builtin (see [`EnumField`]), located in its
/// file; [`resolve_enums`] gives its column the enum's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumFieldSite {
    /// The column's name.
    pub column: String,
    /// The Rust type as written (`Status`, `crate::Status`).
    pub rust_type: String,
    /// 1-based line of the type.
    pub line: usize,
    /// 1-based column of the type.
    pub column_number: usize,
    /// `default` / `backfill` text literals, each with its 1-based line and column.
    pub literals: Vec<(String, usize, usize)>,
}

/// A `#[derive(Enum)]` enum found by the scanner, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedEnum {
    /// What it stores.
    pub def: EnumDef,
    /// The file, as the caller named it.
    pub file: String,
    /// 1-based line of the enum's name.
    pub line: usize,
    /// 1-based column of the enum's name.
    pub column: usize,
}

/// Everything found in one source file: the tables that parsed, and every error.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanOutput {
    /// Models that parsed without error, in source order.
    pub tables: Vec<CapturedTable>,
    /// `#[derive(Enum)]` enums that parsed without error, in source order.
    pub enums: Vec<CapturedEnum>,
    /// All errors, sorted by position.
    pub errors: Vec<Diagnostic>,
}
