//! Reading what a flag points at: a file, or standard input for `-`. One place, so every such
//! flag (--cert-privatekey-file, --cert-publickey-file, --jwt-file, --cacert, the passphrase
//! file, --users) gets the same checks (a folder, binary content, a terminal, a size limit, a
//! time limit, an empty pipe), the same text encodings (UTF-8 with or without a byte order
//! mark, UTF-16 with one) and messages that name the flag.

use std::fs::{self, File};
use std::io::{self, IsTerminal, Read};
use std::path::Path;
use std::sync::OnceLock;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use zeroize::Zeroize;

use crate::error::UserError;

/// The most any of these inputs may hold: far above a real key, certificate or token (a
/// 16384-bit key in PEM is about 13 KB, a certificate chain a few KB), far below what would
/// hurt. `--cert-privatekey-file /dev/zero` read until memory ran out before this limit.
pub const MAX_INPUT_BYTES: u64 = 1024 * 1024;

/// The least room a bounded read starts with: more than a 8192-bit key in PEM.
const MIN_BUFFER: u64 = 16 * 1024;

/// How long reading a file may take in a command without `--timeout`: a local file takes
/// moments; what takes longer is a FIFO or a process substitution (`<(...)`) whose writer is
/// slow, stuck or missing, and a FIFO nobody opens for writing would block open(2) for ever.
pub const FILE_TIME_LIMIT: Duration = Duration::from_secs(30);

/// How long reading standard input may take, at least: the command before the pipe may take
/// its time (a vault or a web service asked for the key), but a standard input that nobody
/// ever closes (a CI runner's, a service manager's) must not hang the run for ever.
pub const STDIN_TIME_LIMIT: Duration = Duration::from_secs(60);

/// The command's `--timeout`, when it has one: the limit of every read of the run.
static TIME_LIMIT: OnceLock<Duration> = OnceLock::new();

/// Makes `limit` (a command's `--timeout`) the time limit of every read of the run, files and
/// standard input alike (standard input keeps [`STDIN_TIME_LIMIT`] at least). Set once, before
/// the command reads anything.
pub fn set_time_limit(limit: Duration) {
    let _ = TIME_LIMIT.set(limit);
}

/// The time limit of a read, and how a message names it.
struct TimeLimit {
    duration: Duration,
    /// "30s (--timeout)", "30s, qs-jwt's time limit for reading a file".
    named: String,
    /// Whether raising `--timeout` would help.
    timeout_flag: bool,
}

impl TimeLimit {
    fn for_file() -> Self {
        match TIME_LIMIT.get() {
            Some(&limit) => Self::from_flag(limit),
            None => Self {
                duration: FILE_TIME_LIMIT,
                named: format!(
                    "{}, qs-jwt's time limit for reading a file",
                    humantime::format_duration(FILE_TIME_LIMIT)
                ),
                timeout_flag: false,
            },
        }
    }

    fn for_stdin() -> Self {
        match TIME_LIMIT.get() {
            Some(&limit) if limit > STDIN_TIME_LIMIT => Self::from_flag(limit),
            _ => Self {
                duration: STDIN_TIME_LIMIT,
                named: format!(
                    "{}, qs-jwt's time limit for standard input",
                    humantime::format_duration(STDIN_TIME_LIMIT)
                ),
                timeout_flag: false,
            },
        }
    }

    fn from_flag(limit: Duration) -> Self {
        Self {
            duration: limit,
            named: format!("{} (--timeout)", humantime::format_duration(limit)),
            timeout_flag: true,
        }
    }
}

/// Why a read gave no bytes.
enum Failure {
    Io(io::Error),
    /// More than the limit.
    TooLarge,
    /// A NUL byte in what should be UTF-8 text (`--users`).
    Binary,
    /// Not done within the time limit.
    TimedOut,
}

/// Runs `read` on a thread of its own and waits for it at most `limit`: a FIFO with no writer
/// blocks in open(2), a pipe whose writer neither writes nor closes blocks in read(2), and
/// neither can be interrupted portably. A read given up on leaves its thread blocked until the
/// process ends, which the error that follows does at once.
fn within<T: Send + 'static>(
    limit: Duration,
    read: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    // Room for the one answer: the thread never blocks on sending it.
    let (sender, receiver) = mpsc::sync_channel(1);
    thread::Builder::new()
        .name("qs-jwt read".to_owned())
        .spawn(move || {
            let _ = sender.send(read());
        })
        .map_err(Failure::Io)?;
    match receiver.recv_timeout(limit) {
        Ok(result) => result,
        Err(RecvTimeoutError::Timeout) => Err(Failure::TimedOut),
        // The thread ended without an answer: only a panic does that, and qs-jwt has none.
        Err(RecvTimeoutError::Disconnected) => Err(Failure::Io(io::Error::other(
            "the read ended without a result",
        ))),
    }
}

/// Reads at most `limit` bytes; more is [`Failure::TooLarge`]. Checked while reading, so an
/// endless source (a device, a pipe) stops at the limit.
fn read_bounded(reader: impl Read, size_hint: u64, limit: u64) -> Result<Vec<u8>, Failure> {
    // Room for the whole file at once (one read, as fs::read does), never more than the limit;
    // for standard input, which gives no size, room for any key: a buffer that grows leaves
    // copies of what it held (a key, a passphrase) in freed memory.
    let capacity = usize::try_from(size_hint.max(MIN_BUFFER).min(limit) + 1).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    reader
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(Failure::Io)?;
    if bytes.len() as u64 > limit {
        bytes.zeroize();
        return Err(Failure::TooLarge);
    }
    Ok(bytes)
}

fn size(limit: u64) -> String {
    if limit.is_multiple_of(1024 * 1024) {
        format!("{} MiB", limit / (1024 * 1024))
    } else {
        format!("{limit} bytes")
    }
}

/// Why bytes are not text.
#[derive(Debug, PartialEq, Eq)]
pub enum NotText {
    /// A UTF-32 byte order mark.
    Utf32,
    /// A UTF-16 byte order mark, and what follows is not UTF-16.
    BadUtf16,
    /// No byte order mark, and not UTF-8.
    NotUtf8,
}

/// The bytes of a text input as UTF-8: a UTF-8 byte order mark dropped, UTF-16 (little or big
/// endian) with a byte order mark converted, anything else as it is. What Windows PowerShell
/// 5.1's `>` and `Out-File` write is UTF-16LE with a byte order mark; Notepad and
/// `Set-Content -Encoding UTF8` write UTF-8 with one. A buffer replaced is wiped: it may hold a
/// key or a passphrase.
pub fn utf8_bytes(mut bytes: Vec<u8>) -> Result<Vec<u8>, NotText> {
    let utf16 = |units: &[u8], unit: fn([u8; 2]) -> u16| {
        if !units.len().is_multiple_of(2) {
            return Err(NotText::BadUtf16);
        }
        // Room for the UTF-8 at once (three bytes at most for each UTF-16 unit): a string that
        // grows leaves copies in freed memory.
        let mut text = String::with_capacity(units.len() / 2 * 3);
        let units = units.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
        for c in char::decode_utf16(units) {
            match c {
                Ok(c) => text.push(c),
                Err(_) => {
                    text.zeroize();
                    return Err(NotText::BadUtf16);
                }
            }
        }
        Ok(text.into_bytes())
    };
    let converted = match bytes.as_slice() {
        [0xff, 0xfe, 0, 0, ..] | [0, 0, 0xfe, 0xff, ..] => Err(NotText::Utf32),
        [0xff, 0xfe, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xfe, 0xff, rest @ ..] => utf16(rest, u16::from_be_bytes),
        [0xef, 0xbb, 0xbf, ..] => {
            bytes.drain(..3);
            return Ok(bytes);
        }
        _ => return Ok(bytes),
    };
    bytes.zeroize();
    converted
}

/// Text from bytes: UTF-8 (a byte order mark dropped), or UTF-16 with its byte order mark.
pub fn decode_text(bytes: Vec<u8>) -> Result<String, NotText> {
    String::from_utf8(utf8_bytes(bytes)?).map_err(|e| {
        e.into_bytes().zeroize();
        NotText::NotUtf8
    })
}

/// What a file flag expects, for its messages.
pub struct FileFlag {
    /// The flag, as in `--cert-privatekey-file`.
    pub flag: &'static str,
    /// What the file holds, as in "private key": "give the private key file in it".
    pub holds: &'static str,
    /// The text format expected, as in "PEM": "is binary, not PEM text".
    pub format: &'static str,
    /// The command that converts a binary (DER) file, given the path as shown.
    pub der_hint: Option<fn(&str) -> String>,
}

/// Reads the text file `path` named by `flag`: UTF-8 with or without a byte order mark, or
/// UTF-16 with one.
pub fn read_file(path: &Path, flag: &FileFlag) -> Result<String, UserError> {
    let bytes = read_raw_file(path, flag)?;
    let shown = path.display().to_string();
    decode_text(bytes).map_err(|why| match why {
        NotText::NotUtf8 => {
            let err = UserError::runtime(format!(
                "{} '{shown}' is binary, not {} text",
                flag.flag, flag.format
            ));
            match flag.der_hint {
                Some(hint) => err.with_hint(hint(&shown)),
                None => err,
            }
        }
        why => UserError::runtime(format!("{} '{shown}' {}", flag.flag, not_text(&why))),
    })
}

/// What a message says of text that could not be decoded, after the input's name.
fn not_text(why: &NotText) -> &'static str {
    match why {
        NotText::Utf32 => {
            "is UTF-32 text; save it as UTF-8 (Out-File -Encoding utf8 in PowerShell)"
        }
        NotText::BadUtf16 => {
            "starts with a UTF-16 byte order mark but is not UTF-16 text; save it as UTF-8"
        }
        NotText::NotUtf8 => "is not UTF-8 text; save it as UTF-8",
    }
}

/// Reads the file `path` named by `flag` as bytes in any encoding; text with a byte order mark
/// comes as UTF-8 without it (see [`utf8_bytes`]).
pub fn read_file_bytes(path: &Path, flag: &FileFlag) -> Result<Vec<u8>, UserError> {
    let bytes = read_raw_file(path, flag)?;
    utf8_bytes(bytes).map_err(|why| {
        UserError::runtime(format!(
            "{} '{}' {}",
            flag.flag,
            path.display(),
            not_text(&why)
        ))
    })
}

/// The bytes of the file `path` named by `flag`, as they are.
fn read_raw_file(path: &Path, flag: &FileFlag) -> Result<Vec<u8>, UserError> {
    let FileFlag { flag, holds, .. } = flag;
    let shown = path.display().to_string();
    let named = format!("{flag} '{shown}'");
    let cannot_read = |e: io::Error| UserError::runtime(format!("cannot read {named}: {e}"));
    not_a_folder(path, &named, holds, cannot_read)?;
    let limit = TimeLimit::for_file();
    let owned = path.to_path_buf();
    within(limit.duration, move || {
        let (file, size_hint) = open_file(&owned)?;
        read_bounded(file, size_hint, MAX_INPUT_BYTES)
    })
    .map_err(|failure| match failure {
        Failure::TooLarge | Failure::Binary => UserError::runtime(format!(
            "{named} holds more than {}, far more than any {holds}; give the {holds} file",
            size(MAX_INPUT_BYTES)
        )),
        Failure::TimedOut => file_timed_out(&named, &limit),
        Failure::Io(e) => cannot_read(e),
    })
}

/// A file not read within its time limit: what is likely wrong, and the way out.
fn file_timed_out(named: &str, limit: &TimeLimit) -> UserError {
    UserError::runtime(format!(
        "{named} was not read to its end within {}: is it a FIFO (named pipe) or a process \
         substitution that nothing writes to, or whose writer is stuck? give a regular file{}",
        limit.named,
        if limit.timeout_flag {
            ", or raise --timeout"
        } else {
            ""
        }
    ))
}

/// A folder where a file belongs is told as such, with what belongs there.
fn not_a_folder(
    path: &Path,
    named: &str,
    holds: &str,
    cannot_read: impl Fn(io::Error) -> UserError,
) -> Result<(), UserError> {
    // metadata does not open the file: it never blocks, not even on a FIFO.
    if fs::metadata(path).map_err(cannot_read)?.is_dir() {
        return Err(UserError::runtime(format!(
            "{named} is a folder; give the {holds} file in it"
        )));
    }
    Ok(())
}

/// Opens a file, with its size as a hint: a device or a FIFO reports 0, or anything. Opening a
/// FIFO blocks until a writer opens it: callers run it [`within`] a time limit.
fn open_file(path: &Path) -> Result<(File, u64), Failure> {
    let file = File::open(path).map_err(Failure::Io)?;
    let size_hint = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((file, size_hint))
}

/// Reads standard input for `<flag> -` as text (UTF-8 with or without a byte order mark, or
/// UTF-16 with one). `what` is "the key" or "the token"; `example` shows how to pipe it in.
/// Nothing but white space is an error: the command before the pipe has likely failed.
pub fn read_stdin(flag: &str, what: &str, example: &str) -> Result<String, UserError> {
    let bytes = read_raw_stdin(flag, what, example)?;
    let text = decode_text(bytes).map_err(|why| match why {
        NotText::NotUtf8 => UserError::runtime(format!(
            "standard input ({flag} -) is binary, not text; pipe {what} in as text"
        )),
        why => UserError::runtime(format!("standard input ({flag} -) {}", not_text(&why))),
    })?;
    if text.trim().is_empty() {
        return Err(empty_stdin(flag, what, example));
    }
    Ok(text)
}

/// Reads standard input for `<flag> -` as bytes in any encoding; text with a byte order mark
/// comes as UTF-8 without it (see [`utf8_bytes`]). Empty is for the caller to judge.
pub fn read_stdin_bytes(flag: &str, what: &str, example: &str) -> Result<Vec<u8>, UserError> {
    let bytes = read_raw_stdin(flag, what, example)?;
    utf8_bytes(bytes)
        .map_err(|why| UserError::runtime(format!("standard input ({flag} -) {}", not_text(&why))))
}

/// Standard input that held nothing (or only white space): what `false | qs-jwt ...` gives, or
/// `echo "$UNSET" | qs-jwt ...`.
pub fn empty_stdin(flag: &str, what: &str, example: &str) -> UserError {
    UserError::runtime(format!(
        "standard input ({flag} -) is empty: the command before the pipe may have failed; pipe \
         {what} in, for example: {example}"
    ))
}

fn read_raw_stdin(flag: &str, what: &str, example: &str) -> Result<Vec<u8>, UserError> {
    // Waiting for someone to type would hang a script; qs-jwt never prompts.
    if io::stdin().is_terminal() {
        return Err(UserError::usage(format!(
            "{flag} - reads {what} from standard input, which is a terminal; pipe {what} in, for \
             example: {example}"
        )));
    }
    let limit = TimeLimit::for_stdin();
    within(limit.duration, || {
        read_bounded(io::stdin().lock(), 0, MAX_INPUT_BYTES)
    })
    .map_err(|failure| match failure {
        Failure::TooLarge | Failure::Binary => UserError::runtime(format!(
            "standard input ({flag} -) holds more than {}, far more than {what}",
            size(MAX_INPUT_BYTES)
        )),
        Failure::TimedOut => stdin_timed_out(&format!("standard input ({flag} -)"), &limit),
        Failure::Io(e) => {
            UserError::runtime(format!("cannot read {what} from standard input: {e}"))
        }
    })
}

/// Standard input not closed within its time limit.
fn stdin_timed_out(named: &str, limit: &TimeLimit) -> UserError {
    UserError::runtime(format!(
        "{named} was not closed within {}: the command before the pipe may be stuck, or nothing \
         is piped in and standard input is left open (a CI runner's or a service's); pipe the \
         input in, or give a file{}",
        limit.named,
        if limit.timeout_flag {
            ", or raise --timeout"
        } else {
            ""
        }
    ))
}

const TOKEN_FILE: FileFlag = FileFlag {
    flag: "--jwt-file",
    holds: "token",
    format: "JWT",
    der_hint: None,
};

/// The token of `--jwt` (its text) or `--jwt-file` (a file, or standard input for `-`), as it
/// was given; `command` shows how to pipe one in (`decode`, `login-qscloud --tenant <tenant>`).
/// For decode and the login commands alike.
pub fn read_token(
    jwt: Option<&str>,
    jwt_file: Option<&Path>,
    command: &str,
) -> Result<String, UserError> {
    match (jwt, jwt_file) {
        (Some(jwt), _) => Ok(jwt.to_owned()),
        (None, Some(path)) if path.as_os_str() == "-" => read_stdin(
            "--jwt-file",
            "the token",
            &format!("echo \"$TOKEN\" | qs-jwt {command} --jwt-file -"),
        ),
        (None, Some(path)) => read_file(path, &TOKEN_FILE),
        // clap's groups require one of the two.
        (None, None) => Err(UserError::usage("give --jwt <token> or --jwt-file <file>")),
    }
}

/// The most a `--users` file may hold: about two million users of a hundred bytes each. Far
/// above the key files' limit, since a table grows with its users; the rows read from it are
/// what the run keeps in memory.
pub const MAX_USERS_BYTES: u64 = 256 * 1024 * 1024;

/// Reads the `--users` file (standard input for `-`) as text: UTF-8 with or without a byte
/// order mark, or UTF-16 with one (what Windows PowerShell 5.1's `Out-File` and `>` write).
/// A NUL byte in UTF-8 stops the read at once: the file is binary (`/dev/zero` would otherwise
/// be read up to the limit).
pub fn read_users(path: &Path) -> Result<String, UserError> {
    let stdin = path.as_os_str() == "-";
    let shown = if stdin {
        "standard input (--users -)".to_owned()
    } else {
        format!("--users '{}'", path.display())
    };
    let cannot_read = |e: io::Error| UserError::runtime(format!("cannot read {shown}: {e}"));
    const EXAMPLE: &str = "qs-jwt create-... --users - < users.csv";
    let (limit, read) = if stdin {
        if io::stdin().is_terminal() {
            return Err(UserError::usage(format!(
                "--users - reads the users from standard input, which is a terminal; pipe them \
                 in, for example: {EXAMPLE}"
            )));
        }
        let limit = TimeLimit::for_stdin();
        let read = within(limit.duration, || read_text_bytes(io::stdin().lock(), 0));
        (limit, read)
    } else {
        not_a_folder(path, &shown, "users", cannot_read)?;
        let limit = TimeLimit::for_file();
        let owned = path.to_path_buf();
        let read = within(limit.duration, move || {
            let (file, size_hint) = open_file(&owned)?;
            // A regular file too large is refused before it is read.
            if size_hint > MAX_USERS_BYTES {
                return Err(Failure::TooLarge);
            }
            read_text_bytes(file, size_hint)
        });
        (limit, read)
    };
    let bytes = read.map_err(|failure| match failure {
        Failure::TooLarge => too_many_users(&shown),
        Failure::Binary => UserError::runtime(format!(
            "{shown} is binary (it holds a NUL byte), not a CSV or JSON Lines text file"
        )),
        Failure::TimedOut if stdin => stdin_timed_out(&shown, &limit),
        Failure::TimedOut => file_timed_out(&shown, &limit),
        Failure::Io(e) => cannot_read(e),
    })?;
    let text = decode_text(bytes).map_err(|why| {
        UserError::runtime(format!(
            "{shown} {}",
            match why {
                NotText::Utf32 => {
                    "is UTF-32 text; save it as UTF-8 (Export-Csv -Encoding UTF8 in PowerShell)"
                }
                NotText::BadUtf16 => "is not valid UTF-16 text",
                NotText::NotUtf8 => {
                    "is not UTF-8 text; save it as UTF-8 (Export-Csv -Encoding UTF8 in PowerShell)"
                }
            }
        ))
    })?;
    // NUL, which no CSV or JSON text holds, in UTF-16 text too.
    if text.contains('\0') {
        return Err(UserError::runtime(format!(
            "{shown} is binary (it holds a NUL character), not a CSV or JSON Lines text file"
        )));
    }
    if stdin && text.trim().is_empty() {
        return Err(empty_stdin("--users", "the users", EXAMPLE));
    }
    Ok(text)
}

/// Reads up to [`MAX_USERS_BYTES`], refusing a NUL byte in UTF-8 text as soon as it is read.
fn read_text_bytes(mut reader: impl Read, size_hint: u64) -> Result<Vec<u8>, Failure> {
    // Room for the whole file at once: the text is half of a large run's peak memory, and a
    // buffer grown a doubling at a time ends up to twice its size.
    let capacity = usize::try_from(size_hint.min(MAX_USERS_BYTES)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    let mut chunk = vec![0; 64 * 1024];
    loop {
        let read = match reader.read(&mut chunk) {
            Ok(0) => return Ok(bytes),
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::Io(e)),
        };
        let start = if bytes.is_empty() {
            &chunk[..read]
        } else {
            &bytes[..]
        };
        // UTF-16 text holds NUL bytes (the high byte of every ASCII letter).
        let utf16 = matches!(start, [0xff, 0xfe, ..] | [0xfe, 0xff, ..]);
        if !utf16 && chunk[..read].contains(&0) {
            return Err(Failure::Binary);
        }
        if (bytes.len() + read) as u64 > MAX_USERS_BYTES {
            return Err(Failure::TooLarge);
        }
        bytes.extend_from_slice(&chunk[..read]);
    }
}

fn too_many_users(shown: &str) -> UserError {
    UserError::runtime(format!(
        "{shown} holds more than {}; split the users into several files and run qs-jwt once for \
         each",
        size(MAX_USERS_BYTES)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
        let mut bytes = if big_endian {
            vec![0xfe, 0xff]
        } else {
            vec![0xff, 0xfe]
        };
        for unit in text.encode_utf16() {
            let pair = if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            };
            bytes.extend_from_slice(&pair);
        }
        bytes
    }

    #[test]
    fn text_reads_in_every_encoding_a_windows_tool_writes() {
        let text = "-----BEGIN PRIVATE KEY-----\r\nMIIE…\r\n";
        let mut bom = vec![0xef, 0xbb, 0xbf];
        bom.extend_from_slice(text.as_bytes());
        for bytes in [
            text.as_bytes().to_vec(),
            bom,
            utf16(text, false),
            utf16(text, true),
        ] {
            assert_eq!(decode_text(bytes).as_deref(), Ok(text));
        }
        assert_eq!(
            decode_text(vec![0xff, 0xfe, 0, 0, b'a', 0, 0, 0]),
            Err(NotText::Utf32)
        );
        assert_eq!(decode_text(vec![0xff, 0xfe, b'a']), Err(NotText::BadUtf16));
        // A lone surrogate.
        assert_eq!(
            decode_text(vec![0xff, 0xfe, 0x00, 0xd8]),
            Err(NotText::BadUtf16)
        );
        assert_eq!(decode_text(vec![0x30, 0x82, 0xff]), Err(NotText::NotUtf8));
    }

    #[test]
    fn bytes_without_a_byte_order_mark_stay_as_they_are() {
        // A passphrase in Latin-1 is a passphrase, whatever its encoding.
        let latin1 = vec![b'p', 0xe4, b's', b's'];
        assert_eq!(utf8_bytes(latin1.clone()), Ok(latin1));
        assert_eq!(
            utf8_bytes(vec![0xef, 0xbb, 0xbf, b'p', b'w']),
            Ok(b"pw".to_vec())
        );
        assert_eq!(
            utf8_bytes(utf16("pä\n", false)),
            Ok("pä\n".as_bytes().to_vec())
        );
        assert_eq!(utf8_bytes(vec![0xef, 0xbb, 0xbf]), Ok(Vec::new()));
    }

    #[test]
    fn a_read_that_never_ends_is_given_up_at_its_limit() {
        let (reader, writer) = io::pipe().unwrap();
        let given_up = within(Duration::from_millis(50), move || {
            read_bounded(reader, 0, MAX_INPUT_BYTES)
        });
        assert!(matches!(given_up, Err(Failure::TimedOut)));
        drop(writer);
        let done = within(Duration::from_secs(60), || {
            read_bounded(&b"text"[..], 0, MAX_INPUT_BYTES)
        });
        assert!(matches!(done.as_deref(), Ok(b"text")));
    }
}
