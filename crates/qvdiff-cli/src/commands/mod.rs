//! One module per command. Each takes parsed arguments and returns an exit code or a [`CliError`].
//!
//! [`CliError`]: crate::error::CliError

pub mod backup;
pub mod check;
pub mod deploy;
pub mod diff;
pub mod erd;
pub mod init;
pub mod lint;
pub mod manifest;
pub mod migrate;
pub mod online;
pub mod port;
pub mod review;
pub mod team;
