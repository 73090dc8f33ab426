//! `examples/ci/github-actions.yml`: its shell steps, run as written on a scratch git repository
//! whose feature branch adds a migration, with the real `qvdiff` on PATH. The step that talks
//! to GitHub (posting the comment) is not run; the body it would post is checked.

use super::review::git;
use super::support::{repo_root, Project};
use std::path::Path;
use std::process::Command;

const RECIPE: &str = "examples/ci/github-actions.yml";

/// The `run:` script of the step named `name` (a `run: |` block or a one-line `run:`).
fn step_script(yaml: &str, name: &str) -> String {
    let lines: Vec<&str> = yaml.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == format!("- name: {name}"))
        .unwrap_or_else(|| panic!("no step `{name}` in {RECIPE}"));
    let step_indent = lines[start].len() - lines[start].trim_start().len();
    for (i, line) in lines.iter().enumerate().skip(start + 1) {
        let indent = line.len() - line.trim_start().len();
        if !line.trim().is_empty() && indent <= step_indent {
            break;
        }
        let Some(rest) = line.trim().strip_prefix("run:") else {
            continue;
        };
        if rest.trim() != "|" {
            return format!("{}\n", rest.trim());
        }
        let body: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
            .copied()
            .collect();
        let cut = body
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start().len())
            .min()
            .unwrap_or(0);
        return body
            .iter()
            .map(|l| format!("{}\n", l.get(cut..).unwrap_or("")))
            .collect();
    }
    panic!("step `{name}` has no run");
}

/// Runs a step's script as GitHub's `bash -e {0}` does, with qvdiff on PATH.
fn run_step(dir: &Path, script: &str) -> (i32, String, String) {
    let bin = Path::new(env!("CARGO_BIN_EXE_qvdiff")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args([
            "--noprofile",
            "--norc",
            "-e",
            "-o",
            "pipefail",
            "-c",
            script,
        ])
        .current_dir(dir)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("GIT_AUTHOR_NAME", "qvdiff")
        .env("GIT_AUTHOR_EMAIL", "qvdiff@example.com")
        .env("GIT_COMMITTER_NAME", "qvdiff")
        .env("GIT_COMMITTER_EMAIL", "qvdiff@example.com")
        .env(
            "QVDIFF_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/qvdiff-cache"),
        )
        .env_remove("DATABASE_URL")
        .output()
        .expect("run bash");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_ci_recipe_checks_the_branch_and_writes_the_review_comment() {
    let yaml = std::fs::read_to_string(repo_root().join(RECIPE)).unwrap();
    let check = step_script(&yaml, "Check models, heads and new migrations");
    let review = step_script(&yaml, "Write the review comment");
    let post = step_script(&yaml, "Post or update the comment");
    assert!(
        check.contains("qvdiff check --lint --since origin/main"),
        "{check}"
    );
    // The comment is found again by its marker and edited, not posted twice.
    assert!(
        post.contains("startswith(\"<!-- qvdiff-review -->\")"),
        "{post}"
    );
    assert!(post.contains("-X PATCH"), "{post}");

    // origin: main with the first migration; a working copy on a feature branch adds one.
    let origin = tempfile::tempdir().unwrap();
    git(origin.path(), &["init", "-q", "--bare"]);
    let p = Project::with_models(&[("src/models.rs", super::team::MODELS)]);
    p.qvdiff(&["migrate", "-m", "users and items", "--rev-id", "r1"])
        .expect_code(0);
    let origin_url = origin.path().to_string_lossy().into_owned();
    git(p.root(), &["init", "-q"]);
    git(p.root(), &["add", "."]);
    git(p.root(), &["commit", "-q", "-m", "start"]);
    git(p.root(), &["remote", "add", "origin", &origin_url]);
    git(p.root(), &["push", "-q", "origin", "main"]);
    git(p.root(), &["checkout", "-q", "-b", "feature"]);

    // No migration added yet: the check passes and the comment says so.
    let (code, out, err) = run_step(p.root(), &check);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run_step(p.root(), &review);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        p.read("qvdiff-review.md"),
        "<!-- qvdiff-review -->\nNo migration files added by this pull request.\n"
    );

    // The branch adds items.notes: check passes, the comment is the review of that file.
    super::team::migrate(
        &p,
        &super::team::with_item_notes(super::team::MODELS),
        "r2",
        "item notes",
    );
    git(p.root(), &["add", "."]);
    git(p.root(), &["commit", "-q", "-m", "notes"]);
    let (code, out, err) = run_step(p.root(), &check);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run_step(p.root(), &review);
    assert_eq!(code, 0, "{out}{err}");
    let body = p.read("qvdiff-review.md");
    assert!(body.starts_with("<!-- qvdiff-review -->\n"), "{body}");
    assert!(body.contains("r2"), "{body}");
    assert!(body.contains("item notes"), "{body}");
    assert!(body.contains("notes"), "{body}");
    assert!(
        !body.contains("users and items"),
        "only the added file: {body}"
    );

    // A second head on the branch fails the check, naming both heads and the way out.
    super::team::migrate(
        &p,
        &super::team::with_user_name(super::team::MODELS),
        "r3",
        "user name",
    );
    let text = p.read(&super::team::file_of(&p, "r3"));
    p.write(
        &super::team::file_of(&p, "r3"),
        &text.replace("-- parents: r2\n", "-- parents: r1\n"),
    );
    p.write(
        "src/models.rs",
        &super::team::with_item_notes(&super::team::with_user_name(super::team::MODELS)),
    );
    git(p.root(), &["add", "."]);
    git(p.root(), &["commit", "-q", "-m", "second head"]);
    let (code, out, err) = run_step(p.root(), &check);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("have 2 heads"), "{out}");
    assert!(out.contains("qvdiff rebase --onto"), "{out}");
}
