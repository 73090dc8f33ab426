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

/// Runs `qvdiff args` in `dir` on a pseudo-terminal (standard input, output and error), the way
/// a person at a terminal runs it. For each `(question, answer)` in order, waits until the
/// output shows `question`, then types `answer` and Enter. Returns everything the terminal
/// showed (typed answers echoed, line ends as `\n`) as `stdout`; `stderr` is empty.
pub fn run_on_terminal(dir: &Path, args: &[&str], answers: &[(&str, &str)]) -> Run {
    use std::io::{Read, Write};
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::process::Stdio;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    let (mut master_fd, mut slave_fd) = (-1, -1);
    // SAFETY: openpty writes two descriptors into the given integers; the name, termios and
    // window-size arguments may be null.
    let status = unsafe {
        libc::openpty(
            &mut master_fd,
            &mut slave_fd,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(status, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened by openpty and are owned by nothing else.
    let (master, slave) = unsafe {
        (
            OwnedFd::from_raw_fd(master_fd),
            OwnedFd::from_raw_fd(slave_fd),
        )
    };
    let mut cmd = base_command(dir, args);
    cmd.stdin(Stdio::from(slave.try_clone().expect("dup")))
        .stdout(Stdio::from(slave.try_clone().expect("dup")))
        .stderr(Stdio::from(slave));
    let mut child = cmd.spawn().expect("spawn qvdiff");
    // The command holds the terminal's other end until dropped: the reader below only sees the
    // end of the output once the child alone had it open.
    drop(cmd);
    let mut writer = std::fs::File::from(master.try_clone().expect("dup"));
    let mut reader = std::fs::File::from(master);
    let (sender, received) = mpsc::channel::<Vec<u8>>();
    let reading = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Linux answers EIO once the child has exited: that is the end of the output.
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            if sender.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut shown = Vec::new();
    for (question, answer) in answers {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !String::from_utf8_lossy(&shown).contains(question) {
            let left = deadline.saturating_duration_since(Instant::now());
            match received.recv_timeout(left) {
                Ok(bytes) => shown.extend(bytes),
                Err(_) => panic!(
                    "qvdiff {args:?} never asked {question:?}; the terminal showed:\n{}",
                    String::from_utf8_lossy(&shown)
                ),
            }
        }
        writer
            .write_all(format!("{answer}\n").as_bytes())
            .expect("type the answer");
    }
    let status = child.wait().expect("wait qvdiff");
    reading.join().expect("reader");
    shown.extend(received.try_iter().flatten());
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&shown).replace("\r\n", "\n"),
        stderr: String::new(),
    }
}
