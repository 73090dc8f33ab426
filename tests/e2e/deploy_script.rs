//! `examples/deploy/deploy.sh` against a scratch server directory, with the example app built
//! from its sources as the service (a background process with a pid file: `DEPLOY_SERVICE=process`).
//!
//! Two builds of the app: the repository's (its migrations embedded), and one whose models and
//! migrations add `items.barcode`. A release of the second deploys with the rows intact; a release
//! that ships the new migration with the first build's binary (stale: it does not know the
//! database it would run on) fails its health check and is rolled back. Option B runs
//! `migrate_and_deploy.sh` on a git checkout with a bare origin: the app is built by deploy.sh.

use super::support::{base_command, repo_root};
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The revision id the second build's migration gets.
const BARCODE_REVISION: &str = "20990101000000";

/// The two builds of the app: binaries and the sources they were built from.
struct Builds {
    /// The app as the repository has it.
    v1: Build,
    /// The app with `items.barcode` added (models and one more migration).
    v2: Build,
    /// Where the builds live; `target/` is the app workspace's target directory.
    base: PathBuf,
}

struct Build {
    /// The compiled `inventory` binary (a copy, so a rebuild never changes it).
    binary: PathBuf,
    /// qvdiff.toml, migrations/ and the model sources of this build.
    sources: PathBuf,
}

/// Builds the app twice (once per test run, shared by the tests of this module), in a workspace
/// of its own under the build's temporary directory whose dependencies are this repository's
/// crates: its target directory is kept between runs, so only the app itself is recompiled.
fn builds() -> &'static Builds {
    static BUILDS: OnceLock<Builds> = OnceLock::new();
    BUILDS.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deploy-script");
        let app = base.join("app");
        let _ = std::fs::remove_dir_all(&app);
        let root = repo_root();
        write_app_workspace(&root, &app);
        let v1 = build_app(&base, &app, "v1");
        // The change a developer makes: a new field, and the migration qvdiff writes for it.
        let models = app.join("examples/inventory/src/models.rs");
        let text = std::fs::read_to_string(&models).unwrap();
        let field = "    pub description: Option<String>,\n";
        assert!(text.contains(field), "the example's Item has a description");
        std::fs::write(
            &models,
            text.replacen(
                field,
                &format!(
                    "{field}    #[column(max_length = 32)]\n    pub barcode: Option<String>,\n"
                ),
                1,
            ),
        )
        .unwrap();
        let run = base_command(
            &app,
            &[
                "migrate",
                "--no-input",
                "-m",
                "add barcode to items",
                "--rev-id",
                BARCODE_REVISION,
            ],
        )
        .output()
        .unwrap();
        assert!(run.status.success(), "{run:?}");
        let v2 = build_app(&base, &app, "v2");
        Builds { v1, v2, base }
    })
}

/// A workspace with the example app alone, laid out as in the repository (the app embeds
/// `../../migrations`), whose other crates are this repository's.
fn write_app_workspace(root: &Path, app: &Path) {
    let mut manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    let workspace = manifest
        .get_mut("workspace")
        .and_then(toml::Value::as_table_mut)
        .unwrap();
    workspace.insert(
        "members".into(),
        toml::Value::Array(vec!["examples/inventory".into()]),
    );
    workspace.remove("default-members");
    if let Some(deps) = workspace
        .get_mut("dependencies")
        .and_then(toml::Value::as_table_mut)
    {
        for (_, dep) in deps.iter_mut() {
            if let Some(path) = dep.get_mut("path") {
                let absolute = root.join(path.as_str().unwrap());
                *path = absolute.to_string_lossy().into_owned().into();
            }
        }
    }
    write(
        &app.join("Cargo.toml"),
        &toml::to_string(&manifest).unwrap(),
    );
    std::fs::copy(root.join("Cargo.lock"), app.join("Cargo.lock")).unwrap();
    for rel in [
        "qvdiff.toml",
        "examples/inventory/Cargo.toml",
        "examples/inventory/build.rs",
    ] {
        std::fs::create_dir_all(app.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(root.join(rel), app.join(rel)).unwrap();
    }
    for dir in [
        "examples/inventory/src",
        "migrations",
        "migrations/postgres",
    ] {
        copy_files(&root.join(dir), &app.join(dir));
    }
}

/// `cargo build -p inventory` of the app workspace; returns a copy of the binary and of the
/// sources it was built from.
fn build_app(base: &Path, app: &Path, name: &str) -> Build {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--offline", "-q", "-p", "inventory"])
        .current_dir(app)
        .env("CARGO_TARGET_DIR", base.join("target"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building the example app failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = base.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let sources = dir.join("sources");
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::copy(app.join("qvdiff.toml"), sources.join("qvdiff.toml")).unwrap();
    for rel in [
        "examples/inventory/src",
        "migrations",
        "migrations/postgres",
    ] {
        copy_files(&app.join(rel), &sources.join(rel));
    }
    let binary = dir.join("inventory");
    std::fs::copy(base.join("target/debug/inventory"), &binary).unwrap();
    Build { binary, sources }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Copies the files (not the subdirectories) of `from` into `to`.
fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// A release directory as a build server would ship it: the binary in bin/, the app's
/// qvdiff.toml with its migrations and model sources.
fn release(dir: &Path, name: &str, binary: &Path, sources: &Path) -> PathBuf {
    let release = dir.join(name);
    for rel in [
        "examples/inventory/src",
        "migrations",
        "migrations/postgres",
    ] {
        copy_files(&sources.join(rel), &release.join(rel));
    }
    std::fs::copy(sources.join("qvdiff.toml"), release.join("qvdiff.toml")).unwrap();
    std::fs::create_dir_all(release.join("bin")).unwrap();
    std::fs::copy(binary, release.join("bin/inventory")).unwrap();
    release
}

/// A scratch server: `APP_ROOT` for deploy.sh, and the releases to deploy. Stops the service
/// it started when dropped.
struct Server {
    dir: tempfile::TempDir,
}

struct Deploy {
    code: i32,
    output: String,
}

impl Server {
    fn new() -> Server {
        Server {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("srv")
    }

    fn releases(&self) -> PathBuf {
        self.dir.path().join("incoming")
    }

    fn db(&self) -> PathBuf {
        self.root().join("shared/instance/app.db")
    }

    /// Runs deploy.sh with a release directory.
    fn deploy(&self, release: &Path) -> Deploy {
        self.script(&["deploy.sh", &release.to_string_lossy()], &[])
    }

    /// Runs a script of examples/deploy with arguments and extra environment, for this server.
    fn script(&self, args: &[&str], env: &[(&str, &str)]) -> Deploy {
        let out = self
            .command(args, env)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        Deploy {
            code: out.status.code().unwrap_or(-1),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    /// The command that runs a script of examples/deploy for this server.
    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(repo_root().join("examples/deploy").join(args[0]))
            .args(&args[1..])
            .envs(env.iter().copied())
            .env("APP_ROOT", self.root())
            .env("QVDIFF", env!("CARGO_BIN_EXE_qvdiff"))
            .env("DEPLOY_SERVICE", "process")
            .env("HEALTH_WAIT", "1")
            .env("NO_COLOR", "1")
            .env(
                "QVDIFF_CACHE_DIR",
                concat!(env!("CARGO_TARGET_TMPDIR"), "/qvdiff-cache"),
            )
            .env_remove("DATABASE_URL")
            .env_remove("INVENTORY_DB")
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// The pid of the service, from deploy.sh's pid file.
    fn service_pid(&self) -> u32 {
        std::fs::read_to_string(self.root().join("shared/run/inventory.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// The executable the service runs, read through /proc (so it is what really runs, not
    /// what a file says).
    fn service_executable(&self) -> Vec<u8> {
        let pid = self.service_pid();
        std::fs::read(format!("/proc/{pid}/exe"))
            .unwrap_or_else(|e| panic!("the service (pid {pid}) is not running: {e}"))
    }

    /// Runs the deployed app's binary with `args` in the current release.
    fn app(&self, args: &[&str]) -> String {
        let out = Command::new(self.root().join("current/bin/inventory"))
            .args(args)
            .current_dir(self.root().join("current"))
            .env_remove("INVENTORY_DB")
            .output()
            .unwrap();
        assert!(out.status.success(), "inventory {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.root().join("shared/run/inventory.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

#[track_caller]
fn expect(deploy: &Deploy, code: i32) {
    assert_eq!(deploy.code, code, "deploy.sh output:\n{}", deploy.output);
}

/// Every row of the app's tables and the ledger, as text: the data a deploy must keep.
fn rows(db: &Path) -> String {
    let conn = Connection::open(db).unwrap();
    let mut out = String::new();
    for (table, order) in [
        ("users", "id"),
        ("items", "id"),
        ("qvdiff_migrations", "revision"),
    ] {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
            .unwrap();
        let columns = stmt.column_count();
        let mut query = stmt.query([]).unwrap();
        while let Some(row) = query.next().unwrap() {
            let values: Vec<String> = (0..columns)
                .map(|i| match row.get_ref(i).unwrap() {
                    ValueRef::Text(text) => format!("{:?}", String::from_utf8_lossy(text)),
                    other => format!("{other:?}"),
                })
                .collect();
            out.push_str(&format!("{table}: {}\n", values.join(" | ")));
        }
    }
    out
}

fn columns(db: &Path, table: &str) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info(?1)")
        .unwrap();
    stmt.query_map([table], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The first deploy of the repository's build, with a sample user and item written by the app.
fn deployed_v1(server: &Server) {
    let v1 = &builds().v1;
    let first = release(&server.releases(), "v1", &v1.binary, &v1.sources);
    expect(&server.deploy(&first), 0);
    assert!(server.app(&["seed"]).contains("added user"));
    assert_eq!(
        server.service_executable(),
        std::fs::read(&v1.binary).unwrap()
    );
}

#[test]
fn deploy_sh_deploys_a_release_that_adds_a_column_with_the_rows_intact() {
    let builds = builds();
    let server = Server::new();
    deployed_v1(&server);
    let before = rows(&server.db());
    assert!(before.contains("Walnut desk lamp"), "{before}");
    assert!(!columns(&server.db(), "items").contains(&"barcode".to_string()));

    let second = release(
        &server.releases(),
        "v2",
        &builds.v2.binary,
        &builds.v2.sources,
    );
    let deploy = server.deploy(&second);
    expect(&deploy, 0);
    assert!(
        deploy.output.contains("Backed up the database to"),
        "{}",
        deploy.output
    );
    assert!(
        deploy
            .output
            .contains(&format!("Applied {BARCODE_REVISION}")),
        "{}",
        deploy.output
    );

    // The new column is there, every row and value is still there, and the new build runs.
    assert!(columns(&server.db(), "items").contains(&"barcode".to_string()));
    let after = rows(&server.db());
    for line in before.lines().filter(|l| !l.starts_with("items:")) {
        assert!(after.contains(line), "lost {line}\nafter:\n{after}");
    }
    let item = server.app(&["first-item"]);
    assert!(item.contains("title: Walnut desk lamp"), "{item}");
    assert!(item.contains("sku: LAMP-001"), "{item}");
    assert!(item.contains("barcode: NULL"), "{item}");
    assert_eq!(
        server.service_executable(),
        std::fs::read(&builds.v2.binary).unwrap()
    );
    assert!(server.app(&["check"]).contains("healthy"));
    // The upgrade's backup is where `qvdiff backups` lists it.
    let backups = std::fs::read_dir(server.root().join("shared/instance/backups"))
        .unwrap()
        .count();
    assert_eq!(backups, 1, "one backup: the one upgrade took");
}

/// The header fields SQLite itself changes on every write to a file (the change counter, the
/// schema cookie and the version-valid-for number); every other byte holds the data.
const WRITE_COUNTERS: [std::ops::Range<usize>; 3] = [24..28, 40..44, 92..96];

#[test]
fn deploy_sh_rolls_back_a_release_whose_health_check_fails() {
    let builds = builds();
    let server = Server::new();
    deployed_v1(&server);
    let first_release = std::fs::canonicalize(server.root().join("current")).unwrap();
    let bytes_before = std::fs::read(server.db()).unwrap();
    let rows_before = rows(&server.db());

    // The new migration and models, shipped with the first build's binary: `qvdiff check`
    // passes (models and migrations agree) and the upgrade applies the migration, but the binary
    // does not know the database's new revision.
    let stale = release(
        &server.releases(),
        "stale",
        &builds.v1.binary,
        &builds.v2.sources,
    );
    let deploy = server.deploy(&stale);
    expect(&deploy, 1);
    let output = &deploy.output;
    assert!(
        output.contains(&format!("Applied {BARCODE_REVISION}")),
        "{output}"
    );
    assert!(output.contains("health check failed"), "{output}");
    // The reason: what the app's check (or the service's last output) said.
    assert!(
        output.contains(BARCODE_REVISION) && output.contains("this build does not have"),
        "{output}"
    );
    assert!(output.contains("Restored"), "{output}");
    assert!(output.contains("rolled back to"), "{output}");

    // The previous release is current and its binary runs.
    assert_eq!(
        std::fs::canonicalize(server.root().join("current")).unwrap(),
        first_release
    );
    assert_eq!(
        server.service_executable(),
        std::fs::read(&builds.v1.binary).unwrap()
    );
    assert!(server.app(&["check"]).contains("healthy"));

    // The database is the one before the deploy: same rows, no barcode column, and the same
    // bytes in every page but for SQLite's write counters in the header.
    assert_eq!(rows(&server.db()), rows_before);
    assert!(!columns(&server.db(), "items").contains(&"barcode".to_string()));
    let bytes_after = std::fs::read(server.db()).unwrap();
    assert_eq!(bytes_after.len(), bytes_before.len());
    let differing: Vec<usize> = (0..bytes_before.len())
        .filter(|&i| bytes_before[i] != bytes_after[i])
        .filter(|i| !WRITE_COUNTERS.iter().any(|r| r.contains(i)))
        .collect();
    assert!(
        differing.is_empty(),
        "{} byte(s) differ, first at {:?}",
        differing.len(),
        differing.first()
    );
    // The state the rollback replaced is kept: the restore backed it up first.
    let kept = std::fs::read_dir(server.root().join("shared/instance/backups"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with(&format!(".{BARCODE_REVISION}.bak"))
        })
        .count();
    assert_eq!(kept, 1, "the state before the restore is kept");
}

/// A git repository of the app (the repository's version, with the lock file its build wrote),
/// pushed to a bare `origin` and cloned as the server's checkout `srv/repo`.
fn git_checkout(server: &Server) -> PathBuf {
    let tree = server.dir.path().join("laptop");
    write_app_workspace(&repo_root(), &tree);
    std::fs::copy(
        builds().base.join("app/Cargo.lock"),
        tree.join("Cargo.lock"),
    )
    .unwrap();
    let origin = server.dir.path().join("origin.git");
    let checkout = server.root().join("repo");
    git(&tree, &["init", "-q", "-b", "main"]);
    git(&tree, &["add", "-A"]);
    git(&tree, &["commit", "-q", "-m", "inventory"]);
    git(
        server.dir.path(),
        &["clone", "-q", "--bare", "laptop", "origin.git"],
    );
    std::fs::create_dir_all(server.root()).unwrap();
    git(
        server.dir.path(),
        &[
            "clone",
            "-q",
            &origin.to_string_lossy(),
            &checkout.to_string_lossy(),
        ],
    );
    checkout
}

/// Runs git with a fixed identity; returns its standard output.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .envs(GIT_IDENTITY.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const GIT_IDENTITY: [(&str, &str); 4] = [
    ("GIT_AUTHOR_NAME", "Deployer"),
    ("GIT_AUTHOR_EMAIL", "deploy@example.com"),
    ("GIT_COMMITTER_NAME", "Deployer"),
    ("GIT_COMMITTER_EMAIL", "deploy@example.com"),
];

#[test]
fn migrate_and_deploy_sh_applies_commits_pushes_and_deploys_the_rebuilt_app() {
    let builds = builds();
    let server = Server::new();
    let checkout = git_checkout(&server);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let target = builds.base.join("target");
    let build = format!("{cargo} build --offline --locked -q -p inventory");
    let binary = target.join("debug/inventory");
    let target = target.to_string_lossy().into_owned();
    let binary = binary.to_string_lossy().into_owned();
    let mut env: Vec<(&str, &str)> = vec![
        ("DEPLOY_BUILD", &build),
        ("DEPLOY_BINARY", &binary),
        ("CARGO_TARGET_DIR", &target),
    ];
    env.extend(GIT_IDENTITY);

    // The first deploy from git: pull, build, release from the commit.
    expect(&server.script(&["deploy.sh"], &env), 0);
    assert!(server.app(&["seed"]).contains("added user"));
    let first_executable = server.service_executable();
    let before = rows(&server.db());
    let origin = server.dir.path().join("origin.git");
    let commits = git(&origin, &["rev-list", "--count", "main"]);

    // On the server: a new field, then option B. Without a terminal and without
    // MIGRATE_YES the question gets no yes: nothing applied, nothing committed.
    let models = checkout.join("examples/inventory/src/models.rs");
    let text = std::fs::read_to_string(&models).unwrap();
    let field = "    pub description: Option<String>,\n";
    std::fs::write(
        &models,
        text.replacen(
            field,
            &format!("{field}    pub barcode: Option<String>,\n"),
            1,
        ),
    )
    .unwrap();
    let declined = server.script(&["migrate_and_deploy.sh", "add barcode to items"], &env);
    expect(&declined, 1);
    assert!(
        declined.output.contains("not applied"),
        "{}",
        declined.output
    );
    assert!(!columns(&server.db(), "items").contains(&"barcode".to_string()));
    assert_eq!(git(&origin, &["rev-list", "--count", "main"]), commits);
    let left: Vec<PathBuf> = std::fs::read_dir(checkout.join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("_add_barcode_to_items.sql"))
        .collect();
    assert_eq!(left.len(), 1, "the file stays for review");
    // Reviewed and found wanting: removed (both histories), then applied for real.
    for dir in ["migrations", "migrations/postgres"] {
        for entry in std::fs::read_dir(checkout.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path
                .to_string_lossy()
                .ends_with("_add_barcode_to_items.sql")
            {
                std::fs::remove_file(path).unwrap();
            }
        }
    }

    env.push(("MIGRATE_YES", "1"));
    let run = server.script(&["migrate_and_deploy.sh", "add barcode to items"], &env);
    expect(&run, 0);
    assert!(
        run.output.contains("Backed up the database to"),
        "{}",
        run.output
    );
    assert!(run.output.contains("deploy: deployed"), "{}", run.output);

    // Pushed: the migration and the model change in one commit on origin.
    let pushed = git(&origin, &["show", "--stat", "--format=%s", "main"]);
    assert!(
        pushed.starts_with("Migration: add barcode to items"),
        "{pushed}"
    );
    assert!(pushed.contains("_add_barcode_to_items.sql"), "{pushed}");
    assert!(pushed.contains("models.rs"), "{pushed}");
    // Applied with the rows intact, and the rebuilt app runs and is healthy.
    assert!(columns(&server.db(), "items").contains(&"barcode".to_string()));
    let after = rows(&server.db());
    for line in before.lines().filter(|l| !l.starts_with("items:")) {
        assert!(after.contains(line), "lost {line}\nafter:\n{after}");
    }
    let item = server.app(&["first-item"]);
    assert!(
        item.contains("title: Walnut desk lamp") && item.contains("barcode: NULL"),
        "{item}"
    );
    assert_eq!(
        server.service_executable(),
        std::fs::read(server.root().join("current/bin/inventory")).unwrap()
    );
    assert_ne!(
        server.service_executable(),
        first_executable,
        "the rebuilt app runs, not the first one"
    );
    // Healthy: the running build embeds the new migration (the first one would not know it).
    assert!(server.app(&["check"]).contains("healthy"));
}

#[test]
fn deploy_sh_refuses_a_release_whose_models_and_migrations_differ_and_changes_nothing() {
    let builds = builds();
    let server = Server::new();
    deployed_v1(&server);
    let pid = server.service_pid();
    let current = std::fs::canonicalize(server.root().join("current")).unwrap();
    let db_before = std::fs::read(server.db()).unwrap();

    // The new models without their migration.
    let release = release(
        &server.releases(),
        "unmigrated",
        &builds.v1.binary,
        &builds.v1.sources,
    );
    let models = "examples/inventory/src/models.rs";
    std::fs::copy(builds.v2.sources.join(models), release.join(models)).unwrap();
    let deploy = server.deploy(&release);
    expect(&deploy, 1);
    assert!(deploy.output.contains("items.barcode"), "{}", deploy.output);
    assert!(
        deploy.output.contains("nothing changed"),
        "{}",
        deploy.output
    );

    // Not a release at all: wrong usage.
    let empty = server.releases().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let deploy = server.deploy(&empty);
    expect(&deploy, 2);
    assert!(
        deploy.output.contains("is not a release directory"),
        "{}",
        deploy.output
    );

    assert_eq!(server.service_pid(), pid, "the service was not restarted");
    assert_eq!(
        server.service_executable(),
        std::fs::read(&builds.v1.binary).unwrap()
    );
    assert_eq!(
        std::fs::canonicalize(server.root().join("current")).unwrap(),
        current
    );
    assert_eq!(std::fs::read(server.db()).unwrap(), db_before);
    let releases = std::fs::read_dir(server.root().join("releases"))
        .unwrap()
        .count();
    assert_eq!(releases, 1, "a refused release leaves no directory");
}

#[test]
fn deploy_sh_rollback_names_the_rows_written_during_the_failed_window() {
    use std::io::BufRead;
    let builds = builds();
    let server = Server::new();
    deployed_v1(&server);
    let bytes_before = std::fs::read(server.db()).unwrap();
    let stale = release(
        &server.releases(),
        "stale",
        &builds.v1.binary,
        &builds.v2.sources,
    );
    let mut child = server
        .command(&["deploy.sh", &stale.to_string_lossy()], &[])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (lines, received) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reading = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });

    // As soon as the upgrade has committed, a writer (the app, still serving) takes the write
    // lock and adds a user; it commits once the health check has failed, so the row lands in
    // the failed window: after the upgrade's backup, before the rollback's restore (which waits
    // for a writer up to 2 s).
    let writer = Connection::open(server.db()).unwrap();
    writer
        .busy_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let applied: i64 = writer
            .query_row(
                "SELECT count(*) FROM qvdiff_migrations WHERE revision = ?1",
                [BARCODE_REVISION],
                |r| r.get(0),
            )
            .unwrap();
        if applied == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the upgrade never ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    writer
        .execute_batch(
            "BEGIN IMMEDIATE;
             INSERT INTO users (email, display_name) VALUES ('bo@example.com', 'Bo');",
        )
        .unwrap();
    let mut output = String::new();
    loop {
        let line = received
            .recv_timeout(std::time::Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("deploy.sh never reported the health check:\n{output}"));
        output.push_str(&line);
        output.push('\n');
        if line.contains("health check failed") {
            break;
        }
    }
    writer.execute_batch("COMMIT").unwrap();
    drop(writer);
    let status = child.wait().unwrap();
    reading.join().unwrap();
    output.extend(received.try_iter().map(|l| l + "\n"));
    assert_eq!(status.code(), Some(1), "{output}");

    // Reported: the table, the count and the backup that keeps them.
    let kept = std::fs::read_dir(server.root().join("shared/instance/backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.to_string_lossy()
                .ends_with(&format!(".{BARCODE_REVISION}.bak"))
        })
        .expect("the state before the restore is kept");
    let kept_name = kept.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        output
            .contains("table users: 1 row(s) were in the database and are not in the restored one")
            && output.contains(&kept_name),
        "{output}"
    );
    let bo: i64 = Connection::open(&kept)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM users WHERE email = 'bo@example.com'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(bo, 1, "the row is in the kept backup");
    // And the database is the one before the deploy.
    let bytes_after = std::fs::read(server.db()).unwrap();
    assert_eq!(bytes_after.len(), bytes_before.len());
    assert!((0..bytes_before.len())
        .filter(|i| !WRITE_COUNTERS.iter().any(|r| r.contains(i)))
        .all(|i| bytes_before[i] == bytes_after[i]));
    assert!(output.contains("rolled back to"), "{output}");
}
