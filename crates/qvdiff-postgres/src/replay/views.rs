//! Views that stand for a renamed table (see [`crate::plan::expand`]): `CREATE VIEW old AS
//! SELECT * FROM new`, which PostgreSQL makes updatable by itself, so the app version still
//! running reads and writes the table under its old name until the contract drops the view.
//!
//! Only that form is modelled, because only its meaning is plain without a server: the view's
//! columns are the table's when it is created, and the server keeps them by position, so the
//! view follows later renames of the table and its columns, and refuses a drop of the table or
//! of one of those columns (without `CASCADE`) and a type change of one. Any other view stays
//! unsupported. A [`Schema`] holds such a view in [`Schema::views`] (its `table` the table it
//! reads): comparisons leave views out, and the replay reads them back from there.

use super::parse::Parser;
use super::{invalid, unsupported, SchemaReplay, Step};
use crate::render::quote_ident;
use qvdiff_core::{RawObject, Schema};

/// A view over every column of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TableView {
    /// The table it reads.
    pub(super) table: String,
    /// The table's columns when the view was created, under their names now.
    pub(super) columns: Vec<String>,
}

/// The statement creating view `name` over every column of `table`, as the planner writes it.
pub fn create_table_view_sql(name: &str, table: &str) -> String {
    format!(
        "CREATE VIEW {} AS SELECT * FROM {};",
        quote_ident(name),
        quote_ident(table)
    )
}

/// View `name` over every column of `table`, as a Schema holds it.
pub fn table_view_object(name: &str, table: &str) -> RawObject {
    RawObject {
        name: name.to_string(),
        table: table.to_string(),
        sql: create_table_view_sql(name, table)
            .trim_end_matches(';')
            .to_string(),
    }
}

/// The statement dropping view `name` if it exists.
pub fn drop_table_view_sql(name: &str) -> String {
    format!("DROP VIEW IF EXISTS {};", quote_ident(name))
}

/// The table a view of [`Schema::views`] reads every column of, when it is such a view.
fn table_view_of(view: &RawObject) -> Option<String> {
    let mut p = Parser::new(view.sql.trim_end().trim_end_matches(';'));
    let mut read = || -> Step<String> {
        for word in ["CREATE", "VIEW"] {
            p.expect(word)?;
        }
        let name = p.table_name()?;
        let table = view_body(&mut p)?;
        (name == view.name)
            .then_some(table)
            .ok_or(super::Fail::Unsupported(String::new()))
    };
    read().ok()
}

/// `AS SELECT * FROM t` (the end of the statement): `t`.
fn view_body(p: &mut Parser) -> Step<String> {
    p.expect("AS")?;
    p.expect("SELECT")?;
    if !p.eat_punct("*") {
        return unsupported(format!(
            "only a view of every column of one table (`SELECT * FROM t`) is modelled, not `{}`",
            p.rest_text()
        ));
    }
    p.expect("FROM")?;
    let table = p.table_name()?;
    if !p.at_end() {
        return unsupported(format!(
            "only a view of every column of one table (`SELECT * FROM t`) is modelled, not `… \
             {}`",
            p.rest_text()
        ));
    }
    Ok(table)
}

impl SchemaReplay {
    /// `CREATE VIEW v AS SELECT * FROM t` (after `CREATE VIEW`).
    pub(super) fn create_table_view(&mut self, p: &mut Parser) -> Step {
        let name = p.table_name()?;
        let table = view_body(p)?;
        let columns = self.table(&table)?.column_names();
        if self.relation_exists(&name) {
            return invalid(format!("relation {} already exists", quote_ident(&name)));
        }
        self.table_views.insert(name, TableView { table, columns });
        Ok(())
    }

    /// `DROP VIEW [IF EXISTS] v [, …] [CASCADE | RESTRICT]` (after `DROP VIEW`).
    pub(super) fn drop_table_views(&mut self, p: &mut Parser) -> Step {
        let if_exists = p.eat_all(&["IF", "EXISTS"]);
        let names = p.name_list()?;
        p.drop_behavior()?;
        p.expect_end()?;
        for name in names {
            if self.table_views.remove(&name).is_some() {
                continue;
            }
            if self.relation_exists(&name) {
                return invalid(format!("{} is not a view", quote_ident(&name)));
            }
            if !if_exists {
                return invalid(format!("view {} does not exist", quote_ident(&name)));
            }
        }
        Ok(())
    }

    /// Whether a view of this name exists.
    pub(super) fn is_table_view(&self, name: &str) -> bool {
        self.table_views.contains_key(name)
    }

    /// Before `table` is dropped: its views go with it under `CASCADE`, else the drop is refused.
    pub(super) fn drop_views_on_table(&mut self, table: &str, cascade: bool) -> Step {
        self.drop_views_where(cascade, &format!("table {}", quote_ident(table)), |v| {
            v.table == table
        })
    }

    /// Before `column` of `table` is dropped: as [`Self::drop_views_on_table`], for the views
    /// reading it.
    pub(super) fn drop_views_on_column(
        &mut self,
        table: &str,
        column: &str,
        cascade: bool,
    ) -> Step {
        let what = format!(
            "column {} of table {}",
            quote_ident(column),
            quote_ident(table)
        );
        self.drop_views_where(cascade, &what, |v| {
            v.table == table && v.columns.iter().any(|c| c == column)
        })
    }

    fn drop_views_where(
        &mut self,
        cascade: bool,
        what: &str,
        reads: impl Fn(&TableView) -> bool,
    ) -> Step {
        let Some(view) = self
            .table_views
            .iter()
            .find(|(_, v)| reads(v))
            .map(|(name, _)| name.clone())
        else {
            return Ok(());
        };
        if !cascade {
            return invalid(format!(
                "cannot drop {what} because view {} depends on it (use CASCADE)",
                quote_ident(&view)
            ));
        }
        self.table_views.retain(|_, v| !reads(v));
        Ok(())
    }

    /// A type change of `column` of `table`: refused while a view reads it, as the server does.
    pub(super) fn refuse_type_change_under_view(&self, table: &str, column: &str) -> Step {
        match self
            .table_views
            .iter()
            .find(|(_, v)| v.table == table && v.columns.iter().any(|c| c == column))
        {
            Some((view, _)) => invalid(format!(
                "cannot alter type of a column used by a view or rule: view {} depends on \
                 column {}",
                quote_ident(view),
                quote_ident(column)
            )),
            None => Ok(()),
        }
    }

    /// After table `old` is renamed to `new`: its views read it under the new name.
    pub(super) fn rename_views_table(&mut self, old: &str, new: &str) {
        for view in self.table_views.values_mut() {
            if view.table == old {
                view.table = new.to_string();
            }
        }
    }

    /// After column `old` of `table` is renamed to `new`: its views read it under the new name.
    pub(super) fn rename_views_column(&mut self, table: &str, old: &str, new: &str) {
        for view in self.table_views.values_mut().filter(|v| v.table == table) {
            for column in &mut view.columns {
                if column == old {
                    *column = new.to_string();
                }
            }
        }
    }

    /// The views of `schema.views` over every column of one table, read back (see the module
    /// documentation); the others are left to the caller.
    pub(super) fn read_table_views(&mut self, schema: &Schema) {
        for view in &schema.views {
            let Some(table) = table_view_of(view) else {
                continue;
            };
            let columns = self
                .tables
                .get(&table)
                .map(|t| t.column_names())
                .unwrap_or_default();
            self.table_views
                .insert(view.name.clone(), TableView { table, columns });
        }
    }

    /// The views over every column of one table, as a Schema holds them.
    pub(super) fn table_view_objects(&self) -> Vec<RawObject> {
        self.table_views
            .iter()
            .map(|(name, view)| table_view_object(name, &view.table))
            .collect()
    }
}

/// Whether `view` is one the replay models (see the module documentation).
pub(super) fn is_table_view_object(view: &RawObject) -> bool {
    table_view_of(view).is_some()
}

#[cfg(test)]
mod tests {
    use super::super::{apply_sql, ReplayErrorKind, SchemaReplay};
    use super::*;

    const TABLES: &str = r#"CREATE TABLE "items" ("id" bigint NOT NULL, "qty" integer, CONSTRAINT "items_pkey" PRIMARY KEY ("id"));
CREATE TABLE "notes" ("id" bigint NOT NULL, "item_id" bigint, CONSTRAINT "notes_pkey" PRIMARY KEY ("id"), CONSTRAINT "notes_item_id_fkey" FOREIGN KEY ("item_id") REFERENCES "items" ("id"));"#;

    fn kind(model: &SchemaReplay, sql: &str) -> Option<ReplayErrorKind> {
        model.clone().apply(sql).err().map(|e| e.kind)
    }

    #[test]
    fn a_view_under_a_renamed_tables_old_name_is_a_relation_the_schema_names() {
        let mut model = SchemaReplay::new();
        model.apply(TABLES).unwrap();
        let before = model.schema();
        model
            .apply(r#"ALTER TABLE "items" RENAME TO "products";"#)
            .unwrap();
        model
            .apply(&create_table_view_sql("items", "products"))
            .unwrap();
        let schema = model.schema();
        assert_eq!(
            schema.views,
            [RawObject {
                name: "items".into(),
                table: "products".into(),
                sql: r#"CREATE VIEW "items" AS SELECT * FROM "products""#.into(),
            }]
        );
        assert_eq!(schema.tables.len(), 2);
        assert!(schema.table("items").is_none());
        // The name is taken, the table cannot go without its view, its columns keep their
        // type; a column the view does not read can go.
        let invalid = Some(ReplayErrorKind::Invalid);
        assert_eq!(kind(&model, "CREATE TABLE items (id bigint);"), invalid);
        assert_eq!(kind(&model, "DROP TABLE products CASCADE;"), None);
        assert_eq!(kind(&model, "DROP TABLE notes, products;"), invalid);
        assert_eq!(
            kind(&model, "ALTER TABLE products DROP COLUMN qty;"),
            invalid
        );
        assert_eq!(
            kind(&model, "ALTER TABLE products ALTER COLUMN qty TYPE bigint;"),
            invalid
        );
        assert_eq!(kind(&model, "DROP VIEW notes;"), invalid);
        assert_eq!(
            kind(
                &model,
                "ALTER TABLE products ADD COLUMN extra text; ALTER TABLE products DROP COLUMN extra;"
            ),
            None
        );
        // Other views stay unsupported.
        assert_eq!(
            kind(&model, "CREATE VIEW v AS SELECT id FROM products;"),
            Some(ReplayErrorKind::Unsupported)
        );
        // A Schema carries the view to the next section; the view follows a rename of its
        // column, and goes.
        let mut next = schema.clone();
        apply_sql(
            &mut next,
            "ALTER TABLE products RENAME COLUMN qty TO quantity; DROP VIEW items;",
        )
        .unwrap();
        assert!(next.views.is_empty());
        let mut again = schema.clone();
        assert!(apply_sql(&mut again, "ALTER TABLE products DROP COLUMN qty;").is_err());
        apply_sql(&mut again, &drop_table_view_sql("items")).unwrap();
        apply_sql(&mut again, &drop_table_view_sql("items")).unwrap();
        apply_sql(&mut again, r#"ALTER TABLE "products" RENAME TO "items";"#).unwrap();
        assert_eq!(again.comparable(), before.comparable());
    }
}
