//! Rows that block a migration step, as both dialects' runners report them.
//!
//! Before a step that existing data can break (NOT NULL over NULLs, UNIQUE over duplicates, a
//! foreign key over orphans, a CHECK over rows that break it, a type change over values that do
//! not convert or fit), each dialect's runner counts the rows in the way and picks a few example
//! keys; this module is the one description of such a problem and of its message, so a refusal
//! reads the same on SQLite and PostgreSQL.

use std::fmt;

use crate::wording::plural;

/// How many example keys a [`DataProblem`] lists at most.
pub const MAX_EXAMPLE_KEYS: usize = 5;

/// How many duplicated values a [`DataProblemKind::Duplicate`] shows at most.
pub const MAX_EXAMPLE_VALUES: usize = 3;

/// One value shared by several rows where it must become unique, with those rows' keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateGroup {
    /// The shared value, as an SQL literal (a parenthesised tuple for several columns).
    pub value: String,
    /// Up to [`MAX_EXAMPLE_KEYS`] keys of the rows holding it, in key order.
    pub keys: Vec<String>,
    /// Whether more rows hold it than `keys` lists.
    pub more: bool,
}

/// What existing rows do that a migration step does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataProblemKind {
    /// Rows with NULL in a column that becomes NOT NULL.
    Null {
        /// The column.
        column: String,
    },
    /// Rows sharing a value where it must become unique.
    Duplicate {
        /// The columns of the unique constraint or index.
        columns: Vec<String>,
        /// How many distinct values occur more than once.
        duplicated_values: u64,
        /// Up to [`MAX_EXAMPLE_VALUES`] of those values, first the one whose first row comes
        /// first in key order.
        groups: Vec<DuplicateGroup>,
    },
    /// Rows holding a value an enum column no longer accepts (a variant removed).
    NotAVariant {
        /// The column.
        column: String,
        /// The enum type.
        type_name: String,
        /// The values held that are not variants any more, sorted.
        values: Vec<String>,
    },
    /// Rows whose foreign key points at a missing parent row.
    Orphan {
        /// The referencing columns.
        columns: Vec<String>,
        /// The parent table.
        parent: String,
    },
    /// Rows for which a CHECK that is being added or validated is false.
    Check {
        /// The constraint's name.
        name: String,
    },
    /// Rows whose value in a column that changed type SQLite kept as it was, unconverted
    /// (text left in an INTEGER column): the app would read back a value of the old kind.
    Unconverted {
        /// The column.
        column: String,
        /// Its new declared type.
        declared_type: String,
        /// Up to [`MAX_EXAMPLE_KEYS`] of those values as SQL literals, in key order (the
        /// example keys' order).
        values: Vec<String>,
    },
    /// Rows whose value of a column does not convert to its new type, or would come out
    /// changed (text cut to a shorter length, a number rounded).
    Conversion {
        /// The column.
        column: String,
        /// The new type, as the dialect spells it.
        to: String,
        /// Up to [`MAX_EXAMPLE_KEYS`] of those values as SQL literals, in key order (the
        /// example keys' order); empty when they could not be read.
        values: Vec<String>,
    },
}

/// Rows of one table that block a migration step, with a few of their keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataProblem {
    /// The table holding the rows.
    pub table: String,
    /// What is wrong with them.
    pub kind: DataProblemKind,
    /// How many rows.
    pub rows: u64,
    /// What the example keys are (`ids`, `rowids`, or the key column names).
    pub key_label: String,
    /// Up to [`MAX_EXAMPLE_KEYS`] keys of such rows, formatted as SQL literals.
    pub example_keys: Vec<String>,
}

impl DataProblem {
    /// How a user gets past this problem.
    pub fn hint(&self) -> String {
        match &self.kind {
            DataProblemKind::Null { column } => format!(
                "add #[column(backfill = …)] (or backfill_sql) to {}.{column} and regenerate the \
                 migration, or fill in those rows first",
                self.table
            ),
            DataProblemKind::Duplicate { .. } => format!(
                "remove or change the duplicate rows of {} first, or drop the unique constraint \
                 from the model",
                self.table
            ),
            DataProblemKind::Orphan { parent, .. } => format!(
                "delete those rows of {} or insert the missing rows of {parent} first",
                self.table
            ),
            DataProblemKind::NotAVariant { column, .. } => format!(
                "move those rows of {} to a value the enum keeps first (e.g. `UPDATE … SET \
                 {column} = …` in a migration before this one), or keep the variant in the model",
                self.table
            ),
            DataProblemKind::Check { name } => format!(
                "change those rows of {} first, or change the check {name} in the model",
                self.table
            ),
            DataProblemKind::Unconverted { column, .. }
            | DataProblemKind::Conversion { column, .. } => format!(
                "give the conversion in the model with #[column(using = \"…\")] on {}.{column} \
                 (an SQL expression over the old columns, e.g. CAST(…) or CASE … END) and \
                 regenerate the migration, or fix those rows first",
                self.table
            ),
        }
    }
}

/// The nouns a key label can be (`ids`, …), each said in the singular before a single key.
const KEY_NOUNS: [&str; 3] = ["id", "rowid", "ctid"];

impl DataProblem {
    /// The key label as it reads before `keys` keys: `id 2`, `ids 2, 4`; key column names
    /// (`user_id, sku`) are said as they are.
    fn key_label_before(&self, keys: usize) -> String {
        match KEY_NOUNS
            .iter()
            .find(|noun| self.key_label.strip_suffix('s') == Some(**noun))
        {
            Some(noun) => format!("{noun}{}", plural(keys)),
            None => self.key_label.clone(),
        }
    }

    /// `: 'x1', 'ten'` (`, …` when more rows hold such values): the values a type change
    /// does not convert, the same on both dialects.
    fn example_values(&self, values: &[String]) -> String {
        if values.is_empty() {
            return String::new();
        }
        let more = if self.rows > values.len() as u64 {
            ", …"
        } else {
            ""
        };
        format!(": {}{more}", values.join(", "))
    }
}

impl fmt::Display for DataProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = format!(
            "{} row{} of {}",
            self.rows,
            plural(self.rows as usize),
            self.table
        );
        match &self.kind {
            DataProblemKind::Null { column } => write!(
                f,
                "{rows} {} NULL in {column}",
                if self.rows == 1 { "has" } else { "have" }
            )?,
            DataProblemKind::Duplicate {
                columns,
                duplicated_values,
                groups,
            } => {
                write!(
                    f,
                    "{rows} share their value of ({}) with another row ({duplicated_values} \
                     duplicated value{})",
                    columns.join(", "),
                    plural(*duplicated_values as usize)
                )?;
                if groups.is_empty() {
                    return Ok(());
                }
                let name = match columns.as_slice() {
                    [single] => single.clone(),
                    _ => format!("({})", columns.join(", ")),
                };
                let shown: Vec<String> = groups
                    .iter()
                    .map(|g| {
                        format!(
                            "{name} {} on {} {}{}",
                            g.value,
                            self.key_label_before(g.keys.len()),
                            g.keys.join(", "),
                            if g.more { ", …" } else { "" }
                        )
                    })
                    .collect();
                let more = if *duplicated_values > groups.len() as u64 {
                    "; …"
                } else {
                    ""
                };
                return write!(f, ": {}{more}", shown.join("; "));
            }
            DataProblemKind::Orphan { columns, parent } => write!(
                f,
                "{rows} reference a missing row of {parent} (through {})",
                columns.join(", ")
            )?,
            DataProblemKind::NotAVariant {
                column,
                type_name,
                values,
            } => write!(
                f,
                "{rows} {} of {column} that enum {type_name} no longer has ({})",
                if self.rows == 1 {
                    "holds a value"
                } else {
                    "hold values"
                },
                values.join(", ")
            )?,
            DataProblemKind::Check { name } => write!(
                f,
                "{rows} {} the check {name}",
                if self.rows == 1 { "breaks" } else { "break" }
            )?,
            DataProblemKind::Unconverted {
                column,
                declared_type,
                values,
            } => {
                let (hold, them, it) = match self.rows {
                    1 => ("holds a value", "does not convert", "it"),
                    _ => ("hold values", "do not convert", "them"),
                };
                write!(
                    f,
                    "{rows} {hold} in {column} that {them} to {declared_type} (SQLite would \
                     keep {it} unconverted){}",
                    self.example_values(values)
                )?
            }
            DataProblemKind::Conversion { column, to, values } => {
                let (hold, them, it) = match self.rows {
                    1 => ("holds a value", "does not convert", "it does"),
                    _ => ("hold values", "do not convert", "they do"),
                };
                write!(
                    f,
                    "{rows} {hold} in {column} that {them} to {to} unchanged ({it} not fit, or \
                     would be cut or rounded){}",
                    self.example_values(values)
                )?
            }
        }
        if !self.example_keys.is_empty() {
            let more = if self.rows > self.example_keys.len() as u64 {
                ", …"
            } else {
                ""
            };
            write!(
                f,
                " ({} {}{more})",
                self.key_label_before(self.example_keys.len()),
                self.example_keys.join(", ")
            )?;
        }
        Ok(())
    }
}
