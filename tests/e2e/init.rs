use super::support::Project;

#[test]
fn init_writes_config_and_migrations_dir() {
    let p = Project::empty();
    let run = p.qvdiff(&["init"]).expect_code(0);
    assert!(run.stderr.contains("Created qvdiff.toml"), "{}", run.stderr);
    assert!(p.path("migrations").is_dir());
    let config = p.read("qvdiff.toml");
    assert!(config.contains("models = [\"src\"]"));
    assert!(config.contains("dialect = \"sqlite\""));
}

#[test]
fn init_refuses_when_config_exists_and_writes_nothing() {
    let p = Project::empty();
    p.write("qvdiff.toml", "models = [\"app\"]\n");
    let before = p.snapshot();
    let run = p.qvdiff(&["init"]).expect_code(2);
    assert!(
        run.stderr.contains("qvdiff.toml already exists"),
        "{}",
        run.stderr
    );
    assert_eq!(
        p.snapshot(),
        before,
        "init must not touch an existing project"
    );
}

/// Whether git ignores `rel` in the repository at `dir`.
fn git_ignores(dir: &std::path::Path, rel: &str) -> bool {
    let out = std::process::Command::new("git")
        .args(["check-ignore", "-q", "--no-index", rel])
        .current_dir(dir)
        .output()
        .expect("run git");
    match out.status.code() {
        Some(0) => true,
        Some(1) => false,
        _ => panic!(
            "git check-ignore {rel} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[test]
fn init_makes_git_ignore_the_database_and_the_backups() {
    let p = Project::empty();
    super::review::git(p.root(), &["init", "-q"]);
    let run = p.qvdiff(&["init"]).expect_code(0);
    assert!(run.stderr.contains(".gitignore"), "{}", run.stderr);
    for ignored in [
        "instance/app.db",
        "instance/app.db-wal",
        "instance/app.db-journal",
        "backups/app.db.20260101-000000.base.bak",
    ] {
        assert!(git_ignores(p.root(), ignored), "{ignored} is not ignored");
    }
    for tracked in ["qvdiff.toml", "migrations/r1_initial.sql", "src/models.rs"] {
        assert!(!git_ignores(p.root(), tracked), "{tracked} is ignored");
    }
}

#[test]
fn init_extends_an_existing_gitignore_without_duplicating_lines() {
    let p = Project::empty();
    // No final newline, and the backups folder already ignored in another spelling.
    p.write(".gitignore", "target/\nbackups");
    p.qvdiff(&["init"]).expect_code(0);
    assert_eq!(
        p.read(".gitignore"),
        "target/\nbackups\n# qvdiff: the local database and upgrade's backups\n\
         /instance/app.db\n/instance/app.db-*\n"
    );
    // Everything already ignored: the file is left as it is, byte for byte.
    let p = Project::empty();
    let complete = "/instance/app.db\n/instance/app.db-*\n/backups/\n";
    p.write(".gitignore", complete);
    let run = p.qvdiff(&["init"]).expect_code(0);
    assert_eq!(p.read(".gitignore"), complete);
    assert!(!run.stderr.contains(".gitignore"), "{}", run.stderr);
}
