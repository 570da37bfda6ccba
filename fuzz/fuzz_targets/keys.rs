//! Key text as it arrives from flags, files and CI secrets: any text as a private key (to sign
//! with) and as a public key or certificate (to verify with).
#![no_main]

use std::time::UNIX_EPOCH;

use libfuzzer_sys::fuzz_target;
use qs_jwt::keys::{self, KeySource};

fuzz_target!(|text: &str| {
    let _ = keys::normalise_pem(text);
    let _ = keys::signing_key(&KeySource::Text(text), UNIX_EPOCH);
    let _ = keys::verifying_key(None, Some(text));
});
