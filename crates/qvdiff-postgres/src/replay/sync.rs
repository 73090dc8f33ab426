//! The statements of an expand / contract migration that a Schema does not hold (see
//! [`crate::plan::expand`]): qvdiff's sync trigger functions and triggers, kept in the model's
//! catalog so that a trigger needs its function and table and a function in use cannot be
//! dropped. Functions and triggers named otherwise, and `DO` blocks, stay unsupported: only a
//! server knows what they do.

use super::parse::Parser;
use super::{invalid, unsupported, SchemaReplay, Step};
use crate::plan::expand::SYNC_PREFIX;
use crate::render::quote_ident;

/// A name qvdiff gives its sync functions and triggers, else an unsupported statement.
fn sync_name(p: &mut Parser, what: &str) -> Step<String> {
    let name = p.ident()?;
    if name.starts_with(SYNC_PREFIX) {
        Ok(name)
    } else {
        unsupported(format!(
            "{what} {} is not one qvdiff writes (its sync {what}s are named {SYNC_PREFIX}…)",
            quote_ident(&name)
        ))
    }
}

/// `()` after a function name.
fn empty_arguments(p: &mut Parser) -> Step {
    if p.eat_punct("(") && p.eat_punct(")") {
        Ok(())
    } else {
        unsupported(format!("expected `()` at `{}`", p.rest_text()))
    }
}

impl SchemaReplay {
    /// `CREATE [OR REPLACE] FUNCTION qvdiff_sync_…() RETURNS trigger LANGUAGE plpgsql AS $…$`
    /// (after `CREATE [OR REPLACE] FUNCTION`).
    pub(super) fn create_sync_function(&mut self, p: &mut Parser, replace: bool) -> Step {
        let name = sync_name(p, "function")?;
        empty_arguments(p)?;
        for word in ["RETURNS", "TRIGGER", "LANGUAGE", "PLPGSQL", "AS"] {
            p.expect(word)?;
        }
        if !p.peek_text().starts_with('$') {
            return unsupported(format!(
                "expected a dollar-quoted body at `{}`",
                p.rest_text()
            ));
        }
        p.advance();
        p.expect_end()?;
        if !replace && self.sync_functions.contains(&name) {
            return invalid(format!(
                "function {}() already exists with same argument types",
                quote_ident(&name)
            ));
        }
        self.sync_functions.insert(name);
        Ok(())
    }

    /// `CREATE TRIGGER qvdiff_sync_… BEFORE INSERT OR UPDATE ON t FOR EACH ROW EXECUTE
    /// FUNCTION qvdiff_sync_…()` (after `CREATE TRIGGER`).
    pub(super) fn create_sync_trigger(&mut self, p: &mut Parser) -> Step {
        let name = sync_name(p, "trigger")?;
        for word in ["BEFORE", "INSERT", "OR", "UPDATE", "ON"] {
            p.expect(word)?;
        }
        let table = p.table_name()?;
        for word in ["FOR", "EACH", "ROW", "EXECUTE"] {
            p.expect(word)?;
        }
        if !p.eat("FUNCTION") {
            p.expect("PROCEDURE")?;
        }
        let function = sync_name(p, "function")?;
        empty_arguments(p)?;
        p.expect_end()?;
        self.table(&table)?;
        if !self.sync_functions.contains(&function) {
            return invalid(format!(
                "function {}() does not exist",
                quote_ident(&function)
            ));
        }
        let key = (table, name);
        if self.sync_triggers.contains_key(&key) {
            return invalid(format!(
                "trigger {} for relation {} already exists",
                quote_ident(&key.1),
                quote_ident(&key.0)
            ));
        }
        self.sync_triggers.insert(key, function);
        Ok(())
    }

    /// `DROP TRIGGER [IF EXISTS] qvdiff_sync_… ON t` (after `DROP TRIGGER`).
    pub(super) fn drop_sync_trigger(&mut self, p: &mut Parser) -> Step {
        let if_exists = p.eat_all(&["IF", "EXISTS"]);
        let name = sync_name(p, "trigger")?;
        p.expect("ON")?;
        let table = p.table_name()?;
        p.drop_behavior()?;
        p.expect_end()?;
        if self.table(&table).is_err() && !if_exists {
            self.table(&table)?;
        }
        if self
            .sync_triggers
            .remove(&(table.clone(), name.clone()))
            .is_none()
            && !if_exists
        {
            return invalid(format!(
                "trigger {} for table {} does not exist",
                quote_ident(&name),
                quote_ident(&table)
            ));
        }
        Ok(())
    }

    /// `DROP FUNCTION [IF EXISTS] qvdiff_sync_…()` (after `DROP FUNCTION`).
    pub(super) fn drop_sync_function(&mut self, p: &mut Parser) -> Step {
        let if_exists = p.eat_all(&["IF", "EXISTS"]);
        let name = sync_name(p, "function")?;
        empty_arguments(p)?;
        p.drop_behavior()?;
        p.expect_end()?;
        if let Some(((table, trigger), _)) = self
            .sync_triggers
            .iter()
            .find(|(_, function)| **function == name)
        {
            return invalid(format!(
                "cannot drop function {}() because trigger {} on table {} depends on it",
                quote_ident(&name),
                quote_ident(trigger),
                quote_ident(table)
            ));
        }
        if !self.sync_functions.remove(&name) && !if_exists {
            return invalid(format!("function {}() does not exist", quote_ident(&name)));
        }
        Ok(())
    }

    /// Whether the model holds any of qvdiff's sync triggers or functions (an expand revision
    /// applied, its contract not yet).
    pub fn has_sync_objects(&self) -> bool {
        !self.sync_functions.is_empty() || !self.sync_triggers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ReplayErrorKind, SchemaReplay};
    use crate::plan::expand::backfill_sql;

    const TABLE: &str = r#"CREATE TABLE "t" ("id" bigint NOT NULL, "a" integer, CONSTRAINT "t_pkey" PRIMARY KEY ("id"));"#;
    const FUNCTION: &str = r#"CREATE OR REPLACE FUNCTION "qvdiff_sync_t_a"() RETURNS trigger LANGUAGE plpgsql AS $qvdiff_sync$
BEGIN
  RETURN NEW;
END
$qvdiff_sync$;"#;
    const TRIGGER: &str = r#"CREATE TRIGGER "qvdiff_sync_t_a" BEFORE INSERT OR UPDATE ON "t" FOR EACH ROW EXECUTE FUNCTION "qvdiff_sync_t_a"();"#;
    const DROP_TRIGGER: &str = r#"DROP TRIGGER "qvdiff_sync_t_a" ON "t";"#;
    const DROP_FUNCTION: &str = r#"DROP FUNCTION "qvdiff_sync_t_a"();"#;

    fn kind(model: &mut SchemaReplay, sql: &str) -> Option<ReplayErrorKind> {
        model.apply(sql).err().map(|e| e.kind)
    }

    #[test]
    fn sync_functions_and_triggers_are_kept_beside_the_tables_and_leave_the_schema_alone() {
        let mut model = SchemaReplay::new();
        model.apply(TABLE).unwrap();
        let schema = model.schema();
        model.apply(FUNCTION).unwrap();
        model.apply(TRIGGER).unwrap();
        model.apply(&backfill_sql("t", "a", "a")).unwrap();
        assert!(model.has_sync_objects());
        assert_eq!(model.schema(), schema);
        // As the server: a trigger once per table, a function in use stays.
        assert_eq!(
            kind(&mut model.clone(), TRIGGER),
            Some(ReplayErrorKind::Invalid)
        );
        assert_eq!(
            kind(&mut model.clone(), DROP_FUNCTION),
            Some(ReplayErrorKind::Invalid)
        );
        model.apply(DROP_TRIGGER).unwrap();
        model.apply(DROP_FUNCTION).unwrap();
        assert!(!model.has_sync_objects());
        assert_eq!(
            kind(&mut model.clone(), DROP_TRIGGER),
            Some(ReplayErrorKind::Invalid)
        );
        assert_eq!(
            kind(&mut model.clone(), DROP_FUNCTION),
            Some(ReplayErrorKind::Invalid)
        );
        model
            .apply(r#"DROP TRIGGER IF EXISTS "qvdiff_sync_t_a" ON "t"; DROP FUNCTION IF EXISTS "qvdiff_sync_t_a"();"#)
            .unwrap();
        // A trigger needs its function and its table.
        assert_eq!(
            kind(&mut model.clone(), TRIGGER),
            Some(ReplayErrorKind::Invalid)
        );
        let mut no_table = SchemaReplay::new();
        no_table.apply(FUNCTION).unwrap();
        assert_eq!(kind(&mut no_table, TRIGGER), Some(ReplayErrorKind::Invalid));
    }

    #[test]
    fn other_functions_triggers_and_do_blocks_stay_unsupported() {
        for sql in [
            "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
            "CREATE TRIGGER tr BEFORE INSERT OR UPDATE ON t FOR EACH ROW EXECUTE FUNCTION qvdiff_sync_t_a()",
            "CREATE TRIGGER qvdiff_sync_t_a AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION qvdiff_sync_t_a()",
            "CREATE FUNCTION qvdiff_sync_x(a int) RETURNS trigger LANGUAGE plpgsql AS $$ $$",
            "CREATE OR REPLACE VIEW v AS SELECT 1",
            "DO $$ BEGIN PERFORM 1; END $$",
            "DO $qvdiff_backfill$ BEGIN UPDATE t SET a = a; END $qvdiff_backfill$",
            "DROP FUNCTION f()",
        ] {
            let mut model = SchemaReplay::new();
            model.apply(TABLE).unwrap();
            model.apply(FUNCTION).unwrap();
            assert_eq!(kind(&mut model, sql), Some(ReplayErrorKind::Unsupported), "{sql}");
        }
    }
}
