//! The command line: `qvdiff [GLOBAL OPTIONS] <COMMAND>`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// qvdiff turns Rust model structs into reviewed, verified SQL migrations and applies them safely.
///
/// A typical day: change a `#[derive(Model)]` struct, run `qvdiff migrate -m "add notes field"`,
/// review the generated file in migrations/, commit it; the deploy runs `qvdiff upgrade`.
#[derive(Debug, Parser)]
#[command(
    name = "qvdiff",
    version,
    about,
    long_about,
    propagate_version = true,
    after_help = "Examples:
  qvdiff init                                 start: qvdiff.toml and migrations/
  qvdiff init --dialect postgres              start a PostgreSQL project instead
  qvdiff migrate -m \"add notes field\"         write the next migration (no database needed)
  qvdiff migrate --db sqlite://app.db -m MSG  diff against the live database instead
  qvdiff check                                CI: exit 1 when models and migrations differ
  qvdiff lint --since origin/main             CI: exit 1 on risky or broken new migrations
  qvdiff review --since origin/main           pull request: a Markdown report of new migrations
  qvdiff upgrade                              deploy: backup, then every pending migration
  qvdiff downgrade                            revert the last migration
  qvdiff restore latest                       put the newest backup back
  qvdiff migrate --db URL -m MSG --apply      server: write, review and apply in one command
  qvdiff restore --revision REV               undo a deploy: the backup taken before REV

Database URLs: sqlite://app.db (relative to qvdiff.toml), sqlite:///srv/app.db (absolute) or a
path; --db beats DATABASE_URL beats `database` in qvdiff.toml. Exit codes: 0 ok, 1 `check`
found a difference or `lint` a finding, 2 error (nothing written)."
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Path of qvdiff.toml (default: found in the current directory or a parent).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL (sqlite://PATH, a path, or postgres://user@host/db); overrides DATABASE_URL
    /// and qvdiff.toml.
    #[arg(long, global = true, value_name = "URL")]
    pub db: Option<String>,
    /// Never prompt: take the safe answer, or fail when there is none.
    #[arg(long, global = true)]
    pub no_input: bool,
    /// Print only errors, warnings and requested output.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also print what qvdiff is doing.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create qvdiff.toml and migrations/ in the current directory.
    ///
    /// Refuses when qvdiff.toml already exists, so it never overwrites a project's settings.
    /// `--dialect postgres` (or a `--database postgres://…`) writes a PostgreSQL project.
    Init(InitArgs),
    /// Print the schema the models want, as stable JSON (commit it, diff it, feed it to tools).
    ///
    /// Tables and constraints are sorted, so two runs on the same models give identical bytes.
    Manifest(ManifestArgs),
    /// Generate the next migration from the difference between the models and the schema.
    ///
    /// Without --db the schema is the one the committed migrations produce (no database needed);
    /// with --db it is the live database's, read-only. The file is verified on an in-memory copy
    /// (up gives the models, down the previous schema, up again the models) before it is written.
    /// A possible rename is asked about; a new NOT NULL column needs `default` or `backfill`.
    Migrate(MigrateArgs),
    /// Show what `migrate` would generate, without writing anything.
    Diff(DiffArgs),
    /// For CI: exit 1 when the models and the migrations differ (with --db, also when the live
    /// database has drifted from its applied migrations or has pending ones), 0 when all agree.
    Check(CheckArgs),
    /// Apply pending migrations to the database, all in one transaction, after a backup.
    ///
    /// TARGET is `head` (default), `heads`, a revision (or unique prefix) or `+N`. Before
    /// changing a file database it takes an online backup (see `backups`). Anything failing rolls
    /// everything back. Concurrent upgrades wait for each other and apply each revision once.
    ///
    /// On PostgreSQL a revision whose file marks steps `-- OUTSIDE TRANSACTION` (concurrent
    /// index builds, `VALIDATE CONSTRAINT`, batched backfills) runs step by step instead: each
    /// step is recorded when done, and after a failure or a kill the next `upgrade` continues
    /// where it stopped. `upgrade` stops before a contract revision unless `--contract`.
    Upgrade(UpgradeArgs),
    /// Revert migrations: one step by default, `-N`, a revision (which stays applied) or `base`.
    ///
    /// Example: qvdiff downgrade base --sql   (prints what it would run, changes nothing)
    Downgrade(DowngradeArgs),
    /// Show the revision(s) the database is at, and what is pending.
    Current,
    /// Show the revision graph, newest first, with what the database has applied.
    History,
    /// Show the head revisions (more than one means `merge` is due).
    Heads,
    /// Join several heads (default: all of them) with a merge revision.
    Merge(MergeArgs),
    /// Record REV as applied without running SQL, to adopt an existing database.
    ///
    /// Refuses unless the database's schema equals the schema REV produces (`--force` overrides).
    Stamp(StampArgs),
    /// Accept an intended edit of an applied migration file (a comment, a typo in a data
    /// migration), with a reason kept in an audit table beside the ledger.
    ///
    /// Refuses when the edited history would give another schema than the database has: a
    /// schema change belongs in a new migration. `history` shows every accepted edit.
    ///
    /// Example: qvdiff accept 20261124101500 --reason "fixed the comment of the backfill"
    Accept(AcceptArgs),
    /// Replace the history up to a revision with one baseline revision.
    ///
    /// The baseline creates the schema of REV from nothing (planned and proven like any
    /// migration) and lists the revisions it replaces, so a database that applied them counts
    /// it as applied: `current`, `upgrade` and `downgrade` go on working there. The replaced
    /// files are deleted (commit that with the baseline) unless --keep-files, which a database
    /// still inside the range needs to reach REV.
    ///
    /// Example: qvdiff squash --to 20261124101500 -m "baseline 2026"
    Squash(SquashArgs),
    /// Write a migration for the drift `check --db` found (a column or index added by hand),
    /// and stamp it as applied on that database.
    ///
    /// The database must be at head. The migration goes from the recorded schema to the live
    /// one, planned and proven like any other, and is stamped on that database only once the
    /// history with it gives exactly the live schema. Review and commit it; every other
    /// database applies it with `upgrade`.
    ///
    /// Example: qvdiff adopt --db sqlite:///srv/app.db -m "adopt the index added in production"
    Adopt(AdoptArgs),
    /// Put my unapplied revisions on top of another head, keeping their ids: a linear history
    /// instead of a merge revision.
    ///
    /// The revisions REV does not descend from (one line of them) get REV as their parent. Each
    /// is proven on its new parent against the schema with both sides' changes; a generated
    /// file whose SQL no longer gives that schema is re-planned. Refused when the configured
    /// database (or --db) has applied one of them, or when both sides change the same column.
    ///
    /// Example: git pull; qvdiff rebase --onto 20261124101500
    Rebase(RebaseArgs),
    /// Print the SQL script of a range (`FROM:TO`, default the whole chain `base:head`) for a DBA
    /// to review or run by hand. Touches nothing.
    Sql(SqlArgs),
    /// Take an online backup of the database now (safe while the app runs).
    Backup,
    /// List the database's backups, newest first: time, size, revision, file.
    Backups,
    /// Restore the database from a backup (a file, or `latest`), after backing up its current
    /// state. Refuses while another connection is writing.
    ///
    /// Says which backup it restores (revision, time, size) and asks first on a terminal;
    /// `--revision REV` picks the backup taken before REV was applied. Rows the database holds
    /// and the backup does not are named per table (they stay in the backup of the state before).
    Restore(RestoreArgs),
    /// Check migration files before review: data loss, table rebuilds, NOT NULL or UNIQUE on
    /// existing columns, an empty or wrong down, hand edits of generated SQL, SQL that fails.
    ///
    /// Each finding prints `file:line: rule: sentence` and how to silence it in the file:
    /// `-- qvdiff:allow <rule> "<reason>"` above the statement. Exit 1 on findings, 0 when clean.
    Lint(LintArgs),
    /// A Markdown report of migrations for a pull request: changes in words, destructive and
    /// rebuild steps, lint findings, ER diagrams before and after, the SQL folded.
    Review(ReviewArgs),
    /// An ER diagram of the whole schema (Mermaid or Graphviz DOT), foreign keys as edges.
    Erd(ErdArgs),
    /// Move the data of a SQLite database into an empty PostgreSQL database.
    ///
    /// The project keeps a PostgreSQL history beside its SQLite one (`[postgres] migrations` in
    /// qvdiff.toml, written by `migrate` with the same revision ids). The source must be at head
    /// and the target must hold no rows. The target is upgraded to the source's revision, then
    /// every table is copied in foreign-key order (batched, with progress), identity sequences
    /// are moved past the highest id, and row counts and per-table checksums are compared: all in
    /// one transaction, so a failed port leaves no rows behind.
    ///
    /// Example: qvdiff port --from sqlite://instance/app.db --to postgres://app@db/app
    Port(PortArgs),
}

/// Arguments of `qvdiff port`.
#[derive(Debug, Args)]
pub struct PortArgs {
    /// The SQLite database to read (sqlite://PATH or a file path); never written.
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The PostgreSQL database to fill (postgres://user:password@host:port/database).
    #[arg(long, value_name = "URL")]
    pub to: String,
}

/// `qvdiff lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Revisions (or unique prefixes) to check (default: every migration file).
    #[arg(conflicts_with = "since")]
    pub revisions: Vec<String>,
    /// Check only the migration files added since this git ref (e.g. origin/main), uncommitted
    /// and untracked ones included, so findings in old, applied files never block CI.
    #[arg(long, value_name = "GIT_REF")]
    pub since: Option<String>,
}

/// `qvdiff review`.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Revisions (or unique prefixes) to report on (default: the head revisions).
    #[arg(conflicts_with = "since")]
    pub revisions: Vec<String>,
    /// Report on the migration files added since this git ref (e.g. origin/main).
    #[arg(long, value_name = "GIT_REF")]
    pub since: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: ReviewFormat,
}

/// Output format of `qvdiff review`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReviewFormat {
    /// Markdown for a pull request (GitHub and GitLab render the Mermaid diagrams).
    Markdown,
    /// JSON for tools.
    Json,
}

/// `qvdiff erd`.
#[derive(Debug, Args)]
pub struct ErdArgs {
    /// Diagram language.
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: ErdFormat,
    /// Draw the schema of the models or of the committed migrations (`--db` draws a database).
    #[arg(long, value_enum, default_value = "models")]
    pub from: ErdSource,
    /// Read the models from this manifest JSON instead of scanning sources (with
    /// `--from migrations` on SQLite: the comments drawn on the history's tables).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
}

/// Diagram language of `qvdiff erd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ErdFormat {
    /// Mermaid `erDiagram` (renders in GitHub and GitLab Markdown).
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// Which schema `qvdiff erd` draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ErdSource {
    /// The schema the models declare.
    Models,
    /// The schema the committed migrations produce.
    Migrations,
}

/// `qvdiff upgrade`.
#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// `head` (default), `heads`, a revision or unique prefix, or `+N`.
    // `-N` is taken as a target so that `upgrade -1` is refused naming `downgrade`; any other
    // word starting with `-` stays an option, so a misspelt one is named as such.
    #[arg(allow_negative_numbers = true)]
    pub target: Option<String>,
    /// Print the SQL that would run instead of running it.
    #[arg(long)]
    pub sql: bool,
    /// Skip the automatic backup.
    #[arg(long)]
    pub no_backup: bool,
    /// Go through contract revisions too (`migrate --online` writes them; the file says
    /// `-- qvdiff:contract`). Without it `upgrade` (and `upgrade --sql`) stops before the first
    /// one: apply it once
    /// the new app version runs everywhere, since it drops what the old version uses.
    #[arg(long)]
    pub contract: bool,
}

/// `qvdiff downgrade`.
#[derive(Debug, Args)]
pub struct DowngradeArgs {
    /// `-1` (default), `-N`, a revision that stays applied, or `base`.
    // Negative numbers only: a misspelt option (`--no-bakup`) is reported as one.
    #[arg(allow_negative_numbers = true)]
    pub target: Option<String>,
    /// Print the SQL that would run instead of running it (nothing is changed).
    #[arg(long)]
    pub sql: bool,
    /// Skip the automatic backup.
    #[arg(long)]
    pub no_backup: bool,
}

/// `qvdiff merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Revisions to merge (default: every head).
    pub revisions: Vec<String>,
    /// What the merge is, in one line.
    #[arg(short, long, value_name = "MSG")]
    pub message: String,
    /// Use this revision id instead of the current UTC time.
    #[arg(long, value_name = "ID")]
    pub rev_id: Option<String>,
}

/// `qvdiff stamp`.
#[derive(Debug, Args)]
pub struct StampArgs {
    /// The revision the database's schema is at.
    pub revision: String,
    /// Stamp even when the database's schema differs from the revision's.
    #[arg(long)]
    pub force: bool,
}

/// `qvdiff accept`.
#[derive(Debug, Args)]
pub struct AcceptArgs {
    /// The revision (or unique prefix) whose applied file was edited on purpose.
    pub revision: String,
    /// Why the file was edited (kept in the audit table).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
}

/// `qvdiff squash`.
#[derive(Debug, Args)]
pub struct SquashArgs {
    /// The last revision to squash (id or unique prefix): it and its ancestors are replaced.
    #[arg(long, value_name = "REV")]
    pub to: String,
    /// What the baseline is, in one line.
    #[arg(short, long, value_name = "MSG")]
    pub message: String,
    /// Use this revision id instead of the current UTC time.
    #[arg(long, value_name = "ID")]
    pub rev_id: Option<String>,
    /// Keep the replaced files (for databases still inside the range).
    #[arg(long)]
    pub keep_files: bool,
}

/// `qvdiff adopt`.
#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// What the migration records, in one line.
    #[arg(short, long, value_name = "MSG", default_value = "adopt drift")]
    pub message: String,
    /// Use this revision id instead of the current UTC time.
    #[arg(long, value_name = "ID")]
    pub rev_id: Option<String>,
}

/// `qvdiff rebase`.
#[derive(Debug, Args)]
pub struct RebaseArgs {
    /// The head to put my revisions on (the teammate's that landed first).
    #[arg(long, value_name = "REV")]
    pub onto: String,
}

/// `qvdiff sql`.
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// `FROM:TO` (revisions, `base` or `head`); default `base:head`.
    pub range: Option<String>,
}

/// `qvdiff restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup file, or `latest` (default).
    pub backup: Option<String>,
    /// Restore the newest backup taken before REV was applied (the one `upgrade` took when it
    /// applied REV): the way back from a deploy.
    #[arg(long, value_name = "REV", conflicts_with = "backup")]
    pub revision: Option<String>,
    /// Do not ask before restoring (on a terminal, `restore` asks first).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// `qvdiff init`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  qvdiff init                                           SQLite, database sqlite://instance/app.db
  qvdiff init --dialect postgres                        PostgreSQL, database from DATABASE_URL
  qvdiff init --database postgres://app@db.internal/app PostgreSQL, with its database")]
pub struct InitArgs {
    /// SQL dialect of the migration files: `sqlite` or `postgres` (default: the dialect of
    /// --database, else sqlite).
    #[arg(long, value_name = "DIALECT")]
    pub dialect: Option<String>,
    /// The database written as `database` in qvdiff.toml (sqlite://PATH, a path, or
    /// postgres://user@host/db, without a password: the file is committed). Default for SQLite:
    /// sqlite://instance/app.db; PostgreSQL: none (DATABASE_URL or --db gives it).
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
}

/// `qvdiff manifest`.
#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// Write to FILE (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Read the models from this manifest JSON instead of scanning sources.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
}

/// `qvdiff migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// What the migration does, in one line (it becomes the file name's slug).
    #[arg(short, long, value_name = "MSG")]
    pub message: String,
    /// Write a migration with empty up and down sections, for hand-written SQL (data migrations).
    #[arg(long)]
    pub empty: bool,
    /// Use this revision id instead of the current UTC time (it must not exist yet).
    #[arg(long, value_name = "ID")]
    pub rev_id: Option<String>,
    /// Read the models from this manifest JSON instead of scanning sources.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Then apply it: print the file, ask "Apply to <database>?" and run `upgrade` (backup
    /// first). The database is --db's (or DATABASE_URL's, or qvdiff.toml's). Answering no
    /// leaves the file for review and applies nothing.
    #[arg(long, conflicts_with = "empty")]
    pub apply: bool,
    /// Apply without asking (with --apply; required with --no-input).
    #[arg(long, short = 'y', requires = "apply")]
    pub yes: bool,
    /// PostgreSQL: write a column type change that rewrites the table, a column rename, or a
    /// new NOT NULL column with a computed value, as two revisions that keep the app online:
    /// expand (new column, a trigger keeping old and new in step or filling what the old app
    /// leaves NULL, a batched backfill), then contract (the new column takes the old
    /// one's place), which `upgrade` applies only with `--contract`, once the new app version
    /// is deployed. Also `[postgres] expand_contract = true` in qvdiff.toml.
    #[arg(long, conflicts_with_all = ["empty", "apply"])]
    pub online: bool,
}

/// `qvdiff diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Also print the SQL a migration would contain.
    #[arg(long)]
    pub sql: bool,
    /// Read the models from this manifest JSON instead of scanning sources.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
}

/// `qvdiff check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Read the models from this manifest JSON instead of scanning sources.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Also run `qvdiff lint` on every migration file (findings make the exit code 1).
    #[arg(long)]
    pub lint: bool,
    /// With --lint: lint only the migration files added since this git ref (e.g. origin/main),
    /// so old history never blocks a pull request.
    #[arg(long, value_name = "GIT_REF", requires = "lint")]
    pub since: Option<String>,
}
