//! Integration tests, compiled as one binary so that the crate is linked once.

mod tailscale_client;
