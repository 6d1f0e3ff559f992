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
