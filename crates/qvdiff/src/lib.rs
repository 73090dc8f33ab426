//! qvdiff
