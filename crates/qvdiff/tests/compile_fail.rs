//! `#[derive(Model)]` error messages, as the compiler shows them (trybuild snapshots in
//! `tests/ui/*.stderr`; regenerate with `TRYBUILD=overwrite` and review every span), plus a model
//! that uses the whole grammar and must compile and run.

#[test]
fn derive_errors_point_at_the_offending_tokens() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui-pass/*.rs");
}
