//! The migration-file format: render and strict parse.
//!
//! ```sql
//! -- qvdiff revision: 20261124101500
//! -- parents: 20261120093000
//! -- message: add notes field
//! -- qvdiff:up
//! ALTER TABLE "items" ADD COLUMN "notes" TEXT;
//! -- qvdiff:down
//! ALTER TABLE "items" DROP COLUMN "notes";  -- DESTRUCTIVE: drops data in items.notes
//! ```
//!
//! * The header is three lines, in this order, at the top of the file (blank lines before it are
//!   allowed). `parents:` is empty for a root and lists two revisions for a merge; it is rendered
//!   space-separated and parsed space- or comma-separated.
//! * Between the header and `-- qvdiff:up`, blank lines and `--` comment lines are allowed and
//!   ignored (room for a summary block); SQL there is an error.
//! * The `up` section is every line between `-- qvdiff:up` and `-- qvdiff:down`, the `down`
//!   section every line after `-- qvdiff:down`, both kept verbatim (hand-written SQL and its
//!   comments included).
//! * A contract revision (`migrate --online` on PostgreSQL) has the line `-- qvdiff:contract`
//!   between the header and `-- qvdiff:up` (see [`CONTRACT_MARKER`]): `upgrade` stops before it
//!   unless told to go on.
//! * Inside a section, `-- qvdiff:allow <rule> "<reason>"` lines are lint suppressions (see
//!   [`ALLOW_PREFIX`]); they stay in the section verbatim and SQLite reads them as comments.
//! * Any other line that looks like a qvdiff directive (`-- qvdiff…:`) is an error, so a typo
//!   such as `-- qvdiff:dwon` is reported instead of silently becoming SQL.
//!
//! Invariant: for every file `text` produced by [`MigrationFile::render`],
//! `MigrationFile::parse(text)?.render() == text`, byte for byte.

use crate::dialect::Step;

/// First header line's prefix.
const REVISION_PREFIX: &str = "-- qvdiff revision:";
/// Second header line's prefix.
const PARENTS_PREFIX: &str = "-- parents:";
/// Third header line's prefix.
const MESSAGE_PREFIX: &str = "-- message:";
/// Prefix of the optional directive of a baseline revision (`qvdiff squash`), between the
/// header and `-- qvdiff:up`: `-- qvdiff:squashes r1 r2 r3`, the revisions it replaces.
pub const SQUASHES_PREFIX: &str = "-- qvdiff:squashes";
/// Line of a contract revision, between the header and `-- qvdiff:up`: the second half of an
/// expand / contract change, applied only when `upgrade` is told to go through it
/// (`qvdiff upgrade --contract`), after the new app version is deployed.
pub const CONTRACT_MARKER: &str = "-- qvdiff:contract";
/// Marker that starts the `up` section.
pub const UP_MARKER: &str = "-- qvdiff:up";
/// Marker that starts the `down` section.
pub const DOWN_MARKER: &str = "-- qvdiff:down";
/// Prefix of a lint suppression inside a section: `-- qvdiff:allow destructive "reason"`.
pub const ALLOW_PREFIX: &str = "-- qvdiff:allow";
/// Prefix of a batch line inside a section: `-- qvdiff:batch 10000` on the line before an
/// `UPDATE table SET … [WHERE …]` says the PostgreSQL runner applies it in batches of at most
/// that many rows, each committed on its own, in primary-key order, until none is left. To
/// anything else (SQLite, `psql`) it is a comment, and the `UPDATE` runs whole.
pub const BATCH_PREFIX: &str = "-- qvdiff:batch";
/// Longest revision id accepted.
pub const MAX_REVISION_LEN: usize = 64;
/// Longest slug [`slugify`] produces.
pub const MAX_SLUG_LEN: usize = 50;

/// One migration file: a revision, its parents, a message and the SQL of both directions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    /// Revision id (see [`is_valid_revision`]).
    pub revision: String,
    /// Parent revisions: none for a root, two (or more) for a merge.
    pub parents: Vec<String>,
    /// One-line message (rendered through [`sanitize_message`]).
    pub message: String,
    /// Body of the `up` section, verbatim.
    pub up: String,
    /// Body of the `down` section, verbatim.
    pub down: String,
}

/// Why a migration file could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    /// 1-based line of the problem.
    pub line: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for FormatError {}

fn error(line: usize, message: impl Into<String>) -> FormatError {
    FormatError {
        line,
        message: message.into(),
    }
}

/// A line without its line terminator (`\n` or `\r\n`).
fn content(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

/// Whether a line (without terminator) looks like a qvdiff directive: `--`, optional spaces,
/// `qvdiff` in any case, then anything up to a `:`. Used to reject misspelled markers.
fn looks_like_directive(line: &str) -> bool {
    let Some(rest) = line.trim_start().strip_prefix("--") else {
        return false;
    };
    let rest = rest.trim_start();
    rest.get(..6)
        .is_some_and(|word| word.eq_ignore_ascii_case("qvdiff"))
        && rest.contains(':')
}

/// Whether a line (without terminator) is a batch line `-- qvdiff:batch …` (see [`BATCH_PREFIX`]).
fn is_batch_line(line: &str) -> bool {
    line.trim_start()
        .strip_prefix(BATCH_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
}

/// The number of rows of a batch line `-- qvdiff:batch <rows>` (trailing whitespace and a
/// `\r` tolerated); `None` for any other line, or a count that is not a number above 0.
pub fn batch_rows(line: &str) -> Option<u64> {
    let rest = line.trim().strip_prefix(BATCH_PREFIX)?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    rest.trim().parse::<u64>().ok().filter(|rows| *rows > 0)
}

/// Whether a line (without terminator) is a lint suppression `-- qvdiff:allow …`.
pub fn is_allow_line(line: &str) -> bool {
    line.trim_start()
        .strip_prefix(ALLOW_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
}

/// Which marker a line is, if it is one (trailing whitespace is tolerated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Up,
    Down,
}

fn marker(line: &str) -> Option<Marker> {
    match line.trim_end() {
        UP_MARKER => Some(Marker::Up),
        DOWN_MARKER => Some(Marker::Down),
        _ => None,
    }
}

/// Value of a header line `prefix value`, if the line starts with `prefix`.
fn header_value<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    line.strip_prefix(prefix).map(str::trim)
}

/// Parses a `parents:` value: revision ids separated by spaces and/or commas.
fn parse_parents(value: &str, line: usize, revision: &str) -> Result<Vec<String>, FormatError> {
    let mut parents: Vec<String> = Vec::new();
    for parent in value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
    {
        if !is_valid_revision(parent) {
            return Err(error(
                line,
                format!(
                    "invalid parent revision id `{parent}`: expected letters, digits or `_` \
                     (at most {MAX_REVISION_LEN})"
                ),
            ));
        }
        if parent == revision {
            return Err(error(
                line,
                format!("revision {revision} lists itself as its parent"),
            ));
        }
        if parents.iter().any(|p| p == parent) {
            return Err(error(line, format!("parent {parent} is listed twice")));
        }
        parents.push(parent.to_string());
    }
    Ok(parents)
}

/// The value of a `-- qvdiff:squashes …` line, if the line is one.
fn squashes_value(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix(SQUASHES_PREFIX)?;
    (rest.is_empty() || rest.starts_with(char::is_whitespace)).then(|| rest.trim())
}

/// The revisions a baseline file replaces (its `-- qvdiff:squashes` line), in the order listed;
/// empty for any other file. Only the lines before `-- qvdiff:up` are read.
pub fn squashed_revisions(text: &str) -> Vec<String> {
    for line in text.lines() {
        if marker(line).is_some() {
            break;
        }
        if let Some(value) = squashes_value(line) {
            return value
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|r| !r.is_empty())
                .map(String::from)
                .collect();
        }
    }
    Vec::new()
}

/// Whether the file is a contract revision: a `-- qvdiff:contract` line before `-- qvdiff:up`.
pub fn is_contract(text: &str) -> bool {
    text.lines()
        .take_while(|line| marker(line).is_none())
        .any(|line| line.trim() == CONTRACT_MARKER)
}

/// `text` with its `-- parents:` header line naming `parents` instead; every other byte kept
/// (`qvdiff rebase` re-parents a file whose SQL still holds).
pub fn reparent(text: &str, parents: &[String]) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut done = false;
    for line in text.split_inclusive('\n') {
        if !done && content(line).starts_with(PARENTS_PREFIX) {
            done = true;
            out.push_str(PARENTS_PREFIX);
            for parent in parents {
                out.push(' ');
                out.push_str(parent);
            }
            out.push_str(&line[content(line).len()..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

impl MigrationFile {
    /// The SQL of the section that runs in `direction`: `up` for an upgrade, `down` for a
    /// downgrade.
    pub fn section(&self, direction: crate::backend::Direction) -> &str {
        match direction {
            crate::backend::Direction::Up => &self.up,
            crate::backend::Direction::Down => &self.down,
        }
    }

    /// The text of a baseline revision (`qvdiff squash`): the file with `notes`, and the
    /// `-- qvdiff:squashes` line naming the revisions it replaces right after the header.
    pub fn render_baseline(&self, squashes: &[String], notes: &[String]) -> String {
        let mut directive = SQUASHES_PREFIX.to_string();
        for revision in squashes {
            directive.push(' ');
            directive.push_str(revision);
        }
        self.render_with_directive(&directive, notes)
    }

    /// The text of a contract revision: the file with `notes`, and the `-- qvdiff:contract`
    /// line right after the header (see [`is_contract`]).
    pub fn render_contract(&self, notes: &[String]) -> String {
        self.render_with_directive(CONTRACT_MARKER, notes)
    }

    /// The file with `notes` and one directive line right after the three header lines.
    fn render_with_directive(&self, directive: &str, notes: &[String]) -> String {
        let text = self.render_with_notes(notes);
        let mut lines = text.split_inclusive('\n');
        let mut out = String::with_capacity(text.len() + directive.len() + 1);
        for _ in 0..3 {
            out.push_str(lines.next().unwrap_or_default());
        }
        out.push_str(directive);
        out.push('\n');
        for line in lines {
            out.push_str(line);
        }
        out
    }

    /// The file's text. Byte-deterministic; the message goes through [`sanitize_message`], and a
    /// non-empty section that lacks a final newline gets one.
    pub fn render(&self) -> String {
        self.render_with_notes(&[])
    }

    /// The file's text with `notes` (the summary block) between the header and `-- qvdiff:up`.
    ///
    /// Each note becomes one `-- ` comment line, flattened to one line ([`sanitize_message`]); a
    /// note starting with the word `qvdiff` gets a `> ` in front so that it can never read as a
    /// directive. [`MigrationFile::parse`] skips these lines, so a parsed file renders without
    /// them: the notes are commentary, the file's meaning is its header and sections.
    pub fn render_with_notes(&self, notes: &[String]) -> String {
        let notes_len: usize = notes.iter().map(|n| n.len() + 4).sum();
        let mut out = String::with_capacity(self.up.len() + self.down.len() + notes_len + 256);
        out.push_str(REVISION_PREFIX);
        out.push(' ');
        out.push_str(&self.revision);
        out.push('\n');
        out.push_str(PARENTS_PREFIX);
        for parent in &self.parents {
            out.push(' ');
            out.push_str(parent);
        }
        out.push('\n');
        out.push_str(MESSAGE_PREFIX);
        let message = sanitize_message(&self.message);
        if !message.is_empty() {
            out.push(' ');
            out.push_str(&message);
        }
        out.push('\n');
        for note in notes {
            let note = sanitize_message(note);
            out.push_str("--");
            if !note.is_empty() {
                out.push(' ');
                // A note must never become a directive: `-- qvdiff:up` in a note would be parsed
                // as the up marker. Notes from qvdiff start with a symbol, so this is a guard.
                if note
                    .get(..6)
                    .is_some_and(|w| w.eq_ignore_ascii_case("qvdiff"))
                {
                    out.push_str("> ");
                }
                out.push_str(&note);
            }
            out.push('\n');
        }
        for (marker, body) in [(UP_MARKER, &self.up), (DOWN_MARKER, &self.down)] {
            out.push_str(marker);
            out.push('\n');
            out.push_str(body);
            if !body.is_empty() && !body.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }

    /// Strict parse of a migration file (see the module documentation for the grammar).
    pub fn parse(text: &str) -> Result<MigrationFile, FormatError> {
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let mut index = 0;

        // Blank lines before the header are fine; anything else is not.
        while index < lines.len() && content(lines[index]).trim().is_empty() {
            index += 1;
        }
        let Some(first) = lines.get(index) else {
            return Err(error(
                1,
                "empty file: expected `-- qvdiff revision: <id>` on the first line",
            ));
        };
        let first = content(first);
        let Some(revision) = header_value(first, REVISION_PREFIX) else {
            return Err(error(
                index + 1,
                format!(
                    "expected `{REVISION_PREFIX} <id>` as the first line, found `{}`",
                    first.trim()
                ),
            ));
        };
        if !is_valid_revision(revision) {
            return Err(error(
                index + 1,
                format!(
                    "invalid revision id `{revision}`: expected letters, digits or `_` \
                     (at most {MAX_REVISION_LEN}), e.g. 20261124101500"
                ),
            ));
        }
        let revision = revision.to_string();
        index += 1;

        let parents_line = lines.get(index).map(|l| content(l)).unwrap_or("");
        let Some(parents) = header_value(parents_line, PARENTS_PREFIX) else {
            return Err(error(
                index + 1,
                format!(
                    "expected `{PARENTS_PREFIX} …` right after the revision line \
                     (empty for the first revision)"
                ),
            ));
        };
        let parents = parse_parents(parents, index + 1, &revision)?;
        index += 1;

        let message_line = lines.get(index).map(|l| content(l)).unwrap_or("");
        let Some(message) = header_value(message_line, MESSAGE_PREFIX) else {
            return Err(error(
                index + 1,
                format!("expected `{MESSAGE_PREFIX} …` right after the parents line"),
            ));
        };
        let message = message.to_string();
        index += 1;

        // Optional comment lines (and a baseline's `squashes` line) up to the up marker.
        let mut seen_squashes = false;
        let mut seen_contract = false;
        loop {
            let Some(line) = lines.get(index) else {
                return Err(error(
                    lines.len(),
                    format!("missing `{UP_MARKER}` marker after the header"),
                ));
            };
            let line = content(line);
            match marker(line) {
                Some(Marker::Up) => break,
                Some(Marker::Down) => {
                    return Err(error(
                        index + 1,
                        format!("`{DOWN_MARKER}` comes before `{UP_MARKER}`"),
                    ))
                }
                None => {}
            }
            if let Some(value) = squashes_value(line) {
                if seen_squashes {
                    return Err(error(
                        index + 1,
                        format!("second `{SQUASHES_PREFIX}` line: a baseline lists once what it replaces"),
                    ));
                }
                seen_squashes = true;
                let replaced = parse_parents(value, index + 1, &revision)?;
                if replaced.is_empty() {
                    return Err(error(
                        index + 1,
                        format!("`{SQUASHES_PREFIX}` names no revision: list the revisions this baseline replaces"),
                    ));
                }
                index += 1;
                continue;
            }
            if line.trim() == CONTRACT_MARKER {
                if seen_contract {
                    return Err(error(
                        index + 1,
                        format!("second `{CONTRACT_MARKER}` line: remove this one"),
                    ));
                }
                seen_contract = true;
                index += 1;
                continue;
            }
            if looks_like_directive(line) {
                return Err(error(
                    index + 1,
                    format!(
                        "unexpected qvdiff directive `{}` (expected `{UP_MARKER}`)",
                        line.trim()
                    ),
                ));
            }
            // A second header line would make a reader (or a tool) see other parents or another
            // message than the ones this file declares; the header is exactly three lines.
            let trimmed_start = line.trim_start();
            if let Some(prefix) = [PARENTS_PREFIX, MESSAGE_PREFIX]
                .into_iter()
                .find(|prefix| trimmed_start.starts_with(prefix))
            {
                return Err(error(
                    index + 1,
                    format!(
                        "second `{prefix}` header line: the header is exactly three lines \
                         (revision, parents, message); remove this one"
                    ),
                ));
            }
            let trimmed = line.trim();
            if !trimmed.is_empty() && !trimmed.starts_with("--") {
                return Err(error(
                    index + 1,
                    format!(
                        "SQL before `{UP_MARKER}`: put it in the up or down section (or add the \
                         missing `{UP_MARKER}` line above it)"
                    ),
                ));
            }
            index += 1;
        }
        let up_marker_line = index + 1;
        index += 1;

        let mut up = String::new();
        let mut down = String::new();
        let mut down_marker_line = None;
        for (offset, raw) in lines[index..].iter().enumerate() {
            let number = index + offset + 1;
            let line = content(raw);
            match marker(line) {
                Some(Marker::Up) => {
                    return Err(error(
                        number,
                        format!("duplicate `{UP_MARKER}` marker (first on line {up_marker_line})"),
                    ))
                }
                Some(Marker::Down) => {
                    if let Some(first) = down_marker_line {
                        return Err(error(
                            number,
                            format!("duplicate `{DOWN_MARKER}` marker (first on line {first})"),
                        ));
                    }
                    down_marker_line = Some(number);
                    continue;
                }
                None => {}
            }
            if looks_like_directive(line) && !is_allow_line(line) && batch_rows(line).is_none() {
                let message = if header_value(line.trim_start(), REVISION_PREFIX).is_some() {
                    format!("second `{REVISION_PREFIX}` header: one revision per file")
                } else if is_batch_line(line) {
                    format!(
                        "`{}` needs a number of rows above 0, e.g. `{BATCH_PREFIX} 10000`",
                        line.trim()
                    )
                } else {
                    format!(
                        "unknown qvdiff directive `{}` (expected `{UP_MARKER}` or `{DOWN_MARKER}`)",
                        line.trim()
                    )
                };
                return Err(error(number, message));
            }
            if down_marker_line.is_some() {
                down.push_str(raw);
            } else {
                up.push_str(raw);
            }
        }
        if down_marker_line.is_none() {
            return Err(error(
                lines.len(),
                format!("missing `{DOWN_MARKER}` marker after the up section"),
            ));
        }

        Ok(MigrationFile {
            revision,
            parents,
            message,
            up,
            down,
        })
    }

    /// The checksum of a migration file's text, stored in the ledger when it is applied: the
    /// [`text_checksum`] of the file without its `-- qvdiff:allow` lines.
    ///
    /// `allow` lines are review notes, not edits, so adding one to an applied file (to silence a
    /// lint finding in old history) keeps its checksum; every other byte change is an edit. Line
    /// endings are normalized (`\r\n` -> `\n`), so a checkout that converts them (git
    /// `autocrlf`) is no edit either.
    pub fn checksum(text: &str) -> String {
        if !text.contains(ALLOW_PREFIX) {
            return text_checksum(text);
        }
        let kept: String = text
            .split_inclusive('\n')
            .filter(|line| !is_allow_line(content(line)))
            .collect();
        text_checksum(&kept)
    }

    /// The file name for this revision: `<revision>_<slug>.sql`.
    pub fn file_name(&self) -> String {
        format!("{}_{}.sql", self.revision, slugify(&self.message))
    }
}

/// The message as one header line: control characters and every kind of whitespace (newlines,
/// CR, tabs, Unicode line separators) become spaces, runs of spaces collapse, the ends are
/// trimmed. Nothing in the result can start a new line of the file.
pub fn sanitize_message(msg: &str) -> String {
    // Already one line of single-spaced words (every note of a generated file): as it is.
    let flat = !msg.starts_with(' ')
        && !msg.ends_with(' ')
        && !msg.contains("  ")
        && !msg
            .chars()
            .any(|c| c != ' ' && (c.is_whitespace() || c.is_control()));
    if flat {
        return msg.to_string();
    }
    msg.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A file-name slug: lowercase ASCII letters, digits and `_`, at most [`MAX_SLUG_LEN`]
/// characters, never empty (`migration`). It can never contain `/`, `\`, `.` or anything else
/// that would escape the migrations directory.
pub fn slugify(msg: &str) -> String {
    let mut slug = String::new();
    for c in msg.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('_') {
            slug.push('_');
        }
    }
    // ASCII only, so byte truncation is a char boundary.
    slug.truncate(MAX_SLUG_LEN);
    let slug = slug.trim_end_matches('_');
    if slug.is_empty() {
        "migration".to_string()
    } else {
        slug.to_string()
    }
}

/// The note after a statement that cannot run inside a transaction ([`StepFacts`]'s
/// `outside_transaction`): its revision runs statement by statement, each recorded when done.
///
/// [`StepFacts`]: crate::dialect::StepFacts
pub const OUTSIDE_TRANSACTION_NOTE: &str =
    "OUTSIDE TRANSACTION: runs on its own, recorded when done; a stopped run continues here";

/// A section body from planned steps: each step's SQL on its own line(s), and after the
/// statement's final `;` `  -- DESTRUCTIVE: <reason>` when the step can lose data and
/// `  -- ` [`OUTSIDE_TRANSACTION_NOTE`] when it cannot run in a transaction. The reason is
/// flattened to one line so it cannot start a line of its own.
pub fn render_steps(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        let sql = step.sql.trim_end();
        out.push_str(sql);
        let mut notes = Vec::new();
        if let Some(reason) = &step.destructive() {
            notes.push(format!("DESTRUCTIVE: {}", sanitize_message(reason)));
        }
        if step.facts.outside_transaction {
            notes.push(OUTSIDE_TRANSACTION_NOTE.to_string());
        }
        if !notes.is_empty() {
            if sql.ends_with(';') {
                out.push_str("  ");
            } else if !sql.is_empty() {
                // Not a complete statement: a comment on the same line could swallow SQL that
                // the next statement's author expected to run, so give it its own line.
                out.push('\n');
            }
            out.push_str("-- ");
            out.push_str(&notes.join("; "));
        }
        out.push('\n');
    }
    out
}

/// Whether `rev` is a usable revision id: the generated UTC `YYYYMMDDHHMMSS`, or a user
/// `--rev-id` of 1 to 64 ASCII letters, digits and `_`. The words `head`, `heads` and `base` are
/// refused because they name targets of `upgrade` / `downgrade`.
pub fn is_valid_revision(rev: &str) -> bool {
    !rev.is_empty()
        && rev.len() <= MAX_REVISION_LEN
        && rev.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !matches!(rev, "head" | "heads" | "base")
}

/// The generated revision id for a moment: UTC `YYYYMMDDHHMMSS` of `unix_seconds`.
///
/// Pure (the caller reads the clock), so the CLI can move to the next free second by calling it
/// with `unix_seconds + 1` while the id is taken.
pub fn revision_at(unix_seconds: u64) -> String {
    let (year, month, day, hour, minute, second) = utc_parts(unix_seconds);
    format!("{year:04}{month:02}{day:02}{hour:02}{minute:02}{second:02}")
}

/// The UTC calendar parts `(year, month, day, hour, minute, second)` of `unix_seconds`.
///
/// The one civil-date conversion of qvdiff (revision ids, ledger timestamps, backup names), so
/// no date crate is needed.
pub fn utc_parts(unix_seconds: u64) -> (u64, u64, u64, u64, u64, u64) {
    let days = unix_seconds / 86_400;
    let secs_of_day = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    (
        year,
        month,
        day,
        secs_of_day / 3600,
        (secs_of_day % 3600) / 60,
        secs_of_day % 60,
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm, for
/// non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// SHA-256 of `text` with `\r\n` normalized to `\n`, lowercase hex (64 characters). Checksums
/// of migration files before `allow` lines were left out were this of the whole text.
pub fn text_checksum(text: &str) -> String {
    // Most files have no `\r`: hash them as they are, without copying a megabyte.
    let digest = if text.contains('\r') {
        sha256(text.replace("\r\n", "\n").as_bytes())
    } else {
        sha256(text.as_bytes())
    };
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (FIPS 180-4) of `data`, by the `sha2` crate, which uses the CPU's SHA instructions
/// where there are some: a 1000-table migration is about a megabyte, hashed for its checksum
/// and for its fingerprint on every run that reads or writes it.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> MigrationFile {
        MigrationFile {
            revision: "b1".into(),
            parents: Vec::new(),
            message: "baseline".into(),
            up: "CREATE TABLE t (id INTEGER);\n".into(),
            down: "DROP TABLE t;\n".into(),
        }
    }

    #[test]
    fn a_baseline_lists_what_it_replaces_and_parses_back() {
        let squashes = vec!["r1".to_string(), "r2".to_string()];
        let text = file().render_baseline(&squashes, &["note".to_string()]);
        assert!(text.starts_with(
            "-- qvdiff revision: b1\n-- parents:\n-- message: baseline\n-- qvdiff:squashes r1 r2\n-- note\n"
        ));
        assert_eq!(MigrationFile::parse(&text).unwrap(), file());
        assert_eq!(squashed_revisions(&text), squashes);
        assert!(squashed_revisions(&file().render()).is_empty());
        let twice = text.replace("-- note\n", "-- qvdiff:squashes r3\n");
        assert!(MigrationFile::parse(&twice).is_err());
        let empty = text.replace("-- qvdiff:squashes r1 r2", "-- qvdiff:squashes");
        assert!(MigrationFile::parse(&empty).is_err());
    }

    #[test]
    fn a_contract_revision_is_marked_after_its_header_and_parses_back() {
        let text = file().render_contract(&["note".to_string()]);
        assert!(text.starts_with(
            "-- qvdiff revision: b1\n-- parents:\n-- message: baseline\n-- qvdiff:contract\n-- note\n"
        ));
        assert_eq!(MigrationFile::parse(&text).unwrap(), file());
        assert!(is_contract(&text));
        assert!(!is_contract(&file().render()));
        // In a section it is a stray directive, not a mark.
        let in_section = file()
            .render()
            .replace("DROP TABLE", "-- qvdiff:contract\nDROP TABLE");
        assert!(!is_contract(&in_section));
        assert!(MigrationFile::parse(&in_section).is_err());
        let twice = text.replace("-- note\n", "-- qvdiff:contract\n");
        assert!(MigrationFile::parse(&twice).is_err());
    }

    #[test]
    fn reparent_changes_only_the_parents_line() {
        let text = file().render();
        let moved = reparent(&text, &["r9".to_string()]);
        assert_eq!(moved, text.replace("-- parents:\n", "-- parents: r9\n"));
        assert_eq!(MigrationFile::parse(&moved).unwrap().parents, ["r9"]);
    }
}
