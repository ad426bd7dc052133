//! The scripts a pack carries: the README's `verify_export.py`, `verify_checkpoint.py` and
//! `check_proof.py`, taken from the README compiled into the binary, so the pack's copies are the
//! ones the README's tests run.

const README: &str = include_str!("../../README.md");

/// The Python script between the README's `<!-- NAME begin -->` and `<!-- NAME end -->`
/// markers.
///
/// # Panics
/// When the README marks no script `name`: the names are this crate's constants, and the tests
/// take every one of them.
pub fn readme_script(name: &str) -> &'static str {
    README
        .split(&format!("<!-- {name} begin -->"))
        .nth(1)
        .and_then(|rest| rest.split(&format!("<!-- {name} end -->")).next())
        .and_then(|block| block.trim().strip_prefix("```python"))
        .and_then(|code| code.strip_suffix("```"))
        .map(str::trim_start)
        .unwrap_or_else(|| panic!("the README holds {name} between its markers"))
}
