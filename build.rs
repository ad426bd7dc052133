//! Generates the gRPC code of `proto/tailledger/v1` with the protoc shipped by the
//! `protoc-bin-vendored` crate, so no system protoc is needed, and writes the descriptor set
//! that server reflection serves.

use std::path::{Path, PathBuf};

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
    Ok(())
}
