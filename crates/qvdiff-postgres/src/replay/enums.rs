//! Enum types in the replay: `CREATE TYPE … AS ENUM`, `ALTER TYPE … ADD VALUE | RENAME VALUE |
//! RENAME TO`, `DROP TYPE`, and columns whose type names one.

use super::naming::{fold_identifier, unquote_identifier};
use super::parse::Parser;
use super::{invalid, unsupported, SchemaReplay, Step};
use crate::render::{parse_type, quote_ident};
use qvdiff_core::ColumnType;

impl SchemaReplay {
    /// `CREATE TYPE name AS ENUM ('a', …)`.
    pub(super) fn create_enum(&mut self, p: &mut Parser) -> Step {
        let name = p.table_name()?;
        p.expect("AS")?;
        if !p.eat("ENUM") {
            return unsupported("only enum types (`AS ENUM`) are modelled");
        }
        if !p.eat_punct("(") {
            return unsupported(format!("expected `(` at `{}`", p.rest_text()));
        }
        let mut values = Vec::new();
        if !p.eat_punct(")") {
            loop {
                let value = p.string_literal()?;
                if values.contains(&value) {
                    return invalid(format!("enum label \"{value}\" used more than once"));
                }
                values.push(value);
                if p.eat_punct(")") {
                    break;
                }
                if !p.eat_punct(",") {
                    return unsupported(format!("expected `,` or `)` at `{}`", p.rest_text()));
                }
            }
        }
        p.expect_end()?;
        if self.enums.contains_key(&name) || self.tables.contains_key(&name) {
            return invalid(format!("type {} already exists", quote_ident(&name)));
        }
        self.enums.insert(name, values);
        Ok(())
    }

    /// `ALTER TYPE name ADD VALUE [IF NOT EXISTS] 'v' [BEFORE | AFTER 'w']`,
    /// `… RENAME VALUE 'a' TO 'b'` and `… RENAME TO new`.
    pub(super) fn alter_enum(&mut self, p: &mut Parser) -> Step {
        let name = p.table_name()?;
        let Some(values) = self.enums.get(&name).cloned() else {
            return invalid(format!("type {} does not exist", quote_ident(&name)));
        };
        let missing = |value: &str| invalid(format!("\"{value}\" is not an existing enum label"));
        let mut values = values;
        if p.eat_all(&["ADD", "VALUE"]) {
            let if_not_exists = p.eat_all(&["IF", "NOT", "EXISTS"]);
            let value = p.string_literal()?;
            let at = if p.eat("BEFORE") {
                let other = p.string_literal()?;
                match values.iter().position(|v| *v == other) {
                    Some(at) => at,
                    None => return missing(&other),
                }
            } else if p.eat("AFTER") {
                let other = p.string_literal()?;
                match values.iter().position(|v| *v == other) {
                    Some(at) => at + 1,
                    None => return missing(&other),
                }
            } else {
                values.len()
            };
            p.expect_end()?;
            if values.contains(&value) {
                return if if_not_exists {
                    Ok(())
                } else {
                    invalid(format!("enum label \"{value}\" already exists"))
                };
            }
            values.insert(at, value);
        } else if p.eat_all(&["RENAME", "VALUE"]) {
            let old = p.string_literal()?;
            p.expect("TO")?;
            let new = p.string_literal()?;
            p.expect_end()?;
            if values.contains(&new) {
                return invalid(format!("enum label \"{new}\" already exists"));
            }
            match values.iter_mut().find(|v| **v == old) {
                Some(value) => *value = new,
                None => return missing(&old),
            }
        } else if p.eat_all(&["RENAME", "TO"]) {
            let new = p.ident()?;
            p.expect_end()?;
            if self.enums.contains_key(&new) || self.tables.contains_key(&new) {
                return invalid(format!("type {} already exists", quote_ident(&new)));
            }
            self.enums.remove(&name);
            self.enums.insert(new.clone(), values);
            for table in self.tables.values_mut() {
                for column in &mut table.columns {
                    if matches!(&column.ty, ColumnType::Enum { name: n, .. } if *n == name) {
                        column.ty = enum_reference_named(&new);
                    }
                }
            }
            return Ok(());
        } else {
            return unsupported(format!(
                "ALTER TYPE … {} is not a statement qvdiff writes",
                p.rest_text()
            ));
        }
        self.enums.insert(name, values);
        Ok(())
    }

    /// `DROP TYPE [IF EXISTS] name [, …] [RESTRICT]`: refused while a column uses it.
    pub(super) fn drop_enums(&mut self, p: &mut Parser) -> Step {
        let if_exists = p.eat_all(&["IF", "EXISTS"]);
        let names = p.name_list()?;
        if p.drop_behavior()? {
            return unsupported("DROP TYPE … CASCADE drops columns qvdiff cannot name");
        }
        p.expect_end()?;
        for name in &names {
            if !self.enums.contains_key(name) {
                if if_exists {
                    continue;
                }
                return invalid(format!("type {} does not exist", quote_ident(name)));
            }
            let used = self.tables.values().find(|t| {
                t.columns
                    .iter()
                    .any(|c| matches!(&c.ty, ColumnType::Enum { name: n, .. } if n == name))
            });
            if let Some(table) = used {
                return invalid(format!(
                    "cannot drop type {} because column(s) of table {} depend on it",
                    quote_ident(name),
                    quote_ident(&table.name)
                ));
            }
        }
        for name in names {
            self.enums.remove(&name);
        }
        Ok(())
    }

    /// The logical type of a column's type text: an enum type of this catalog, or what
    /// [`parse_type`] reads.
    pub(super) fn column_type(&self, type_text: &str) -> ColumnType {
        let trimmed = type_text.trim();
        let name = if trimmed.starts_with('"') {
            unquote_identifier(trimmed)
        } else {
            let bare = trimmed.strip_prefix("public.").unwrap_or(trimmed);
            fold_identifier(bare)
        };
        if self.enums.contains_key(&name) {
            return enum_reference_named(&name);
        }
        parse_type(type_text)
    }
}

/// A column's reference to an enum type: the name only (the values live in the catalog).
pub(super) fn enum_reference(ty: &ColumnType) -> ColumnType {
    match ty {
        ColumnType::Enum { name, .. } => enum_reference_named(name),
        other => other.clone(),
    }
}

fn enum_reference_named(name: &str) -> ColumnType {
    ColumnType::Enum {
        name: name.to_string(),
        values: Vec::new(),
        renames: Vec::new(),
    }
}
