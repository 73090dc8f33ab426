//! qvdiff-postgres: the PostgreSQL dialect of qvdiff, a sibling of qvdiff-sqlite behind the same
//! boundaries ([`qvdiff_core::Dialect`] for planning, [`qvdiff_core::Backend`] for a live
//! database).

#![warn(missing_docs)]

pub mod connect;
pub mod ddl;
mod enums;
pub mod error;
pub mod introspect;
pub mod ledger;
#[cfg(test)]
mod lint_rules_tests;
pub mod locks;
pub mod pgpass;
pub mod plan;
mod preflight;
pub mod proof;
pub mod render;
pub mod replay;
pub mod review;
pub mod runner;
pub mod session;
pub mod shadow;
mod sqltext;
pub mod tls;

pub use render::{
    check_name, foreign_key_name, limit_name, parse_default, parse_type, primary_key_name,
    quote_ident, quote_string, render_default, render_type, unique_name,
};

pub use error::PgError;
pub use introspect::{introspect, introspect_in, is_empty, IntrospectError};
pub use plan::Postgres;
pub use proof::{check_expression, prove_on_server, ProofError};
pub use replay::{apply_sql, replay_chain, ReplayError, ReplayErrorKind, SchemaReplay};
pub use shadow::replay_on_server;

pub use connect::{connect, redact_url, PostgresDatabase, SslMode};
pub use runner::{
    sql_script, CommittedBatches, FailedStatement, PgRunFailure, RunError, ADVISORY_LOCK_KEY,
};

pub mod testing;
