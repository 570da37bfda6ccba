//! Tests that need an outside tool (puttygen, strace, fish, ...) or a privilege (root, ptrace,
//! chattr +i, a console) the machine may lack. A missing tool fails the test under `CI=true`
//! (`.ci/install-test-tools.sh` installs them all); elsewhere the test records its skip and ends
//! early, and `tests/skipped.rs`, the test target cargo runs last, prints every skip of the run
//! as the run's last lines. A missing privilege, which no installer gives, is a skip everywhere,
//! listed the same way. No test passes silently without testing.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Whether `tool` is on PATH. When it is not, the test fails under `CI=true` (unless
/// `QS_JWT_MAY_SKIP`, a list of tools separated by spaces or commas, names it: CI sets it where
/// a tool does not exist, fish on macOS), and otherwise records the skip and gets false, so it
/// returns:
///
/// ```ignore
/// if !require_tool("puttygen") {
///     return;
/// }
/// ```
pub fn require_tool(tool: &str) -> bool {
    if on_path(tool) {
        return true;
    }
    let may_skip = std::env::var("QS_JWT_MAY_SKIP").unwrap_or_default();
    let may_skip = may_skip.split([' ', ',']).any(|t| t == tool);
    if std::env::var("CI").is_ok_and(|v| v == "true") && !may_skip {
        panic!(
            "{tool} is not installed, and under CI=true a missing tool fails the test: run \
             .ci/install-test-tools.sh, which installs every tool the tests use"
        );
    }
    skip(&format!(
        "{tool}, which is not installed (.ci/install-test-tools.sh installs it)"
    ));
    false
}

/// Whether the test has `what` (root, ptrace, a file system with chattr +i): when `has` is
/// false, the skip is recorded, named by `what`, and the test gets false, so it returns.
pub fn require(has: bool, what: &str) -> bool {
    if !has {
        skip(what);
    }
    has
}

/// Records that the running test lacks `what`: one line on its stderr, and one file in
/// [`skips_dir`] that tests/skipped.rs prints at the end of the run. libtest names the thread
/// of each test after it (`keys::the_commands_given_...`).
fn skip(what: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    eprintln!("skipped: {test}: needs {what}");
    let dir = skips_dir();
    fs::create_dir_all(&dir).unwrap();
    let file: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    // Appended: a test that lacks two tools records both.
    let mut record = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(file))
        .unwrap();
    writeln!(record, "{test}: needs {what}").unwrap();
}

/// This run's record of skips: cargo's folder for test files (target/tmp), in a folder named
/// for the `cargo test` that runs this binary and tests/skipped.rs (their parent process), so
/// the summary lists this run's skips only. tests/skipped.rs computes the same folder.
fn skips_dir() -> PathBuf {
    #[cfg(unix)]
    let run = std::os::unix::process::parent_id().to_string();
    #[cfg(not(unix))]
    let run = "run".to_owned();
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("skipped")
        .join(run)
}

/// Whether an executable file named `tool` (`tool.exe` on Windows) is in a folder of PATH.
fn on_path(tool: &str) -> bool {
    let names = if cfg!(windows) {
        vec![tool.to_owned(), format!("{tool}.exe")]
    } else {
        vec![tool.to_owned()]
    };
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| {
        names
            .iter()
            .any(|name| dir.join(name).metadata().is_ok_and(|m| is_executable(&m)))
    })
}

#[cfg(unix)]
fn is_executable(metadata: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.is_file() && metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(metadata: &fs::Metadata) -> bool {
    metadata.is_file()
}

/// Whether `python3` can import `module`: as [`require_tool`] (a failure under `CI=true`,
/// else a recorded skip), named `python3 module <module>`.
pub fn require_python_module(module: &str) -> bool {
    let has = crate::common::command("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    require_installed(has, &format!("the Python module {module}"))
}

/// The folder `.ci/install-test-tools.sh` installs the Node modules into (target/node-tools),
/// when it holds `module` and `node` is on PATH: as [`require_tool`] otherwise.
pub fn require_node_module(module: &str) -> Option<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/node-tools");
    let has = on_path("node") && folder.join("node_modules").join(module).is_dir();
    require_installed(
        has,
        &format!("node and the Node module {module} in target/node-tools"),
    )
    .then_some(folder)
}

fn require_installed(has: bool, what: &str) -> bool {
    if has {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{what} is not installed, and under CI=true a missing tool fails the test: run \
             .ci/install-test-tools.sh, which installs every tool the tests use"
        );
    }
    skip(&format!(
        "{what}, which is not installed (.ci/install-test-tools.sh installs it)"
    ));
    false
}
