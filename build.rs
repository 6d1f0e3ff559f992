//! Compiles `proto/` with protox (pure Rust, so no `protoc` is needed) and generates the
//! tonic servers and clients, plus the descriptor set that gRPC reflection serves.

use std::{env, path::PathBuf};

const PROTOS: &[&str] = &[
    "spaceone/api/identity/v2/user_profile.proto",
    "spaceone/api/identity/v2/workspace_user.proto",
    "spaceone/api/identity/v2/token.proto",
    "spaceone/api/identity/v2/workspace.proto",
    "spaceone/api/identity/v2/domain.proto",
    "spaceid/compat/v2/user_profile.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler
        .include_imports(true)
        .include_source_info(true)
        .open_files(PROTOS)?;
    // protox's own encoding keeps extension options such as the `google.api.http` rules,
    // which the `prost_types` descriptors drop; reflection serves these bytes.
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("spaceid_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
