//! Migrations built in memory, as the runner suites of every dialect write them: a revision
//! `rN` as if read from `migrations/rN_m.sql`, and a straight history of such revisions.

use crate::runner::{Migration, Migrations};

/// A migration `revision` with `parents`, as if read from `migrations/<revision>_m.sql`, with
/// the message `revision <revision>`.
pub fn migration(revision: &str, parents: &[&str], up: &str, down: &str) -> Migration {
    let message = format!("revision {revision}");
    let path = format!("migrations/{revision}_m.sql");
    Migration::from_sections(revision, parents, &message, up, down, path)
}

/// The history of `list`. Panics when the revisions do not form one: the test that built them
/// is wrong.
pub fn set(list: Vec<Migration>) -> Migrations {
    Migrations::new(list).expect("the revisions form one history")
}

/// Revisions `r1`, `r2`, … from `(up, down)` pairs, each the child of the one before.
pub fn chain(steps: &[(&str, &str)]) -> Vec<Migration> {
    let mut list: Vec<Migration> = Vec::new();
    for (i, (up, down)) in steps.iter().enumerate() {
        let parent = format!("r{i}");
        let parents: &[&str] = if i == 0 { &[] } else { &[&parent] };
        list.push(migration(&format!("r{}", i + 1), parents, up, down));
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_is_one_straight_history_of_files_as_written() {
        let history = set(chain(&[
            ("CREATE TABLE a (x);", "DROP TABLE a;"),
            ("SELECT 1;", "SELECT 2;"),
        ]));
        let r2 = history.get("r2").expect("r2 is in the history");
        assert_eq!(r2.file.parents, ["r1"]);
        assert_eq!(r2.file.message, "revision r2");
        assert_eq!(r2.path, "migrations/r2_m.sql");
        assert_eq!(r2.file.up, "SELECT 1;\n");
        assert!(history.get("r1").expect("r1").file.parents.is_empty());
    }

    #[test]
    fn an_offline_script_adds_the_row_going_up_and_removes_it_going_down() {
        use crate::backend::Direction;
        let r1 = migration("r1", &[], "SELECT 1;", "SELECT 2;");
        let insert = |m: &Migration| format!("INSERT {};", m.revision());
        let delete = |revision: &str| format!("DELETE {revision};");
        assert_eq!(
            r1.offline_ledger_sql(Direction::Up, insert, delete),
            "INSERT r1;"
        );
        assert_eq!(
            r1.offline_ledger_sql(Direction::Down, insert, delete),
            "DELETE r1;"
        );
    }
}
