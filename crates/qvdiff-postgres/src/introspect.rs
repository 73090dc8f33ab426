//! Reading a live PostgreSQL database back into a [`Schema`], from `pg_catalog`.
//!
//! Three bulk queries per schema (columns, constraints, indexes), never one per table, sent as
//! one string with the lookup of the default schema, so a thousand tables introspect in one
//! round trip. Needs PostgreSQL 12 or later
//! (`pg_attribute.attgenerated`).
//!
//! What comes back, exactly (the planner's `normalize` produces the same shape from models):
//!
//! - **Tables**: ordinary and partitioned tables of the schema (`relkind` `r`, `p`), except the
//!   ledger [`qvdiff_core::runner::LEDGER_TABLE`], its audit table and partitions (a partition is part of its parent, not a table a
//!   model declares). Columns in `attnum` order; dropped and generated columns are skipped.
//! - **Columns**: `ty` is [`parse_type`] of `format_type(atttypid, atttypmod)`; `nullable` is
//!   `NOT attnotnull`; an identity column (`GENERATED … AS IDENTITY`) and a column whose default
//!   is `nextval(…)` (`serial`) are `autoincrement` with no default; any other default is
//!   [`parse_default`] of `pg_get_expr(adbin, adrelid)`.
//! - **Primary key**: the `p` constraint's columns in key order.
//! - **Uniques**: `u` constraints, columns in key order; `name` is `None` when the constraint has
//!   the name qvdiff gives an unnamed one ([`unique_name`] with no name), else `Some`.
//! - **Indexes**: indexes that back no primary-key, unique or exclusion constraint. A key column
//!   is its name; an expression is `pg_get_indexdef(index, k, true)` (e.g. `lower(title::text)`).
//!   A partial index's `WHERE` is `pg_get_expr(indpred, indrelid, true)` in the spelling of
//!   [`crate::replay::canonical_predicate`] (the server's casts and parentheses taken out), so it
//!   compares equal to the model's `where = "…"`. Not represented: sort order, operator classes,
//!   collations, `INCLUDE` columns and the access method.
//! - **Foreign keys**: `f` constraints, columns and referenced columns in key order; `ref_table`
//!   is the referenced table's bare name (a table in another schema is not qualified). `MATCH`,
//!   `DEFERRABLE` and `NOT VALID` are not represented.
//! - **Checks**: `c` constraints as [`Check`]`{ name, expr }`. PostgreSQL stores the parsed
//!   expression and prints it back its own way: `price > 0` on a `double precision` column reads
//!   back as `price > 0::double precision`, `length(title) > 0` on a `varchar` as
//!   `length(title::text) > 0`, `status IN ('a', 'b')` as
//!   `status = ANY (ARRAY['a'::text, 'b'::text])` — and a column's type change rewrites it again.
//!   Nothing without a server can predict that text, so the planner follows every CHECK it
//!   creates with a comment on the constraint holding the model's expression
//!   (`qvdiff: price > 0`, see [`crate::ddl::check_comment_sql`]), and `expr` is read from that
//!   comment. Without one (a check written by hand, or re-created by hand, which loses the
//!   comment) `expr` is the server's text ([`check_expression`]) and will usually differ from the
//!   model's: a real difference, since qvdiff did not write that constraint. A comment is also
//!   ignored when it no longer names the table's columns the constraint uses (a column renamed
//!   by hand: the server renames it in the expression, not in the comment).
//! - **Views and triggers**: not read (empty).
//!
//! The queries run one after the other without a transaction of their own (the caller may be in
//! one: any [`Session`] will do, a transaction included); concurrent DDL between them can give a
//! mixed picture. Every value is read as text (arrays as JSON), so a connection of any driver
//! can serve.

use crate::ddl::CHECK_COMMENT_PREFIX;
use crate::error::PgError;
use crate::render::{
    parse_default, parse_type, quote_ident, quote_string, unique_name, MAX_IDENTIFIER_BYTES,
};
use crate::session::{Session, TextRow};
use crate::sqltext::{self, TokenKind};
use qvdiff_core::runner::is_bookkeeping_table;
use qvdiff_core::{Check, Column, ColumnType, FkAction, ForeignKey, Index, Schema, Table, Unique};
use std::collections::{BTreeMap, BTreeSet};

/// What introspection does not read, so what drift detection (`check --db`) cannot see: one
/// line for people, kept beside the list above.
pub const NOT_COMPARED: &str = "views, triggers, functions, extensions, the NOT VALID and \
     DEFERRABLE state of constraints, and of indexes the sort order, operator classes, \
     collations and INCLUDE columns";

/// The error of introspection: a failed query, or no schema to read.
pub type IntrospectError = PgError;

const CONTEXT: &str = "reading the database schema";

/// The relation kinds read as tables.
const TABLE_KINDS: &str = "c.relkind IN ('r', 'p') AND NOT c.relispartition";

/// The schema that unqualified names resolve to: the first existing schema of `search_path`
/// (`current_schemas(false)`), normally `public`. An error when none of them exists.
pub fn default_schema(session: &mut (impl Session + ?Sized)) -> Result<String, PgError> {
    let name = session
        .query_value(&format!("SELECT {DEFAULT_SCHEMA_SQL}::text"))
        .map_err(|e| PgError::new(DEFAULT_SCHEMA_CONTEXT, e.message))?;
    name.ok_or_else(no_default_schema)
}

/// The default schema (see [`default_schema`]) as an SQL expression: NULL when there is none.
const DEFAULT_SCHEMA_SQL: &str = "(pg_catalog.current_schemas(false))[1]";

const DEFAULT_SCHEMA_CONTEXT: &str = "finding the default schema (search_path)";

fn no_default_schema() -> PgError {
    PgError::new(
        DEFAULT_SCHEMA_CONTEXT,
        "no schema of the search_path exists; create one or set search_path",
    )
}

/// The columns of a text row, read in order.
struct Columns(std::vec::IntoIter<Option<String>>);

impl Columns {
    fn new(row: TextRow) -> Columns {
        Columns(row.into_iter())
    }

    /// The next column; NULL (or a missing column) is `None`.
    fn opt(&mut self) -> Option<String> {
        self.0.next().flatten()
    }

    /// The next column, NULL read as empty text.
    fn text(&mut self) -> String {
        self.opt().unwrap_or_default()
    }

    /// The next column as a boolean (`t`).
    fn flag(&mut self) -> bool {
        self.opt().as_deref() == Some("t")
    }

    /// The next column as a list of names, sent as a JSON array (`array_to_json`).
    fn names(&mut self) -> Result<Vec<Option<String>>, PgError> {
        match self.opt() {
            None => Ok(Vec::new()),
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                PgError::new(
                    CONTEXT,
                    format!("unexpected list {json:?} from the server: {e}"),
                )
            }),
        }
    }
}

/// Reads the default schema (see [`default_schema`]) of the database into a normalized
/// [`Schema`]. See the module documentation for exactly what is read and how.
pub fn introspect(session: &mut (impl Session + ?Sized)) -> Result<Schema, IntrospectError> {
    read_schema(session, None)
}

/// Reads the tables of schema `schema_name` into a normalized [`Schema`]. A schema that does not
/// exist reads as an empty [`Schema`].
pub fn introspect_in(
    session: &mut (impl Session + ?Sized),
    schema_name: &str,
) -> Result<Schema, IntrospectError> {
    read_schema(session, Some(schema_name))
}

/// Reads the tables of schema `schema_name` (`None`: the default schema, found in the same
/// query) in one round trip: the three bulk queries go in one string, each row led by a word
/// that says which query it answers.
fn read_schema(
    session: &mut (impl Session + ?Sized),
    schema_name: Option<&str>,
) -> Result<Schema, IntrospectError> {
    let schema_literal = match schema_name {
        Some(name) => quote_string(name),
        None => DEFAULT_SCHEMA_SQL.to_string(),
    };
    let mut sql = String::new();
    if schema_name.is_none() {
        sql.push_str(&format!("SELECT 'schema', {DEFAULT_SCHEMA_SQL}::text;\n"));
    }
    sql.push_str(&format!(
        "{};\n{};\n{}",
        columns_sql(&schema_literal),
        constraints_sql(&schema_literal),
        indexes_sql(&schema_literal)
    ));
    let rows = session
        .simple_query(&sql)
        .map_err(|e| PgError::new(CONTEXT, e.message))?;
    let (mut default_schema, mut columns, mut constraints, mut indexes) =
        (None, Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        let mut values = row.into_iter();
        let answers = values.next().flatten();
        let rest: TextRow = values.collect();
        match answers.as_deref() {
            Some("schema") => default_schema = rest.into_iter().next().flatten(),
            Some("columns") => columns.push(rest),
            Some("constraints") => constraints.push(rest),
            Some("indexes") => indexes.push(rest),
            _ => {}
        }
    }
    if schema_name.is_none() && default_schema.is_none() {
        return Err(no_default_schema());
    }
    tables_of(columns, constraints, indexes)
}

/// The columns query: a LEFT JOIN so that a table with no columns (legal in PostgreSQL) still
/// appears. `schema` is an SQL expression.
fn columns_sql(schema: &str) -> String {
    format!(
        "SELECT 'columns', c.relname::text, pg_catalog.obj_description(c.oid, 'pg_class'), \
                        a.attname::text, \
                        pg_catalog.format_type(a.atttypid, a.atttypmod), \
                        a.attnotnull, a.attidentity::text, \
                        pg_catalog.pg_get_expr(d.adbin, d.adrelid), \
                        CASE WHEN t.typtype = 'e' THEN t.typname::text END, \
                        CASE WHEN t.typtype = 'e' THEN array_to_json(ARRAY( \
                            SELECT e.enumlabel::text FROM pg_catalog.pg_enum e \
                            WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder))::text END, \
                        pg_catalog.col_description(c.oid, a.attnum) \
                 FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_catalog.pg_attribute a \
                   ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                  AND a.attgenerated = '' \
                 LEFT JOIN pg_catalog.pg_attrdef d \
                   ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
                 WHERE n.nspname = {schema} AND {TABLE_KINDS} \
                 ORDER BY c.relname, a.attnum"
    )
}

/// The constraints query. `conparentid = 0` drops the copies PostgreSQL makes of a foreign key
/// for each partition of a referenced partitioned table; NOT NULL is in attnotnull, not here.
fn constraints_sql(schema: &str) -> String {
    format!(
        "SELECT 'constraints', c.relname::text, k.conname::text, k.contype::text, \
                        array_to_json(ARRAY(SELECT a.attname::text \
                              FROM unnest(k.conkey) WITH ORDINALITY AS u(num, ord) \
                              JOIN pg_catalog.pg_attribute a \
                                ON a.attrelid = k.conrelid AND a.attnum = u.num \
                              ORDER BY u.ord))::text, \
                        r.relname::text, \
                        array_to_json(ARRAY(SELECT a.attname::text \
                              FROM unnest(k.confkey) WITH ORDINALITY AS u(num, ord) \
                              JOIN pg_catalog.pg_attribute a \
                                ON a.attrelid = k.confrelid AND a.attnum = u.num \
                              ORDER BY u.ord))::text, \
                        k.confdeltype::text, k.confupdtype::text, \
                        CASE WHEN k.contype = 'c' \
                             THEN pg_catalog.pg_get_constraintdef(k.oid, true) END, \
                        CASE WHEN k.contype = 'c' \
                             THEN pg_catalog.obj_description(k.oid, 'pg_constraint') END \
                 FROM pg_catalog.pg_constraint k \
                 JOIN pg_catalog.pg_class c ON c.oid = k.conrelid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_catalog.pg_class r ON r.oid = k.confrelid \
                 WHERE n.nspname = {schema} AND {TABLE_KINDS} \
                   AND k.contype IN ('p', 'u', 'f', 'c') AND k.conparentid = 0"
    )
}

/// The query of indexes of no constraint. `conindid` of a foreign key names the *referenced*
/// table's index, hence the contype filter. A plain key column is read by name
/// (pg_get_indexdef would quote it), an expression (attnum 0) by its definition.
fn indexes_sql(schema: &str) -> String {
    format!(
        "SELECT 'indexes', c.relname::text, i.relname::text, x.indisunique, \
                        array_to_json(ARRAY(SELECT CASE WHEN x.indkey[pos - 1] = 0 \
                                          THEN pg_catalog.pg_get_indexdef(x.indexrelid, pos, true) \
                                          ELSE (SELECT a.attname::text \
                                                FROM pg_catalog.pg_attribute a \
                                                WHERE a.attrelid = x.indrelid \
                                                  AND a.attnum = x.indkey[pos - 1]) END \
                              FROM generate_series(1, x.indnkeyatts) AS pos \
                              ORDER BY pos))::text, \
                        pg_catalog.pg_get_expr(x.indpred, x.indrelid, true) \
                 FROM pg_catalog.pg_index x \
                 JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid \
                 JOIN pg_catalog.pg_class c ON c.oid = x.indrelid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = {schema} AND {TABLE_KINDS} \
                   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k \
                                   WHERE k.conindid = x.indexrelid \
                                     AND k.conrelid = x.indrelid \
                                     AND k.contype IN ('p', 'u', 'x'))"
    )
}

/// The tables in the rows of the three queries (without their leading word).
fn tables_of(
    columns: Vec<TextRow>,
    constraints: Vec<TextRow>,
    indexes: Vec<TextRow>,
) -> Result<Schema, IntrospectError> {
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    for row in columns {
        let mut row = Columns::new(row);
        let table_name = row.text();
        if is_bookkeeping_table(&table_name) {
            continue;
        }
        let table_comment = row.opt();
        let table = tables.entry(table_name.clone()).or_insert_with(|| Table {
            comment: table_comment,
            ..Table::new(table_name, Vec::new())
        });
        let Some(name) = row.opt() else {
            continue;
        };
        let type_text = row.opt();
        let not_null = row.flag();
        let identity = row.opt();
        let default_expr = row.opt();
        let enum_name = row.opt();
        let enum_values = row.names()?;
        let comment = row.opt();
        let ty = match enum_name {
            Some(name) => ColumnType::Enum {
                name,
                values: enum_values.into_iter().flatten().collect(),
                renames: Vec::new(),
            },
            None => parse_type(type_text.as_deref().unwrap_or_default()),
        };
        let is_identity = matches!(identity.as_deref(), Some("a" | "d"));
        // A serial column's default is its sequence: that is how autoincrement looks, not a value.
        let is_serial = default_expr.as_deref().is_some_and(is_nextval);
        let default = match default_expr {
            Some(expr) if !is_identity && !is_serial => Some(parse_default(&expr, &ty)),
            _ => None,
        };
        table.columns.push(Column {
            nullable: !not_null,
            default,
            autoincrement: is_identity || is_serial,
            comment,
            ..Column::new(name, ty)
        });
    }

    for row in constraints {
        let mut row = Columns::new(row);
        let table_name = row.text();
        let Some(table) = tables.get_mut(&table_name) else {
            continue;
        };
        let name = row.text();
        let kind = row.text();
        let columns: Vec<String> = row.names()?.into_iter().flatten().collect();
        match kind.as_str() {
            "p" => table.primary_key = columns,
            "u" => {
                let unnamed = Unique {
                    name: None,
                    columns,
                };
                let name = (name != unique_name(&table_name, &unnamed)).then_some(name);
                table.uniques.push(Unique { name, ..unnamed });
            }
            "f" => {
                let ref_table = row.opt();
                let ref_columns: Vec<String> = row.names()?.into_iter().flatten().collect();
                let on_delete = row.text();
                let on_update = row.text();
                table.foreign_keys.push(ForeignKey {
                    columns,
                    ref_table: ref_table.unwrap_or_default(),
                    ref_columns,
                    on_delete: fk_action(&on_delete),
                    on_update: fk_action(&on_update),
                });
            }
            "c" => {
                // Skip the foreign-key columns (4 to 7) to reach the check's.
                for _ in 4..8 {
                    row.opt();
                }
                let definition = row.opt();
                let comment = row.opt();
                let column_names: Vec<&str> =
                    table.columns.iter().map(|c| c.name.as_str()).collect();
                let expr = check_text(
                    definition.as_deref().unwrap_or_default(),
                    comment.as_deref(),
                    &column_names,
                );
                table.checks.push(Check { name, expr });
            }
            _ => {}
        }
    }

    for row in indexes {
        let mut row = Columns::new(row);
        let table_name = row.text();
        let Some(table) = tables.get_mut(&table_name) else {
            continue;
        };
        let name = row.text();
        let unique = row.flag();
        let columns = row.names()?;
        // A partial index's condition, as the server prints it, in the model's spelling.
        let predicate = row.opt().map(|p| crate::replay::canonical_predicate(&p));
        table.indexes.push(Index {
            name,
            columns: columns.into_iter().map(Option::unwrap_or_default).collect(),
            unique,
            predicate,
        });
    }

    Ok(Schema {
        tables: tables.into_values().collect(),
        ..Schema::default()
    }
    .normalized())
}

/// Whether the default schema (see [`default_schema`]) holds no table, view, materialized view
/// or foreign table at all — the ledger included. `qvdiff port` copies only into such a database.
pub fn is_empty(session: &mut (impl Session + ?Sized)) -> Result<bool, PgError> {
    let schema_name = default_schema(session)?;
    is_empty_in(session, &schema_name)
}

/// [`is_empty`] for schema `schema_name` (one that does not exist is empty).
pub fn is_empty_in(
    session: &mut (impl Session + ?Sized),
    schema_name: &str,
) -> Result<bool, PgError> {
    let context = "checking whether the database is empty";
    session
        .query_value(&format!(
            "SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c \
                                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                                WHERE n.nspname = {} AND c.relkind IN ('r', 'p', 'v', 'm', 'f'))",
            quote_string(schema_name)
        ))
        .map(|value| value.as_deref() == Some("t"))
        .map_err(|e| PgError::new(context, e.message))
}

/// The number of rows of `table` in the default schema: an exact `count(*)`, so it reads the
/// whole table (statistics would be cheap but can be far off).
pub fn row_count(session: &mut (impl Session + ?Sized), table: &str) -> Result<i64, PgError> {
    let schema_name = default_schema(session)?;
    let context = format!("counting the rows of {table}");
    let count = session
        .query_value(&format!(
            "SELECT count(*) FROM {}.{}",
            quote_ident(&schema_name),
            quote_ident(table)
        ))
        .map_err(|e| PgError::new(context.clone(), e.message))?;
    count
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|_| PgError::new(context, format!("unexpected count {count:?}")))
}

fn is_nextval(expr: &str) -> bool {
    expr.trim_start()
        .get(..8)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("nextval("))
}

/// The [`FkAction`] of a `confdeltype` / `confupdtype` code.
fn fk_action(code: &str) -> FkAction {
    match code {
        "r" => FkAction::Restrict,
        "c" => FkAction::Cascade,
        "n" => FkAction::SetNull,
        "d" => FkAction::SetDefault,
        // 'a', and nothing else exists.
        _ => FkAction::NoAction,
    }
}

/// The expression of a CHECK as `pg_get_constraintdef(oid, true)` prints it: without the leading
/// `CHECK ` and the one pair of parentheses around the expression, and without what may follow
/// it (`NOT VALID`, `NO INHERIT`). `CHECK ((a > 0) OR (b > 0))` → `(a > 0) OR (b > 0)`.
pub fn check_expression(definition: &str) -> String {
    let text = definition.trim();
    let body = text.strip_prefix("CHECK ").unwrap_or(text).trim_start();
    match closing_paren(body) {
        Some(close) => body[1..close].trim().to_string(),
        None => body.to_string(),
    }
}

/// The expression of a CHECK constraint with definition `definition` (as
/// `pg_get_constraintdef` prints it) and comment `comment`, on a table with columns `columns`:
/// the model's text when the comment is qvdiff's (`qvdiff: <expr>`) and still names the same
/// columns of the table as the server's expression, else the server's text.
fn check_text(definition: &str, comment: Option<&str>, columns: &[&str]) -> String {
    let server = check_expression(definition);
    let model = comment
        .and_then(|c| c.strip_prefix(CHECK_COMMENT_PREFIX))
        .map(str::trim)
        .filter(|m| !m.is_empty());
    match model {
        Some(model)
            if referenced_columns(model, columns) == referenced_columns(&server, columns) =>
        {
            model.to_string()
        }
        _ => server,
    }
}

/// PostgreSQL's reserved keywords (`pg_get_keywords()`, category `R`): unquoted, never a column.
const RESERVED_WORDS: &str = "all analyse analyze and any array as asc asymmetric both case cast \
    check collate column constraint create current_catalog current_date current_role \
    current_time current_timestamp current_user default deferrable desc distinct do else end \
    except false fetch for foreign from grant group having in initially intersect into lateral \
    leading limit localtime localtimestamp not null offset on only or order placing primary \
    references returning select session_user some symmetric table then to trailing true union \
    unique user using variadic when where window with";

/// The names of `columns` that `expr` refers to. A name followed by `(` is a function, one
/// followed by `.` a qualifier, one after `::` a type; string literals are not names.
fn referenced_columns<'c>(expr: &str, columns: &[&'c str]) -> BTreeSet<&'c str> {
    let tokens = sqltext::tokenize(expr);
    let text = |i: usize| tokens.get(i).map(|t| &expr[t.start..t.end]);
    let mut found = BTreeSet::new();
    for (i, token) in tokens.iter().enumerate() {
        let word = &expr[token.start..token.end];
        let after_cast = i >= 2 && text(i - 1) == Some(":") && text(i - 2) == Some(":");
        if after_cast || matches!(text(i + 1), Some("(" | ".")) {
            continue;
        }
        let name = match token.kind {
            TokenKind::Word
                if !RESERVED_WORDS
                    .split_whitespace()
                    .any(|r| word.eq_ignore_ascii_case(r)) =>
            {
                word.to_ascii_lowercase()
            }
            TokenKind::QuotedIdent if word.len() >= 2 => {
                word[1..word.len() - 1].replace("\"\"", "\"")
            }
            _ => continue,
        };
        let name = clip(&name);
        if let Some(column) = columns.iter().find(|c| **c == name) {
            found.insert(*column);
        }
    }
    found
}

/// `name` cut to [`MAX_IDENTIFIER_BYTES`] at a character boundary, as the server cuts names.
fn clip(name: &str) -> &str {
    let mut end = name.len().min(MAX_IDENTIFIER_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Byte offset of the `)` matching the `(` that `text` starts with, skipping string literals and
/// quoted identifiers.
fn closing_paren(text: &str) -> Option<usize> {
    if !text.starts_with('(') {
        return None;
    }
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            // A doubled quote closes and reopens: the toggle handles it.
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_expressions_lose_one_pair_of_parentheses() {
        assert_eq!(
            check_expression("CHECK (price > 0::double precision)"),
            "price > 0::double precision"
        );
        assert_eq!(
            check_expression("CHECK ((a > 0) OR (b > 0))"),
            "(a > 0) OR (b > 0)"
        );
        assert_eq!(
            check_expression("CHECK (name <> ')'::text) NOT VALID"),
            "name <> ')'::text"
        );
        assert_eq!(
            check_expression("CHECK (\"a)\" <> 'it''s'::text) NO INHERIT"),
            "\"a)\" <> 'it''s'::text"
        );
        assert_eq!(check_expression("CHECK (x"), "(x");
    }

    #[test]
    fn a_qvdiff_comment_gives_the_model_expression() {
        let columns = ["price", "title", "Mixed Case", "array"];
        let text =
            |definition: &str, comment: Option<&str>| check_text(definition, comment, &columns);
        let double = "CHECK (price > 0::double precision)";
        assert_eq!(text(double, Some("qvdiff: price > 0")), "price > 0");
        // Not qvdiff's comment, or none: the server's text.
        assert_eq!(text(double, None), "price > 0::double precision");
        assert_eq!(
            text(double, Some("price must be positive")),
            "price > 0::double precision"
        );
        assert_eq!(
            text(double, Some("qvdiff: ")),
            "price > 0::double precision"
        );
        // A column renamed by hand: the server renamed it in the expression, not in the comment.
        assert_eq!(
            text("CHECK (cost > 0)", Some("qvdiff: price > 0")),
            "cost > 0"
        );
        assert_eq!(
            text(
                "CHECK (price > 0 AND title <> ''::text)",
                Some("qvdiff: price > 0")
            ),
            "price > 0 AND title <> ''::text"
        );
        // Functions, casts, literals, keywords and quoted names are told from column references.
        assert_eq!(
            text(
                "CHECK (length(title::text) > 0 AND \"Mixed Case\" <> 'price'::text)",
                Some("qvdiff: length(title) > 0 AND \"Mixed Case\" <> 'price'")
            ),
            "length(title) > 0 AND \"Mixed Case\" <> 'price'"
        );
        assert_eq!(
            text(
                "CHECK (title::text = ANY (ARRAY['a'::character varying, 'b'::character varying]::text[]))",
                Some("qvdiff: title IN ('a', 'b')")
            ),
            "title IN ('a', 'b')"
        );
        assert_eq!(
            referenced_columns("\"array\" > price::numeric AND ARRAY[1] <> '{}'", &columns),
            BTreeSet::from(["array", "price"])
        );
    }

    #[test]
    fn sequences_and_actions() {
        assert!(is_nextval("nextval('t_id_seq'::regclass)"));
        assert!(!is_nextval("now()"));
        assert!(!is_nextval("next"));
        assert_eq!(fk_action("c"), FkAction::Cascade);
        assert_eq!(fk_action("a"), FkAction::NoAction);
        assert_eq!(fk_action("d"), FkAction::SetDefault);
    }
}
