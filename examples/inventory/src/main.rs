//! The inventory app's command line. It opens the database (`instance/app.db`, or
//! `$INVENTORY_DB`); every command but `check` first applies pending migrations — the ones
//! compiled into this binary — the same way `qvdiff upgrade` does.
//!
//! ```text
//! inventory                 migrate, then say where the database stands
//! inventory seed            add a sample user and item (when there are none)
//! inventory first-item      print the first item with every column the table has
//! inventory serve           migrate, then run until stopped (the service a deploy restarts)
//! inventory check           health check, changes nothing: exit 0 when the database has
//!                           exactly the migrations compiled in and the models' tables
//! ```

use qvdiff::migrate::rusqlite::Connection;
use qvdiff::Migrator;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

type AppResult<T> = Result<T, Box<dyn std::error::Error>>;

fn run() -> AppResult<()> {
    let command = std::env::args().nth(1).unwrap_or_default();
    let db = database_path();
    let migrator = Migrator::new(qvdiff::embed_migrations!("../../migrations"))?;
    if command == "check" {
        // A health check must not repair what it checks: no migration, no new file.
        if !db.is_file() {
            return Err(format!("{}: no such database", db.display()).into());
        }
        return check(&mut Connection::open(&db)?, &migrator, &db);
    }
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut conn = Connection::open(&db)?;
    let report = migrator.upgrade(&mut conn)?;
    for step in &report.steps {
        eprintln!("applied {} {}", step.revision, step.message);
    }
    match command.as_str() {
        "" => {
            let status = migrator.status(&mut conn)?;
            println!("{}: at {}", db.display(), status.current.join(", "));
        }
        "seed" => seed(&conn)?,
        "first-item" => print_first_item(&conn)?,
        "serve" => serve(&mut conn, &migrator, &db)?,
        other => {
            return Err(
                format!("unknown command `{other}` (try seed, first-item, serve or check)").into(),
            )
        }
    }
    Ok(())
}

/// The health check: the database's ledger holds exactly the migrations compiled into this
/// binary (none pending, none unknown to it, none edited) and its tables are the models'.
fn check(conn: &mut Connection, migrator: &Migrator, db: &std::path::Path) -> AppResult<()> {
    let status = migrator.status(conn)?;
    let mut problems = Vec::new();
    if !status.pending.is_empty() {
        problems.push(format!(
            "migrations of this build not applied: {}",
            status.pending.join(", ")
        ));
    }
    if !status.unknown.is_empty() {
        problems.push(format!(
            "applied migrations this build does not have (it is older than the database): {}",
            status.unknown.join(", ")
        ));
    }
    if !status.edited.is_empty() {
        problems.push(format!(
            "applied migrations that differ from this build's: {}",
            status.edited.join(", ")
        ));
    }
    problems.extend(
        migrator
            .verify_models(conn, &inventory::tables())?
            .into_iter()
            .map(|change| format!("the tables differ from this build's models: {change}")),
    );
    if problems.is_empty() {
        println!(
            "{}: healthy, at {} (the migrations and models of this build)",
            db.display(),
            status.current.join(", ")
        );
        return Ok(());
    }
    for problem in &problems {
        println!("{problem}");
    }
    Err(format!("{} does not match this build", db.display()).into())
}

/// The long-running service: refuses to start on a database that does not match this build,
/// then waits until the process is stopped (a real app would serve requests here).
fn serve(conn: &mut Connection, migrator: &Migrator, db: &std::path::Path) -> AppResult<()> {
    check(conn, migrator, db)?;
    println!("serving (pid {})", std::process::id());
    loop {
        std::thread::park();
    }
}

fn database_path() -> PathBuf {
    std::env::var_os("INVENTORY_DB").map_or_else(|| PathBuf::from("instance/app.db"), PathBuf::from)
}

fn seed(conn: &Connection) -> AppResult<()> {
    let items: i64 = conn.query_row("SELECT count(*) FROM items", [], |r| r.get(0))?;
    if items > 0 {
        println!("{items} item(s) already there");
        return Ok(());
    }
    conn.execute(
        "INSERT INTO users (email, display_name) VALUES ('ann@example.com', 'Ann')",
        [],
    )?;
    let user = conn.last_insert_rowid();
    conn.execute(
        "INSERT INTO items (user_id, title, sku, cost, price) VALUES (?1, 'Walnut desk lamp', 'LAMP-001', 12.5, 39.0)",
        [user],
    )?;
    println!("added user {user} and item {}", conn.last_insert_rowid());
    Ok(())
}

/// Prints every column of the first item, whatever the table has now.
fn print_first_item(conn: &Connection) -> AppResult<()> {
    match inventory::first_item(conn)? {
        None => println!("no items yet (run `inventory seed`)"),
        Some(fields) => {
            let text: String = fields
                .iter()
                .map(|(name, value)| format!("{name}: {value}\n"))
                .collect();
            // A closed pipe (`inventory first-item | head`) is the reader's choice, not an error.
            let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
        }
    }
    Ok(())
}
