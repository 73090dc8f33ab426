//! qvdiff CLI library.
