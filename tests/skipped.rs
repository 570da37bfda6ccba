//! The last lines of `cargo test`: every test of this run that was skipped for lack of an
//! outside tool or a privilege, and what it lacks (tests/it/common/skip.rs records them). A test
//! target of its own without libtest's harness, named to sort after `it`, because cargo runs the
//! test targets in the order of their names, after the unit tests (and the library has no
//! doctests to run after it: `doctest = false` in Cargo.toml).

use std::fs;
use std::path::Path;

fn main() {
    // The folder tests/it/common/skip.rs writes to: the same parent process, `cargo test`.
    let all = Path::new(env!("CARGO_TARGET_TMPDIR")).join("skipped");
    #[cfg(unix)]
    let run = std::os::unix::process::parent_id().to_string();
    #[cfg(not(unix))]
    let run = "run".to_owned();
    let mut lines: Vec<String> = fs::read_dir(all.join(run))
        .into_iter()
        .flatten()
        .filter_map(|entry| fs::read_to_string(entry.ok()?.path()).ok())
        .flat_map(|text| text.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    lines.sort();
    // This run's record is read; earlier runs' (a `cargo test --test it` has no summary) go too.
    let _ = fs::remove_dir_all(&all);
    if lines.is_empty() {
        println!("\nskipped tests: none");
        return;
    }
    println!(
        "
skipped tests (each passed without testing; install what they lack, or run \
         with CI=true to make them fail):"
    );
    for line in lines {
        println!("  skipped {line}");
    }
}
