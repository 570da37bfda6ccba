//! qs-jwt's code as a library, so that the fuzz targets in `fuzz/` can call the parsers
//! directly. The product is the `qs-jwt` command; this API is not stable.

pub mod claims;
pub mod cli;
pub mod commands;
pub mod engine;
pub mod error;
pub mod expires;
pub mod http;
pub mod input;
pub mod keys;
pub mod log;
pub mod qlik;
pub mod render;
pub mod secret;
pub mod stdio;
pub mod times;
pub mod token;
pub mod users;
