//! The verification script a pack carries: the README's `verify_export.py`, taken from the
//! README compiled into the binary, so the pack's copy is the one the README's test runs.

const README: &str = include_str!("../../README.md");

/// The Python script between the README's `<!-- verify_export.py begin -->` and `end` markers.
pub fn verify_export_py() -> &'static str {
    README
        .split("<!-- verify_export.py begin -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- verify_export.py end -->").next())
        .and_then(|block| block.trim().strip_prefix("```python"))
        .and_then(|code| code.strip_suffix("```"))
        .map(str::trim_start)
        // The README is part of this crate and a test runs the script from a pack.
        .expect("the README holds the verification script between its markers")
}
