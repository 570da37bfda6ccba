//! The integration tests: one crate (as ripgrep's tests/tests.rs and uv's tests/it/main.rs), so
//! one binary is built and linked. A command's tests are in the file named for it; the concerns
//! that cross commands (streams, redaction, interruptions, hardening, errors, docs, examples,
//! properties) have their own files; the stand-in servers and helpers are in `common`.

mod common;

mod completions;
mod create;
mod create_key;
mod create_users;
mod decode;
mod docs;
mod doctor_qscloud;
mod doctor_qseow;
mod engine;
mod errors;
mod examples;
mod hardening;
mod hints;
mod interrupted;
mod key_sources;
mod keys;
mod login;
mod oauth;
mod passphrase;
mod properties;
mod redaction;
mod seed_examples;
mod serve;
mod setup_qscloud;
mod setup_qseow;
mod streams;
