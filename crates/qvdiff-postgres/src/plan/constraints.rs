//! Constraints on tables: the foreign keys dropped, suspended around a key they point at and
//! restored, and the foreign keys, CHECKs and NOT NULLs added.
//!
//! # Added to a table that exists before the migration
//!
//! Checking the rows already there reads the whole table. Done in the statement that adds the
//! constraint, that read happens under the statement's lock (`SHARE ROW EXCLUSIVE` for a
//! foreign key, `ACCESS EXCLUSIVE` for a CHECK or `SET NOT NULL`), which stops every write for
//! as long as it takes. So, unless [`Postgres::online_ddl`](super::Postgres) is off:
//!
//! - a foreign key or CHECK is added `NOT VALID` (it binds new writes at once and reads no
//!   row), then `ALTER TABLE … VALIDATE CONSTRAINT` reads the rows under `SHARE UPDATE
//!   EXCLUSIVE`, which lets writes through;
//! - nullable → NOT NULL is a `CHECK (col IS NOT NULL)` added `NOT VALID` and validated the same
//!   way, then `SET NOT NULL`, which PostgreSQL (12 and later) proves from the validated CHECK
//!   without reading a row, and the CHECK is dropped.
//!
//! `VALIDATE` lets writes through only when the `ADD`'s stronger lock was already let go:
//! inside the same transaction it would keep that lock for the whole read. So a `VALIDATE`
//! step is one that runs on its own (`StepFacts::outside_transaction`, the file's
//! `-- OUTSIDE TRANSACTION:` note): its revision runs statement by statement, each in a
//! transaction of its own, recorded when done (the runner recognises `VALIDATE CONSTRAINT` by
//! its SQL, see `sqltext::runs_on_its_own`). A table created by the same migration holds no
//! rows: it keeps the plain statements, inside the transaction.

use super::{Planner, SuspendedForeignKey, TableWork};
use crate::ddl::{
    add_constraint_sql, check_clause, check_comment_sql, drop_constraint_sql, foreign_key_clause,
};
use crate::render::{foreign_key_name, limit_name, quote_ident};
use qvdiff_core::{Check, ForeignKey, LockMode, PlanError, Step, StepFacts, Table};
use std::collections::BTreeSet;

/// The name of the CHECK that proves a column NOT NULL before `SET NOT NULL` (dropped right
/// after). Not `<table>_<column>_not_null`: PostgreSQL 18 names its own NOT NULL constraints so.
fn not_null_check_name(table: &str, column: &str) -> String {
    limit_name(&format!("{table}_{column}_not_null_check"))
}

impl Planner<'_> {
    /// Phase 1: the foreign keys that go, those suspended around a change of what they
    /// reference, and those between dropped tables that would block the drops.
    pub(super) fn drop_foreign_keys(
        &mut self,
        works: &[TableWork],
        suspended: &[SuspendedForeignKey],
        drop_order: &[Table],
    ) {
        for work in works {
            for foreign_key in &work.dropped_foreign_keys {
                self.locking(
                    drop_constraint_sql(
                        &work.from_name,
                        &foreign_key_name(&work.from_name, foreign_key),
                    ),
                    &work.from_name,
                    LockMode::AccessExclusive,
                    false,
                    false,
                );
            }
        }
        for held in suspended {
            self.locking(
                drop_constraint_sql(
                    &held.from_table,
                    &foreign_key_name(&held.from_table, &held.foreign_key),
                ),
                &held.from_table,
                LockMode::AccessExclusive,
                false,
                false,
            );
        }
        for (position, table) in drop_order.iter().enumerate() {
            for foreign_key in &table.foreign_keys {
                let dropped_before = drop_order[..position]
                    .iter()
                    .any(|t| t.name == foreign_key.ref_table);
                if dropped_before {
                    self.locking(
                        drop_constraint_sql(
                            &table.name,
                            &foreign_key_name(&table.name, foreign_key),
                        ),
                        &table.name,
                        LockMode::AccessExclusive,
                        false,
                        false,
                    );
                }
            }
        }
    }

    /// Foreign keys of tables that stay which point at a primary key, unique constraint or
    /// unique index this plan drops: PostgreSQL refuses to drop a key a foreign key depends on.
    pub(super) fn suspended_foreign_keys(
        &self,
        works: &[TableWork],
        dropped: &[Table],
    ) -> Result<Vec<SuspendedForeignKey>, PlanError> {
        let mut dropped_keys: BTreeSet<(String, BTreeSet<String>)> = BTreeSet::new();
        for work in works {
            let table = self.table_in_from(&work.from_name)?;
            let key =
                |columns: &[String]| (work.from_name.clone(), columns.iter().cloned().collect());
            if work.primary_key.is_some() && !table.primary_key.is_empty() {
                dropped_keys.insert(key(&table.primary_key));
            }
            for unique in &work.dropped_uniques {
                dropped_keys.insert(key(&unique.columns));
            }
            for index in work.dropped_indexes.iter().filter(|i| i.unique) {
                dropped_keys.insert(key(&index.columns));
            }
        }
        let mut suspended = Vec::new();
        if dropped_keys.is_empty() {
            return Ok(suspended);
        }
        for table in &self.from.tables {
            if dropped.iter().any(|t| t.name == table.name) {
                continue;
            }
            let work = works.iter().find(|w| w.from_name == table.name);
            for foreign_key in &table.foreign_keys {
                let target = (
                    foreign_key.ref_table.clone(),
                    foreign_key.ref_columns.iter().cloned().collect(),
                );
                let dropped_anyway =
                    work.is_some_and(|w| w.dropped_foreign_keys.contains(foreign_key));
                if dropped_keys.contains(&target) && !dropped_anyway {
                    suspended.push(SuspendedForeignKey {
                        from_table: table.name.clone(),
                        foreign_key: foreign_key.clone(),
                    });
                }
            }
        }
        Ok(suspended)
    }

    /// A suspended foreign key as the target schema has it (table, columns and referenced
    /// names after the renames), when the target still has it.
    pub(super) fn restored_foreign_key(
        &self,
        held: &SuspendedForeignKey,
        works: &[TableWork],
        table_renames: &[(String, String)],
    ) -> Option<(String, ForeignKey)> {
        let new_table_name = |old: &str| -> String {
            table_renames
                .iter()
                .find(|(from, _)| from == old)
                .map_or_else(|| old.to_string(), |(_, to)| to.clone())
        };
        let new_columns = |old_table: &str, columns: &[String]| -> Vec<String> {
            match works.iter().find(|w| w.from_name == old_table) {
                Some(work) => work.new_column_names(columns),
                None => columns.to_vec(),
            }
        };
        let fk = &held.foreign_key;
        let table = new_table_name(&held.from_table);
        let restored = ForeignKey {
            columns: new_columns(&held.from_table, &fk.columns),
            ref_table: new_table_name(&fk.ref_table),
            ref_columns: new_columns(&fk.ref_table, &fk.ref_columns),
            on_delete: fk.on_delete,
            on_update: fk.on_update,
        };
        let still_wanted = self
            .to
            .table(&table)
            .is_some_and(|t| t.foreign_keys.contains(&restored));
        still_wanted.then_some((table, restored))
    }

    /// Phase 8: the foreign keys `(table, key)` added, each checking the rows already there.
    pub(super) fn add_foreign_keys(&mut self, added: Vec<(String, ForeignKey)>) {
        for (table, foreign_key) in added {
            let name = foreign_key_name(&table, &foreign_key);
            let clause = foreign_key_clause(&foreign_key);
            self.add_constraint(&table, &name, &clause, LockMode::ShareRowExclusive, None);
        }
    }

    /// A CHECK added to `table` (an existing one: phase 6), with the comment that keeps its text.
    pub(super) fn add_check(&mut self, table: &str, check: &Check) {
        let name = crate::render::check_name(check);
        let clause = check_clause(check);
        let comment = check_comment_sql(table, check);
        self.add_constraint(
            table,
            &name,
            &clause,
            LockMode::AccessExclusive,
            Some(comment),
        );
    }

    /// `ADD CONSTRAINT name clause` on `table` under `mode`, then `comment` if any. On a table
    /// that validates later the constraint is added `NOT VALID` (no row read under the lock) and
    /// validated after the comment; otherwise the same statement checks the rows.
    fn add_constraint(
        &mut self,
        table: &str,
        name: &str,
        clause: &str,
        mode: LockMode,
        comment: Option<String>,
    ) {
        let later = self.validates_later(table);
        let sql = if later {
            not_valid(table, name, clause)
        } else {
            add_constraint_sql(table, name, clause)
        };
        self.locking(sql, table, mode, !later, false);
        if let Some(comment) = comment {
            self.step(comment);
        }
        if later {
            self.validate(table, name);
        }
    }

    /// `SET NOT NULL` on `table.column`: over a validated CHECK on a table that exists, so the
    /// rows are read without blocking writes; the NULLs were filled before, or are refused (the
    /// runner counts them when `VALIDATE` fails).
    pub(super) fn set_not_null(&mut self, table: &str, column: &str) {
        let set = Self::alter_column_sql(table, column, "SET NOT NULL");
        let exclusive = LockMode::AccessExclusive;
        if !self.validates_later(table) {
            self.locking(set, table, exclusive, true, false);
            return;
        }
        let name = not_null_check_name(table, column);
        let clause = format!("CHECK ({} IS NOT NULL)", quote_ident(column));
        self.locking(
            not_valid(table, &name, &clause),
            table,
            exclusive,
            false,
            false,
        );
        self.validate(table, &name);
        self.locking(set, table, exclusive, false, false);
        let drop = drop_constraint_sql(table, &name);
        self.locking(drop, table, exclusive, false, false);
    }

    /// Whether a constraint added to `table` is checked by a `VALIDATE` step of its own: the
    /// table exists before the migration (it may have rows and writers) and online DDL is on.
    fn validates_later(&self, table: &str) -> bool {
        self.online_ddl
            && self
                .lock(table, LockMode::ShareUpdateExclusive, true, false)
                .is_some()
    }

    /// `ALTER TABLE … VALIDATE CONSTRAINT …`, a step of its own: it reads every row under a
    /// lock that lets writes through.
    fn validate(&mut self, table: &str, name: &str) {
        let sql = format!(
            "ALTER TABLE {} VALIDATE CONSTRAINT {};",
            quote_ident(table),
            quote_ident(name)
        );
        let facts = StepFacts {
            lock: self.lock(table, LockMode::ShareUpdateExclusive, true, false),
            outside_transaction: true,
            ..StepFacts::default()
        };
        self.steps.push(Step::with(sql, facts));
    }
}

/// `ALTER TABLE "table" ADD CONSTRAINT "name" <clause> NOT VALID;`: binds new writes, reads no
/// row.
fn not_valid(table: &str, name: &str, clause: &str) -> String {
    let sql = add_constraint_sql(table, name, clause);
    format!("{} NOT VALID;", sql.trim_end_matches(';'))
}
