//! Reading what a flag points at: a file, or standard input for `-`. One place, so every such
//! flag (--cert-privatekey-file, --cert-publickey-file, --jwt-file) gets the same checks (a
//! folder, binary content, a terminal, a size limit) and messages that name the flag.

use std::fs::{self, File};
use std::io::{self, IsTerminal, Read};
use std::path::Path;

use crate::error::UserError;

/// The most any of these inputs may hold: far above a real key, certificate or token (a
/// 16384-bit key in PEM is about 13 KB, a certificate chain a few KB), far below what would
/// hurt. `--cert-privatekey-file /dev/zero` read until memory ran out before this limit.
pub const MAX_INPUT_BYTES: u64 = 1024 * 1024;

/// The least room a bounded read starts with: more than a 8192-bit key in PEM.
const MIN_BUFFER: u64 = 16 * 1024;

/// Reads at most `limit` bytes; more is an error built by `too_large`. Checked while reading,
/// so an endless source (a device, a pipe) stops at the limit; a FIFO or a process
/// substitution (`<(...)`) is read like any file.
fn read_bounded(
    reader: impl Read,
    size_hint: u64,
    limit: u64,
    too_large: impl FnOnce() -> UserError,
    cannot_read: impl FnOnce(io::Error) -> UserError,
) -> Result<Vec<u8>, UserError> {
    // Room for the whole file at once (one read, as fs::read does), never more than the limit;
    // for standard input, which gives no size, room for any key: a buffer that grows leaves
    // copies of what it held (a key, a passphrase) in freed memory.
    let capacity = usize::try_from(size_hint.max(MIN_BUFFER).min(limit) + 1).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    reader
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
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

/// Reads the text file `path` named by `flag`.
pub fn read_file(path: &Path, flag: &FileFlag) -> Result<String, UserError> {
    let bytes = read_file_bytes(path, flag)?;
    let shown = path.display().to_string();
    String::from_utf8(bytes).map_err(|_| {
        let err = UserError::runtime(format!(
            "{} '{shown}' is binary, not {} text",
            flag.flag, flag.format
        ));
        match flag.der_hint {
            Some(hint) => err.with_hint(hint(&shown)),
            None => err,
        }
    })
}

/// Reads the file `path` named by `flag` as bytes, whatever they are.
pub fn read_file_bytes(path: &Path, flag: &FileFlag) -> Result<Vec<u8>, UserError> {
    let FileFlag { flag, holds, .. } = flag;
    let shown = path.display().to_string();
    let cannot_read =
        |e: io::Error| UserError::runtime(format!("cannot read {flag} '{shown}': {e}"));
    let (file, size_hint) = open_file(path, &format!("{flag} '{shown}'"), holds, cannot_read)?;
    read_bounded(
        file,
        size_hint,
        MAX_INPUT_BYTES,
        || {
            UserError::runtime(format!(
                "{flag} '{shown}' holds more than {}, far more than any {holds}; give the {holds} \
                 file",
                size(MAX_INPUT_BYTES)
            ))
        },
        cannot_read,
    )
}

/// Opens the file a flag names (`named`: "--users 'users.csv'"), with its size as a hint: a
/// device or a FIFO reports 0, or anything. A folder is told as such, with what belongs there.
fn open_file(
    path: &Path,
    named: &str,
    holds: &str,
    cannot_read: impl Fn(io::Error) -> UserError,
) -> Result<(File, u64), UserError> {
    if fs::metadata(path).map_err(&cannot_read)?.is_dir() {
        return Err(UserError::runtime(format!(
            "{named} is a folder; give the {holds} file in it"
        )));
    }
    let file = File::open(path).map_err(&cannot_read)?;
    let size_hint = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((file, size_hint))
}

/// Reads standard input for `<flag> -`. `what` is "the key" or "the token"; `example` shows how
/// to pipe it in.
pub fn read_stdin(flag: &str, what: &str, example: &str) -> Result<String, UserError> {
    let bytes = read_stdin_bytes(flag, what, example)?;
    String::from_utf8(bytes).map_err(|_| {
        UserError::runtime(format!(
            "standard input ({flag} -) is binary, not text; pipe {what} in as text"
        ))
    })
}

/// Reads standard input for `<flag> -` as bytes, whatever they are.
pub fn read_stdin_bytes(flag: &str, what: &str, example: &str) -> Result<Vec<u8>, UserError> {
    let stdin = io::stdin();
    // Waiting for someone to type would hang a script; qs-jwt never prompts.
    if stdin.is_terminal() {
        return Err(UserError::usage(format!(
            "{flag} - reads {what} from standard input, which is a terminal; pipe {what} in, for \
             example: {example}"
        )));
    }
    read_bounded(
        stdin.lock(),
        0,
        MAX_INPUT_BYTES,
        || {
            UserError::runtime(format!(
                "standard input ({flag} -) holds more than {}, far more than {what}",
                size(MAX_INPUT_BYTES)
            ))
        },
        |e| UserError::runtime(format!("cannot read {what} from standard input: {e}")),
    )
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
    let bytes = if stdin {
        let stdin = io::stdin();
        if stdin.is_terminal() {
            return Err(UserError::usage(
                "--users - reads the users from standard input, which is a terminal; pipe them \
                 in, for example: qs-jwt create-... --users - < users.csv",
            ));
        }
        read_text_bytes(stdin.lock(), 0, &shown, cannot_read)?
    } else {
        let (file, size_hint) = open_file(path, &shown, "users", cannot_read)?;
        // A regular file too large is refused before it is read.
        if size_hint > MAX_USERS_BYTES {
            return Err(too_many_users(&shown));
        }
        read_text_bytes(file, size_hint, &shown, cannot_read)?
    };
    decode_text(bytes).map_err(|why| UserError::runtime(format!("{shown} {why}")))
}

/// Reads up to [`MAX_USERS_BYTES`], refusing a NUL byte in UTF-8 text as soon as it is read.
fn read_text_bytes(
    mut reader: impl Read,
    size_hint: u64,
    shown: &str,
    cannot_read: impl Fn(io::Error) -> UserError,
) -> Result<Vec<u8>, UserError> {
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
            Err(e) => return Err(cannot_read(e)),
        };
        let start = if bytes.is_empty() {
            &chunk[..read]
        } else {
            &bytes[..]
        };
        // UTF-16 text holds NUL bytes (the high byte of every ASCII letter).
        let utf16 = matches!(start, [0xff, 0xfe, ..] | [0xfe, 0xff, ..]);
        if !utf16 && chunk[..read].contains(&0) {
            return Err(UserError::runtime(format!(
                "{shown} is binary (it holds a NUL byte), not a CSV or JSON Lines text file"
            )));
        }
        if (bytes.len() + read) as u64 > MAX_USERS_BYTES {
            return Err(too_many_users(shown));
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

/// Text from bytes: UTF-8 (a byte order mark dropped), or UTF-16 with its byte order mark. A
/// NUL character, which no CSV or JSON text holds, is refused in either.
fn decode_text(bytes: Vec<u8>) -> Result<String, &'static str> {
    let utf16 = |bytes: &[u8], unit: fn([u8; 2]) -> u16| {
        if !bytes.len().is_multiple_of(2) {
            return Err("is not valid UTF-16 text (an odd number of bytes)");
        }
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|pair| unit([pair[0], pair[1]]))
            .collect();
        String::from_utf16(&units).map_err(|_| "is not valid UTF-16 text")
    };
    let text = match bytes.as_slice() {
        [0xff, 0xfe, 0, 0, ..] | [0, 0, 0xfe, 0xff, ..] => {
            Err("is UTF-32 text; save it as UTF-8 (Export-Csv -Encoding UTF8 in PowerShell)")
        }
        [0xff, 0xfe, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xfe, 0xff, rest @ ..] => utf16(rest, u16::from_be_bytes),
        _ => {
            let mut text = String::from_utf8(bytes).map_err(
                |_| "is not UTF-8 text; save it as UTF-8 (Export-Csv -Encoding UTF8 in PowerShell)",
            )?;
            if text.starts_with('\u{feff}') {
                text.drain(..3);
            }
            Ok(text)
        }
    }?;
    if text.contains('\0') {
        return Err("is binary (it holds a NUL character), not a CSV or JSON Lines text file");
    }
    Ok(text)
}
