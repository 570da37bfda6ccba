//! Secrets (a private key's PEM, a passphrase, a token sent to a server, session cookies) in
//! types that never show them and wipe them: their `Debug` and `Display` print a placeholder, so
//! a `{:?}` in a log line, a panic message or a test failure cannot leak them, and their bytes
//! are overwritten with zeros when they are dropped (the `zeroize` crate), not left in freed
//! memory.
//!
//! What tells key text from a name lives here too:
//! - [`register`] puts what the run loaded as a secret into a process-wide list, and
//!   [`known_spans`] finds it (whole, or any piece of [`MIN_PIECE`] characters or more) in text
//!   that is about to be shown: redaction by knowledge. Every [`SecretText`] and [`Passphrase`]
//!   registers itself, so a secret kind added later (an API key, a client secret) is redacted
//!   as soon as it is held in one of them.
//! - [`key_text_spans`] finds key text the run did NOT load, by its structure only: a PEM
//!   BEGIN/END marker in any spelling, or a base64 / base64url body as long as a key's DER
//!   (hundreds of characters). A path, a file name, an id or a word never has that structure,
//!   so nothing a user named is ever hidden. [`holds_key_material`] is the same test for values
//!   that go into a token or a setup body, which are refused when it is true.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard};

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Text that must not be shown: a private key's PEM, a token, a cookie. Made with
/// [`SecretText::new`], it is registered ([`register`]) and so redacted from every error and log
/// line, whole or in pieces.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretText(String);

impl SecretText {
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        register(&text);
        Self(text)
    }

    /// Text built from secrets that are registered already, with names beside them (a
    /// `Cookie:` header, a cookie jar, a raw `Set-Cookie` line): held as a secret, but not
    /// registered itself, since its names (a cookie's name) are shown in messages.
    pub fn composed(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text itself, for the code that must use it: the key parser, the request that carries
    /// the token or the cookies, the cookie jar.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText([redacted])")
    }
}

impl fmt::Display for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A passphrase, as the bytes it was given in, wiped when dropped; `source` names where it came
/// from (`QSJWTPASSPHRASE`, `--cert-privatekey-passphrase-file 'pass.txt'`) for messages. A
/// passphrase that is UTF-8 text is registered ([`register`]).
pub struct Passphrase {
    bytes: Zeroizing<Vec<u8>>,
    pub source: String,
    /// Where openssl's `-passin` finds the same passphrase (`env:QSJWTPASSPHRASE`,
    /// `file:'pass.txt'`), for the commands qs-jwt suggests; `None` for standard input.
    pub for_openssl: Option<String>,
}

impl Passphrase {
    pub fn new(bytes: Zeroizing<Vec<u8>>, source: impl Into<String>) -> Self {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            register(text);
        }
        Self {
            bytes,
            source: source.into(),
            for_openssl: None,
        }
    }

    /// The same, with where openssl's `-passin` finds it.
    pub fn for_openssl(mut self, passin: impl Into<String>) -> Self {
        self.for_openssl = Some(passin.into());
        self
    }

    /// The bytes, for the key derivation.
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Passphrase(from {}, [redacted])", self.source)
    }
}

// Redaction by knowledge.

/// The shortest piece of a registered secret that is found wherever it appears. Sixteen
/// characters of a random key are 96 bits: no path, id or word holds them by chance.
pub const MIN_PIECE: usize = 16;

/// The shortest secret looked for at all (whole, as written). A shorter one (a passphrase of
/// seven letters, a cookie that says `deleted`) would hide every word that holds it, and is never
/// printed anyway: registration is the last line of defence, not the first.
const MIN_WHOLE: usize = 8;

/// The secrets a run has loaded, as what finds them: for a long secret, its skeleton (its
/// base64 characters in lower case, without line breaks or PEM markers) and, when it holds other
/// characters too (`"`, `\\`, `%`, `@`, `.`, a space), its bytes in lower case; a hash of each
/// [`MIN_PIECE`]-byte window of both; a short one as written. The text is wiped when the list is
/// dropped or cleared ([`forget_all`]); the run's own list lives as long as the process, whose
/// memory the operating system clears when it ends.
#[derive(Default)]
pub struct Known {
    skeletons: Vec<Zeroizing<Vec<u8>>>,
    /// Secrets that hold characters outside base64's alphabet, as their bytes in lower case:
    /// found by those bytes in the text as written, URL-decoded or JSON-unescaped
    /// ([`decoded_forms`]), since their skeleton alone breaks at every such character.
    literals: Vec<Zeroizing<Vec<u8>>>,
    /// Hashes (with a key chosen at random for the run) of every window of every skeleton and
    /// literal: a fast first test, so that a log line costs a hash per character, not a search
    /// per secret. Made when a text is first looked at, not when a secret is registered: a run
    /// that shows no message (a token created at `--loglevel error`) never pays for the 6,000
    /// hashes of a 4096-bit key's two forms.
    windows: OnceCell<HashSet<u64>>,
    hasher: RandomState,
    /// Secrets shorter than [`MIN_PIECE`] bytes, in lower case: found whole.
    whole: Vec<Zeroizing<Vec<u8>>>,
}

impl Known {
    /// Remembers `text` as a secret. A PEM's markers and header lines are left out: they are
    /// the same in every key and are named in our own messages.
    pub fn add(&mut self, text: &str) {
        // A value in an Authorization header's form (`Bearer eyJ...`) is the key it holds.
        let text = text.trim();
        let text = strip_bearer(text).unwrap_or(text);
        let pem = text.contains("-----");
        let skeleton: Zeroizing<Vec<u8>> = if pem {
            Zeroizing::new(
                text.lines()
                    .filter(|line| !line.contains("-----") && !line.contains(':'))
                    .flat_map(|line| line.bytes().filter_map(skeleton_byte))
                    .collect(),
            )
        } else {
            Zeroizing::new(text.bytes().filter_map(skeleton_byte).collect())
        };
        let literal: Zeroizing<Vec<u8>> =
            Zeroizing::new(text.bytes().map(|b| b.to_ascii_lowercase()).collect());
        // A text of several lines (a key file, PEM or not: PuTTY's `---- BEGIN SSH2 PUBLIC KEY
        // ----`) is found by its skeleton, whatever happened to its line breaks; its header
        // lines are the words our own messages use. The literal form is for one-line values
        // (API keys, client secrets, passphrases) that hold other characters.
        let foreign = !text.contains('\n') && text.bytes().any(|b| skeleton_byte(b).is_none());
        let long = skeleton.len() >= MIN_PIECE;
        if long && !self.skeletons.iter().any(|k| **k == *skeleton) {
            self.windows.take();
            self.skeletons.push(skeleton);
        }
        if foreign && literal.len() >= MIN_PIECE {
            if !self.literals.iter().any(|k| **k == *literal) {
                self.windows.take();
                self.literals.push(literal);
            }
        } else if !long
            && text.chars().count() >= MIN_WHOLE
            && !self.whole.iter().any(|w| **w == *literal)
        {
            self.whole.push(literal);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.skeletons.is_empty() && self.literals.is_empty() && self.whole.is_empty()
    }

    /// The byte ranges of `text` that hold a known secret: a short secret as written, a long
    /// one in any piece of [`MIN_PIECE`] characters or more, in any letter case, with line
    /// breaks written out (`\n`, `%0A`), URL-encoded (`%2F`, `%22`) or JSON-escaped (`\"`,
    /// `\\`, `\u0040`), whatever characters it holds.
    pub fn spans(&self, text: &str) -> Vec<(usize, usize)> {
        let mut spans = Vec::new();
        if self.is_empty() {
            return spans;
        }
        let windows = self.windows.get_or_init(|| {
            self.skeletons
                .iter()
                .chain(&self.literals)
                .flat_map(|secret| secret.windows(MIN_PIECE))
                .map(|window| self.hasher.hash_one(window))
                .collect()
        });
        if !self.whole.is_empty() || !self.literals.is_empty() {
            for form in decoded_forms(text) {
                let bytes: Vec<u8> = form.iter().map(|unit| unit.0).collect();
                for secret in &self.whole {
                    let mut from = 0;
                    while let Some(at) = find(&bytes[from..], secret) {
                        let at = from + at;
                        spans.push((form[at].1, form[at + secret.len() - 1].2));
                        from = at + 1;
                    }
                }
                if !self.literals.is_empty() {
                    self.literal_spans(windows, &form, &bytes, &mut spans);
                }
            }
        }
        if self.skeletons.is_empty() {
            return spans;
        }
        let shown = text_skeleton(text);
        let chars: Vec<u8> = shown.iter().map(|unit| unit.0).collect();
        let mut i = 0;
        while i + MIN_PIECE <= chars.len() {
            let window = &chars[i..i + MIN_PIECE];
            let mut end = i;
            if windows.contains(&self.hasher.hash_one(window)) {
                for skeleton in &self.skeletons {
                    for (at, _) in skeleton
                        .windows(MIN_PIECE)
                        .enumerate()
                        .filter(|(_, w)| *w == window)
                    {
                        // As far as the text goes on as the secret does: the short last line
                        // of a key too.
                        let same = chars[i..]
                            .iter()
                            .zip(&skeleton[at..])
                            .take_while(|(a, b)| a == b)
                            .count();
                        end = end.max(piece_end(text, &shown, i, i + same));
                    }
                }
            }
            let start = piece_start(text, &shown, i, end);
            if end >= start + MIN_PIECE {
                spans.push((shown[start].1, shown[end - 1].2));
                i = end;
            } else {
                i += 1;
            }
        }
        spans
    }

    /// The pieces of literal secrets in one decoded form of a text (see [`decoded_forms`]).
    fn literal_spans(
        &self,
        windows: &HashSet<u64>,
        form: &[(u8, usize, usize)],
        bytes: &[u8],
        spans: &mut Vec<(usize, usize)>,
    ) {
        let mut i = 0;
        while i + MIN_PIECE <= bytes.len() {
            let window = &bytes[i..i + MIN_PIECE];
            let mut same = 0;
            if windows.contains(&self.hasher.hash_one(window)) {
                for literal in &self.literals {
                    for (at, _) in literal
                        .windows(MIN_PIECE)
                        .enumerate()
                        .filter(|(_, w)| *w == window)
                    {
                        let run = bytes[i..]
                            .iter()
                            .zip(&literal[at..])
                            .take_while(|(a, b)| a == b)
                            .count();
                        same = same.max(run);
                    }
                }
            }
            if same >= MIN_PIECE {
                // A blank at either end may be the text's own, between words: it stays.
                let run = &form[i..i + same];
                let first = run.iter().position(|u| !u.0.is_ascii_whitespace());
                let last = run.iter().rposition(|u| !u.0.is_ascii_whitespace());
                if let (Some(first), Some(last)) = (first, last) {
                    spans.push((run[first].1, run[last].2));
                }
                i += same;
            } else {
                i += 1;
            }
        }
    }
}

/// Where a piece found at `start` ends, given that the text goes on as the secret does up to
/// `same`: past a line break only if the whole next line is the secret's (the short last line
/// of a key), so that the first letter of the next word, the secret's next letter by chance,
/// is not taken with it.
fn piece_end(text: &str, shown: &[(u8, usize, usize)], start: usize, same: usize) -> usize {
    let mut end = start + MIN_PIECE;
    while end < same {
        let gap = &text[shown[end - 1].2..shown[end].1];
        // A token's parts are joined by a dot, which its skeleton leaves out.
        if gap.is_empty() || gap == "." {
            end += 1;
            continue;
        }
        if !is_glue(gap) {
            break;
        }
        let line_end = (end + 1..shown.len())
            .find(|&k| shown[k - 1].2 != shown[k].1)
            .unwrap_or(shown.len());
        if line_end > same {
            break;
        }
        end = line_end;
    }
    end
}

/// Where a piece found at `start` (and going on to `end`) begins: the text before a line break
/// inside it is taken if it is a whole line or four characters or more (the end of the key's
/// previous line), not the last letter or two of the word before, the secret's by chance.
fn piece_start(text: &str, shown: &[(u8, usize, usize)], mut start: usize, end: usize) -> usize {
    while let Some(gap_at) = (start + 1..end).find(|&k| shown[k - 1].2 != shown[k].1) {
        let whole_line = start == 0 || shown[start - 1].2 != shown[start].1;
        let gap = &text[shown[gap_at - 1].2..shown[gap_at].1];
        if gap == "." || ((whole_line || gap_at - start >= 4) && is_glue(gap)) {
            break;
        }
        start = gap_at;
    }
    start
}

/// `text` after a `Bearer ` prefix (in any case), the token it holds.
fn strip_bearer(text: &str) -> Option<&str> {
    let prefix = text.get(..7)?;
    prefix
        .eq_ignore_ascii_case("bearer ")
        .then(|| text[7..].trim_start())
}

/// Where `needle` first appears in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A text's bytes in lower case, each with the byte range of its character in `text`, in the
/// forms a secret's copy may have taken: as written, URL-decoded (`%XX`, `+` for a space),
/// JSON-unescaped, and JSON-unescaped twice (a server's JSON quoted inside ours). The forms
/// that would equal the text as written are not made.
fn decoded_forms(text: &str) -> Vec<Vec<(u8, usize, usize)>> {
    let mut raw = Vec::with_capacity(text.len());
    for (at, c) in text.char_indices() {
        let end = at + c.len_utf8();
        raw.extend(
            text.as_bytes()[at..end]
                .iter()
                .map(|b| (b.to_ascii_lowercase(), at, end)),
        );
    }
    let mut forms = Vec::with_capacity(4);
    if text.contains(['%', '+']) {
        forms.push(url_decoded(&raw));
    }
    if text.contains('\\') {
        let once = json_unescaped(&raw);
        if once.iter().any(|unit| unit.0 == b'\\') {
            forms.push(json_unescaped(&once));
        }
        forms.push(once);
    }
    forms.push(raw);
    forms
}

fn hex_value(b: u8) -> Option<u32> {
    char::from(b).to_digit(16)
}

/// `form` with `%XX` read as the byte it encodes and `+` as a space.
fn url_decoded(form: &[(u8, usize, usize)]) -> Vec<(u8, usize, usize)> {
    let mut out = Vec::with_capacity(form.len());
    let mut i = 0;
    while i < form.len() {
        let (b, start, end) = form[i];
        if b == b'%'
            && let (Some(hi), Some(lo)) = (
                form.get(i + 1).and_then(|u| hex_value(u.0)),
                form.get(i + 2).and_then(|u| hex_value(u.0)),
            )
        {
            // Two hex digits make a byte.
            let byte = u8::try_from(hi * 16 + lo).unwrap_or(b'%');
            out.push((byte.to_ascii_lowercase(), start, form[i + 2].2));
            i += 3;
            continue;
        }
        out.push((if b == b'+' { b' ' } else { b }, start, end));
        i += 1;
    }
    out
}

/// `form` with JSON's escapes (`\"`, `\\`, `\/`, `\n`, `\uXXXX` and its surrogate pairs) read
/// as the character they stand for.
fn json_unescaped(form: &[(u8, usize, usize)]) -> Vec<(u8, usize, usize)> {
    let hex4 = |at: usize| -> Option<u32> {
        let digits = form.get(at..at + 4)?;
        digits
            .iter()
            .try_fold(0, |n, unit| Some(n * 16 + hex_value(unit.0)?))
    };
    let mut out = Vec::with_capacity(form.len());
    let mut i = 0;
    while i < form.len() {
        let (b, start, end) = form[i];
        let next = form.get(i + 1).map(|unit| unit.0);
        if b != b'\\' || next.is_none() {
            out.push((b, start, end));
            i += 1;
            continue;
        }
        let simple = match next {
            Some(c @ (b'"' | b'\\' | b'/')) => Some(c),
            Some(b'n') => Some(b'\n'),
            Some(b'r') => Some(b'\r'),
            Some(b't') => Some(b'\t'),
            Some(b'b') => Some(8),
            Some(b'f') => Some(12),
            _ => None,
        };
        if let Some(c) = simple {
            out.push((c, start, form[i + 1].2));
            i += 2;
            continue;
        }
        let unicode = (next == Some(b'u'))
            .then(|| hex4(i + 2))
            .flatten()
            .and_then(|unit| {
                if (0xD800..0xDC00).contains(&unit)
                    && form.get(i + 6).map(|u| u.0) == Some(b'\\')
                    && form.get(i + 7).map(|u| u.0) == Some(b'u')
                    && let Some(low) = hex4(i + 8).filter(|low| (0xDC00..0xE000).contains(low))
                {
                    let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                    return char::from_u32(c).map(|c| (c, 12));
                }
                char::from_u32(unit).map(|c| (c, 6))
            });
        match unicode {
            Some((c, len)) => {
                let mut buf = [0; 4];
                let range_end = form[i + len - 1].2;
                for byte in c.encode_utf8(&mut buf).bytes() {
                    out.push((byte.to_ascii_lowercase(), start, range_end));
                }
                i += len;
            }
            None => {
                out.push((b, start, end));
                i += 1;
            }
        }
    }
    out
}

/// The run's known secrets. A poisoned lock (a thread that panicked while adding) still holds a
/// usable list.
static KNOWN: Mutex<Option<Known>> = Mutex::new(None);

fn known() -> MutexGuard<'static, Option<Known>> {
    KNOWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Registers what the run loaded as a secret (key text, a passphrase, a token sent to a server,
/// a cookie, an API key, a client secret), so that it is redacted wherever it would be shown.
pub fn register(text: &str) {
    known().get_or_insert_with(Known::default).add(text);
}

/// Registers a key's DER (the body of its PEM, whatever the PEM's line breaks were), in base64.
pub fn register_der(der: &[u8]) {
    use base64::Engine as _;
    let text = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der));
    register(&text);
}

/// Where registered secrets appear in `text` (see [`Known::spans`]).
pub fn known_spans(text: &str) -> Vec<(usize, usize)> {
    match &*known() {
        Some(known) if !known.is_empty() => known.spans(text),
        _ => Vec::new(),
    }
}

/// The environment variables that hold secrets. Each is registered before any flag is read
/// ([`register_environment`]): a value of one of them given to another flag by mistake
/// (`--timeout "$QLIK_CLIENT_SECRET"`) is quoted by that flag's error, and must not show.
pub const SECRET_VARIABLES: [&str; 4] = [
    "QLIK_API_KEY",
    "QLIK_CLIENT_SECRET",
    "QSJWTPASSPHRASE",
    "QSJWTPRIVKEY",
];

/// Registers the secrets the environment holds ([`SECRET_VARIABLES`]), whether or not the
/// command reads them: main calls it before the command line is parsed.
pub fn register_environment() {
    for name in SECRET_VARIABLES {
        if let Some(value) = std::env::var_os(name) {
            let value = Zeroizing::new(value.to_string_lossy().into_owned());
            register(&value);
        }
    }
}

/// What stands where a secret or key text was.
pub const REDACTED: &str = "[key text redacted]";

/// The one redaction, for everything qs-jwt shows (errors, log lines at every level, JSON on
/// stdout, reports, a doctor's lines): `text` with [`REDACTED`] in place of
/// - what the run loaded as a secret, whole or in pieces, in any case, with its line breaks
///   written out or URL-encoded ([`known_spans`]);
/// - key text it did not load, by structure alone ([`key_text_spans`]: PEM markers, a base64
///   body as long as a key's DER);
/// - the token of a `Bearer ` value ([`bearer_spans`]): an API key pasted with its header's
///   prefix where a file name belongs.
///
/// Nothing is guessed: a path, a file name, an id, a key ID, a scope or a host is shown as
/// given, however random it looks, since a value that goes into a token or a file name is
/// refused when it holds key material ([`holds_key_material`]).
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut spans = known_spans(text);
    spans.extend(key_text_spans(text));
    spans.extend(bearer_spans(text));
    redact_spans(text, spans)
}

/// [`redact`] for text that holds public key text by design (a certificate Qlik returns in an
/// identity provider): only what the run registered, and a `Bearer ` token.
pub fn redact_registered(text: &str) -> Cow<'_, str> {
    let mut spans = known_spans(text);
    spans.extend(bearer_spans(text));
    redact_spans(text, spans)
}

fn redact_spans(text: &str, mut spans: Vec<(usize, usize)>) -> Cow<'_, str> {
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 || is_glue(&text[last.1..start]) => {
                last.1 = last.1.max(end);
            }
            _ => merged.push((start, end)),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in merged {
        out.push_str(&text[at..start]);
        out.push_str(REDACTED);
        at = end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// The shortest token taken after `Bearer `: our own words ("a Bearer token") hold none.
const MIN_BEARER: usize = 16;

/// The byte ranges of the tokens that follow `Bearer ` (in any case) in `text`: [`MIN_BEARER`]
/// characters or more of a token's alphabet (RFC 6750's `b64token`).
pub fn bearer_spans(text: &str) -> Vec<(usize, usize)> {
    let folded = text.to_ascii_lowercase();
    let mut spans = Vec::new();
    for (at, _) in folded.match_indices("bearer") {
        let rest = &text[at + 6..];
        let blanks = rest.len() - rest.trim_start_matches([' ', '\t', '+']).len();
        if blanks == 0 {
            continue;
        }
        let start = at + 6 + blanks;
        let len = text[start..]
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || b"-._~+/=%".contains(b))
            .count();
        if len >= MIN_BEARER {
            spans.push((start, start + len));
        }
    }
    spans
}

/// Forgets (and wipes) every registered secret, for a caller that lives on after its work
/// with secrets (a test, a program using this library).
pub fn forget_all() {
    *known() = None;
}

/// A character of base64 or base64url, folded to lower case (a key's case may have been
/// changed on the way).
fn skeleton_byte(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b.to_ascii_lowercase()),
        b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' | b'=' | b'-' | b'_' => Some(b),
        _ => None,
    }
}

/// The base64 characters of `text`, folded, each with its byte range: line breaks written out
/// (`\n`, `\u000a`, `%0A`) are left out and `%2B`, `%2F`, `%3D` read as the character they
/// encode, so that a secret is found whatever happened to its line breaks.
fn text_skeleton(text: &str) -> Vec<(u8, usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(len) = written_line_break(&bytes[i..]) {
            i += len;
            continue;
        }
        if let Some((decoded, len)) = escaped(&bytes[i..]) {
            if let Some(c) = skeleton_byte(decoded) {
                out.push((c, i, i + len));
            }
            i += len;
            continue;
        }
        if let Some(c) = skeleton_byte(bytes[i]) {
            out.push((c, i, i + 1));
        }
        // Other bytes (of any character, ASCII or not) are skipped one at a time: the bytes
        // kept are ASCII, so every range is on character boundaries.
        i += 1;
    }
    out
}

/// A line break or blank written out at the start of `bytes` (`\n`, `\r`, `\t`, `\u000a`,
/// `\u000d`, `%0A`, `%0D`, `%20`, `%09`, in either case: a key's text may have been put in
/// upper case after its line breaks were written out): its length.
///
/// Invisible characters inside it ([`is_invisible`]: `\` zero-width space `r`) are skipped, as
/// a key mangled with them after its line breaks were written out holds them there too.
fn written_line_break(bytes: &[u8]) -> Option<usize> {
    // Every spelling starts with `\` or `%`: most bytes are turned away here.
    if !matches!(bytes.first(), Some(b'\\' | b'%')) {
        return None;
    }
    let mut visible = [0u8; 6];
    let mut ends = [0usize; 6];
    let (mut count, mut i) = (0, 0);
    while count < visible.len() && i < bytes.len() {
        if bytes[i].is_ascii() {
            visible[count] = bytes[i];
            i += 1;
            ends[count] = i;
            count += 1;
        } else if let Some(len) = invisible_at(&bytes[i..]) {
            i += len;
        } else {
            break;
        }
    }
    spelled_line_break(&visible[..count]).map(|len| ends[len - 1])
}

/// The length of the invisible character ([`is_invisible`]) `bytes` starts with, if any.
fn invisible_at(bytes: &[u8]) -> Option<usize> {
    let head = &bytes[..bytes.len().min(4)];
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).ok()?,
    };
    text.chars()
        .next()
        .filter(|c| is_invisible(*c))
        .map(char::len_utf8)
}

/// [`written_line_break`] on its visible characters: the length of the spelling.
fn spelled_line_break(bytes: &[u8]) -> Option<usize> {
    match bytes {
        [b'\\', b'n' | b'r' | b't' | b'N' | b'R' | b'T', ..] => Some(2),
        [
            b'\\',
            b'u' | b'U',
            b'0',
            b'0',
            b'0',
            b'a' | b'A' | b'd' | b'D',
            ..,
        ] => Some(6),
        [b'%', b'0', b'a' | b'A' | b'd' | b'D' | b'9', ..] | [b'%', b'2', b'0', ..] => Some(3),
        _ => None,
    }
}

/// An ASCII character written as `%XX` (a URL, a form), `\u00XX` or `\/` (JSON) at the start
/// of `bytes`: the byte and the length of its spelling. A secret is found however a server
/// that echoed it encoded it.
fn escaped(bytes: &[u8]) -> Option<(u8, usize)> {
    let hex = |digits: &[u8]| {
        std::str::from_utf8(digits)
            .ok()
            .and_then(|d| u8::from_str_radix(d, 16).ok())
            .filter(u8::is_ascii)
    };
    match bytes {
        [b'%', a, b, ..] if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => {
            hex(&bytes[1..3]).map(|c| (c, 3))
        }
        [b'\\', b'u' | b'U', b'0', b'0', a, b, ..]
            if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() =>
        {
            hex(&bytes[4..6]).map(|c| (c, 6))
        }
        [b'\\', b'/', ..] => Some((b'/', 2)),
        _ => None,
    }
}

/// `%2B`, `%2F` or `%3D` at the start of `bytes`: the base64 character it encodes.
fn percent_encoded(bytes: &[u8]) -> Option<u8> {
    match bytes {
        [b'%', b'2', b'b' | b'B', ..] => Some(b'+'),
        [b'%', b'2', b'f' | b'F', ..] => Some(b'/'),
        [b'%', b'3', b'd' | b'D', ..] => Some(b'='),
        _ => None,
    }
}

// Key text by structure.

/// The fewest base64 characters taken for a key's body: an EC P-256 key's DER is 164 of them,
/// an RSA key's over 1,600, an RSA JWK's `d` 342. A path segment, an id (16 to 64 characters)
/// or a word is far shorter.
pub const MIN_KEY_BODY: usize = 160;

/// A line of a body this long or longer may go on after a line break: PEM writes 64 characters
/// a line (MIME 76). Shorter runs (a word, an id in a list) are never joined.
const MIN_LINE: usize = 48;

/// The most characters between two lines (or two pieces) of one key: a line break written as
/// `\r\n`, `\u000a`, `%0D%0A`, a separator such as `|` or `,`.
pub const MAX_GLUE: usize = 8;

/// A path's segments are short. Somewhere in a key's body, [`MIN_KEY_BODY`] characters in a
/// row hold fewer `/` and `\` than one in this many (random base64 has one `/` in 64)...
const PATH_SEGMENT: usize = 16;

/// ... and fewer `/`, `\`, `-` and `_` than one in this many (base64url has one `-` or `_` in
/// 32); every such stretch of a path (`/srv/qlik/3f2504e0-4f89-11d3-9a0c-0305e82c3301/`) holds
/// more. So a key is found with a path before it (`keys/MIIE...`), and a long path is not a key.
const NAME_SEGMENT: usize = 12;

/// A key's body, even with its letters folded to one case, holds more than 30 different
/// characters; `xxxx...`, a rule of `=` or a long number does not.
const MIN_DISTINCT: u32 = 20;

/// Whether `text` holds key material by its structure: a PEM BEGIN marker in any spelling, or
/// a base64 / base64url body as long as a key's DER. For values that go into a token or a setup
/// body (a key ID, an issuer, a claim, a `--users` cell), which are refused when it is true.
pub fn holds_key_material(text: &str) -> bool {
    // Every cell of a --users file comes here: most are short names, settled without a look
    // at their characters one by one.
    let may_have_marker = text.bytes().filter(|b| *b == b'-').nth(1).is_some();
    (may_have_marker && !marker_spans(text).is_empty())
        || (text.len() >= MIN_KEY_BODY && !body_spans(text).is_empty())
}

/// The byte ranges of `text` that are key text by structure alone (the run did not load it: a
/// key pasted into a wrong flag, which clap then quotes):
/// - everything from a BEGIN-like marker (dashes, then "begin", in any case, with any spacing
///   or invisible characters) to the end of an END-like marker, or without one to the closing
///   quote or the end of the text;
/// - every base64 or base64url body of [`MIN_KEY_BODY`] characters or more, its lines joined
///   across line breaks however written (`\n`, `\u000a`, `%0A`, `|`, `,`, invisible
///   characters), that is not a path's segments and not hexadecimal.
pub fn key_text_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = marker_spans(text);
    spans.extend(body_spans(text));
    spans
}

/// Whether the text between two pieces of key text still joins them: short, and only line
/// breaks (real or written out), separators and invisible characters.
pub fn is_glue(between: &str) -> bool {
    let mut i = 0;
    let mut chars = 0;
    while i < between.len() {
        let (unit, len) = unit_at(between, i);
        if !matches!(unit, Unit::Glue { .. } | Unit::Invisible) {
            return false;
        }
        chars += 1;
        i += len;
    }
    chars <= MAX_GLUE
}

/// Characters a mangled key may carry that show as nothing: zero-width spaces and joiners, the
/// soft hyphen, word joiners, a byte order mark.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}' | '\u{180e}' | '\u{200b}'..='\u{200d}' | '\u{2060}'..='\u{2064}' | '\u{feff}'
    )
}

/// What a character (or a written-out line break, or a URL-encoded character) is to a body.
#[derive(Clone, Copy)]
enum Unit {
    /// A base64 or base64url character.
    Body(u8),
    Invisible,
    /// A line break, blank or separator; `path` for a bare `\`, which separates a Windows
    /// path's segments.
    Glue {
        path: bool,
    },
    Break,
}

fn unit_at(text: &str, i: usize) -> (Unit, usize) {
    let bytes = &text.as_bytes()[i..];
    if let Some(len) = written_line_break(bytes) {
        return (Unit::Glue { path: false }, len);
    }
    if let Some(c) = percent_encoded(bytes) {
        return (Unit::Body(c), 3);
    }
    let Some(c) = text[i..].chars().next() else {
        return (Unit::Break, 1);
    };
    let len = c.len_utf8();
    match c {
        // Three dashes or more are a PEM marker's, or a rule: never inside a key.
        '-' if bytes.starts_with(b"---") => {
            let dashes = bytes.iter().take_while(|b| **b == b'-').count();
            (Unit::Break, dashes)
        }
        c if c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_') => {
            (Unit::Body(c as u8), 1)
        }
        '\\' => (Unit::Glue { path: true }, 1),
        '|' | ',' | ';' => (Unit::Glue { path: false }, 1),
        // A lone `%`: a URL-encoded character that something was put into the middle of.
        '%' => (Unit::Invisible, 1),
        c if c.is_whitespace() => (Unit::Glue { path: false }, len),
        c if is_invisible(c) => (Unit::Invisible, len),
        _ => (Unit::Break, len),
    }
}

/// A candidate body: its range and what tells a key from a path.
#[derive(Default)]
struct Body {
    start: usize,
    end: usize,
    chars: usize,
    line: usize,
    /// Where `/`, `\`, `-` and `_` are (in characters from the start), and whether each is a
    /// path's separator (`/`, `\`).
    separators: Vec<(usize, bool)>,
    not_hex: bool,
    /// Which ASCII characters it holds: random base64 of this length holds most of the 64.
    seen: u128,
}

impl Body {
    fn push(&mut self, c: u8) {
        if matches!(c, b'/' | b'-' | b'_') {
            self.separators.push((self.chars, c == b'/'));
        }
        self.chars += 1;
        self.line += 1;
        self.not_hex |= !c.is_ascii_hexdigit();
        self.seen |= 1 << (c & 0x7f);
    }

    fn is_key(&self) -> bool {
        self.chars >= MIN_KEY_BODY
            && self.not_hex
            && self.seen.count_ones() >= MIN_DISTINCT
            && self.has_key_stretch()
    }

    /// Whether some [`MIN_KEY_BODY`] characters in a row have separators as rare as a key's
    /// (see [`PATH_SEGMENT`], [`NAME_SEGMENT`]). Stretches are tried from the start and from
    /// after each separator, which is where the count can drop.
    fn has_key_stretch(&self) -> bool {
        let width = MIN_KEY_BODY;
        let starts = std::iter::once(0).chain(self.separators.iter().map(|(at, _)| at + 1));
        let (mut lo, mut hi, mut paths) = (0, 0, 0);
        for start in starts {
            if start + width > self.chars {
                break;
            }
            while lo < self.separators.len() && self.separators[lo].0 < start {
                paths -= usize::from(self.separators[lo].1);
                lo += 1;
            }
            while hi < self.separators.len() && self.separators[hi].0 < start + width {
                paths += usize::from(self.separators[hi].1);
                hi += 1;
            }
            let all = hi - lo;
            if (paths + 1) * PATH_SEGMENT < width && (all + 1) * NAME_SEGMENT < width {
                return true;
            }
        }
        false
    }
}

fn body_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut current: Option<Body> = None;
    let mut glue = 0;
    let mut glue_separators = 0;
    let mut close = |body: Option<Body>| {
        if let Some(body) = body.filter(Body::is_key) {
            spans.push((body.start, body.end));
        }
    };
    let mut i = 0;
    while i < text.len() {
        let (unit, len) = unit_at(text, i);
        match unit {
            Unit::Body(c) => {
                if glue > 0 {
                    let joins = glue <= MAX_GLUE
                        && current.as_ref().is_some_and(|body| body.line >= MIN_LINE);
                    if joins {
                        if let Some(body) = current.as_mut() {
                            body.line = 0;
                            let at = body.chars;
                            body.separators
                                .extend(std::iter::repeat_n((at, true), glue_separators));
                        }
                    } else {
                        close(current.take());
                    }
                    glue = 0;
                    glue_separators = 0;
                }
                let body = current.get_or_insert_with(|| Body {
                    start: i,
                    ..Body::default()
                });
                body.push(c);
                body.end = i + len;
            }
            Unit::Invisible => match current.as_mut() {
                Some(body) if glue == 0 => body.end = i + len,
                Some(_) => glue += 1,
                None => {}
            },
            Unit::Glue { path } => {
                if current.is_some() {
                    glue += 1;
                    glue_separators += usize::from(path);
                }
            }
            Unit::Break => {
                close(current.take());
                glue = 0;
                glue_separators = 0;
            }
        }
        i += len;
    }
    close(current.take());
    spans
}

/// The text folded for finding markers: invisible characters dropped, letters in lower case,
/// each with its byte range in `text`.
fn folded(text: &str) -> Vec<(char, usize, usize)> {
    text.char_indices()
        .filter(|(_, c)| !is_invisible(*c))
        .map(|(at, c)| (c.to_ascii_lowercase(), at, at + c.len_utf8()))
        .collect()
}

/// Whether `word` follows a run of dashes that ends at `dashes_end`, after optional spaces.
fn marker_at(folded: &[(char, usize, usize)], dashes_end: usize, word: &str) -> bool {
    let mut i = dashes_end;
    while folded.get(i).is_some_and(|(c, ..)| *c == ' ') {
        i += 1;
    }
    word.chars()
        .enumerate()
        .all(|(k, w)| folded.get(i + k).is_some_and(|(c, ..)| *c == w))
}

fn marker_spans(text: &str) -> Vec<(usize, usize)> {
    let folded = folded(text);
    let mut spans = Vec::new();
    let mut i = 0;
    while i < folded.len() {
        let dashes = folded[i..].iter().take_while(|(c, ..)| *c == '-').count();
        if dashes < 2 || !marker_at(&folded, i + dashes, "begin") {
            i += dashes.max(1);
            continue;
        }
        let start = folded[i].1;
        let (end, next) = end_marker(&folded, i + dashes).unwrap_or_else(|| {
            // No END: up to the quote clap closes a value with, or to the end.
            let quote = folded[i..]
                .iter()
                .position(|(c, ..)| *c == '\'')
                .map(|k| i + k);
            match quote {
                Some(q) => (folded[q].1, q),
                None => (text.len(), folded.len()),
            }
        });
        spans.push((start, end));
        i = next;
    }
    spans
}

/// The end of the first END-like marker from `from`: its dashes, "end", the label, and the
/// closing dashes. Returns the byte end and the folded index after it.
fn end_marker(folded: &[(char, usize, usize)], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i < folded.len() {
        let dashes = folded[i..].iter().take_while(|(c, ..)| *c == '-').count();
        if dashes >= 2 && marker_at(folded, i + dashes, "end") {
            let mut j = i + dashes;
            while folded
                .get(j)
                .is_some_and(|(c, ..)| c.is_ascii_alphanumeric() || *c == ' ')
            {
                j += 1;
            }
            while folded.get(j).is_some_and(|(c, ..)| *c == '-') {
                j += 1;
            }
            let end = folded.get(j - 1).map_or(0, |(_, _, end)| *end);
            return Some((end, j));
        }
        i += dashes.max(1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const PKCS8: &str = include_str!("../tests/fixtures/rsa2048-pkcs8.pem");
    const PKCS1: &str = include_str!("../tests/fixtures/rsa2048-pkcs1.pem");
    const EC_SEC1: &str = include_str!("../tests/fixtures/ec-p256-sec1.pem");
    /// Paths, file names, ids, key IDs, issuers and hosts as people have them.
    const NAMES: &str = include_str!("../tests/fixtures/real-world-names.txt");

    fn names() -> impl Iterator<Item = &'static str> {
        NAMES
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
    }

    fn body(pem: &str) -> String {
        pem.lines().filter(|l| !l.starts_with("-----")).collect()
    }

    /// What a byte range list leaves of `text`, each range as `[R]`.
    fn cut(text: &str, mut spans: Vec<(usize, usize)>) -> String {
        spans.sort_unstable();
        let mut out = String::new();
        let mut at = 0;
        for (start, end) in spans {
            if start >= at {
                out.push_str(&text[at..start]);
                out.push_str("[R]");
            }
            at = at.max(end);
        }
        out.push_str(&text[at..]);
        out
    }

    #[test]
    fn never_shows_the_text() {
        let secret = SecretText::new("-----BEGIN PRIVATE KEY-----\nMIIE");
        assert_eq!(
            format!("{secret:?} {secret}"),
            "SecretText([redacted]) [redacted]"
        );
        assert!(secret.expose().starts_with("-----BEGIN"));
        let passphrase = Passphrase::new(Zeroizing::new(b"hunter2".to_vec()), "QSJWTPASSPHRASE");
        assert_eq!(
            format!("{passphrase:?}"),
            "Passphrase(from QSJWTPASSPHRASE, [redacted])"
        );
    }

    #[test]
    fn a_bare_body_with_written_line_breaks_split_by_zero_width_spaces_is_found_whole() {
        // The key's lines joined by `\r\n` written out, a zero-width space after each `\`: a
        // mangling that used to leave the first line shown.
        let lines: Vec<&str> = PKCS8.lines().filter(|l| !l.starts_with("-----")).collect();
        let text = lines.join("\\\u{200b}r\\n");
        let shown = cut(&text, key_text_spans(&text));
        assert_eq!(shown, "[R]", "{shown}");
        // A Windows path's `\r` stays a path: only spellings of line breaks are read through.
        assert!(key_text_spans("C:\\\u{200b}rita\\keys").is_empty());
    }

    #[test]
    fn the_corpus_is_large_and_holds_no_key_material() {
        assert!(names().count() >= 200, "{}", names().count());
        for name in names() {
            assert!(!holds_key_material(name), "{name}");
            assert!(key_text_spans(name).is_empty(), "{name}");
        }
    }

    #[test]
    fn keys_in_any_shape_hold_key_material() {
        let pkcs8 = body(PKCS8);
        let lines: Vec<&str> = PKCS8.lines().filter(|l| !l.starts_with("-----")).collect();
        let jwk_d = pkcs8[..342].replace('+', "-").replace('/', "_");
        for key in [
            PKCS8.to_owned(),
            PKCS8.to_ascii_lowercase().replace("-----", ""),
            pkcs8.clone(),
            pkcs8.to_ascii_uppercase(),
            lines.join("\\n"),
            lines.join("|"),
            lines.join(" "),
            lines.join("%0A"),
            lines.join("\\u000a"),
            lines.join("\\r\\n").to_ascii_uppercase(),
            pkcs8.replace('/', "%2F").replace('+', "%2B"),
            body(EC_SEC1),
            jwk_d.clone(),
            format!("x={}", body(PKCS1)),
        ] {
            assert!(holds_key_material(&key), "{key}");
        }
        // The base64url body is taken whole: no piece left between its - and _.
        let text = format!("value '{jwk_d}' for '--keyid <id>'");
        assert_eq!(
            cut(&text, key_text_spans(&text)),
            "value '[R]' for '--keyid <id>'"
        );
    }

    #[test]
    fn names_in_lists_and_long_paths_are_not_key_material() {
        for text in [
            "QlikKeys2024/Prod2025Q3/",
            "/home/anna/QlikSenseKeys/Production/Tenant2025/keys_for_the_virtual_proxy/rotation/2025-09-30/qsjwt_",
            "C:\\Users\\Administrator\\AppData\\Local\\Temp\\qs-jwt\\3F2504E0-4F89-11D3-9A0C-0305E82C3301\\keys\\Prod2025Q3\\privatekey.pem",
            "00u1abcd2EFGH3ijk4x7, 00u9zyxw8VUTS7rqp6o5, 00u5mnop4QRST3uvw2x1, 00u2hijk1LMNO9pqr8s7, 00u3efgh6IJKL5mno4p3",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3",
            "SomeLongCamelCaseIdentifierName and another_long_snake_case_name_here",
        ] {
            assert!(!holds_key_material(text), "{text}");
        }
    }

    #[test]
    fn a_registered_key_is_found_whole_and_in_pieces() {
        let mut known = Known::default();
        known.add(PKCS8);
        let body = body(PKCS8);
        let lines: Vec<&str> = PKCS8.lines().filter(|l| !l.starts_with("-----")).collect();
        for (text, expected) in [
            (format!("a '{}' b", &body[100..137]), "a '[R]' b"),
            (format!("a '{}' b", lines[3]), "a '[R]' b"),
            (
                format!("a '{}' b", lines[3].to_ascii_uppercase()),
                "a '[R]' b",
            ),
            (format!("a {} b", lines[2..6].join("\\n")), "a [R] b"),
            (
                format!("a {} b", lines[2..6].join("").replace('/', "%2F")),
                "a [R] b",
            ),
            (
                format!("a {} b", lines[lines.len() - 2..].join("\n")),
                "a [R] b",
            ),
        ] {
            assert_eq!(cut(&text, known.spans(&text)), expected, "{text}");
        }
        for name in names() {
            assert!(known.spans(name).is_empty(), "{name}");
        }
    }

    /// A word beside a piece keeps its letters, even one the key happens to have next.
    #[test]
    fn a_piece_takes_no_letter_of_the_words_beside_it() {
        let mut known = Known::default();
        known.add(PKCS8);
        let body = body(PKCS8);
        for at in 100..400 {
            let piece = &body[at..at + 40];
            let (before, after) = (&body[at - 1..at], &body[at + 40..at + 41]);
            let text = format!("word{before} ...{piece}... {after}word");
            assert_eq!(
                cut(&text, known.spans(&text)),
                format!("word{before} ...[R]... {after}word"),
            );
            let text = format!("x={}\n{}", &body[at - 20..at], &body[at..at + 20]);
            assert_eq!(cut(&text, known.spans(&text)), "x=[R]");
        }
    }

    #[test]
    fn a_short_secret_is_found_as_written_and_a_tiny_one_not_at_all() {
        let mut known = Known::default();
        known.add("hunter22");
        known.add("abc");
        assert_eq!(
            cut("pass hunter22 abc", known.spans("pass hunter22 abc")),
            "pass [R] abc"
        );
    }

    /// A short secret in another case or URL-encoded; a long one JSON-escaped or with every
    /// character URL-encoded.
    #[test]
    fn a_secret_is_found_in_any_case_and_encoded() {
        let mut known = Known::default();
        known.add("p@ss w0rd!");
        let long = "Xq7/pL2+vN9=kR4_sT6-wY8zAb3Cd5Ef";
        known.add(long);
        let percent: String = long.bytes().map(|b| format!("%{b:02x}")).collect();
        for text in [
            "a P@SS W0RD! b".to_owned(),
            "a p%40ss+w0rd%21 b".to_owned(),
            format!("a {} b", long.replace('/', "\\/")),
            format!("a {} b", long.replace('+', "\\u002B")),
            format!("a {percent} b"),
            format!("a {} b", &long[3..24].to_ascii_uppercase()),
        ] {
            assert_eq!(cut(&text, known.spans(&text)), "a [R] b", "{text}");
        }
    }

    /// A secret that holds characters outside base64's alphabet (`"`, `\\`, `%`, `@`, `.`, a
    /// space) is found whole and in any piece of 16 characters, in any case, URL-encoded or
    /// JSON-escaped (once, or twice: a server's JSON inside ours); its skeleton alone broke at
    /// every such character.
    #[test]
    fn a_secret_with_any_characters_is_found_whole_and_in_pieces() {
        let secrets = [
            r#"Sup3r/Secret+"q"\Passw0rd-2024xyz"#,
            "anna.berg@example.com pass 100% sure",
            "Pässwört mit Ümlaut & \"Zitat\" 2024",
        ];
        let mut known = Known::default();
        for secret in secrets {
            known.add(secret);
        }
        // A JSON string's inside, without its quotes.
        let json = |text: &str| {
            let quoted = serde_json::to_string(text).unwrap();
            quoted[1..quoted.len() - 1].to_owned()
        };
        let percent =
            |text: &str| -> String { text.bytes().map(|b| format!("%{b:02X}")).collect() };
        let form = |text: &str| -> String {
            text.bytes()
                .map(|b| match b {
                    b' ' => "+".to_owned(),
                    b if b.is_ascii_alphanumeric() => char::from(b).to_string(),
                    b => format!("%{b:02x}"),
                })
                .collect()
        };
        for secret in secrets {
            let chars: Vec<char> = secret.chars().collect();
            let mut quoted = vec![
                secret.to_owned(),
                secret.to_ascii_uppercase(),
                json(secret),
                json(&json(secret)),
                percent(secret),
                form(secret),
            ];
            // A piece that starts or ends with a blank leaves the blank shown.
            for piece in chars.windows(MIN_PIECE) {
                let piece: String = piece.iter().collect();
                if piece.trim() != piece {
                    continue;
                }
                quoted.extend([piece.to_ascii_uppercase(), json(&piece), form(&piece)]);
            }
            for quoted in quoted {
                for text in [
                    format!("a {quoted} b"),
                    format!("{{\"detail\":\"a {quoted} b\"}}"),
                ] {
                    let shown = cut(&text, known.spans(&text));
                    assert!(
                        shown == "a [R] b" || shown == "{\"detail\":\"a [R] b\"}",
                        "{text} -> {shown}"
                    );
                }
            }
        }
        for name in names() {
            let text = format!("error: user {name} not found");
            assert!(known.spans(&text).is_empty(), "{text}");
        }
    }

    /// With every secret kind of a run registered (a key, an API key, a client secret, a
    /// passphrase, a token), every real-world name (Qlik's scopes, grants, subjects and client
    /// ids among them) still shows whole, in any message around it.
    #[test]
    fn real_world_names_survive_every_secret_kind() {
        let mut known = Known::default();
        known.add(PKCS8);
        known.add("Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6InFsaWsifQ.eyJzdWIiOiJhZG1pbiJ9.Xq7pL2vN9kR4sT6wY8zAb3Cd5Ef0Gh1Ij2Kl");
        known.add("Zk8vQ2xp4RnT7wYs1BdFg6HjK9mLc3NqW5eR0tY2uI4oP6aS");
        known.add("correct horse battery staple 2024");
        known.add("hunter2024");
        for name in names() {
            for text in [
                name.to_owned(),
                format!("error: user {name} not found"),
                format!("client {name} may not use grant {name}"),
                format!("INFO Qlik Cloud issued an access token (scope {name})"),
                format!("{{\"detail\":\"{name}\"}}"),
            ] {
                assert!(known.spans(&text).is_empty(), "{text}");
                assert!(bearer_spans(&text).is_empty(), "{text}");
                assert!(key_text_spans(&text).is_empty(), "{text}");
            }
        }
    }

    /// A value in an Authorization header's form is the key it holds, registered or not.
    #[test]
    fn a_bearer_value_is_the_key_it_holds() {
        let key = "eyJhbGciOiJFUzM4NCIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXBhcnQ";
        let mut known = Known::default();
        known.add(&format!("Bearer {key}"));
        let text = format!("x {} y", &key[10..40]);
        assert_eq!(cut(&text, known.spans(&text)), "x [R] y");
        let text = format!("cannot read --api-key-file 'Bearer {key}': not found");
        assert_eq!(
            cut(&text, bearer_spans(&text)),
            "cannot read --api-key-file 'Bearer [R]': not found"
        );
        for words in ["a Bearer token", "the bearer header", "Bearer <api-key>"] {
            assert!(bearer_spans(words).is_empty(), "{words}");
        }
    }

    #[test]
    fn a_der_is_registered_as_its_base64() {
        use base64::Engine as _;
        let der = base64::engine::general_purpose::STANDARD
            .decode(body(PKCS1))
            .unwrap();
        register_der(&der);
        let text = format!("x {} y", &body(PKCS1)[200..240]);
        assert_eq!(cut(&text, known_spans(&text)), "x [R] y");
    }
}
