//! Manifest JSON v1: the wanted schema as a stable, sorted document (`{"version":1,"tables":[…]}`).
//!
//! Invariant: `to_json(from_json(to_json(s)))` is byte-identical to `to_json(s)`.

use crate::schema::{Schema, Table};
use serde::{Deserialize, Serialize};

/// The manifest format version this build reads and writes.
pub const MANIFEST_VERSION: u32 = 1;

#[derive(Serialize)]
struct ManifestOut<'a> {
    version: u32,
    tables: &'a [Table],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestIn {
    version: u32,
    tables: Vec<Table>,
}

/// Why a manifest could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// 1-based line of the problem, when known.
    pub line: usize,
    /// 1-based column of the problem, when known.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for ManifestError {}

/// Renders a schema as manifest JSON (normalized, pretty, with a trailing newline).
pub fn to_json(schema: &Schema) -> String {
    into_json(schema.clone())
}

/// [`to_json`] of a schema the caller no longer needs: normalized in place, so a big schema is
/// not held twice.
pub fn into_json(schema: Schema) -> String {
    let schema = schema.normalized();
    let out = ManifestOut {
        version: MANIFEST_VERSION,
        tables: &schema.tables,
    };
    let mut s = serde_json::to_string_pretty(&out).expect("schema types always serialize");
    s.push('\n');
    s
}

/// Parses manifest JSON into a normalized schema.
pub fn from_json(text: &str) -> Result<Schema, ManifestError> {
    let m: ManifestIn = serde_json::from_str(text).map_err(|e| ManifestError {
        line: e.line(),
        column: e.column(),
        // The position is already in `line`/`column`; serde_json repeats it in its text.
        message: format!(
            "invalid manifest JSON: {}",
            e.to_string()
                .rsplit_once(" at line ")
                .map_or_else(|| e.to_string(), |(what, _)| what.to_string())
        ),
    })?;
    if m.version != MANIFEST_VERSION {
        return Err(ManifestError {
            line: 1,
            column: 1,
            message: format!(
                "manifest version {} is not supported (this qvdiff reads version {MANIFEST_VERSION})",
                m.version
            ),
        });
    }
    Ok(Schema {
        tables: m.tables,
        ..Schema::default()
    }
    .normalized())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::*;

    fn sample() -> Schema {
        let mut items = Table::new(
            "items",
            vec![
                Column::new("id", ColumnType::Integer { bits: 64 }),
                Column {
                    nullable: true,
                    ..Column::new(
                        "notes",
                        ColumnType::Text {
                            max_length: Some(200),
                        },
                    )
                },
                Column {
                    default: Some(DefaultValue::Float(1.5)),
                    ..Column::new("price", ColumnType::Float)
                },
            ],
        );
        items.primary_key = vec!["id".into()];
        items.indexes.push(Index {
            name: "ix_b".into(),
            columns: vec!["notes".into()],
            unique: false,
            predicate: None,
        });
        items.indexes.push(Index {
            name: "ix_a".into(),
            columns: vec!["price".into()],
            unique: true,
            predicate: None,
        });
        items.foreign_keys.push(ForeignKey {
            columns: vec!["id".into()],
            ref_table: "users".into(),
            ref_columns: vec!["id".into()],
            on_delete: FkAction::Cascade,
            on_update: FkAction::NoAction,
        });
        Schema {
            tables: vec![items, Table::new("a_first", vec![])],
            ..Schema::default()
        }
    }

    #[test]
    fn json_round_trip_is_byte_identical() {
        let first = to_json(&sample());
        let again = to_json(&from_json(&first).unwrap());
        assert_eq!(first, again);
        assert!(first.starts_with("{\n  \"version\": 1,\n  \"tables\": ["));
        let a = first.find("\"a_first\"").unwrap();
        let i = first.find("\"items\"").unwrap();
        assert!(a < i, "tables are sorted by name");
        assert!(first.find("\"ix_a\"").unwrap() < first.find("\"ix_b\"").unwrap());
    }

    #[test]
    fn per_dialect_default_keeps_its_manifest_spelling() {
        let per_dialect = DefaultValue::PerDialect(Box::new(PerDialectSql {
            sqlite: "datetime('now')".into(),
            postgres: "now()".into(),
        }));
        let json = serde_json::to_string(&per_dialect).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"per_dialect","value":{"sqlite":"datetime('now')","postgres":"now()"}}"#
        );
        assert_eq!(
            serde_json::from_str::<DefaultValue>(&json).unwrap(),
            per_dialect
        );
    }

    #[test]
    fn wrong_version_is_refused() {
        let err = from_json("{\"version\":2,\"tables\":[]}").unwrap_err();
        assert!(err.message.contains("version 2"), "{err}");
    }

    #[test]
    fn unknown_field_is_refused_with_position() {
        let err = from_json("{\"version\":1,\n\"tables\":[],\"extra\":1}").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("extra"), "{err}");
    }
}
