//! Progress of long offline work (docs/reference/cli.md#global): `export`, `verify` and
//! `verify-export` show a bar with the rate and the time left on standard error, drawn only when it
//! is a terminal, so scripts, pipes, CI logs and the tests see nothing of it.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `total` units (entries, or bytes with `bytes`), labelled `what`.
pub fn bar(total: u64, what: &'static str, bytes: bool) -> ProgressBar {
    let counts = if bytes {
        "{binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec})"
    } else {
        "{human_pos}/{human_len} entries ({per_sec})"
    };
    let template = format!("{{msg}} [{{bar:30}}] {counts}, {{eta}} left");
    let style = ProgressStyle::with_template(&template)
        // The template is a constant of this file, tested below.
        .expect("the progress template parses")
        .progress_chars("=> ");
    ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
        .with_style(style)
        .with_message(what)
}

#[cfg(test)]
mod tests {
    use super::bar;

    #[test]
    fn both_templates_parse_and_a_bar_counts_what_it_is_told() {
        for bytes in [false, true] {
            let bar = bar(10, "verifying", bytes);
            bar.inc(4);
            assert_eq!(bar.position(), 4);
            bar.finish_and_clear();
        }
    }
}
