//! The integration tests: each starts the real server on port 0 against a fresh database
//! and calls it with generated tonic clients. One binary, so it links once.

mod helpers;
mod smtp;

mod abuse;
mod bench;
mod cli;
mod codes;
mod domain;
mod edge;
mod folding;
mod generations;
mod input_limits;
mod logs;
mod mail;
mod malformed;
mod production;
mod query;
mod reset;
mod revocation;
mod server;
mod storage;
mod throttle;
mod token;
mod token_attacks;
mod update_password;
mod user_profile;
mod workspace_user;
mod workspaces;
