//! Bad input never panics and always gets a clear error: property tests of the configuration
//! parser and the export verifier. (The roster parser and the Tailscale JSON decoding have their
//! own properties, in `roster_parse` and in the `tailscale` module.)

use std::io::Cursor;
use std::path::Path;

use proptest::prelude::*;
use tailledger::config::Config;
use tailledger::verify::verify_export;

use crate::helpers::golden_chain;

/// Text that looks like a configuration: real keys and sections with arbitrary values.
fn config_like() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("[tailscale]".to_owned()),
        Just("[auth]".to_owned()),
        Just("[roster]".to_owned()),
        Just("[tailscale.access_policy]".to_owned()),
        ("(listen|data_dir|sync_interval|api_token_env|timezone|csv_path|offboarding_grace|disabled|max_removal_fraction|tokens)", ".{0,30}")
            .prop_map(|(key, value)| format!("{key} = {value}")),
        ("(listen|sync_interval|api_token_env|timezone)", "[a-zA-Z0-9:./ -]{0,20}")
            .prop_map(|(key, value)| format!("{key} = \"{value}\"")),
        ".{0,40}",
    ];
    prop::collection::vec(line, 0..20).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_config_parser_never_panics_and_names_a_line_in_the_file(text in config_like()) {
        let lines = text.lines().count().max(1);
        match Config::parse(Path::new("fuzz.toml"), &text, Path::new("/tmp"), |_| Some("set".to_owned())) {
            Ok(_) => {}
            Err(error) => {
                prop_assert!(!error.message.is_empty());
                if let Some(line) = error.line {
                    prop_assert!(line >= 1 && line <= lines + 1, "line {} of {}: {}", line, lines, error);
                }
            }
        }
    }

    #[test]
    fn the_export_verifier_never_panics_on_arbitrary_lines(lines in prop::collection::vec(".{0,200}", 0..10)) {
        let text = lines.join("\n");
        let report = verify_export(Cursor::new(text.clone()), None).expect("reading from memory cannot fail");
        prop_assert!(text.is_empty() || !report.is_ok(), "random lines verified: {:?}", report);
    }

    #[test]
    fn the_export_verifier_reports_any_single_byte_change(position in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut text: Vec<u8> = golden_chain().iter().flat_map(|entry| (entry.export_line() + "\n").into_bytes()).collect();
        let index = position.index(text.len());
        prop_assume!(text[index] != byte);
        text[index] = byte;
        let report = verify_export(Cursor::new(text), None);
        // Invalid UTF-8 is an I/O error of the line reader, which is a clear refusal too.
        if let Ok(report) = report {
            prop_assert!(!report.is_ok(), "a changed byte went unnoticed");
        }
    }
}
