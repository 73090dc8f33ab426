//! A partial index's condition in one spelling, so that the replay's `where = "…"` and the
//! server's `pg_get_expr(indpred)` compare equal.
//!
//! The server keeps a condition as a parsed tree and prints it back its own way:
//! `status = 'draft'` on a `varchar` column comes back as
//! `((status)::text = 'draft'::text)`, `kind IN ('a', 'b')` as
//! `(kind = ANY (ARRAY['a'::text, 'b'::text]))`. [`canonical_predicate`] reduces both spellings
//! to one: casts of literals and plain column names dropped, `= ANY (ARRAY[…])` read as `IN (…)`,
//! the operators the server renames (`~~`, `!=`) as written, keywords upper case, names as the
//! server prints them, and parentheses that do not change the grouping (around the whole, around
//! an operand of `AND`/`OR` that binds at least as tightly) removed. What it does not cover
//! (e.g. `BETWEEN`, which the server expands) keeps a difference that `check --db` reports.

use super::naming::{display_ident, fold_identifier, unquote_identifier};
use crate::sqltext::{self, TokenKind};

/// Words upper-cased as keywords; any other bare word is a name (folded to lower case).
const KEYWORDS: &[&str] = &[
    "ALL",
    "AND",
    "ANY",
    "ARRAY",
    "AS",
    "ASYMMETRIC",
    "BETWEEN",
    "CASE",
    "CAST",
    "COLLATE",
    "CURRENT_DATE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "DISTINCT",
    "ELSE",
    "END",
    "ESCAPE",
    "EXISTS",
    "FALSE",
    "FROM",
    "ILIKE",
    "IN",
    "IS",
    "ISNULL",
    "LIKE",
    "LOCALTIME",
    "LOCALTIMESTAMP",
    "NOT",
    "NOTNULL",
    "NULL",
    "OR",
    "SIMILAR",
    "SOME",
    "SYMMETRIC",
    "THEN",
    "TO",
    "TRUE",
    "UNKNOWN",
    "WHEN",
];

/// Type words a cast may be spelled with (`::double precision`, `::character varying`).
const TYPE_WORDS: &[&str] = &["precision", "varying", "with", "without", "time", "zone"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Keyword,
    Name,
    Literal,
    Number,
    Open,
    Close,
    Op,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Tok {
    kind: Kind,
    text: String,
}

impl Tok {
    fn is(&self, text: &str) -> bool {
        self.text == text
    }
}

/// `text` (a partial index's condition, as a replay or the server spells it) in the one spelling
/// both reduce to. Idempotent.
pub fn canonical_predicate(text: &str) -> String {
    let mut tokens = read(text);
    drop_casts(&mut tokens);
    any_array_as_in(&mut tokens);
    while drop_one_pair_of_parentheses(&mut tokens) {}
    print(&tokens)
}

/// `predicate` after the server renamed columns `(old, new)` of its table (it renames them in
/// an index's condition itself), in the [`canonical_predicate`] spelling.
pub(crate) fn predicate_after_renames(predicate: &str, renames: &[(String, String)]) -> String {
    // Through placeholder names, so that a swap `a -> b, b -> a` renames each once.
    let placeholder = |k: usize| format!("\u{1}qvdiff_rename_{k}");
    let mut text = predicate.to_string();
    for (k, (old, _)) in renames.iter().enumerate() {
        text = super::expr::rename_in_expression(&text, old, &placeholder(k));
    }
    for (k, (_, new)) in renames.iter().enumerate() {
        text = super::expr::rename_in_expression(&text, &placeholder(k), new);
    }
    canonical_predicate(&text)
}

fn read(text: &str) -> Vec<Tok> {
    let raw = sqltext::tokenize(text);
    let mut out: Vec<Tok> = Vec::new();
    let mut previous_end = usize::MAX;
    for token in raw {
        let source = &text[token.start..token.end];
        let touching = previous_end == token.start;
        previous_end = token.end;
        let tok = match token.kind {
            TokenKind::Open => Tok {
                kind: Kind::Open,
                text: "(".into(),
            },
            TokenKind::Close => Tok {
                kind: Kind::Close,
                text: ")".into(),
            },
            TokenKind::Semicolon => continue,
            TokenKind::QuotedIdent => Tok {
                kind: Kind::Name,
                text: display_ident(&unquote_identifier(source)),
            },
            TokenKind::String => Tok {
                kind: Kind::Literal,
                text: source.to_string(),
            },
            TokenKind::Number => Tok {
                kind: Kind::Number,
                text: source.to_string(),
            },
            TokenKind::Word => {
                let upper = source.to_ascii_uppercase();
                if KEYWORDS.contains(&upper.as_str()) {
                    Tok {
                        kind: Kind::Keyword,
                        text: upper,
                    }
                } else {
                    Tok {
                        kind: Kind::Name,
                        text: display_ident(&fold_identifier(source)),
                    }
                }
            }
            TokenKind::Other | TokenKind::Comma => {
                let single = matches!(source, "," | "[" | "]" | ".");
                // Operator characters written together are one operator (`<>`, `::`, `>=`).
                if let Some(last) = out.last_mut() {
                    if touching && !single && last.kind == Kind::Op && !is_single(&last.text) {
                        last.text.push_str(source);
                        continue;
                    }
                }
                Tok {
                    kind: Kind::Op,
                    text: source.to_string(),
                }
            }
        };
        out.push(tok);
    }
    for tok in &mut out {
        if tok.kind == Kind::Op {
            tok.text = match tok.text.as_str() {
                "!=" => "<>".to_string(),
                "~~" => "LIKE".to_string(),
                "!~~" => "NOT LIKE".to_string(),
                "~~*" => "ILIKE".to_string(),
                "!~~*" => "NOT ILIKE".to_string(),
                other => other.to_string(),
            };
        }
    }
    // A minus sign before a number that follows no operand is the number's sign.
    let mut i = 0;
    while i + 1 < out.len() {
        let operand_before = i > 0
            && matches!(
                out[i - 1].kind,
                Kind::Name | Kind::Literal | Kind::Number | Kind::Close
            );
        if out[i].is("-") && out[i + 1].kind == Kind::Number && !operand_before {
            let number = out.remove(i + 1);
            out[i] = Tok {
                kind: Kind::Number,
                text: format!("-{}", number.text),
            };
        }
        i += 1;
    }
    out
}

fn is_single(text: &str) -> bool {
    matches!(text, "," | "[" | "]" | ".")
}

/// Drops `::type` after a literal, a number, a name, or a parenthesized one of these; a string
/// cast to a number type that holds a number (`'-1'::integer`) becomes that number.
fn drop_casts(tokens: &mut Vec<Tok>) {
    let mut i = 0;
    while i < tokens.len() {
        if !tokens[i].is("::") {
            i += 1;
            continue;
        }
        // The cast's type: words (and a `(n)` or `[]` after them).
        let mut end = i + 1;
        let mut type_words = Vec::new();
        while let Some(t) = tokens.get(end) {
            let next_is_type = t.kind == Kind::Name
                && (type_words.is_empty() || TYPE_WORDS.contains(&t.text.trim_matches('"')));
            if !next_is_type {
                break;
            }
            type_words.push(t.text.trim_matches('"').to_string());
            end += 1;
        }
        if type_words.is_empty() {
            i += 1;
            continue;
        }
        if tokens.get(end).is_some_and(|t| t.kind == Kind::Open) {
            if let Some(close) = matching_close(tokens, end) {
                end = close + 1;
            }
        }
        while tokens.get(end).is_some_and(|t| t.is("["))
            && tokens.get(end + 1).is_some_and(|t| t.is("]"))
        {
            end += 2;
        }
        // `ARRAY[…]::text[]` or `(ARRAY[…])::text[]`: the array stays, the cast goes.
        if let Some(array_end) = i.checked_sub(1).and_then(|j| {
            let inner = if tokens[j].kind == Kind::Close {
                j.checked_sub(1)?
            } else {
                j
            };
            let open = array_start(tokens, inner)?;
            let wrapped = inner != j;
            (!wrapped
                || open
                    .checked_sub(1)
                    .is_some_and(|o| tokens[o].kind == Kind::Open))
            .then_some(j)
        }) {
            tokens.drain(array_end + 1..end);
            i = array_end + 1;
            continue;
        }
        let simple = |t: &Tok| matches!(t.kind, Kind::Literal | Kind::Number | Kind::Name);
        let operand_start = match i.checked_sub(1).map(|j| &tokens[j]) {
            Some(t) if simple(t) => Some(i - 1),
            Some(t) if t.kind == Kind::Close && i >= 3 => {
                let open = i - 3;
                (tokens[open].kind == Kind::Open && simple(&tokens[i - 2])).then_some(open)
            }
            _ => None,
        };
        let Some(start) = operand_start else {
            i += 1;
            continue;
        };
        let mut operand = tokens[if start + 1 == i { start } else { start + 1 }].clone();
        let numeric = type_words.first().is_some_and(|w| {
            matches!(
                w.as_str(),
                "integer" | "bigint" | "smallint" | "numeric" | "real" | "double" | "int"
            )
        });
        if numeric && operand.kind == Kind::Literal {
            let inner = operand.text.trim_matches('\'');
            if inner.parse::<f64>().is_ok() {
                operand = Tok {
                    kind: Kind::Number,
                    text: inner.to_string(),
                };
            }
        }
        tokens.splice(start..end, [operand]);
        i = start + 1;
    }
}

/// `x = ANY (ARRAY[a, b])` as `x IN (a, b)`, `x <> ALL (ARRAY[…])` as `x NOT IN (…)`.
fn any_array_as_in(tokens: &mut Vec<Tok>) {
    let mut i = 0;
    while i + 4 < tokens.len() {
        let (op, quantifier) = (&tokens[i], &tokens[i + 1]);
        let replacement = if op.is("=") && quantifier.is("ANY") {
            "IN"
        } else if op.is("<>") && quantifier.is("ALL") {
            "NOT IN"
        } else {
            i += 1;
            continue;
        };
        let shape =
            tokens[i + 2].kind == Kind::Open && tokens[i + 3].is("ARRAY") && tokens[i + 4].is("[");
        let close_bracket = shape
            .then(|| (i + 5..tokens.len()).find(|&k| tokens[k].is("]")))
            .flatten();
        let Some(close_bracket) = close_bracket else {
            i += 1;
            continue;
        };
        if !tokens
            .get(close_bracket + 1)
            .is_some_and(|t| t.kind == Kind::Close)
        {
            i += 1;
            continue;
        }
        let mut list: Vec<Tok> = vec![Tok {
            kind: Kind::Keyword,
            text: replacement.to_string(),
        }];
        list.push(Tok {
            kind: Kind::Open,
            text: "(".into(),
        });
        list.extend(tokens[i + 5..close_bracket].iter().cloned());
        list.push(Tok {
            kind: Kind::Close,
            text: ")".into(),
        });
        tokens.splice(i..close_bracket + 2, list);
        i += 1;
    }
}

/// Where the `ARRAY[…]` whose `]` is token `close` starts (its `ARRAY`).
fn array_start(tokens: &[Tok], close: usize) -> Option<usize> {
    if !tokens[close].is("]") {
        return None;
    }
    let mut depth = 0usize;
    for k in (0..=close).rev() {
        if tokens[k].is("]") {
            depth += 1;
        } else if tokens[k].is("[") {
            depth -= 1;
            if depth == 0 {
                let array = k.checked_sub(1)?;
                return tokens[array].is("ARRAY").then_some(array);
            }
        }
    }
    None
}

fn matching_close(tokens: &[Tok], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (k, t) in tokens.iter().enumerate().skip(open) {
        match t.kind {
            Kind::Open => depth += 1,
            Kind::Close => {
                depth -= 1;
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

/// Removes the first pair of parentheses that does not change the grouping; `false` when none.
fn drop_one_pair_of_parentheses(tokens: &mut Vec<Tok>) -> bool {
    for open in 0..tokens.len() {
        if tokens[open].kind != Kind::Open {
            continue;
        }
        let Some(close) = matching_close(tokens, open) else {
            return false;
        };
        let before = open.checked_sub(1).map(|k| &tokens[k]);
        let after = tokens.get(close + 1);
        // Top-level words inside.
        let (mut has_or, mut has_and, mut has_comma, mut depth) = (false, false, false, 0usize);
        for t in &tokens[open + 1..close] {
            match t.kind {
                Kind::Open => depth += 1,
                Kind::Close => depth -= 1,
                _ if depth == 0 => {
                    has_or |= t.is("OR");
                    has_and |= t.is("AND");
                    has_comma |= t.is(",");
                }
                _ => {}
            }
        }
        if has_comma || close == open + 1 {
            continue;
        }
        let edge = |t: Option<&Tok>, open_side: bool| match t {
            None => true,
            Some(t) if open_side => t.kind == Kind::Open,
            Some(t) => t.kind == Kind::Close,
        };
        let junction = |t: Option<&Tok>| t.is_some_and(|t| t.is("AND") || t.is("OR"));
        let by_and = before.is_some_and(|t| t.is("AND")) || after.is_some_and(|t| t.is("AND"));
        let removable = if before.is_some_and(|t| t.is("NOT")) {
            (edge(after, false) || junction(after)) && !has_or && !has_and
        } else if (edge(before, true) || junction(before))
            && (edge(after, false) || junction(after))
        {
            !(by_and && has_or)
        } else {
            false
        };
        if removable {
            tokens.remove(close);
            tokens.remove(open);
            return true;
        }
    }
    false
}

fn print(tokens: &[Tok]) -> String {
    let mut out = String::new();
    for (k, t) in tokens.iter().enumerate() {
        if k > 0 {
            let previous = &tokens[k - 1];
            let tight = previous.kind == Kind::Open
                || previous.is("[")
                || previous.is(".")
                || previous.is("::")
                || t.kind == Kind::Close
                || t.is("]")
                || t.is(",")
                || t.is(".")
                || t.is("::")
                || (t.is("[") && previous.is("ARRAY"))
                || (t.kind == Kind::Open && previous.kind == Kind::Name);
            if !tight {
                out.push(' ');
            }
        }
        out.push_str(&t.text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::canonical_predicate as canonical;

    #[test]
    fn the_server_spelling_and_the_model_spelling_meet() {
        let pairs = [
            ("status = 'draft'", "(status = 'draft'::text)"),
            ("status = 'draft'", "((status)::text = 'draft'::text)"),
            (
                "\"status\"='draft'",
                "(status = 'draft'::character varying)",
            ),
            ("deleted_at is null", "(deleted_at IS NULL)"),
            (
                "status = 'draft' AND qty > 0",
                "((status = 'draft'::text) AND (qty > 0))",
            ),
            (
                "a = 1 OR b = 2 AND c = 3",
                "((a = 1) OR ((b = 2) AND (c = 3)))",
            ),
            (
                "(a = 1 OR b = 2) AND c = 3",
                "(((a = 1) OR (b = 2)) AND (c = 3))",
            ),
            (
                "kind IN ('a', 'b')",
                "(kind = ANY (ARRAY['a'::text, 'b'::text]))",
            ),
            ("kind NOT IN ('a')", "(kind <> ALL (ARRAY['a'::text]))"),
            ("NOT archived", "(NOT archived)"),
            ("price > 1.5", "(price > (1.5)::double precision)"),
            ("qty > -1", "(qty > '-1'::integer)"),
            ("name LIKE 'a%'", "((name)::text ~~ 'a%'::text)"),
            ("a != 1", "(a <> 1)"),
            ("lower(title) = 'x'", "(lower(title) = 'x'::text)"),
            ("\"Mixed\" IS NOT NULL", "(\"Mixed\" IS NOT NULL)"),
        ];
        for (replay, server) in pairs {
            assert_eq!(canonical(replay), canonical(server), "{replay} / {server}");
            assert_eq!(canonical(&canonical(replay)), canonical(replay), "{replay}");
        }
    }

    #[test]
    fn grouping_that_matters_is_kept() {
        assert_eq!(
            canonical("(a = 1 OR b = 2) AND c = 3"),
            "(a = 1 OR b = 2) AND c = 3"
        );
        assert_eq!(canonical("NOT (a = 1 AND b = 2)"), "NOT (a = 1 AND b = 2)");
        assert_eq!(canonical("(a + b) * 2 > 3"), "(a + b) * 2 > 3");
        assert_ne!(
            canonical("a = 1 OR b = 2 AND c = 3"),
            canonical("(a = 1 OR b = 2) AND c = 3")
        );
        assert_eq!(canonical("status = 'draft'"), "status = 'draft'");
    }
}
