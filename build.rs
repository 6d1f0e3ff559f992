//! Compiles `proto/` with protox (pure Rust, so no `protoc` is needed) and generates the
//! tonic servers and clients, plus the descriptor sets that gRPC reflection serves.
//!
//! Two API generations are compiled. The seeds' (spaceone-api 2.0.300) is `proto/` as it
//! stands; the current one (2.0.435) is the same tree with the files that changed shadowed
//! by `proto/current/`. A message whose descriptor is the same in both generations, and
//! holds only such messages, is generated once, in the seeds' module, and the current
//! module refers to it; only the messages that differ get types of their own there. So a
//! field added to either generation's file makes that message differ, gives it a type of
//! its own, and the adapter in `src/api/current.rs` stops compiling until it handles it.
//! Enums travel as numbers, so a new enum value does not split the messages holding it.
//! A few requests go the other way (`READ_AS_CURRENT`): the seeds' generation decodes them
//! into the current type, which holds both layouts.

use std::collections::{BTreeMap, BTreeSet};
use std::{env, path::PathBuf};

use heck::ToUpperCamelCase;
use prost_types::{DescriptorProto, FileDescriptorSet, field_descriptor_proto::Type};

/// Every file the server serves, by its path under an include root.
const PROTOS: &[&str] = &[
    "spaceone/api/identity/v2/user_profile.proto",
    "spaceone/api/identity/v2/workspace_user.proto",
    "spaceone/api/identity/v2/token.proto",
    "spaceone/api/identity/v2/workspace.proto",
    "spaceone/api/identity/v2/domain.proto",
];

/// Requests the seeds' generation decodes into the current generation's type, which holds
/// every field of the seeds' one (for `find`, `pb::codec` renumbers the one field whose
/// number moved): a seeds' server then honours what a current client adds there, or
/// refuses it by name, instead of dropping it unseen.
const READ_AS_CURRENT: &[&str] = &[
    ".spaceone.api.identity.v2.WorkspaceUserFindRequest",
    ".spaceone.api.core.v2.Query",
];

/// The Rust module that holds package `package` of the seeds' generation, or of the
/// current one's own types.
fn module(package: &str, current: bool) -> String {
    let seeds = match package {
        "spaceone.api.identity.v2" => "identity",
        "spaceone.api.core.v2" => "core",
        other => panic!("build.rs: no module for package {other}"),
    };
    match current {
        false => format!("crate::pb::{seeds}"),
        true => format!("crate::pb::current::{seeds}"),
    }
}

/// The Rust path of the type `.package.Name`, named as prost names it (`EnableMFARequest`
/// is `EnableMfaRequest`).
fn rust_path(name: &str, current: bool) -> String {
    let (package, ident) = name[1..].rsplit_once('.').expect("a packaged name");
    format!(
        "{}::{}",
        module(package, current),
        ident.to_upper_camel_case()
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);

    let seeds = compile(&["proto"])?;
    std::fs::write(out_dir.join("seeds_descriptor.bin"), seeds.encoded)?;
    let mut builder = tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .codec_path("crate::pb::codec::Codec");
    for name in READ_AS_CURRENT {
        builder = builder.extern_path(*name, rust_path(name, true));
    }
    builder.compile_fds(seeds.set.clone())?;

    let current = compile(&["proto/current", "proto"])?;
    std::fs::write(out_dir.join("current_descriptor.bin"), current.encoded)?;
    let current_out = out_dir.join("current");
    std::fs::create_dir_all(&current_out)?;
    let mut builder = tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .codec_path("crate::pb::codec::Codec")
        .out_dir(&current_out)
        .extern_path(".google.api", "crate::pb::google::api");
    for name in shared_types(&seeds.set, &current.set) {
        builder = builder.extern_path(&name, rust_path(&name, false));
    }
    builder.compile_fds(current.set)?;
    Ok(())
}

/// One generation's descriptors: as prost reads them, and as reflection serves them.
struct Compiled {
    set: FileDescriptorSet,
    encoded: Vec<u8>,
}

/// Compiles `PROTOS` with the include roots `roots`, the first that holds a file winning.
fn compile(roots: &[&str]) -> Result<Compiled, Box<dyn std::error::Error>> {
    let mut compiler = protox::Compiler::new(roots)?;
    compiler
        .include_imports(true)
        .include_source_info(true)
        .open_files(PROTOS)?;
    // protox's own encoding keeps extension options such as the `google.api.http` rules,
    // which the `prost_types` descriptors drop; reflection serves these bytes.
    Ok(Compiled {
        encoded: compiler.encode_file_descriptor_set(),
        set: compiler.file_descriptor_set(),
    })
}

/// The full names (`.package.Name`) of the top-level messages and enums of the
/// `spaceone.api` packages that both generations define alike: an enum with the same
/// values; a message with the same descriptor whose message fields are all shared or
/// `READ_AS_CURRENT` (one type in both generations too, the current one's).
fn shared_types(seeds: &FileDescriptorSet, current: &FileDescriptorSet) -> BTreeSet<String> {
    let seeds_types = top_level_types(seeds);
    let current_types = top_level_types(current);
    let mut shared: BTreeMap<&String, &Declared> = current_types
        .iter()
        .filter(|(name, declared)| {
            seeds_types.get(*name) == Some(*declared) || READ_AS_CURRENT.contains(&name.as_str())
        })
        .collect();
    // A message holding a message that differs differs too; repeat until nothing changes.
    loop {
        let before = shared.len();
        let names: BTreeSet<String> = shared.keys().map(|name| (*name).clone()).collect();
        shared.retain(|_, declared| match declared {
            Declared::Enum(_) => true,
            Declared::Message(message) => holds_only(message, &names),
        });
        if shared.len() == before {
            break;
        }
    }
    shared
        .into_keys()
        .filter(|name| !READ_AS_CURRENT.contains(&name.as_str()))
        .cloned()
        .collect()
}

/// A top-level declaration, as compared across generations.
#[derive(PartialEq)]
enum Declared {
    Message(DescriptorProto),
    Enum(prost_types::EnumDescriptorProto),
}

fn top_level_types(set: &FileDescriptorSet) -> BTreeMap<String, Declared> {
    let mut types = BTreeMap::new();
    for file in &set.file {
        let package = file.package();
        if !package.starts_with("spaceone.api.") {
            continue;
        }
        for message in &file.message_type {
            types.insert(
                format!(".{package}.{}", message.name()),
                Declared::Message(message.clone()),
            );
        }
        for declared in &file.enum_type {
            types.insert(
                format!(".{package}.{}", declared.name()),
                Declared::Enum(declared.clone()),
            );
        }
    }
    types
}

/// Whether every message-typed field of `message` and its nested messages names a type in
/// `shared`, or one nested in `message` itself, or a well-known type.
fn holds_only(message: &DescriptorProto, shared: &BTreeSet<String>) -> bool {
    let nested_ok = message
        .nested_type
        .iter()
        .all(|nested| holds_only(nested, shared));
    nested_ok
        && message
            .field
            .iter()
            .filter(|field| field.r#type() == Type::Message)
            .all(|field| {
                let name = field.type_name();
                name.starts_with(".google.protobuf.")
                    || shared.contains(name)
                    || shared
                        .iter()
                        .any(|outer| name.starts_with(&format!("{outer}.")))
                    || is_nested(message, name)
            })
}

/// Whether `name` is a type nested in `message` (whose fields may refer to its own kin).
fn is_nested(message: &DescriptorProto, name: &str) -> bool {
    message
        .nested_type
        .iter()
        .any(|nested| name.ends_with(&format!(".{}.{}", message.name(), nested.name())))
}
