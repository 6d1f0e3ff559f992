//! Compiles `proto/` with protox (pure Rust, so no `protoc` is needed) and generates the
//! tonic servers and clients, plus the descriptor set that gRPC reflection serves.

use std::{env, path::PathBuf};

use prost::Message;

const PROTOS: &[&str] = &[
    "spaceone/api/identity/v2/user_profile.proto",
    "spaceone/api/identity/v2/workspace_user.proto",
    "spaceone/api/identity/v2/token.proto",
    "spaceone/api/identity/v2/workspace.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("spaceid_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
