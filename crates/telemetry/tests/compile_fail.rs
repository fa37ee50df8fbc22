//! Definitions that break a rule do not compile; the expected compiler output is in
//! `tests/ui/*.stderr` (regenerate with `TRYBUILD=overwrite`).

#[test]
fn malformed_definitions_do_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
