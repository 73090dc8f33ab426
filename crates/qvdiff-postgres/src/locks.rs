//! What a statement does to a table while it holds its lock: the planner and the statement
//! reader ([`crate::replay::facts_of`]) judge rewrites by these same rules, so a planned step and
//! the same step read back from a file agree.

/// Functions PostgreSQL marks volatile that a column default may call: a new column whose
/// default calls one is evaluated per row, which rewrites the table (a stable default such as
/// `now()` is stored once since PostgreSQL 11).
const VOLATILE_FUNCTIONS: &[&str] = &[
    "random",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "txid_current",
    "setseed",
];

/// Whether a default expression calls a volatile function (`random()`, `gen_random_uuid()`,
/// `clock_timestamp()`, …), so adding a column with it rewrites the table.
pub fn is_volatile(expr: &str) -> bool {
    let lower = expr.to_ascii_lowercase();
    VOLATILE_FUNCTIONS.iter().any(|f| {
        lower.match_indices(f).any(|(at, _)| {
            let before = lower[..at].chars().next_back();
            let after = lower[at + f.len()..].trim_start();
            !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') && after.starts_with('(')
        })
    })
}

/// Whether `ALTER COLUMN … TYPE new` over a column of type `old` rewrites the table. Only the
/// binary-compatible widenings keep the rows where they are: `varchar(n)` to `varchar(m)` with
/// `m >= n` or to `text`, `varchar`/`text` to `text` or to an unbounded `varchar`, `numeric(p, s)`
/// to `numeric` or to a larger precision with the same scale, and the same type spelled again.
/// A `USING` expression always rewrites.
pub fn type_change_rewrites(old: &str, new: &str, using: bool) -> bool {
    if using {
        return true;
    }
    let (old, new) = (normalize(old), normalize(new));
    if old == new {
        return false;
    }
    let (old_base, old_args) = split_args(&old);
    let (new_base, new_args) = split_args(&new);
    let is_text = |base: &str| matches!(base, "varchar" | "character varying" | "text");
    if is_text(&old_base) && is_text(&new_base) {
        return match (old_args.first(), new_args.first()) {
            // Unbounded (text or bare varchar) accepts every value of the old type.
            (_, None) => false,
            (Some(old_len), Some(new_len)) => {
                !(old_base != "text" && new_base != "text" && new_len >= old_len)
            }
            (None, Some(_)) => true,
        };
    }
    if old_base == "numeric" && new_base == "numeric" {
        return match (old_args.as_slice(), new_args.as_slice()) {
            (_, []) => false,
            ([p, s], [q, t]) => !(q >= p && s == t),
            ([p], [q]) => q < p,
            _ => true,
        };
    }
    true
}

/// A type as one lower-case spelling: `character varying(20)` is `varchar(20)`.
fn normalize(ty: &str) -> String {
    let ty = ty.trim().to_ascii_lowercase().replace(' ', "");
    let ty = ty.strip_prefix("pg_catalog.").unwrap_or(&ty).to_string();
    if let Some(rest) = ty.strip_prefix("charactervarying") {
        return format!("varchar{rest}");
    }
    ty
}

/// `varchar(20)` → (`varchar`, [20]).
fn split_args(ty: &str) -> (String, Vec<u32>) {
    match ty.split_once('(') {
        Some((base, rest)) => {
            let args = rest
                .trim_end_matches(')')
                .split(',')
                .filter_map(|a| a.trim().parse().ok())
                .collect();
            (base.to_string(), args)
        }
        None => (ty.to_string(), Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volatile_defaults_are_told_from_stable_ones() {
        assert!(is_volatile("gen_random_uuid()"));
        assert!(is_volatile("(random() * 10)::int"));
        assert!(is_volatile("clock_timestamp ()"));
        assert!(!is_volatile("now()"));
        assert!(!is_volatile("CURRENT_TIMESTAMP"));
        assert!(!is_volatile("my_random()"));
    }

    #[test]
    fn binary_compatible_widenings_do_not_rewrite() {
        assert!(!type_change_rewrites("varchar(20)", "varchar(40)", false));
        assert!(!type_change_rewrites(
            "character varying(20)",
            "text",
            false
        ));
        assert!(!type_change_rewrites("text", "varchar", false));
        assert!(!type_change_rewrites(
            "numeric(10, 2)",
            "numeric(12, 2)",
            false
        ));
        assert!(type_change_rewrites("varchar(40)", "varchar(20)", false));
        assert!(type_change_rewrites("text", "varchar(20)", false));
        assert!(type_change_rewrites("integer", "bigint", false));
        assert!(type_change_rewrites("varchar(20)", "varchar(40)", true));
        assert!(type_change_rewrites(
            "numeric(10, 2)",
            "numeric(12, 3)",
            false
        ));
    }
}
