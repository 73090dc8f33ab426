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
        revs(&plan_upgrade(&m, &[], &"head".parse().unwrap()).unwrap()),
        ["a1", "b2", "c3"]
    );
    assert_eq!(
        revs(&plan_upgrade(&m, &applied(&m, &["a1"]), &"+1".parse().unwrap()).unwrap()),
        ["b2"]
    );
    assert_eq!(
        revs(&plan_upgrade(&m, &[], &"b".parse().unwrap()).unwrap()),
        ["a1", "b2"]
    );
    assert!(plan_upgrade(
        &m,
        &applied(&m, &["a1", "b2", "c3"]),
        &"head".parse().unwrap()
    )
    .unwrap()
    .is_empty());
    assert!(matches!(
        RevisionTarget::for_upgrade("+0"),
        Err(Refusal::InvalidTarget { .. })
    ));
}

#[test]
fn revision_targets_parse_by_form_and_direction() {
    assert_eq!(
        RevisionTarget::parse(" +2 "),
        Ok(RevisionTarget::Forward(2))
    );
    assert_eq!(RevisionTarget::parse("-3"), Ok(RevisionTarget::Back(3)));
    assert_eq!(
        RevisionTarget::parse("r1_users"),
        Ok(RevisionTarget::Named("r1_users".to_string()))
    );
    for bad in [
        "+0",
        "-0",
        "++1",
        "+-1",
        "--1",
        "+",
        "-",
        "+1x",
        "+99999999999999999999999",
    ] {
        assert!(
            matches!(
                RevisionTarget::parse(bad),
                Err(Refusal::InvalidTarget { .. })
            ),
            "{bad} must be refused"
        );
    }
    assert_eq!(
        RevisionTarget::for_downgrade(""),
        Ok(RevisionTarget::Back(1))
    );
    assert!(RevisionTarget::for_upgrade("-1").is_err());
    assert!(RevisionTarget::for_downgrade("+1").is_err());
    assert_eq!(RevisionTarget::parse("+12").unwrap().to_string(), "+12");
    let m = linear();
    // `++1` once read as `+1` and applied a revision.
    assert!(matches!(
        RevisionTarget::for_upgrade("++1"),
        Err(Refusal::InvalidTarget { .. })
    ));
    // A target built in code is checked for its direction too, naming the other command.
    let refusal = plan_downgrade(&m, &applied(&m, &["a1"]), &RevisionTarget::Forward(1));
    assert!(
        matches!(&refusal, Err(Refusal::InvalidTarget { target, expected })
            if target == "+1" && expected.contains("qvdiff upgrade +N")),
        "{refusal:?}"
    );
    let refusal = plan_upgrade(&m, &[], &RevisionTarget::Back(2));
    assert!(
        matches!(&refusal, Err(Refusal::InvalidTarget { target, expected })
            if target == "-2" && expected.contains("qvdiff downgrade -N")),
        "{refusal:?}"
    );
    assert!(matches!(
        plan_stamp(&m, &RevisionTarget::Back(1)),
        Err(Refusal::InvalidTarget { .. })
    ));
}

#[test]
fn downgrade_targets() {
    let m = linear();
    let all = applied(&m, &["a1", "b2", "c3"]);
    assert_eq!(
        revs(&plan_downgrade(&m, &all, &"-1".parse().unwrap()).unwrap()),
        ["c3"]
    );
    assert_eq!(
        revs(&plan_downgrade(&m, &all, &"-2".parse().unwrap()).unwrap()),
        ["c3", "b2"]
    );
    assert_eq!(
        revs(&plan_downgrade(&m, &all, &"a1".parse().unwrap()).unwrap()),
        ["c3", "b2"]
    );
    assert_eq!(
        revs(&plan_downgrade(&m, &all, &"base".parse().unwrap()).unwrap()),
        ["c3", "b2", "a1"]
    );
    assert!(matches!(
        plan_downgrade(&m, &all, &"-4".parse().unwrap()),
        Err(Refusal::TooFewApplied {
            asked: 4,
            applied: 3
        })
    ));
    let some = applied(&m, &["a1"]);
    assert!(matches!(
        plan_downgrade(&m, &some, &"c3".parse().unwrap()),
        Err(Refusal::NotApplied { .. })
    ));
}

#[test]
fn refusals() {
    let m = linear();
    let mut rows = applied(&m, &["a1"]);
    rows[0].checksum = "f".repeat(64);
    let err = plan_upgrade(&m, &rows, &"head".parse().unwrap()).unwrap_err();
    assert!(matches!(err, Refusal::EditedAfterApplied { .. }));
    assert!(err.to_string().contains("migrations/a1_x.sql was edited"));

    let newer = applied(&m, &["a1", "b2", "c3", "d4"]);
    assert!(matches!(
        plan_upgrade(&m, &newer, &"head".parse().unwrap()),
        Err(Refusal::DatabaseNewer { .. })
    ));
    let missing = applied(&m, &["a1", "zz"]);
    assert!(matches!(
        plan_upgrade(&m, &missing, &"head".parse().unwrap()),
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
    let err = plan_upgrade(&m, &[], &"head".parse().unwrap()).unwrap_err();
    assert!(err.to_string().contains("qvdiff merge"));
    assert_eq!(
        revs(&plan_upgrade(&m, &[], &"heads".parse().unwrap()).unwrap()),
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
    assert_eq!(
        revs(&plan_upgrade(&m, &past, &"head".parse().unwrap()).unwrap()),
        ["c3"]
    );
    assert_eq!(status(&m, &past).current, ["s1"]);
    let down = plan_downgrade(&m, &past, &"base".parse().unwrap()).unwrap();
    assert_eq!(
        down[0].ledger_revisions().collect::<Vec<_>>(),
        ["s1", "a1", "b2"]
    );
    // Inside it: the kept file first; without it, refused.
    let inside = applied(&old, &["a1"]);
    assert_eq!(
        revs(&plan_upgrade(&m, &inside, &"head".parse().unwrap()).unwrap()),
        ["b2", "c3"]
    );
    assert!(matches!(
        plan_downgrade(&m, &inside, &"base".parse().unwrap()),
        Err(Refusal::InsideSquash { .. })
    ));
    let mut gone = vec![m.get("s1").unwrap().clone(), m.get("c3").unwrap().clone()];
    gone[0].squashes = vec!["a1".into(), "b2".into()];
    let gone = Migrations::new(gone).unwrap();
    assert!(matches!(
        plan_upgrade(&gone, &inside, &"head".parse().unwrap()),
        Err(Refusal::InsideSquash { .. })
    ));
    // Fresh: the baseline itself.
    assert_eq!(
        revs(&plan_upgrade(&m, &[], &"head".parse().unwrap()).unwrap()),
        ["s1", "c3"]
    );
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

#[test]
fn an_offline_script_adds_the_ledger_row_going_up_and_removes_it_going_down() {
    use crate::backend::Direction;
    let r1 = migration("r1", &[]);
    let insert = |m: &Migration| format!("INSERT {};", m.revision());
    let delete = |revision: &str| format!("DELETE {revision};");
    assert_eq!(
        r1.offline_ledger_sql(Direction::Up, insert, delete),
        "INSERT r1;"
    );
    assert_eq!(
        r1.offline_ledger_sql(Direction::Down, insert, delete),
        "DELETE r1;"
    );
}
