//! The decisions of the team commands: which revisions `merge` joins, what `squash` replaces,
//! what `rebase` moves and which edit `accept` records. The CLI only replays and proves.

use super::{short_checksum, AppliedRevision, Migration, Migrations, Refusal};
use crate::graph::Target;
use std::collections::BTreeSet;

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

/// An edit of an applied file, accepted with `qvdiff accept`: one row of [`super::AUDIT_TABLE`].
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
