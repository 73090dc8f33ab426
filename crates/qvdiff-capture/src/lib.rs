//! qvdiff-capture
