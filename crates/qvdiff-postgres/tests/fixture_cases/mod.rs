//! The fixture cases under `fixtures/cases/` that the suites planning on a real server go
//! through (`plan_on_server.rs`, `replay_vs_server.rs`, each with `mod fixture_cases;`).

use qvdiff_core::propose::{propose, Scripted};
use qvdiff_core::{Plan, Schema};
use qvdiff_postgres::Postgres;
use std::path::{Path, PathBuf};

/// The folder holding the fixture cases.
fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cases")
}

/// Every fixture case planned from its models alone, sorted by folder name, each with that
/// name. A case holding `migrate_with_db.txt` is planned from its live rows (`migrate --db`),
/// which these suites do not have when they propose: the end-to-end suite runs it on the server.
pub fn fixture_cases() -> Vec<(String, PathBuf)> {
    let mut cases: Vec<(String, PathBuf)> = std::fs::read_dir(cases_dir())
        .expect("fixtures/cases")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && !p.join("migrate_with_db.txt").exists())
        .map(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (name, p)
        })
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no fixture case found");
    cases
}

/// The first migration, as `migrate` proposes it for the models `before` on an empty project:
/// the schema it leaves (without hints, as the next proposal's baseline) and its plan.
pub fn first_migration(before: &Schema) -> Result<(Schema, Plan), String> {
    let first = propose(
        &Postgres::default(),
        &Schema::default(),
        before,
        &mut Scripted::default(),
    )
    .map_err(|e| format!("create: {e}"))?;
    Ok((first.wanted.without_hints(), first.up))
}
