//! Runner logic without IO: which revisions `upgrade`, `downgrade`, `stamp` and `sql` touch, and
//! when they must refuse.
//!
//! A dialect crate reads the ledger of a database into [`AppliedRevision`]s, asks this module for
//! a plan, executes it and writes the ledger. Keeping the decisions here makes every refusal
//! (edited file, missing file, database newer than the code, several heads) testable without a
//! database, and identical for every dialect. The refusals and their wording are in `refusal`,
//! the decisions of the team commands (`merge`, `squash`, `rebase`, `accept`) in `team`.

mod refusal;
mod team;

pub use refusal::{short_checksum, Refusal};
pub use team::{
    merge_parents, plan_accept, plan_rebase, plan_squash, AcceptPlan, AcceptedEdit, RebasePlan,
    SquashPlan,
};

use crate::backend::Direction;
use crate::graph::{GraphError, Node, RevisionGraph, Target};
use crate::migration::{is_contract, squashed_revisions, FormatError, MigrationFile};
use std::collections::{BTreeMap, BTreeSet};

/// Name of the ledger table every dialect keeps in the database.
pub const LEDGER_TABLE: &str = "qvdiff_migrations";

/// Name of the audit table beside the ledger: every edit of an applied file accepted with
/// `qvdiff accept`, with both checksums, the reason and the time.
pub const AUDIT_TABLE: &str = "qvdiff_migrations_audit";

/// Name of the table that records, for a revision that runs outside a transaction
/// (PostgreSQL's `CREATE INDEX CONCURRENTLY`), which of its statements are done, so that a run
/// that failed or was killed half way continues where it stopped. Empty between runs.
pub const PROGRESS_TABLE: &str = "qvdiff_migrations_progress";

/// The reason the audit table gives for an applied checksum `qvdiff stamp` replaced: a
/// checksum is never replaced without a row there.
pub const STAMP_REASON: &str = "checksum replaced by `qvdiff stamp`";

/// Whether a table is qvdiff's own bookkeeping (the ledger, its audit, the progress of a
/// revision run outside a transaction) rather than the application's: never part of a schema
/// that is compared or planned.
pub fn is_bookkeeping_table(name: &str) -> bool {
    name == LEDGER_TABLE || name == AUDIT_TABLE || name == PROGRESS_TABLE
}

/// One migration as loaded from the migrations directory (or embedded in a binary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The parsed file.
    pub file: MigrationFile,
    /// [`MigrationFile::checksum`] of the file's text, stored in the ledger when applied.
    pub checksum: String,
    /// Where the file is, for messages (e.g. `migrations/20261124101500_add_notes.sql`).
    pub path: String,
    /// The revisions this baseline replaces (`qvdiff squash`; its `-- qvdiff:squashes` line),
    /// empty for any other migration.
    pub squashes: Vec<String>,
    /// A contract revision (`-- qvdiff:contract`): `upgrade` stops before it unless told to go on.
    pub contract: bool,
    /// The checksum of the whole text, `allow` lines included, when it differs: what a ledger
    /// holds if the file was applied while they counted (see [`Migration::applied_as`]).
    pub whole_text_checksum: Option<String>,
}

impl Migration {
    /// A migration from its parsed file, checksum and display path.
    pub fn new(file: MigrationFile, checksum: impl Into<String>, path: impl Into<String>) -> Self {
        Migration {
            file,
            checksum: checksum.into(),
            path: path.into(),
            squashes: Vec::new(),
            contract: false,
            whole_text_checksum: None,
        }
    }

    /// Whether a ledger row's checksum says this very file was applied: its checksum, or the
    /// checksum of its whole text written before `allow` lines were left out.
    pub fn applied_as(&self, applied_checksum: &str) -> bool {
        applied_checksum == self.checksum
            || self.whole_text_checksum.as_deref() == Some(applied_checksum)
    }

    /// The migration a file at `path` holding these parts would be, as `migrate` writes one
    /// (each section ending with a newline) and the runner reads it back: for a program or a
    /// test that builds its migrations in memory.
    pub fn from_sections(
        revision: &str,
        parents: &[&str],
        message: &str,
        up: &str,
        down: &str,
        path: impl Into<String>,
    ) -> Migration {
        let line = |section: &str| match section.ends_with('\n') {
            true => section.to_string(),
            false => format!("{section}\n"),
        };
        let file = MigrationFile {
            revision: revision.to_string(),
            parents: parents.iter().map(|p| p.to_string()).collect(),
            message: message.to_string(),
            up: line(up),
            down: line(down),
        };
        Migration::from_text(&file.render(), path).expect("a rendered file reads back")
    }

    /// Parses `text` and computes its checksum; `path` is only used in messages.
    pub fn from_text(text: &str, path: impl Into<String>) -> Result<Migration, FormatError> {
        let file = MigrationFile::parse(text)?;
        let mut migration = Migration::new(file, MigrationFile::checksum(text), path);
        migration.squashes = squashed_revisions(text);
        migration.contract = is_contract(text);
        // Only `allow` lines make the two differ: without one, no second hash of the text.
        migration.whole_text_checksum = text
            .contains(crate::migration::ALLOW_PREFIX)
            .then(|| crate::migration::text_checksum(text))
            .filter(|whole| *whole != migration.checksum);
        Ok(migration)
    }

    /// The ledger rows that say this migration is applied: its own, and for a baseline those of
    /// the revisions it replaces (a database upgraded before the squash has those). Reverting it
    /// removes them all.
    pub fn ledger_revisions(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.file.revision.as_str()).chain(self.squashes.iter().map(String::as_str))
    }

    /// The ledger statements an offline script writes after this migration's section run in
    /// `direction`: its row added on the way up; on the way down every row that says it is
    /// applied removed (a baseline's too), one per line. `insert` and `delete` spell one row's
    /// statement in the dialect's SQL.
    pub fn offline_ledger_sql(
        &self,
        direction: Direction,
        insert: impl Fn(&Migration) -> String,
        delete: impl Fn(&str) -> String,
    ) -> String {
        match direction {
            Direction::Up => insert(self),
            Direction::Down => {
                let deletes: Vec<String> = self.ledger_revisions().map(delete).collect();
                deletes.join("\n")
            }
        }
    }

    /// The revision id.
    pub fn revision(&self) -> &str {
        &self.file.revision
    }
}

/// A checked set of migrations: unique revisions linked into a [`RevisionGraph`].
#[derive(Debug, Clone)]
pub struct Migrations {
    by_revision: BTreeMap<String, Migration>,
    graph: RevisionGraph,
    /// Revision replaced by a baseline -> the baseline.
    squashed_by: BTreeMap<String, String>,
    /// Files of replaced revisions still in the directory: a database inside the squashed
    /// range is brought to its end with them.
    superseded: BTreeMap<String, Migration>,
}

impl Migrations {
    /// Links the migrations; every duplicate id, unknown parent and cycle is reported.
    ///
    /// A baseline (a file with `-- qvdiff:squashes`) stands for the revisions it replaces: a
    /// parent link to one of them is a link to the baseline, and their files, when still
    /// present, are kept aside (see [`plan_upgrade`]) instead of joining the graph.
    pub fn new(migrations: Vec<Migration>) -> Result<Migrations, GraphError> {
        let mut squashed_by = BTreeMap::new();
        for m in &migrations {
            for replaced in &m.squashes {
                squashed_by
                    .entry(replaced.clone())
                    .or_insert_with(|| m.file.revision.clone());
            }
        }
        let (superseded, migrations): (Vec<Migration>, Vec<Migration>) = migrations
            .into_iter()
            .partition(|m| squashed_by.contains_key(&m.file.revision));
        let nodes = migrations
            .iter()
            .map(|m| Node {
                revision: m.file.revision.clone(),
                parents: m
                    .file
                    .parents
                    .iter()
                    .map(|p| squashed_by.get(p).unwrap_or(p).clone())
                    .collect(),
                file: m.path.clone(),
            })
            .collect();
        let graph = RevisionGraph::build(nodes)?;
        let by_revision = migrations
            .into_iter()
            .map(|m| (m.file.revision.clone(), m))
            .collect();
        let superseded = superseded
            .into_iter()
            .map(|m| (m.file.revision.clone(), m))
            .collect();
        Ok(Migrations {
            by_revision,
            graph,
            squashed_by,
            superseded,
        })
    }

    /// The baseline that replaces `revision`, if one does.
    pub fn squashed_by(&self, revision: &str) -> Option<&Migration> {
        self.squashed_by
            .get(revision)
            .and_then(|baseline| self.by_revision.get(baseline))
    }

    /// The file of a revision a baseline replaces, when it is still in the directory.
    pub fn superseded(&self, revision: &str) -> Option<&Migration> {
        self.superseded.get(revision)
    }

    /// The revision graph.
    pub fn graph(&self) -> &RevisionGraph {
        &self.graph
    }

    /// The migration of a revision (full id).
    pub fn get(&self, revision: &str) -> Option<&Migration> {
        self.by_revision.get(revision)
    }

    /// Every migration, parents before children.
    pub fn in_order(&self) -> Vec<&Migration> {
        self.graph
            .topo_order()
            .into_iter()
            .filter_map(|rev| self.by_revision.get(rev))
            .collect()
    }

    /// Number of migrations.
    pub fn len(&self) -> usize {
        self.by_revision.len()
    }

    /// Whether there are no migrations.
    pub fn is_empty(&self) -> bool {
        self.by_revision.is_empty()
    }

    fn lookup<'a>(&'a self, revisions: &[&str]) -> Vec<&'a Migration> {
        revisions
            .iter()
            .filter_map(|rev| self.by_revision.get(*rev))
            .collect()
    }
}

/// One row of the ledger: a revision applied to a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRevision {
    /// Revision id.
    pub revision: String,
    /// Checksum of the file when it was applied.
    pub checksum: String,
    /// The revision's message when it was applied.
    pub message: String,
    /// When it was applied, UTC ISO-8601 (`2026-11-24T10:15:00Z`).
    pub applied_at: String,
    /// How long its SQL took, in milliseconds.
    pub execution_ms: i64,
}

/// The applied revision ids of a ledger.
pub fn applied_set(applied: &[AppliedRevision]) -> BTreeSet<String> {
    applied.iter().map(|a| a.revision.clone()).collect()
}

/// A ledger read through the baselines of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaselineLedger<'a> {
    /// The rows as the graph sees them: the rows of every revision a baseline replaces are one
    /// row of the baseline once all of them are applied (a database upgraded before the squash).
    pub rows: Vec<AppliedRevision>,
    /// A database inside a squashed range (some replaced revisions applied, not all): the
    /// files that bring it to the range's end, in order, before the baseline counts as applied.
    pub catch_up: Vec<&'a Migration>,
    /// Replaced revisions such a database still needs whose files are gone, with the baseline.
    pub missing: Vec<(String, String)>,
}

/// Reads a ledger through the history's baselines (see [`BaselineLedger`]).
pub fn through_baselines<'a>(
    migrations: &'a Migrations,
    applied: &[AppliedRevision],
) -> BaselineLedger<'a> {
    let mut rows: Vec<AppliedRevision> = applied.to_vec();
    let mut catch_up = Vec::new();
    let mut missing = Vec::new();
    if migrations.squashed_by.is_empty() {
        return BaselineLedger {
            rows,
            catch_up,
            missing,
        };
    }
    let ids = applied_set(applied);
    for baseline in migrations
        .by_revision
        .values()
        .filter(|m| !m.squashes.is_empty())
    {
        let done = baseline
            .squashes
            .iter()
            .filter(|r| ids.contains(*r))
            .count();
        if done == 0 || ids.contains(&baseline.file.revision) {
            continue;
        }
        if done < baseline.squashes.len() {
            for revision in baseline.squashes.iter().filter(|r| !ids.contains(*r)) {
                match migrations.superseded(revision) {
                    Some(m) => catch_up.push(m),
                    None => missing.push((revision.clone(), baseline.file.revision.clone())),
                }
            }
        }
        // Where the last replaced row was, the baseline's row stands.
        let last = rows
            .iter()
            .rposition(|row| baseline.squashes.contains(&row.revision));
        let stand_in = AppliedRevision {
            revision: baseline.file.revision.clone(),
            checksum: baseline.checksum.clone(),
            message: baseline.file.message.clone(),
            applied_at: last.map(|i| rows[i].applied_at.clone()).unwrap_or_default(),
            execution_ms: 0,
        };
        let at = last.unwrap_or(rows.len());
        rows.insert(at + usize::from(last.is_some()), stand_in);
        rows.retain(|row| !baseline.squashes.contains(&row.revision));
    }
    BaselineLedger {
        rows,
        catch_up,
        missing,
    }
}

/// The applied revisions as the graph sees them (see [`through_baselines`]).
pub fn applied_revisions(migrations: &Migrations, applied: &[AppliedRevision]) -> BTreeSet<String> {
    applied_set(&through_baselines(migrations, applied).rows)
}

/// The ledger through the baselines, refused when a database inside a squashed range cannot
/// be brought to its end.
fn baseline_rows<'a>(
    migrations: &'a Migrations,
    applied: &[AppliedRevision],
) -> Result<BaselineLedger<'a>, Refusal> {
    let ledger = through_baselines(migrations, applied);
    if let Some((_, baseline)) = ledger.missing.first() {
        return Err(Refusal::InsideSquash {
            baseline: baseline.clone(),
            missing: ledger.missing.iter().map(|(r, _)| r.clone()).collect(),
        });
    }
    Ok(ledger)
}

/// Checks a ledger against the migrations: every applied revision has a file, and that file is
/// byte-for-byte (line endings aside) the one that was applied. Every problem is reported.
pub fn check_applied(migrations: &Migrations, applied: &[AppliedRevision]) -> Result<(), Refusal> {
    let ledger = baseline_rows(migrations, applied)?;
    check_rows(migrations, &ledger.rows)
}

fn check_rows(migrations: &Migrations, applied: &[AppliedRevision]) -> Result<(), Refusal> {
    let mut problems = Vec::new();
    let mut unknown = Vec::new();
    for row in applied {
        match migrations.get(&row.revision) {
            None => unknown.push(row.revision.clone()),
            Some(m) if !m.applied_as(&row.checksum) => problems.push(Refusal::EditedAfterApplied {
                revision: row.revision.clone(),
                path: m.path.clone(),
                applied_checksum: row.checksum.clone(),
                file_checksum: m.checksum.clone(),
            }),
            Some(_) => {}
        }
    }
    if !unknown.is_empty() {
        unknown.sort();
        let applied = applied_set(applied);
        let every_head_applied = migrations
            .graph()
            .heads()
            .iter()
            .all(|head| applied.contains(*head));
        // Unknown rows on top of everything the directory has means newer code ran here; with
        // revisions of the directory still pending, files have disappeared from under it.
        problems.insert(
            0,
            if every_head_applied {
                Refusal::DatabaseNewer { revisions: unknown }
            } else {
                Refusal::MissingFiles { revisions: unknown }
            },
        );
    }
    match problems.len() {
        0 => Ok(()),
        1 => Err(problems.remove(0)),
        _ => Err(Refusal::Several(problems)),
    }
}

/// A revision target as the user writes it for `upgrade` and `downgrade`, checked for its form
/// before any history or database is read; naming a revision is resolved later, against the
/// history ([`RevisionGraph::resolve`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevisionTarget {
    /// `+N` (N >= 1): the next N pending revisions (`upgrade` only).
    Forward(usize),
    /// `-N` (N >= 1): the last N applied revisions (`downgrade` only).
    Back(usize),
    /// `base`, `head`, `heads`, a revision id or a unique prefix of one.
    Named(String),
}

impl RevisionTarget {
    /// Parses a target (surrounding whitespace ignored). A leading `+` or `-` must be followed by
    /// a whole number of at least 1; anything else is a name, checked against the history later.
    pub fn parse(text: &str) -> Result<RevisionTarget, Refusal> {
        let text = text.trim();
        let steps = |sign: char, digits: &str| match digits.parse::<usize>() {
            // `parse` accepts a sign of its own (`+-1`, `++1`): only digits are a count.
            Ok(n) if n >= 1 && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(Refusal::InvalidTarget {
                target: text.to_string(),
                expected: format!("{sign}N with N a whole number of at least 1"),
            }),
        };
        if let Some(digits) = text.strip_prefix('+') {
            return steps('+', digits).map(RevisionTarget::Forward);
        }
        if let Some(digits) = text.strip_prefix('-') {
            return steps('-', digits).map(RevisionTarget::Back);
        }
        Ok(RevisionTarget::Named(text.to_string()))
    }

    /// [`RevisionTarget::parse`] for `upgrade`: `-N` is refused, naming `downgrade`.
    pub fn for_upgrade(text: &str) -> Result<RevisionTarget, Refusal> {
        let target = RevisionTarget::parse(text)?;
        target.check_direction(Direction::Up)?;
        Ok(target)
    }

    /// [`RevisionTarget::parse`] for `downgrade`, where an empty target means `-1`: `+N` is
    /// refused, naming `upgrade`.
    pub fn for_downgrade(text: &str) -> Result<RevisionTarget, Refusal> {
        if text.trim().is_empty() {
            return Ok(RevisionTarget::Back(1));
        }
        let target = RevisionTarget::parse(text)?;
        target.check_direction(Direction::Down)?;
        Ok(target)
    }

    /// `head`: where `upgrade` goes without a target.
    pub fn head() -> RevisionTarget {
        RevisionTarget::Named("head".to_string())
    }

    /// A target that names a revision (or `base`, `head`, `heads`), resolved against the
    /// history later.
    pub fn named(name: impl Into<String>) -> RevisionTarget {
        RevisionTarget::Named(name.into())
    }

    /// Refuses a count that goes the other way than `direction` (`-N` for `upgrade`, `+N` for
    /// `downgrade`), naming the command that goes that way.
    pub fn check_direction(&self, direction: Direction) -> Result<(), Refusal> {
        let expected = match (self, direction) {
            (RevisionTarget::Back(_), Direction::Up) => {
                "`head`, `heads`, `base`, a revision or +N (upgrade goes forward; \
                 `qvdiff downgrade -N` goes back)"
            }
            (RevisionTarget::Forward(_), Direction::Down) => {
                "-N, `base` or a revision that stays applied (downgrade goes back; \
                 `qvdiff upgrade +N` goes forward)"
            }
            _ => return Ok(()),
        };
        Err(Refusal::InvalidTarget {
            target: self.to_string(),
            expected: expected.to_string(),
        })
    }

    /// Refuses a count (`+N`, `-N`) where only a revision is meaningful (`stamp`), giving the
    /// name otherwise.
    pub fn revision_name(&self) -> Result<&str, Refusal> {
        match self {
            RevisionTarget::Named(name) => Ok(name),
            _ => Err(Refusal::InvalidTarget {
                target: self.to_string(),
                expected: "a revision, `head`, `heads` or `base`".to_string(),
            }),
        }
    }
}

impl std::str::FromStr for RevisionTarget {
    type Err = Refusal;

    /// [`RevisionTarget::parse`].
    fn from_str(text: &str) -> Result<RevisionTarget, Refusal> {
        RevisionTarget::parse(text)
    }
}

impl std::fmt::Display for RevisionTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RevisionTarget::Forward(n) => write!(f, "+{n}"),
            RevisionTarget::Back(n) => write!(f, "-{n}"),
            RevisionTarget::Named(name) => f.write_str(name),
        }
    }
}

/// The migrations `upgrade TARGET` applies, parents first, after [`check_applied`].
///
/// TARGET: `head` (the single head; refused naming the heads and `qvdiff merge` when there are
/// several), `heads`, a revision id or unique prefix, `+N` (the next N pending revisions towards
/// every head), or `base` (nothing). An empty list means the database is up to date.
pub fn plan_upgrade<'a>(
    migrations: &'a Migrations,
    applied: &[AppliedRevision],
    target: &RevisionTarget,
) -> Result<Vec<&'a Migration>, Refusal> {
    let ledger = baseline_rows(migrations, applied)?;
    check_rows(migrations, &ledger.rows)?;
    // A database inside a squashed range first reaches its end with the replaced files.
    let mut plan = ledger.catch_up.clone();
    plan.extend(plan_from(migrations, &ledger.rows, target)?);
    Ok(plan)
}

fn plan_from<'a>(
    migrations: &'a Migrations,
    applied: &[AppliedRevision],
    target: &RevisionTarget,
) -> Result<Vec<&'a Migration>, Refusal> {
    let graph = migrations.graph();
    let applied = applied_set(applied);
    target.check_direction(Direction::Up)?;
    let name = match target {
        &RevisionTarget::Forward(steps) => {
            let heads = graph.heads();
            let path = graph.upgrade_path_many(&applied, &heads);
            // Fewer pending revisions than asked is refused, as `downgrade -N` is: a deploy
            // script that says `+3` expects three revisions, and applying two is not what it
            // asked for.
            if steps > path.len() {
                return Err(Refusal::TooFewPending {
                    asked: steps,
                    pending: path.len(),
                });
            }
            return Ok(migrations.lookup(&path[..steps]));
        }
        // `-N` is refused above.
        RevisionTarget::Back(_) | RevisionTarget::Named(_) => target.revision_name()?,
    };
    let path = match graph.resolve(name)? {
        Target::Base => Vec::new(),
        Target::Revision(rev) => graph.upgrade_path(&applied, &rev),
        Target::Heads(heads) => {
            let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
            graph.upgrade_path_many(&applied, &heads)
        }
    };
    Ok(migrations.lookup(&path))
}

/// The migrations `downgrade TARGET` reverts, children first, after [`check_applied`].
///
/// TARGET: empty or `-1` (one step), `-N`, `base` (everything), or a revision id / unique prefix
/// that must be applied and stays applied (Alembic's meaning). `head` and `heads` revert nothing.
pub fn plan_downgrade<'a>(
    migrations: &'a Migrations,
    applied: &[AppliedRevision],
    target: &RevisionTarget,
) -> Result<Vec<&'a Migration>, Refusal> {
    let ledger = baseline_rows(migrations, applied)?;
    if let Some(first) = ledger.catch_up.first() {
        let baseline = migrations
            .squashed_by(first.revision())
            .map(|m| m.file.revision.clone())
            .unwrap_or_default();
        return Err(Refusal::InsideSquash {
            baseline,
            missing: Vec::new(),
        });
    }
    check_rows(migrations, &ledger.rows)?;
    let applied = ledger.rows.as_slice();
    let graph = migrations.graph();
    let applied_ids = applied_set(applied);
    target.check_direction(Direction::Down)?;
    let name = match target {
        &RevisionTarget::Back(steps) => {
            // Children first over the applied set: each revision comes after all of its applied
            // descendants, so any prefix of this list can be reverted on its own.
            let all = graph.downgrade_path_many(&applied_ids, &[]);
            if steps > all.len() {
                return Err(Refusal::TooFewApplied {
                    asked: steps,
                    applied: all.len(),
                });
            }
            return Ok(migrations.lookup(&all[..steps]));
        }
        // `+N` is refused above.
        RevisionTarget::Forward(_) | RevisionTarget::Named(_) => target.revision_name()?,
    };
    let path = match graph.resolve(name)? {
        Target::Base => graph.downgrade_path_many(&applied_ids, &[]),
        Target::Revision(rev) => {
            if !applied_ids.contains(&rev) {
                return Err(Refusal::NotApplied { revision: rev });
            }
            graph.downgrade_path(&applied_ids, Some(&rev))
        }
        Target::Heads(heads) => {
            let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
            graph.downgrade_path_many(&applied_ids, &heads)
        }
    };
    Ok(migrations.lookup(&path))
}

/// The revisions the ledger holds after `stamp TARGET`: TARGET and all its ancestors (`base`:
/// none; `heads`: every head and its ancestors). `head` with several heads is refused.
pub fn plan_stamp<'a>(
    migrations: &'a Migrations,
    target: &RevisionTarget,
) -> Result<Vec<&'a Migration>, Refusal> {
    let graph = migrations.graph();
    let keep: BTreeSet<String> = match graph.resolve(target.revision_name()?)? {
        Target::Base => BTreeSet::new(),
        Target::Revision(rev) => graph.ancestors(&rev),
        Target::Heads(heads) => heads.iter().flat_map(|h| graph.ancestors(h)).collect(),
    };
    let order: Vec<&str> = graph
        .topo_order()
        .into_iter()
        .filter(|rev| keep.contains(*rev))
        .collect();
    Ok(migrations.lookup(&order))
}

/// What an offline script (`qvdiff sql FROM:TO`) does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptPlan<'a> {
    /// Apply these `up` sections, parents first.
    Upgrade(Vec<&'a Migration>),
    /// Run these `down` sections, children first.
    Downgrade(Vec<&'a Migration>),
}

/// Splits a `FROM:TO` range; a missing side is `base` (FROM) or `head` (TO), and no range at
/// all is `base:head`.
pub fn parse_range(range: Option<&str>) -> (String, String) {
    let Some(range) = range.map(str::trim).filter(|r| !r.is_empty()) else {
        return ("base".to_string(), "head".to_string());
    };
    let (from, to) = match range.split_once(':') {
        Some((from, to)) => (from.trim(), to.trim()),
        None => ("", range),
    };
    let from = if from.is_empty() { "base" } else { from };
    let to = if to.is_empty() { "head" } else { to };
    (from.to_string(), to.to_string())
}

/// The revisions an offline script from FROM to TO runs, for a database at FROM (FROM and its
/// ancestors applied). Up when TO descends from FROM, down when TO is an ancestor of FROM (or
/// `base`), refused when they are on different branches.
pub fn plan_range<'a>(
    migrations: &'a Migrations,
    from: &str,
    to: &str,
) -> Result<ScriptPlan<'a>, Refusal> {
    let graph = migrations.graph();
    let ancestors_of = |target: &Target| -> BTreeSet<String> {
        match target {
            Target::Base => BTreeSet::new(),
            Target::Revision(rev) => graph.ancestors(rev),
            Target::Heads(heads) => heads.iter().flat_map(|h| graph.ancestors(h)).collect(),
        }
    };
    // parse_range splits at the first `:`, so a second one ends up in `to`; no revision id holds
    // a `:`, and "unknown revision `b:c`" would hide that the range itself is malformed.
    if from.contains(':') || to.contains(':') {
        return Err(Refusal::InvalidTarget {
            target: format!("{from}:{to}"),
            expected: "one range FROM:TO with a single `:` (e.g. `base:head` or \
                       `20261120093000:head`)"
                .to_string(),
        });
    }
    let from_target = graph.resolve(from)?;
    let to_target = graph.resolve(to)?;
    let at_from = ancestors_of(&from_target);
    let at_to = ancestors_of(&to_target);
    if at_from.is_subset(&at_to) {
        let targets: Vec<&str> = at_to.iter().map(String::as_str).collect();
        let path = graph.upgrade_path_many(&at_from, &targets);
        return Ok(ScriptPlan::Upgrade(migrations.lookup(&path)));
    }
    if at_to.is_subset(&at_from) {
        let keep: Vec<&str> = at_to.iter().map(String::as_str).collect();
        let path = graph.downgrade_path_many(&at_from, &keep);
        return Ok(ScriptPlan::Downgrade(migrations.lookup(&path)));
    }
    Err(Refusal::UnrelatedRange {
        from: from.to_string(),
        to: to.to_string(),
    })
}

/// Where a database stands relative to the migrations (`qvdiff current`, `check --db`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Applied revisions none of whose children are applied, sorted; empty at base.
    pub current: Vec<String>,
    /// Revisions not applied yet towards every head, parents first.
    pub pending: Vec<String>,
    /// Applied revisions no migration file declares, sorted.
    pub unknown: Vec<String>,
    /// Applied revisions whose file changed since, sorted.
    pub edited: Vec<String>,
}

impl Status {
    /// Whether every revision is applied and the ledger matches the files.
    pub fn is_up_to_date(&self) -> bool {
        self.pending.is_empty() && self.unknown.is_empty() && self.edited.is_empty()
    }
}

/// The [`Status`] of a database whose ledger is `applied`. Never refuses: it is what a user
/// looks at to understand a refusal.
pub fn status(migrations: &Migrations, applied: &[AppliedRevision]) -> Status {
    let ledger = through_baselines(migrations, applied);
    if !ledger.catch_up.is_empty() || !ledger.missing.is_empty() {
        return inside_squash_status(migrations, applied, &ledger);
    }
    let applied = ledger.rows.as_slice();
    let graph = migrations.graph();
    let ids = applied_set(applied);
    let mut current: Vec<String> = graph
        .applied_heads(&ids)
        .into_iter()
        .map(String::from)
        .collect();
    let mut unknown: Vec<String> = ids
        .iter()
        .filter(|rev| !graph.contains(rev))
        .cloned()
        .collect();
    unknown.sort();
    // An unknown applied revision is as much "where the database is" as a known one.
    current.extend(unknown.iter().cloned());
    current.sort();
    let mut edited: Vec<String> = applied
        .iter()
        .filter(|row| {
            migrations
                .get(&row.revision)
                .is_some_and(|m| !m.applied_as(&row.checksum))
        })
        .map(|row| row.revision.clone())
        .collect();
    edited.sort();
    let pending = graph
        .upgrade_path_many(&ids, &graph.heads())
        .into_iter()
        .map(String::from)
        .collect();
    Status {
        current,
        pending,
        unknown,
        edited,
    }
}

/// Where a database inside a squashed range stands: at the last replaced revision it applied,
/// with the rest of the range and then the graph pending.
fn inside_squash_status(
    migrations: &Migrations,
    applied: &[AppliedRevision],
    ledger: &BaselineLedger<'_>,
) -> Status {
    let graph = migrations.graph();
    let inside: Vec<String> = applied
        .iter()
        .filter(|row| migrations.squashed_by.contains_key(&row.revision))
        .map(|row| row.revision.clone())
        .collect();
    let ids = applied_set(&ledger.rows);
    let mut pending: Vec<String> = ledger
        .catch_up
        .iter()
        .map(|m| m.file.revision.clone())
        .chain(ledger.missing.iter().map(|(r, _)| r.clone()))
        .collect();
    pending.extend(
        graph
            .upgrade_path_many(&ids, &graph.heads())
            .into_iter()
            .map(String::from),
    );
    let mut current: Vec<String> = inside.last().cloned().into_iter().collect();
    current.extend(
        graph
            .applied_heads(&ids)
            .into_iter()
            .filter(|rev| migrations.squashed_by.values().all(|b| b != rev))
            .map(String::from),
    );
    Status {
        current,
        pending,
        unknown: Vec::new(),
        edited: Vec::new(),
    }
}

/// One revision as `qvdiff history` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Revision id.
    pub revision: String,
    /// Its message.
    pub message: String,
    /// Its file, for messages.
    pub path: String,
    /// Parents as the file lists them.
    pub parents: Vec<String>,
    /// Revisions that have it as a parent, sorted.
    pub children: Vec<String>,
    /// Whether it is applied to the database (false when no database was given).
    pub applied: bool,
    /// No revision has it as a parent.
    pub is_head: bool,
    /// It has no parent.
    pub is_root: bool,
    /// It joins several parents.
    pub is_merge: bool,
    /// Several revisions have it as a parent (where branches split).
    pub is_branch_point: bool,
}

/// Every revision, parents before children, with what is needed to draw the graph.
pub fn history(migrations: &Migrations, applied: &BTreeSet<String>) -> Vec<HistoryEntry> {
    let graph = migrations.graph();
    migrations
        .in_order()
        .into_iter()
        .map(|m| {
            let revision = m.file.revision.clone();
            let children: Vec<String> = graph
                .children(&revision)
                .into_iter()
                .map(String::from)
                .collect();
            HistoryEntry {
                message: m.file.message.clone(),
                path: m.path.clone(),
                parents: m.file.parents.clone(),
                applied: applied.contains(&revision),
                is_head: children.is_empty(),
                is_root: m.file.parents.is_empty(),
                is_merge: m.file.parents.len() > 1,
                is_branch_point: children.len() > 1,
                children,
                revision,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
