//! `qvdiff lint`: the rules a migration file is checked against before review, and the
//! `-- qvdiff:allow <rule> "<reason>"` suppressions.
//!
//! The rules are pure: the caller (the CLI, with a dialect) splits the file's sections into
//! [`Statement`]s, replays the file on a scratch database and hands over what it saw
//! ([`Analysis`]); [`lint_file`] turns that into [`Finding`]s with a rule id, a 1-based line and
//! one sentence.
//!
//! A suppression silences exactly one finding of its rule: for a statement's finding, the
//! `allow` must sit in the comment lines right above that statement; for a finding about a whole
//! section (`down-empty`, `down-not-inverse`, `edited-generated`), anywhere in that section. The
//! reason is required: an `allow` without one, or naming an unknown rule, is itself a finding
//! (`bad-allow`) and silences nothing.

use crate::change::Change;
use crate::dialect::{Action, LockMode, StepFacts};
use crate::migration::ALLOW_PREFIX;
use crate::schema::Schema;
use crate::summary::{recorded_fingerprint, section_fingerprint, TypeNamer};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A lint rule. [`Rule::id`] is what users type in `-- qvdiff:allow <id> "…"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The up section loses data: a dropped table or column, a lossy type change, a `DELETE`.
    Destructive,
    /// The up section rebuilds a table: every row is copied while the table is locked.
    Rebuild,
    /// An existing column becomes NOT NULL: rows holding NULL may refuse it.
    NotNullOnExisting,
    /// A UNIQUE constraint or index on existing columns: duplicate rows may refuse it.
    UniqueOnExisting,
    /// The up section has SQL but the down section has none.
    DownEmpty,
    /// Applying up then down does not give back the schema the file started from.
    DownNotInverse,
    /// A section of a generated file no longer matches the fingerprint qvdiff recorded.
    EditedGenerated,
    /// The file is not a valid migration file, or its SQL fails on its own dialect.
    DoesNotParse,
    /// A `-- qvdiff:allow` line without a reason or with an unknown rule id.
    BadAllow,
    /// A column dropped and another of the same type added in one table, or a table dropped and
    /// another with the same columns created: if it was a rename, the data is lost.
    PossibleRename,
    /// PostgreSQL: an index built or dropped on an existing table without `CONCURRENTLY`.
    NonConcurrentIndex,
    /// PostgreSQL: a foreign key or CHECK added to an existing table without `NOT VALID`.
    ConstraintWithoutNotValid,
    /// PostgreSQL: `SET NOT NULL` with no validated `CHECK (c IS NOT NULL)` before it.
    SetNotNullScans,
    /// PostgreSQL: a column type change that rewrites the table.
    TypeChangeRewrites,
    /// PostgreSQL: a new column whose default is volatile (evaluated per row).
    VolatileDefault,
    /// PostgreSQL: a table or column renamed or dropped in one step, while the app version
    /// still running uses it.
    ExpandContract,
    /// PostgreSQL: a foreign key whose columns no index starts with.
    ForeignKeyWithoutIndex,
    /// PostgreSQL: a `timestamp` column (without time zone).
    TimestampWithoutTimeZone,
}

impl Rule {
    /// Every rule, in documentation order.
    pub const ALL: [Rule; 18] = [
        Rule::Destructive,
        Rule::Rebuild,
        Rule::NotNullOnExisting,
        Rule::UniqueOnExisting,
        Rule::DownEmpty,
        Rule::DownNotInverse,
        Rule::EditedGenerated,
        Rule::DoesNotParse,
        Rule::BadAllow,
        Rule::PossibleRename,
        Rule::NonConcurrentIndex,
        Rule::ConstraintWithoutNotValid,
        Rule::SetNotNullScans,
        Rule::TypeChangeRewrites,
        Rule::VolatileDefault,
        Rule::ExpandContract,
        Rule::ForeignKeyWithoutIndex,
        Rule::TimestampWithoutTimeZone,
    ];

    /// The rule id (`destructive`, `not-null-on-existing`, …).
    pub fn id(self) -> &'static str {
        match self {
            Rule::Destructive => "destructive",
            Rule::Rebuild => "rebuild",
            Rule::NotNullOnExisting => "not-null-on-existing",
            Rule::UniqueOnExisting => "unique-on-existing",
            Rule::DownEmpty => "down-empty",
            Rule::DownNotInverse => "down-not-inverse",
            Rule::EditedGenerated => "edited-generated",
            Rule::DoesNotParse => "does-not-parse",
            Rule::BadAllow => "bad-allow",
            Rule::PossibleRename => "possible-rename",
            Rule::NonConcurrentIndex => "non-concurrent-index",
            Rule::ConstraintWithoutNotValid => "constraint-without-not-valid",
            Rule::SetNotNullScans => "set-not-null-scans",
            Rule::TypeChangeRewrites => "type-change-rewrites",
            Rule::VolatileDefault => "volatile-default",
            Rule::ExpandContract => "expand-contract",
            Rule::ForeignKeyWithoutIndex => "foreign-key-without-index",
            Rule::TimestampWithoutTimeZone => "timestamp-without-time-zone",
        }
    }

    /// The rule with this id.
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.id() == id)
    }

    /// Whether an `allow` can silence this rule. A file that does not parse cannot be reviewed
    /// at all, and a broken `allow` must be fixed rather than allowed.
    pub fn can_be_allowed(self) -> bool {
        !matches!(self, Rule::DoesNotParse | Rule::BadAllow)
    }
}

/// Which section of a file a line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    /// Between `-- qvdiff:up` and `-- qvdiff:down`.
    Up,
    /// After `-- qvdiff:down`.
    Down,
}

/// One SQL statement of a section, as the dialect split it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statement {
    /// 1-based line of the statement's first token.
    pub line: usize,
    /// The statement's text (without comments before it).
    pub sql: String,
    /// Own-line comments right above the statement (after the previous statement's line), with
    /// their 1-based lines: where `-- qvdiff:allow` lines sit.
    pub comments: Vec<(usize, String)>,
    /// A comment after the statement on its last line (a generated file's `-- DESTRUCTIVE: …`,
    /// for the reader: lint reads the statement's facts instead).
    pub trailing_comment: Option<String>,
    /// The statement's bare words, upper-cased, in order (`DROP`, `TABLE`, …).
    pub words: Vec<String>,
    /// The table the statement acts on (`DROP TABLE t`, `ALTER TABLE t`, `CREATE INDEX … ON t`,
    /// `INSERT INTO t`, `DELETE FROM t`, `UPDATE t`), unquoted.
    pub table: Option<String>,
}

impl Statement {
    /// Whether the statement starts with these words (upper case).
    pub fn starts_with(&self, words: &[&str]) -> bool {
        self.words.len() >= words.len() && self.words.iter().zip(words).all(|(a, b)| a == b)
    }

    fn has_word(&self, word: &str) -> bool {
        self.words.iter().any(|w| w == word)
    }
}

/// A section as the linter sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// 1-based line of the section's marker (`-- qvdiff:up` / `-- qvdiff:down`).
    pub marker_line: usize,
    /// The statements in order.
    pub statements: Vec<Statement>,
    /// Own-line comments after the last statement (an empty section has only these).
    pub tail_comments: Vec<(usize, String)>,
}

/// What replaying the file on a scratch database showed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analysis {
    /// The schema the file starts from (its parents applied).
    pub before: Schema,
    /// The schema after its up section (equal to `before` when up failed).
    pub after: Schema,
    /// `diff(before, after)` with the renames the up section's SQL performs.
    pub changes: Vec<Change>,
    /// A statement that failed: section, the statement's text and the database's message.
    pub failure: Option<(SectionKind, String, String)>,
    /// When up then down does not give back `before`: what differs, in one sentence.
    pub down_mismatch: Option<String>,
    /// The database that ran the file (`SQLite`, `PostgreSQL`), for messages.
    pub engine: &'static str,
}

impl Analysis {
    /// The start of an analysis from `before`, as the dialect `engine` stores it.
    pub fn starting_at(before: Schema, engine: &'static str) -> Analysis {
        Analysis {
            after: before.clone(),
            before,
            engine,
            ..Analysis::default()
        }
    }
}

/// What still differs from `before` after up and down, in words; `None` when nothing does. Both
/// schemas come as their dialect compares them.
pub fn down_mismatch(before: &Schema, back: &Schema) -> Option<String> {
    if before == back {
        return None;
    }
    let left: Vec<String> = crate::diff::diff(before, back, &Default::default())
        .iter()
        .map(|c| c.describe())
        .collect();
    Some(if left.is_empty() {
        "views or triggers differ".to_string()
    } else {
        format!("down leaves {}", left.join("; "))
    })
}

/// What [`lint_file`] needs to know about one parsed migration file.
#[derive(Clone)]
pub struct FileFacts<'a> {
    /// The file's text.
    pub text: &'a str,
    /// Body of the up section, verbatim.
    pub up_text: &'a str,
    /// Body of the down section, verbatim.
    pub down_text: &'a str,
    /// The up section, split.
    pub up: Section,
    /// The down section, split.
    pub down: Section,
    /// A merge revision (two or more parents): no SQL of its own is expected.
    pub is_merge: bool,
    /// The replay, when the file's ancestors could be replayed.
    pub analysis: Option<Analysis>,
    /// The facts of each up statement, as the dialect reads them from the SQL
    /// ([`crate::Dialect::facts_of`]); one per statement of `up`.
    pub up_facts: Vec<StepFacts>,
    /// Column types as the file's dialect spells them ([`crate::Dialect::type_name`]), so a
    /// finding speaks the vocabulary of the file.
    pub type_name: TypeNamer<'a>,
    /// For a contract revision: the facts of the up statements of the expand revision it
    /// completes (its parent), as the dialect reads them from that file's SQL; empty for any
    /// other file. The columns the expand copied into new ones are what the contract may drop
    /// and rename without an `expand-contract` finding.
    pub expand_facts: Vec<StepFacts>,
}

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// 1-based line in the file.
    pub line: usize,
    /// The rule.
    pub rule: Rule,
    /// One sentence: what is wrong and why a reviewer should care.
    pub message: String,
    /// How to silence it in the file, or how to fix it when it cannot be silenced.
    pub silence: String,
}

/// Where a finding is anchored, for matching suppressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Anchor {
    /// A statement: `(section, index)`.
    Statement(SectionKind, usize),
    /// A whole section.
    Section(SectionKind),
    /// Not silenceable.
    None,
}

/// One `-- qvdiff:allow` line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Allow {
    line: usize,
    rule: Rule,
    section: SectionKind,
    /// The statement the allow sits above, if any.
    statement: Option<usize>,
}

/// The finding for a file that is not a valid migration file (the format's own error).
pub fn format_finding(line: usize, message: &str) -> Finding {
    Finding {
        line,
        rule: Rule::DoesNotParse,
        message: format!("not a valid migration file: {message}"),
        silence: "fix the file; a file that does not parse cannot be applied or allowed".into(),
    }
}

/// Every finding of one file, sorted by line, suppressions applied.
pub fn lint_file(facts: &FileFacts<'_>) -> Vec<Finding> {
    let mut raw: Vec<(Anchor, Finding)> = Vec::new();
    // Where a finding is: what an allow must be next to, and the line shown.
    let up_statement = |i: usize| {
        (
            Anchor::Statement(SectionKind::Up, i),
            facts.up.statements[i].line,
        )
    };
    let mut push = |(anchor, line): (Anchor, usize), rule: Rule, message: String| {
        let silence = match anchor {
            Anchor::Statement(..) => format!(
                "put `{ALLOW_PREFIX} {} \"<why this is safe>\"` on the line above line {line}",
                rule.id()
            ),
            Anchor::Section(section) => format!(
                "put `{ALLOW_PREFIX} {} \"<why this is safe>\"` in the {} section",
                rule.id(),
                if section == SectionKind::Up {
                    "up"
                } else {
                    "down"
                }
            ),
            Anchor::None => "fix the file; this cannot be allowed".to_string(),
        };
        raw.push((
            anchor,
            Finding {
                line,
                rule,
                message,
                silence,
            },
        ));
    };

    // Fingerprint: generated files must still be what qvdiff wrote.
    let generated = recorded_fingerprint(facts.text);
    if let Some((_, up_print, down_print)) = &generated {
        for (kind, section, body, recorded) in [
            (SectionKind::Up, &facts.up, facts.up_text, up_print),
            (SectionKind::Down, &facts.down, facts.down_text, down_print),
        ] {
            if &section_fingerprint(body) != recorded {
                push(
                    (Anchor::Section(kind), section.marker_line),
                    Rule::EditedGenerated,
                    format!(
                        "the {} section was edited after qvdiff generated it; review the edit, or \
                         delete the `generated by qvdiff` line to mark the file hand-written",
                        if kind == SectionKind::Up {
                            "up"
                        } else {
                            "down"
                        }
                    ),
                );
            }
        }
    }

    // An empty way back.
    if !facts.is_merge && !facts.up.statements.is_empty() && facts.down.statements.is_empty() {
        push(
            (Anchor::Section(SectionKind::Down), facts.down.marker_line),
            Rule::DownEmpty,
            "the down section has no SQL, so `qvdiff downgrade` would record this revision as \
             reverted without undoing anything"
                .into(),
        );
    }

    // Statement-level rules of the up section, from the facts the dialect read in its SQL.
    let no_facts = StepFacts::default();
    let facts_at = |i: usize| facts.up_facts.get(i).unwrap_or(&no_facts);
    let replaced = if crate::migration::is_contract(facts.text) {
        replaced_columns(&facts.expand_facts)
    } else {
        BTreeSet::new()
    };
    let mut destructive: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut rebuilds: BTreeMap<usize, String> = BTreeMap::new();
    for (i, statement) in facts.up.statements.iter().enumerate() {
        let step = facts_at(i);
        for loss in &step.destroys {
            destructive.entry(i).or_default().push(loss.reason.clone());
        }
        if let Some(table) = &step.rebuilds {
            rebuilds.insert(i, table.clone());
        }
        for (rule, message) in lock_findings(step, statement, facts.analysis.as_ref(), &replaced) {
            push(up_statement(i), rule, message);
        }
    }
    let mut not_null: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut unique: BTreeMap<usize, Vec<String>> = BTreeMap::new();

    if let Some(analysis) = &facts.analysis {
        if let Some((kind, statement, message)) = &analysis.failure {
            let section = if *kind == SectionKind::Up {
                &facts.up
            } else {
                &facts.down
            };
            let wanted = squash(statement);
            let line = section
                .statements
                .iter()
                .find(|s| squash(&s.sql) == wanted)
                .map_or(section.marker_line, |s| s.line);
            push(
                (Anchor::None, line),
                Rule::DoesNotParse,
                format!("this SQL fails on {}: {message}", analysis.engine),
            );
        }
        for change in &analysis.changes {
            if let Some(reason) = change.destructive_reason() {
                let table = destroyed_table(change);
                let at = locate_by_facts(facts, table, |f| !f.destroys.is_empty())
                    .or_else(|| locate(&facts.up, table, |s| s.has_word("DROP")))
                    .or_else(|| locate(&facts.up, table, |_| true));
                let Some(at) = at else { continue };
                let reasons = destructive.entry(at).or_default();
                // The statement's facts already say it.
                if reasons.is_empty() {
                    reasons.push(reason);
                }
            }
            match change {
                Change::AlterColumn { table, from, to }
                    if from.nullable
                        && !to.nullable
                        && !fills_nulls(&facts.up, table, &to.name)
                        && !checked_not_null(&analysis.before, table, &to.name) =>
                {
                    let sets_not_null = |f: &StepFacts| {
                        f.actions.iter().any(
                            |a| matches!(a, Action::SetNotNull { column, .. } if *column == to.name),
                        )
                    };
                    let at =
                        locate_by_facts(facts, table, |f| f.rebuilds.is_some() || sets_not_null(f))
                            .or_else(|| locate(&facts.up, table, |_| true));
                    if let Some(at) = at {
                        not_null
                            .entry(at)
                            .or_default()
                            .push(format!("{table}.{}", to.name));
                    }
                }
                Change::AddUnique { table, unique: u }
                    if existed(analysis, table, &u.columns)
                        && !already_unique(analysis, table, &u.columns) =>
                {
                    let at = locate_by_facts(facts, table, |f| f.rebuilds.is_some())
                        .or_else(|| locate(&facts.up, table, |_| true));
                    if let Some(at) = at {
                        unique
                            .entry(at)
                            .or_default()
                            .push(format!("{table} ({})", u.columns.join(", ")));
                    }
                }
                Change::AddIndex { table, index }
                    if index.unique && existed(analysis, table, &index.columns) =>
                {
                    let at = locate(&facts.up, table, |s| {
                        s.starts_with(&["CREATE", "UNIQUE", "INDEX"])
                            && s.sql.contains(index.name.as_str())
                    })
                    .or_else(|| locate(&facts.up, table, |_| true));
                    if let Some(at) = at {
                        unique.entry(at).or_default().push(format!(
                            "{table} ({}){}",
                            index.columns.join(", "),
                            index.where_suffix()
                        ));
                    }
                }
                _ => {}
            }
        }
        if let Some(mismatch) = &analysis.down_mismatch {
            if !facts.down.statements.is_empty() {
                push(
                    (Anchor::Section(SectionKind::Down), facts.down.marker_line),
                    Rule::DownNotInverse,
                    format!("up then down does not give back the schema before up: {mismatch}"),
                );
            }
        }
    }

    for (i, reasons) in destructive {
        push(
            up_statement(i),
            Rule::Destructive,
            format!("loses data: {}", reasons.join("; ")),
        );
    }
    for (i, table) in rebuilds {
        // Why, in the words of the changes the replay saw on that table.
        let why: Vec<String> = facts
            .analysis
            .iter()
            .flat_map(|a| &a.changes)
            .filter(|c| c.altered_table() == Some(table.as_str()))
            .map(|c| c.describe_in(facts.type_name))
            .collect();
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(" ({})", why.join("; "))
        };
        push(
            up_statement(i),
            Rule::Rebuild,
            format!(
                "rebuilds table \"{table}\"{why}: every row is copied while the table is locked, \
                 so it takes time proportional to the table's size"
            ),
        );
    }
    for (i, columns) in not_null {
        push(
            up_statement(i),
            Rule::NotNullOnExisting,
            format!(
                "{} becomes NOT NULL and nothing fills its NULLs: existing rows holding NULL \
                 will make the upgrade refuse (give the field a `backfill` or a `default`)",
                columns.join(", ")
            ),
        );
    }
    for (i, columns) in unique {
        push(
            up_statement(i),
            Rule::UniqueOnExisting,
            format!(
                "UNIQUE on existing column(s) {}: duplicate rows already stored will make the \
                 upgrade refuse",
                columns.join(", ")
            ),
        );
    }

    // A drop and an add that could be one rename: the reviewer must decide.
    if let Some(analysis) = &facts.analysis {
        for candidate in crate::diff::rename_candidates(&analysis.changes) {
            let drops = |s: &Statement| s.has_word("DROP") || s.starts_with(&["CREATE", "TABLE"]);
            let at = locate(&facts.up, &candidate.table, drops)
                .or_else(|| locate(&facts.up, &candidate.table, |_| true));
            let Some(i) = at else {
                continue;
            };
            push(
                up_statement(i),
                Rule::PossibleRename,
                format!(
                    "{0}.{1} is dropped and {0}.{2} of the same type added: if {1} was renamed, \
                     its data is lost; use the rename (the commented alternative qvdiff wrote, or \
                     `#[column(renamed_from = \"{1}\")]` and a new migration)",
                    candidate.table, candidate.from, candidate.to
                ),
            );
        }
        for (from, to) in crate::diff::table_rename_candidates(&analysis.changes) {
            let drops = |s: &Statement| s.starts_with(&["DROP", "TABLE"]);
            let Some(i) = locate(&facts.up, &from, drops) else {
                continue;
            };
            push(
                up_statement(i),
                Rule::PossibleRename,
                format!(
                    "table {from} is dropped and table {to} with the same columns created: if \
                     {from} was renamed, its rows are lost; use the rename (the commented \
                     alternative qvdiff wrote, or `#[model(renamed_from = \"{from}\")]` and a \
                     new migration)"
                ),
            );
        }
    }

    // Suppressions.
    let mut allows = Vec::new();
    for (kind, section) in [
        (SectionKind::Up, &facts.up),
        (SectionKind::Down, &facts.down),
    ] {
        let mut lines: Vec<(usize, &String, Option<usize>)> = Vec::new();
        for (i, statement) in section.statements.iter().enumerate() {
            lines.extend(statement.comments.iter().map(|(l, c)| (*l, c, Some(i))));
        }
        lines.extend(section.tail_comments.iter().map(|(l, c)| (*l, c, None)));
        for (line, comment, statement) in lines {
            let Some(rest) = comment.trim().strip_prefix(ALLOW_PREFIX) else {
                continue;
            };
            match parse_allow(rest) {
                Ok(rule) => allows.push(Allow {
                    line,
                    rule,
                    section: kind,
                    statement,
                }),
                Err(problem) => push((Anchor::None, line), Rule::BadAllow, problem),
            }
        }
    }
    let mut used = vec![false; allows.len()];
    let mut findings = Vec::new();
    for (anchor, finding) in raw {
        let matching = allows.iter().enumerate().position(|(k, allow)| {
            !used[k]
                && allow.rule == finding.rule
                && finding.rule.can_be_allowed()
                && match anchor {
                    Anchor::Statement(section, index) => {
                        allow.section == section && allow.statement == Some(index)
                    }
                    Anchor::Section(section) => allow.section == section,
                    Anchor::None => false,
                }
        });
        match matching {
            Some(k) => used[k] = true,
            None => findings.push(finding),
        }
    }
    findings.sort();
    findings
}

/// The rule of an `allow` line's rest (after `-- qvdiff:allow`), or why it is not usable.
fn parse_allow(rest: &str) -> Result<Rule, String> {
    let rest = rest.trim();
    let (id, reason) = match rest.split_once(char::is_whitespace) {
        Some((id, reason)) => (id, reason.trim()),
        None => (rest, ""),
    };
    let Some(rule) = Rule::from_id(id) else {
        let known: Vec<&str> = Rule::ALL
            .iter()
            .filter(|r| r.can_be_allowed())
            .map(|r| r.id())
            .collect();
        return Err(format!(
            "`{ALLOW_PREFIX}` names unknown rule `{id}` (known: {})",
            known.join(", ")
        ));
    };
    if !rule.can_be_allowed() {
        return Err(format!(
            "rule `{id}` cannot be allowed; fix the file instead"
        ));
    }
    let quoted = reason.len() >= 2 && reason.starts_with('"') && reason.ends_with('"');
    if !quoted || reason[1..reason.len() - 1].trim().is_empty() {
        return Err(format!(
            "`{ALLOW_PREFIX} {id}` needs a reason in double quotes, e.g. \
             `{ALLOW_PREFIX} {id} \"column unused since v2\"`"
        ));
    }
    Ok(rule)
}

/// Whether the up section gives existing NULLs of `table.column` a value before or while the
/// column becomes NOT NULL: a rebuild's `COALESCE("column", …)` or an `UPDATE` of the table that
/// names the column.
fn fills_nulls(section: &Section, table: &str, column: &str) -> bool {
    let quoted = format!("COALESCE(\"{}\"", column.replace('"', "\"\""));
    section.statements.iter().any(|s| {
        s.table.as_deref() == Some(table)
            && (s.sql.contains(&quoted) || (s.starts_with(&["UPDATE"]) && s.sql.contains(column)))
    })
}

/// Whether `table` in `schema` has a CHECK `column IS NOT NULL` (the one an expand revision
/// validates so that its contract sets NOT NULL): no row holds NULL there.
fn checked_not_null(schema: &Schema, table: &str, column: &str) -> bool {
    let plain = |expr: &str| {
        let words = expr.replace('"', "");
        let words = words.trim();
        let words = words
            .strip_prefix('(')
            .and_then(|w| w.strip_suffix(')'))
            .unwrap_or(words);
        words.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let wanted = format!("{column} IS NOT NULL");
    schema.table(table).is_some_and(|t| {
        t.checks
            .iter()
            .any(|c| plain(&c.expr).eq_ignore_ascii_case(&wanted))
    })
}

/// The table a destructive change loses data in.
fn destroyed_table(change: &Change) -> &str {
    match change {
        Change::DropTable { table } => &table.name,
        Change::DropColumn { table, .. } | Change::AlterColumn { table, .. } => table,
        _ => "",
    }
}

/// The first up statement acting on `table` whose facts satisfy `pred`.
fn locate_by_facts(
    facts: &FileFacts<'_>,
    table: &str,
    pred: impl Fn(&StepFacts) -> bool,
) -> Option<usize> {
    facts.up.statements.iter().enumerate().position(|(i, s)| {
        s.table.as_deref() == Some(table) && facts.up_facts.get(i).is_some_and(&pred)
    })
}

/// A column an expand revision copied into a new one, `(table, old, new)`: its contract drops
/// `old` and gives `new` its place (renamed to `old` when only the type changed).
type Replaced = (String, String, String);

/// The columns the up statements with `expand_facts` copied into new ones (their backfills).
fn replaced_columns(expand_facts: &[StepFacts]) -> BTreeSet<Replaced> {
    let mut replaced = BTreeSet::new();
    for step in expand_facts {
        let Some(lock) = &step.lock else { continue };
        for action in &step.actions {
            if let Action::CopyColumn { from, to } = action {
                replaced.insert((lock.table.clone(), from.clone(), to.clone()));
            }
        }
    }
    replaced
}

/// The PostgreSQL lock rules' findings for one statement: each says what the statement does,
/// the lock it holds meanwhile, and the safe form. They judge statements on tables that exist
/// before the file (those the facts name a lock for); a new table blocks nobody. A contract's
/// drop of a column its expand `replaced`, and its rename of the new column to the old name,
/// complete expand / contract: no `expand-contract` finding.
fn lock_findings(
    step: &StepFacts,
    statement: &Statement,
    analysis: Option<&Analysis>,
    replaced: &BTreeSet<Replaced>,
) -> Vec<(Rule, String)> {
    let mut found = Vec::new();
    let table = step
        .lock
        .as_ref()
        .map(|l| l.table.clone())
        .or_else(|| statement.table.clone())
        .unwrap_or_default();
    let held = |mode: LockMode| -> String {
        let blocks = if mode.blocks_reads() {
            "blocks reads and writes"
        } else if mode.blocks_writes() {
            "blocks writes"
        } else {
            "blocks neither reads nor writes"
        };
        format!("{} lock ({blocks})", mode.sql())
    };
    let mode = step.lock.as_ref().map(|l| l.mode);
    for action in &step.actions {
        match (action, mode) {
            (
                Action::BuildIndex {
                    concurrently: false,
                },
                Some(mode),
            ) => found.push((
                Rule::NonConcurrentIndex,
                format!(
                    "builds an index on existing table {table} without CONCURRENTLY: it reads \
                     every row under a {} until it is done; use `CREATE INDEX CONCURRENTLY` as \
                     its own step, outside the transaction",
                    held(mode)
                ),
            )),
            (
                Action::DropIndex {
                    concurrently: false,
                },
                Some(mode),
            ) => found.push((
                Rule::NonConcurrentIndex,
                format!(
                    "drops an index of {table} without CONCURRENTLY: it waits for every running \
                     query on the table under an {}, and everything queues behind it; use \
                     `DROP INDEX CONCURRENTLY` as its own step, outside the transaction",
                    held(mode)
                ),
            )),
            (
                Action::AddForeignKey {
                    checks_rows: true, ..
                },
                Some(mode),
            ) => found.push((
                Rule::ConstraintWithoutNotValid,
                format!(
                    "adds a foreign key to existing table {table} that checks every row under a \
                     {}; add it `NOT VALID`, then `VALIDATE CONSTRAINT` in a later statement \
                     (SHARE UPDATE EXCLUSIVE: blocks no writes)",
                    held(mode)
                ),
            )),
            (Action::AddCheck { checks_rows: true }, Some(mode)) => found.push((
                Rule::ConstraintWithoutNotValid,
                format!(
                    "adds a CHECK to existing table {table} that checks every row under an {}; \
                     add it `NOT VALID`, then `VALIDATE CONSTRAINT` in a later statement \
                     (SHARE UPDATE EXCLUSIVE: blocks no writes)",
                    held(mode)
                ),
            )),
            (
                Action::SetNotNull {
                    column,
                    scans: true,
                },
                Some(mode),
            ) => found.push((
                Rule::SetNotNullScans,
                format!(
                    "SET NOT NULL on {table}.{column} reads every row under an {}; add \
                     `CHECK ({column} IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT` it, then \
                     SET NOT NULL (which uses the validated CHECK and scans nothing), and drop \
                     the CHECK",
                    held(mode)
                ),
            )),
            (
                Action::ChangeType {
                    column,
                    rewrites: true,
                },
                Some(mode),
            ) => found.push((
                Rule::TypeChangeRewrites,
                format!(
                    "changing the type of {table}.{column} rewrites the whole table under an \
                     {}; only widenings such as varchar(n) to varchar(m > n) or text are free: \
                     add a new column, keep it in step with a trigger, backfill it in batches, \
                     then swap (expand/contract)",
                    held(mode)
                ),
            )),
            (Action::VolatileDefault { column }, Some(mode)) => found.push((
                Rule::VolatileDefault,
                format!(
                    "{table}.{column} is added with a volatile default, so every row is written \
                     under an {}; add the column without it (or with a constant or `now()`), \
                     then set the default and backfill the rows in batches",
                    held(mode)
                ),
            )),
            // The expand of an online rename leaves the old name as a view over the table.
            (Action::RenameTable { from, to }, Some(_))
                if analysis.is_some_and(|a| {
                    a.after
                        .views
                        .iter()
                        .any(|v| &v.name == from && &v.table == to)
                }) => {}
            (Action::RenameTable { from, to }, Some(_)) => found.push((
                Rule::ExpandContract,
                format!(
                    "renames table {from} to {to} in one step: the app version still running \
                     queries {from} and fails until it is replaced; expand/contract: let new code \
                     use a view or both names first, rename once no running code uses {from}"
                ),
            )),
            // The swap of a type change: the new column takes the old one's name.
            (Action::RenameColumn { from, to }, Some(_))
                if replaced.contains(&(table.clone(), to.clone(), from.clone())) => {}
            (Action::RenameColumn { from, to }, Some(_)) => found.push((
                Rule::ExpandContract,
                format!(
                    "renames {table}.{from} to {to} in one step: the app version still running \
                     reads and writes {from} and fails until it is replaced; expand/contract: add \
                     {to}, keep both in step, move the code over, drop {from} later"
                ),
            )),
            (Action::AddForeignKey { columns, .. }, _) => {
                let indexed = analysis.is_some_and(|a| {
                    a.after
                        .table(&table)
                        .is_some_and(|t| t.has_index_on(columns))
                });
                if analysis.is_some() && !indexed {
                    found.push((
                        Rule::ForeignKeyWithoutIndex,
                        format!(
                            "the foreign key of {table} ({}) has no index starting with its \
                             columns: each delete or key update in the referenced table reads \
                             all of {table}; index the columns (`#[column(index)]`, or \
                             `#[model(index(fields(…)))]`)",
                            columns.join(", ")
                        ),
                    ));
                }
            }
            (Action::NaiveTimestamp { column }, _) => found.push((
                Rule::TimestampWithoutTimeZone,
                format!(
                    "{table}.{column} is `timestamp` without time zone: it stores a wall-clock \
                     reading with no zone, so the same value means different instants to \
                     servers or sessions in other zones; use `timestamptz` \
                     (`chrono::DateTime<Utc>` in the model)"
                ),
            )),
            _ => {}
        }
    }
    // A dropped table or column: the same expand/contract concern as a rename.
    if mode.is_some() {
        for loss in &step.destroys {
            // Deleted rows and converted values are the `destructive` rule's concern.
            let converts = loss.column.is_some() && statement.has_word("TYPE");
            if statement.starts_with(&["DELETE"]) || converts {
                continue;
            }
            let completes = loss.column.as_ref().is_some_and(|column| {
                replaced
                    .iter()
                    .any(|(t, old, _)| *t == loss.table && old == column)
            });
            if completes {
                continue;
            }
            let what = match &loss.column {
                Some(column) => format!("column {}.{column}", loss.table),
                None => format!("table {}", loss.table),
            };
            found.push((
                Rule::ExpandContract,
                format!(
                    "drops {what} in one step: the app version still running may read or write \
                     it and fails until it is replaced; expand/contract: deploy code that no \
                     longer uses it first, drop it in a later migration"
                ),
            ));
        }
    }
    found
}

/// The first statement of `section` acting on `table` that satisfies `pred`.
fn locate(section: &Section, table: &str, pred: impl Fn(&Statement) -> bool) -> Option<usize> {
    section
        .statements
        .iter()
        .position(|s| s.table.as_deref() == Some(table) && pred(s))
}

/// Whether `table` and all of `columns` exist before the file runs (a constraint on them can meet
/// rows that violate it).
fn existed(analysis: &Analysis, table: &str, columns: &[String]) -> bool {
    analysis
        .before
        .table(table)
        .is_some_and(|t| columns.iter().all(|c| t.column(c).is_some()))
}

/// Whether a unique index on exactly `columns` of `table`, over every row, exists before the
/// file runs (a UNIQUE constraint made from it, `USING INDEX`, meets no duplicate).
fn already_unique(analysis: &Analysis, table: &str, columns: &[String]) -> bool {
    analysis.before.table(table).is_some_and(|t| {
        t.indexes
            .iter()
            .any(|i| i.unique && i.predicate.is_none() && i.columns == columns)
    })
}

/// Whitespace-insensitive form of a statement, to find a failing statement by its text.
fn squash(sql: &str) -> String {
    sql.trim()
        .trim_end_matches(';')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(line: usize, sql: &str, table: &str) -> Statement {
        Statement {
            line,
            sql: sql.to_string(),
            words: sql
                .split(|c: char| !c.is_ascii_alphabetic())
                .filter(|w| !w.is_empty())
                .map(str::to_ascii_uppercase)
                .collect(),
            table: Some(table.to_string()),
            ..Statement::default()
        }
    }

    fn facts<'a>(text: &'a str, up: Section, down: Section) -> FileFacts<'a> {
        FileFacts {
            text,
            up_text: "",
            down_text: "",
            up,
            down,
            is_merge: false,
            analysis: None,
            up_facts: Vec::new(),
            type_name: &crate::ColumnType::logical_name,
            expand_facts: Vec::new(),
        }
    }

    /// A section whose marker is on `marker_line`, with no comments after its statements.
    fn section(marker_line: usize, statements: Vec<Statement>) -> Section {
        Section {
            marker_line,
            statements,
            tail_comments: vec![],
        }
    }

    /// The rule and line of each finding of `file`.
    fn rules_found(file: &FileFacts<'_>) -> Vec<(Rule, usize)> {
        lint_file(file).iter().map(|f| (f.rule, f.line)).collect()
    }

    fn destroying(table: &str, reason: &str) -> StepFacts {
        StepFacts::destroying(vec![crate::Loss::new(table, None, reason)])
    }

    #[test]
    fn destructive_facts_and_empty_down_are_found() {
        // The comment a generated file carries is for the reader: only the facts count.
        let mut drop = statement(5, "DROP TABLE \"t\";", "t");
        drop.trailing_comment = Some("-- DESTRUCTIVE: drops table t and all its rows".into());
        let mut noted = statement(6, "DROP TABLE \"u\";", "u");
        noted.trailing_comment = Some("-- DESTRUCTIVE: drops table u and all its rows".into());
        let up = section(4, vec![drop, noted]);
        let down = section(7, vec![]);
        let mut f = facts("", up, down);
        f.up_facts = vec![destroying("t", "drops table t and all its rows")];
        assert_eq!(
            rules_found(&f),
            [(Rule::Destructive, 5), (Rule::DownEmpty, 7)]
        );
        assert!(lint_file(&f)[0]
            .silence
            .contains("qvdiff:allow destructive"));
    }

    #[test]
    fn an_allow_with_a_reason_silences_exactly_one_finding() {
        let mut first = statement(6, "DELETE FROM \"a\";", "a");
        first.comments = vec![(5, "-- qvdiff:allow destructive \"old rows\"".into())];
        let second = statement(7, "DELETE FROM \"b\";", "b");
        let up = section(4, vec![first, second]);
        let down = section(8, vec![statement(9, "SELECT 1;", "x")]);
        let mut f = facts("", up, down);
        f.up_facts = vec![
            destroying("a", "deletes rows from a"),
            destroying("b", "deletes rows from b"),
        ];
        assert_eq!(rules_found(&f), [(Rule::Destructive, 7)]);
    }

    #[test]
    fn an_allow_without_reason_is_a_finding_and_silences_nothing() {
        let mut first = statement(6, "DELETE FROM \"a\";", "a");
        first.comments = vec![(5, "-- qvdiff:allow destructive".into())];
        let up = section(4, vec![first]);
        let down = section(8, vec![statement(9, "SELECT 1;", "x")]);
        let mut f = facts("", up, down);
        f.up_facts = vec![destroying("a", "deletes rows from a")];
        assert_eq!(
            rules_found(&f),
            [(Rule::BadAllow, 5), (Rule::Destructive, 6)]
        );
    }

    #[test]
    fn replayed_changes_give_not_null_unique_and_down_findings() {
        use crate::schema::{Column, ColumnType, Index, Table};
        let mut nullable = Column::new("sku", ColumnType::Text { max_length: None });
        nullable.nullable = true;
        let required = Column::new("sku", ColumnType::Text { max_length: None });
        let before = Schema {
            tables: vec![Table::new("items", vec![nullable.clone()])],
            ..Schema::default()
        };
        let index = Index::new("ux_items_sku", &["sku"], true);
        let mut rebuild = statement(
            6,
            "CREATE TABLE \"_qvdiff_new_items\" (\"sku\" TEXT NOT NULL);",
            "items",
        );
        rebuild.comments = vec![(5, "-- rebuild \"items\": \"sku\" becomes NOT NULL".into())];
        let mut unique = statement(
            9,
            "CREATE UNIQUE INDEX \"ux_items_sku\" ON \"items\" (\"sku\");",
            "items",
        );
        unique.comments = vec![(
            8,
            "-- qvdiff:allow not-null-on-existing \"misplaced\"".into(),
        )];
        let up = section(4, vec![rebuild, unique]);
        let down = section(
            10,
            vec![statement(11, "DROP INDEX \"ux_items_sku\";", "items")],
        );
        let mut f = facts("", up, down);
        f.up_facts = vec![
            StepFacts {
                rebuilds: Some("items".into()),
                ..StepFacts::default()
            },
            StepFacts::default(),
        ];
        f.analysis = Some(Analysis {
            before: before.clone(),
            after: before,
            changes: vec![
                Change::AlterColumn {
                    table: "items".into(),
                    from: nullable,
                    to: required,
                },
                Change::AddIndex {
                    table: "items".into(),
                    index,
                },
            ],
            failure: None,
            down_mismatch: Some("down leaves alter column items.sku".into()),
            engine: "SQLite",
        });
        // The allow above the index names the wrong rule for that statement: nothing is silenced.
        assert_eq!(
            rules_found(&f),
            [
                (Rule::Rebuild, 6),
                (Rule::NotNullOnExisting, 6),
                (Rule::UniqueOnExisting, 9),
                (Rule::DownNotInverse, 10),
            ]
        );
        // A CHECK (sku IS NOT NULL) already there (an expand revision's) holds no NULL.
        if let Some(analysis) = &mut f.analysis {
            analysis.before.tables[0].checks.push(crate::schema::Check {
                name: "items_sku_not_null".into(),
                expr: "\"sku\" IS NOT NULL".into(),
            });
        }
        assert_eq!(
            rules_found(&f),
            [
                (Rule::Rebuild, 6),
                (Rule::UniqueOnExisting, 9),
                (Rule::DownNotInverse, 10),
            ]
        );
    }

    #[test]
    fn allow_lines_parse_inside_sections_and_typos_do_not() {
        let text = "-- qvdiff revision: r1\n-- parents:\n-- message: m\n-- qvdiff:up\n\
                    -- qvdiff:allow destructive \"old\"\nDELETE FROM t;\n-- qvdiff:down\n";
        let file = crate::MigrationFile::parse(text).expect("allow lines are part of a section");
        assert!(file.up.starts_with("-- qvdiff:allow destructive"));
        assert!(crate::MigrationFile::parse(&text.replace("allow", "alow")).is_err());
    }

    #[test]
    fn a_table_rename_is_online_when_the_old_name_stays_as_a_view_over_it() {
        let rename = statement(5, "ALTER TABLE \"items\" RENAME TO \"products\";", "items");
        let up = section(4, vec![rename]);
        let down = section(6, vec![statement(7, "SELECT 1;", "x")]);
        let mut f = facts("", up, down);
        f.up_facts = vec![StepFacts {
            lock: Some(crate::Lock {
                mode: LockMode::AccessExclusive,
                table: "items".into(),
                scans: false,
                rewrites: false,
            }),
            actions: vec![Action::RenameTable {
                from: "items".into(),
                to: "products".into(),
            }],
            ..StepFacts::default()
        }];
        f.analysis = Some(Analysis::starting_at(Schema::default(), "PostgreSQL"));
        assert_eq!(rules_found(&f), [(Rule::ExpandContract, 5)]);
        let view = |name: &str, table: &str| crate::RawObject {
            name: name.into(),
            table: table.into(),
            sql: format!("CREATE VIEW \"{name}\" AS SELECT * FROM \"{table}\""),
        };
        // A view of that name over another table is no stand-in.
        if let Some(a) = &mut f.analysis {
            a.after.views = vec![view("items", "elsewhere")];
        }
        assert_eq!(rules_found(&f), [(Rule::ExpandContract, 5)]);
        if let Some(a) = &mut f.analysis {
            a.after.views = vec![view("items", "products")];
        }
        assert_eq!(rules_found(&f), []);
    }

    #[test]
    fn rule_ids_round_trip() {
        for rule in Rule::ALL {
            assert_eq!(Rule::from_id(rule.id()), Some(rule));
        }
    }
}
