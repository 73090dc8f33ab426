//! The UNIQUE constraints, foreign keys and CHECKs on a column carried through expand /
//! contract ([`super::expand`]): built on the new column in the expand without blocking
//! writes, and given their wanted names in the contract, once the old column (and its
//! constraints with it) is gone.
//!
//! - UNIQUE: a unique index built `CONCURRENTLY` under `<name>_new`, which the contract turns
//!   into the constraint (`ADD CONSTRAINT … UNIQUE USING INDEX`, which renames the index).
//! - Foreign key and CHECK: added `NOT VALID` (a CHECK with the comment holding its text) and
//!   validated as a step of its own; the contract renames them to the wanted names and writes
//!   the CHECK's comment again over the column's final name.
//!
//! A constraint that changes otherwise too is not matched: the column stays in place.

use crate::ddl::{
    add_constraint_sql, check_clause, check_comment_sql, create_index_sql, drop_constraint_sql,
    foreign_key_clause, unique_clause,
};
use crate::render::{check_name, foreign_key_name, limit_name, quote_ident, unique_name};
use crate::replay::rename_in_expression;
use qvdiff_core::{
    Check, ForeignKey, Index, Lock, LockMode, Schema, Step, StepFacts, Table, Unique,
};

/// A UNIQUE constraint on a carried column: as it is, as wanted, and the unique index on the new
/// column that stands for it between the two revisions.
struct MovedUnique {
    old: Unique,
    new: Unique,
    index: Index,
}

/// A foreign key or CHECK on a carried column: as it is, as wanted, and as built on the new
/// column in the expand.
struct Moved<T> {
    old: T,
    new: T,
    expanded: T,
}

/// The constraints on one carried column, moved to its new column.
#[derive(Default)]
pub(super) struct MovedConstraints {
    uniques: Vec<MovedUnique>,
    foreign_keys: Vec<Moved<ForeignKey>>,
    checks: Vec<Moved<Check>>,
}

/// Whether `expr` mentions `column`, as the server would read it.
pub(super) fn mentions(expr: &str, column: &str) -> bool {
    rename_in_expression(expr, column, "\u{1}") != expr
}

/// `columns` with `from` renamed to `to`.
fn renamed(columns: &[String], from: &str, to: &str) -> Vec<String> {
    columns
        .iter()
        .map(|c| if c == from { to.to_string() } else { c.clone() })
        .collect()
}

fn lock(table: &str, mode: LockMode, scans: bool) -> StepFacts {
    StepFacts {
        lock: Some(Lock {
            mode,
            table: table.to_string(),
            scans,
            rewrites: false,
        }),
        ..StepFacts::default()
    }
}

/// `ALTER TABLE … VALIDATE CONSTRAINT …`, a step of its own: it reads every row without
/// blocking writes, after the `ADD`'s brief lock is committed.
fn validate_step(table: &str, name: &str) -> Step {
    Step::with(
        format!(
            "ALTER TABLE {} VALIDATE CONSTRAINT {};",
            quote_ident(table),
            quote_ident(name)
        ),
        StepFacts {
            outside_transaction: true,
            ..lock(table, LockMode::ShareUpdateExclusive, true)
        },
    )
}

fn rename_constraint_step(table: &str, from: &str, to: &str) -> Step {
    Step::with(
        format!(
            "ALTER TABLE {} RENAME CONSTRAINT {} TO {};",
            quote_ident(table),
            quote_ident(from),
            quote_ident(to)
        ),
        lock(table, LockMode::AccessExclusive, false),
    )
}

fn not_valid_step(table: &str, name: &str, clause: &str, mode: LockMode) -> Step {
    let sql = add_constraint_sql(table, name, clause);
    Step::with(
        format!("{} NOT VALID;", sql.trim_end_matches(';')),
        lock(table, mode, false),
    )
}

impl MovedConstraints {
    /// The UNIQUE constraints, foreign keys and CHECKs on `old` of `table` in `from`, each with
    /// the one `to` wants on `new` in its place and the one built on `shadow` in the expand;
    /// `None` when one has no such match, or `to` has one on `new` that is not such a match.
    pub(super) fn find(
        from: &Schema,
        to: &Schema,
        table: &str,
        old: &str,
        new: &str,
        shadow: &str,
    ) -> Option<MovedConstraints> {
        let (before, after) = (from.table(table)?, to.table(table)?);
        let on = |columns: &[String], column: &str| columns.iter().any(|c| c == column);
        let mut moved = MovedConstraints::default();
        for unique in before.uniques.iter().filter(|u| on(&u.columns, old)) {
            let columns = renamed(&unique.columns, old, new);
            let wanted = after.uniques.iter().find(|u| u.columns == columns)?;
            let name = unique_name(table, wanted);
            moved.uniques.push(MovedUnique {
                old: unique.clone(),
                new: wanted.clone(),
                index: Index {
                    name: limit_name(&format!("{name}_new")),
                    columns: renamed(&columns, new, shadow),
                    unique: true,
                    predicate: None,
                },
            });
        }
        for fk in before.foreign_keys.iter().filter(|f| on(&f.columns, old)) {
            let wanted = after.foreign_keys.iter().find(|w| {
                w.columns == renamed(&fk.columns, old, new)
                    && w.ref_table == fk.ref_table
                    && w.ref_columns == fk.ref_columns
                    && w.on_delete == fk.on_delete
                    && w.on_update == fk.on_update
            })?;
            moved.foreign_keys.push(Moved {
                old: fk.clone(),
                new: wanted.clone(),
                expanded: ForeignKey {
                    columns: renamed(&wanted.columns, new, shadow),
                    ..wanted.clone()
                },
            });
        }
        for check in before.checks.iter().filter(|c| mentions(&c.expr, old)) {
            let wanted = after
                .checks
                .iter()
                .find(|w| w.expr == rename_in_expression(&check.expr, old, new))?;
            let taken = before.checks.iter().any(|c| c.name == wanted.name);
            moved.checks.push(Moved {
                old: check.clone(),
                new: wanted.clone(),
                expanded: Check {
                    name: if taken {
                        limit_name(&format!("{}_new", wanted.name))
                    } else {
                        wanted.name.clone()
                    },
                    expr: rename_in_expression(&wanted.expr, new, shadow),
                },
            });
        }
        let all_matched = after
            .uniques
            .iter()
            .filter(|u| on(&u.columns, new))
            .all(|u| moved.uniques.iter().any(|m| &m.new == u))
            && after
                .foreign_keys
                .iter()
                .filter(|f| on(&f.columns, new))
                .all(|f| moved.foreign_keys.iter().any(|m| &m.new == f))
            && after
                .checks
                .iter()
                .filter(|c| mentions(&c.expr, new))
                .all(|c| moved.checks.iter().any(|m| &m.new == c));
        all_matched.then_some(moved)
    }

    /// In `table` (as wanted), the constraints as they are: the target of the other changes.
    pub(super) fn keep_old(&self, table: &mut Table) {
        table
            .uniques
            .retain(|u| !self.uniques.iter().any(|m| &m.new == u));
        table
            .uniques
            .extend(self.uniques.iter().map(|m| m.old.clone()));
        table
            .foreign_keys
            .retain(|f| !self.foreign_keys.iter().any(|m| &m.new == f));
        table
            .foreign_keys
            .extend(self.foreign_keys.iter().map(|m| m.old.clone()));
        table
            .checks
            .retain(|c| !self.checks.iter().any(|m| &m.new == c));
        table
            .checks
            .extend(self.checks.iter().map(|m| m.old.clone()));
    }

    /// In `table` between the revisions, the constraints built on the new column beside the old
    /// ones.
    pub(super) fn add_expanded(&self, table: &mut Table) {
        table
            .indexes
            .extend(self.uniques.iter().map(|m| m.index.clone()));
        table
            .foreign_keys
            .extend(self.foreign_keys.iter().map(|m| m.expanded.clone()));
        table
            .checks
            .extend(self.checks.iter().map(|m| m.expanded.clone()));
    }

    /// The expand's steps, after the backfill: the unique indexes built concurrently, the
    /// foreign keys and CHECKs added `NOT VALID` and validated.
    pub(super) fn expand_steps(&self, table: &str) -> Vec<Step> {
        let mut steps = Vec::new();
        for m in &self.uniques {
            steps.push(Step::with(
                create_index_sql(table, &m.index, true),
                StepFacts {
                    outside_transaction: true,
                    ..lock(table, LockMode::ShareUpdateExclusive, true)
                },
            ));
        }
        for m in &self.foreign_keys {
            let name = foreign_key_name(table, &m.expanded);
            steps.push(not_valid_step(
                table,
                &name,
                &foreign_key_clause(&m.expanded),
                LockMode::ShareRowExclusive,
            ));
            steps.push(validate_step(table, &name));
        }
        for m in &self.checks {
            let name = check_name(&m.expanded);
            steps.push(not_valid_step(
                table,
                &name,
                &check_clause(&m.expanded),
                LockMode::AccessExclusive,
            ));
            steps.push(Step::plain(check_comment_sql(table, &m.expanded)));
            steps.push(validate_step(table, &name));
        }
        steps
    }

    /// The contract's steps, after the old column is dropped and the new one has its final
    /// name: each constraint under its wanted name, read by no scan.
    pub(super) fn contract_steps(&self, table: &str) -> Vec<Step> {
        let mut steps = Vec::new();
        for m in &self.uniques {
            let clause = format!("UNIQUE USING INDEX {}", quote_ident(&m.index.name));
            steps.push(Step::with(
                add_constraint_sql(table, &unique_name(table, &m.new), &clause),
                lock(table, LockMode::AccessExclusive, false),
            ));
        }
        for m in &self.foreign_keys {
            let (from, to) = (
                foreign_key_name(table, &m.expanded),
                foreign_key_name(table, &m.new),
            );
            if from != to {
                steps.push(rename_constraint_step(table, &from, &to));
            }
        }
        for m in &self.checks {
            let (from, to) = (check_name(&m.expanded), check_name(&m.new));
            if from != to {
                steps.push(rename_constraint_step(table, &from, &to));
            }
            steps.push(Step::plain(check_comment_sql(table, &m.new)));
        }
        steps
    }

    /// The contract's way back, before the new column gets its name between the revisions
    /// again: the unique constraints dropped (their indexes are built again after), the other
    /// constraints under their names between the revisions.
    pub(super) fn uncontract_first_steps(&self, table: &str) -> Vec<Step> {
        let mut steps = Vec::new();
        for m in &self.uniques {
            steps.push(Step::with(
                drop_constraint_sql(table, &unique_name(table, &m.new)),
                lock(table, LockMode::AccessExclusive, false),
            ));
        }
        for m in &self.foreign_keys {
            let (from, to) = (
                foreign_key_name(table, &m.new),
                foreign_key_name(table, &m.expanded),
            );
            if from != to {
                steps.push(rename_constraint_step(table, &from, &to));
            }
        }
        for m in &self.checks {
            let (from, to) = (check_name(&m.new), check_name(&m.expanded));
            if from != to {
                steps.push(rename_constraint_step(table, &from, &to));
            }
        }
        steps
    }

    /// The contract's way back, once the old column is there again and filled: the unique
    /// indexes of the new column built again, the CHECKs' comments over its name between the
    /// revisions, and the old column's constraints (each checks the rows: the way back is not
    /// online).
    pub(super) fn uncontract_last_steps(&self, table: &str) -> Vec<Step> {
        let mut steps = Vec::new();
        for m in &self.uniques {
            steps.push(Step::with(
                create_index_sql(table, &m.index, false),
                lock(table, LockMode::Share, true),
            ));
            steps.push(Step::with(
                add_constraint_sql(table, &unique_name(table, &m.old), &unique_clause(&m.old)),
                lock(table, LockMode::AccessExclusive, true),
            ));
        }
        for m in &self.foreign_keys {
            steps.push(Step::with(
                add_constraint_sql(
                    table,
                    &foreign_key_name(table, &m.old),
                    &foreign_key_clause(&m.old),
                ),
                lock(table, LockMode::ShareRowExclusive, true),
            ));
        }
        for m in &self.checks {
            steps.push(Step::plain(check_comment_sql(table, &m.expanded)));
            steps.push(Step::with(
                add_constraint_sql(table, &check_name(&m.old), &check_clause(&m.old)),
                lock(table, LockMode::AccessExclusive, true),
            ));
            steps.push(Step::plain(check_comment_sql(table, &m.old)));
        }
        steps
    }

    /// The names of the constraints as they are, on the old column.
    pub(super) fn names(&self, table: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .uniques
            .iter()
            .map(|m| unique_name(table, &m.old))
            .collect();
        names.extend(
            self.foreign_keys
                .iter()
                .map(|m| foreign_key_name(table, &m.old)),
        );
        names.extend(self.checks.iter().map(|m| check_name(&m.old)));
        names
    }

    /// What moves, for the notes of the expand revision.
    pub(super) fn describe(&self) -> Vec<String> {
        let mut what: Vec<String> = self
            .uniques
            .iter()
            .map(|m| format!("UNIQUE ({})", m.new.columns.join(", ")))
            .collect();
        what.extend(
            self.foreign_keys
                .iter()
                .map(|m| format!("foreign key ({})", m.new.columns.join(", "))),
        );
        what.extend(self.checks.iter().map(|m| format!("CHECK {}", m.new.name)));
        what
    }
}
