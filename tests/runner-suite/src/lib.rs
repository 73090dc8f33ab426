//! The runner suite of `qvdiff::Migrator` lives in `tests/runner_suite.rs`: one set of scenarios,
//! run on every driver the application crate supports. This package holds nothing else; it
//! exists so that those drivers' crates are dev-dependencies of the suite alone.
