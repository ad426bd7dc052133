//! Generates the gRPC code of `proto/tailledger/v1` with the protoc shipped by the
//! `protoc-bin-vendored` crate, so no system protoc is needed, and writes the descriptor set
//! that server reflection serves. Also sets `TAILLEDGER_GIT_COMMIT` for `--version`: the short
//! commit of the checkout being built, or `unknown` outside one (a source tarball) or without
//! git.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `git` with `args` in the package's directory, its output trimmed; `None` if it fails.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(package_dir())
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

/// The package's directory, as cargo tells this run of the script: read when it runs, not when it
/// was compiled, so a target directory moved to another checkout still names the right one.
fn package_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
}

/// The short commit of the checkout, and reruns of this script when it moves.
fn git_commit() -> String {
    // `.git` is a directory in a clone and a file in a worktree; a tarball has neither.
    if !package_dir().join(".git").exists() {
        return "unknown".to_owned();
    }
    let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return "unknown".to_owned();
    };
    // HEAD names the branch; the branch's ref (loose or packed) names the commit.
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            let path = package_dir().join(path);
            // A path that does not exist would rerun this script on every build.
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    commit
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    let well_known = protoc_bin_vendored::include_path()?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let protos = [
        Path::new("proto/tailledger/v1/events.proto"),
        Path::new("proto/tailledger/v1/ledger.proto"),
        Path::new("proto/tailledger/v1/admin.proto"),
    ];
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("tailledger_descriptor.bin"))
        .compile_with_config(config, &protos, &[Path::new("proto"), well_known.as_path()])?;
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rustc-env=TAILLEDGER_GIT_COMMIT={}", git_commit());
    Ok(())
}
