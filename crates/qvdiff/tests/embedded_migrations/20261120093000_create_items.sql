-- qvdiff revision: 20261120093000
-- parents:
-- message: create items
-- qvdiff:up
CREATE TABLE "items" (
    "id" INTEGER PRIMARY KEY NOT NULL,
    "title" VARCHAR(200) NOT NULL
);
-- qvdiff:down
DROP TABLE "items";  -- DESTRUCTIVE: drops table items
