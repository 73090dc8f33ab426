//! Why the runner will not touch a database, and how each refusal reads: every message says
//! how to get out of it.

use crate::graph::GraphError;
use crate::wording::plural;

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
