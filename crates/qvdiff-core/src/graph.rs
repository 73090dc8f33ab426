//! The revision graph: parents, heads, topological order, merges, cycle detection.
//!
//! Order comes from parent links only, never from revision ids or file names: a revision may
//! have an older id than its parent (a branch rebased by hand, a `--rev-id`). Ids only break ties
//! between revisions the links leave unordered, which keeps every listing deterministic.

use std::collections::{BTreeMap, BTreeSet};

/// One revision as read from its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Revision id.
    pub revision: String,
    /// Parent revision ids (none for a root, several for a merge).
    pub parents: Vec<String>,
    /// Where the revision comes from (a file path), for messages.
    pub file: String,
}

/// What a user target names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `base`: before the first revision (an empty schema).
    Base,
    /// One revision (given in full, by unique prefix, or `head` when there is one head).
    Revision(String),
    /// `heads`: every head, sorted.
    Heads(Vec<String>),
}

/// A problem with the set of revisions, or with a target a user named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphError {
    /// Two files declare the same revision id.
    DuplicateRevision {
        /// The revision id.
        revision: String,
        /// The file seen first.
        first_file: String,
        /// The file seen second.
        second_file: String,
    },
    /// A revision lists a parent no file declares.
    UnknownParent {
        /// The revision with the dangling link.
        revision: String,
        /// Its file.
        file: String,
        /// The missing parent.
        parent: String,
    },
    /// Parent links form a cycle.
    Cycle {
        /// `(revision, file)` around the cycle, each the parent of the one before it.
        revisions: Vec<(String, String)>,
    },
    /// `head` was asked for but the graph has several heads.
    SeveralHeads {
        /// The heads, sorted.
        heads: Vec<String>,
    },
    /// A target names no revision.
    UnknownRevision {
        /// The target as given.
        target: String,
    },
    /// A prefix matches several revisions.
    AmbiguousPrefix {
        /// The prefix as given.
        prefix: String,
        /// The revisions it matches, sorted.
        matches: Vec<String>,
    },
    /// Several problems found while building the graph, each reported.
    Several(Vec<GraphError>),
}

impl std::fmt::Display for GraphError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GraphError::DuplicateRevision {
                revision,
                first_file,
                second_file,
            } => write!(
                f,
                "revision {revision} is declared twice, in {first_file} and in {second_file}; \
                 give one of them a new `-- qvdiff revision:` id (and update the `-- parents:` \
                 of its children)"
            ),
            GraphError::UnknownParent {
                revision,
                file,
                parent,
            } => write!(
                f,
                "{file}: revision {revision} has parent {parent}, but no migration file declares \
                 {parent}; restore that file or fix the `-- parents:` line"
            ),
            GraphError::Cycle { revisions } => {
                let mut chain: Vec<&str> = revisions.iter().map(|(r, _)| r.as_str()).collect();
                if let Some(first) = chain.first().copied() {
                    chain.push(first);
                }
                let files: Vec<&str> = revisions.iter().map(|(_, file)| file.as_str()).collect();
                write!(
                    f,
                    "revisions form a cycle through their parents: {} (files: {}); \
                     fix the `-- parents:` line of one of them",
                    chain.join(" -> "),
                    files.join(", ")
                )
            }
            GraphError::SeveralHeads { heads } => write!(
                f,
                "several heads: {}; run `qvdiff merge -m \"<message>\"` to join them, or name \
                 one revision (or `heads`)",
                heads.join(", ")
            ),
            GraphError::UnknownRevision { target } => write!(
                f,
                "unknown revision `{target}`; `qvdiff history` lists the revisions \
                 (`head`, `heads` and `base` are also accepted)"
            ),
            GraphError::AmbiguousPrefix { prefix, matches } => write!(
                f,
                "`{prefix}` matches several revisions: {}; give more characters",
                matches.join(", ")
            ),
            GraphError::Several(errors) => {
                for (i, error) in errors.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{error}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for GraphError {}

/// The revisions and their parent links, checked: unique ids, known parents, no cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionGraph {
    /// Revision -> its node (parents deduplicated, in file order).
    nodes: BTreeMap<String, Node>,
    /// Revision -> its children, sorted.
    children: BTreeMap<String, BTreeSet<String>>,
    /// All revisions, parents before children.
    order: Vec<String>,
}

impl RevisionGraph {
    /// Checks and links the revisions. Every duplicate id (naming both files), unknown parent
    /// and cycle (listing its revisions) is reported, together in [`GraphError::Several`] when
    /// there is more than one.
    pub fn build(nodes: Vec<Node>) -> Result<RevisionGraph, GraphError> {
        let mut errors = Vec::new();
        let mut by_id: BTreeMap<String, Node> = BTreeMap::new();
        for mut node in nodes {
            if let Some(first) = by_id.get(&node.revision) {
                errors.push(GraphError::DuplicateRevision {
                    revision: node.revision.clone(),
                    first_file: first.file.clone(),
                    second_file: node.file.clone(),
                });
                continue;
            }
            let mut seen = BTreeSet::new();
            node.parents.retain(|p| seen.insert(p.clone()));
            by_id.insert(node.revision.clone(), node);
        }

        let mut children: BTreeMap<String, BTreeSet<String>> = by_id
            .keys()
            .map(|rev| (rev.clone(), BTreeSet::new()))
            .collect();
        for node in by_id.values() {
            for parent in &node.parents {
                match children.get_mut(parent) {
                    Some(kids) => {
                        kids.insert(node.revision.clone());
                    }
                    None => errors.push(GraphError::UnknownParent {
                        revision: node.revision.clone(),
                        file: node.file.clone(),
                        parent: parent.clone(),
                    }),
                }
            }
        }

        let order = topological(&by_id, &children);
        if order.len() < by_id.len() {
            let placed: BTreeSet<&str> = order.iter().map(String::as_str).collect();
            errors.extend(find_cycles(&by_id, &placed));
        }

        match errors.len() {
            0 => Ok(RevisionGraph {
                nodes: by_id,
                children,
                order,
            }),
            1 => Err(errors.remove(0)),
            _ => Err(GraphError::Several(errors)),
        }
    }

    /// Whether the graph holds no revision.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Number of revisions.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Revisions no other revision has as parent, sorted. Empty only for an empty graph.
    pub fn heads(&self) -> Vec<&str> {
        self.children
            .iter()
            .filter(|(_, kids)| kids.is_empty())
            .map(|(rev, _)| rev.as_str())
            .collect()
    }

    /// Revisions without parents, sorted.
    pub fn roots(&self) -> Vec<&str> {
        self.nodes
            .values()
            .filter(|n| n.parents.is_empty())
            .map(|n| n.revision.as_str())
            .collect()
    }

    /// Every revision, parents before children; revisions the links leave unordered come by id.
    pub fn topo_order(&self) -> Vec<&str> {
        self.order.iter().map(String::as_str).collect()
    }

    /// `rev` and every revision it descends from. Empty for an unknown revision.
    pub fn ancestors(&self, rev: &str) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        if !self.contains(rev) {
            return found;
        }
        let mut stack = vec![rev.to_string()];
        while let Some(current) = stack.pop() {
            if found.insert(current.clone()) {
                stack.extend(self.parents(&current).iter().cloned());
            }
        }
        found
    }

    /// The parents of `rev` as its file lists them (empty for a root or an unknown revision).
    pub fn parents(&self, rev: &str) -> &[String] {
        self.nodes
            .get(rev)
            .map(|n| n.parents.as_slice())
            .unwrap_or(&[])
    }

    /// The revisions that have `rev` as a parent, sorted.
    pub fn children(&self, rev: &str) -> Vec<&str> {
        self.children
            .get(rev)
            .map(|kids| kids.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Whether `rev` is a revision of the graph (full id).
    pub fn contains(&self, rev: &str) -> bool {
        self.nodes.contains_key(rev)
    }

    /// The file `rev` comes from.
    pub fn file(&self, rev: &str) -> Option<&str> {
        self.nodes.get(rev).map(|n| n.file.as_str())
    }

    /// Resolves a user target: `base`, `heads`, `head` (the single head; [`Target::Base`] for an
    /// empty graph; an error naming them when there are several), a full revision id, or a
    /// unique prefix of one.
    pub fn resolve(&self, target: &str) -> Result<Target, GraphError> {
        let target = target.trim();
        match target {
            "base" => return Ok(Target::Base),
            "heads" => {
                return Ok(Target::Heads(
                    self.heads().into_iter().map(String::from).collect(),
                ))
            }
            "head" => {
                let heads = self.heads();
                return match heads.as_slice() {
                    [] => Ok(Target::Base),
                    [one] => Ok(Target::Revision(one.to_string())),
                    _ => Err(GraphError::SeveralHeads {
                        heads: heads.into_iter().map(String::from).collect(),
                    }),
                };
            }
            _ => {}
        }
        if self.contains(target) {
            return Ok(Target::Revision(target.to_string()));
        }
        let matches: Vec<String> = if target.is_empty() {
            Vec::new()
        } else {
            self.nodes
                .range(target.to_string()..)
                .take_while(|(rev, _)| rev.starts_with(target))
                .map(|(rev, _)| rev.clone())
                .collect()
        };
        match matches.len() {
            0 => Err(GraphError::UnknownRevision {
                target: target.to_string(),
            }),
            1 => Ok(Target::Revision(matches[0].clone())),
            _ => Err(GraphError::AmbiguousPrefix {
                prefix: target.to_string(),
                matches,
            }),
        }
    }

    /// Revisions to apply to reach `target` from the `applied` set: every ancestor of `target`
    /// (itself included) not applied yet, parents first. Empty for an unknown target; resolve
    /// user input with [`RevisionGraph::resolve`] first.
    pub fn upgrade_path(&self, applied: &BTreeSet<String>, target: &str) -> Vec<&str> {
        self.upgrade_path_many(applied, &[target])
    }

    /// [`RevisionGraph::upgrade_path`] to several targets at once (`upgrade heads`).
    pub fn upgrade_path_many(&self, applied: &BTreeSet<String>, targets: &[&str]) -> Vec<&str> {
        let wanted = self.ancestors_of_all(targets);
        self.order
            .iter()
            .filter(|rev| wanted.contains(*rev) && !applied.contains(*rev))
            .map(String::as_str)
            .collect()
    }

    /// Revisions to revert to go down to `target` (`None` = base): every applied revision that
    /// is not an ancestor of `target`, children first. `target` itself stays applied (Alembic's
    /// meaning). Applied ids the graph does not know are skipped: the caller should refuse them
    /// before (their `down` SQL is not available).
    pub fn downgrade_path(&self, applied: &BTreeSet<String>, target: Option<&str>) -> Vec<&str> {
        match target {
            Some(target) => self.downgrade_path_many(applied, &[target]),
            None => self.downgrade_path_many(applied, &[]),
        }
    }

    /// [`RevisionGraph::downgrade_path`] keeping every ancestor of several targets (an empty list
    /// means base). Going down one step from a merge is `downgrade_path_many(applied,
    /// parents_of_the_merge)`.
    pub fn downgrade_path_many(&self, applied: &BTreeSet<String>, targets: &[&str]) -> Vec<&str> {
        let keep = self.ancestors_of_all(targets);
        self.order
            .iter()
            .rev()
            .filter(|rev| applied.contains(*rev) && !keep.contains(*rev))
            .map(String::as_str)
            .collect()
    }

    /// Applied revisions none of whose children are applied, sorted: what `current` shows.
    pub fn applied_heads(&self, applied: &BTreeSet<String>) -> Vec<&str> {
        self.nodes
            .keys()
            .filter(|rev| applied.contains(*rev))
            .filter(|rev| self.children(rev).iter().all(|k| !applied.contains(*k)))
            .map(String::as_str)
            .collect()
    }

    fn ancestors_of_all(&self, targets: &[&str]) -> BTreeSet<String> {
        let mut all = BTreeSet::new();
        for target in targets {
            all.extend(self.ancestors(target));
        }
        all
    }
}

/// Kahn's algorithm over parent links, smallest ready id first. Revisions on or behind a cycle
/// never become ready and are left out; unknown parents are ignored (reported elsewhere).
fn topological(
    nodes: &BTreeMap<String, Node>,
    children: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut waiting_on: BTreeMap<&str, usize> = nodes
        .values()
        .map(|n| {
            let known = n
                .parents
                .iter()
                .filter(|p| nodes.contains_key(p.as_str()))
                .count();
            (n.revision.as_str(), known)
        })
        .collect();
    let mut ready: BTreeSet<&str> = waiting_on
        .iter()
        .filter(|(_, count)| **count == 0)
        .map(|(rev, _)| *rev)
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(rev) = ready.pop_first() {
        order.push(rev.to_string());
        for child in children.get(rev).into_iter().flatten() {
            if let Some(count) = waiting_on.get_mut(child.as_str()) {
                *count -= 1;
                if *count == 0 {
                    ready.insert(child.as_str());
                }
            }
        }
    }
    order
}

/// One [`GraphError::Cycle`] per distinct cycle among the revisions topological sorting could
/// not place. Walks parent links from the smallest unplaced id until a revision repeats.
fn find_cycles(nodes: &BTreeMap<String, Node>, placed: &BTreeSet<&str>) -> Vec<GraphError> {
    let mut reported: BTreeSet<String> = BTreeSet::new();
    let mut errors = Vec::new();
    for start in nodes.keys().filter(|r| !placed.contains(r.as_str())) {
        if reported.contains(start) {
            continue;
        }
        let mut path: Vec<&str> = Vec::new();
        let mut position: BTreeMap<&str, usize> = BTreeMap::new();
        let mut current = start.as_str();
        loop {
            if let Some(&at) = position.get(current) {
                let cycle = &path[at..];
                if cycle.iter().all(|r| !reported.contains(*r)) {
                    reported.extend(cycle.iter().map(|r| r.to_string()));
                    errors.push(GraphError::Cycle {
                        revisions: cycle
                            .iter()
                            .map(|r| {
                                let file =
                                    nodes.get(*r).map(|n| n.file.clone()).unwrap_or_default();
                                (r.to_string(), file)
                            })
                            .collect(),
                    });
                }
                break;
            }
            if reported.contains(current) {
                break;
            }
            position.insert(current, path.len());
            path.push(current);
            // An unplaced revision always has an unplaced known parent (that is why it was not
            // placed); follow the smallest one.
            let next = nodes.get(current).and_then(|n| {
                n.parents
                    .iter()
                    .filter(|p| nodes.contains_key(p.as_str()) && !placed.contains(p.as_str()))
                    .min()
            });
            match next {
                Some(parent) => current = parent.as_str(),
                None => break,
            }
        }
    }
    errors
}
