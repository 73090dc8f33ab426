//! Enum types in a plan: `CREATE TYPE … AS ENUM` before the tables that use them, values added
//! or renamed in place (`ALTER TYPE … ADD VALUE … BEFORE/AFTER`, `RENAME VALUE`), a new type
//! and a column swap when values go (or change order), and `DROP TYPE` once nothing uses one.
//!
//! A Schema has no types of its own: an enum type is what its columns say (`ColumnType::Enum`
//! with the type's name and values), and every column of one Rust enum says the same.

use crate::render::{limit_name, quote_ident, quote_string};
use qvdiff_core::{Change, ColumnType, EnumChange, Schema};
use std::collections::{BTreeMap, BTreeSet};

/// What a plan does to enum types, around its table steps.
#[derive(Debug, Default)]
pub(crate) struct EnumPlan {
    /// Before any table step: types created, changed in place, or renamed away to be replaced.
    pub before: Vec<String>,
    /// After every table step: types no column uses any more.
    pub after: Vec<String>,
    /// Types changed in place: their columns need no `ALTER COLUMN … TYPE`.
    pub in_place: BTreeSet<String>,
    /// Renamed values per type, `(old, new)`: the column swap maps rows through them.
    pub renames: BTreeMap<String, Vec<(String, String)>>,
}

/// Every enum type the columns of `schema` use: name → values.
fn enum_types(schema: &Schema) -> BTreeMap<&str, &[String]> {
    let mut types = BTreeMap::new();
    for table in &schema.tables {
        for column in &table.columns {
            if let ColumnType::Enum { name, values, .. } = &column.ty {
                types.insert(name.as_str(), values.as_slice());
            }
        }
    }
    types
}

/// The enum steps of a plan from `from` to `to` (`changes` carry the variant renames).
pub(crate) fn plan_enums(from: &Schema, to: &Schema, changes: &[Change]) -> EnumPlan {
    let old_types = enum_types(from);
    let new_types = enum_types(to);
    let mut plan = EnumPlan::default();
    for (&name, &values) in &new_types {
        let Some(&old_values) = old_types.get(name) else {
            plan.before.push(create_type_sql(name, values));
            continue;
        };
        if old_values == values {
            continue;
        }
        let change = type_change(name, changes).unwrap_or_else(|| EnumChange {
            added: values
                .iter()
                .filter(|v| !old_values.contains(v))
                .cloned()
                .collect(),
            removed: old_values
                .iter()
                .filter(|v| !values.contains(v))
                .cloned()
                .collect(),
            ..EnumChange::default()
        });
        if !change.renamed.is_empty() {
            plan.renames
                .insert(name.to_string(), change.renamed.clone());
        }
        if change.in_place {
            plan.in_place.insert(name.to_string());
            plan.before.extend(in_place_sql(name, values, &change));
        } else {
            // Values go or move: a new type, each column swapped to it (its rows converted
            // through text, renamed values mapped), then the old type dropped.
            let old_name = replaced_type_name(name);
            plan.before.push(format!(
                "ALTER TYPE {} RENAME TO {};",
                quote_ident(name),
                quote_ident(&old_name)
            ));
            plan.before.push(create_type_sql(name, values));
            plan.after
                .push(format!("DROP TYPE {};", quote_ident(&old_name)));
        }
    }
    for &name in old_types.keys() {
        if !new_types.contains_key(name) {
            plan.after.push(format!("DROP TYPE {};", quote_ident(name)));
        }
    }
    plan
}

/// The change of type `name` as an altered column of it says (with the renames it carries).
fn type_change(name: &str, changes: &[Change]) -> Option<EnumChange> {
    changes.iter().find_map(|change| match change {
        Change::AlterColumn { from, to, .. }
            if matches!((&from.ty, &to.ty), (
                ColumnType::Enum { name: a, .. },
                ColumnType::Enum { name: b, .. },
            ) if a == name && b == name) =>
        {
            EnumChange::between(&from.ty, &to.ty)
        }
        _ => None,
    })
}

/// The name the old type takes while its columns move to the new one.
fn replaced_type_name(name: &str) -> String {
    limit_name(&format!("{name}_qvdiff_old"))
}

fn create_type_sql(name: &str, values: &[String]) -> String {
    let values: Vec<String> = values.iter().map(|v| quote_string(v)).collect();
    format!(
        "CREATE TYPE {} AS ENUM ({});",
        quote_ident(name),
        values.join(", ")
    )
}

/// `RENAME VALUE` for each rename, then `ADD VALUE` for each new value at its place: after the
/// value before it, or (for values ahead of every kept one) before the first kept value.
fn in_place_sql(name: &str, values: &[String], change: &EnumChange) -> Vec<String> {
    let quoted = quote_ident(name);
    let mut steps: Vec<String> = change
        .renamed
        .iter()
        .map(|(old, new)| {
            format!(
                "ALTER TYPE {quoted} RENAME VALUE {} TO {};",
                quote_string(old),
                quote_string(new)
            )
        })
        .collect();
    let first_kept = values.iter().find(|v| !change.added.contains(v));
    for (at, value) in values.iter().enumerate() {
        if !change.added.contains(value) {
            continue;
        }
        let place = match (
            values[..at].iter().any(|v| !change.added.contains(v)),
            first_kept,
        ) {
            (true, _) => format!(" AFTER {}", quote_string(&values[at - 1])),
            (false, Some(kept)) => format!(" BEFORE {}", quote_string(kept)),
            (false, None) => String::new(),
        };
        steps.push(format!(
            "ALTER TYPE {quoted} ADD VALUE {}{place};",
            quote_string(value)
        ));
    }
    steps
}

/// The `USING` expression of a column moving to enum type `to`: through text, renamed values
/// mapped to their new names.
pub(crate) fn using_enum(column: &str, to_type: &str, renames: &[(String, String)]) -> String {
    let quoted = quote_ident(column);
    if renames.is_empty() {
        return format!("{quoted}::text::{}", quote_ident(to_type));
    }
    let mut case = format!("CASE {quoted}::text");
    for (old, new) in renames {
        case.push_str(&format!(
            " WHEN {} THEN {}",
            quote_string(old),
            quote_string(new)
        ));
    }
    case.push_str(&format!(" ELSE {quoted}::text END"));
    format!("({case})::{}", quote_ident(to_type))
}

/// How many example keys a refusal lists at most.
const MAX_EXAMPLE_KEYS: usize = 5;

/// Why a column swap to a new enum type failed, in rows: the server says only `invalid input
/// value for enum task_status: "blocked"`. Run after the rollback (the database is as before the
/// revision), it counts, per column of that type, the rows holding the value, with example keys:
/// `2 rows of tasks hold values of status that enum task_status no longer has ('blocked') (ids
/// 2, 4)`, and how to get past it. `None` when the message is of another kind or no row holds
/// the value.
pub(crate) fn explain_removed_value(
    session: &mut (impl crate::session::Session + ?Sized),
    message: &str,
) -> Option<String> {
    let rest = message.split("invalid input value for enum ").nth(1)?;
    let (type_name, rest) = rest.split_once(": \"")?;
    let value = rest.split('"').next()?;
    let type_name = type_name.trim().trim_matches('"');
    let columns = session
        .simple_query(&format!(
            "SELECT c.relname::text, a.attname::text FROM pg_catalog.pg_attribute a \
             JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
             WHERE t.typname = {} AND t.typnamespace = c.relnamespace \
               AND c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace \
                                     WHERE nspname = current_schema()) \
               AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY 1, 2",
            quote_string(type_name)
        ))
        .ok()?;
    let mut found = Vec::new();
    for row in columns {
        let (Some(Some(table)), Some(Some(column))) = (row.first(), row.get(1)) else {
            continue;
        };
        let condition = format!("{}::text = {}", quote_ident(column), quote_string(value));
        let count = session
            .query_value(&format!(
                "SELECT count(*) FROM {} WHERE {condition}",
                quote_ident(table)
            ))
            .ok()
            .flatten()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if count == 0 {
            continue;
        }
        let key_columns: Vec<String> = session
            .simple_query(&format!(
                "SELECT a.attname::text FROM pg_catalog.pg_index i \
                 JOIN pg_catalog.pg_attribute a \
                   ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                 WHERE i.indrelid = {}::regclass AND i.indisprimary ORDER BY a.attnum",
                quote_string(&quote_ident(table))
            ))
            .ok()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|row| row.into_iter().next().flatten())
            .collect();
        let (label, key_list) = match key_columns.as_slice() {
            [] => ("ctids".to_string(), "ctid".to_string()),
            [single] if single == "id" => ("ids".to_string(), quote_ident(single)),
            _ => (
                key_columns.join(", "),
                key_columns
                    .iter()
                    .map(|c| quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        };
        let keys: Vec<String> = session
            .simple_query(&format!(
                "SELECT ({key_list})::text FROM {} WHERE {condition} ORDER BY {key_list} LIMIT {}",
                quote_ident(table),
                MAX_EXAMPLE_KEYS
            ))
            .ok()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|row| row.into_iter().next().flatten())
            .collect();
        let more = if count > keys.len() as u64 {
            ", …"
        } else {
            ""
        };
        found.push(format!(
            "{count} row{} of {table} {} of {column} that enum {type_name} no longer has \
             ('{value}') ({label} {}{more})",
            if count == 1 { "" } else { "s" },
            if count == 1 {
                "holds a value"
            } else {
                "hold values"
            },
            keys.join(", ")
        ));
    }
    if found.is_empty() {
        return None;
    }
    Some(format!(
        "{}\n  hint: move those rows to a value the enum keeps first (e.g. `UPDATE … SET … = …` \
         in a migration before this one), or keep the variant in the model",
        found.join("\n  ")
    ))
}
