//! Tests of the revision graph.

use qvdiff_core::graph::{GraphError, Node, RevisionGraph, Target};
use std::collections::BTreeSet;

fn node(revision: &str, parents: &[&str]) -> Node {
    Node {
        revision: revision.to_string(),
        parents: parents.iter().map(|p| p.to_string()).collect(),
        file: format!("migrations/{revision}_x.sql"),
    }
}

fn build(nodes: Vec<Node>) -> RevisionGraph {
    match RevisionGraph::build(nodes) {
        Ok(graph) => graph,
        Err(e) => panic!("graph should build: {e}"),
    }
}

fn build_err(nodes: Vec<Node>) -> GraphError {
    match RevisionGraph::build(nodes) {
        Ok(graph) => panic!("expected an error, built {graph:?}"),
        Err(e) => e,
    }
}

fn set(revs: &[&str]) -> BTreeSet<String> {
    revs.iter().map(|r| r.to_string()).collect()
}

/// r1 <- r2 <- r3
fn linear() -> RevisionGraph {
    build(vec![
        node("r3", &["r2"]),
        node("r1", &[]),
        node("r2", &["r1"]),
    ])
}

/// r1 <- a, r1 <- b, (a, b) <- m
fn diamond() -> RevisionGraph {
    build(vec![
        node("r1", &[]),
        node("b", &["r1"]),
        node("a", &["r1"]),
        node("m", &["a", "b"]),
    ])
}

#[test]
fn linear_graph() {
    let g = linear();
    assert_eq!(g.len(), 3);
    assert_eq!(g.heads(), vec!["r3"]);
    assert_eq!(g.roots(), vec!["r1"]);
    assert_eq!(g.topo_order(), vec!["r1", "r2", "r3"]);
    assert_eq!(g.ancestors("r2"), set(&["r1", "r2"]));
    assert!(g.ancestors("nope").is_empty());
    assert_eq!(g.parents("r2"), ["r1".to_string()]);
    assert!(g.parents("r1").is_empty());
    assert_eq!(g.children("r1"), vec!["r2"]);
    assert!(g.children("r3").is_empty());
    assert!(g.contains("r2") && !g.contains("r"));
    assert_eq!(g.file("r2"), Some("migrations/r2_x.sql"));
}

#[test]
fn empty_graph() {
    let g = build(vec![]);
    assert!(g.is_empty());
    assert!(g.heads().is_empty());
    assert_eq!(g.resolve("head"), Ok(Target::Base));
    assert!(g.upgrade_path(&set(&[]), "head").is_empty());
}

#[test]
fn branch_and_merge() {
    let g = build(vec![
        node("r1", &[]),
        node("b", &["r1"]),
        node("a", &["r1"]),
    ]);
    assert_eq!(g.heads(), vec!["a", "b"]);
    assert_eq!(g.children("r1"), vec!["a", "b"]);
    match g.resolve("head") {
        Err(e @ GraphError::SeveralHeads { .. }) => {
            let text = e.to_string();
            assert!(text.contains("several heads: a, b"), "{text}");
            assert!(text.contains("qvdiff merge -m"), "{text}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        g.resolve("heads"),
        Ok(Target::Heads(vec!["a".into(), "b".into()]))
    );
    assert_eq!(
        g.upgrade_path_many(&set(&["r1"]), &["a", "b"]),
        vec!["a", "b"]
    );

    let g = diamond();
    assert_eq!(g.heads(), vec!["m"]);
    assert_eq!(g.topo_order(), vec!["r1", "a", "b", "m"]);
    assert_eq!(g.parents("m"), ["a".to_string(), "b".to_string()]);
    assert_eq!(g.ancestors("m"), set(&["r1", "a", "b", "m"]));
    assert_eq!(g.resolve("head"), Ok(Target::Revision("m".into())));
}

#[test]
fn child_with_an_older_id_than_its_parent() {
    // 20260101… is the child of 20261231…: order must follow the link, not the id.
    let g = build(vec![
        node("20260101000000", &["20261231000000"]),
        node("20261231000000", &["20250101000000"]),
        node("20250101000000", &[]),
    ]);
    assert_eq!(
        g.topo_order(),
        vec!["20250101000000", "20261231000000", "20260101000000"]
    );
    assert_eq!(g.heads(), vec!["20260101000000"]);
    assert_eq!(
        g.upgrade_path(&set(&[]), "20260101000000"),
        vec!["20250101000000", "20261231000000", "20260101000000"]
    );
    assert_eq!(
        g.downgrade_path(
            &set(&["20250101000000", "20261231000000", "20260101000000"]),
            None
        ),
        vec!["20260101000000", "20261231000000", "20250101000000"]
    );
}

#[test]
fn cycle_is_reported_with_its_revisions_and_files() {
    let err = build_err(vec![
        node("root", &[]),
        node("a", &["c", "root"]),
        node("b", &["a"]),
        node("c", &["b"]),
        node("d", &["c"]),
    ]);
    match &err {
        GraphError::Cycle { revisions } => {
            let revs: Vec<&str> = revisions.iter().map(|(r, _)| r.as_str()).collect();
            assert_eq!(revs, vec!["a", "c", "b"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("a -> c -> b -> a"), "{text}");
    assert!(text.contains("migrations/b_x.sql"), "{text}");

    let self_loop = build_err(vec![node("s", &["s"])]);
    assert!(self_loop.to_string().contains("s -> s"), "{self_loop}");
}

#[test]
fn unknown_parent_names_revision_file_and_parent() {
    let err = build_err(vec![node("r1", &[]), node("r2", &["gone"])]);
    assert_eq!(
        err,
        GraphError::UnknownParent {
            revision: "r2".into(),
            file: "migrations/r2_x.sql".into(),
            parent: "gone".into(),
        }
    );
    let text = err.to_string();
    assert!(
        text.starts_with("migrations/r2_x.sql: revision r2 has parent gone"),
        "{text}"
    );
}

#[test]
fn duplicate_names_both_files() {
    let mut second = node("r1", &[]);
    second.file = "migrations/r1_copy.sql".into();
    let err = build_err(vec![node("r1", &[]), second]);
    let text = err.to_string();
    assert!(text.contains("revision r1 is declared twice"), "{text}");
    assert!(text.contains("migrations/r1_x.sql"), "{text}");
    assert!(text.contains("migrations/r1_copy.sql"), "{text}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut dup = node("r1", &[]);
    dup.file = "other.sql".into();
    let err = build_err(vec![
        node("r1", &[]),
        dup,
        node("r2", &["missing"]),
        node("x", &["y"]),
        node("y", &["x"]),
    ]);
    match &err {
        GraphError::Several(errors) => assert_eq!(errors.len(), 3, "{err}"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(err.to_string().lines().count(), 3);
}

#[test]
fn duplicate_parents_are_merged() {
    let g = build(vec![node("r1", &[]), node("r2", &["r1", "r1"])]);
    assert_eq!(g.parents("r2"), ["r1".to_string()]);
}

#[test]
fn resolve_targets() {
    let g = build(vec![
        node("20261120093000", &[]),
        node("20261124101500", &["20261120093000"]),
        node("20261124113000", &["20261124101500"]),
    ]);
    assert_eq!(g.resolve("base"), Ok(Target::Base));
    assert_eq!(
        g.resolve("head"),
        Ok(Target::Revision("20261124113000".into()))
    );
    assert_eq!(
        g.resolve("20261124101500"),
        Ok(Target::Revision("20261124101500".into()))
    );
    assert_eq!(
        g.resolve("2026112410"),
        Ok(Target::Revision("20261124101500".into()))
    );
    assert_eq!(
        g.resolve("202611241"),
        Err(GraphError::AmbiguousPrefix {
            prefix: "202611241".into(),
            matches: vec!["20261124101500".into(), "20261124113000".into()],
        })
    );
    assert_eq!(
        g.resolve("3000"),
        Err(GraphError::UnknownRevision {
            target: "3000".into()
        })
    );
    assert_eq!(
        g.resolve(""),
        Err(GraphError::UnknownRevision { target: "".into() })
    );
    let text = g.resolve("202611241").map(|_| ()).unwrap_err().to_string();
    assert!(text.contains("20261124101500, 20261124113000"), "{text}");
}

#[test]
fn upgrade_and_downgrade_paths() {
    let g = linear();
    assert_eq!(g.upgrade_path(&set(&[]), "r3"), vec!["r1", "r2", "r3"]);
    assert_eq!(g.upgrade_path(&set(&["r1"]), "r3"), vec!["r2", "r3"]);
    assert_eq!(g.upgrade_path(&set(&["r1"]), "r2"), vec!["r2"]);
    assert!(g.upgrade_path(&set(&["r1", "r2", "r3"]), "r3").is_empty());
    assert!(g.upgrade_path(&set(&[]), "unknown").is_empty());

    let all = set(&["r1", "r2", "r3"]);
    // The target stays applied (Alembic's meaning).
    assert_eq!(g.downgrade_path(&all, Some("r1")), vec!["r3", "r2"]);
    assert_eq!(g.downgrade_path(&all, Some("r3")), Vec::<&str>::new());
    assert_eq!(g.downgrade_path(&all, None), vec!["r3", "r2", "r1"]);
    // Applied ids without a file are skipped (the caller refuses them first).
    assert_eq!(g.downgrade_path(&set(&["r1", "ghost"]), None), vec!["r1"]);
}

#[test]
fn paths_through_a_merge() {
    let g = diamond();
    assert_eq!(g.upgrade_path(&set(&["r1", "a"]), "m"), vec!["b", "m"]);
    let all = set(&["r1", "a", "b", "m"]);
    assert_eq!(g.downgrade_path(&all, Some("a")), vec!["m", "b"]);
    // One step down from the merge keeps both of its parents.
    assert_eq!(g.downgrade_path_many(&all, &["a", "b"]), vec!["m"]);
    assert_eq!(g.applied_heads(&all), vec!["m"]);
    assert_eq!(g.applied_heads(&set(&["r1", "a", "b"])), vec!["a", "b"]);
    assert!(g.applied_heads(&set(&[])).is_empty());
}
