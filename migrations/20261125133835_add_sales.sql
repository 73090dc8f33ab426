-- qvdiff revision: 20261125133835
-- parents: 20261125133834
-- message: add sales
-- qvdiff:up
CREATE TABLE "sales" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "item_id" INTEGER,
    "sale_price" REAL NOT NULL,
    "shipping_price" REAL NOT NULL DEFAULT 0.0,
    "fees" REAL NOT NULL DEFAULT 0.0,
    "status" VARCHAR(20) NOT NULL DEFAULT 'pending',
    "sold_at" DATETIME NOT NULL,
    FOREIGN KEY ("item_id") REFERENCES "items" ("id") ON DELETE SET NULL
);
CREATE INDEX "ix_sales_item_id" ON "sales" ("item_id");
-- qvdiff:down
DROP TABLE "sales";  -- DESTRUCTIVE: drops table sales and all its rows
