//! What `qvdiff lint` and `qvdiff review` need to know about a PostgreSQL section's SQL, read
//! with the one tokenizer in PostgreSQL's spelling (the lines, comments and tables are
//! [`qvdiff_core::section`]'s, shared with every dialect), and the scratch schema files are
//! replayed on: the replay, so that lint needs no server.

use crate::plan::Postgres;
use crate::replay::naming::{fold_identifier, unquote_identifier};
use crate::replay::{apply_sql, ReplayErrorKind};
use crate::sqltext::split_statements;
use qvdiff_core::diff::diff;
use qvdiff_core::lint::{down_mismatch, Analysis, Section, SectionKind};
use qvdiff_core::section::Spelling;
use qvdiff_core::{Dialect, Renames, Replay, Schema};

/// PostgreSQL's lexicon; it folds a bare name to lower case, cuts a quoted one to 63 bytes,
/// never reads a string as a name, and rebuilds no table.
pub(crate) const SPELLING: Spelling = Spelling {
    lexicon: crate::sqltext::LEXICON,
    fold: fold_identifier,
    unquote: unquote_identifier,
    strings_are_names: false,
    rebuild_prefix: None,
};

/// Splits a section body into statements. `marker_line` is the 1-based line of the section's
/// marker; the body starts on the next line.
pub(crate) fn section(body: &str, marker_line: usize) -> Section {
    qvdiff_core::section::section(body, marker_line, &SPELLING)
}

/// The renames a script performs (see [`qvdiff_core::section::renames`]).
pub(crate) fn renames(sql: &str) -> Renames {
    qvdiff_core::section::renames(sql, &SPELLING)
}

/// The scratch schema PostgreSQL files are replayed on for `lint` and `review`: the schema
/// replay ([`crate::replay`]), which reads the DDL qvdiff writes and the common hand-written
/// spellings without a server (the test suite holds it to a real server).
#[derive(Debug, Clone, Default)]
pub struct ReplayedSchema {
    schema: Schema,
}

impl Replay for ReplayedSchema {
    fn apply(&mut self, _revision: &str, sql: &str) -> Result<(), String> {
        let mut next = self.schema.clone();
        apply_sql(&mut next, sql).map_err(|e| e.to_string())?;
        self.schema = next;
        Ok(())
    }

    fn analyze(&self, _revision: &str, up: &str, down: &str) -> Option<Analysis> {
        let before = self.schema.clone();
        let mut analysis = Analysis::starting_at(before.clone(), "PostgreSQL");
        // SQL the replay cannot read (a view, a function) says nothing about the file: only a
        // statement the server would refuse too is a finding.
        let run = |schema: &mut Schema, kind: SectionKind, sql: &str| match apply_sql(schema, sql) {
            Ok(()) => Ok(Ok(())),
            Err(e) if e.kind == ReplayErrorKind::Unsupported => Err(()),
            Err(e) => Ok(Err((kind, statement_at(sql, e.line), e.message))),
        };
        let mut after = before.clone();
        if let Err(failure) = run(&mut after, SectionKind::Up, up).ok()? {
            analysis.failure = Some(failure);
            return Some(analysis);
        }
        analysis.changes = diff(&before, &after, &renames(up));
        let mut back = after.clone();
        analysis.after = after;
        if let Err(failure) = run(&mut back, SectionKind::Down, down).ok()? {
            analysis.failure = Some(failure);
            return Some(analysis);
        }
        let dialect = Postgres::default();
        analysis.down_mismatch =
            down_mismatch(&dialect.comparable(&before), &dialect.comparable(&back));
        Some(analysis)
    }
}

/// The whole text of the statement of `sql` that starts on 1-based `line`, or empty.
fn statement_at(sql: &str, line: usize) -> String {
    split_statements(sql)
        .iter()
        .find(|s| sql[..s.start].matches('\n').count() + 1 == line)
        .map(|s| s.text(sql).to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_keep_lines_trailing_comments_and_folded_tables() {
        let body = "ALTER TABLE Items RENAME COLUMN notes TO \"Description\";\n\
                    -- qvdiff:allow destructive \"unused\"\n\
                    DROP TABLE \"Old\";  -- DESTRUCTIVE: drops table Old\n\
                    CREATE INDEX CONCURRENTLY ix ON ONLY items (id);\n\
                    UPDATE items SET x = 'a;b';\n";
        let s = section(body, 4);
        let lines: Vec<usize> = s.statements.iter().map(|s| s.line).collect();
        assert_eq!(lines, [5, 7, 8, 9]);
        let tables: Vec<Option<&str>> = s.statements.iter().map(|s| s.table.as_deref()).collect();
        assert_eq!(
            tables,
            [Some("items"), Some("Old"), Some("items"), Some("items")]
        );
        assert_eq!(
            s.statements[1].trailing_comment.as_deref(),
            Some("-- DESTRUCTIVE: drops table Old")
        );
        assert_eq!(s.statements[1].comments[0].0, 6);
        let r = renames(body);
        assert_eq!(
            r.columns,
            [(
                "items".to_string(),
                "notes".to_string(),
                "Description".to_string()
            )]
        );
    }

    #[test]
    fn a_file_is_analysed_on_the_model_and_a_bad_down_is_seen() {
        let mut scratch = ReplayedSchema::default();
        scratch
            .apply(
                "1",
                "CREATE TABLE items (id bigint PRIMARY KEY, notes text);",
            )
            .unwrap();
        let analysis = scratch
            .analyze("2", "ALTER TABLE items DROP COLUMN notes;", "SELECT 1;")
            .expect("modelled");
        assert_eq!(analysis.engine, "PostgreSQL");
        assert_eq!(analysis.changes.len(), 1);
        assert!(analysis.down_mismatch.is_some(), "{analysis:?}");

        let failing = scratch
            .analyze("2", "\nALTER TABLE missing DROP COLUMN notes;", "")
            .expect("modelled");
        let (kind, statement, _) = failing.failure.expect("refused");
        assert_eq!(kind, SectionKind::Up);
        assert_eq!(statement, "ALTER TABLE missing DROP COLUMN notes");
    }
}
