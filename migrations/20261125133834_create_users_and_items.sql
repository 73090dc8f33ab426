-- qvdiff revision: 20261125133834
-- parents:
-- message: create users and items
-- qvdiff:up
CREATE TABLE "users" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "email" VARCHAR(255) NOT NULL,
    "display_name" VARCHAR(100) NOT NULL,
    "created_at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE ("email")
);
CREATE TABLE "items" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "user_id" INTEGER NOT NULL,
    "title" VARCHAR(200) NOT NULL,
    "sku" VARCHAR(64) NOT NULL,
    "description" TEXT,
    "cost" REAL NOT NULL,
    "price" REAL NOT NULL,
    "quantity" INTEGER NOT NULL DEFAULT 1,
    "is_active" BOOLEAN NOT NULL DEFAULT TRUE,
    "created_at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE ("sku"),
    FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON DELETE CASCADE
);
CREATE INDEX "ix_items_user_active" ON "items" ("user_id", "is_active");
CREATE INDEX "ix_items_user_id" ON "items" ("user_id");
-- qvdiff:down
DROP TABLE "items";  -- DESTRUCTIVE: drops table items and all its rows
DROP TABLE "users";  -- DESTRUCTIVE: drops table users and all its rows
