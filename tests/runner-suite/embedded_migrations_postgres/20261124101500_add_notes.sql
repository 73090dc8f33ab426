-- qvdiff revision: 20261124101500
-- parents: 20261120093000
-- message: add notes field
-- qvdiff:up
ALTER TABLE "items" ADD COLUMN "notes" text;
-- qvdiff:down
ALTER TABLE "items" DROP COLUMN "notes";  -- DESTRUCTIVE: drops data in items.notes
