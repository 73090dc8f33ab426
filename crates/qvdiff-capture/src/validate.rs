//! Checks across models: what one struct cannot know about the others.

use crate::errors::closest;
use crate::types::describe;
use crate::{CapturedEnum, CapturedTable, Diagnostic};
use qvdiff_core::{ColumnType, Table};
use std::collections::HashMap;

/// Validates all scanned tables together: duplicate table names, foreign keys to unknown tables
/// or columns, foreign keys to columns that are neither a primary key nor unique, and foreign keys
/// whose column type differs from the referenced column's.
///
/// Type rule: the logical types must be the same kind. Integers of different widths match
/// (`i32` may reference `i64`: both are `INTEGER` in SQLite and compatible in PostgreSQL), text
/// matches text whatever its `max_length`, and decimals match whatever their precision.
/// Diagnostics point at the referencing struct and are sorted by (file, line, column).
pub fn validate(tables: &[CapturedTable]) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let mut by_name: HashMap<&str, &CapturedTable> = HashMap::new();
    for captured in tables {
        match by_name.get(captured.table.name.as_str()) {
            Some(first) => diagnostics.push(at(
                captured,
                format!(
                    "table `{}` is defined twice: by `{}` at {}:{}:{} and by `{}` here; give one of them \
                     another `#[model(table = \"…\")]`",
                    captured.table.name, first.struct_name, first.file, first.line, first.column, captured.struct_name
                ),
            )),
            None => {
                by_name.insert(&captured.table.name, captured);
            }
        }
    }

    for captured in tables {
        let table = &captured.table;
        for fk in &table.foreign_keys {
            let what = format!(
                "`{}.{}` (in `{}`)",
                table.name,
                fk.columns.join(", "),
                captured.struct_name
            );
            let Some(target) = by_name.get(fk.ref_table.as_str()).map(|t| &t.table) else {
                let hint = match closest(&fk.ref_table, by_name.keys().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => "define a model for it or fix `references`".to_string(),
                };
                diagnostics.push(at(
                    captured,
                    format!(
                        "foreign key {what} references table `{}`, which no model defines; {hint}",
                        fk.ref_table
                    ),
                ));
                continue;
            };
            for (column, ref_column) in fk.columns.iter().zip(&fk.ref_columns) {
                let Some(referenced) = target.column(ref_column) else {
                    let hint =
                        match closest(ref_column, target.columns.iter().map(|c| c.name.as_str())) {
                            Some(near) => format!("did you mean `{near}`?"),
                            None => format!(
                                "its columns are: {}",
                                target
                                    .columns
                                    .iter()
                                    .map(|c| c.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        };
                    diagnostics.push(at(
                        captured,
                        format!(
                            "foreign key {what} references `{}.{ref_column}`, but table `{}` has no column \
                             `{ref_column}`; {hint}",
                            fk.ref_table, fk.ref_table
                        ),
                    ));
                    continue;
                };
                if let Some(referencing) = table.column(column) {
                    if !same_kind(&referencing.ty, &referenced.ty) {
                        diagnostics.push(at(
                            captured,
                            format!(
                                "foreign key {what} has type {} but the referenced column `{}.{ref_column}` \
                                 has type {}; make both fields the same kind of type",
                                describe(&referencing.ty),
                                fk.ref_table,
                                describe(&referenced.ty)
                            ),
                        ));
                    }
                }
            }
            if fk.ref_columns.iter().all(|c| target.column(c).is_some())
                && !is_key(target, &fk.ref_columns)
            {
                diagnostics.push(at(
                    captured,
                    format!(
                        "foreign key {what} references `{}({})`, which is neither the primary key nor unique; \
                         databases reject such a foreign key, so reference the key or add `#[column(unique)]` \
                         to the referenced field",
                        fk.ref_table,
                        fk.ref_columns.join(", ")
                    ),
                ));
            }
        }
    }
    diagnostics.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    diagnostics
}

fn at(captured: &CapturedTable, message: String) -> Diagnostic {
    Diagnostic {
        file: captured.file.clone(),
        line: captured.line,
        column: captured.column,
        message,
    }
}

/// Whether `columns` are exactly the primary key or a unique constraint / unique index.
fn is_key(table: &Table, columns: &[String]) -> bool {
    table.primary_key == columns
        || table.uniques.iter().any(|u| u.columns == columns)
        || table
            .indexes
            .iter()
            .any(|i| i.unique && i.columns == columns)
}

fn same_kind(a: &ColumnType, b: &ColumnType) -> bool {
    match (a, b) {
        (ColumnType::Integer { .. }, ColumnType::Integer { .. })
        | (ColumnType::Text { .. }, ColumnType::Text { .. })
        | (ColumnType::Decimal { .. }, ColumnType::Decimal { .. }) => true,
        (ColumnType::Custom { sql: x }, ColumnType::Custom { sql: y }) => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

/// Gives every enum field of `tables` its enum's type (matched by the last segment of the Rust
/// type), and checks the enums against each other. Errors: a field type that is neither builtin
/// nor a `#[derive(Enum)]` enum of the sources (at the type), a default or backfill that names no
/// stored value (at the literal), two enums of one name, and two enums sharing a PostgreSQL type
/// name with different values.
pub fn resolve_enums(tables: &mut [CapturedTable], enums: &[CapturedEnum]) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let mut by_rust: HashMap<&str, &CapturedEnum> = HashMap::new();
    let mut by_type: HashMap<&str, &CapturedEnum> = HashMap::new();
    let at = |e: &CapturedEnum, message: String| Diagnostic {
        file: e.file.clone(),
        line: e.line,
        column: e.column,
        message,
    };
    for captured in enums {
        let def = &captured.def;
        if let Some(first) = by_rust.insert(&def.rust_name, captured) {
            diagnostics.push(at(
                captured,
                format!(
                    "enum `{}` is declared twice in the model sources (also at {}:{}); model \
                     fields name enums by their last path segment, so rename one",
                    def.rust_name, first.file, first.line
                ),
            ));
        }
        if let Some(first) = by_type.insert(&def.type_name, captured) {
            if first.def.values != def.values {
                diagnostics.push(at(
                    captured,
                    format!(
                        "enums `{}` and `{}` are both stored as type `{}` but with different \
                         values; give one another `#[enum_type(name = \"…\")]`",
                        first.def.rust_name, def.rust_name, def.type_name
                    ),
                ));
            }
        }
    }
    for captured in tables.iter_mut() {
        for site in std::mem::take(&mut captured.enum_fields) {
            let segment = last_segment(&site.rust_type);
            let diagnostic = |line, column, message| Diagnostic {
                file: captured.file.clone(),
                line,
                column,
                message,
            };
            let Some(found) = by_rust.get(segment) else {
                diagnostics.push(diagnostic(
                    site.line,
                    site.column_number,
                    format!(
                        "field `{}`: type `{}` has no built-in SQL type; add \
                         #[column(sql_type = \"JSON\")] or #[column(skip)], or derive \
                         `qvdiff::Enum` on it in the model sources",
                        site.column, site.rust_type
                    ),
                ));
                continue;
            };
            let def = &found.def;
            for (value, line, column) in &site.literals {
                if !def.values.contains(value) {
                    diagnostics.push(diagnostic(
                        *line,
                        *column,
                        format!(
                            "\"{value}\" is not a stored value of enum `{}` (field `{}`); use \
                             one of {}",
                            def.rust_name,
                            site.column,
                            quoted_list(&def.values)
                        ),
                    ));
                }
            }
            if let Some(column) = captured
                .table
                .columns
                .iter_mut()
                .find(|c| c.name == site.column)
            {
                column.ty = def.column_type();
            }
        }
    }
    diagnostics.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    diagnostics
}

/// `crate::a::Status` -> `Status`.
fn last_segment(rust_type: &str) -> &str {
    rust_type.rsplit("::").next().unwrap_or(rust_type).trim()
}

fn quoted_list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("\"{v}\""))
        .collect::<Vec<_>>()
        .join(", ")
}
