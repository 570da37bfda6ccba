//! The process's standard streams: the product goes to standard output, all of it or an
//! error, and a standard output that was closed is a failure, not a sink.

use std::io::{self, Write};

use anyhow::{Context, Result};

/// Whether standard output was closed when qs-jwt started (`qs-jwt ... >&-`).
///
/// Before `main`, Rust's runtime puts `/dev/null` on a closed standard stream, so that the next
/// file opened cannot take its number (a key file would otherwise receive the token). It opens
/// `/dev/null` read-write; a shell's `>/dev/null` opens it write-only. So `/dev/null` opened
/// read-write on descriptor 1 means that standard output was closed, and the product would be
/// lost without a word: std's `Stdout` writes to it happily.
#[cfg(unix)]
pub fn stdout_was_closed() -> bool {
    use std::os::fd::{AsFd, AsRawFd};
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    let stdout = io::stdout();
    let fd = stdout.as_fd();
    // SAFETY: F_GETFL only reads the flags of a descriptor that std keeps open.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 || flags & libc::O_ACCMODE != libc::O_RDWR {
        return false;
    }
    let (Ok(ours), Ok(null)) = (
        fd.try_clone_to_owned()
            .map(std::fs::File::from)
            .and_then(|f| f.metadata()),
        std::fs::metadata("/dev/null"),
    ) else {
        return false;
    };
    ours.file_type().is_char_device() && ours.rdev() == null.rdev()
}

/// Windows has no such reopening; a missing standard output shows as an error when the
/// product is written.
#[cfg(not(unix))]
pub fn stdout_was_closed() -> bool {
    false
}

/// Writes the product and one newline to standard output, all of it or an error: a full disk
/// (`/dev/full`), a closed pipe, a descriptor opened read-only (`1<file`) is a failure, never a
/// silent exit 0.
pub fn print_product(text: &str) -> Result<()> {
    let mut product = Vec::with_capacity(text.len() + 1);
    product.extend_from_slice(text.as_bytes());
    product.push(b'\n');
    write_stdout(&product).context("cannot write to standard output")
}

/// On Unix, through a duplicate of descriptor 1: std's `Stdout` reports a write that fails
/// with EBADF (descriptor 1 open read-only, or not open) as a success, and the product would be
/// lost with exit 0.
#[cfg(unix)]
fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    use std::os::fd::AsFd;
    let stdout = io::stdout();
    // Whatever std buffered is out before we write past it (nothing is, in qs-jwt).
    stdout.lock().flush()?;
    let mut file = std::fs::File::from(stdout.as_fd().try_clone_to_owned()?);
    file.write_all(bytes)?;
    file.flush()
}

#[cfg(not(unix))]
fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()
}
