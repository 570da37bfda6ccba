//! The --expires parser and the expiry it leads to: any text, any `now`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qs_jwt::expires::{MAX_TIMESTAMP, expires_at, parse_expires};

fuzz_target!(|input: (&str, u64)| {
    let (text, now) = input;
    if let Ok(validity) = parse_expires(text) {
        assert!(validity.as_secs() >= 1 && validity.as_secs() <= MAX_TIMESTAMP);
        if let Ok(exp) = expires_at(now, validity) {
            assert!(exp <= MAX_TIMESTAMP);
        }
    }
});
