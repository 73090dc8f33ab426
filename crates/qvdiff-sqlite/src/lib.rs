//! qvdiff-sqlite
