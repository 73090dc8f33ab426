//! Reading column types, defaults and expressions as the server stores them.

use super::naming::{display_ident, fold_identifier, unquote_identifier};
use crate::sqltext::{self, Token, TokenKind};
use qvdiff_core::UnusableDefault;

pub(super) fn serial_bits(type_text: &str) -> Option<u8> {
    match type_text.trim().to_ascii_lowercase().as_str() {
        "smallserial" | "serial2" => Some(16),
        "serial" | "serial4" => Some(32),
        "bigserial" | "serial8" => Some(64),
        _ => None,
    }
}

/// `NULL` (possibly cast or parenthesized): a default the server does not store.
pub(super) fn is_null_literal(expr: &str) -> bool {
    let tokens = sqltext::tokenize(expr);
    let mut words = tokens
        .iter()
        .filter(|t| !matches!(t.kind, TokenKind::Open | TokenKind::Close));
    let Some(first) = words.next() else {
        return false;
    };
    // `NULL`, `(NULL)`, `NULL::text`.
    first.is_word(expr, "NULL") && words.next().is_none_or(|t| &expr[t.start..t.end] == ":")
}

pub(super) fn is_nextval(expr: &str) -> bool {
    expr.trim_start()
        .get(..8)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("nextval("))
}

/// A default spelled as the server prints it where that is cheap to know: the SQL value
/// functions upper case (`current_timestamp` → `CURRENT_TIMESTAMP`), a call without arguments
/// lower case (`NOW()` → `now()`).
pub(super) fn canonical_default(expr: &str) -> String {
    const VALUE_FUNCTIONS: &[&str] = &[
        "CURRENT_DATE",
        "CURRENT_TIME",
        "CURRENT_TIMESTAMP",
        "LOCALTIME",
        "LOCALTIMESTAMP",
        "CURRENT_USER",
        "CURRENT_ROLE",
        "SESSION_USER",
        "USER",
        "CURRENT_CATALOG",
        "CURRENT_SCHEMA",
    ];
    let trimmed = expr.trim();
    let upper = trimmed.to_ascii_uppercase();
    if VALUE_FUNCTIONS.contains(&upper.as_str()) {
        return upper;
    }
    if let Some(name) = trimmed.strip_suffix("()") {
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return format!("{}()", name.to_ascii_lowercase());
        }
    }
    trimmed.to_string()
}

/// The columns of `columns` that `expr` names, in order of first use. A name followed by `(` is
/// a function, one followed by `.` a qualifier, one after `::` a type.
pub(super) fn referenced_columns(expr: &str, columns: &[String]) -> Vec<String> {
    let tokens = sqltext::tokenize(expr);
    let mut found: Vec<String> = Vec::new();
    for i in 0..tokens.len() {
        if let Some(name) = column_reference(expr, &tokens, i) {
            if columns.contains(&name) && !found.contains(&name) {
                found.push(name);
            }
        }
    }
    found
}

/// `expr` with every reference to column `old` renamed to `new`, spelled as the server prints
/// a name (quoted only when it must be).
pub(crate) fn rename_in_expression(expr: &str, old: &str, new: &str) -> String {
    let tokens = sqltext::tokenize(expr);
    let mut out = String::with_capacity(expr.len());
    let mut copied = 0;
    for (i, token) in tokens.iter().enumerate() {
        if column_reference(expr, &tokens, i).as_deref() == Some(old) {
            out.push_str(&expr[copied..token.start]);
            out.push_str(&display_ident(new));
            copied = token.end;
        }
    }
    out.push_str(&expr[copied..]);
    out
}

/// The column name token `i` would be, if it can be one.
pub(super) fn column_reference(expr: &str, tokens: &[Token], i: usize) -> Option<String> {
    let token = tokens[i];
    let text = &expr[token.start..token.end];
    let next = tokens.get(i + 1).map(|t| &expr[t.start..t.end]);
    if next == Some("(") || next == Some(".") {
        return None;
    }
    let before = |back: usize| {
        i.checked_sub(back)
            .and_then(|j| tokens.get(j))
            .map(|t| &expr[t.start..t.end])
    };
    if before(1) == Some(":") && before(2) == Some(":") {
        return None;
    }
    match token.kind {
        TokenKind::Word => Some(fold_identifier(text)),
        TokenKind::QuotedIdent => Some(unquote_identifier(text)),
        _ => None,
    }
}

/// Why the server refuses `expr` where `place` is (`DEFAULT expression`, `check constraint`,
/// `transform expression`, the server's own words) whatever the table holds: a subquery, or an
/// aggregate function. `None`: nothing the replay can tell (the function catalog is the
/// server's; `migrate` proves there too when one is at hand).
pub(super) fn refused_in(expr: &str, place: &str) -> Option<String> {
    // Aggregates the server has built in; followed by `(` they cannot be anything else.
    const AGGREGATES: &[&str] = &[
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "array_agg",
        "string_agg",
        "bool_and",
        "bool_or",
        "every",
        "json_agg",
        "jsonb_agg",
    ];
    let tokens = sqltext::tokenize(expr);
    for (i, token) in tokens.iter().enumerate() {
        if token.kind != TokenKind::Word {
            continue;
        }
        let word = &expr[token.start..token.end];
        if word.eq_ignore_ascii_case("SELECT") {
            return Some(format!("cannot use subquery in {place}"));
        }
        let called = tokens.get(i + 1).is_some_and(|t| t.kind == TokenKind::Open);
        if called && AGGREGATES.contains(&word.to_ascii_lowercase().as_str()) {
            let place = place.strip_suffix(" expression").unwrap_or(place);
            let place = match place {
                "check constraint" => "check constraints".to_string(),
                other => format!("{other} expressions"),
            };
            return Some(format!("aggregate functions are not allowed in {place}"));
        }
    }
    None
}

/// Functions of SQLite that PostgreSQL has no function of the same name for: the server refuses
/// a `DEFAULT` that calls one, so the proof refuses it first (see [`unusable_defaults`]).
const SQLITE_ONLY_FUNCTIONS: &[&str] = &[
    "changes",
    "datetime",
    "hex",
    "ifnull",
    "instr",
    "julianday",
    "last_insert_rowid",
    "printf",
    "randomblob",
    "sqlite_version",
    "strftime",
    "total_changes",
    "unixepoch",
    "zeroblob",
];

/// The first function `expr` calls that PostgreSQL does not have (one of SQLite's own, e.g.
/// `datetime`), as written.
fn sqlite_only_call(expr: &str) -> Option<&str> {
    let tokens = sqltext::tokenize(expr);
    tokens.windows(2).find_map(|pair| {
        let name = &expr[pair[0].start..pair[0].end];
        let is_call = pair[0].kind == TokenKind::Word && pair[1].kind == TokenKind::Open;
        (is_call
            && SQLITE_ONLY_FUNCTIONS
                .iter()
                .any(|f| f.eq_ignore_ascii_case(name)))
        .then_some(name)
    })
}

/// The SQL defaults of `schema` (as PostgreSQL stores it) that call a function only SQLite has
/// (a default written for SQLite in a project with both histories): the server would refuse the
/// migration at `upgrade`. Part of the proof of a new migration, which runs on the pure replay.
pub fn unusable_defaults(schema: &qvdiff_core::Schema) -> Vec<UnusableDefault> {
    let mut unusable = Vec::new();
    for table in &schema.tables {
        for column in &table.columns {
            let Some(default) = &column.default else {
                continue;
            };
            let expr = crate::render::render_default(default);
            if let Some(function) = sqlite_only_call(&expr) {
                unusable.push(UnusableDefault {
                    table: table.name.clone(),
                    column: column.name.clone(),
                    reason: format!("function {function}() is SQLite's; PostgreSQL has none"),
                    default: expr,
                });
            }
        }
    }
    unusable
}

#[cfg(test)]
mod sqlite_only_tests {
    use super::sqlite_only_call;

    #[test]
    fn finds_calls_of_sqlite_functions_only() {
        assert_eq!(sqlite_only_call("datetime('now')"), Some("datetime"));
        assert_eq!(
            sqlite_only_call("(STRFTIME('%s', 'now'))"),
            Some("STRFTIME")
        );
        assert_eq!(sqlite_only_call("now()"), None);
        assert_eq!(sqlite_only_call("CURRENT_TIMESTAMP"), None);
        // A word that is not a call, and a quoted text, are no calls.
        assert_eq!(sqlite_only_call("'datetime(x)'"), None);
        assert_eq!(sqlite_only_call("\"hex\""), None);
    }
}
