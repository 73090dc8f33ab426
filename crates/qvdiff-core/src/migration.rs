//! The migration-file format: render and strict parse.
