//! spaceid: a SpaceONE (Cloudforet) identity v2 service over gRPC.
//!
//! Two modules are public: `pb`, the wire types and clients generated from `proto/`, and
//! `cli`, the command line the `spaceid` binary runs. Everything else is the crate's own,
//! layered so each module uses only those below it: `cli` → `server` (the tonic server) →
//! `api` (the gRPC handlers) → `service` (what each call does) → `auth` (tokens and
//! callers) → `store` (the database) → `domain` (validated types and rules) and `query`
//! (SpaceONE queries as SQL) → `error` (the one error type). `mail`, `clock`, `config` and
//! `context` sit beside them. The integration tests reach the internals through `testing`,
//! built with the `testing` feature only.

pub(crate) mod api;
pub(crate) mod auth;
#[cfg(feature = "bench")]
pub(crate) mod bench;
pub mod cli;
pub(crate) mod clock;
pub(crate) mod config;
pub(crate) mod context;
pub(crate) mod domain;
pub(crate) mod error;
pub(crate) mod mail;
pub mod pb;
pub(crate) mod query;
pub(crate) mod server;
pub(crate) mod service;
pub(crate) mod store;
#[cfg(feature = "testing")]
pub mod testing;

#[cfg(test)]
mod layers {
    //! The faces of the service reach the database through service functions only.

    use std::path::{Path, PathBuf};

    /// The files of the faces: the command line, the server, the gRPC handlers, the bench.
    fn faces() -> Vec<PathBuf> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![
            src.join("main.rs"),
            src.join("cli.rs"),
            src.join("server.rs"),
        ];
        for folder in ["server", "api", "bench"] {
            let mut pending = vec![src.join(folder)];
            while let Some(dir) = pending.pop() {
                for entry in std::fs::read_dir(&dir).expect("a source folder") {
                    let path = entry.expect("a folder entry").path();
                    if path.is_dir() {
                        pending.push(path);
                    } else if path.extension().is_some_and(|ext| ext == "rs") {
                        files.push(path);
                    }
                }
            }
        }
        files
    }

    #[test]
    fn no_face_names_the_store() {
        let mut found = Vec::new();
        for file in faces() {
            let text = std::fs::read_to_string(&file).expect("a source file");
            for (number, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                if code.contains("store::")
                    || code.contains("crate::store")
                    || code.contains(".store.")
                {
                    found.push(format!(
                        "{}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
        assert!(
            found.is_empty(),
            "cli, server, api and bench call service functions, not store:\n{}",
            found.join("\n")
        );
    }
}
