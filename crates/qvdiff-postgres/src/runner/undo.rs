//! The way back from the first steps of a revision run step by step, so that a step the rows
//! refuse can be tried without counting those rows first.
//!
//! A revision outside a transaction commits each step on its own: a `VALIDATE CONSTRAINT` or a
//! concurrent unique build that meets rows it does not allow fails after the steps before it
//! committed. Counting the rows in its way before the first step runs keeps "nothing was
//! changed" true, but reads the whole table once more on the way to success. When each step
//! before the failing one has a known exact inverse, the runner instead runs the step at once
//! and only on a failure counts the rows (for the message) and undoes what this run committed,
//! in one transaction with the removal of its progress rows.
//!
//! The steps with a known inverse are the forms the planner writes ahead of a check of the
//! rows: a named `CHECK` or foreign key added (`NOT VALID` or not), or a `UNIQUE` constraint
//! over a unique index built before it in this run (dropped),
//! its comment and its `VALIDATE` (gone with it), and an index built concurrently under a name
//! of its own that was not there before the run (dropped). Anything else ends the undoable
//! steps: a refusal after it is found before the first step, as before. The failing step itself
//! runs without a count first only when its failure leaves nothing the undo cannot name (see
//! [`failure_undone`]).
//!
//! Whether a build's index is this run's is decided twice. Before the run, an index already
//! there ends the undoable steps at its build (so the rows of a check after it are counted
//! first, and a refusal still changes nothing). And when the build step runs: another session
//! may have built an index of that name in between (while an earlier step waited, say), and
//! then the step finds it valid and skips the build. An index counts as built by this run only
//! when this run's `CREATE` ran: a skipped one is left out of the undo ([`Reach::found_built`]),
//! which still removes what this run did build, and a later `UNIQUE USING INDEX` over it (whose
//! drop would take the index along) ends the undoable steps there.

use super::index_step::IndexStep;
use crate::preflight::{Name, Words};

/// How one of the first steps of a section is undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Undoable {
    /// `ALTER TABLE t ADD CONSTRAINT n CHECK | FOREIGN KEY | UNIQUE USING INDEX …` (PostgreSQL
    /// has no `IF NOT EXISTS` for it: the constraint is new): undone by dropping the
    /// constraint, with the index this run built for it.
    AddedConstraint {
        table: Name,
        name: Name,
        /// The index a `UNIQUE USING INDEX` takes over (as shown): dropping the constraint
        /// drops it too.
        over_index: Option<String>,
    },
    /// `COMMENT ON CONSTRAINT n ON t …` or `ALTER TABLE t VALIDATE CONSTRAINT n` of the
    /// constraint added by step `added_at`: undone with it.
    WithConstraint { added_at: usize, validates: bool },
    /// `CREATE [UNIQUE] INDEX CONCURRENTLY n ON …`: undone by dropping the index.
    BuiltIndex { name: Name },
    /// A [`Undoable::BuiltIndex`] step that, when it ran, found its index there already (built
    /// by another session since the run began): not this run's, so nothing undoes it.
    FoundIndex,
}

/// How each of the first statements of a section is undone, up to the first statement with no
/// known inverse (so the length is how many leading steps can be undone).
pub(super) fn undoable_steps(statements: &[&str]) -> Vec<Undoable> {
    let mut steps: Vec<Undoable> = Vec::new();
    for statement in statements {
        let step = if let Some(name) = IndexStep::built(statement) {
            Undoable::BuiltIndex { name }
        } else if let Some((table, name, over_index)) = added_constraint(statement, &steps) {
            Undoable::AddedConstraint {
                table,
                name,
                over_index,
            }
        } else if let Some((table, constraint, validates)) = on_constraint(statement) {
            let added_at = steps.iter().position(|step| {
                matches!(step, Undoable::AddedConstraint { table: t, name, .. }
                    if t.shown == table.shown && name.shown == constraint.shown)
            });
            match added_at {
                Some(added_at) => Undoable::WithConstraint {
                    added_at,
                    validates,
                },
                None => break,
            }
        } else {
            break;
        };
        steps.push(step);
    }
    steps
}

/// The steps (by index) adding a constraint `NOT VALID` whose `VALIDATE` is among `steps`: a
/// failing `VALIDATE` of theirs can be undone, so their rows need not be counted up front.
pub(super) fn validated_in_reach(steps: &[Undoable]) -> Vec<usize> {
    steps
        .iter()
        .filter_map(|step| match step {
            Undoable::WithConstraint {
                added_at,
                validates: true,
            } => Some(*added_at),
            _ => None,
        })
        .collect()
}

/// The statement a refusal of step `index` names: for the `VALIDATE` of a constraint added in
/// an earlier step, the statement that added it (it says what the rows break); else the step.
pub(super) fn refused_statement(steps: &[Undoable], index: usize) -> usize {
    match steps.get(index) {
        Some(Undoable::WithConstraint {
            added_at,
            validates: true,
        }) => *added_at,
        _ => index,
    }
}

/// The statements undoing the first `done` of `steps`, last first, and, when the failing
/// statement is a concurrent index build, dropping the invalid index it left. In one
/// transaction: plain `DROP INDEX` (under the run's `lock_timeout`), not `CONCURRENTLY`.
pub(super) fn undo_sql(steps: &[Undoable], done: usize, failing: &str) -> Vec<String> {
    let mut sql: Vec<String> = IndexStep::built(failing)
        .map(|name| format!("DROP INDEX IF EXISTS {}", name.sql))
        .into_iter()
        .collect();
    for step in steps[..done.min(steps.len())].iter().rev() {
        match step {
            Undoable::AddedConstraint { table, name, .. } => {
                sql.push(format!(
                    "ALTER TABLE {} DROP CONSTRAINT {}",
                    table.sql, name.sql
                ));
            }
            Undoable::BuiltIndex { name } => {
                sql.push(format!("DROP INDEX IF EXISTS {}", name.sql));
            }
            Undoable::WithConstraint { .. } | Undoable::FoundIndex => {}
        }
    }
    sql
}

/// Whether a failure of `statement`, run right after the undoable steps, leaves nothing the
/// undo misses: a statement run in a transaction of its own (`concurrent` false) rolls back;
/// a concurrent build under a name of its own leaves an invalid index [`undo_sql`] drops.
pub(super) fn failure_undone(statement: &str, concurrent: bool) -> bool {
    !concurrent || IndexStep::built(statement).is_some()
}

/// `ALTER TABLE [ONLY] t ADD CONSTRAINT n …`, one action, whose `DROP CONSTRAINT` undoes
/// exactly it: a `CHECK`, a `FOREIGN KEY`, or a `UNIQUE USING INDEX` over an index built by
/// one of `earlier` (dropping the constraint drops its index). Not a `PRIMARY KEY` (it also
/// sets its columns NOT NULL) nor a constraint over an index that may be older than the run.
fn added_constraint(statement: &str, earlier: &[Undoable]) -> Option<(Name, Name, Option<String>)> {
    let mut w = Words::new(statement);
    let table = w.alter_table()?;
    if !w.eat_all(&["ADD", "CONSTRAINT"]) {
        return None;
    }
    let name = w.name()?;
    if w.at("CHECK") || w.eat_all(&["FOREIGN", "KEY"]) {
        return Some((table, name, None));
    }
    if !w.eat_all(&["UNIQUE", "USING", "INDEX"]) {
        return None;
    }
    let index = w.name()?;
    let built_here = earlier
        .iter()
        .any(|step| matches!(step, Undoable::BuiltIndex { name } if name.shown == index.shown));
    built_here.then_some((table, name, Some(index.shown)))
}

/// What runs step by step without a count of the rows first: the undoable steps, and how many
/// leading steps run optimistically (the undoable ones, and maybe the one after them).
#[derive(Debug)]
pub(super) struct Reach {
    /// The undoable steps (see [`undoable_steps`]).
    pub steps: Vec<Undoable>,
    /// How many leading steps run without a count first.
    pub optimistic: usize,
}

impl Reach {
    /// Step `at` found its index there when it ran (another session built it since the run
    /// began): the index is not this run's, so the undo leaves it; a later `UNIQUE USING INDEX`
    /// over it, whose drop would drop the index too, ends the undoable steps.
    pub(super) fn found_built(&mut self, at: usize) {
        let Some(Undoable::BuiltIndex { name }) = self.steps.get(at) else {
            return;
        };
        let found = name.shown.clone();
        self.steps[at] = Undoable::FoundIndex;
        let over_found = self.steps.iter().skip(at + 1).position(|step| {
            matches!(step, Undoable::AddedConstraint { over_index: Some(index), .. }
                if *index == found)
        });
        if let Some(offset) = over_found {
            self.steps.truncate(at + 1 + offset);
            self.optimistic = self.optimistic.min(self.steps.len());
        }
    }
}

/// The steps (by index) building an index concurrently: before a run, each is asked whether
/// its index is there already (then the build is skipped and the index is not this run's to
/// drop, so the undoable steps end before it). The runner asks again when the step runs.
pub(super) fn index_builds(steps: &[Undoable]) -> impl Iterator<Item = usize> + '_ {
    steps
        .iter()
        .enumerate()
        .filter_map(|(index, step)| matches!(step, Undoable::BuiltIndex { .. }).then_some(index))
}

/// `COMMENT ON CONSTRAINT n ON t IS …` (`false`) or `ALTER TABLE [ONLY] t VALIDATE CONSTRAINT
/// n` (`true`): the table and the constraint.
fn on_constraint(statement: &str) -> Option<(Name, Name, bool)> {
    let mut w = Words::new(statement);
    if w.eat_all(&["COMMENT", "ON", "CONSTRAINT"]) {
        let constraint = w.name()?;
        if !w.eat("ON") {
            return None;
        }
        if w.at("DOMAIN") {
            return None;
        }
        let table = w.name()?;
        return w.eat("IS").then_some((table, constraint, false));
    }
    let table = w.alter_table()?;
    if !w.eat_all(&["VALIDATE", "CONSTRAINT"]) {
        return None;
    }
    let constraint = w.name()?;
    w.at_end().then_some((table, constraint, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(name: &Name) -> &str {
        &name.shown
    }

    #[test]
    fn the_planners_steps_before_a_check_of_the_rows_are_undoable() {
        let check = [
            "ALTER TABLE \"items\" ADD CONSTRAINT \"items_score_check\" CHECK (score >= 0) NOT VALID",
            "COMMENT ON CONSTRAINT \"items_score_check\" ON \"items\" IS 'qvdiff: score >= 0'",
            "ALTER TABLE \"items\" VALIDATE CONSTRAINT \"items_score_check\"",
            "ALTER TABLE \"items\" ALTER COLUMN \"score\" SET NOT NULL",
        ];
        let steps = undoable_steps(&check);
        assert_eq!(steps.len(), 3, "{steps:?}");
        assert!(
            matches!(&steps[0], Undoable::AddedConstraint { table, name, .. }
                if shown(table) == "items" && shown(name) == "items_score_check")
        );
        assert_eq!(
            steps[1],
            Undoable::WithConstraint {
                added_at: 0,
                validates: false
            }
        );
        assert_eq!(validated_in_reach(&steps), vec![0]);
        assert_eq!(refused_statement(&steps, 2), 0);
        assert_eq!(refused_statement(&steps, 1), 1);
        assert_eq!(
            undo_sql(&steps, 2, check[2]),
            vec!["ALTER TABLE \"items\" DROP CONSTRAINT \"items_score_check\"".to_string()]
        );
        assert!(undo_sql(&steps, 0, check[0]).is_empty());

        let unique = [
            "CREATE INDEX CONCURRENTLY \"ix_items_score\" ON \"items\" (\"score\")",
            "CREATE UNIQUE INDEX CONCURRENTLY \"items_sku_key\" ON \"items\" (\"sku\")",
            "ALTER TABLE \"items\" ADD CONSTRAINT \"items_sku_key\" UNIQUE USING INDEX \"items_sku_key\"",
        ];
        let steps = undoable_steps(&unique);
        assert_eq!(steps.len(), 3, "{steps:?}");
        assert_eq!(
            undo_sql(
                &steps,
                3,
                "ALTER TABLE \"items\" VALIDATE CONSTRAINT \"ck\""
            ),
            vec![
                "ALTER TABLE \"items\" DROP CONSTRAINT \"items_sku_key\"".to_string(),
                "DROP INDEX IF EXISTS \"items_sku_key\"".to_string(),
                "DROP INDEX IF EXISTS \"ix_items_score\"".to_string(),
            ]
        );
        assert_eq!(
            undo_sql(&steps, 1, unique[1]),
            vec![
                "DROP INDEX IF EXISTS \"items_sku_key\"".to_string(),
                "DROP INDEX IF EXISTS \"ix_items_score\"".to_string(),
            ]
        );
        assert!(validated_in_reach(&steps).is_empty());
    }

    #[test]
    fn an_index_found_built_is_not_undone_nor_what_takes_it_over() {
        let unique = [
            "CREATE INDEX CONCURRENTLY \"ix_items_score\" ON \"items\" (\"score\")",
            "CREATE UNIQUE INDEX CONCURRENTLY \"items_sku_key\" ON \"items\" (\"sku\")",
            "ALTER TABLE \"items\" ADD CONSTRAINT \"items_sku_key\" UNIQUE USING INDEX \"items_sku_key\"",
            "ALTER TABLE \"items\" ADD CONSTRAINT \"ck\" CHECK (score > 0) NOT VALID",
        ];
        let mut reach = Reach {
            steps: undoable_steps(&unique),
            optimistic: 4,
        };
        reach.found_built(0);
        assert_eq!(reach.steps.len(), 4);
        assert_eq!(reach.optimistic, 4);
        assert_eq!(
            undo_sql(
                &reach.steps,
                4,
                "ALTER TABLE \"items\" VALIDATE CONSTRAINT \"ck\""
            ),
            vec![
                "ALTER TABLE \"items\" DROP CONSTRAINT \"ck\"".to_string(),
                "ALTER TABLE \"items\" DROP CONSTRAINT \"items_sku_key\"".to_string(),
                "DROP INDEX IF EXISTS \"items_sku_key\"".to_string(),
            ]
        );
        // The constraint over a found index would drop it with itself: the undoable steps end
        // before it.
        reach.found_built(1);
        assert_eq!(
            reach.steps,
            vec![Undoable::FoundIndex, Undoable::FoundIndex]
        );
        assert_eq!(reach.optimistic, 2);
        assert!(undo_sql(&reach.steps, 2, unique[2]).is_empty());
    }

    #[test]
    fn steps_without_a_known_inverse_end_the_undoable_ones() {
        // A constraint checked at once, a comment or VALIDATE of a constraint not added here,
        // an index that may have been there, a write, several actions in one ALTER TABLE.
        for first in [
            "ALTER TABLE t ADD CHECK (a > 0)",
            "ALTER TABLE t VALIDATE CONSTRAINT c",
            "COMMENT ON CONSTRAINT c ON t IS 'x'",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix ON t (a)",
            "CREATE INDEX CONCURRENTLY ON t (a)",
            "CREATE INDEX ix ON t (a)",
            "UPDATE t SET a = 1",
            "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID, ADD COLUMN b int",
            "ALTER TABLE t ALTER COLUMN a TYPE bigint",
            "ALTER TABLE t ADD CONSTRAINT p PRIMARY KEY (a)",
            "ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX ix",
            "ALTER TABLE t ADD CONSTRAINT u UNIQUE (a)",
        ] {
            let steps = undoable_steps(&[
                first,
                "ALTER TABLE t ADD CONSTRAINT d CHECK (b > 0) NOT VALID",
            ]);
            assert!(steps.is_empty(), "{first}: {steps:?}");
        }
        // A VALIDATE of another table's constraint of the same name is not this one's.
        let steps = undoable_steps(&[
            "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID",
            "ALTER TABLE u VALIDATE CONSTRAINT c",
        ]);
        assert_eq!(steps.len(), 1);
        assert!(validated_in_reach(&steps).is_empty());
    }
}
