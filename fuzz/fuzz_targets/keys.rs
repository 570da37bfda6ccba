//! Key text as it arrives from flags, files and CI secrets: any text as a private key (to sign
//! with) and as a public key or certificate (to verify with); any bytes as an encrypted
//! PKCS#8 key (PBES2), with any passphrase.
#![no_main]

use std::time::UNIX_EPOCH;

use libfuzzer_sys::fuzz_target;
use qs_jwt::keys::{self, KeySource};
use qs_jwt::secret::Passphrase;
use zeroize::Zeroizing;

fuzz_target!(|input: (&str, &[u8], &[u8])| {
    let (text, der, passphrase) = input;
    let _ = keys::normalise_pem(text);
    let _ = keys::signing_key(&KeySource::Text(text), None, UNIX_EPOCH);
    let _ = keys::verifying_key(None, Some(text));
    // The encrypted-key reader, on DER the fuzzer builds, and through the PEM reader as a user's
    // file would reach it. Its limits (iterations, scrypt memory) keep each run short.
    let _ = keys::decrypt_pkcs8(der, passphrase);
    let pem = pem::encode(&pem::Pem::new("ENCRYPTED PRIVATE KEY", der.to_vec()));
    let passphrase = Passphrase::new(Zeroizing::new(passphrase.to_vec()), "the fuzzer");
    let _ = keys::signing_key(&KeySource::Text(&pem), Some(&passphrase), UNIX_EPOCH);
});
