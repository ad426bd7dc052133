//! The tidy test: what ARCHITECTURE.md marks *(tidy)* is held here, over the source text, so
//! the map stays true as the code changes. Each rule confines a name to the files the map
//! allows it in; "mentions" means on a line of code (comment lines are skipped), and rules that
//! say "outside tests" also skip a file's `#[cfg(test)]` tail. The last test breaks each kind of
//! rule on purpose and checks that it is reported.

use std::fs;
use std::path::{Path, PathBuf};

/// A source file: its path from the repository's root, and its text.
struct Source {
    path: String,
    text: String,
}

/// A name that may appear only in the files under the listed paths (relative to `src/`; a path
/// ending in `/` is a directory, any other a file).
struct Confined {
    rule: &'static str,
    names: &'static [&'static str],
    only_in: &'static [&'static str],
    outside_tests: bool,
}

/// The pure core: files that do no I/O and never read the clock.
const CORE: &[&str] = &[
    "event.rs",
    "entry.rs",
    "canonical.rs",
    "hash.rs",
    "access.rs",
    "as_of.rs",
    "identity.rs",
    "merkle/",
    "projection/",
    "checks.rs",
    "checks/",
    "commands.rs",
    "commands/",
    "roster/",
    "timeline.rs",
    "report.rs",
    "history.rs",
    "sync/plan.rs",
    "sync/leftovers.rs",
    "sync/listing.rs",
    "webhook/signature.rs",
    "webhook/delivery.rs",
    "webhook/dedup.rs",
    "tiles/path.rs",
    "tiles/bundle.rs",
    "tiles/layout.rs",
    "alerts/derive.rs",
    "alerts/route.rs",
    "alerts/message.rs",
    "alerts/live.rs",
    "witness/protocol.rs",
    "witness/judge.rs",
];

/// What the core never mentions.
const NOT_IN_CORE: &[&str] = &[
    "tokio",
    "std::fs",
    "std::net",
    "std::env",
    "std::thread",
    "reqwest",
    "sled",
    "Clock",
    "Timestamp::now",
    "Instant::now",
    "SystemTime",
    "crate::ledger",
    "crate::store",
    "crate::service",
    "crate::api",
];

/// The gRPC status codes' constructors: only the one error mapping builds a `Status`.
const STATUS_CONSTRUCTORS: &[&str] = &[
    "Status::new(",
    "Status::cancelled(",
    "Status::unknown(",
    "Status::invalid_argument(",
    "Status::deadline_exceeded(",
    "Status::not_found(",
    "Status::already_exists(",
    "Status::permission_denied(",
    "Status::resource_exhausted(",
    "Status::failed_precondition(",
    "Status::aborted(",
    "Status::out_of_range(",
    "Status::unimplemented(",
    "Status::internal(",
    "Status::unavailable(",
    "Status::data_loss(",
    "Status::unauthenticated(",
];

const CONFINED: &[Confined] = &[
    Confined {
        rule: "nothing but `ledger` writes to the store",
        names: &[".stage(", ".extend_tree(", ".put_checkpoint("],
        only_in: &["store/", "ledger/"],
        outside_tests: false,
    },
    Confined {
        rule: "only the service and the syncer decide and append",
        names: &["decide_and_append"],
        only_in: &["ledger/", "service.rs", "sync/run.rs"],
        outside_tests: false,
    },
    Confined {
        rule: "nothing but `store` knows sled's API",
        names: &["sled::"],
        only_in: &["store/"],
        outside_tests: false,
    },
    Confined {
        rule: "only `store` and `ledger` name a store's implementation",
        names: &["SledStore", "MemoryStore"],
        only_in: &["store/", "ledger/"],
        outside_tests: false,
    },
    Confined {
        rule: "only `time.rs` reads the wall clock",
        names: &["Utc::now"],
        only_in: &["time.rs"],
        outside_tests: false,
    },
    Confined {
        rule: "only a webhook delivery's sub-second digits read the system time",
        names: &["SystemTime::now"],
        only_in: &["simulator/webhook.rs"],
        outside_tests: false,
    },
    Confined {
        rule: "few places read the ledger's clock",
        names: &["Timestamp::now"],
        only_in: &[
            "time.rs",
            "demo.rs",
            "simulate.rs",
            "simulator/",
            "cli/offline.rs",
        ],
        outside_tests: true,
    },
    Confined {
        rule: "few places make a system clock",
        names: &["SystemClock"],
        only_in: &[
            "time.rs",
            "app.rs",
            "cli/evidence.rs",
            "cli/replay.rs",
            "cli/alerts.rs",
            "cli/witness.rs",
            "tailscale/dates.rs",
        ],
        outside_tests: false,
    },
    Confined {
        rule: "blocking work stays at the edges",
        names: &["spawn_blocking"],
        only_in: &[
            "service.rs",
            "sync/run.rs",
            "webhook/server.rs",
            "checkpoint_file.rs",
            "archive/mod.rs",
            "witness/mod.rs",
            "web/evidence.rs",
        ],
        outside_tests: false,
    },
    Confined {
        rule: "only `api` knows protobuf",
        names: &["pb::", "prost"],
        only_in: &["api/"],
        outside_tests: false,
    },
    Confined {
        rule: "only `api` and the metrics' status layer know tonic",
        names: &["tonic"],
        only_in: &["api/", "metrics/layer.rs"],
        outside_tests: false,
    },
    Confined {
        rule: "one place maps errors to gRPC codes",
        names: STATUS_CONSTRUCTORS,
        only_in: &["api/errors.rs"],
        outside_tests: false,
    },
    Confined {
        rule: "the service and the core never use the API's types",
        names: &["crate::api"],
        only_in: &["api/", "app.rs", "config.rs", "demo.rs", "cli/", "web/"],
        outside_tests: false,
    },
    Confined {
        rule: "only the clients talk HTTP to other systems",
        names: &["reqwest::Client"],
        only_in: &[
            "tailscale/",
            "truto.rs",
            "simulator/",
            "alerts/send.rs",
            "witness/client.rs",
        ],
        outside_tests: false,
    },
    Confined {
        rule: "only the demo and `simulate` run the simulator",
        names: &["crate::simulator"],
        only_in: &["simulator/", "demo.rs", "demo/", "simulate.rs", "simulate/"],
        outside_tests: true,
    },
    Confined {
        rule: "only the service runs syncs",
        names: &["Syncer"],
        only_in: &["sync/", "service.rs", "app.rs", "demo.rs"],
        outside_tests: false,
    },
    Confined {
        rule: "only the CLI prints or reads the environment",
        names: &["println!", "eprintln!", "print!", "eprint!", "env::var"],
        only_in: &["cli/"],
        outside_tests: false,
    },
];

/// Citations of the product spec, which is not part of the repository (built from pieces, so
/// that this file does not cite it).
const CITES_SPEC: [&str; 2] = [concat!("SPEC", " §"), concat!("SPEC", ".md")];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir` (a path from the repository's root), in a stable order.
fn rust_files(dir: &str) -> Vec<Source> {
    fn walk(root: &Path, dir: &Path, into: &mut Vec<Source>) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap_or_else(|error| panic!("{} is readable: {error}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(root, &path, into);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                into.push(Source {
                    path: path.strip_prefix(root).unwrap().display().to_string(),
                    text: fs::read_to_string(&path).unwrap(),
                });
            }
        }
    }
    let mut files = Vec::new();
    walk(&root(), &root().join(dir), &mut files);
    files
}

/// The lines of code in `text` with their numbers: comment lines left out, and everything from
/// the first `#[cfg(test)]` on when `outside_tests`.
fn code_lines(text: &str, outside_tests: bool) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .take_while(move |(_, line)| !(outside_tests && line.trim() == "#[cfg(test)]"))
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .map(|(index, line)| (index + 1, line))
}

/// Whether `line` mentions `name` as a whole: not as part of a longer identifier (`Clock` is not
/// mentioned by `ClockSkew`, nor `sled` by `tailledger_sled`).
fn mentions(line: &str, name: &str) -> bool {
    let identifier = |c: char| c.is_alphanumeric() || c == '_';
    line.match_indices(name).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + name.len()..].chars().next();
        let joined_before = name.starts_with(identifier) && before.is_some_and(identifier);
        let joined_after = name.ends_with(identifier) && after.is_some_and(identifier);
        !joined_before && !joined_after
    })
}

/// Whether `path` (relative to `src/`) is one of `allowed`.
fn allowed(path: &str, allowed: &[&str]) -> bool {
    allowed.iter().any(|allowed| {
        if allowed.ends_with('/') {
            path.starts_with(allowed)
        } else {
            path == *allowed
        }
    })
}

/// Each line of `sources` (paths under `src/`) that breaks `rule`, as `path:line: what`.
fn breaches(sources: &[Source], rule: &Confined) -> Vec<String> {
    let mut found = Vec::new();
    for source in sources {
        let path = source.path.strip_prefix("src/").unwrap_or(&source.path);
        if allowed(path, rule.only_in) {
            continue;
        }
        for (number, line) in code_lines(&source.text, rule.outside_tests) {
            for name in rule.names.iter().filter(|name| mentions(line, name)) {
                found.push(format!(
                    "{}:{number}: `{name}` breaks \"{}\" (allowed only in {:?})",
                    source.path, rule.rule, rule.only_in
                ));
            }
        }
    }
    found
}

/// Each core file's line that mentions what the core never does.
fn core_breaches(sources: &[Source]) -> Vec<String> {
    let mut found = Vec::new();
    for source in sources {
        let path = source.path.strip_prefix("src/").unwrap_or(&source.path);
        if !allowed(path, CORE) {
            continue;
        }
        for (number, line) in code_lines(&source.text, false) {
            for name in NOT_IN_CORE.iter().filter(|name| mentions(line, name)) {
                found.push(format!(
                    "{}:{number}: the pure core mentions `{name}`",
                    source.path
                ));
            }
        }
    }
    found
}

/// The files whose first line is not a `//!` module comment.
fn undocumented(sources: &[Source]) -> Vec<String> {
    sources
        .iter()
        .filter(|source| !source.text.starts_with("//!"))
        .map(|source| format!("{} does not start with a `//!` comment", source.path))
        .collect()
}

/// Each citation of a document outside the repository, and each `docs/….md#anchor` pointer
/// whose page or anchor does not exist.
fn dangling_citations(sources: &[Source], docs: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut found = Vec::new();
    for source in sources {
        for (index, line) in source.text.lines().enumerate() {
            let number = index + 1;
            if CITES_SPEC.iter().any(|needle| line.contains(needle)) {
                found.push(format!(
                    "{}:{number}: cites the spec, which is not part of the repository; point at docs/ instead",
                    source.path
                ));
            }
            for pointer in line.split("docs/").skip(1) {
                let pointer: String = pointer
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || "/-_.#".contains(*c))
                    .collect();
                // A sentence's full stop is not part of the pointer.
                let pointer = pointer.trim_end_matches('.');
                let (page, anchor) = pointer.split_once('#').unwrap_or((pointer, ""));
                if !page.ends_with(".md") {
                    continue;
                }
                match docs(page) {
                    None => found.push(format!(
                        "{}:{number}: docs/{page} does not exist",
                        source.path
                    )),
                    Some(text) if !anchor.is_empty() => {
                        if !has_anchor(&text, anchor) {
                            found.push(format!(
                                "{}:{number}: docs/{page} has no anchor #{anchor}",
                                source.path
                            ));
                        }
                    }
                    Some(_) => {}
                }
            }
        }
    }
    found
}

/// Whether a Markdown page has `anchor`: an `<a id>` of its own, or a heading whose generated
/// anchor it is (lower case, punctuation dropped, spaces as hyphens).
fn has_anchor(page: &str, anchor: &str) -> bool {
    page.contains(&format!("<a id=\"{anchor}\"></a>"))
        || page.lines().any(|line| {
            let heading = line.trim_start_matches('#');
            heading.len() < line.len()
                && heading.starts_with(' ')
                && heading
                    .trim()
                    .to_lowercase()
                    .chars()
                    .filter(|c| c.is_alphanumeric() || " -_".contains(*c))
                    .map(|c| if c == ' ' { '-' } else { c })
                    .collect::<String>()
                    == anchor
        })
}

fn assert_none(found: Vec<String>) {
    assert!(found.is_empty(), "{}", found.join("\n"));
}

fn docs_page(page: &str) -> Option<String> {
    fs::read_to_string(root().join("docs").join(page)).ok()
}

#[test]
fn the_code_keeps_the_shape_the_map_describes() {
    let sources = rust_files("src");
    let mut found: Vec<String> = CONFINED
        .iter()
        .flat_map(|rule| breaches(&sources, rule))
        .collect();
    found.extend(core_breaches(&sources));
    assert_none(found);
}

#[test]
fn every_rust_file_starts_with_its_module_comment() {
    let mut found = Vec::new();
    for dir in ["src", "tests", "benches", "tools"] {
        found.extend(undocumented(&rust_files(dir)));
    }
    assert_none(found);
}

#[test]
fn citations_point_at_the_projects_own_reference() {
    let mut found = Vec::new();
    for dir in ["src", "tests", "benches", "tools"] {
        found.extend(dangling_citations(&rust_files(dir), &docs_page));
    }
    for doc in [
        "README.md",
        "ARCHITECTURE.md",
        "RELIABILITY.md",
        "BENCHMARKS.md",
    ] {
        let source = Source {
            path: doc.to_owned(),
            text: fs::read_to_string(root().join(doc)).unwrap(),
        };
        found.extend(dangling_citations(&[source], &docs_page));
    }
    assert_none(found);
}

#[test]
fn the_map_and_the_front_door_stay_short() {
    let words = fs::read_to_string(root().join("ARCHITECTURE.md"))
        .unwrap()
        .split_whitespace()
        .count();
    assert!(
        words <= 2_500,
        "ARCHITECTURE.md has {words} words (at most 2,500)"
    );
    let lines = fs::read_to_string(root().join("README.md"))
        .unwrap()
        .lines()
        .count();
    assert!(lines <= 400, "README.md has {lines} lines (at most 400)");
}

/// Each kind of rule, broken on purpose in made-up files, is reported with its file and line;
/// the same files with the breach in a comment or (where the rule allows) a test pass.
#[test]
fn a_broken_rule_is_reported_with_its_file_and_line() {
    let file = |path: &str, text: &str| Source {
        path: path.to_owned(),
        text: text.to_owned(),
    };
    let sled_rule = CONFINED
        .iter()
        .find(|rule| rule.names == ["sled::"])
        .unwrap();
    let sources = [
        file(
            "src/service.rs",
            "//! Doc.\nfn f() { sled::open(\"x\"); }\n",
        ),
        file("src/store/sled_store.rs", "//! Doc.\nuse sled::Db;\n"),
        file("src/api/mod.rs", "//! Doc.\n// sled::open in a comment\n"),
    ];
    let found = breaches(&sources, sled_rule);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("src/service.rs:2: `sled::` breaks"),
        "{found:?}"
    );

    let clock_rule = CONFINED
        .iter()
        .find(|rule| rule.names == ["Timestamp::now"])
        .unwrap();
    let in_a_test = [file(
        "src/service.rs",
        "//! Doc.\nfn f() {}\n#[cfg(test)]\nmod tests { fn t() { Timestamp::now(); } }\n",
    )];
    assert!(breaches(&in_a_test, clock_rule).is_empty());
    let in_code = [file(
        "src/service.rs",
        "//! Doc.\nfn f() { Timestamp::now(); }\n",
    )];
    assert_eq!(breaches(&in_code, clock_rule).len(), 1);

    let core = [file(
        "src/report.rs",
        "//! Doc.\nuse std::fs::File;\nenum Reason { ClockSkew }\n",
    )];
    assert_eq!(
        core_breaches(&core),
        ["src/report.rs:2: the pure core mentions `std::fs`"]
    );

    assert_eq!(
        undocumented(&[file("src/new.rs", "use x;\n")]),
        ["src/new.rs does not start with a `//!` comment"]
    );

    let page = |name: &str| {
        (name == "reference/ledger.md")
            .then(|| "<a id=\"export\"></a>\n## The Tree, in tiles\n".into())
    };
    let cited = [file(
        "src/x.rs",
        &format!(
            "//! See {}3, DOCS/reference/ledger.md#export, DOCS/reference/ledger.md#gone and\n\
             //! DOCS/reference/missing.md, DOCS/reference/ledger.md#the-tree-in-tiles.\n",
            CITES_SPEC[0]
        )
        // Written in capitals here, so that this file's own scan does not take them for its
        // pointers.
        .replace("DOCS/", "docs/"),
    )];
    let expected = [
        "src/x.rs:1: cites the spec, which is not part of the repository; point at docs/ instead",
        "src/x.rs:1: DOCS/reference/ledger.md has no anchor #gone",
        "src/x.rs:2: DOCS/reference/missing.md does not exist",
    ]
    .map(|line| line.replace("DOCS/", "docs/"));
    assert_eq!(dangling_citations(&cited, &page), expected);
}
