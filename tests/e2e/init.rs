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
