//! The differ: `diff(from, to, renames) -> Vec<Change>`.
