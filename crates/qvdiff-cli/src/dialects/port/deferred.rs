//! Indexes and constraints built after the load instead of row by row during it.
//!
//! Inside the port's transaction, before the first row, the foreign keys that touch the copied
//! tables, their primary keys and unique constraints, and their other indexes are dropped; after
//! the last row they are created again from the definitions PostgreSQL printed for them
//! (`pg_get_constraintdef`, `pg_get_indexdef`), with the same names, in the order indexes,
//! keys, foreign keys, each with its comment. Creating an index once over sorted rows, and checking a foreign key with
//! one join, is much faster than maintaining and checking them for every copied row; the schema
//! after the commit is the one the migrations built. An object the history does not let go
//! (another object depends on it, such as a view) is left in place: its drop is tried in a
//! savepoint and rolled back, and the copy maintains it row by row. Exclusion constraints are
//! always left in place.

use super::pg_failure;
use crate::error::CliResult;
use crate::output::Console;
use postgres::GenericClient;
use qvdiff_core::Table;

/// One object dropped for the load, and how to create it again.
#[derive(Debug, Clone)]
struct Dropped {
    /// What it is, for messages: `foreign key items_user_id_fkey on items`.
    what: String,
    /// The statement that creates it again.
    create: String,
}

/// The objects dropped before the load, in the order they are created again.
#[derive(Debug, Default)]
pub struct Deferred {
    dropped: Vec<Dropped>,
}

/// Finds the constraints and indexes of `tables` (and foreign keys pointing at them), drops each
/// one the database lets go, and returns how to create them again. Runs inside the caller's
/// transaction.
pub fn drop_for_load(target: &mut impl GenericClient, tables: &[&Table]) -> CliResult<Deferred> {
    let names: Vec<String> = tables
        .iter()
        .map(|t| qvdiff_postgres::quote_ident(&t.name))
        .collect();
    // Foreign keys first (they depend on the keys they reference), then keys, then indexes.
    let constraints = target
        .query(
            "SELECT c.conrelid::regclass::text, quote_ident(c.conname), \
                    pg_get_constraintdef(c.oid), c.contype = 'f', \
                    'COMMENT ON CONSTRAINT ' || quote_ident(c.conname) || ' ON ' \
                      || c.conrelid::regclass::text || ' IS ' \
                      || quote_literal(obj_description(c.oid, 'pg_constraint')) \
             FROM pg_constraint c \
             WHERE (c.contype IN ('p', 'u') AND c.conrelid = ANY($1::text[]::regclass[])) \
                OR (c.contype = 'f' AND (c.conrelid = ANY($1::text[]::regclass[]) \
                                         OR c.confrelid = ANY($1::text[]::regclass[]))) \
             ORDER BY c.contype = 'f' DESC, c.oid",
            &[&names],
        )
        .map_err(|e| pg_failure("listing the target's constraints".to_string(), e))?;
    let indexes = target
        .query(
            "SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, \
                    pg_get_indexdef(i.indexrelid), \
                    'COMMENT ON INDEX ' || i.indexrelid::regclass::text || ' IS ' \
                      || quote_literal(obj_description(i.indexrelid, 'pg_class')) \
             FROM pg_index i \
             WHERE i.indrelid = ANY($1::text[]::regclass[]) \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c \
                               WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid \
                                 AND c.contype IN ('p', 'u', 'x')) \
             ORDER BY i.indexrelid",
            &[&names],
        )
        .map_err(|e| pg_failure("listing the target's indexes".to_string(), e))?;

    let mut foreign_keys = Vec::new();
    let mut keys = Vec::new();
    for row in &constraints {
        let (table, name, definition, foreign): (String, String, String, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let comment: Option<String> = row.get(4);
        let dropped = Dropped {
            what: format!(
                "{} {name} on {table}",
                if foreign { "foreign key" } else { "key" }
            ),
            create: with_comment(
                format!("ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"),
                comment,
            ),
        };
        if try_drop(
            target,
            &format!("ALTER TABLE {table} DROP CONSTRAINT {name}"),
        )? {
            if foreign {
                foreign_keys.push(dropped);
            } else {
                keys.push(dropped);
            }
        }
    }
    let mut plain = Vec::new();
    for row in &indexes {
        let (table, name, definition): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        let comment: Option<String> = row.get(3);
        if try_drop(target, &format!("DROP INDEX {name}"))? {
            plain.push(Dropped {
                what: format!("index {name} on {table}"),
                create: with_comment(definition, comment),
            });
        }
    }
    let mut dropped = plain;
    dropped.extend(keys);
    dropped.extend(foreign_keys);
    Ok(Deferred { dropped })
}

/// `create`, followed by the `COMMENT ON …` that gives the object its comment back, if it had one.
fn with_comment(create: String, comment: Option<String>) -> String {
    match comment {
        Some(comment) => format!("{create};\n{comment}"),
        None => create,
    }
}

/// Runs `drop` in a savepoint; `false` (and nothing changed) when the database refuses it.
fn try_drop(target: &mut impl GenericClient, drop: &str) -> CliResult<bool> {
    let mut savepoint = target
        .transaction()
        .map_err(|e| pg_failure("starting a savepoint".to_string(), e))?;
    if savepoint.batch_execute(drop).is_ok() {
        savepoint
            .commit()
            .map_err(|e| pg_failure("releasing a savepoint".to_string(), e))?;
        Ok(true)
    } else {
        savepoint
            .rollback()
            .map_err(|e| pg_failure("rolling back a savepoint".to_string(), e))?;
        Ok(false)
    }
}

impl Deferred {
    /// Creates every dropped object again (a foreign key checks every copied row here).
    pub fn restore(self, target: &mut impl GenericClient, console: &Console) -> CliResult<()> {
        for dropped in self.dropped {
            console.progress(&format!("building {}", dropped.what));
            target.batch_execute(&dropped.create).map_err(|e| {
                pg_failure(
                    format!("building {} (nothing was committed)", dropped.what),
                    e,
                )
            })?;
        }
        Ok(())
    }
}
