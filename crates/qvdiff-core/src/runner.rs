//! Runner logic without IO: which revisions `upgrade`, `downgrade`, `stamp` and `sql` touch, and
//! when they must refuse.
//!
//! A dialect crate reads the ledger of a database into [`AppliedRevision`]s, asks this module for
//! a plan, executes it and writes the ledger. Keeping the decisions here makes every refusal
//! (edited file, missing file, database newer than the code, several heads) testable without a
//! database, and identical for every dialect.

use crate::graph::{GraphError, Node, RevisionGraph, Target};
use crate::migration::{is_contract, squashed_revisions, FormatError, MigrationFile};
use crate::wording::plural;
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

    /// Parses `text` and computes its checksum; `path` is only used in messages.
    pub fn from_text(text: &str, path: impl Into<String>) -> Result<Migration, FormatError> {
        let file = MigrationFile::parse(text)?;
        let mut migration = Migration::new(file, MigrationFile::checksum(text), path);
        migration.squashes = squashed_revisions(text);
        migration.contract = is_contract(text);
        migration.whole_text_checksum = Some(crate::migration::text_checksum(text))
            .filter(|whole| *whole != migration.checksum);
        Ok(migration)
    }

    /// The ledger rows that say this migration is applied: its own, and for a baseline those of
    /// the revisions it replaces (a database upgraded before the squash has those). Reverting it
    /// removes them all.
    pub fn ledger_revisions(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.file.revision.as_str()).chain(self.squashes.iter().map(String::as_str))
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

/// Why the runner will not touch a database. Every message says how to get out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The migrations do not form a valid graph, or a target is unknown, ambiguous or (`head`)
    /// names several heads.
    Graph(GraphError),
    /// An applied revision's file changed since it was applied.
    EditedAfterApplied {
        /// Revision id.
        revision: String,
        /// The file, for messages.
        path: String,
        /// Checksum stored in the ledger.
        applied_checksum: String,
        /// Checksum of the file now.
        file_checksum: String,
    },
    /// Applied revisions no migration file declares, while some revisions of the directory are
    /// not applied: their files were most likely deleted or renamed away.
    MissingFiles {
        /// The unknown applied revisions, sorted.
        revisions: Vec<String>,
    },
    /// Applied revisions no migration file declares, on top of every revision the directory
    /// has: the database was upgraded by newer code.
    DatabaseNewer {
        /// The unknown applied revisions, sorted.
        revisions: Vec<String>,
    },
    /// A target that is not of the accepted form.
    InvalidTarget {
        /// The target as given.
        target: String,
        /// What was expected instead.
        expected: String,
    },
    /// `downgrade REV` where REV is not applied.
    NotApplied {
        /// The revision.
        revision: String,
    },
    /// `downgrade -N` with fewer than N applied revisions.
    TooFewApplied {
        /// Steps asked for.
        asked: usize,
        /// Revisions applied.
        applied: usize,
    },
    /// `upgrade +N` with fewer than N pending revisions.
    TooFewPending {
        /// Steps asked for.
        asked: usize,
        /// Revisions pending.
        pending: usize,
    },
    /// `merge` with fewer than two revisions to join.
    NothingToMerge {
        /// The heads of the history.
        heads: Vec<String>,
    },
    /// `sql FROM:TO` between revisions on different branches.
    UnrelatedRange {
        /// Start of the range.
        from: String,
        /// End of the range.
        to: String,
    },
    /// A database inside a squashed range: some revisions a baseline replaces are applied, not
    /// all, and the files of the rest are gone (or it is asked to go down from there).
    InsideSquash {
        /// The baseline.
        baseline: String,
        /// The replaced revisions it still needs whose files are gone (empty: going down).
        missing: Vec<String>,
    },
    /// `squash --to REV` where revisions outside the range branch off inside it.
    BranchInsideSquash {
        /// REV.
        to: String,
        /// Each branching revision, with its parent inside the range.
        branches: Vec<String>,
    },
    /// `rebase --onto REV` with nothing outside REV's history.
    NothingToRebase {
        /// REV.
        onto: String,
    },
    /// `rebase` of revisions a database has applied.
    RebaseApplied {
        /// The database, for messages.
        database: String,
        /// Its applied revisions among those to move.
        revisions: Vec<String>,
    },
    /// `accept REV` where there is no edit of an applied file to accept.
    NothingToAccept {
        /// The revision.
        revision: String,
        /// Why: not applied, or its file is unchanged.
        why: String,
    },
    /// `accept REV` without a reason.
    MissingReason {
        /// The revision.
        revision: String,
    },
    /// Several problems, each reported.
    Several(Vec<Refusal>),
}

/// First 12 characters of a checksum: enough to tell two apart in a message.
pub fn short_checksum(checksum: &str) -> &str {
    checksum.get(..12).unwrap_or(checksum)
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Graph(e) => write!(f, "{e}"),
            Refusal::EditedAfterApplied {
                revision,
                path,
                applied_checksum,
                file_checksum,
            } => write!(
                f,
                "{path} was edited after it was applied to this database (revision {revision}: \
                 checksum {} when applied, {} now); restore the file from version control and \
                 put the change in a new migration (`qvdiff migrate`), or, if the edit is \
                 intended and changes no schema, record it with `qvdiff accept {revision} \
                 --reason \"…\"`",
                short_checksum(applied_checksum),
                short_checksum(file_checksum)
            ),
            Refusal::MissingFiles { revisions } => write!(
                f,
                "revision{} {} {} applied to this database but no migration file declares {}; \
                 restore the file{} from version control (`git log --all -- 'migrations/{}_*'`), \
                 or check that `migrations` in qvdiff.toml points at the right directory",
                plural(revisions.len()),
                revisions.join(", "),
                if revisions.len() == 1 { "is" } else { "are" },
                if revisions.len() == 1 { "it" } else { "them" },
                plural(revisions.len()),
                revisions.first().map(String::as_str).unwrap_or("*"),
            ),
            Refusal::DatabaseNewer { revisions } => write!(
                f,
                "the database is newer than the migrations directory: it has revision{} {} \
                 applied, which no migration file declares (applied by a newer version of the \
                 code, or the file{} went missing); deploy the code that has {} migration file{}, \
                 or restore the file{} from version control",
                plural(revisions.len()),
                revisions.join(", "),
                plural(revisions.len()),
                if revisions.len() == 1 { "its" } else { "their" },
                plural(revisions.len()),
                plural(revisions.len()),
            ),
            Refusal::InvalidTarget { target, expected } => {
                write!(f, "invalid target `{target}`: expected {expected}")
            }
            Refusal::NotApplied { revision } => write!(
                f,
                "revision {revision} is not applied to this database, so there is nothing to \
                 downgrade to; `qvdiff current` shows what is applied (`qvdiff upgrade \
                 {revision}` goes up to it)"
            ),
            Refusal::TooFewPending { asked, pending } => write!(
                f,
                "cannot go up {asked} revision{}: only {pending} {} pending; use `qvdiff upgrade \
                 head` to apply everything (`qvdiff current` shows what is pending)",
                plural(*asked),
                if *pending == 1 { "is" } else { "are" }
            ),
            Refusal::NothingToMerge { heads } => write!(
                f,
                "nothing to merge: the history has {} head{} ({}), and a merge joins two or more; \
                 `qvdiff heads` lists them",
                heads.len(),
                plural(heads.len()),
                if heads.is_empty() {
                    "no revisions yet".to_string()
                } else {
                    heads.join(", ")
                }
            ),
            Refusal::TooFewApplied { asked, applied } => write!(
                f,
                "cannot go down {asked} revision{}: only {applied} {} applied; use \
                 `qvdiff downgrade base` to revert everything",
                plural(*asked),
                if *applied == 1 { "is" } else { "are" }
            ),
            Refusal::UnrelatedRange { from, to } => write!(
                f,
                "{from} and {to} are on different branches, so no single script goes from one \
                 to the other; produce two scripts (down to their common ancestor, then up)"
            ),
            Refusal::InsideSquash { baseline, missing } if missing.is_empty() => write!(
                f,
                "this database is inside the history that baseline {baseline} replaces; \
                 upgrade it first (`qvdiff upgrade`), then go down"
            ),
            Refusal::InsideSquash { baseline, missing } => write!(
                f,
                "this database is inside the history that baseline {baseline} replaces, and \
                 the file{} of revision{} {} it still needs {} gone; restore {} from version \
                 control (`git log --diff-filter=D --name-only -- migrations`) and upgrade, or \
                 upgrade it with a release from before the squash",
                plural(missing.len()),
                plural(missing.len()),
                missing.join(", "),
                if missing.len() == 1 { "is" } else { "are" },
                if missing.len() == 1 { "it" } else { "them" },
            ),
            Refusal::BranchInsideSquash { to, branches } => write!(
                f,
                "cannot squash up to {to}: {} branch{} off inside the range and would lose \
                 {} parent; merge first (`qvdiff merge`), then squash up to the merge",
                branches.join(", "),
                if branches.len() == 1 { "es" } else { "" },
                if branches.len() == 1 { "its" } else { "their" },
            ),
            Refusal::NothingToRebase { onto } => write!(
                f,
                "nothing to rebase: every revision is already in the history of {onto}"
            ),
            Refusal::RebaseApplied {
                database,
                revisions,
            } => write!(
                f,
                "{database} has applied {} of the revisions to move ({}); moving an applied \
                 revision would rewrite what that database ran: join the heads with `qvdiff \
                 merge -m \"merge heads\"` instead",
                if revisions.len() == 1 { "one" } else { "some" },
                revisions.join(", ")
            ),
            Refusal::NothingToAccept { revision, why } => write!(
                f,
                "nothing to accept for revision {revision}: {why}; `accept` records an \
                 intended edit of a file this database has applied"
            ),
            Refusal::MissingReason { revision } => write!(
                f,
                "accepting the edit of revision {revision} needs a reason, kept in the audit \
                 table beside the ledger: pass `--reason \"fixed a typo in a comment\"`"
            ),
            Refusal::Several(all) => {
                for (i, refusal) in all.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{refusal}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Refusal {}

impl From<GraphError> for Refusal {
    fn from(e: GraphError) -> Self {
        Refusal::Graph(e)
    }
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

/// Parses `+N` / `-N` (N >= 1), as the relative targets of `upgrade` and `downgrade`.
fn relative_steps(target: &str, sign: char) -> Option<Result<usize, Refusal>> {
    let digits = target.strip_prefix(sign)?;
    Some(match digits.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(Refusal::InvalidTarget {
            target: target.to_string(),
            expected: format!("{sign}N with N a whole number of at least 1"),
        }),
    })
}

/// The migrations `upgrade TARGET` applies, parents first, after [`check_applied`].
///
/// TARGET: `head` (the single head; refused naming the heads and `qvdiff merge` when there are
/// several), `heads`, a revision id or unique prefix, `+N` (the next N pending revisions towards
/// every head), or `base` (nothing). An empty list means the database is up to date.
pub fn plan_upgrade<'a>(
    migrations: &'a Migrations,
    applied: &[AppliedRevision],
    target: &str,
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
    target: &str,
) -> Result<Vec<&'a Migration>, Refusal> {
    let graph = migrations.graph();
    let applied = applied_set(applied);
    let target = target.trim();
    if let Some(steps) = relative_steps(target, '+') {
        let steps = steps?;
        let heads = graph.heads();
        let path = graph.upgrade_path_many(&applied, &heads);
        // Fewer pending revisions than asked is refused, as `downgrade -N` is: a deploy script
        // that says `+3` expects three revisions, and applying two is not what it asked for.
        if steps > path.len() {
            return Err(Refusal::TooFewPending {
                asked: steps,
                pending: path.len(),
            });
        }
        return Ok(migrations.lookup(&path[..steps]));
    }
    let path = match graph.resolve(target)? {
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
    target: &str,
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
    let target = target.trim();
    let target = if target.is_empty() { "-1" } else { target };
    if let Some(steps) = relative_steps(target, '-') {
        let steps = steps?;
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
    let path = match graph.resolve(target)? {
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
    target: &str,
) -> Result<Vec<&'a Migration>, Refusal> {
    let graph = migrations.graph();
    let keep: BTreeSet<String> = match graph.resolve(target)? {
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

/// The parents of a merge revision (`qvdiff merge [REVS]`): the given revisions (ids or unique
/// prefixes), or every head when none is given. At least two are needed, and none may descend
/// from another (that would merge nothing). Sorted, as the `parents:` line lists them.
pub fn merge_parents(migrations: &Migrations, revisions: &[&str]) -> Result<Vec<String>, Refusal> {
    let graph = migrations.graph();
    let mut parents: Vec<String> = if revisions.is_empty() {
        graph.heads().into_iter().map(String::from).collect()
    } else {
        let mut resolved = Vec::new();
        for rev in revisions {
            match graph.resolve(rev)? {
                Target::Revision(id) => resolved.push(id),
                Target::Heads(heads) => resolved.extend(heads),
                Target::Base => {
                    return Err(Refusal::InvalidTarget {
                        target: rev.to_string(),
                        expected: "a revision to merge (base has nothing to merge)".to_string(),
                    })
                }
            }
        }
        resolved
    };
    parents.sort();
    parents.dedup();
    if parents.len() < 2 {
        return Err(Refusal::NothingToMerge {
            heads: graph.heads().into_iter().map(String::from).collect(),
        });
    }
    for a in &parents {
        for b in &parents {
            if a != b && graph.ancestors(b).contains(a) {
                return Err(Refusal::InvalidTarget {
                    target: a.clone(),
                    expected: format!(
                        "revisions on different branches: {a} is already an ancestor of {b}"
                    ),
                });
            }
        }
    }
    Ok(parents)
}

/// What `squash --to REV` replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SquashPlan<'a> {
    /// REV, whose schema the baseline creates.
    pub to: String,
    /// Every revision the baseline replaces, parents first: REV and its ancestors, and what
    /// earlier baselines among them replaced.
    pub replaces: Vec<String>,
    /// The migrations (and still-present files of revisions replaced before) whose files the
    /// baseline makes unnecessary once every database is past REV.
    pub files: Vec<&'a Migration>,
}

/// Decides `squash --to REV`: REV (an id or unique prefix) and its ancestors are replaced by one
/// baseline. Refused when a revision outside them branches off inside them (it would lose its
/// parent's schema), or when REV has no ancestor (nothing to squash).
pub fn plan_squash<'a>(migrations: &'a Migrations, to: &str) -> Result<SquashPlan<'a>, Refusal> {
    let graph = migrations.graph();
    let to = match graph.resolve(to)? {
        Target::Revision(rev) => rev,
        _ => {
            return Err(Refusal::InvalidTarget {
                target: to.to_string(),
                expected: "one revision id (or unique prefix): the last revision to squash"
                    .to_string(),
            })
        }
    };
    let inside = graph.ancestors(&to);
    if inside.len() < 2 {
        return Err(Refusal::InvalidTarget {
            target: to,
            expected: "a revision with ancestors: a single revision is already its own baseline"
                .to_string(),
        });
    }
    let mut branching: Vec<String> = Vec::new();
    for rev in inside.iter().filter(|rev| **rev != to) {
        for child in graph.children(rev) {
            if !inside.contains(child) {
                branching.push(format!("{child} (child of {rev})"));
            }
        }
    }
    if !branching.is_empty() {
        return Err(Refusal::BranchInsideSquash {
            to,
            branches: branching,
        });
    }
    let mut replaces = Vec::new();
    let mut files = Vec::new();
    for rev in graph
        .topo_order()
        .into_iter()
        .filter(|rev| inside.contains(*rev))
    {
        let Some(m) = migrations.get(rev) else {
            continue;
        };
        for earlier in &m.squashes {
            replaces.push(earlier.clone());
            files.extend(migrations.superseded(earlier));
        }
        replaces.push(rev.to_string());
        files.push(m);
    }
    Ok(SquashPlan {
        to,
        replaces,
        files,
    })
}

/// What `rebase --onto REV` moves: my revisions (those REV does not descend from), a line
/// starting at the fork, to be re-parented on REV in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebasePlan<'a> {
    /// The revision they go on top of.
    pub onto: String,
    /// My revisions, parents first; the first one's parent is the fork.
    pub mine: Vec<&'a Migration>,
}

/// Decides `rebase --onto REV`: the revisions REV does not descend from must form one line off
/// REV's history (no merge, no second branch), and none may be applied to a database the
/// project knows (`applied`: each database shown with the revisions its ledger holds).
pub fn plan_rebase<'a>(
    migrations: &'a Migrations,
    onto: &str,
    applied: &[(String, BTreeSet<String>)],
) -> Result<RebasePlan<'a>, Refusal> {
    let graph = migrations.graph();
    let onto = match graph.resolve(onto)? {
        Target::Revision(rev) => rev,
        _ => {
            return Err(Refusal::InvalidTarget {
                target: onto.to_string(),
                expected: "the revision to put my revisions on top of (the other head)".to_string(),
            })
        }
    };
    let below = graph.ancestors(&onto);
    let mine: Vec<&Migration> = migrations
        .in_order()
        .into_iter()
        .filter(|m| !below.contains(m.revision()))
        .collect();
    if mine.is_empty() {
        return Err(Refusal::NothingToRebase { onto });
    }
    let mut previous: Option<&str> = None;
    for m in &mine {
        let parents = graph.parents(m.revision());
        let linked = match (previous, parents) {
            (None, [parent]) => below.contains(parent),
            (Some(prev), [parent]) => parent == prev,
            _ => false,
        };
        if !linked {
            return Err(Refusal::InvalidTarget {
                target: onto,
                expected: format!(
                    "a head whose other branch is one line of revisions; {} is a merge or starts \
                     a second line: join with `qvdiff merge` instead",
                    m.revision()
                ),
            });
        }
        previous = Some(m.revision());
    }
    for (database, ids) in applied {
        let done: Vec<String> = mine
            .iter()
            .filter(|m| ids.contains(m.revision()))
            .map(|m| m.revision().to_string())
            .collect();
        if !done.is_empty() {
            return Err(Refusal::RebaseApplied {
                database: database.clone(),
                revisions: done,
            });
        }
    }
    Ok(RebasePlan { onto, mine })
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

/// An edit of an applied file, accepted with `qvdiff accept`: one row of [`AUDIT_TABLE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedEdit {
    /// Revision id.
    pub revision: String,
    /// Checksum the ledger held (the file as it was applied, or as last accepted).
    pub old_checksum: String,
    /// Checksum of the edited file, now in the ledger.
    pub new_checksum: String,
    /// Why the edit was made, as given.
    pub reason: String,
    /// When it was accepted, UTC ISO-8601.
    pub accepted_at: String,
}

/// What `accept REV --reason …` writes: the migration whose checksum the ledger takes, the
/// checksum it replaces, and the reason on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptPlan<'a> {
    /// The edited migration (its checksum is the new one).
    pub migration: &'a Migration,
    /// The checksum the ledger holds now.
    pub old_checksum: String,
    /// The reason, on one line.
    pub reason: String,
}

/// Decides `accept REV --reason …` on a database whose ledger is `applied`: REV (an id or
/// unique prefix) must be applied and its file must differ from what was applied, and the
/// reason must not be blank. Whether the edit changes the schema is the caller's to check
/// (it needs a replay): this decides only what the ledger and the audit table get.
pub fn plan_accept<'a>(
    migrations: &'a Migrations,
    applied: &[AppliedRevision],
    revision: &str,
    reason: &str,
) -> Result<AcceptPlan<'a>, Refusal> {
    let revision = match migrations.graph().resolve(revision)? {
        Target::Revision(rev) => rev,
        _ => {
            return Err(Refusal::InvalidTarget {
                target: revision.to_string(),
                expected: "one revision id (or unique prefix) whose file was edited".to_string(),
            })
        }
    };
    let reason = reason.split_whitespace().collect::<Vec<_>>().join(" ");
    if reason.is_empty() {
        return Err(Refusal::MissingReason { revision });
    }
    let Some(migration) = migrations.get(&revision) else {
        return Err(Refusal::NothingToAccept {
            why: "it has no migration file".to_string(),
            revision,
        });
    };
    let Some(row) = applied.iter().find(|row| row.revision == revision) else {
        return Err(Refusal::NothingToAccept {
            why: "it is not applied to this database (a pending file may be edited freely)"
                .to_string(),
            revision,
        });
    };
    if migration.applied_as(&row.checksum) {
        return Err(Refusal::NothingToAccept {
            why: format!(
                "{} is the file that was applied (checksum {})",
                migration.path,
                short_checksum(&row.checksum)
            ),
            revision,
        });
    }
    Ok(AcceptPlan {
        migration,
        old_checksum: row.checksum.clone(),
        reason,
    })
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
mod tests {
    use super::*;

    fn migration(rev: &str, parents: &[&str]) -> Migration {
        let file = MigrationFile {
            revision: rev.to_string(),
            parents: parents.iter().map(|p| p.to_string()).collect(),
            message: format!("rev {rev}"),
            up: format!("CREATE TABLE t{rev} (id INTEGER PRIMARY KEY);\n"),
            down: format!("DROP TABLE t{rev};\n"),
        };
        let text = file.render();
        Migration::new(
            file,
            MigrationFile::checksum(&text),
            format!("migrations/{rev}_x.sql"),
        )
    }

    fn applied(migrations: &Migrations, revs: &[&str]) -> Vec<AppliedRevision> {
        revs.iter()
            .map(|rev| AppliedRevision {
                revision: rev.to_string(),
                checksum: migrations
                    .get(rev)
                    .map(|m| m.checksum.clone())
                    .unwrap_or_else(|| "0".repeat(64)),
                message: String::new(),
                applied_at: "2026-01-01T00:00:00Z".to_string(),
                execution_ms: 0,
            })
            .collect()
    }

    fn revs(plan: &[&Migration]) -> Vec<String> {
        plan.iter().map(|m| m.file.revision.clone()).collect()
    }

    fn linear() -> Migrations {
        Migrations::new(vec![
            migration("a1", &[]),
            migration("b2", &["a1"]),
            migration("c3", &["b2"]),
        ])
        .unwrap()
    }

    #[test]
    fn upgrade_targets() {
        let m = linear();
        assert_eq!(
            revs(&plan_upgrade(&m, &[], "head").unwrap()),
            ["a1", "b2", "c3"]
        );
        assert_eq!(
            revs(&plan_upgrade(&m, &applied(&m, &["a1"]), "+1").unwrap()),
            ["b2"]
        );
        assert_eq!(revs(&plan_upgrade(&m, &[], "b").unwrap()), ["a1", "b2"]);
        assert!(plan_upgrade(&m, &applied(&m, &["a1", "b2", "c3"]), "head")
            .unwrap()
            .is_empty());
        assert!(matches!(
            plan_upgrade(&m, &[], "+0"),
            Err(Refusal::InvalidTarget { .. })
        ));
    }

    #[test]
    fn downgrade_targets() {
        let m = linear();
        let all = applied(&m, &["a1", "b2", "c3"]);
        assert_eq!(revs(&plan_downgrade(&m, &all, "").unwrap()), ["c3"]);
        assert_eq!(revs(&plan_downgrade(&m, &all, "-2").unwrap()), ["c3", "b2"]);
        assert_eq!(revs(&plan_downgrade(&m, &all, "a1").unwrap()), ["c3", "b2"]);
        assert_eq!(
            revs(&plan_downgrade(&m, &all, "base").unwrap()),
            ["c3", "b2", "a1"]
        );
        assert!(matches!(
            plan_downgrade(&m, &all, "-4"),
            Err(Refusal::TooFewApplied {
                asked: 4,
                applied: 3
            })
        ));
        let some = applied(&m, &["a1"]);
        assert!(matches!(
            plan_downgrade(&m, &some, "c3"),
            Err(Refusal::NotApplied { .. })
        ));
    }

    #[test]
    fn refusals() {
        let m = linear();
        let mut rows = applied(&m, &["a1"]);
        rows[0].checksum = "f".repeat(64);
        let err = plan_upgrade(&m, &rows, "head").unwrap_err();
        assert!(matches!(err, Refusal::EditedAfterApplied { .. }));
        assert!(err.to_string().contains("migrations/a1_x.sql was edited"));

        let newer = applied(&m, &["a1", "b2", "c3", "d4"]);
        assert!(matches!(
            plan_upgrade(&m, &newer, "head"),
            Err(Refusal::DatabaseNewer { .. })
        ));
        let missing = applied(&m, &["a1", "zz"]);
        assert!(matches!(
            plan_upgrade(&m, &missing, "head"),
            Err(Refusal::MissingFiles { .. })
        ));
    }

    #[test]
    fn several_heads_need_merge() {
        let m = Migrations::new(vec![
            migration("a1", &[]),
            migration("b2", &["a1"]),
            migration("c3", &["a1"]),
        ])
        .unwrap();
        let err = plan_upgrade(&m, &[], "head").unwrap_err();
        assert!(err.to_string().contains("qvdiff merge"));
        assert_eq!(
            revs(&plan_upgrade(&m, &[], "heads").unwrap()),
            ["a1", "b2", "c3"]
        );
        assert_eq!(merge_parents(&m, &[]).unwrap(), ["b2", "c3"]);
        assert!(merge_parents(&m, &["a1", "b2"]).is_err());
        assert!(merge_parents(&linear(), &[]).is_err());
        let h = history(&m, &BTreeSet::new());
        assert!(h[0].is_branch_point && h[0].is_root);
        assert!(h[1].is_head && h[2].is_head);
    }

    #[test]
    fn accept_needs_an_applied_edited_file_and_a_reason() {
        let m = linear();
        let mut rows = applied(&m, &["a1", "b2"]);
        let unchanged = plan_accept(&m, &rows, "a1", "typo").unwrap_err();
        assert!(matches!(unchanged, Refusal::NothingToAccept { .. }));
        rows[0].checksum = "f".repeat(64);
        let plan = plan_accept(&m, &rows, "a", "  fixed\n a typo ").unwrap();
        assert_eq!(plan.migration.file.revision, "a1");
        assert_eq!(plan.old_checksum, "f".repeat(64));
        assert_eq!(plan.reason, "fixed a typo");
        assert!(matches!(
            plan_accept(&m, &rows, "a1", " \n"),
            Err(Refusal::MissingReason { .. })
        ));
        assert!(matches!(
            plan_accept(&m, &rows, "c3", "why"),
            Err(Refusal::NothingToAccept { .. })
        ));
        assert!(matches!(
            plan_accept(&m, &rows, "base", "why"),
            Err(Refusal::InvalidTarget { .. })
        ));
        assert!(is_bookkeeping_table(AUDIT_TABLE) && !is_bookkeeping_table("items"));
    }

    #[test]
    fn a_baseline_stands_for_the_revisions_it_replaces() {
        let old = linear();
        let mut baseline = migration("s1", &[]);
        baseline.squashes = vec!["a1".into(), "b2".into()];
        let mut kept = vec![baseline, migration("c3", &["b2"])];
        kept.push(old.get("b2").unwrap().clone());
        let m = Migrations::new(kept).unwrap();
        assert_eq!(m.graph().heads(), ["c3"]);
        assert_eq!(m.graph().parents("c3"), ["s1"]);
        assert_eq!(revs(&plan_squash(&old, "b2").unwrap().files), ["a1", "b2"]);
        // Past the range: the baseline counts as applied.
        let past = applied(&old, &["a1", "b2"]);
        assert_eq!(revs(&plan_upgrade(&m, &past, "head").unwrap()), ["c3"]);
        assert_eq!(status(&m, &past).current, ["s1"]);
        let down = plan_downgrade(&m, &past, "base").unwrap();
        assert_eq!(
            down[0].ledger_revisions().collect::<Vec<_>>(),
            ["s1", "a1", "b2"]
        );
        // Inside it: the kept file first; without it, refused.
        let inside = applied(&old, &["a1"]);
        assert_eq!(
            revs(&plan_upgrade(&m, &inside, "head").unwrap()),
            ["b2", "c3"]
        );
        assert!(matches!(
            plan_downgrade(&m, &inside, "base"),
            Err(Refusal::InsideSquash { .. })
        ));
        let mut gone = vec![m.get("s1").unwrap().clone(), m.get("c3").unwrap().clone()];
        gone[0].squashes = vec!["a1".into(), "b2".into()];
        let gone = Migrations::new(gone).unwrap();
        assert!(matches!(
            plan_upgrade(&gone, &inside, "head"),
            Err(Refusal::InsideSquash { .. })
        ));
        // Fresh: the baseline itself.
        assert_eq!(revs(&plan_upgrade(&m, &[], "head").unwrap()), ["s1", "c3"]);
    }

    #[test]
    fn ranges() {
        let m = linear();
        assert_eq!(parse_range(None), ("base".into(), "head".into()));
        assert_eq!(parse_range(Some("a1:")), ("a1".into(), "head".into()));
        match plan_range(&m, "a1", "head").unwrap() {
            ScriptPlan::Upgrade(p) => assert_eq!(revs(&p), ["b2", "c3"]),
            other => panic!("{other:?}"),
        }
        match plan_range(&m, "head", "a1").unwrap() {
            ScriptPlan::Downgrade(p) => assert_eq!(revs(&p), ["c3", "b2"]),
            other => panic!("{other:?}"),
        }
    }
}
