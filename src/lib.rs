//! spaceid: a SpaceONE (Cloudforet) identity v2 service over gRPC.
//!
//! `api` holds the gRPC handlers, `service` what each call does, `domain` the validated
//! types and rules, `auth` tokens and callers, `store` the database, `mail` e-mail, `error` the one error
//! type and its mapping to gRPC statuses.

pub mod api;
pub mod auth;
#[cfg(feature = "bench")]
pub mod bench;
pub mod cli;
pub mod clock;
pub mod config;
pub mod context;
pub mod domain;
pub mod error;
pub mod mail;
pub mod pb;
pub mod query;
pub mod server;
pub mod service;
pub mod store;
