//! Entity-relationship diagrams of a schema: Mermaid `erDiagram` text (GitHub and GitLab render
//! it inside Markdown) and Graphviz DOT, with foreign keys as edges.
//!
//! Pure and deterministic: tables in schema order (sorted once normalized), columns in table
//! order, edges sorted. [`Marks`] highlight what a migration changes, for the before/after
//! diagrams of `qvdiff review`.

use crate::schema::{ColumnType, Schema, Table};
use crate::summary::TypeNamer;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// How a table or column changed, for highlighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mark {
    /// New in this diagram's schema.
    Added,
    /// Gone from the next schema (shown in the "before" diagram).
    Removed,
    /// Present on both sides, different.
    Changed,
}

impl Mark {
    fn class(self) -> &'static str {
        match self {
            Mark::Added => "added",
            Mark::Removed => "removed",
            Mark::Changed => "changed",
        }
    }
}

/// Highlights for one diagram.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    /// Marked tables.
    pub tables: BTreeMap<String, Mark>,
    /// Marked columns, keyed by `(table, column)`, with a short note (`INTEGER -> REAL`).
    pub columns: BTreeMap<(String, String), (Mark, String)>,
}

/// Words the Mermaid ER grammar reads as keywords; a table with such a name gets an alias.
const MERMAID_KEYWORDS: &[&str] = &[
    "erdiagram",
    "style",
    "classdef",
    "class",
    "subgraph",
    "end",
    "direction",
    "one",
    "only",
    "many",
    "zero",
    "to",
    "optionally",
    "u",
    "title",
    "acctitle",
    "accdescr",
];

/// Mermaid `erDiagram` text of `schema` (only `tables` when given), with `marks` highlighted.
pub fn mermaid(
    schema: &Schema,
    only: Option<&BTreeSet<String>>,
    marks: &Marks,
    ty: TypeNamer,
) -> String {
    let tables: Vec<&Table> = shown(schema, only);
    let ids = entity_ids(&tables);
    let mut out = String::from("erDiagram\n");
    for table in &tables {
        let id = &ids[&table.name];
        // The table's comment shows in its label (an ER diagram has no other place for it).
        let alias = match (&table.comment, id == &table.name) {
            (None, true) => String::new(),
            (None, false) => format!("[\"{}\"]", comment_text(&table.name)),
            (Some(comment), _) => {
                format!(
                    "[\"{}: {}\"]",
                    comment_text(&table.name),
                    comment_text(comment)
                )
            }
        };
        let _ = writeln!(out, "    {id}{alias} {{");
        for column in &table.columns {
            let mut keys = Vec::new();
            if table.primary_key.contains(&column.name) {
                keys.push("PK");
            }
            if table
                .foreign_keys
                .iter()
                .any(|fk| fk.columns.contains(&column.name))
            {
                keys.push("FK");
            }
            let single_unique = table
                .uniques
                .iter()
                .any(|u| u.columns.len() == 1 && u.columns[0] == column.name);
            if single_unique {
                keys.push("UK");
            }
            let mut comment = Vec::new();
            if let Some((mark, note)) = marks
                .columns
                .get(&(table.name.clone(), column.name.clone()))
            {
                let sign = match mark {
                    Mark::Added => "+",
                    Mark::Removed => "-",
                    Mark::Changed => "~",
                };
                comment.push(format!("{sign} {note}").trim().to_string());
            }
            if column.nullable {
                comment.push("NULL".to_string());
            }
            if let Some(values) = enum_values(&column.ty) {
                comment.push(values);
            }
            if let Some(text) = &column.comment {
                comment.push(text.clone());
            }
            let mut line = format!(
                "        {} {}",
                word(&type_word(&column.ty, ty), "BLOB"),
                word(&column.name, "column")
            );
            if !keys.is_empty() {
                line.push(' ');
                line.push_str(&keys.join(", "));
            }
            if !comment.is_empty() {
                let _ = write!(line, " \"{}\"", comment_text(&comment.join(", ")));
            }
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str("    }\n");
    }
    for (parent, child, optional, label) in edges(&tables) {
        let (Some(parent_id), Some(child_id)) = (ids.get(&parent), ids.get(&child)) else {
            continue;
        };
        let left = if optional { "|o" } else { "||" };
        let _ = writeln!(
            out,
            "    {parent_id} {left}--o{{ {child_id} : \"{}\"",
            comment_text(&label)
        );
    }
    let used: BTreeSet<Mark> = marks
        .tables
        .iter()
        .filter(|(t, _)| ids.contains_key(*t))
        .map(|(_, m)| *m)
        .collect();
    for mark in &used {
        let style = match mark {
            Mark::Added => "fill:#dafbe1,stroke:#1a7f37",
            Mark::Removed => "fill:#ffebe9,stroke:#cf222e",
            Mark::Changed => "fill:#fff8c5,stroke:#9a6700",
        };
        let _ = writeln!(out, "    classDef {} {style}", mark.class());
    }
    for (table, mark) in &marks.tables {
        if let Some(id) = ids.get(table) {
            let _ = writeln!(out, "    class {id} {}", mark.class());
        }
    }
    out
}

/// Graphviz DOT text of `schema`: one record node per table, one edge per foreign key.
pub fn dot(schema: &Schema, ty: TypeNamer) -> String {
    let tables = shown(schema, None);
    let mut out = String::from(
        "digraph schema {\n    rankdir=LR;\n    node [shape=record, fontname=\"Helvetica\"];\n",
    );
    for table in &tables {
        let mut rows = Vec::new();
        for column in &table.columns {
            let mut row = format!("{} {}", column.name, type_word(&column.ty, ty));
            if table.primary_key.contains(&column.name) {
                row.push_str(" PK");
            }
            if !column.nullable {
                row.push_str(" NOT NULL");
            }
            if let Some(values) = enum_values(&column.ty) {
                let _ = write!(row, " ({values})");
            }
            if let Some(comment) = &column.comment {
                let _ = write!(row, ": {comment}");
            }
            rows.push(format!("{}\\l", record_text(&row)));
        }
        let title = match &table.comment {
            Some(comment) => format!("{}\\n{}", record_text(&table.name), record_text(comment)),
            None => record_text(&table.name),
        };
        let _ = writeln!(
            out,
            "    {} [label=\"{{{}|{}}}\"];",
            dot_id(&table.name),
            title,
            rows.join("")
        );
    }
    for (parent, child, _, label) in edges(&tables) {
        let _ = writeln!(
            out,
            "    {} -> {} [label={}];",
            dot_id(&child),
            dot_id(&parent),
            dot_id(&label)
        );
    }
    out.push_str("}\n");
    out
}

fn shown<'a>(schema: &'a Schema, only: Option<&BTreeSet<String>>) -> Vec<&'a Table> {
    let mut tables: Vec<&Table> = schema
        .tables
        .iter()
        .filter(|t| only.is_none_or(|o| o.contains(&t.name)))
        .collect();
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    tables
}

/// `(parent, child, child columns nullable, label)` for every foreign key between shown tables,
/// sorted.
fn edges(tables: &[&Table]) -> Vec<(String, String, bool, String)> {
    let names: BTreeSet<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    let mut edges = Vec::new();
    for table in tables {
        for fk in &table.foreign_keys {
            if !names.contains(fk.ref_table.as_str()) {
                continue;
            }
            let optional = fk
                .columns
                .iter()
                .any(|c| table.column(c).is_some_and(|c| c.nullable));
            edges.push((
                fk.ref_table.clone(),
                table.name.clone(),
                optional,
                fk.columns.join(", "),
            ));
        }
    }
    edges.sort();
    edges.dedup();
    edges
}

/// A Mermaid entity id per table: the name itself when Mermaid reads it as a plain word, else a
/// sanitized word (made unique) shown with the real name as alias.
fn entity_ids(tables: &[&Table]) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    let mut taken = BTreeSet::new();
    for table in tables {
        let plain = table
            .name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && table
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !MERMAID_KEYWORDS.contains(&table.name.to_ascii_lowercase().as_str());
        let mut id = if plain {
            table.name.clone()
        } else {
            let cleaned: String = table
                .name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            format!("t_{cleaned}")
        };
        let base = id.clone();
        let mut n = 2;
        while taken.contains(&id) {
            id = format!("{base}_{n}");
            n += 1;
        }
        taken.insert(id.clone());
        ids.insert(table.name.clone(), id);
    }
    ids
}

/// A Mermaid attribute word: letters, digits, `_`, `-`, `(`, `)`, `[`, `]`, `.`, `,` and
/// non-ASCII letters; a run of anything else becomes one `_` (Mermaid reads `__x__` in a label
/// as bold, so replacements must not pile up underscores).
fn word(text: &str, empty: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut replaced = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || "_-()[].,".contains(c) || (c as u32) >= 0xC0 {
            out.push(c);
            replaced = false;
        } else if !replaced {
            out.push('_');
            replaced = true;
        }
    }
    if out.is_empty() {
        out = empty.to_string();
    }
    if !out
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (c as u32) >= 0xC0)
    {
        out.insert(0, '_');
    }
    out
}

/// The type a column shows: an enum as the models name it (`item_condition`) on every
/// dialect, rather than the text column SQLite stores it in; other types as the dialect writes
/// them.
fn type_word(column_type: &ColumnType, ty: TypeNamer) -> String {
    match column_type {
        ColumnType::Enum { name, .. } => name.clone(),
        _ => unquoted(&ty(column_type)).to_string(),
    }
}

/// `one of new, used`: the values an enum column accepts, in declaration order.
fn enum_values(column_type: &ColumnType) -> Option<String> {
    match column_type {
        ColumnType::Enum { values, .. } if !values.is_empty() => {
            Some(format!("one of {}", values.join(", ")))
        }
        _ => None,
    }
}

/// A type named by a quoted identifier (a PostgreSQL enum type, `"item_condition"`) as people
/// read it: the quotes would otherwise become `_` around the name. Other types as they are.
fn unquoted(type_name: &str) -> &str {
    type_name
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|t| !t.contains('"'))
        .unwrap_or(type_name)
}

/// Text inside a Mermaid `"…"`: no double quotes, `%` or line breaks.
fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            '%' | '\\' => '_',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

fn dot_id(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Text inside a DOT record label, with its special characters escaped.
fn record_text(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if "{}|<>\"\\".contains(c) {
            out.push('\\');
        }
        if c.is_control() {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, ColumnType, FkAction, ForeignKey};

    fn schema() -> Schema {
        let mut users = Table::new(
            "users",
            vec![Column::new("id", ColumnType::Integer { bits: 64 })],
        );
        users.primary_key = vec!["id".into()];
        let mut notes = Column::new("notes", ColumnType::Text { max_length: None });
        notes.nullable = true;
        let mut items = Table::new(
            "items",
            vec![
                Column::new("id", ColumnType::Integer { bits: 64 }),
                Column::new("user_id", ColumnType::Integer { bits: 64 }),
                notes,
            ],
        );
        items.primary_key = vec!["id".into()];
        items.foreign_keys = vec![ForeignKey {
            columns: vec!["user_id".into()],
            ref_table: "users".into(),
            ref_columns: vec!["id".into()],
            on_delete: FkAction::Cascade,
            on_update: FkAction::NoAction,
        }];
        let mut odd = Table::new(
            "order items",
            vec![Column::new("id", ColumnType::Integer { bits: 64 })],
        );
        odd.primary_key = vec!["id".into()];
        Schema {
            tables: vec![items, odd, users],
            ..Schema::default()
        }
    }

    fn namer(t: &ColumnType) -> String {
        t.logical_name()
    }

    #[test]
    fn mermaid_has_entities_keys_edges_and_marks() {
        let mut marks = Marks::default();
        marks.tables.insert("items".into(), Mark::Changed);
        marks.columns.insert(
            ("items".into(), "notes".into()),
            (Mark::Added, "added".into()),
        );
        let text = mermaid(&schema(), None, &marks, &namer);
        assert_eq!(
            text,
            "erDiagram
    items {
        INTEGER id PK
        INTEGER user_id FK
        TEXT notes \"+ added, NULL\"
    }
    t_order_items[\"order items\"] {
        INTEGER id PK
    }
    users {
        INTEGER id PK
    }
    users ||--o{ items : \"user_id\"
    classDef changed fill:#fff8c5,stroke:#9a6700
    class items changed
"
        );
    }

    #[test]
    fn dot_has_records_and_edges() {
        let text = dot(&schema(), &namer);
        assert!(
            text.contains("\"items\" -> \"users\" [label=\"user_id\"];"),
            "{text}"
        );
        assert!(
            text.contains("\"order items\" [label=\"{order items|id INTEGER PK NOT NULL\\l}\"];"),
            "{text}"
        );
    }
}
