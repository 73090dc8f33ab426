//! The inventory app's command line. Every start opens the database (`instance/app.db`, or
//! `$INVENTORY_DB`) and applies pending migrations — the ones compiled into this binary — the
//! same way `qvdiff upgrade` does.
//!
//! ```text
//! inventory                 migrate, then say where the database stands
//! inventory seed            add a sample user and item (when there are none)
//! inventory first-item      print the first item with every column the table has
//! inventory check           compare the database's tables with the models
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
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut conn = Connection::open(&db)?;
    let migrator = Migrator::new(qvdiff::embed_migrations!("../../migrations"))?;
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
        "check" => {
            let differences = migrator.verify_models(&mut conn, &inventory::tables())?;
            if differences.is_empty() {
                println!("the database matches the models");
            } else {
                for d in &differences {
                    println!("{d}");
                }
                return Err("the database does not match the models".into());
            }
        }
        other => {
            return Err(format!("unknown command `{other}` (try seed, first-item or check)").into())
        }
    }
    Ok(())
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
