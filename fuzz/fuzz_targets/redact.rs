//! Redaction of key text from errors, in both directions (issues 8 and 17):
//! - a real key the run did not load, mangled as the fuzzer chooses (line breaks replaced as
//!   keys travel, labels changed, invisible characters inserted, pieces URL-encoded), placed
//!   inside any text: no 20-character run of the key's base64 may survive;
//! - a name (a path, an id, a key ID, a host) from the real-world corpus, or an id the fuzzer
//!   makes (16 to 64 base62 or base64url characters, alone or in a path), quoted in one of our
//!   messages: it must come out exactly as given, while a key the run did load is known;
//! - a secret the run registered (a client secret, an API key), whole, after `Bearer `, a piece
//!   of 16 characters or more, in capitals, URL-encoded or JSON-escaped, inside any text, shown
//!   on stderr or in a JSON object on stdout (issue 27): no 16-character run of it survives, in
//!   any of those forms. The secrets hold any printable characters (`"`, `\`, `%`, `@`, a
//!   space): the fixed ones, and one the fuzzer makes, registered for its run alone.
#![no_main]

use std::sync::Once;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use qs_jwt::{error, render, secret};

const KEYS: [&str; 2] = [
    include_str!("../../tests/fixtures/rsa2048-pkcs1.pem"),
    include_str!("../../tests/fixtures/rsa2048-pkcs8.pem"),
];

/// A key the run loaded: registered, so that redaction by knowledge is on while names are
/// checked.
const LOADED: &str = include_str!("../../tests/fixtures/rsa1024.pem");

const NAMES: &str = include_str!("../../tests/fixtures/real-world-names.txt");

/// How line breaks travel: written out, URL-encoded, replaced by a separator, or dropped.
const LINE_BREAKS: [&str; 15] = [
    "\n",
    "\r\n",
    "\\n",
    "\\r\\n",
    "\\u000a",
    "%0A",
    "%0D%0A",
    "|",
    ",",
    ";",
    " ",
    "\t",
    "",
    " \\n ",
    "\u{200b}\n",
];

/// What travel does to a key; the fuzzer picks the sequence.
#[derive(Debug, Arbitrary)]
enum Mangle {
    /// Every line break becomes one of [`LINE_BREAKS`].
    LineBreaks(u8),
    LowerCase,
    UpperCase,
    NoSpaces,
    UrlEncode,
    /// This invisible character after every n-th character.
    Invisible(u8, u8),
    DropMarkers,
}

/// Text around a name, as our messages put it.
const MESSAGES: [(&str, &str); 6] = [
    (
        "error: cannot read --cert-privatekey-file '",
        "': No such file or directory (os error 2)",
    ),
    (
        "INFO wrote the new private key to '",
        "privatekey.pem' (owner only)",
    ),
    (
        "error: 'users.csv' line 3, column sub: sub ",
        " is also on line 2; give each user once",
    ),
    (
        "error: the token's audience is not '",
        "' (--expected-audience)",
    ),
    (
        "error: Qlik Cloud refused the token: JWT_LOGIN_VALIDATIONS kid ",
        " not found",
    ),
    ("hint: chmod 600 '", "'"),
];

const BASE62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

#[derive(Debug, Arbitrary)]
enum Name {
    /// One of the corpus.
    Corpus(u16),
    /// An id of 16 to 64 characters made of these bytes, base62 or base64url.
    Id { bytes: Vec<u8>, url_safe: bool },
    /// Such an id as a folder in a path, with a date and a file name.
    InPath { bytes: Vec<u8>, windows: bool },
}

/// Secrets the run registered, as a client secret and an API key are: with `/` and `+`, which
/// URL encoding changes, and with characters outside base64's alphabet (`"`, `\`, `%`, `@`,
/// `.`, a space), which JSON and URL encoding change.
const SECRETS: [&str; 4] = [
    "Sup3r/Secret+Passw0rd-2024xyz",
    "eyJhbGciOiJFUzM4NCIsImtpZCI6ImFiYyJ9.eyJzdWIiOiJhbm5hIiwic3ViVHlwZSI6InVzZXIifQ.\
     c2lnbmF0dXJlLW9mLXRoZS1hcGkta2V5",
    r#"Sup3r/Secret+"q"\Passw0rd-2024xyz"#,
    "anna.berg@example.com pass 100% sure!",
];

/// The shortest piece of a secret that must not survive.
const PIECE: usize = 16;

/// A secret the fuzzer makes: printable ASCII (a blank never twice in a row, nor at either
/// end), 16 characters or more.
fn own_secret(bytes: &[u8]) -> Option<String> {
    let mut secret = String::new();
    for b in bytes.iter().take(80) {
        let c = char::from(0x20 + b % 95);
        if c == ' ' && secret.ends_with(' ') {
            continue;
        }
        secret.push(c);
    }
    let secret = secret.trim().to_owned();
    (secret.len() >= PIECE).then_some(secret)
}

/// How a server or a message quotes a registered secret back.
#[derive(Debug, Arbitrary)]
enum Form {
    Whole,
    Bearer,
    /// A piece of [`PIECE`] characters or more: from, extra length.
    Piece(u8, u8),
    UpperCase,
    UrlEncoded,
    JsonEscaped,
}

/// The forms a secret's copy may take in what is shown, each searched for.
fn forms(secret: &str) -> [String; 3] {
    [
        secret.to_owned(),
        url_encoded(secret),
        serde_json::to_string(secret).unwrap_or_default(),
    ]
}

fn url_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[derive(Debug, Arbitrary)]
struct Input {
    secret: u8,
    /// Bytes of a secret of the fuzzer's own, used instead of [`SECRETS`] when long enough.
    own: Vec<u8>,
    form: Form,
    json: bool,
    key: bool,
    mangles: Vec<Mangle>,
    before: String,
    after: String,
    name: Name,
    message: u8,
}

const INVISIBLE: [char; 6] = [
    '\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}', '\u{ad}',
];

fn id(bytes: &[u8], url_safe: bool) -> Option<String> {
    if bytes.len() < 16 {
        return None;
    }
    let alphabet = |b: u8| -> char {
        let i = usize::from(b);
        match (url_safe, i % 64) {
            (true, 62) => '-',
            (true, 63) => '_',
            (_, k) => char::from(BASE62[k % 62]),
        }
    };
    Some(bytes.iter().take(64).map(|b| alphabet(*b)).collect())
}

fn name(name: &Name) -> Option<String> {
    match name {
        Name::Corpus(i) => {
            let names: Vec<&str> = NAMES
                .lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .collect();
            Some(names[usize::from(*i) % names.len()].to_owned())
        }
        Name::Id { bytes, url_safe } => id(bytes, *url_safe),
        Name::InPath { bytes, windows } => {
            let id = id(bytes, false)?;
            Some(if *windows {
                format!("C:\\Users\\Administrator\\QlikKeys\\{id}\\2025-09-30\\privatekey.pem")
            } else {
                format!("./Keys/{id}/Prod2025Q3/privatekey.pem")
            })
        }
    }
}

fuzz_target!(|input: Input| {
    static LOAD: Once = Once::new();
    LOAD.call_once(|| {
        secret::register(LOADED);
        for secret in SECRETS {
            secret::register(secret);
        }
    });

    // A name is shown as given.
    if let Some(name) = name(&input.name) {
        let (before, after) = MESSAGES[usize::from(input.message) % MESSAGES.len()];
        let text = format!("{before}{name}{after}");
        assert_eq!(error::for_people(&text), text, "a name was changed");
    }

    // A registered secret is not, in any form, on stderr or in JSON.
    let own = own_secret(&input.own);
    if let Some(own) = &own {
        secret::register(own);
    }
    let secret = own
        .as_deref()
        .unwrap_or(SECRETS[usize::from(input.secret) % SECRETS.len()]);
    let quoted = match input.form {
        Form::Whole => secret.to_owned(),
        Form::Bearer => format!("Bearer {secret}"),
        Form::Piece(from, extra) => {
            let from = usize::from(from) % (secret.len() - PIECE + 1);
            let len = PIECE + usize::from(extra) % (secret.len() - from - PIECE + 1);
            secret[from..from + len].to_owned()
        }
        Form::UpperCase => secret.to_ascii_uppercase(),
        Form::UrlEncoded => url_encoded(secret),
        Form::JsonEscaped => serde_json::to_string(secret).unwrap_or_default(),
    };
    let text = format!("{}{quoted}{}", input.before, input.after);
    let shown = if input.json {
        render::json_for_people(&serde_json::json!({ "error": { "detail": text } }), &[])
    } else {
        error::for_people(&text)
    };
    let shown = shown.to_ascii_lowercase();
    let around = format!("{}\u{0}{}", input.before, input.after).to_ascii_lowercase();
    for form in forms(secret) {
        let chars: Vec<char> = form.to_ascii_lowercase().chars().collect();
        for window in chars.windows(PIECE) {
            let window: String = window.iter().collect();
            // The fuzzer's own text may spell a window out, and a blank at a piece's end is
            // the text's; only the secret's copy must go.
            if around.contains(&window) || window.trim() != window {
                continue;
            }
            assert!(
                !shown.contains(&window),
                "{window} of a secret survived in {shown}"
            );
        }
    }
    if own.is_some() {
        // The fuzzer's secret was this run's alone: the names above are checked without it.
        secret::forget_all();
        secret::register(LOADED);
        for secret in SECRETS {
            secret::register(secret);
        }
    }

    // A key is not.
    let pem = KEYS[usize::from(input.key)];
    let mut text = pem.trim().to_owned();
    for mangle in input.mangles.iter().take(6) {
        text = match mangle {
            Mangle::LineBreaks(which) => {
                text.replace('\n', LINE_BREAKS[usize::from(*which) % LINE_BREAKS.len()])
            }
            Mangle::LowerCase => text.to_ascii_lowercase(),
            Mangle::UpperCase => text.to_ascii_uppercase(),
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
    let shown = shown.to_ascii_lowercase();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let chars: Vec<char> = body.to_ascii_lowercase().chars().collect();
    let around = format!("{}\u{0}{}", input.before, input.after).to_ascii_lowercase();
    for window in chars.windows(20) {
        let window: String = window.iter().collect();
        // The fuzzer's own text may spell a window out; only the key's copy must go.
        if around.contains(&window) {
            continue;
        }
        assert!(!shown.contains(&window), "{window} survived in {shown}");
    }
});
