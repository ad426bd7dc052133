//! The scripts a pack carries: the auditors' guide's `verify_export.py`, `verify_checkpoint.py`
//! and `check_proof.py`, taken from `docs/auditing.md` compiled into the binary, so the pack's
//! copies are the ones the guide's tests run.

const AUDITING_GUIDE: &str = include_str!("../../docs/auditing.md");

/// The Python script between the auditors' guide's `<!-- NAME begin -->` and `<!-- NAME end -->`
/// markers.
///
/// # Panics
/// When the guide marks no script `name`: the names are this crate's constants, and the tests
/// take every one of them.
pub fn readme_script(name: &str) -> &'static str {
    AUDITING_GUIDE
        .split(&format!("<!-- {name} begin -->"))
        .nth(1)
        .and_then(|rest| rest.split(&format!("<!-- {name} end -->")).next())
        .and_then(|block| block.trim().strip_prefix("```python"))
        .and_then(|code| code.strip_suffix("```"))
        .map(str::trim_start)
        .unwrap_or_else(|| panic!("docs/auditing.md holds {name} between its markers"))
}
