//! A SQLite project's starting schemas: the one the committed migrations produce (replayed on
//! in-memory databases), or a live database's (read-only, never written), each with the stored
//! `CREATE` statements a new migration is proven on.
//!
//! # The replay cache
//!
//! Replaying is bounded by SQLite itself: every `CREATE TABLE`/`CREATE INDEX` re-reads the whole
//! `sqlite_master` table (SQLite's `OP_ParseSchema` has no index to use), so a chain that creates
//! n objects costs O(n²) on one database; `qvdiff_sqlite::replay_schema` splits plain DDL into
//! parts on all cores, and what remains is still SQLite parsing every statement. The result only
//! depends on the migration texts, so [`recorded`] keeps it in qvdiff's cache directory
//! ([`crate::cache`]): the introspected schema and the stored `CREATE` statements, under a
//! SHA-256 of the ordered `(revision, file checksum, hash of the up SQL)` triples and of the
//! qvdiff build. `check` reads only the schema ([`recorded_schema`]); `migrate` reads the
//! statements too, to build the databases it verifies on.

use super::{Baseline, Shadow};
use crate::db_url::DatabaseTarget;
use crate::error::{CliError, CliResult};
use crate::models::display_path;
use qvdiff_core::runner::Migrations;
use qvdiff_core::Schema;
use qvdiff_sqlite::StoredObject;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The schema the committed migrations produce, replayed in graph order (or taken from the
/// replay cache when the same chain was replayed before by the same qvdiff).
pub fn recorded(migrations: &Migrations) -> CliResult<Baseline> {
    let order = migrations.in_order();
    let cache = ReplayCache::for_chain(&order);
    if let Some(hit) = cache.as_ref().and_then(ReplayCache::load) {
        return Ok(hit);
    }
    let (schema, objects) = qvdiff_sqlite::replay_schema(
        order
            .iter()
            .map(|m| (m.file.revision.as_str(), m.file.up.as_str())),
    )
    .map_err(|e| {
        CliError::new(format!("replaying the migrations failed: {e}"))
            .with_hint("fix the migration named above; `qvdiff sql` prints the whole chain")
    })?;
    if let Some(cache) = cache {
        cache.store(&schema, &objects);
    }
    Ok(Baseline {
        shadow: Shadow::Sqlite(objects),
        schema,
        live: None,
        server: None,
    })
}

/// The schema the committed migrations produce, without the shadow database (`check`): from
/// the replay cache's schema alone when the chain was replayed before, else replayed.
pub fn recorded_schema(migrations: &Migrations) -> CliResult<Schema> {
    let order = migrations.in_order();
    if let Some(schema) = ReplayCache::for_chain(&order)
        .as_ref()
        .and_then(ReplayCache::load_schema)
    {
        return Ok(schema);
    }
    Ok(recorded(migrations)?.schema)
}

/// One entry of the replay cache: where the schema and the stored statements of one chain are
/// (or go).
struct ReplayCache {
    schema: PathBuf,
    objects: PathBuf,
    dir: PathBuf,
}

/// The extension of an entry's stored statements, beside its schema's `.json`.
const OBJECTS_EXTENSION: &str = "objects";

/// The cached schema: tables as the manifest has them, plus the views and triggers the manifest
/// leaves out (a rebuild must recreate them).
#[derive(Serialize, Deserialize)]
struct CachedSchema {
    tables: Vec<qvdiff_core::Table>,
    views: Vec<(String, String, String)>,
    triggers: Vec<(String, String, String)>,
}

impl ReplayCache {
    /// The entry of this chain, or `None` when caching is off or the executable cannot be
    /// identified (then nothing could tell an older build's entries apart).
    fn for_chain(order: &[&qvdiff_core::runner::Migration]) -> Option<ReplayCache> {
        let dir = crate::cache::dir()?;
        let mut identity = format!("qvdiff replay cache 2\n{}", crate::cache::build_identity()?);
        for m in order {
            // The file's SHA-256 (computed when it was loaded) stands for its text: hashing
            // megabytes of SQL with SHA-256 a second time was a tenth of a warm `check`. The up
            // section itself also goes through the (fast, 64-bit) std hasher, so a `Migration`
            // built with a made-up checksum still gets a key of its own.
            let mut up = std::collections::hash_map::DefaultHasher::new();
            std::hash::Hash::hash(m.file.up.as_str(), &mut up);
            identity.push_str(&format!(
                "{}\n{}\n{}\n{:016x}\n",
                m.file.revision.len(),
                m.file.revision,
                m.checksum,
                std::hash::Hasher::finish(&up)
            ));
        }
        let key = qvdiff_core::MigrationFile::checksum(&identity);
        Some(ReplayCache {
            schema: dir.join(format!("replay-{key}.json")),
            objects: dir.join(format!("replay-{key}.{OBJECTS_EXTENSION}")),
            dir,
        })
    }

    /// The cached baseline, or `None` on any miss or unreadable entry.
    fn load(&self) -> Option<Baseline> {
        let schema = self.load_schema()?;
        let text = std::fs::read_to_string(&self.objects).ok()?;
        let objects: Vec<(String, String, String, String)> = serde_json::from_str(&text).ok()?;
        let objects = objects
            .into_iter()
            .map(|(kind, name, table, sql)| StoredObject {
                kind,
                name,
                table,
                sql,
            })
            .collect();
        Some(Baseline {
            shadow: Shadow::Sqlite(objects),
            schema,
            live: None,
            server: None,
        })
    }

    /// The cached schema alone (what `check` needs: it verifies nothing), or `None` on a miss.
    /// An entry counts only with its statements beside it, as [`ReplayCache::load`] needs both.
    fn load_schema(&self) -> Option<Schema> {
        if !self.objects.is_file() {
            return None;
        }
        let text = std::fs::read_to_string(&self.schema).ok()?;
        let cached: CachedSchema = serde_json::from_str(&text).ok()?;
        let raw = |objects: Vec<(String, String, String)>| {
            objects
                .into_iter()
                .map(|(name, table, sql)| qvdiff_core::RawObject { name, table, sql })
                .collect()
        };
        let schema = Schema {
            tables: cached.tables,
            views: raw(cached.views),
            triggers: raw(cached.triggers),
        };
        // Touch the entry so eviction drops the least recently used chains.
        crate::cache::touch(&self.schema);
        Some(schema)
    }

    fn store(&self, schema: &Schema, objects: &[StoredObject]) {
        let raw = |objects: &[qvdiff_core::RawObject]| {
            objects
                .iter()
                .map(|o| (o.name.clone(), o.table.clone(), o.sql.clone()))
                .collect()
        };
        let cached = CachedSchema {
            tables: schema.tables.clone(),
            views: raw(&schema.views),
            triggers: raw(&schema.triggers),
        };
        let stored: Vec<(&str, &str, &str, &str)> = objects
            .iter()
            .map(|o| {
                (
                    o.kind.as_str(),
                    o.name.as_str(),
                    o.table.as_str(),
                    o.sql.as_str(),
                )
            })
            .collect();
        let (Ok(json), Ok(stored)) = (
            serde_json::to_string(&cached),
            serde_json::to_string(&stored),
        ) else {
            return;
        };
        if std::fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        // The statements first: the schema file is what marks the entry complete.
        let written = crate::cache::write_atomically(&self.objects, stored.as_bytes())
            && crate::cache::write_atomically(&self.schema, json.as_bytes());
        if written {
            crate::cache::evict(&self.dir, "replay-", &[OBJECTS_EXTENSION]);
        }
    }
}

/// A live database's schema, read-only; the database file is never modified.
pub fn live(target: &DatabaseTarget) -> CliResult<Baseline> {
    let live = open_read_only(target)?;
    let unreadable = |e: qvdiff_sqlite::SqliteError| {
        CliError::new(format!(
            "cannot read the schema of {}: {e}",
            display_path(&target.path)
        ))
    };
    let objects = qvdiff_sqlite::stored_objects(&live).map_err(unreadable)?;
    // Introspected on a schema-only copy, the way verification will see it.
    let copy = qvdiff_sqlite::shadow_from(&objects).map_err(unreadable)?;
    let schema = introspect(&copy, &display_path(&target.path))?;
    Ok(Baseline {
        shadow: Shadow::Sqlite(objects),
        schema,
        live: None,
        server: None,
    })
}

/// Opens an existing database file read-only.
pub fn open_read_only(target: &DatabaseTarget) -> CliResult<Connection> {
    target.require_existing()?;
    let conn = Connection::open_with_flags(
        &target.path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| CliError::new(format!("cannot open {}: {e}", display_path(&target.path))))?;
    // A file that is not a database only fails on first read: read now, with the name in the message.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| {
        CliError::new(format!(
            "{} is not a readable SQLite database: {e}",
            display_path(&target.path)
        ))
    })?;
    Ok(conn)
}

fn introspect(conn: &Connection, what: &str) -> CliResult<Schema> {
    qvdiff_sqlite::introspect(conn)
        .map_err(|e| CliError::new(format!("cannot introspect {what}: {e}")))
}
