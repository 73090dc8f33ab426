//! `#[derive(Model)]`: a thin proc-macro over qvdiff-capture.
