//! The decoder, end to end but for the file reading: any bytes as the token, with and without a
//! key, both --check profiles, both renderings. It may say no; it must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qs_jwt::check::Profile;
use qs_jwt::{decode, keys, token};

const PUBLIC_KEY: &str = include_str!("../../tests/fixtures/rsa2048-public.pem");
const NOW: u64 = 1_795_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parts) = token::parts(token::clean(text)) else {
        return;
    };
    let key = keys::verifying_key(None, Some(PUBLIC_KEY)).ok().flatten();
    for (key, profile, audience) in [
        (None, None, None),
        (key.as_ref(), Some(Profile::Qscloud), None),
        (key.as_ref(), Some(Profile::Qseow), Some("aud")),
    ] {
        let report = decode::report(parts.clone(), key, NOW, audience, profile);
        let _ = report.failure();
        for json in [false, true] {
            let _ = decode::render(&report, key, json);
        }
    }
});
