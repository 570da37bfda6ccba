//! The decoder, end to end but for the file reading: any bytes as the token, with and without a
//! key, both --check profiles, both renderings. It may say no; it must not panic, and nothing
//! it prints about the token may drive a terminal: no control character but the line breaks of
//! its own layout reaches the report or the error line (issue 8, class 3).
#![no_main]

use libfuzzer_sys::fuzz_target;
use qs_jwt::commands::decode;
use qs_jwt::qlik::rules::Profile;
use qs_jwt::render::is_control;
use qs_jwt::{error, keys, token};

const PUBLIC_KEY: &str = include_str!("../../tests/fixtures/rsa2048-public.pem");
use qs_jwt::times::EXAMPLE_NOW as NOW;

fn assert_safe(text: &str) {
    assert!(
        !text.chars().any(|c| c != '\n' && is_control(c)),
        "a control character reaches the output: {text:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parts = match token::parts(token::clean(text)) {
        Ok(parts) => parts,
        Err(err) => {
            assert_safe(&error::render(&err.into(), false));
            return;
        }
    };
    let key = keys::verifying_key(None, Some(PUBLIC_KEY)).ok().flatten();
    for (key, profile, audience) in [
        (None, None, None),
        (key.as_ref(), Some(Profile::Qscloud), None),
        (key.as_ref(), Some(Profile::Qseow), Some("aud\u{1b}[2J")),
    ] {
        let report = decode::report(parts.clone(), key, NOW, audience, None, profile);
        if let Some(failure) = report.failure() {
            assert_safe(&error::render_failure(&failure, false));
        }
        for json in [false, true] {
            if let Ok(shown) = decode::render(&report, key, json) {
                assert_safe(&shown);
            }
        }
    }
});
