//! The code generated from `proto/tailledger/v1` (see `build.rs`). Only the `api` module uses it.
#![allow(clippy::all, clippy::pedantic, missing_docs)]

tonic::include_proto!("tailledger.v1");

/// The encoded descriptor set of the tailledger protos, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("tailledger_descriptor");
