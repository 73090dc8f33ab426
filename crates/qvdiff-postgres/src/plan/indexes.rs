//! Index and UNIQUE statements on tables that exist before the migration, in their online-safe
//! form when [`Postgres::online_ddl`](super::Postgres::online_ddl) is on: an index is built and
//! dropped `CONCURRENTLY`, and a UNIQUE constraint comes from a unique index built
//! `CONCURRENTLY` that `ADD CONSTRAINT … UNIQUE USING INDEX` then adopts. Writes go on during
//! the build; the adoption takes a brief `ACCESS EXCLUSIVE` lock and reads no row.

use super::Planner;
use crate::ddl::{add_constraint_sql, create_index_sql, drop_index_sql, unique_clause};
use crate::render::{quote_ident, unique_name};
use qvdiff_core::{Index, LockMode, StepFacts, Unique};

impl Planner<'_> {
    /// Whether `table` gets the online-safe forms: online DDL is on and the table exists before
    /// the migration (a new table has no readers or writers to keep going).
    fn online(&self, table: &str) -> bool {
        self.online_ddl && (self.from.table(table).is_some() || self.renamed_to.contains(table))
    }

    /// A `CONCURRENTLY` index statement on `table`: it blocks no reads or writes and cannot run
    /// in a transaction.
    fn concurrently(&mut self, sql: String, table: &str, scans: bool) {
        let facts = StepFacts {
            lock: self.lock(table, LockMode::ShareUpdateExclusive, scans, false),
            outside_transaction: true,
            ..StepFacts::default()
        };
        self.steps.push(qvdiff_core::Step::with(sql, facts));
    }

    /// Builds `index` on the existing `table`: concurrently when online, else under `SHARE`
    /// (writes blocked while every row is read).
    pub(super) fn create_index(&mut self, table: &str, index: &Index) {
        if self.online(table) {
            self.concurrently(create_index_sql(table, index, true), table, true);
        } else {
            let sql = create_index_sql(table, index, false);
            self.locking(sql, table, LockMode::Share, true, false);
        }
    }

    /// Drops `index` of the existing `table`: concurrently when online, else under a brief
    /// `ACCESS EXCLUSIVE`.
    pub(super) fn drop_index(&mut self, table: &str, index: &Index) {
        if self.online(table) {
            self.concurrently(drop_index_sql(index, true), table, false);
        } else {
            let sql = drop_index_sql(index, false);
            self.locking(sql, table, LockMode::AccessExclusive, false, false);
        }
    }

    /// Adds `unique` to the existing `table`. Online: a unique index under the constraint's name
    /// built concurrently, then adopted as the constraint (which takes the index's name, so the
    /// server's catalog is the one `ADD CONSTRAINT … UNIQUE (…)` gives). Otherwise the plain
    /// `ADD CONSTRAINT`, which builds the index under `ACCESS EXCLUSIVE`.
    pub(super) fn add_unique(&mut self, table: &str, unique: &Unique) {
        let name = unique_name(table, unique);
        let exclusive = LockMode::AccessExclusive;
        if !self.online(table) {
            let sql = add_constraint_sql(table, &name, &unique_clause(unique));
            self.locking(sql, table, exclusive, true, false);
            return;
        }
        let index = Index {
            name: name.clone(),
            columns: unique.columns.clone(),
            unique: true,
            predicate: None,
        };
        self.concurrently(create_index_sql(table, &index, true), table, true);
        let using = format!("UNIQUE USING INDEX {}", quote_ident(&name));
        self.locking(
            add_constraint_sql(table, &name, &using),
            table,
            exclusive,
            false,
            false,
        );
    }
}
