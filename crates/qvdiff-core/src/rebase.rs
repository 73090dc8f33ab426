//! Three-way merge of schemas, for `qvdiff rebase`: my migration took the schema from `base` to
//! `mine`; a teammate's took it from `base` to `theirs`; rebased, mine must take `theirs` to
//! [`merge3`]`(base, theirs, mine)`: their changes and mine, both kept.
//!
//! Tables are matched by name, and inside a table columns by name; the other parts of a table
//! (key, uniques, indexes, foreign keys, checks) each as a whole. A part changed on one side
//! only takes that side; changed on both sides the same way, it is taken once; changed on both
//! sides differently, it is a conflict: the rebase is refused and a merge revision is the way
//! out, since no order of the two changes is obviously right.

use crate::schema::{Column, Schema, Table};

/// A part of the schema both sides changed differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The table.
    pub table: String,
    /// What in it (`column notes`, `indexes`, `the table`).
    pub part: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of table {}", self.part, self.table)
    }
}

/// Picks the side that changed `base`: both unchanged or changed alike give that value; changed
/// differently gives `None`.
fn pick<T: PartialEq + Clone>(base: &T, theirs: &T, mine: &T) -> Option<T> {
    if theirs == base || theirs == mine {
        Some(mine.clone())
    } else if mine == base {
        Some(theirs.clone())
    } else {
        None
    }
}

fn by_name<'a>(tables: &'a [Table], name: &str) -> Option<&'a Table> {
    tables.iter().find(|t| t.name == name)
}

fn column<'a>(table: Option<&'a Table>, name: &str) -> Option<&'a Column> {
    table.and_then(|t| t.columns.iter().find(|c| c.name == name))
}

/// Names in first-seen order over several lists.
fn names<'a>(lists: impl IntoIterator<Item = impl IntoIterator<Item = &'a str>>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for list in lists {
        for name in list {
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// The schema with both sides' changes since `base`, or every conflict.
pub fn merge3(base: &Schema, theirs: &Schema, mine: &Schema) -> Result<Schema, Vec<Conflict>> {
    let mut conflicts = Vec::new();
    let mut tables = Vec::new();
    let table_names = names(
        [&theirs.tables, &mine.tables, &base.tables]
            .map(|tables| tables.iter().map(|t| t.name.as_str())),
    );
    for name in table_names {
        let (b, t, m) = (
            by_name(&base.tables, name),
            by_name(&theirs.tables, name),
            by_name(&mine.tables, name),
        );
        if let Some(whole) = pick(&b, &t, &m) {
            tables.extend(whole.cloned());
            continue;
        }
        // Both sides changed the table; merge inside it when both still have it.
        let (Some(b), Some(t), Some(m)) = (b, t, m) else {
            conflicts.push(Conflict {
                table: name.to_string(),
                part: "the table (dropped or created on one side, changed on the other)"
                    .to_string(),
            });
            continue;
        };
        let mut merged = t.clone();
        merged.columns.clear();
        let column_names = names(
            [&t.columns, &m.columns, &b.columns].map(|cols| cols.iter().map(|c| c.name.as_str())),
        );
        for col in column_names {
            match pick(
                &column(Some(b), col),
                &column(Some(t), col),
                &column(Some(m), col),
            ) {
                Some(chosen) => merged.columns.extend(chosen.cloned()),
                None => conflicts.push(Conflict {
                    table: name.to_string(),
                    part: format!("column {col}"),
                }),
            }
        }
        let mut part = |what: &str, ok: bool| {
            if !ok {
                conflicts.push(Conflict {
                    table: name.to_string(),
                    part: what.to_string(),
                });
            }
        };
        match pick(&b.primary_key, &t.primary_key, &m.primary_key) {
            Some(v) => merged.primary_key = v,
            None => part("the primary key", false),
        }
        match pick(&b.uniques, &t.uniques, &m.uniques) {
            Some(v) => merged.uniques = v,
            None => part("the unique constraints", false),
        }
        match pick(&b.indexes, &t.indexes, &m.indexes) {
            Some(v) => merged.indexes = v,
            None => part("the indexes", false),
        }
        match pick(&b.foreign_keys, &t.foreign_keys, &m.foreign_keys) {
            Some(v) => merged.foreign_keys = v,
            None => part("the foreign keys", false),
        }
        match pick(&b.checks, &t.checks, &m.checks) {
            Some(v) => merged.checks = v,
            None => part("the checks", false),
        }
        tables.push(merged);
    }
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    let raw = |b: &Vec<_>, t: &Vec<_>, m: &Vec<_>| pick(b, t, m);
    let (Some(views), Some(triggers)) = (
        raw(&base.views, &theirs.views, &mine.views),
        raw(&base.triggers, &theirs.triggers, &mine.triggers),
    ) else {
        return Err(vec![Conflict {
            table: "(views and triggers)".to_string(),
            part: "the views or triggers".to_string(),
        }]);
    };
    Ok(Schema {
        tables,
        views,
        triggers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ColumnType;

    fn col(name: &str) -> Column {
        Column::new(name, ColumnType::Text { max_length: None })
    }

    fn schema(tables: &[(&str, &[&str])]) -> Schema {
        Schema {
            tables: tables
                .iter()
                .map(|(name, cols)| Table::new(*name, cols.iter().map(|c| col(c)).collect()))
                .collect(),
            ..Schema::default()
        }
    }

    #[test]
    fn both_sides_kept_and_conflicts_named() {
        let base = schema(&[("items", &["id"]), ("users", &["id"])]);
        let theirs = schema(&[("items", &["id", "notes"]), ("users", &["id"])]);
        let mine = schema(&[("items", &["id", "sku"]), ("users", &["id", "name"])]);
        let merged = merge3(&base, &theirs, &mine).unwrap();
        assert_eq!(
            merged,
            schema(&[
                ("items", &["id", "notes", "sku"]),
                ("users", &["id", "name"])
            ])
        );
        let mut other = mine.clone();
        other.tables[0].columns[0].nullable = true;
        let mut conflicting = theirs.clone();
        conflicting.tables[0].columns[0].ty = ColumnType::Blob;
        let err = merge3(&base, &conflicting, &other).unwrap_err();
        assert_eq!(err[0].to_string(), "column id of table items");
        let dropped = schema(&[("users", &["id"])]);
        assert!(merge3(&base, &dropped, &mine).is_err());
        assert_eq!(merge3(&base, &dropped, &base).unwrap(), dropped);
    }
}
