//! Progress of long work (docs/reference/cli.md#global): `export`, `verify` and `verify-export`
//! show a bar with the rate and the time left, and `sync` a spinner with the time spent and its
//! budget, on standard error, drawn only when it is a terminal, so scripts, pipes, CI logs and the
//! tests see nothing of it.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A spinner saying `what` is under way, with the time spent; it ticks on its own.
pub fn spinner(what: String) -> ProgressBar {
    let style = ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
        // The template is a constant of this file, tested below.
        .expect("the spinner template parses");
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        .with_style(style)
        .with_message(what);
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

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
        let spinner = super::spinner("syncing".to_owned());
        spinner.tick();
        spinner.finish_and_clear();
    }
}
