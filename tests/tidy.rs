//! Keeps the tree honest: no stubs in library code, documented crates, a one-way crate graph, an
//! ARCHITECTURE.md that names every crate, a CI script that runs the README's test command, and
//! no source file over 1,500 lines.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn crates() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo().join("crates"))
        .expect("crates/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn library_code_has_no_stubs_or_debug_leftovers() {
    let mut offenders = Vec::new();
    for krate in crates() {
        let mut files = Vec::new();
        rust_files(&krate.join("src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read");
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                for stub in ["todo!(", "unimplemented!(", "dbg!("] {
                    if code.contains(stub) {
                        offenders.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "stubs in library code:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn every_library_crate_is_documented_and_named_in_architecture() {
    let architecture =
        std::fs::read_to_string(repo().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    for krate in crates() {
        let name = krate.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            architecture.contains(&format!("crates/{name}")),
            "ARCHITECTURE.md does not describe crates/{name}"
        );
        let lib = krate.join("src/lib.rs");
        let text = std::fs::read_to_string(&lib).expect("lib.rs");
        assert!(
            text.trim_start().starts_with("//!"),
            "{} has no crate documentation",
            lib.display()
        );
    }
}

/// The dependency lines of a crate's manifest that name a workspace crate.
fn workspace_deps(krate: &str) -> Vec<String> {
    let manifest = std::fs::read_to_string(repo().join("crates").join(krate).join("Cargo.toml"))
        .expect("Cargo.toml");
    let deps = manifest.split("[dependencies]").nth(1).unwrap_or_default();
    let deps = deps.split("\n[").next().unwrap_or_default();
    deps.lines()
        .filter_map(|l| l.split(['=', '.']).next())
        .map(str::trim)
        .filter(|name| name.starts_with("qvdiff"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_crate_graph_points_one_way() {
    assert!(
        workspace_deps("qvdiff-core").is_empty(),
        "the core depends on no other qvdiff crate"
    );
    for (krate, allowed) in [
        ("qvdiff-capture", &["qvdiff-core"][..]),
        ("qvdiff-sqlite", &["qvdiff-core"][..]),
        ("qvdiff-postgres", &["qvdiff-core"][..]),
        ("qvdiff-derive", &["qvdiff-capture", "qvdiff-core"][..]),
        (
            "qvdiff-cli",
            &[
                "qvdiff-core",
                "qvdiff-capture",
                "qvdiff-sqlite",
                "qvdiff-postgres",
            ][..],
        ),
        (
            "qvdiff",
            &[
                "qvdiff-core",
                "qvdiff-derive",
                "qvdiff-sqlite",
                "qvdiff-postgres",
            ][..],
        ),
    ] {
        for dep in workspace_deps(krate) {
            assert!(
                allowed.contains(&dep.as_str()),
                "{krate} must not depend on {dep}"
            );
        }
    }
    let core = std::fs::read_to_string(repo().join("crates/qvdiff-core/Cargo.toml")).unwrap();
    for io_crate in ["rusqlite", "syn", "clap", "tempfile"] {
        assert!(
            !core.contains(io_crate),
            "qvdiff-core stays pure: no {io_crate}"
        );
    }
}

/// Whether a line of Rust code names a dialect crate: `rusqlite`, `qvdiff_sqlite`,
/// `qvdiff_postgres`, or the `postgres` driver.
fn names_a_dialect_crate(code: &str) -> bool {
    let words: Vec<&str> = code
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .collect();
    words.iter().any(|word| {
        let krate = word.split("::").next().unwrap_or_default();
        let is_path = word.contains("::") || code.trim_start().starts_with("use ");
        matches!(krate, "rusqlite" | "qvdiff_sqlite" | "qvdiff_postgres")
            || (krate == "postgres" && is_path)
    })
}

/// Lines of the CLI's sources outside `dialects.rs` (and its submodules under `dialects/`) that
/// name a dialect crate.
fn dialect_crates_outside_the_boundary(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let boundary = src.join("dialects");
    let mut offenders = Vec::new();
    for file in files {
        if file == src.join("dialects.rs") || file.starts_with(&boundary) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read");
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if names_a_dialect_crate(code) {
                offenders.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    offenders
}

#[test]
fn only_the_dialect_boundary_of_the_cli_names_a_dialect_crate() {
    let src = repo().join("crates/qvdiff-cli/src");
    let offenders = dialect_crates_outside_the_boundary(&src);
    assert!(
        offenders.is_empty(),
        "the CLI reaches a dialect crate outside src/dialects.rs (ask the Dialect or Backend, or \
         add a function to dialects.rs):\n{}",
        offenders.join("\n")
    );
    // The check itself sees an import where one would be.
    let scratch = std::env::temp_dir().join(format!("qvdiff-tidy-{}", std::process::id()));
    std::fs::create_dir_all(scratch.join("dialects")).unwrap();
    std::fs::write(scratch.join("dialects.rs"), "use qvdiff_sqlite::Sqlite;\n").unwrap();
    std::fs::write(scratch.join("dialects/port.rs"), "use postgres::Client;\n").unwrap();
    std::fs::write(
        scratch.join("lint.rs"),
        "// qvdiff_sqlite in a comment is fine\nfn f() { let c = rusqlite::version(); }\n",
    )
    .unwrap();
    std::fs::write(scratch.join("port.rs"), "use postgres::GenericClient;\n").unwrap();
    std::fs::write(
        scratch.join("ok.rs"),
        "let postgres = config.postgres_migrations;\n",
    )
    .unwrap();
    let found = dialect_crates_outside_the_boundary(&scratch);
    std::fs::remove_dir_all(&scratch).unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().any(|f| f.contains("lint.rs:2")), "{found:?}");
    assert!(found.iter().any(|f| f.contains("port.rs:1")), "{found:?}");
}

#[test]
fn ci_runs_the_readme_test_command() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let ci = std::fs::read_to_string(repo().join(".ci/run")).expect(".ci/run");
    let command = readme
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(".ci/test"))
        .expect("README gives the test command (.ci/test)");
    assert!(
        ci.lines().any(|l| l.trim() == command),
        ".ci/run must run `{command}`"
    );
    let test_script = std::fs::read_to_string(repo().join(".ci/test")).expect(".ci/test");
    assert!(
        test_script
            .lines()
            .any(|l| l.trim().starts_with("cargo test --workspace")),
        ".ci/test must run the whole workspace's tests"
    );
}

/// A `major.minor[.patch]` version as numbers, for comparing.
fn version_numbers(version: &str) -> Vec<u64> {
    let mut numbers: Vec<u64> = version
        .split('.')
        .map(|part| part.parse().expect("a numeric version part"))
        .collect();
    numbers.resize(3, 0);
    numbers
}

/// The host's target triple, as rustc reports it.
fn host_triple() -> String {
    let out = std::process::Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
        .arg("-vV")
        .output()
        .expect("rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

#[test]
fn the_declared_rust_version_is_what_the_dependencies_need() {
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).expect("Cargo.toml");
    let declared = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("rust-version = "))
        .expect("the workspace declares rust-version")
        .trim_matches('"')
        .to_string();
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host_triple()])
        .current_dir(repo())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let needed = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| {
            let version = p["rust_version"].as_str()?;
            Some((
                version_numbers(version),
                format!("{} {}", p["name"], p["version"]),
            ))
        })
        .max()
        .expect("some dependency declares a rust-version");
    assert_eq!(
        version_numbers(&declared),
        needed.0,
        "the workspace declares rust-version {declared}, but {} needs {:?}: declare what is true",
        needed.1,
        needed.0
    );
    // Every member inherits the workspace's declaration, so none can claim less.
    for member in metadata["workspace_members"].as_array().expect("members") {
        let id = member.as_str().expect("member id");
        let package = metadata["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .find(|p| p["id"] == id)
            .expect("member package");
        assert_eq!(
            package["rust_version"].as_str(),
            Some(declared.as_str()),
            "{} must set rust-version.workspace = true",
            package["name"]
        );
    }
}

#[test]
fn the_application_crate_is_light_by_default() {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "qvdiff",
            "-e",
            "normal",
            "--locked",
            "--offline",
        ])
        .args(["--prefix", "none", "--format", "{p}"])
        .current_dir(repo())
        .output()
        .expect("cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.contains("qvdiff-derive"), "{tree}");
    for line in tree.lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        assert!(
            !name.ends_with("-sys") && !["rusqlite", "postgres", "sqlx"].contains(&name),
            "qvdiff with default features must pull no driver or native library, found {line}"
        );
    }
    // One SQLite library for the whole workspace: rusqlite, sqlx and Diesel link the same one.
    let lock = std::fs::read_to_string(repo().join("Cargo.lock")).expect("Cargo.lock");
    assert_eq!(
        lock.matches("name = \"libsqlite3-sys\"").count(),
        1,
        "Cargo.lock must hold one libsqlite3-sys"
    );
}

/// Lines of library code that read a planner's note back from SQL text: the `-- rebuild` and
/// `-- DESTRUCTIVE:` comments are written for the reader; what a step does travels as its typed
/// facts, and a file on disk is analysed from its SQL (`Dialect::facts_of`).
fn comment_readers(files: &[PathBuf]) -> Vec<String> {
    const READERS: &[&str] = &[
        "split_once(\"DESTRUCTIVE",
        "contains(\"DESTRUCTIVE",
        "find(\"DESTRUCTIVE",
        "starts_with(\"-- rebuild",
        "contains(\"-- rebuild",
        "strip_prefix(\"-- rebuild",
        "trim_start_matches(\"-- rebuild",
    ];
    let mut offenders = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("read");
        // Unit tests may check what a file says.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (i, line) in code.lines().enumerate() {
            if READERS.iter().any(|r| line.contains(r)) {
                offenders.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    offenders
}

#[test]
fn no_library_code_reads_the_planners_comments_back() {
    let mut files = Vec::new();
    for krate in crates() {
        rust_files(&krate.join("src"), &mut files);
    }
    let offenders = comment_readers(&files);
    assert!(
        offenders.is_empty(),
        "library code reads a `-- rebuild` / `-- DESTRUCTIVE:` comment back (read the step's \
         facts, or Dialect::facts_of for a file):\n{}",
        offenders.join("\n")
    );
    // The check itself sees a reader where one would be.
    let scratch = std::env::temp_dir().join(format!("qvdiff-tidy-notes-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let reader = scratch.join("reader.rs");
    std::fs::write(
        &reader,
        "fn f(c: &str) -> bool { c.trim().starts_with(\"-- rebuild \") }\n",
    )
    .unwrap();
    let found = comment_readers(&[reader]);
    std::fs::remove_dir_all(&scratch).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
}

/// The most lines a source file under `crates/*/src` may have: past it, a file holds more than
/// one thing and is split along its seams.
const MAX_SOURCE_LINES: usize = 1_500;

/// The files among `files` longer than [`MAX_SOURCE_LINES`], with their length.
fn oversized(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file).expect("read").lines().count();
            (lines > MAX_SOURCE_LINES).then(|| format!("{}: {lines} lines", file.display()))
        })
        .collect()
}

#[test]
fn no_source_file_is_over_the_size_limit() {
    let mut files = Vec::new();
    for krate in crates() {
        rust_files(&krate.join("src"), &mut files);
    }
    let offenders = oversized(&files);
    assert!(
        offenders.is_empty(),
        "source files over {MAX_SOURCE_LINES} lines (split each along a seam, as core's \
         runner.rs and runner/ are):\n{}",
        offenders.join("\n")
    );
    // The check itself sees a file one line over, and not one at the limit.
    let scratch = std::env::temp_dir().join(format!("qvdiff-tidy-size-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let at_limit = scratch.join("at_limit.rs");
    let over = scratch.join("over.rs");
    std::fs::write(&at_limit, "fn f() {}\n".repeat(MAX_SOURCE_LINES)).unwrap();
    std::fs::write(&over, "fn f() {}\n".repeat(MAX_SOURCE_LINES + 1)).unwrap();
    let found = oversized(&[at_limit, over]);
    std::fs::remove_dir_all(&scratch).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("over.rs: 1501 lines"), "{found:?}");
}
