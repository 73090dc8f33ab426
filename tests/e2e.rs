//! End-to-end tests: the real `qvdiff` binary on real files and real SQLite databases.
//!
//! One test binary (compiled once) with a module per command area.

mod e2e {
    pub mod apply;
    pub mod bad_input;
    pub mod cases;
    pub mod cases_postgres;
    pub mod ci_recipe;
    pub mod crash;
    pub mod deploy;
    pub mod deploy_script;
    pub mod enums;
    pub mod expand_contract;
    pub mod init;
    pub mod lifecycle;
    pub mod manifest;
    pub mod online;
    pub mod postgres;
    pub mod review;
    pub mod round_trip;
    pub mod security;
    pub mod server_proof;
    pub mod support;
    pub mod team;
    pub mod tls;
    pub mod workflow;
}
