//! The one loop of `upgrade` and `downgrade` on a live database, and the ledger writes of
//! `stamp` and `accept`, for every dialect.
//!
//! A dialect opens its run (SQLite: `BEGIN IMMEDIATE` with foreign keys off; PostgreSQL: the
//! advisory lock) and hands [`run_revisions`] a [`RunSession`]: the loop reads the ledger, asks
//! [`crate::runner`] for the revisions to run (which checks every applied checksum), prepares
//! every section before anything runs, lets the dialect do what it does once before changing
//! anything (a backup), runs each section and keeps the ledger in step, and reports where the
//! database now stands. What is the dialect's own stays behind the trait: its transactions,
//! how a section runs and is checked, and how it commits.

use crate::backend::{Direction, RunOptions, RunReport, StampReport, StepReport};
use crate::runner::{
    self, plan_accept, plan_downgrade, plan_upgrade, AcceptPlan, AcceptedEdit, AppliedRevision,
    Migration, Migrations, Refusal, RevisionTarget, ScriptPlan, STAMP_REASON,
};

/// The ledger table of a live database (`qvdiff_migrations` and its audit), as the loop, `stamp`
/// and `accept` read and write it. Every write happens in whatever transaction the dialect
/// holds open.
pub trait Ledger {
    /// The dialect's run error; a [`Refusal`] of the decisions becomes one.
    type Error: From<Refusal>;

    /// The ledger rows, in the order they were applied (empty without a ledger table).
    fn read_ledger(&mut self) -> Result<Vec<AppliedRevision>, Self::Error>;

    /// Creates the ledger table when it is missing.
    fn create_ledger(&mut self) -> Result<(), Self::Error>;

    /// Adds the row saying `migration` is applied, with how long its SQL took.
    fn record_applied(
        &mut self,
        migration: &Migration,
        execution_ms: i64,
    ) -> Result<(), Self::Error>;

    /// Removes the row of `revision`.
    fn forget(&mut self, revision: &str) -> Result<(), Self::Error>;

    /// Adds the audit row of `edit`: the applied checksum of its migration
    /// (`edit.old_checksum`) is replaced by the file's, for `edit.reason`, now.
    fn record_audit(&mut self, edit: &AcceptPlan<'_>) -> Result<AcceptedEdit, Self::Error>;

    /// Stores `migration`'s checksum in its ledger row.
    fn store_checksum(&mut self, migration: &Migration) -> Result<(), Self::Error>;

    /// Stores the checksum of `edit`'s migration in its row, and the audit row of the checksum
    /// it replaces: a checksum is never replaced without its audit row.
    fn replace_checksum(&mut self, edit: &AcceptPlan<'_>) -> Result<AcceptedEdit, Self::Error> {
        let recorded = self.record_audit(edit)?;
        self.store_checksum(edit.migration)?;
        Ok(recorded)
    }
}

/// One `upgrade` (`direction` up) or `downgrade` of a live database: what [`run_revisions`]
/// and a [`crate::Backend`] are asked to do.
#[derive(Debug, Clone)]
pub struct RunRequest<'a> {
    /// The history.
    pub migrations: &'a Migrations,
    /// Up (`upgrade`) or down (`downgrade`).
    pub direction: Direction,
    /// Where to go (`head`, a revision, `+N`, `-N`, `base`).
    pub target: RevisionTarget,
    /// How to run.
    pub options: &'a RunOptions,
}

impl<'a> RunRequest<'a> {
    /// `upgrade TARGET` (`direction` up) or `downgrade TARGET`.
    pub fn new(
        migrations: &'a Migrations,
        direction: Direction,
        target: RevisionTarget,
        options: &'a RunOptions,
    ) -> RunRequest<'a> {
        RunRequest {
            migrations,
            direction,
            target,
            options,
        }
    }

    /// The revisions the run takes, in order, for a database whose ledger is `ledger`
    /// ([`plan_upgrade`] or [`plan_downgrade`]).
    pub fn plan(&self, ledger: &[AppliedRevision]) -> Result<Vec<&'a Migration>, Refusal> {
        match self.direction {
            Direction::Up => plan_upgrade(self.migrations, ledger, &self.target),
            Direction::Down => plan_downgrade(self.migrations, ledger, &self.target),
        }
    }
}

/// A change of the ledger alone, running no migration SQL, that a dialect makes in one
/// transaction under its lock: [`Stamp`] or [`Accept`]. Each says what it gives back, so a
/// caller gets exactly the report of the write it asked for.
pub trait LedgerWrite {
    /// What the write reports.
    type Written;

    /// Makes the change on `ledger`, in the transaction the dialect holds open.
    fn apply<L: Ledger + ?Sized>(&self, ledger: &mut L) -> Result<Self::Written, L::Error>;

    /// What the transaction is, for messages (`committing the stamp`).
    fn what(&self) -> &'static str;
}

/// `stamp`: sets the ledger to exactly these revisions ([`stamp_ledger`]).
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a>(pub &'a [&'a Migration]);

impl LedgerWrite for Stamp<'_> {
    type Written = StampReport;

    fn apply<L: Ledger + ?Sized>(&self, ledger: &mut L) -> Result<StampReport, L::Error> {
        stamp_ledger(ledger, self.0)
    }

    fn what(&self) -> &'static str {
        "the stamp"
    }
}

/// `accept`: accepts an edit of an applied file ([`accept_edit`]).
#[derive(Debug, Clone, Copy)]
pub struct Accept<'a> {
    /// The history with the edited file.
    pub migrations: &'a Migrations,
    /// The edited revision.
    pub revision: &'a str,
    /// Why it was edited, for the audit table.
    pub reason: &'a str,
}

impl LedgerWrite for Accept<'_> {
    type Written = AcceptedEdit;

    fn apply<L: Ledger + ?Sized>(&self, ledger: &mut L) -> Result<AcceptedEdit, L::Error> {
        accept_edit(ledger, self.migrations, self.revision, self.reason)
    }

    fn what(&self) -> &'static str {
        "the accepted edit"
    }
}

/// One `upgrade` or `downgrade` on a live database, as a dialect drives it inside the run it
/// opened. [`run_revisions`] calls it in this order: [`Ledger::read_ledger`] on its ledger,
/// `prepare` for every planned revision, `before_changes`, then `run_section` and `record` for
/// each revision, and `finish`.
pub trait RunSession {
    /// The dialect's run error; a [`Refusal`] of the decisions becomes one.
    type Error: From<Refusal>;

    /// The ledger the run writes, in the transaction the run holds open.
    type Ledger: Ledger<Error = Self::Error> + ?Sized;

    /// A section split and checked, ready to run.
    type Section;

    /// The run's ledger.
    fn ledger(&mut self) -> &mut Self::Ledger;

    /// Reads and checks `migration`'s section in `direction` before anything of the run takes
    /// effect (transaction control is refused here: a `COMMIT` would commit half a run).
    fn prepare(
        &self,
        migration: &Migration,
        direction: Direction,
    ) -> Result<Self::Section, Self::Error>;

    /// What the dialect does once, when there is something to run and before the first section:
    /// `current` are the applied heads (a backup is named by them).
    fn before_changes(
        &mut self,
        direction: Direction,
        current: &[String],
    ) -> Result<(), Self::Error>;

    /// Runs a prepared section, returning how long its SQL took in milliseconds.
    fn run_section(
        &mut self,
        migration: &Migration,
        section: &Self::Section,
        direction: Direction,
    ) -> Result<i64, Self::Error>;

    /// Keeps the ledger in step after a section ran: its row added going up, its rows (a
    /// baseline's include those of the revisions it replaces) removed going down.
    fn record(
        &mut self,
        migration: &Migration,
        _section: &Self::Section,
        direction: Direction,
        execution_ms: i64,
    ) -> Result<(), Self::Error> {
        record_change(self.ledger(), migration, direction, execution_ms)
    }

    /// Commits what the run left open.
    fn finish(&mut self) -> Result<(), Self::Error>;
}

/// The ledger change of one revision run in `direction` (see [`RunSession::record`]).
pub fn record_change<L: Ledger + ?Sized>(
    ledger: &mut L,
    migration: &Migration,
    direction: Direction,
    execution_ms: i64,
) -> Result<(), L::Error> {
    match direction {
        Direction::Up => ledger.record_applied(migration, execution_ms),
        Direction::Down => migration
            .ledger_revisions()
            .try_for_each(|revision| ledger.forget(revision)),
    }
}

/// Runs the `upgrade` or `downgrade` of `request` inside the run `session` opened: the
/// revisions come from the ledger ([`RunRequest::plan`]). With nothing applied a downgrade does
/// nothing; with nothing to run, `before_changes` is not called and nothing is committed. The
/// progress hook of the options hears of each revision before it runs.
pub fn run_revisions<S: RunSession + ?Sized>(
    session: &mut S,
    request: &RunRequest<'_>,
) -> Result<RunReport, S::Error> {
    let RunRequest {
        migrations,
        direction,
        options,
        ..
    } = request;
    let (migrations, direction, options) = (*migrations, *direction, *options);
    let ledger = session.ledger().read_ledger()?;
    if direction == Direction::Down && ledger.is_empty() {
        return Ok(RunReport {
            steps: Vec::new(),
            backup: None,
            current: Vec::new(),
            held: Vec::new(),
        });
    }
    let mut plan = request.plan(&ledger)?;
    let held = match direction {
        Direction::Up => hold_contract(&mut plan, options.contract),
        Direction::Down => Vec::new(),
    };
    let current = runner::status(migrations, &ledger).current;
    if plan.is_empty() {
        return Ok(RunReport {
            steps: Vec::new(),
            backup: None,
            current,
            held,
        });
    }
    let sections = plan
        .iter()
        .map(|migration| session.prepare(migration, direction))
        .collect::<Result<Vec<_>, _>>()?;
    session.before_changes(direction, &current)?;
    let mut steps = Vec::with_capacity(plan.len());
    for (migration, section) in plan.iter().zip(&sections) {
        if let Some(progress) = &options.progress {
            progress(direction, migration);
        }
        let execution_ms = session.run_section(migration, section, direction)?;
        session.record(migration, section, direction, execution_ms)?;
        steps.push(StepReport {
            revision: migration.file.revision.clone(),
            message: migration.file.message.clone(),
            path: migration.path.clone(),
            execution_ms,
        });
    }
    session.finish()?;
    Ok(RunReport {
        current: heads_after(migrations, &ledger, &plan, &steps, direction),
        steps,
        backup: None,
        held,
    })
}

/// Cuts an upgrade `plan` before its first contract revision unless `through` (the run was
/// told to go through contracts), returning the revisions cut off. A contract revision drops
/// what the old app version still uses, so it waits until the new version runs everywhere.
pub fn hold_contract(plan: &mut Vec<&Migration>, through: bool) -> Vec<String> {
    if through {
        return Vec::new();
    }
    match plan.iter().position(|migration| migration.contract) {
        Some(first) => plan
            .split_off(first)
            .iter()
            .map(|migration| migration.file.revision.clone())
            .collect(),
        None => Vec::new(),
    }
}

/// The applied heads after a run, from the ledger before it and what it ran (not read back: the
/// run is committed, and a failed read must not report it as failed).
fn heads_after(
    migrations: &Migrations,
    ledger: &[AppliedRevision],
    plan: &[&Migration],
    steps: &[StepReport],
    direction: Direction,
) -> Vec<String> {
    let mut rows = ledger.to_vec();
    match direction {
        Direction::Up => {
            rows.extend(
                plan.iter()
                    .zip(steps)
                    .map(|(migration, step)| AppliedRevision {
                        revision: step.revision.clone(),
                        checksum: migration.checksum.clone(),
                        message: step.message.clone(),
                        applied_at: String::new(),
                        execution_ms: step.execution_ms,
                    }),
            )
        }
        Direction::Down => rows.retain(|row| {
            !plan
                .iter()
                .any(|migration| migration.ledger_revisions().any(|r| r == row.revision))
        }),
    }
    runner::status(migrations, &rows).current
}

/// Sets the ledger to exactly `keep` (a target and its ancestors, from
/// [`runner::plan_stamp`]) without running any migration SQL: missing rows are added, rows of
/// other revisions removed, and stored checksums that differ from the files replaced, each
/// replacement kept in the audit. The dialect holds the transaction around it.
pub fn stamp_ledger<L: Ledger + ?Sized>(
    ledger: &mut L,
    keep: &[&Migration],
) -> Result<StampReport, L::Error> {
    let rows = ledger.read_ledger()?;
    ledger.create_ledger()?;
    let mut report = StampReport::default();
    for row in &rows {
        if !keep.iter().any(|m| m.file.revision == row.revision) {
            ledger.forget(&row.revision)?;
            report.removed.push(row.revision.clone());
        }
    }
    for migration in keep {
        match rows
            .iter()
            .find(|row| row.revision == migration.file.revision)
        {
            None => {
                ledger.record_applied(migration, 0)?;
                report.added.push(migration.file.revision.clone());
            }
            Some(row) if !migration.applied_as(&row.checksum) => {
                // A replaced checksum is never silent: the audit keeps both.
                ledger.replace_checksum(&AcceptPlan {
                    migration,
                    old_checksum: row.checksum.clone(),
                    reason: STAMP_REASON.to_string(),
                })?;
                report.rechecksummed.push(migration.file.revision.clone());
            }
            Some(_) => {}
        }
    }
    Ok(report)
}

/// Accepts an intended edit of the applied file of `revision` (`qvdiff accept`): the audit gets
/// the old and new checksum with `reason`, the ledger the new checksum. The dialect holds the
/// lock and the transaction around it.
pub fn accept_edit<L: Ledger + ?Sized>(
    ledger: &mut L,
    migrations: &Migrations,
    revision: &str,
    reason: &str,
) -> Result<AcceptedEdit, L::Error> {
    let rows = ledger.read_ledger()?;
    let plan = plan_accept(migrations, &rows, revision, reason)?;
    ledger.replace_checksum(&plan)
}

/// Where the database stands, for a script header or a backup name: `base`, or the applied
/// heads joined by `+`.
pub fn heads_label(current: &[String]) -> String {
    if current.is_empty() {
        "base".to_string()
    } else {
        current.join("+")
    }
}

/// The ledger as it would be once `plan` ran: its revisions added (up) or taken away (down).
fn ledger_after(ledger: &[AppliedRevision], plan: &ScriptPlan<'_>) -> Vec<AppliedRevision> {
    match plan {
        ScriptPlan::Upgrade(applied) => {
            let mut after = ledger.to_vec();
            after.extend(applied.iter().map(|m| AppliedRevision {
                revision: m.revision().to_string(),
                checksum: String::new(),
                message: String::new(),
                applied_at: String::new(),
                execution_ms: 0,
            }));
            after
        }
        ScriptPlan::Downgrade(reverted) => ledger
            .iter()
            .filter(|row| !reverted.iter().any(|m| m.revision() == row.revision))
            .cloned()
            .collect(),
    }
}

/// What `upgrade TARGET --sql` (`direction` up) or `downgrade TARGET --sql` would run on a
/// database whose ledger is `ledger`, with the range for the script's header
/// (`base -> TARGET`). An upgrade stops before the first contract revision unless `contract`,
/// as [`hold_contract`] stops the run; the header then names the revision it stopped before.
pub fn script_plan<'m>(
    migrations: &'m Migrations,
    ledger: &[AppliedRevision],
    direction: Direction,
    target: &RevisionTarget,
    contract: bool,
) -> Result<(ScriptPlan<'m>, String), Refusal> {
    let mut held = Vec::new();
    let plan = match direction {
        Direction::Up => {
            let mut plan = plan_upgrade(migrations, ledger, target)?;
            held = hold_contract(&mut plan, contract);
            ScriptPlan::Upgrade(plan)
        }
        Direction::Down if ledger.is_empty() => ScriptPlan::Downgrade(Vec::new()),
        Direction::Down => ScriptPlan::Downgrade(plan_downgrade(migrations, ledger, target)?),
    };
    let from = heads_label(&runner::status(migrations, ledger).current);
    // A relative target (`-1`, `+2`) is shown as the revision it reaches: a header is read
    // long after the command that wrote it.
    let target = match target {
        RevisionTarget::Named(name) => name.clone(),
        RevisionTarget::Forward(_) | RevisionTarget::Back(_) => {
            heads_label(&runner::status(migrations, &ledger_after(ledger, &plan)).current)
        }
    };
    let range = match held.first() {
        Some(first) => format!(
            "{from} -> {target}, stopped before contract revision {first} (`--contract` goes on)"
        ),
        None => format!("{from} -> {target}"),
    };
    Ok((plan, range))
}
