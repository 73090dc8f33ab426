//! The names PostgreSQL generates for what a statement leaves unnamed, cut to 63 bytes as it
//! cuts them, and identifiers as it reads and prints them.

use crate::render::{quote_ident, MAX_IDENTIFIER_BYTES};

/// one first) so that the whole fits in [`MAX_IDENTIFIER_BYTES`].
pub(super) fn make_object_name(name1: &str, name2: Option<&str>, label: &str) -> String {
    let overhead =
        usize::from(!label.is_empty()) * (label.len() + 1) + usize::from(name2.is_some());
    let available = MAX_IDENTIFIER_BYTES.saturating_sub(overhead);
    let mut len1 = name1.len();
    let mut len2 = name2.map_or(0, str::len);
    while len1 + len2 > available {
        if len1 > len2 {
            len1 -= 1;
        } else {
            len2 -= 1;
        }
    }
    let mut name = clip(name1, len1).to_string();
    if let Some(name2) = name2 {
        name.push('_');
        name.push_str(clip(name2, len2));
    }
    if !label.is_empty() {
        name.push('_');
        name.push_str(label);
    }
    name
}

/// The longest prefix of `name` of at most `bytes` bytes that ends on a character boundary.
pub(super) fn clip(name: &str, bytes: usize) -> &str {
    let mut end = bytes.min(name.len());
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

pub(super) fn choose_name(
    name1: &str,
    name2: Option<&str>,
    label: &str,
    taken: impl Fn(&str) -> bool,
) -> String {
    let mut pass = 0usize;
    loop {
        let label = if pass == 0 {
            label.to_string()
        } else {
            format!("{label}{pass}")
        };
        let name = make_object_name(name1, name2, &label);
        if !taken(&name) {
            return name;
        }
        pass += 1;
    }
}

/// The server's `ChooseIndexNameAddition`: column names joined by `_`, stopping once the text
/// is a full identifier long (`makeObjectName` cuts it afterwards).
pub(super) fn name_addition(columns: &[String]) -> String {
    let mut text = String::new();
    for column in columns {
        if !text.is_empty() {
            text.push('_');
        }
        text.push_str(column);
        if text.len() > MAX_IDENTIFIER_BYTES {
            break;
        }
    }
    text
}

/// Keywords the server's `quote_identifier` quotes (every category but unreserved), as
/// `pg_get_keywords()` lists them.
pub(super) const QUOTED_KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// A name as the server prints it in an expression: bare when it is a lower-case word that is
/// not a keyword, quoted otherwise.
pub(super) fn display_ident(name: &str) -> String {
    let plain = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain && !QUOTED_KEYWORDS.contains(&name) {
        name.to_string()
    } else {
        quote_ident(name)
    }
}

/// An unquoted identifier as the server reads it: ASCII folded to lower case, cut to
/// [`MAX_IDENTIFIER_BYTES`].
pub(crate) fn fold_identifier(text: &str) -> String {
    clip(&text.to_ascii_lowercase(), MAX_IDENTIFIER_BYTES).to_string()
}

/// A `"quoted"` identifier's name: quotes removed, `""` undone, cut to
/// [`MAX_IDENTIFIER_BYTES`].
pub(crate) fn unquote_identifier(text: &str) -> String {
    let inner = text
        .strip_prefix('"')
        .map(|t| t.strip_suffix('"').unwrap_or(t))
        .unwrap_or(text);
    clip(&inner.replace("\"\"", "\""), MAX_IDENTIFIER_BYTES).to_string()
}
