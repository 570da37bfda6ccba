//! Ctrl-C and SIGTERM asked for as a flag the run looks at between steps, the same way on Unix
//! and Windows: create's --users between chunks, serve between requests.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
#[cfg(windows)]
use std::sync::atomic::Ordering;

/// A flag that Ctrl-C, SIGTERM or SIGHUP sets: a --users run stops before its next chunk (and
/// its error path takes back a key made for it, as a failed write does); serve stops taking
/// requests and ends with exit 0. A second signal ends the
/// run at once (exit 130), for a run stuck on a reader that does not read.
#[cfg(unix)]
pub fn requested() -> Arc<AtomicBool> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        // The shutdown first: it acts only once the flag is set, by the first signal.
        let _ = signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&flag));
        let _ = signal_hook::flag::register(signal, Arc::clone(&flag));
    }
    flag
}

/// On Windows, Ctrl-C and Ctrl-Break do the same through a console control handler: the first
/// sets the flag, and the run stops before its next chunk as on Unix; the next one is left to
/// the system's handler, which ends the process at once.
#[cfg(windows)]
pub fn requested() -> Arc<AtomicBool> {
    use std::sync::OnceLock;
    use windows_sys::Win32::System::Console::{
        CTRL_BREAK_EVENT, CTRL_C_EVENT, SetConsoleCtrlHandler,
    };
    use windows_sys::core::BOOL;

    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

    unsafe extern "system" fn handler(event: u32) -> BOOL {
        if event != CTRL_C_EVENT && event != CTRL_BREAK_EVENT {
            return 0;
        }
        match FLAG.get() {
            Some(flag) if !flag.swap(true, Ordering::SeqCst) => 1,
            _ => 0,
        }
    }

    let flag = Arc::clone(FLAG.get_or_init(|| Arc::new(AtomicBool::new(false))));
    // SAFETY: `handler` is a plain function that lives as long as the process and touches only
    // an atomic flag; the system calls it on a thread of its own.
    unsafe { SetConsoleCtrlHandler(Some(handler), 1) };
    flag
}

#[cfg(not(any(unix, windows)))]
pub fn requested() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}
