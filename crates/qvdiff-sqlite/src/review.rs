//! What `qvdiff lint` and `qvdiff review` need to know about a section's SQL, read with the
//! dialect's tokenizer: its statements with their lines and comments, the table each acts on,
//! and the renames it performs.
//!
//! Like the tokenizer, this is not a parser: it recognises the statement shapes qvdiff writes
//! and the common hand-written ones; anything else is a statement with no table.

use crate::plan::REBUILD_PREFIX;
use crate::sqltext::{tokenize, Token, TokenKind};
use qvdiff_core::lint::{Section, Statement};
use qvdiff_core::Renames;
use std::collections::BTreeSet;

/// Splits a section body into statements. `marker_line` is the 1-based line of the section's
/// marker; the body starts on the next line.
///
/// The temporary table of a rebuild (`_qvdiff_new_t`) is reported as the table it rebuilds
/// (`t`), so every statement of a rebuild points at the same table.
pub fn section(body: &str, marker_line: usize) -> Section {
    let tokens = tokenize(body);
    // Newline offsets once, then a binary search per lookup: counting the newlines before each
    // statement from the start made a 1000-table initial migration quadratic (a third of
    // `migrate`'s time).
    let newlines: Vec<usize> = body
        .bytes()
        .enumerate()
        .filter_map(|(i, b)| (b == b'\n').then_some(i))
        .collect();
    let line_of = |byte: usize| marker_line + 1 + newlines.partition_point(|&at| at < byte);
    let mut statements = Vec::new();
    let mut previous_end = 0usize;
    for range in statement_ranges(body, &tokens) {
        let first = &tokens[range.0];
        let start = first.start;
        let end = tokens[range.1 - 1].end;
        let comments = own_line_comments(body, previous_end, start, &line_of);
        let line_end = body[end..].find('\n').map_or(body.len(), |i| end + i);
        let after = body[end..line_end].trim();
        let trailing_comment = after.starts_with("--").then(|| after.to_string());
        let words: Vec<String> = tokens[range.0..range.1]
            .iter()
            .filter(|t| t.kind == TokenKind::Word)
            .map(|t| t.text(body).to_ascii_uppercase())
            .collect();
        let table = acted_on(body, &tokens[range.0..range.1]).map(|t| {
            t.strip_prefix(REBUILD_PREFIX)
                .map_or(t.clone(), str::to_string)
        });
        statements.push(Statement {
            line: line_of(start),
            sql: body[start..end].to_string(),
            comments,
            trailing_comment,
            words,
            table,
        });
        previous_end = end;
    }
    let tail_comments = own_line_comments(body, previous_end, body.len(), &line_of);
    Section {
        marker_line,
        statements,
        tail_comments,
    }
}

/// The renames a script performs (`ALTER TABLE a RENAME TO b`, `ALTER TABLE t RENAME [COLUMN] a
/// TO b`), for diffing the schemas before and after it: without them a renamed column would look
/// like a dropped one and an added one. Column renames are keyed by the table's final name.
pub fn renames(sql: &str) -> Renames {
    let tokens = tokenize(sql);
    let mut renames = Renames::default();
    for range in statement_ranges(sql, &tokens) {
        let t = &tokens[range.0..range.1];
        let word = |i: usize, w: &str| t.get(i).is_some_and(|tok| tok.is_word(sql, w));
        if !(word(0, "ALTER") && word(1, "TABLE")) {
            continue;
        }
        let Some(table) = t.get(2).and_then(|tok| tok.ident(sql)) else {
            continue;
        };
        if !word(3, "RENAME") {
            continue;
        }
        if word(4, "TO") {
            if let Some(new) = t.get(5).and_then(|tok| tok.ident(sql)) {
                // A rebuild's temporary table taking the old name back is not a rename.
                if !table.starts_with(REBUILD_PREFIX) {
                    renames.tables.push((table, new));
                }
            }
            continue;
        }
        let at = if word(4, "COLUMN") { 5 } else { 4 };
        let old = t.get(at).and_then(|tok| tok.ident(sql));
        let new = t.get(at + 2).and_then(|tok| tok.ident(sql));
        if let (Some(old), true, Some(new)) = (old, word(at + 1, "TO"), new) {
            renames.columns.push((table, old, new));
        }
    }
    // Key column renames by the table's name after the script.
    let tables = renames.tables.clone();
    for (table, _, _) in &mut renames.columns {
        if let Some((_, new)) = tables.iter().find(|(old, _)| old == table) {
            *table = new.clone();
        }
    }
    renames.tables.sort();
    renames.columns.sort();
    renames
}

/// Whether `sql` can hold a rebuild at all, by [`rebuilt_tables`]'s two signs: a `-- rebuild`
/// note or a `DROP`. Without either, reading its statements (tens of milliseconds for the SQL of
/// a thousand new tables) is not needed to know that it rebuilds nothing.
pub fn may_rebuild(sql: &str) -> bool {
    sql.contains("-- rebuild ")
        || sql
            .as_bytes()
            .windows(4)
            .any(|word| word.eq_ignore_ascii_case(b"DROP"))
}

/// Tables a section rebuilds: those whose rebuild starts with a `-- rebuild` note, and those a
/// statement drops although they exist again afterwards (`exists_after`).
pub fn rebuilt_tables(section: &Section, exists_after: impl Fn(&str) -> bool) -> BTreeSet<String> {
    let mut rebuilt = BTreeSet::new();
    for statement in &section.statements {
        let noted = statement
            .comments
            .iter()
            .any(|(_, c)| c.trim_start().starts_with("-- rebuild "));
        let dropped_and_back = statement.starts_with(&["DROP", "TABLE"])
            && statement.table.as_deref().is_some_and(&exists_after);
        if noted || dropped_and_back {
            if let Some(table) = &statement.table {
                rebuilt.insert(table.clone());
            }
        }
    }
    rebuilt
}

/// Token index ranges `[first, past_last)` of each statement, the `;` included;
/// `CREATE TRIGGER … BEGIN … END` bodies stay whole (as in the crate's statement splitter).
fn statement_ranges(sql: &str, tokens: &[Token]) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut first: Option<usize> = None;
    let mut in_body = false;
    let mut case_depth = 0usize;
    for (i, token) in tokens.iter().enumerate() {
        let start = match first {
            Some(start) => start,
            None if token.kind == TokenKind::Semicolon => continue,
            None => {
                in_body = false;
                case_depth = 0;
                first = Some(i);
                i
            }
        };
        if !in_body && token.is_word(sql, "BEGIN") && is_create_trigger(sql, &tokens[start..i]) {
            in_body = true;
        }
        if in_body {
            if token.is_word(sql, "CASE") {
                case_depth += 1;
            } else if token.is_word(sql, "END") {
                if case_depth > 0 {
                    case_depth -= 1;
                } else {
                    in_body = false;
                }
            }
        }
        if token.kind == TokenKind::Semicolon && !in_body {
            ranges.push((start, i + 1));
            first = None;
        }
    }
    if let Some(start) = first {
        ranges.push((start, tokens.len()));
    }
    ranges
}

fn is_create_trigger(sql: &str, tokens: &[Token]) -> bool {
    let mut words = tokens.iter().filter(|t| t.kind == TokenKind::Word);
    words.next().is_some_and(|t| t.is_word(sql, "CREATE"))
        && words.take(2).any(|t| t.is_word(sql, "TRIGGER"))
}

/// Own-line `--` comments in `body[from..to]`, skipping the rest of the line `from` is on (a
/// trailing comment belongs to the statement before).
fn own_line_comments(
    body: &str,
    from: usize,
    to: usize,
    line_of: &impl Fn(usize) -> usize,
) -> Vec<(usize, String)> {
    let mut comments = Vec::new();
    let gap = &body[from..to];
    let mut offset = if from == 0 {
        0
    } else {
        match gap.find('\n') {
            Some(i) => i + 1,
            None => return comments,
        }
    };
    while offset < gap.len() {
        let rest = &gap[offset..];
        let len = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let line = rest[..len].trim();
        if line.starts_with("--") {
            comments.push((line_of(from + offset), line.to_string()));
        }
        offset += len;
    }
    comments
}

/// The table a statement acts on, unquoted (see [`Statement::table`]).
fn acted_on(sql: &str, t: &[Token]) -> Option<String> {
    const NOISE: &[&str] = &[
        "IF",
        "NOT",
        "EXISTS",
        "OR",
        "REPLACE",
        "ROLLBACK",
        "ABORT",
        "FAIL",
        "IGNORE",
        "TEMP",
        "TEMPORARY",
        "UNIQUE",
    ];
    let word = |i: usize, w: &str| t.get(i).is_some_and(|tok| tok.is_word(sql, w));
    // The first identifier at or after `i` that is not a noise keyword.
    let ident_from = |mut i: usize| -> Option<String> {
        while let Some(tok) = t.get(i) {
            let noise = tok.kind == TokenKind::Word && NOISE.iter().any(|n| tok.is_word(sql, n));
            if !noise {
                return tok.ident(sql);
            }
            i += 1;
        }
        None
    };
    if word(0, "CREATE") {
        let index = t.iter().position(|tok| tok.is_word(sql, "INDEX"));
        if let Some(index) = index {
            let on = t[index..].iter().position(|tok| tok.is_word(sql, "ON"))?;
            return ident_from(index + on + 1);
        }
        let table = t.iter().position(|tok| tok.is_word(sql, "TABLE"))?;
        return ident_from(table + 1);
    }
    if (word(0, "DROP") || word(0, "ALTER")) && word(1, "TABLE") {
        return ident_from(2);
    }
    if word(0, "INSERT") || word(0, "REPLACE") {
        let into = t.iter().position(|tok| tok.is_word(sql, "INTO"))?;
        return ident_from(into + 1);
    }
    if word(0, "DELETE") && word(1, "FROM") {
        return ident_from(2);
    }
    if word(0, "UPDATE") {
        return ident_from(1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_keep_lines_comments_and_tables() {
        let body = "ALTER TABLE \"items\" RENAME COLUMN \"notes\" TO \"description\";\n\
                    -- rebuild \"items\": \"price\" becomes NOT NULL\n\
                    CREATE TABLE \"_qvdiff_new_items\" (\n    \"id\" INTEGER\n);\n\
                    -- qvdiff:allow destructive \"unused\"\n\
                    DROP TABLE \"items\";  -- DESTRUCTIVE: drops data in items.url\n\
                    CREATE UNIQUE INDEX IF NOT EXISTS \"ix\" ON \"items\" (\"id\");\n\
                    -- the end\n";
        let s = section(body, 4);
        let lines: Vec<usize> = s.statements.iter().map(|s| s.line).collect();
        assert_eq!(lines, [5, 7, 11, 12]);
        let tables: Vec<Option<&str>> = s.statements.iter().map(|s| s.table.as_deref()).collect();
        assert_eq!(tables, [Some("items"); 4]);
        assert_eq!(
            s.statements[1].comments,
            [(
                6,
                "-- rebuild \"items\": \"price\" becomes NOT NULL".to_string()
            )]
        );
        assert_eq!(s.statements[2].comments[0].0, 10);
        assert_eq!(
            s.statements[2].trailing_comment.as_deref(),
            Some("-- DESTRUCTIVE: drops data in items.url")
        );
        assert!(s.statements[3].comments.is_empty());
        assert_eq!(s.tail_comments, [(13, "-- the end".to_string())]);
        let rebuilt = rebuilt_tables(&s, |_| true);
        assert_eq!(rebuilt.into_iter().collect::<Vec<_>>(), ["items"]);
    }

    #[test]
    fn only_sql_with_a_rebuild_note_or_a_drop_may_rebuild() {
        let noted = "-- rebuild \"items\": \"price\" becomes NOT NULL\nCREATE TABLE \"a\" (\"id\" INTEGER);\n";
        let dropped = "drop table \"items\";\n";
        for sql in [noted, dropped] {
            assert!(may_rebuild(sql), "{sql}");
            assert!(
                !rebuilt_tables(&section(sql, 0), |_| true).is_empty(),
                "{sql}"
            );
        }
        let created = "CREATE TABLE \"items\" (\"id\" INTEGER);\nCREATE INDEX \"ix\" ON \"items\" (\"id\");\n";
        assert!(!may_rebuild(created));
        assert!(rebuilt_tables(&section(created, 0), |_| true).is_empty());
    }

    #[test]
    fn renames_are_read_from_alter_statements() {
        let sql = "ALTER TABLE users RENAME TO \"customers\";\n\
                   ALTER TABLE \"users\" RENAME \"mail\" TO \"email\";\n\
                   ALTER TABLE \"_qvdiff_new_x\" RENAME TO \"x\";\n";
        let r = renames(sql);
        assert_eq!(r.tables, [("users".to_string(), "customers".to_string())]);
        assert_eq!(
            r.columns,
            [(
                "customers".to_string(),
                "mail".to_string(),
                "email".to_string()
            )]
        );
    }

    #[test]
    fn a_trigger_body_is_one_statement() {
        let body = "CREATE TRIGGER t AFTER INSERT ON items BEGIN UPDATE items SET a = 1; END;\nDELETE FROM items;\n";
        let s = section(body, 1);
        assert_eq!(s.statements.len(), 2);
        assert_eq!(s.statements[1].line, 3);
        assert_eq!(s.statements[1].table.as_deref(), Some("items"));
    }
}
