//! qvdiff-core: the pure heart of qvdiff.
//!
//! Schema types, manifest JSON, the differ, the migration-file format, the revision graph and the
//! dialect boundary. Nothing here touches files or databases: callers pass text and schemas in and
//! get text, schemas and changes out, which keeps this crate fast to test.

#![warn(missing_docs)]

pub mod backend;
pub mod change;
pub mod data_problem;
pub mod dialect;
pub mod diff;
pub mod erd;
pub mod graph;
pub mod lint;
pub mod manifest;
pub mod migration;
pub mod parallel;
pub mod propose;
pub mod rebase;
pub mod run_loop;
pub mod runner;
pub mod schema;
pub mod section;
pub mod sqltext;
pub mod summary;
pub mod wording;

pub use backend::{Backend, BackendError, BackendErrorKind};
pub use change::{Change, Renames};
pub use dialect::{
    Action, Dialect, ExpandContract, Fill, FillReason, Lock, LockMode, Loss, Plan, PlanError,
    Replay, Step, StepFacts, UnusableDefault,
};
pub use diff::{
    diff, fill_restored_columns, foreign_key_order, rename_candidates, restore_placeholder,
    table_rename_candidates, RenameCandidate,
};
pub use graph::{GraphError, Node, RevisionGraph, Target};
pub use migration::{
    is_valid_revision, render_steps, revision_at, sanitize_message, slugify, utc_parts,
    FormatError, MigrationFile,
};
pub use runner::RevisionTarget;
pub use schema::{
    Check, Column, ColumnType, DefaultValue, EnumChange, FkAction, ForeignKey, Index,
    PerDialectSql, RawObject, Schema, Table, Unique, VariantRename,
};
