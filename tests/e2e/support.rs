//! A throwaway project directory and a way to run `qvdiff` in it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a `qvdiff` run printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A temporary project: a directory with its own `qvdiff.toml`.
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// An empty directory.
    pub fn empty() -> Project {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A project whose models are in `src/` and config is the default one but for the database.
    pub fn with_models(files: &[(&str, &str)]) -> Project {
        let p = Project::empty();
        p.write(
            "qvdiff.toml",
            "models = [\"src\"]\nmigrations = \"migrations\"\ndatabase = \"sqlite://app.db\"\n",
        );
        std::fs::create_dir_all(p.path("migrations")).expect("mkdir migrations");
        for (path, text) in files {
            p.write(path, text);
        }
        p
    }

    /// The project root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the project.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file, creating parent directories.
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }

    /// Reads a file.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).expect("read")
    }

    /// Runs `qvdiff` with `args` in the project root, without colour or a DATABASE_URL.
    pub fn qvdiff(&self, args: &[&str]) -> Run {
        run_in(self.root(), args)
    }

    /// Runs `qvdiff` with `args`, feeding `stdin` to its standard input (answers to prompts).
    pub fn qvdiff_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = base_command(self.root(), args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn qvdiff");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        let out = child.wait_with_output().expect("wait qvdiff");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Every file under the project root with its bytes: compare before and after to prove a
    /// failed command wrote nothing.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        snapshot_into(self.root(), self.root(), &mut out);
        out
    }
}

fn snapshot_into(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.insert(
                path.strip_prefix(root).expect("prefix").join(""),
                Vec::new(),
            );
            snapshot_into(root, &path, out);
        } else {
            let bytes = std::fs::read(&path).expect("read");
            out.insert(
                path.strip_prefix(root).expect("prefix").to_path_buf(),
                bytes,
            );
        }
    }
}

/// Runs `qvdiff` with `args` in `dir`.
pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    let out = base_command(dir, args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run qvdiff");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `qvdiff args` in `dir`: no colour, no DATABASE_URL from the environment, and the replay
/// cache in the build's temporary directory rather than the user's `~/.cache`.
pub fn base_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qvdiff"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env(
            "QVDIFF_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/qvdiff-cache"),
        )
        .env_remove("DATABASE_URL");
    cmd
}

/// The repository root (where the example app's qvdiff.toml is).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// A copy of the example app (config, models, migrations: SQLite and PostgreSQL) in a temporary
/// directory.
pub fn example_app() -> Project {
    let p = Project::empty();
    let root = repo_root();
    p.write(
        "qvdiff.toml",
        &std::fs::read_to_string(root.join("qvdiff.toml")).unwrap(),
    );
    for dir in [
        "examples/inventory/src",
        "migrations",
        "migrations/postgres",
    ] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                p.write(
                    &format!("{dir}/{name}"),
                    &std::fs::read_to_string(&path).unwrap(),
                );
            }
        }
    }
    p
}
