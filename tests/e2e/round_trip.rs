//! Every builtin Rust type (the README's table, `qvdiff_capture::BUILTIN_TYPES`) written into the
//! schema the real `qvdiff` generates for it and read back equal: through rusqlite on a SQLite
//! file, and through the `postgres` crate on the real server (`QVDIFF_TEST_POSTGRES_URL`;
//! skipped without one unless `QVDIFF_REQUIRE_POSTGRES=1`).
//!
//! Each value goes in as a query parameter of its Rust type and comes back through the driver's
//! decoding of the column, so a column type the driver refuses for that Rust type fails here.
//! Values sit at the edges of their type (extremes, fractions, offsets, non-ASCII text). The
//! `postgres` crate encodes no unsigned integer and no `i8`/`isize` (neither does sqlx): for those
//! an application converts to the signed type of the column's width, and so does this test,
//! with the type's extremes, which proves that the column holds every value of the Rust type.

use super::support::Project;
use qvdiff_postgres::testing::{TestDatabase, URL_VAR};
use std::fmt::Debug;

/// One column per builtin type: (the type as `BUILTIN_TYPES` names it, column, field type).
/// Every column is nullable, so each is written on its own and NULL comes back as `None`.
const COLUMNS: &[(&str, &str, &str)] = &[
    ("i8", "v_i8", "i8"),
    ("i16", "v_i16", "i16"),
    ("i32", "v_i32", "i32"),
    ("i64", "v_i64", "i64"),
    ("isize", "v_isize", "isize"),
    ("u8", "v_u8", "u8"),
    ("u16", "v_u16", "u16"),
    ("u32", "v_u32", "u32"),
    ("u64", "v_u64", "u64"),
    ("usize", "v_usize", "usize"),
    ("bool", "v_bool", "bool"),
    ("f32", "v_f32", "f32"),
    ("f64", "v_f64", "f64"),
    ("String", "v_string", "String"),
    ("&str", "v_str", "&'static str"),
    ("Vec<u8>", "v_bytes", "Vec<u8>"),
    (
        "chrono::NaiveDateTime",
        "v_naive_date_time",
        "chrono::NaiveDateTime",
    ),
    (
        "chrono::DateTime<Tz>",
        "v_date_time_utc",
        "chrono::DateTime<chrono::Utc>",
    ),
    (
        "time::PrimitiveDateTime",
        "v_primitive_date_time",
        "time::PrimitiveDateTime",
    ),
    (
        "time::OffsetDateTime",
        "v_offset_date_time",
        "time::OffsetDateTime",
    ),
    ("chrono::NaiveDate", "v_naive_date", "chrono::NaiveDate"),
    ("time::Date", "v_date", "time::Date"),
    ("chrono::NaiveTime", "v_naive_time", "chrono::NaiveTime"),
    ("time::Time", "v_time", "time::Time"),
    ("uuid::Uuid", "v_uuid", "uuid::Uuid"),
    ("serde_json::Value", "v_json", "serde_json::Value"),
    (
        "rust_decimal::Decimal",
        "v_decimal",
        "rust_decimal::Decimal",
    ),
];

/// A second text column with `max_length`: `VARCHAR(n)` / `varchar(n)`.
const VARCHAR_COLUMN: &str = "v_varchar";

/// The model file: one struct with a column per builtin type.
fn models() -> String {
    let mut text = String::from(
        "use qvdiff::Model;\n\n#[derive(Model)]\n#[model(table = \"every_type\")]\n\
         pub struct EveryType {\n    #[column(primary_key)]\n    pub id: i64,\n",
    );
    for (_, column, field_type) in COLUMNS {
        text.push_str(&format!("    pub {column}: Option<{field_type}>,\n"));
    }
    text.push_str(&format!(
        "    #[column(max_length = 12)]\n    pub {VARCHAR_COLUMN}: Option<String>,\n}}\n"
    ));
    text
}

/// Lists of builtin types (`Vec<T>`, PostgreSQL's `T[]`; SQLite has no arrays and refuses
/// them): (column, field type), in the PostgreSQL project only.
const ARRAY_COLUMNS: &[(&str, &str)] = &[("v_strings", "Vec<String>"), ("v_i64s", "Vec<i64>")];

/// [`models`] with the [`ARRAY_COLUMNS`] too.
fn models_with_arrays() -> String {
    let fields: String = ARRAY_COLUMNS
        .iter()
        .map(|(column, field_type)| format!("    pub {column}: Option<{field_type}>,\n"))
        .collect();
    let text = models();
    let end = text.rfind('}').expect("struct end");
    format!("{}{fields}}}\n", &text[..end])
}

#[test]
fn every_builtin_type_is_a_column_here() {
    let covered: Vec<&str> = COLUMNS.iter().map(|(rust, _, _)| *rust).collect();
    let builtin: Vec<&str> = qvdiff_capture::BUILTIN_TYPES
        .iter()
        .map(|entry| entry.rust)
        .collect();
    assert_eq!(
        covered, builtin,
        "every builtin type needs a round trip here, in the table's order"
    );
}

// Values at the edges of each type, shared by both drivers.

fn date_times() -> Vec<chrono::NaiveDateTime> {
    [
        "1970-01-01 00:00:00",
        "1999-12-31 23:59:59.5",
        "2024-02-29 12:34:56.123456",
    ]
    .iter()
    .map(|t| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f").expect(t))
    .collect()
}

fn instants() -> Vec<chrono::DateTime<chrono::Utc>> {
    // Written with offsets of +05:30 and -08:00: an instant comes back as the same instant.
    [
        "2024-01-31T09:30:00+05:30",
        "1999-12-31T23:59:59.25-08:00",
        "2024-02-29T00:00:00Z",
    ]
    .iter()
    .map(|t| {
        chrono::DateTime::parse_from_rfc3339(t)
            .expect(t)
            .with_timezone(&chrono::Utc)
    })
    .collect()
}

fn time_date_times() -> Vec<time::PrimitiveDateTime> {
    date_times()
        .iter()
        .map(|dt| {
            let offset = time::OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(dt.and_utc().timestamp_micros()) * 1000,
            )
            .expect("in range");
            time::PrimitiveDateTime::new(offset.date(), offset.time())
        })
        .collect()
}

fn time_instants() -> Vec<time::OffsetDateTime> {
    let offset = time::UtcOffset::from_hms(5, 30, 0).expect("offset");
    instants()
        .iter()
        .map(|instant| {
            time::OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(instant.timestamp_micros()) * 1000,
            )
            .expect("in range")
            .to_offset(offset)
        })
        .collect()
}

fn dates() -> Vec<chrono::NaiveDate> {
    ["0001-01-01", "2024-02-29", "9999-12-31"]
        .iter()
        .map(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").expect(d))
        .collect()
}

fn time_dates() -> Vec<time::Date> {
    dates()
        .iter()
        .map(|d| {
            use chrono::Datelike;
            let month = time::Month::try_from(d.month() as u8).expect("month");
            time::Date::from_calendar_date(d.year(), month, d.day() as u8).expect("date")
        })
        .collect()
}

fn times() -> Vec<chrono::NaiveTime> {
    ["00:00:00", "12:34:56.789012", "23:59:59.999999"]
        .iter()
        .map(|t| chrono::NaiveTime::parse_from_str(t, "%H:%M:%S%.f").expect(t))
        .collect()
}

fn time_times() -> Vec<time::Time> {
    times()
        .iter()
        .map(|t| {
            use chrono::Timelike;
            time::Time::from_hms_micro(
                t.hour() as u8,
                t.minute() as u8,
                t.second() as u8,
                t.nanosecond() / 1000,
            )
            .expect("time")
        })
        .collect()
}

fn uuids() -> Vec<uuid::Uuid> {
    vec![
        uuid::Uuid::nil(),
        uuid::Uuid::max(),
        uuid::Uuid::parse_str("67e55044-10b1-426f-9247-bb680e5fe0c8").expect("uuid"),
    ]
}

fn jsons() -> Vec<serde_json::Value> {
    vec![
        serde_json::json!({"tags": ["a", "ü"], "n": 1.5, "nested": {"ok": true, "none": null}}),
        serde_json::json!([1, "two", 3.25]),
        serde_json::json!("a string"),
    ]
}

fn decimals() -> Vec<rust_decimal::Decimal> {
    ["0", "-19.90", "12345678.000001", "0.0000000001"]
        .iter()
        .map(|d| d.parse().expect(d))
        .collect()
}

fn texts() -> Vec<String> {
    [
        "",
        "O'Reilly \"quoted\"",
        "größer 温度 🦀",
        "line\nbreak\ttab",
    ]
    .iter()
    .map(|t| t.to_string())
    .collect()
}

fn byte_strings() -> Vec<Vec<u8>> {
    vec![Vec::new(), vec![0, 1, 2, 255], (0..=255).collect()]
}

/// The values of a type with its extremes.
macro_rules! extremes {
    ($t:ty) => {
        vec![<$t>::MIN, 0 as $t, 1 as $t, <$t>::MAX]
    };
}

// SQLite through rusqlite.

/// Writes each `(value, expected)` into `column` of the one row and reads the column back as
/// `R`, then NULL; returns every mismatch.
fn sqlite_check<W, R>(conn: &rusqlite::Connection, column: &str, pairs: Vec<(W, R)>) -> Vec<String>
where
    W: rusqlite::ToSql + Debug,
    R: rusqlite::types::FromSql + PartialEq + Debug,
{
    let mut errors = Vec::new();
    let update = format!("UPDATE every_type SET \"{column}\" = ?1 WHERE id = 1");
    let select = format!("SELECT \"{column}\" FROM every_type WHERE id = 1");
    for (value, expected) in pairs {
        let back = conn
            .execute(&update, [&value])
            .and_then(|_| conn.query_row(&select, [], |row| row.get::<_, R>(0)));
        match back {
            Ok(back) if back == expected => {}
            Ok(back) => errors.push(format!("sqlite {column}: wrote {value:?}, read {back:?}")),
            Err(e) => errors.push(format!("sqlite {column}: {value:?}: {e}")),
        }
    }
    let null = conn
        .execute(&format!("UPDATE every_type SET \"{column}\" = NULL"), [])
        .and_then(|_| conn.query_row(&select, [], |row| row.get::<_, Option<R>>(0)));
    match null {
        Ok(None) => {}
        other => errors.push(format!("sqlite {column}: NULL read back as {other:?}")),
    }
    errors
}

fn same<T: Clone>(values: Vec<T>) -> Vec<(T, T)> {
    values.into_iter().map(|v| (v.clone(), v)).collect()
}

/// Every column of `COLUMNS` on a SQLite file, each value as its Rust type.
fn sqlite_round_trips(conn: &rusqlite::Connection) -> Vec<String> {
    let mut errors = Vec::new();
    errors.extend(sqlite_check(conn, "v_i8", same(extremes!(i8))));
    errors.extend(sqlite_check(conn, "v_i16", same(extremes!(i16))));
    errors.extend(sqlite_check(conn, "v_i32", same(extremes!(i32))));
    errors.extend(sqlite_check(conn, "v_i64", same(extremes!(i64))));
    errors.extend(sqlite_check(conn, "v_isize", same(extremes!(isize))));
    errors.extend(sqlite_check(conn, "v_u8", same(extremes!(u8))));
    errors.extend(sqlite_check(conn, "v_u16", same(extremes!(u16))));
    errors.extend(sqlite_check(conn, "v_u32", same(extremes!(u32))));
    // SQLite integers are 64-bit signed: u64 and usize hold up to i64::MAX.
    let wide = vec![0, 1, i64::MAX as u64];
    errors.extend(sqlite_check(conn, "v_u64", same(wide.clone())));
    let wide: Vec<usize> = wide.iter().map(|v| *v as usize).collect();
    errors.extend(sqlite_check(conn, "v_usize", same(wide)));
    errors.extend(sqlite_check(conn, "v_bool", same(vec![true, false])));
    let f32s = vec![f32::MIN, -0.5, 0.1, f32::MAX, f32::EPSILON];
    errors.extend(sqlite_check(conn, "v_f32", same(f32s)));
    let f64s = vec![f64::MIN, -0.5, 0.1, f64::MAX, f64::MIN_POSITIVE];
    errors.extend(sqlite_check(conn, "v_f64", same(f64s)));
    errors.extend(sqlite_check(conn, "v_string", same(texts())));
    let strs: Vec<(&str, String)> = ["", "größer 温度"]
        .iter()
        .map(|s| (*s, s.to_string()))
        .collect();
    errors.extend(sqlite_check(conn, "v_str", strs));
    errors.extend(sqlite_check(conn, VARCHAR_COLUMN, same(texts())));
    errors.extend(sqlite_check(conn, "v_bytes", same(byte_strings())));
    errors.extend(sqlite_check(conn, "v_naive_date_time", same(date_times())));
    errors.extend(sqlite_check(conn, "v_date_time_utc", same(instants())));
    let primitive = same(time_date_times());
    errors.extend(sqlite_check(conn, "v_primitive_date_time", primitive));
    errors.extend(sqlite_check(
        conn,
        "v_offset_date_time",
        same(time_instants()),
    ));
    errors.extend(sqlite_check(conn, "v_naive_date", same(dates())));
    errors.extend(sqlite_check(conn, "v_date", same(time_dates())));
    errors.extend(sqlite_check(conn, "v_naive_time", same(times())));
    errors.extend(sqlite_check(conn, "v_time", same(time_times())));
    errors.extend(sqlite_check(conn, "v_uuid", same(uuids())));
    errors.extend(sqlite_check(conn, "v_json", same(jsons())));
    // rusqlite has no encoding of rust_decimal::Decimal: an application writes its text (exact,
    // whatever SQLite's NUMERIC affinity makes of it) and parses what it reads.
    for decimal in decimals() {
        let text = decimal.to_string();
        let back = conn
            .execute("UPDATE every_type SET v_decimal = ?1 WHERE id = 1", [&text])
            .and_then(|_| {
                conn.query_row("SELECT CAST(v_decimal AS TEXT) FROM every_type", [], |r| {
                    r.get::<_, String>(0)
                })
            });
        match back.map(|t| t.parse::<rust_decimal::Decimal>()) {
            Ok(Ok(back)) if back == decimal => {}
            other => errors.push(format!("sqlite v_decimal: wrote {text}, read {other:?}")),
        }
    }
    errors
}

#[test]
fn every_builtin_type_round_trips_through_rusqlite() {
    let p = Project::with_models(&[("src/models.rs", &models())]);
    p.qvdiff(&["migrate", "--no-input", "-m", "every type"])
        .expect_code(0);
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    let conn = rusqlite::Connection::open(p.path("app.db")).expect("open");
    conn.execute("INSERT INTO every_type (id) VALUES (1)", [])
        .expect("row");
    let errors = sqlite_round_trips(&conn);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

// PostgreSQL through the `postgres` crate.

/// [`sqlite_check`] on the server.
fn postgres_check<W, R>(
    client: &mut postgres::Client,
    column: &str,
    pairs: Vec<(W, R)>,
) -> Vec<String>
where
    W: postgres::types::ToSql + Sync + Debug,
    R: for<'a> postgres::types::FromSql<'a> + PartialEq + Debug,
{
    let mut errors = Vec::new();
    let update = format!("UPDATE every_type SET \"{column}\" = $1 WHERE id = 1");
    let select = format!("SELECT \"{column}\" FROM every_type WHERE id = 1");
    for (value, expected) in pairs {
        let back = client
            .execute(&update, &[&value])
            .and_then(|_| client.query_one(&select, &[]))
            .and_then(|row| row.try_get::<_, R>(0));
        match back {
            Ok(back) if back == expected => {}
            Ok(back) => errors.push(format!("postgres {column}: wrote {value:?}, read {back:?}")),
            Err(e) => errors.push(format!("postgres {column}: {value:?}: {e:?}")),
        }
    }
    let null = client
        .execute(&format!("UPDATE every_type SET \"{column}\" = NULL"), &[])
        .and_then(|_| client.query_one(&select, &[]))
        .and_then(|row| row.try_get::<_, Option<R>>(0));
    match null {
        Ok(None) => {}
        other => errors.push(format!("postgres {column}: NULL read back as {other:?}")),
    }
    errors
}

/// `values` written as `W` (the signed type of the column's width, as an application using the
/// `postgres` crate converts them) and expected back equal.
fn widened<T, W>(values: Vec<T>) -> Vec<(W, W)>
where
    W: TryFrom<T> + Clone,
    <W as TryFrom<T>>::Error: Debug,
{
    values
        .into_iter()
        .map(|v| {
            let wide = W::try_from(v).expect("fits");
            (wide.clone(), wide)
        })
        .collect()
}

/// Every column of `COLUMNS` on the server, each value as its Rust type (converted where the
/// `postgres` crate has no encoding of the Rust type, see the module documentation).
fn postgres_round_trips(client: &mut postgres::Client) -> Vec<String> {
    let mut errors = Vec::new();
    errors.extend(postgres_check(
        client,
        "v_i8",
        widened::<i8, i16>(extremes!(i8)),
    ));
    errors.extend(postgres_check(client, "v_i16", same(extremes!(i16))));
    errors.extend(postgres_check(client, "v_i32", same(extremes!(i32))));
    errors.extend(postgres_check(client, "v_i64", same(extremes!(i64))));
    let isizes = widened::<isize, i64>(extremes!(isize));
    errors.extend(postgres_check(client, "v_isize", isizes));
    errors.extend(postgres_check(
        client,
        "v_u8",
        widened::<u8, i16>(extremes!(u8)),
    ));
    errors.extend(postgres_check(
        client,
        "v_u16",
        widened::<u16, i32>(extremes!(u16)),
    ));
    errors.extend(postgres_check(
        client,
        "v_u32",
        widened::<u32, i64>(extremes!(u32)),
    ));
    let wide = vec![0u64, 1, i64::MAX as u64];
    errors.extend(postgres_check(
        client,
        "v_u64",
        widened::<u64, i64>(wide.clone()),
    ));
    let wide: Vec<usize> = wide.iter().map(|v| *v as usize).collect();
    errors.extend(postgres_check(
        client,
        "v_usize",
        widened::<usize, i64>(wide),
    ));
    errors.extend(postgres_check(client, "v_bool", same(vec![true, false])));
    let f32s = vec![f32::MIN, -0.5, 0.1, f32::MAX, f32::EPSILON];
    errors.extend(postgres_check(client, "v_f32", same(f32s)));
    let f64s = vec![f64::MIN, -0.5, 0.1, f64::MAX, f64::MIN_POSITIVE];
    errors.extend(postgres_check(client, "v_f64", same(f64s)));
    errors.extend(postgres_check(client, "v_string", same(texts())));
    let strs: Vec<(&str, String)> = ["", "größer 温度"]
        .iter()
        .map(|s| (*s, s.to_string()))
        .collect();
    errors.extend(postgres_check(client, "v_str", strs));
    let short: Vec<String> = texts()
        .into_iter()
        .filter(|t| t.chars().count() <= 12)
        .collect();
    errors.extend(postgres_check(client, VARCHAR_COLUMN, same(short)));
    errors.extend(postgres_check(client, "v_bytes", same(byte_strings())));
    errors.extend(postgres_check(
        client,
        "v_naive_date_time",
        same(date_times()),
    ));
    errors.extend(postgres_check(client, "v_date_time_utc", same(instants())));
    let primitive = same(time_date_times());
    errors.extend(postgres_check(client, "v_primitive_date_time", primitive));
    errors.extend(postgres_check(
        client,
        "v_offset_date_time",
        same(time_instants()),
    ));
    errors.extend(postgres_check(client, "v_naive_date", same(dates())));
    errors.extend(postgres_check(client, "v_date", same(time_dates())));
    errors.extend(postgres_check(client, "v_naive_time", same(times())));
    errors.extend(postgres_check(client, "v_time", same(time_times())));
    errors.extend(postgres_check(client, "v_uuid", same(uuids())));
    errors.extend(postgres_check(client, "v_json", same(jsons())));
    errors.extend(postgres_check(client, "v_decimal", same(decimals())));
    let lists: Vec<Vec<String>> = vec![vec![], texts(), vec!["a,b".into(), "{\"}".into()]];
    errors.extend(postgres_check(client, "v_strings", same(lists)));
    let numbers = vec![vec![], extremes!(i64), vec![0, -1, 0]];
    errors.extend(postgres_check(client, "v_i64s", same(numbers)));
    errors
}

#[test]
fn every_builtin_type_round_trips_through_the_postgres_crate() {
    let Some(db) = TestDatabase::create("round trips") else {
        assert!(std::env::var(URL_VAR).map_or(true, |u| u.is_empty()));
        return;
    };
    let p = Project::with_models(&[("src/models.rs", &models_with_arrays())]);
    p.write(
        "qvdiff.toml",
        "models = [\"src\"]\nmigrations = \"migrations\"\ndialect = \"postgres\"\n",
    );
    p.qvdiff(&["migrate", "--no-input", "-m", "every type"])
        .expect_code(0);
    let files: Vec<_> = std::fs::read_dir(p.path("migrations"))
        .expect("migrations")
        .map(|e| e.expect("entry").path())
        .collect();
    let file = std::fs::read_to_string(&files[0]).expect("migration");
    assert!(
        file.contains("\"v_strings\" text[]") && file.contains("\"v_i64s\" bigint[]"),
        "{file}"
    );
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    // The server's arrays read back as the models' lists: no drift.
    p.qvdiff(&["check", "--db", &db.url]).expect_code(0);
    let mut client = db.connect();
    client
        .execute("INSERT INTO every_type (id) VALUES (1)", &[])
        .expect("row");
    let errors = postgres_round_trips(&mut client);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}
