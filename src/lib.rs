//! qs-jwt's code as a library, so that the fuzz targets in `fuzz/` can call the parsers
//! directly. The product is the `qs-jwt` command; this API is not stable.

pub mod check;
pub mod claims;
pub mod cli;
pub mod completions;
pub mod create;
pub mod decode;
pub mod error;
pub mod expires;
pub mod http;
pub mod input;
pub mod keys;
pub mod log;
pub mod login;
pub mod oauth;
pub mod qlik;
pub mod render;
pub mod secret;
pub mod setup;
pub mod stdio;
pub mod times;
pub mod token;
pub mod users;

/// What a command prints on stdout, and why it still fails, if it does: decode prints its
/// report for a token that fails verification, then exits 1.
pub struct Output {
    /// `None` when the command wrote its product itself, a line at a time (`--users`).
    pub stdout: Option<String>,
    pub failure: Option<String>,
    /// The files of a key made for this run: committed once stdout is written, else removed.
    pub pending_files: Option<keys::PendingKeyFiles>,
}

impl Output {
    pub fn product(stdout: String) -> Self {
        Self {
            stdout: Some(stdout),
            failure: None,
            pending_files: None,
        }
    }

    /// The product is on standard output already; `pending_files` wait for main as ever.
    pub fn streamed(pending_files: Option<keys::PendingKeyFiles>) -> Self {
        Self {
            stdout: None,
            failure: None,
            pending_files,
        }
    }
}
