//! The `qvdiff` command-line tool as a library: `main` only calls [`run`].
//!
//! Layers: [`cli`] parses arguments, [`config`] finds `qvdiff.toml`, [`models`] reads the wanted
//! schema, [`history`] the migration histories, [`commands`] does the work, and every failure
//! is a [`error::CliError`] that [`run`] reports once, with exit code 2.

#![warn(missing_docs)]

pub mod baseline;
pub mod cache;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db_url;
pub mod dialects;
pub mod error;
pub mod fsutil;
pub mod history;
pub mod models;
pub mod output;
pub mod planning;
pub mod prompt;

use clap::Parser;
use cli::{Cli, Command};
use config::Config;
use error::{CliResult, EXIT_ERROR, EXIT_OK};
use output::{Console, Verbosity};
use prompt::Prompter;

/// Leaves `value` to be reclaimed when the process exits, instead of freeing it now: a command
/// returns to `main`, which exits. On a big project the planned schemas and files of `migrate`
/// are tens of thousands of small allocations, and freeing them one by one took 3–5 ms of a
/// 1000-table `migrate` (median of 25, side by side).
pub fn keep_until_exit<T>(value: T) {
    std::mem::forget(value);
}

/// Runs qvdiff with these arguments (including the program name) and returns the exit code.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    let verbosity = if cli.global.quiet {
        Verbosity::Quiet
    } else if cli.global.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let console = Console::new(verbosity);
    match dispatch(&cli, &console) {
        Ok(code) => code,
        Err(err) => {
            console.error(&err);
            EXIT_ERROR
        }
    }
}

fn dispatch(cli: &Cli, console: &Console) -> CliResult<i32> {
    let global = &cli.global;
    let config = || {
        Config::discover(global.config.as_deref()).inspect(|config| {
            if let Some(warning) = config.password_warning() {
                console.warn(&warning);
            }
        })
    };
    let prompter = Prompter::new(!global.no_input);
    let db = global.db.as_deref();
    match &cli.command {
        Command::Init(args) => commands::init::run(args, db, console).map(|()| EXIT_OK),
        Command::Manifest(args) => {
            commands::manifest::run(&config()?, args, console).map(|()| EXIT_OK)
        }
        Command::Migrate(args) => {
            commands::migrate::run(&config()?, args, db, &prompter, console).map(|()| EXIT_OK)
        }
        Command::Diff(args) => commands::diff::run(&config()?, args, db, console).map(|()| EXIT_OK),
        Command::Check(args) => commands::check::run(&config()?, args, db, console),
        Command::Upgrade(args) => {
            commands::deploy::upgrade(&config()?, args, db, &prompter, console).map(|()| EXIT_OK)
        }
        Command::Downgrade(args) => {
            commands::deploy::downgrade(&config()?, args, db, &prompter, console).map(|()| EXIT_OK)
        }
        Command::Current => commands::deploy::current(&config()?, db, console).map(|()| EXIT_OK),
        Command::History => commands::deploy::history(&config()?, db).map(|()| EXIT_OK),
        Command::Heads => commands::deploy::heads(&config()?).map(|()| EXIT_OK),
        Command::Merge(args) => {
            commands::migrate::merge(&config()?, args, console).map(|()| EXIT_OK)
        }
        Command::Stamp(args) => {
            commands::deploy::stamp(&config()?, args, db, console).map(|()| EXIT_OK)
        }
        Command::Accept(args) => {
            commands::team::accept(&config()?, args, db, console).map(|()| EXIT_OK)
        }
        Command::Squash(args) => {
            commands::team::squash(&config()?, args, console).map(|()| EXIT_OK)
        }
        Command::Adopt(args) => {
            commands::team::adopt(&config()?, args, db, &prompter, console).map(|()| EXIT_OK)
        }
        Command::Rebase(args) => {
            commands::team::rebase(&config()?, args, db, console).map(|()| EXIT_OK)
        }
        Command::Sql(args) => commands::deploy::sql(&config()?, args, db).map(|()| EXIT_OK),
        Command::Backup => commands::backup::backup(&config()?, db, console).map(|()| EXIT_OK),
        Command::Backups => commands::backup::backups(&config()?, db).map(|()| EXIT_OK),
        Command::Restore(args) => {
            commands::backup::restore(&config()?, args, db, &prompter, console).map(|()| EXIT_OK)
        }
        Command::Lint(args) => commands::lint::run(&config()?, args, console),
        Command::Review(args) => commands::review::run(&config()?, args),
        Command::Erd(args) => commands::erd::run(&config()?, args, db).map(|()| EXIT_OK),
        Command::Port(args) => commands::port::run(&config()?, args, console).map(|()| EXIT_OK),
    }
}
