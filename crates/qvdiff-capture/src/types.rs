//! Rust type -> logical column type, and declared SQL type -> logical column type.
//!
//! [`BUILTIN_TYPES`] is the one place that says which Rust types qvdiff knows. The matcher
//! [`builtin_column_type`] is driven by that table, so the README (which lists the table) and the
//! derive can never disagree.

use qvdiff_core::ColumnType;
use syn::{GenericArgument, PathArguments, Type};

/// One Rust type qvdiff maps to a logical column type without `#[column(sql_type = "…")]`.
///
/// Types are recognised by the *last* path segment (`chrono::NaiveDate`, `NaiveDate` and
/// `my_alias::NaiveDate` all match), because the derive sees tokens, not resolved types.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltinType {
    /// The type as people write it, for documentation (e.g. `chrono::DateTime<Tz>`).
    pub rust: &'static str,
    /// The last path segment that identifies the type (e.g. `DateTime`).
    pub segment: &'static str,
    /// For a generic container, the last path segment its first type argument must have
    /// (`Vec<u8>` is bytes; `Vec<String>` is not a builtin). `None` accepts any arguments.
    pub argument: Option<&'static str>,
    /// The logical column type.
    pub logical: ColumnType,
}

const fn builtin(rust: &'static str, segment: &'static str, logical: ColumnType) -> BuiltinType {
    BuiltinType {
        rust,
        segment,
        argument: None,
        logical,
    }
}

/// Every builtin Rust type and its logical column type, in the order the README lists them.
///
/// `Option<T>` is not in the table: it unwraps once and makes the column nullable. A shared
/// reference `&T` maps like `T` (so `&str` is text).
pub const BUILTIN_TYPES: &[BuiltinType] = &[
    builtin("i8", "i8", ColumnType::Integer { bits: 8 }),
    builtin("i16", "i16", ColumnType::Integer { bits: 16 }),
    builtin("i32", "i32", ColumnType::Integer { bits: 32 }),
    builtin("i64", "i64", ColumnType::Integer { bits: 64 }),
    builtin("isize", "isize", ColumnType::Integer { bits: 64 }),
    builtin("u8", "u8", ColumnType::Integer { bits: 8 }),
    // An unsigned type needs the next signed width to hold its largest values (a `u16` of
    // 65535 does not fit PostgreSQL's `smallint`); `u8` fits `smallint`, the narrowest there.
    builtin("u16", "u16", ColumnType::Integer { bits: 32 }),
    builtin("u32", "u32", ColumnType::Integer { bits: 64 }),
    builtin("u64", "u64", ColumnType::Integer { bits: 64 }),
    builtin("usize", "usize", ColumnType::Integer { bits: 64 }),
    builtin("bool", "bool", ColumnType::Bool),
    builtin("f32", "f32", ColumnType::Float32),
    builtin("f64", "f64", ColumnType::Float),
    builtin("String", "String", ColumnType::Text { max_length: None }),
    builtin("&str", "str", ColumnType::Text { max_length: None }),
    BuiltinType {
        rust: "Vec<u8>",
        segment: "Vec",
        argument: Some("u8"),
        logical: ColumnType::Blob,
    },
    builtin(
        "chrono::NaiveDateTime",
        "NaiveDateTime",
        ColumnType::DateTime,
    ),
    builtin("chrono::DateTime<Tz>", "DateTime", ColumnType::DateTimeTz),
    builtin(
        "time::PrimitiveDateTime",
        "PrimitiveDateTime",
        ColumnType::DateTime,
    ),
    builtin(
        "time::OffsetDateTime",
        "OffsetDateTime",
        ColumnType::DateTimeTz,
    ),
    builtin("chrono::NaiveDate", "NaiveDate", ColumnType::Date),
    builtin("time::Date", "Date", ColumnType::Date),
    builtin("chrono::NaiveTime", "NaiveTime", ColumnType::Time),
    builtin("time::Time", "Time", ColumnType::Time),
    builtin("uuid::Uuid", "Uuid", ColumnType::Uuid),
    builtin("serde_json::Value", "Value", ColumnType::Json),
    builtin(
        "rust_decimal::Decimal",
        "Decimal",
        ColumnType::Decimal {
            precision: None,
            scale: None,
        },
    ),
];

/// If `ty` is `Option<T>` (by last segment), returns `T`.
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = strip_groups(ty) else {
        return None;
    };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    first_type_argument(&last.arguments)
}

/// The logical column type of a builtin Rust type, or `None` when `ty` is neither in
/// [`BUILTIN_TYPES`] nor a `Vec` of one ([`ColumnType::Array`]; `Vec<u8>` is bytes, and there
/// is no list of bytes, of lists or of nullable values). Does not unwrap `Option`: callers do
/// that once, for nullability.
pub fn builtin_column_type(ty: &Type) -> Option<ColumnType> {
    match strip_groups(ty) {
        Type::Reference(reference) => builtin_column_type(&reference.elem),
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            let argument = first_type_argument(&last.arguments);
            let listed = builtin_entry(&last.ident.to_string(), || {
                argument.and_then(last_segment_name)
            });
            match (listed, argument) {
                (None, Some(element)) if last.ident == "Vec" => {
                    match builtin_column_type(element)? {
                        ColumnType::Blob | ColumnType::Array { .. } => None,
                        element => Some(ColumnType::Array {
                            element: Box::new(element),
                        }),
                    }
                }
                (listed, _) => listed,
            }
        }
        _ => None,
    }
}

/// The logical type of a path whose last segment is `segment` and has no type arguments (`i64`,
/// `String`): what [`builtin_column_type`] gives such a path.
pub(crate) fn builtin_named(segment: &str) -> Option<ColumnType> {
    builtin_entry(segment, || None)
}

/// The first entry of [`BUILTIN_TYPES`] for the last path segment `segment` whose type argument
/// (if the entry has one) is `argument()`, the last segment of the first type argument.
fn builtin_entry(segment: &str, argument: impl Fn() -> Option<String>) -> Option<ColumnType> {
    BUILTIN_TYPES
        .iter()
        .find(|entry| {
            entry.segment == segment
                && match entry.argument {
                    None => true,
                    Some(wanted) => argument().is_some_and(|name| name == wanted),
                }
        })
        .map(|entry| entry.logical.clone())
}

/// Types coming out of `macro_rules!` expansions are wrapped in invisible groups; parentheses are
/// meaningless for a type. Both are looked through.
fn strip_groups(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => strip_groups(&group.elem),
        Type::Paren(paren) => strip_groups(&paren.elem),
        other => other,
    }
}

fn first_type_argument(arguments: &PathArguments) -> Option<&Type> {
    let PathArguments::AngleBracketed(args) = arguments else {
        return None;
    };
    args.args.iter().find_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
}

fn last_segment_name(ty: &Type) -> Option<String> {
    match strip_groups(ty) {
        Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// Maps a declared SQL type (as written in `#[column(sql_type = "…")]`) to a logical type.
///
/// Known spellings (case-insensitive) become logical types so the model means the same on every
/// dialect; anything else is kept verbatim as [`ColumnType::Custom`].
pub fn sql_type_to_column_type(sql: &str) -> ColumnType {
    let trimmed = sql.trim();
    let upper = trimmed
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    let (base, args) = match upper.split_once('(') {
        Some((base, rest)) => match rest.strip_suffix(')') {
            Some(args) => (base.trim_end(), Some(args)),
            None => return custom(trimmed),
        },
        None => (upper.as_str(), None),
    };
    let numbers: Option<Vec<u32>> = args
        .map(|a| a.split(',').map(|n| n.trim().parse::<u32>().ok()).collect())
        .unwrap_or(Some(vec![]));
    let Some(numbers) = numbers else {
        return custom(trimmed);
    };
    let logical = match (base, numbers.as_slice()) {
        ("JSON", []) => ColumnType::Json,
        ("TEXT", []) | ("VARCHAR", []) | ("CHARACTER VARYING", []) => {
            ColumnType::Text { max_length: None }
        }
        ("VARCHAR", [n]) | ("CHARACTER VARYING", [n]) => ColumnType::Text {
            max_length: Some(*n),
        },
        ("CHAR", [36]) | ("CHARACTER", [36]) | ("UUID", []) => ColumnType::Uuid,
        // `INTEGER` is 32 bits in PostgreSQL and the SQL standard: a declared `integer` stays
        // `integer` there (SQLite stores every width as INTEGER anyway).
        ("BIGINT", []) | ("INT8", []) => ColumnType::Integer { bits: 64 },
        ("INTEGER", []) | ("INT", []) | ("INT4", []) => ColumnType::Integer { bits: 32 },
        ("SMALLINT", []) | ("INT2", []) => ColumnType::Integer { bits: 16 },
        ("TINYINT", []) => ColumnType::Integer { bits: 8 },
        ("REAL", [])
        | ("DOUBLE", [])
        | ("DOUBLE PRECISION", [])
        | ("FLOAT", [])
        | ("FLOAT8", []) => ColumnType::Float,
        ("BOOLEAN", []) | ("BOOL", []) => ColumnType::Bool,
        ("DATETIME", []) | ("TIMESTAMP", []) | ("TIMESTAMP WITHOUT TIME ZONE", []) => {
            ColumnType::DateTime
        }
        ("TIMESTAMPTZ", []) | ("TIMESTAMP WITH TIME ZONE", []) => ColumnType::DateTimeTz,
        ("DATE", []) => ColumnType::Date,
        ("TIME", []) => ColumnType::Time,
        ("NUMERIC", rest) | ("DECIMAL", rest) if rest.len() <= 2 => {
            let digits = |i: usize| rest.get(i).map(|n| u8::try_from(*n).ok());
            match (digits(0), digits(1)) {
                (Some(None), _) | (_, Some(None)) => return custom(trimmed),
                (precision, scale) => ColumnType::Decimal {
                    precision: precision.flatten(),
                    scale: scale.flatten(),
                },
            }
        }
        ("BLOB", []) | ("BYTEA", []) => ColumnType::Blob,
        _ => return custom(trimmed),
    };
    logical
}

fn custom(sql: &str) -> ColumnType {
    ColumnType::Custom {
        sql: sql.to_string(),
    }
}

/// A short human name for a logical type, used in error messages (`Integer(64)`, `Text(200)`).
pub(crate) fn describe(ty: &ColumnType) -> String {
    match ty {
        ColumnType::Integer { bits } => format!("Integer({bits})"),
        ColumnType::Float => "Float".into(),
        ColumnType::Float32 => "Float32".into(),
        ColumnType::Text { max_length: None } => "Text".into(),
        ColumnType::Text {
            max_length: Some(n),
        } => format!("Text({n})"),
        ColumnType::Bool => "Bool".into(),
        ColumnType::DateTime => "DateTime".into(),
        ColumnType::DateTimeTz => "DateTimeTz".into(),
        ColumnType::Date => "Date".into(),
        ColumnType::Time => "Time".into(),
        ColumnType::Uuid => "Uuid".into(),
        ColumnType::Json => "Json".into(),
        ColumnType::Decimal { precision, scale } => match (precision, scale) {
            (Some(p), Some(s)) => format!("Decimal({p}, {s})"),
            (Some(p), None) => format!("Decimal({p})"),
            _ => "Decimal".into(),
        },
        ColumnType::Blob => "Blob".into(),
        ColumnType::Array { element } => format!("Array({})", describe(element)),
        ColumnType::Custom { sql } => format!("Custom({sql})"),
        ColumnType::Enum { name, .. } => format!("Enum({name})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(text: &str) -> Type {
        match syn::parse_str::<Type>(text) {
            Ok(ty) => ty,
            Err(e) => panic!("test type `{text}` does not parse: {e}"),
        }
    }

    #[test]
    fn every_table_entry_is_matched_by_its_documented_spelling() {
        for entry in BUILTIN_TYPES {
            assert_eq!(
                builtin_column_type(&ty(entry.rust)),
                Some(entry.logical.clone()),
                "table row `{}` and the matcher disagree",
                entry.rust
            );
        }
    }

    #[test]
    fn matching_uses_the_last_path_segment() {
        assert_eq!(
            builtin_column_type(&ty("std::string::String")),
            Some(ColumnType::Text { max_length: None })
        );
        assert_eq!(
            builtin_column_type(&ty("chrono::DateTime<chrono::Utc>")),
            Some(ColumnType::DateTimeTz)
        );
        assert_eq!(
            builtin_column_type(&ty("::uuid::Uuid")),
            Some(ColumnType::Uuid)
        );
        assert_eq!(
            builtin_column_type(&ty("&'static str")),
            Some(ColumnType::Text { max_length: None })
        );
        assert_eq!(
            builtin_column_type(&ty("std::vec::Vec<u8>")),
            Some(ColumnType::Blob)
        );
    }

    #[test]
    fn a_vec_of_a_builtin_type_is_an_array_of_it() {
        let array = |element: ColumnType| {
            Some(ColumnType::Array {
                element: Box::new(element),
            })
        };
        assert_eq!(
            builtin_column_type(&ty("Vec<String>")),
            array(ColumnType::Text { max_length: None })
        );
        assert_eq!(
            builtin_column_type(&ty("std::vec::Vec<i64>")),
            array(ColumnType::Integer { bits: 64 })
        );
        assert_eq!(
            builtin_column_type(&ty("Vec<uuid::Uuid>")),
            array(ColumnType::Uuid)
        );
    }

    #[test]
    fn unknown_types_are_not_builtin() {
        for text in [
            "Tags",
            "Vec<Tags>",
            "Vec<Vec<u8>>",
            "Vec<Vec<i64>>",
            "Vec<Option<i64>>",
            "Vec",
            "(i64, i64)",
            "[u8; 4]",
            "i128",
            "Option<i64>",
        ] {
            assert_eq!(builtin_column_type(&ty(text)), None, "{text}");
        }
    }

    #[test]
    fn option_unwraps_once() {
        let inner = ty("Option<Option<i64>>");
        let once = option_inner(&inner).map(builtin_column_type);
        assert_eq!(once, Some(None));
        assert!(option_inner(&ty("std::option::Option<String>")).is_some());
        assert!(option_inner(&ty("String")).is_none());
    }

    #[test]
    fn sql_types_map_back_to_logical_types() {
        let cases = [
            ("JSON", ColumnType::Json),
            ("text", ColumnType::Text { max_length: None }),
            (
                "VARCHAR(200)",
                ColumnType::Text {
                    max_length: Some(200),
                },
            ),
            (
                "varchar (12)",
                ColumnType::Text {
                    max_length: Some(12),
                },
            ),
            ("INTEGER", ColumnType::Integer { bits: 32 }),
            ("integer", ColumnType::Integer { bits: 32 }),
            ("BIGINT", ColumnType::Integer { bits: 64 }),
            ("INT", ColumnType::Integer { bits: 32 }),
            ("SMALLINT", ColumnType::Integer { bits: 16 }),
            ("REAL", ColumnType::Float),
            ("double precision", ColumnType::Float),
            ("BOOLEAN", ColumnType::Bool),
            ("DATETIME", ColumnType::DateTime),
            ("TIMESTAMP", ColumnType::DateTime),
            ("DATE", ColumnType::Date),
            ("TIME", ColumnType::Time),
            ("UUID", ColumnType::Uuid),
            ("CHAR(36)", ColumnType::Uuid),
            (
                "NUMERIC(10, 2)",
                ColumnType::Decimal {
                    precision: Some(10),
                    scale: Some(2),
                },
            ),
            (
                "DECIMAL(8)",
                ColumnType::Decimal {
                    precision: Some(8),
                    scale: None,
                },
            ),
            (
                "NUMERIC",
                ColumnType::Decimal {
                    precision: None,
                    scale: None,
                },
            ),
            ("BLOB", ColumnType::Blob),
            ("bytea", ColumnType::Blob),
        ];
        for (sql, want) in cases {
            assert_eq!(sql_type_to_column_type(sql), want, "{sql}");
        }
        for sql in [
            "JSONB",
            "CHAR(10)",
            "NUMERIC(999, 2)",
            "VARCHAR(x)",
            "GEOMETRY",
            "VARCHAR(10",
        ] {
            assert_eq!(
                sql_type_to_column_type(sql),
                ColumnType::Custom {
                    sql: sql.to_string()
                },
                "{sql}"
            );
        }
    }
}
