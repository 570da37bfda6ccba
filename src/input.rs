//! Reading what a flag points at: a file, or standard input for `-`. One place, so every such
//! flag (--cert-privatekey-file, --cert-publickey-file, --jwt-file, --cacert, the passphrase
//! file, --users) gets the same checks (a folder, binary content, a terminal, a size limit, a
//! time limit, an empty pipe), the same text encodings (UTF-8 with or without a byte order
//! mark, UTF-16 with one) and messages that name the flag.

use std::fs::{self, File};
use std::hash::BuildHasher;
use std::io::{self, IsTerminal, Read, Seek, SeekFrom, Write};
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
        _ => match utf16_without_bom(&bytes) {
            Some(big_endian) if big_endian => utf16(&bytes, u16::from_be_bytes),
            Some(_) => utf16(&bytes, u16::from_le_bytes),
            None => return Ok(bytes),
        },
    };
    bytes.zeroize();
    converted
}

/// Whether `bytes` are UTF-16 written without a byte order mark (`[IO.File]::WriteAllText` with
/// `[Text.Encoding]::Unicode`, `Out-File -Encoding unicode` after an editor dropped the mark), and
/// which way (`true` for big endian): key, token, API key and secret files are ASCII, so in
/// UTF-16 every other byte is a NUL, which no UTF-8 text holds. Nine in ten units with a NUL
/// half, none all NUL, and the first one ASCII: a binary (DER) file is none of that.
fn utf16_without_bom(bytes: &[u8]) -> Option<bool> {
    if bytes.len() < 4 || !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units = bytes.len() / 2;
    let high_nul = |at: usize| bytes.chunks_exact(2).filter(|pair| pair[at] == 0).count();
    let all_nul = bytes.chunks_exact(2).any(|pair| pair == [0, 0]);
    if all_nul {
        return None;
    }
    let mostly = |count: usize| count * 10 >= units * 9;
    match bytes {
        [a, 0, ..] if a.is_ascii() && mostly(high_nul(1)) => Some(false),
        [0, b, ..] if b.is_ascii() && mostly(high_nul(0)) => Some(true),
        _ => None,
    }
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
/// UTF-16 with or without one.
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

/// The most a `--users` table from standard input, a FIFO or a process substitution may hold:
/// it is copied to a private temporary file to be read twice, and this bounds the disk it takes.
pub const MAX_USERS_BYTES: u64 = 256 * 1024 * 1024;

/// The most a regular `--users` file may hold. It is read twice, never held: memory takes
/// 8 bytes a user for the duplicate check, so this bounds that (about 20 million users of a
/// hundred bytes each, 160 MiB).
pub const MAX_USERS_FILE_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// The bytes a pass reads at a time, and the unit in which the second pass is compared with
/// the first.
const USERS_BLOCK: usize = 64 * 1024;

/// The `--users` table, open: a regular file as it is, anything else (standard input, a FIFO,
/// a process substitution) copied to a private temporary file (owner-only, unnamed, gone when
/// the process ends however it ends). The same handle serves every pass, so renaming another
/// file over the path changes nothing; a change in place is found by a keyed hash of each
/// block, noted in the first pass and compared in the second before its rows are used.
pub struct UsersFile {
    file: File,
    /// The table as messages name it: `--users 'users.csv'`, `standard input (--users -)`.
    shown: String,
    stdin: bool,
    hasher: std::hash::RandomState,
    blocks: std::cell::RefCell<Vec<u64>>,
    length: std::cell::Cell<u64>,
    /// The text holds something other than white space.
    visible: std::cell::Cell<bool>,
}

/// How a pass reads: noting each block, comparing each block with the note, or neither.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    Note,
    Compare,
    Plain,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Utf16Le,
    Utf16Be,
}

const USERS_EXAMPLE: &str = "qs-jwt create-... --users - < users.csv";

impl UsersFile {
    /// Opens the `--users` file (standard input for `-`), copying what is not a regular file
    /// to a private temporary file within the time limit of its read. A NUL byte in UTF-8
    /// stops the copy at once: the input is binary (`/dev/zero` would otherwise be read up to
    /// the limit).
    pub fn open(path: &Path) -> Result<Self, UserError> {
        let stdin = path.as_os_str() == "-";
        let shown = if stdin {
            "standard input (--users -)".to_owned()
        } else {
            format!("--users '{}'", path.display())
        };
        let cannot_read = |e: io::Error| UserError::runtime(format!("cannot read {shown}: {e}"));
        let (limit, opened) = if stdin {
            if io::stdin().is_terminal() {
                return Err(UserError::usage(format!(
                    "--users - reads the users from standard input, which is a terminal; pipe \
                     them in, for example: {USERS_EXAMPLE}"
                )));
            }
            let limit = TimeLimit::for_stdin();
            let opened = within(limit.duration, || spool(io::stdin().lock()));
            (limit, opened)
        } else {
            not_a_folder(path, &shown, "users", cannot_read)?;
            let limit = TimeLimit::for_file();
            let owned = path.to_path_buf();
            // metadata does not open the file: it never blocks, not even on a FIFO.
            let regular = fs::metadata(path).map_err(cannot_read)?.is_file();
            let opened = within(limit.duration, move || {
                let (file, size) = open_file(&owned)?;
                if !regular {
                    return spool(file);
                }
                // A regular file too large is refused before it is read.
                if size > MAX_USERS_FILE_BYTES {
                    return Err(Failure::TooLarge);
                }
                Ok(file)
            });
            (limit, opened)
        };
        let file = opened.map_err(|failure| match failure {
            Failure::TooLarge if stdin => too_many_users(&shown, MAX_USERS_BYTES),
            Failure::TooLarge if fs::metadata(path).is_ok_and(|m| m.is_file()) => {
                too_many_users(&shown, MAX_USERS_FILE_BYTES)
            }
            Failure::TooLarge => too_many_users(&shown, MAX_USERS_BYTES),
            Failure::Binary => binary(&shown, "byte"),
            Failure::TimedOut if stdin => stdin_timed_out(&shown, &limit),
            Failure::TimedOut => file_timed_out(&shown, &limit),
            Failure::Io(e) => cannot_read(e),
        })?;
        Ok(Self {
            file,
            shown,
            stdin,
            hasher: std::hash::RandomState::new(),
            blocks: std::cell::RefCell::new(Vec::new()),
            length: std::cell::Cell::new(0),
            visible: std::cell::Cell::new(false),
        })
    }

    /// The first read of the table, as UTF-8 text: each block noted.
    pub fn first_pass(&self) -> io::Result<UsersText<'_>> {
        self.blocks.borrow_mut().clear();
        UsersText::new(self, Pass::Note)
    }

    /// Another read of the table, for messages only: nothing noted or compared.
    pub fn reread(&self) -> io::Result<UsersText<'_>> {
        UsersText::new(self, Pass::Plain)
    }

    /// The read whose rows are used: each block compared with the first pass's before any of
    /// it is handed on, so no row is used that the first pass did not check.
    pub fn second_pass(&self) -> io::Result<UsersText<'_>> {
        UsersText::new(self, Pass::Compare)
    }

    /// An error when the file no longer has the length the first pass read (it grew, or it
    /// was cut): checked before the key is made and before each chunk is signed.
    pub fn unchanged(&self) -> Result<(), UserError> {
        match self.file.metadata() {
            Ok(metadata) if metadata.len() == self.length.get() => Ok(()),
            Ok(_) => Err(UserError::runtime(self.changed())),
            Err(e) => Err(UserError::runtime(format!(
                "cannot read {}: {e}",
                self.shown
            ))),
        }
    }

    /// Standard input that held nothing (or only white space): what `false | qs-jwt ...`
    /// gives. Known once the first pass has read to the end.
    pub fn empty_stdin(&self) -> Option<UserError> {
        (self.stdin && !self.visible.get())
            .then(|| empty_stdin("--users", "the users", USERS_EXAMPLE))
    }

    fn changed(&self) -> String {
        format!(
            "{} changed while qs-jwt was reading it; nothing was signed from the changed part: \
             run again once nothing writes to it",
            self.shown
        )
    }
}

/// Copies a stream to a private temporary file, at most [`MAX_USERS_BYTES`], refusing a NUL
/// byte in UTF-8 text as soon as it is read.
fn spool(mut reader: impl Read) -> Result<File, Failure> {
    let mut file = tempfile::tempfile().map_err(Failure::Io)?;
    let mut chunk = vec![0; USERS_BLOCK];
    let mut copied = 0u64;
    let mut utf16 = None;
    loop {
        let read = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::Io(e)),
        };
        // UTF-16 text holds NUL bytes (the high byte of every ASCII letter).
        let utf16 = *utf16
            .get_or_insert_with(|| matches!(chunk[..read], [0xff, 0xfe, ..] | [0xfe, 0xff, ..]));
        if !utf16 && chunk[..read].contains(&0) {
            return Err(Failure::Binary);
        }
        copied += read as u64;
        if copied > MAX_USERS_BYTES {
            return Err(Failure::TooLarge);
        }
        file.write_all(&chunk[..read]).map_err(Failure::Io)?;
    }
    file.seek(SeekFrom::Start(0)).map_err(Failure::Io)?;
    Ok(file)
}

/// A pass over the `--users` table: its bytes a block at a time (noted or compared, see
/// [`UsersFile`]), decoded to UTF-8 as they come: a UTF-8 byte order mark dropped, UTF-16 with
/// one converted. Errors name the file, whole: a table that is not text, or that changed.
pub struct UsersText<'a> {
    file: &'a UsersFile,
    pass: Pass,
    block: Vec<u8>,
    index: usize,
    read: u64,
    end: bool,
    encoding: Option<Encoding>,
    /// Bytes of a character cut by the end of a block.
    carry: Vec<u8>,
    out: Vec<u8>,
    out_at: usize,
}

impl<'a> UsersText<'a> {
    fn new(file: &'a UsersFile, pass: Pass) -> io::Result<Self> {
        (&file.file).seek(SeekFrom::Start(0))?;
        Ok(Self {
            file,
            pass,
            block: Vec::with_capacity(USERS_BLOCK),
            index: 0,
            read: 0,
            end: false,
            encoding: None,
            carry: Vec::new(),
            out: Vec::with_capacity(USERS_BLOCK),
            out_at: 0,
        })
    }

    fn failed(&self, message: String) -> io::Error {
        io::Error::other(message)
    }

    /// Reads the next block, notes or compares it, and decodes it into `out`.
    fn next_block(&mut self) -> io::Result<()> {
        self.block.clear();
        (&self.file.file)
            .take(USERS_BLOCK as u64)
            .read_to_end(&mut self.block)?;
        self.end = self.block.len() < USERS_BLOCK;
        self.read += self.block.len() as u64;
        let hash = || self.file.hasher.hash_one(&self.block[..]);
        match self.pass {
            Pass::Note => {
                self.file.blocks.borrow_mut().push(hash());
                if self.end {
                    self.file.length.set(self.read);
                }
            }
            Pass::Compare => {
                let blocks = self.file.blocks.borrow();
                let same = blocks.get(self.index) == Some(&hash())
                    && (!self.end || self.index + 1 == blocks.len());
                if !same {
                    return Err(self.failed(self.file.changed()));
                }
            }
            Pass::Plain => {}
        }
        self.index += 1;
        self.decode()
    }

    fn decode(&mut self) -> io::Result<()> {
        let shown = &self.file.shown;
        let mut start = 0;
        if self.encoding.is_none() {
            let (encoding, skip) = match self.block.as_slice() {
                [0xff, 0xfe, 0, 0, ..] | [0, 0, 0xfe, 0xff, ..] => {
                    return Err(self.failed(format!(
                        "{shown} is UTF-32 text; save it as UTF-8 (Export-Csv -Encoding UTF8 in \
                         PowerShell)"
                    )));
                }
                [0xff, 0xfe, ..] => (Encoding::Utf16Le, 2),
                [0xfe, 0xff, ..] => (Encoding::Utf16Be, 2),
                [0xef, 0xbb, 0xbf, ..] => (Encoding::Utf8, 3),
                _ => (Encoding::Utf8, 0),
            };
            self.encoding = Some(encoding);
            start = skip;
        }
        let mut data = std::mem::take(&mut self.carry);
        data.extend_from_slice(&self.block[start..]);
        self.out.clear();
        self.out_at = 0;
        match self.encoding {
            Some(Encoding::Utf8) | None => {
                if data.contains(&0) {
                    return Err(self.failed(binary(shown, "byte").to_string()));
                }
                let valid = match std::str::from_utf8(&data) {
                    Ok(_) => data.len(),
                    // A character cut by the end of the block: the rest comes with the next.
                    Err(e) if e.error_len().is_none() && !self.end => e.valid_up_to(),
                    Err(_) => {
                        return Err(self.failed(format!(
                            "{shown} is not UTF-8 text; save it as UTF-8 (Export-Csv -Encoding \
                             UTF8 in PowerShell)"
                        )));
                    }
                };
                self.carry = data.split_off(valid);
                self.out = data;
            }
            Some(encoding) => {
                let bad = || format!("{shown} is not valid UTF-16 text");
                let mut usable = data.len() & !1;
                if self.end && usable != data.len() {
                    return Err(self.failed(bad()));
                }
                let unit = |pair: &[u8]| match encoding {
                    Encoding::Utf16Be => u16::from_be_bytes([pair[0], pair[1]]),
                    _ => u16::from_le_bytes([pair[0], pair[1]]),
                };
                // A high surrogate at the end of the block: its pair comes with the next.
                if !self.end
                    && usable >= 2
                    && (0xd800..0xdc00).contains(&unit(&data[usable - 2..usable]))
                {
                    usable -= 2;
                }
                let mut text = String::with_capacity(usable / 2 * 3);
                for c in char::decode_utf16(data[..usable].chunks_exact(2).map(unit)) {
                    match c {
                        Ok('\0') => {
                            return Err(self.failed(binary(shown, "character").to_string()));
                        }
                        Ok(c) => text.push(c),
                        Err(_) => return Err(self.failed(bad())),
                    }
                }
                self.carry = data.split_off(usable);
                self.out = text.into_bytes();
            }
        }
        if !self.file.visible.get() && self.out.iter().any(|b| !b.is_ascii_whitespace()) {
            self.file.visible.set(true);
        }
        Ok(())
    }
}

impl Read for UsersText<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_at == self.out.len() {
            if self.end {
                return Ok(0);
            }
            self.next_block()?;
        }
        let n = buf.len().min(self.out.len() - self.out_at);
        buf[..n].copy_from_slice(&self.out[self.out_at..self.out_at + n]);
        self.out_at += n;
        Ok(n)
    }
}

/// A `--users` input that holds a NUL byte or character: no CSV or JSON Lines text does.
fn binary(shown: &str, what: &str) -> UserError {
    UserError::runtime(format!(
        "{shown} is binary (it holds a NUL {what}), not a CSV or JSON Lines text file"
    ))
}

fn too_many_users(shown: &str, limit: u64) -> UserError {
    UserError::runtime(format!(
        "{shown} holds more than {}; split the users into several files and run qs-jwt once for \
         each",
        size(limit)
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
        // UTF-16 without a byte order mark, found by its NUL bytes (issue 27): an API key, a
        // client secret, a PEM key, in either byte order.
        for text in [
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\r\n",
            "Zk8vQ2xp4RnT7wYs1BdFg6HjK9mLc3Nq",
            "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
        ] {
            for big_endian in [false, true] {
                let mut bytes = utf16(text, big_endian);
                bytes.drain(..2);
                assert_eq!(decode_text(bytes).as_deref(), Ok(text), "{text}");
            }
        }
        // A DER key and short or odd-length bytes are left as they are.
        for bytes in [
            vec![0x30, 0x82, 0x04, 0xbd, 0x02, 0x01, 0x00, 0x30],
            vec![b'a', 0],
            vec![b'a', 0, b'b'],
        ] {
            assert_eq!(utf8_bytes(bytes.clone()), Ok(bytes));
        }
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
