//! Pure rendering of schema objects as SQLite SQL, and the inverse mappings introspection needs
//! (declared type text → logical type, default text → [`DefaultValue`]).
//!
//! Rendering and parsing are written as a pair: whatever [`render_type`] and [`render_default`]
//! produce, [`parse_declared_type`] and [`parse_default`] read back to the same value, which is
//! what makes `introspect(apply(create_table_sql(normalize(S)))) == normalize(S)` hold.

use crate::sqltext::{self, TokenKind};
use qvdiff_core::{Column, ColumnType, DefaultValue, FkAction, ForeignKey, Index, Table};

/// The SQLite declared type for a logical column type.
pub fn render_type(ty: &ColumnType) -> String {
    let mut text = String::new();
    push_type(&mut text, ty);
    text
}

/// [`render_type`], appended to `out` (a 1000-table `CREATE` script renders 20 000 of them).
fn push_type(out: &mut String, ty: &ColumnType) {
    use std::fmt::Write;
    let fixed = match ty {
        ColumnType::Integer { .. } => "INTEGER",
        ColumnType::Float | ColumnType::Float32 => "REAL",
        ColumnType::Text { max_length: None } => "TEXT",
        ColumnType::Text {
            max_length: Some(n),
        } => {
            let _ = write!(out, "VARCHAR({n})");
            return;
        }
        ColumnType::Bool => "BOOLEAN",
        // One declared type for both: SQLite stores the text the driver writes (an instant's
        // text carries its offset), and DESIGN.md keeps SQLite histories as they were.
        ColumnType::DateTime | ColumnType::DateTimeTz => "DATETIME",
        ColumnType::Date => "DATE",
        ColumnType::Time => "TIME",
        ColumnType::Uuid => "CHAR(36)",
        ColumnType::Json => "JSON",
        ColumnType::Decimal {
            precision: Some(p),
            scale: Some(s),
        } => {
            let _ = write!(out, "NUMERIC({p}, {s})");
            return;
        }
        ColumnType::Decimal {
            precision: Some(p),
            scale: None,
        } => {
            let _ = write!(out, "NUMERIC({p})");
            return;
        }
        // A scale without a precision cannot be written in SQL.
        ColumnType::Decimal {
            precision: None, ..
        } => "NUMERIC",
        ColumnType::Blob => "BLOB",
        // Never planned: SQLite has no arrays, and its planner refuses one (`refuse_arrays`).
        ColumnType::Array { .. } => "TEXT",
        ColumnType::Custom { sql } => sql,
        // The values are a CHECK after the column's other constraints (`push_column_definition`).
        ColumnType::Enum { .. } => "TEXT",
    };
    out.push_str(fixed);
}

/// The logical type of a declared SQLite type: the spellings [`render_type`] writes (ASCII
/// case-insensitively, whatever the spacing inside the parentheses) map back; anything else is
/// `Custom` with the text kept verbatim.
pub fn parse_declared_type(declared: &str) -> ColumnType {
    let custom = || ColumnType::Custom {
        sql: declared.to_string(),
    };
    // One bare word (`INTEGER`, `text`): most declared types, read without tokenizing.
    if !declared.is_empty() && declared.bytes().all(|b| b.is_ascii_alphabetic()) {
        let known = [
            ("INTEGER", ColumnType::Integer { bits: 64 }),
            ("REAL", ColumnType::Float),
            ("TEXT", ColumnType::Text { max_length: None }),
            ("BOOLEAN", ColumnType::Bool),
            ("DATETIME", ColumnType::DateTime),
            ("DATE", ColumnType::Date),
            ("TIME", ColumnType::Time),
            ("JSON", ColumnType::Json),
            ("BLOB", ColumnType::Blob),
        ];
        if let Some((_, ty)) = known
            .into_iter()
            .find(|(word, _)| word.eq_ignore_ascii_case(declared))
        {
            return ty;
        }
    }
    let tokens = sqltext::tokenize(declared);
    let Some(first) = tokens.first() else {
        return custom();
    };
    if first.kind != TokenKind::Word {
        return custom();
    }
    let word = first.text(declared).to_ascii_uppercase();
    // Numbers inside `( … )` after the type word; `None` when the shape is anything else.
    let args: Option<Vec<u32>> = match &tokens[1..] {
        [] => Some(Vec::new()),
        [open, rest @ .., close]
            if open.kind == TokenKind::Open && close.kind == TokenKind::Close =>
        {
            let mut numbers = Vec::new();
            for (i, token) in rest.iter().enumerate() {
                let expected_number = i % 2 == 0;
                match token.kind {
                    TokenKind::Number if expected_number => {
                        match token.text(declared).parse::<u32>() {
                            Ok(n) => numbers.push(n),
                            Err(_) => return custom(),
                        }
                    }
                    TokenKind::Comma if !expected_number && i + 1 < rest.len() => {}
                    _ => return custom(),
                }
            }
            Some(numbers)
        }
        _ => None,
    };
    let Some(args) = args else {
        return custom();
    };
    match (word.as_str(), args.as_slice()) {
        ("INTEGER", []) => ColumnType::Integer { bits: 64 },
        ("REAL", []) => ColumnType::Float,
        ("TEXT", []) => ColumnType::Text { max_length: None },
        ("VARCHAR", [n]) => ColumnType::Text {
            max_length: Some(*n),
        },
        ("BOOLEAN", []) => ColumnType::Bool,
        ("DATETIME", []) => ColumnType::DateTime,
        ("DATE", []) => ColumnType::Date,
        ("TIME", []) => ColumnType::Time,
        ("CHAR", [36]) => ColumnType::Uuid,
        ("JSON", []) => ColumnType::Json,
        ("NUMERIC", []) => ColumnType::Decimal {
            precision: None,
            scale: None,
        },
        ("NUMERIC", [p]) => match u8::try_from(*p) {
            Ok(p) => ColumnType::Decimal {
                precision: Some(p),
                scale: None,
            },
            Err(_) => custom(),
        },
        ("NUMERIC", [p, s]) => match (u8::try_from(*p), u8::try_from(*s)) {
            (Ok(p), Ok(s)) => ColumnType::Decimal {
                precision: Some(p),
                scale: Some(s),
            },
            _ => custom(),
        },
        ("BLOB", []) => ColumnType::Blob,
        // SQLite stores its standard type names (those STRICT tables accept) upper-cased.
        ("INT" | "ANY", []) if tokens.len() == 1 => ColumnType::Custom { sql: word },
        _ => custom(),
    }
}

/// The type SQLite reads back for a column declared `ty`: `parse_declared_type(&render_type(ty))`,
/// without rendering and parsing the types that read back as they are (normalizing a 1000-table
/// schema meets 20 000 of them).
pub(crate) fn stored_type(ty: &ColumnType) -> ColumnType {
    match ty {
        ColumnType::Integer { .. } => ColumnType::Integer { bits: 64 },
        ColumnType::Float
        | ColumnType::Text { .. }
        | ColumnType::Bool
        | ColumnType::DateTime
        | ColumnType::Date
        | ColumnType::Time
        | ColumnType::Uuid
        | ColumnType::Json
        | ColumnType::Blob
        | ColumnType::Array { .. }
        | ColumnType::Decimal {
            precision: Some(_), ..
        }
        | ColumnType::Enum { .. } => ty.clone(),
        ColumnType::DateTimeTz => ColumnType::DateTime,
        ColumnType::Float32 => ColumnType::Float,
        ColumnType::Decimal {
            precision: None, ..
        }
        | ColumnType::Custom { .. } => parse_declared_type(&render_type(ty)),
    }
}

/// Quotes an identifier for SQLite: always double quotes, embedded `"` doubled. Keywords,
/// spaces and non-ASCII names are all safe this way.
pub fn quote_ident(name: &str) -> String {
    let mut quoted = String::with_capacity(name.len() + 2);
    push_quoted_ident(&mut quoted, name);
    quoted
}

/// [`quote_ident`], appended to `out`.
fn push_quoted_ident(out: &mut String, name: &str) {
    out.push('"');
    for (i, part) in name.split('"').enumerate() {
        if i > 0 {
            out.push_str("\"\"");
        }
        out.push_str(part);
    }
    out.push('"');
}

/// A string literal: single quotes, embedded `'` doubled.
pub fn quote_string(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The SQL for a default value, as it can follow `DEFAULT` (and be used as an expression).
///
/// Bools are `TRUE`/`FALSE` (not `1`/`0`) so introspection reads them back as bools whatever the
/// column type. Floats use the shortest text that parses back to the same `f64` and always
/// contain a `.` or an exponent, so they are never read back as integers. A raw SQL expression is
/// wrapped in parentheses unless it is a bare literal or keyword, as SQLite requires.
pub fn render_default(value: &DefaultValue) -> String {
    match value {
        DefaultValue::Integer(i) => i.to_string(),
        DefaultValue::Float(f) => render_float(*f),
        DefaultValue::Bool(true) => "TRUE".to_string(),
        DefaultValue::Bool(false) => "FALSE".to_string(),
        DefaultValue::Text(s) => quote_string(s),
        DefaultValue::PerDialect(_) => render_default(&value.for_dialect("sqlite")),
        DefaultValue::Sql(expr) => {
            let inner = sqltext::strip_outer_parens(expr);
            if is_bare_default(inner) {
                inner.to_string()
            } else {
                format!("({inner})")
            }
        }
    }
}

fn render_float(f: f64) -> String {
    if f.is_nan() {
        return "NULL".to_string();
    }
    if f.is_infinite() {
        // SQLite reads an out-of-range literal as ±Inf.
        return if f > 0.0 { "9e999" } else { "-9e999" }.to_string();
    }
    let magnitude = f.abs();
    let text = if magnitude != 0.0 && !(1e-5..1e16).contains(&magnitude) {
        format!("{f:e}")
    } else {
        format!("{f}")
    };
    if text.contains(['.', 'e', 'E']) {
        text
    } else {
        format!("{text}.0")
    }
}

/// Whether `text` may follow `DEFAULT` without parentheses: a single literal or one of the
/// keywords SQLite accepts there.
fn is_bare_default(text: &str) -> bool {
    let tokens = sqltext::tokenize(text);
    let literal = match tokens.as_slice() {
        [single] => *single,
        [sign, number]
            if sign.kind == TokenKind::Other
                && matches!(sign.text(text), "-" | "+")
                && number.kind == TokenKind::Number =>
        {
            return true
        }
        [x, blob]
            if x.is_word(text, "X") && blob.kind == TokenKind::String && x.end == blob.start =>
        {
            return true
        }
        _ => return false,
    };
    match literal.kind {
        TokenKind::Number | TokenKind::String => true,
        TokenKind::Word => [
            "NULL",
            "TRUE",
            "FALSE",
            "CURRENT_TIME",
            "CURRENT_DATE",
            "CURRENT_TIMESTAMP",
        ]
        .iter()
        .any(|word| literal.is_word(text, word)),
        _ => false,
    }
}

/// Reads default text as SQLite stores it (`PRAGMA table_xinfo.dflt_value`) back into a value,
/// given the column's logical type. `NULL` is no default.
pub fn parse_default(text: &str, ty: &ColumnType) -> Option<DefaultValue> {
    let inner = sqltext::strip_outer_parens(text);
    let tokens = sqltext::tokenize(inner);
    if tokens.len() == 1 && tokens[0].kind == TokenKind::Word {
        let word = tokens[0].text(inner);
        if word.eq_ignore_ascii_case("NULL") {
            return None;
        }
        if word.eq_ignore_ascii_case("TRUE") {
            return Some(DefaultValue::Bool(true));
        }
        if word.eq_ignore_ascii_case("FALSE") {
            return Some(DefaultValue::Bool(false));
        }
    }
    if tokens.len() == 1 && tokens[0].kind == TokenKind::String && tokens[0].end == inner.len() {
        return Some(DefaultValue::Text(sqltext::unquote(inner)));
    }
    if let Some(number) = parse_number(inner, ty) {
        return Some(number);
    }
    Some(DefaultValue::Sql(inner.to_string()))
}

fn parse_number(text: &str, ty: &ColumnType) -> Option<DefaultValue> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty()
        || !digits
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        || !digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
    {
        return None;
    }
    let is_integer_text = digits.chars().all(|c| c.is_ascii_digit());
    if is_integer_text {
        if let Ok(i) = text.parse::<i64>() {
            return Some(match ty {
                ColumnType::Float | ColumnType::Float32 => DefaultValue::Float(i as f64),
                ColumnType::Bool if i == 0 || i == 1 => DefaultValue::Bool(i == 1),
                _ => DefaultValue::Integer(i),
            });
        }
    }
    let trimmed = text.strip_prefix('+').unwrap_or(text);
    trimmed.parse::<f64>().ok().map(DefaultValue::Float)
}

/// The column definition line inside `CREATE TABLE` / `ADD COLUMN` (without trailing comma).
/// `inline_primary_key` adds `PRIMARY KEY [AUTOINCREMENT]` for a single-column key.
pub(crate) fn column_definition(column: &Column, inline_primary_key: bool) -> String {
    let mut line = String::new();
    push_column_definition(&mut line, column, inline_primary_key);
    line
}

/// [`column_definition`], appended to `out`.
fn push_column_definition(out: &mut String, column: &Column, inline_primary_key: bool) {
    push_quoted_ident(out, &column.name);
    let before_type = out.len();
    out.push(' ');
    push_type(out, &column.ty);
    if out.len() == before_type + 1 {
        out.pop(); // an empty (custom) type: no space either
    }
    if !column.nullable {
        out.push_str(" NOT NULL");
    }
    if inline_primary_key {
        out.push_str(" PRIMARY KEY");
        if column.autoincrement {
            out.push_str(" AUTOINCREMENT");
        }
    }
    if let Some(default) = &column.default {
        out.push_str(" DEFAULT ");
        out.push_str(&render_default(default));
    }
    if let ColumnType::Enum { name, values, .. } = &column.ty {
        push_enum_check(out, &column.name, name, values);
    }
}

/// ` CONSTRAINT "task_status" CHECK ("status" IN ('todo', 'done'))`: the values an enum column
/// accepts, named by the enum's type so introspection reads the same enum back
/// ([`crate::sqltext`]'s `enum_checks`). NULL passes (`NULL IN (…)` is not false), as an
/// `Option<Enum>` needs.
fn push_enum_check(out: &mut String, column: &str, type_name: &str, values: &[String]) {
    if !type_name.is_empty() {
        out.push_str(" CONSTRAINT ");
        push_quoted_ident(out, type_name);
    }
    out.push_str(" CHECK (");
    push_quoted_ident(out, column);
    out.push_str(" IN (");
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&quote_string(value));
    }
    out.push_str("))");
}

pub(crate) fn column_list(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `REFERENCES "t" ("c") ON DELETE … ON UPDATE …` (actions omitted when `NO ACTION`).
pub(crate) fn references_clause(fk: &ForeignKey) -> String {
    let mut clause = format!("REFERENCES {}", quote_ident(&fk.ref_table));
    if !fk.ref_columns.is_empty() {
        clause.push_str(&format!(" ({})", column_list(&fk.ref_columns)));
    }
    if fk.on_delete != FkAction::NoAction {
        clause.push_str(" ON DELETE ");
        clause.push_str(fk.on_delete.sql());
    }
    if fk.on_update != FkAction::NoAction {
        clause.push_str(" ON UPDATE ");
        clause.push_str(fk.on_update.sql());
    }
    clause
}

/// The `CREATE TABLE` statement alone (ending in `;`), named `name` (a rebuild creates the new
/// table under a temporary name).
pub(crate) fn create_table_statement(table: &Table, name: &str) -> String {
    let single_pk = match table.primary_key.as_slice() {
        [single] if table.column(single).is_some() => Some(single.as_str()),
        _ => None,
    };
    let mut sql = String::with_capacity(32 + 40 * table.columns.len());
    sql.push_str("CREATE TABLE ");
    push_quoted_ident(&mut sql, name);
    sql.push_str(" (");
    // Each definition on a line of its own, the lines separated by commas.
    let mut first = true;
    let mut next_line = |sql: &mut String| {
        sql.push_str(if first { "\n    " } else { ",\n    " });
        first = false;
    };
    for column in &table.columns {
        next_line(&mut sql);
        push_column_definition(&mut sql, column, single_pk == Some(column.name.as_str()));
    }
    if single_pk.is_none() && !table.primary_key.is_empty() {
        next_line(&mut sql);
        sql.push_str("PRIMARY KEY (");
        sql.push_str(&column_list(&table.primary_key));
        sql.push(')');
    }
    for unique in &table.uniques {
        next_line(&mut sql);
        if let Some(name) = &unique.name {
            sql.push_str("CONSTRAINT ");
            push_quoted_ident(&mut sql, name);
            sql.push(' ');
        }
        sql.push_str("UNIQUE (");
        sql.push_str(&column_list(&unique.columns));
        sql.push(')');
    }
    for fk in &table.foreign_keys {
        next_line(&mut sql);
        sql.push_str("FOREIGN KEY (");
        sql.push_str(&column_list(&fk.columns));
        sql.push_str(") ");
        sql.push_str(&references_clause(fk));
    }
    for check in &table.checks {
        next_line(&mut sql);
        if !check.name.is_empty() {
            sql.push_str("CONSTRAINT ");
            push_quoted_ident(&mut sql, &check.name);
            sql.push(' ');
        }
        sql.push_str("CHECK (");
        sql.push_str(check.expr.trim());
        sql.push(')');
    }
    if first {
        // No definition at all (SQLite refuses it; the text still says what was asked).
        sql.push_str("\n    ");
    }
    sql.push_str("\n);");
    sql
}

/// `CREATE [UNIQUE] INDEX "name" ON "table" ("a", "b")[ WHERE <predicate>];`
pub fn create_index_sql(table: &str, index: &Index) -> String {
    format!(
        "CREATE {}INDEX {} ON {} ({}){};",
        if index.unique { "UNIQUE " } else { "" },
        quote_ident(&index.name),
        quote_ident(table),
        column_list(&index.columns),
        match &index.predicate {
            Some(predicate) => format!(" WHERE {predicate}"),
            None => String::new(),
        }
    )
}

/// A readable multi-line `CREATE TABLE` for `table`, followed by one `CREATE [UNIQUE] INDEX`
/// statement per index, each on its own line(s) and ending in `;`.
///
/// A single-column primary key is declared inline (`INTEGER PRIMARY KEY AUTOINCREMENT` when
/// autoincrement); a composite one, unique constraints, foreign keys and checks are table-level.
pub fn create_table_sql(table: &Table) -> String {
    let mut statements = vec![create_table_statement(table, &table.name)];
    statements.extend(
        table
            .indexes
            .iter()
            .map(|index| create_index_sql(&table.name, index)),
    );
    statements.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip() {
        // SQLite has one integer type: narrower widths are stored as 64 bits (checked below).
        let types = ColumnType::examples()
            .into_iter()
            .filter(|ty| !matches!(ty, ColumnType::Integer { bits } if *bits != 64));
        for ty in types {
            assert_eq!(parse_declared_type(&render_type(&ty)), ty);
            assert_eq!(stored_type(&ty), ty);
        }
        for ty in [
            ColumnType::Integer { bits: 16 },
            ColumnType::Decimal {
                precision: None,
                scale: Some(2),
            },
            ColumnType::Custom { sql: "int".into() },
            ColumnType::Custom {
                sql: "varchar( 9 )".into(),
            },
        ] {
            assert_eq!(stored_type(&ty), parse_declared_type(&render_type(&ty)));
        }
        assert_eq!(
            parse_declared_type("numeric( 10 ,2 )"),
            ColumnType::Decimal {
                precision: Some(10),
                scale: Some(2)
            }
        );
        assert_eq!(
            parse_declared_type("VARCHAR(a)"),
            ColumnType::Custom {
                sql: "VARCHAR(a)".into()
            }
        );
        assert_eq!(render_type(&ColumnType::Integer { bits: 16 }), "INTEGER");
    }

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_ident("order"), "\"order\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("größe x"), "\"größe x\"");
    }

    #[test]
    fn defaults_round_trip() {
        let cases = [
            (DefaultValue::Integer(-5), ColumnType::Integer { bits: 64 }),
            (DefaultValue::Float(0.1), ColumnType::Float),
            (DefaultValue::Float(1.0), ColumnType::Float),
            (DefaultValue::Float(1e300), ColumnType::Float),
            (DefaultValue::Float(-2.5e-10), ColumnType::Float),
            (DefaultValue::Bool(true), ColumnType::Bool),
            (DefaultValue::Bool(false), ColumnType::Integer { bits: 64 }),
            (
                DefaultValue::Text("it's; -- ok".into()),
                ColumnType::Text { max_length: None },
            ),
            (
                DefaultValue::Sql("CURRENT_TIMESTAMP".into()),
                ColumnType::DateTime,
            ),
            (
                DefaultValue::Sql("datetime('now')".into()),
                ColumnType::DateTime,
            ),
            (
                DefaultValue::Sql("'a' || 'b'".into()),
                ColumnType::Text { max_length: None },
            ),
        ];
        for (value, ty) in cases {
            let text = render_default(&value);
            assert_eq!(parse_default(&text, &ty), Some(value.clone()), "{text}");
        }
        assert_eq!(render_default(&DefaultValue::Float(1.0)), "1.0");
        assert_eq!(
            render_default(&DefaultValue::Sql("datetime('now')".into())),
            "(datetime('now'))"
        );
        assert_eq!(parse_default("NULL", &ColumnType::Float), None);
        assert_eq!(
            parse_default("1", &ColumnType::Bool),
            Some(DefaultValue::Bool(true))
        );
    }
}
