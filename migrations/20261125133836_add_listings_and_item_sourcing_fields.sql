-- qvdiff revision: 20261125133836
-- parents: 20261125133835
-- message: add listings and item sourcing fields
-- qvdiff:up
CREATE TABLE "listings" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "item_id" INTEGER NOT NULL,
    "marketplace" VARCHAR(40) NOT NULL,
    "external_id" VARCHAR(100) NOT NULL,
    "url" TEXT,
    "listed_at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE ("item_id", "marketplace"),
    FOREIGN KEY ("item_id") REFERENCES "items" ("id") ON DELETE CASCADE
);
ALTER TABLE "items" ADD COLUMN "supplier" VARCHAR(120);
ALTER TABLE "items" ADD COLUMN "tags" JSON;
ALTER TABLE "items" ADD COLUMN "listed_on" DATE;
-- qvdiff:down
DROP TABLE "listings";  -- DESTRUCTIVE: drops table listings and all its rows
ALTER TABLE "items" DROP COLUMN "supplier";  -- DESTRUCTIVE: drops data in items.supplier
ALTER TABLE "items" DROP COLUMN "tags";  -- DESTRUCTIVE: drops data in items.tags
ALTER TABLE "items" DROP COLUMN "listed_on";  -- DESTRUCTIVE: drops data in items.listed_on
