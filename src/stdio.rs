//! The process's standard streams: the product goes to standard output, all of it or an
//! error, and a standard output that was closed is a failure, not a sink.

use std::collections::VecDeque;
use std::io::{self, BufWriter, Write};

use anyhow::{Context, Result};

/// What [`record_stdout_at_start`] found: not run (yet), or descriptor 1 open or closed.
#[cfg(unix)]
static STDOUT_AT_START: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(UNKNOWN);
#[cfg(unix)]
const UNKNOWN: u8 = 0;
#[cfg(unix)]
const OPEN: u8 = 1;
#[cfg(unix)]
const CLOSED: u8 = 2;

/// Records whether descriptor 1 is open. The binary runs it from `.init_array` (ELF) or
/// `__mod_init_func` (Mach-O), before Rust's runtime: `lang_start` puts `/dev/null` (opened
/// read-write) on a closed standard stream before `main`, so that the next file opened cannot
/// take its number (a key file would otherwise receive the token). After that a closed standard
/// output cannot be told from one sent to `/dev/null` read-write on purpose (Python's
/// `subprocess.DEVNULL`, Node's `stdio: 'ignore'`, `1<>/dev/null`, service managers).
///
/// It only asks the kernel about a descriptor and stores the answer: nothing of Rust's runtime
/// (allocator, stdio, thread-locals) is used, so it is sound before `main`.
#[cfg(unix)]
pub extern "C" fn record_stdout_at_start() {
    // SAFETY: F_GETFD only reads the flags of descriptor 1; it fails with EBADF when no file
    // is open there.
    let open = unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_GETFD) } != -1;
    STDOUT_AT_START.store(
        if open { OPEN } else { CLOSED },
        std::sync::atomic::Ordering::Relaxed,
    );
}

/// Whether standard output was closed when qs-jwt started (`qs-jwt ... >&-`), as recorded
/// before the runtime started. Where nothing was recorded (a platform without such an
/// initialiser, a test binary), standard output is taken for open: a caller that threw the
/// product away on purpose must not fail, and a write to a descriptor that is really missing
/// still fails when the product is written.
#[cfg(unix)]
pub fn stdout_was_closed() -> bool {
    STDOUT_AT_START.load(std::sync::atomic::Ordering::Relaxed) == CLOSED
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
    let mut out = ProductLines::open()?;
    out.line(text)?;
    out.finish()
}

/// Standard output for a product written a line at a time (a token a user with `--users`),
/// buffered, with the same guarantees as [`print_product`]: every failure is an error. It
/// counts the lines that reached the system whole ([`Self::delivered`]), so that a run that
/// fails part way knows whether tokens went out.
pub struct ProductLines {
    out: BufWriter<Counted>,
    /// Where each line not yet known to be out ends, in bytes from the first.
    ends: VecDeque<u64>,
    queued: u64,
    delivered: usize,
}

impl ProductLines {
    pub fn open() -> Result<Self> {
        Ok(Self::to(descriptor().context(CANNOT_WRITE)?))
    }

    fn to(inner: Descriptor) -> Self {
        Self {
            out: BufWriter::with_capacity(64 * 1024, Counted { inner, bytes: 0 }),
            ends: VecDeque::new(),
            queued: 0,
            delivered: 0,
        }
    }

    /// Writes `text` and a newline; they reach standard output when the buffer fills or at
    /// [`Self::flush`].
    pub fn line(&mut self, text: &str) -> Result<()> {
        self.queued += text.len() as u64 + 1;
        self.ends.push_back(self.queued);
        self.out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .context(CANNOT_WRITE)
    }

    /// Sends what is buffered, so that a reader of a long run sees lines as they are made.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().context(CANNOT_WRITE)?;
        // The lines the system took are counted now, so that `ends` holds only those still in
        // the buffer: kept for the whole run, it grew by 8 bytes a token (80 MB for 10,000,000
        // users, found by the 10,000,000-user run of issue 21).
        self.delivered();
        Ok(())
    }

    /// Sends the rest; dropping a `ProductLines` instead would lose a failure.
    pub fn finish(mut self) -> Result<()> {
        self.flush()
    }

    /// How many lines the system took whole: written to the file or into the pipe (whether the
    /// reader then read them is not for a writer to know).
    pub fn delivered(&mut self) -> usize {
        let sent = self.out.get_ref().bytes;
        while self.ends.front().is_some_and(|end| *end <= sent) {
            self.ends.pop_front();
            self.delivered += 1;
        }
        self.delivered
    }
}

/// Standard output, counting the bytes the system took.
struct Counted {
    inner: Descriptor,
    bytes: u64,
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

const CANNOT_WRITE: &str = "cannot write to standard output";

/// On Unix, a duplicate of descriptor 1: std's `Stdout` reports a write that fails with EBADF
/// (descriptor 1 open read-only, or not open) as a success, and the product would be lost with
/// exit 0.
#[cfg(unix)]
type Descriptor = std::fs::File;

#[cfg(unix)]
fn descriptor() -> io::Result<Descriptor> {
    use std::os::fd::AsFd;
    let stdout = io::stdout();
    // Whatever std buffered is out before we write past it (nothing is, in qs-jwt).
    stdout.lock().flush()?;
    Ok(std::fs::File::from(stdout.as_fd().try_clone_to_owned()?))
}

#[cfg(not(unix))]
type Descriptor = io::StdoutLock<'static>;

#[cfg(not(unix))]
fn descriptor() -> io::Result<Descriptor> {
    Ok(io::stdout().lock())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn lines_sent_are_counted_at_each_flush_and_not_held() {
        let file = tempfile::tempfile().unwrap();
        let mut out = ProductLines::to(file);
        for chunk in 0..100 {
            for _ in 0..64 {
                out.line("a token").unwrap();
            }
            out.flush().unwrap();
            assert!(
                out.ends.is_empty(),
                "chunk {chunk}: {} ends held",
                out.ends.len()
            );
        }
        assert_eq!(out.delivered(), 6400);
        out.finish().unwrap();
    }
}
