//! The one reading of the index statements a revision runs outside a transaction:
//! `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ON …` and `DROP INDEX CONCURRENTLY
//! [IF EXISTS] name`. Resuming asks the server what an earlier attempt left of the index
//! (`runner/resume.rs`), and undoing drops an index this run built (`runner/undo.rs`): both
//! read the statement here.

use crate::preflight::{Name, Words};

/// A concurrent index statement, as [`IndexStep::of`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IndexStep {
    /// `CREATE` (`true`) or `DROP` (`false`).
    pub creates: bool,
    /// `IF NOT EXISTS` (a `CREATE`) or `IF EXISTS` (a `DROP`): the server may skip it.
    pub if_exists: bool,
    /// The index: as written (quotes and schema kept, for the server) and as shown.
    pub name: Name,
}

impl IndexStep {
    /// Reads `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ON …` or `DROP INDEX
    /// CONCURRENTLY [IF EXISTS] name`; `None` for any other statement and for an index without
    /// a name (the server picks one, which the statement cannot be asked about).
    pub(super) fn of(statement: &str) -> Option<IndexStep> {
        let mut w = Words::new(statement);
        let creates = if w.eat("CREATE") {
            w.eat("UNIQUE");
            true
        } else if w.eat("DROP") {
            false
        } else {
            return None;
        };
        if !w.eat_all(&["INDEX", "CONCURRENTLY"]) {
            return None;
        }
        let if_exists = if creates {
            w.eat_all(&["IF", "NOT", "EXISTS"])
        } else {
            w.eat_all(&["IF", "EXISTS"])
        };
        if w.at("ON") {
            return None;
        }
        let name = w.name()?;
        if creates && !w.at("ON") {
            return None;
        }
        Some(IndexStep {
            creates,
            if_exists,
            name,
        })
    }

    /// The index a `CREATE … CONCURRENTLY name` without `IF NOT EXISTS` builds: when it
    /// succeeds, the index is this run's (with `IF NOT EXISTS` it may have been there).
    pub(super) fn built(statement: &str) -> Option<Name> {
        IndexStep::of(statement)
            .filter(|step| step.creates && !step.if_exists)
            .map(|step| step.name)
    }
}

#[cfg(test)]
mod tests {
    use super::IndexStep;

    fn read(sql: &str) -> Option<(bool, bool, String, String)> {
        IndexStep::of(sql).map(|s| (s.creates, s.if_exists, s.name.sql, s.name.shown))
    }

    #[test]
    fn concurrent_index_statements_are_read_with_their_name() {
        let step = |creates, if_exists, sql: &str, shown: &str| {
            Some((creates, if_exists, sql.to_string(), shown.to_string()))
        };
        assert_eq!(
            read("CREATE INDEX CONCURRENTLY \"ix_t_a\" ON \"t\" (\"a\")"),
            step(true, false, "\"ix_t_a\"", "ix_t_a")
        );
        assert_eq!(
            read("create unique index concurrently if not exists s.IX on t (a)"),
            step(true, true, "s.IX", "ix")
        );
        assert_eq!(
            read("DROP INDEX CONCURRENTLY IF EXISTS \"s\".\"Ix\""),
            step(false, true, "\"s\".\"Ix\"", "Ix")
        );
        assert_eq!(
            read("DROP INDEX CONCURRENTLY ix;"),
            step(false, false, "ix", "ix")
        );
        for other in [
            "CREATE INDEX CONCURRENTLY ON t (a)",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ON t (a)",
            "CREATE INDEX \"ix\" ON t (a)",
            "DROP INDEX ix",
            "VACUUM t",
            "CREATE TABLE t (a int)",
        ] {
            assert_eq!(read(other), None, "{other}");
        }
        assert_eq!(
            IndexStep::built("CREATE UNIQUE INDEX CONCURRENTLY u ON t (a)").map(|n| n.sql),
            Some("u".to_string())
        );
        for not_built in [
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS u ON t (a)",
            "DROP INDEX CONCURRENTLY u",
        ] {
            assert_eq!(IndexStep::built(not_built), None, "{not_built}");
        }
    }
}
