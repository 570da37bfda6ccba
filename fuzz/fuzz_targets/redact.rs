//! Redaction of key text from errors (issue 8, class 5): a real key, mangled as the fuzzer
//! chooses (line breaks replaced, labels changed, characters inserted, pieces URL-encoded),
//! placed inside any text. No 20-character run of the key's base64 may survive.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use qs_jwt::error;

const KEYS: [&str; 2] = [
    include_str!("../../tests/fixtures/rsa2048-pkcs1.pem"),
    include_str!("../../tests/fixtures/rsa2048-pkcs8.pem"),
];

/// What travel does to a key; the fuzzer picks the sequence.
#[derive(Debug, Arbitrary)]
enum Mangle {
    /// Every line break becomes this text (at most 8 characters: `\n`, `|`, `%0A`, ...).
    LineBreaks(String),
    LowerCase,
    NoSpaces,
    UrlEncode,
    /// This invisible character after every n-th character.
    Invisible(u8, u8),
    DropMarkers,
}

#[derive(Debug, Arbitrary)]
struct Input {
    key: bool,
    mangles: Vec<Mangle>,
    before: String,
    after: String,
}

const INVISIBLE: [char; 6] = [
    '\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}', '\u{ad}',
];

fuzz_target!(|input: Input| {
    let pem = KEYS[usize::from(input.key)];
    let mut text = pem.trim().to_owned();
    for mangle in input.mangles.iter().take(6) {
        text = match mangle {
            Mangle::LineBreaks(glue) => {
                // Glue that is itself base64 would make the key a different string.
                if glue.chars().count() > 8
                    || glue
                        .chars()
                        .any(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
                {
                    return;
                }
                text.replace('\n', glue)
            }
            Mangle::LowerCase => text.replace("PRIVATE KEY", "private key"),
            Mangle::NoSpaces => text.replace("BEGIN ", "BEGIN").replace("END ", "END"),
            Mangle::UrlEncode => text
                .replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D"),
            Mangle::Invisible(which, every) => {
                let every = usize::from(*every).max(1);
                let c = INVISIBLE[usize::from(*which) % INVISIBLE.len()];
                text.chars()
                    .enumerate()
                    .flat_map(|(i, k)| std::iter::once(k).chain((i % every == 0).then_some(c)))
                    .collect()
            }
            Mangle::DropMarkers => text.replace("-----BEGIN", "").replace("-----END", ""),
        };
    }
    let shown = error::for_people(&format!("{}{text}{}", input.before, input.after));
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let chars: Vec<char> = body.chars().collect();
    for window in chars.windows(20) {
        let window: String = window.iter().collect();
        // The fuzzer's own text may spell a window out; only the key's copy must go.
        if input.before.contains(&window) || input.after.contains(&window) {
            continue;
        }
        assert!(!shown.contains(&window), "{window} survived in {shown}");
    }
});
