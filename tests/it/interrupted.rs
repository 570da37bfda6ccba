//! Key files through interruptions: a `--cert-create` run killed (SIGKILL, by strace's fault
//! injection) at every rename and unlink it makes leaves a complete key pair somewhere, and the
//! next run names what it left and prints the commands that restore that pair, which work when
//! run as written. A `--users` run whose reader goes away keeps the key of the tokens it
//! delivered.
#![cfg(target_os = "linux")]

use crate::common;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use crate::common::{Create, qs_jwt, single_token};

const BIN: &str = env!("CARGO_BIN_EXE_qs-jwt");

/// The folder and prefix the runs write to: a space in the folder's name, so the printed
/// commands must quote it.
const FOLDER: &str = "my keys";
const PREFIX: &str = "my keys/k_";
const KEY: &str = "my keys/k_privatekey.pem";
const PUBLIC: &str = "my keys/k_publickey.pem";
const CERTIFICATE: &str = "my keys/k_publickey.cer";
/// What a killed run leaves besides its files: released by the system, taken by the next run.
const LOCK: &str = ".k_privatekey.pem.lock";

/// Every syscall qs-jwt might rename or delete a file with; strace counts each on its own.
const SYSCALLS: [&str; 5] = ["rename", "renameat", "renameat2", "unlink", "unlinkat"];

/// Whether strace can trace here: a missing strace is a skip, or a failure under CI=true
/// (`.ci/install-test-tools.sh` installs it); installed but not allowed to trace (a container
/// without ptrace) is a skip.
fn strace_runs() -> bool {
    if !crate::common::skip::require_tool("strace") {
        return false;
    }
    let probe = common::command("strace")
        .args(["-f", "-o", "/dev/null", "true"])
        .output();
    let traces = probe.as_ref().is_ok_and(|output| output.status.success());
    let why = match &probe {
        Err(e) => e.to_string(),
        Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    };
    crate::common::skip::require(traces, &format!("ptrace, for strace ({why})"))
}

fn create(force: bool) -> Create {
    let create = Create::qseow()
        .new_key()
        .args(["--cert-file-prefix", PREFIX]);
    if force { create.arg("--force") } else { create }
}

/// Runs `create` under strace, killed at the `n`th call of `syscall`; false when the run
/// made fewer such calls and finished.
fn killed_at(dir: &Path, create: &Create, syscall: &str, n: u32) -> bool {
    let status = common::command("strace")
        .args(["-f", "-o", "/dev/null", "-e"])
        .arg(format!("inject={syscall}:signal=SIGKILL:when={n}"))
        .arg(BIN)
        .args(create.argv())
        .current_dir(dir)
        .output()
        .unwrap()
        .status;
    match status.signal() {
        Some(9) => true,
        _ if status.code() == Some(137) => true,
        _ => {
            assert!(status.success(), "{syscall} {n}: {status:?}");
            false
        }
    }
}

/// The folder's files, names and contents, hidden ones included.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(dir.join(FOLDER))
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (
                entry.file_name().to_string_lossy().into_owned(),
                fs::read(entry.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// What a run left besides the three key files and the lock.
fn left_over(dir: &Path) -> Vec<String> {
    files(dir)
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| {
            ![
                "k_privatekey.pem",
                "k_publickey.pem",
                "k_publickey.cer",
                LOCK,
            ]
            .contains(&name.as_str())
        })
        .collect()
}

fn copy_of(template: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(FOLDER)).unwrap();
    for entry in fs::read_dir(template.join(FOLDER)).unwrap() {
        let entry = entry.unwrap();
        fs::copy(
            entry.path(),
            dir.path().join(FOLDER).join(entry.file_name()),
        )
        .unwrap();
    }
    dir
}

/// Signs with the key in place and checks the token against the certificate and the public
/// key in place: the three files are one pair.
fn assert_pair_in_place(dir: &Path, context: &str) {
    let output = Create::qseow().key_file(KEY).run_in(dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{context}: {stderr}");
    assert!(!stderr.contains("interrupted"), "{context}: {stderr}");
    let token = single_token(&output.stdout);
    for public in [CERTIFICATE, PUBLIC] {
        qs_jwt(dir)
            .args(["decode", "--jwt", &token, "--cert-publickey-file", public])
            .assert()
            .success();
    }
}

/// Whether the key in place signs a token that the certificate in place verifies, whatever
/// else the run says.
fn pair_verifies(dir: &Path) -> bool {
    let output = Create::qseow().key_file(KEY).run_in(dir).output().unwrap();
    output.status.success()
        && qs_jwt(dir)
            .args(["decode", "--jwt", &single_token(&output.stdout)])
            .args(["--cert-publickey-file", CERTIFICATE])
            .output()
            .unwrap()
            .status
            .success()
}

/// The command a line of advice ends with: "..., run: <command>".
fn command_in(line: &str) -> &str {
    line.rsplit_once(", run: ")
        .unwrap_or_else(|| panic!("no command in {line:?}"))
        .1
}

/// Runs a command line of advice with bash in `dir`, as a user would paste it.
fn follow(dir: &Path, command: &str) {
    let output = common::command("bash")
        .args(["-c", command])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What the runs after a kill say, and what following their advice leaves.
fn check_the_next_runs(dir: &Path, force: bool, old: Option<&[(String, Vec<u8>)]>, at: &str) {
    let left = left_over(dir);
    if left.is_empty() {
        // Killed after the run had finished with its files (deleting the lock): a whole pair.
        assert_pair_in_place(dir, at);
        return;
    }
    let before: Vec<_> = files(dir)
        .into_iter()
        .filter(|(name, _)| name != LOCK)
        .collect();

    // A --cert-create run, with or without --force, goes no further: it names every file left
    // and ends with the commands.
    let mut commands = Vec::new();
    for force in [force, !force] {
        let output = create(force).run_in(dir).output().unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(1), "{at}: {stderr}");
        assert!(output.stdout.is_empty(), "{at}");
        let lines = common::error_lines(stderr.as_bytes());
        for name in &left {
            assert!(
                lines.contains(name.as_str()),
                "{at}: {name} not named: {lines}"
            );
        }
        let hint = lines
            .lines()
            .find(|line| line.starts_with("hint: "))
            .unwrap_or_else(|| panic!("{at}: no hint: {lines}"));
        commands.push(command_in(hint).to_owned());
        let after: Vec<_> = files(dir)
            .into_iter()
            .filter(|(name, _)| name != LOCK)
            .collect();
        assert_eq!(after, before, "{at}: a refused run changed files");
    }
    assert_eq!(commands[0], commands[1], "{at}");
    let command = &commands[0];

    // Signing with the prefix's key file names the same files and gives the same commands; it
    // signs only when the certificate in place verifies the token.
    let output = Create::qseow().key_file(KEY).run_in(dir).output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains(command.as_str()), "{at}: {stderr}");
    for name in &left {
        assert!(stderr.contains(name.as_str()), "{at}: {name}: {stderr}");
    }
    if output.status.success() {
        let token = single_token(&output.stdout);
        let check = qs_jwt(dir)
            .args([
                "decode",
                "--jwt",
                &token,
                "--cert-publickey-file",
                CERTIFICATE,
            ])
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{at}: signed with a key the certificate in place does not verify: {stderr}"
        );
    } else {
        assert_eq!(output.status.code(), Some(1), "{at}: {stderr}");
        common::error_lines(stderr.as_bytes());
    }

    follow(dir, command);
    assert!(
        left_over(dir).is_empty(),
        "{at}: {command} left {:?}",
        left_over(dir)
    );
    let in_place = files(dir);
    match old {
        // With --force over a pair: a pair in place, the previous one unless the new one had
        // replaced it whole.
        Some(old) => {
            assert_pair_in_place(dir, at);
            let back = old.iter().all(|file| in_place.contains(file));
            let went_on = command.starts_with("rm ") && command.contains(".qs-jwt-old");
            assert!(back || went_on, "{at}: {command}: {in_place:?}");
        }
        // A first run: its new pair whole in place, or nothing at all.
        None => {
            let key_files: Vec<_> = in_place.iter().filter(|(n, _)| n != LOCK).collect();
            if key_files.is_empty() {
                assert!(!command.contains(".qs-jwt-old"), "{at}: {command}");
            } else {
                assert_pair_in_place(dir, at);
            }
        }
    }
}

fn kill_at_every_step(force: bool) {
    if !strace_runs() {
        return;
    }
    let template = tempfile::tempdir().unwrap();
    fs::create_dir(template.path().join(FOLDER)).unwrap();
    if force {
        create(false).run_in(template.path()).assert().success();
    }
    let old = force.then(|| files(template.path()));
    let mut kills = Vec::new();
    for syscall in SYSCALLS {
        for n in 1.. {
            let dir = copy_of(template.path());
            if !killed_at(dir.path(), &create(force), syscall, n) {
                break;
            }
            let at = format!("killed at {syscall} {n}");
            // A complete pair survives the kill itself: with --force, the previous files,
            // under their names or aside, until the new pair is whole in place.
            if let Some(old) = &old {
                let now: Vec<Vec<u8>> = files(dir.path()).into_iter().map(|(_, c)| c).collect();
                let previous = old.iter().all(|(_, contents)| now.contains(contents));
                assert!(previous || pair_verifies(dir.path()), "{at}: no pair left");
            }
            check_the_next_runs(dir.path(), force, old.as_deref(), &at);
            kills.push(at);
        }
    }
    // Three renames aside (with --force), three into place, three deletions of the old files,
    // the lock: each was a place to die (more where the system renames without replacing by
    // a link and an unlink).
    let expected = if force { 10 } else { 4 };
    assert!(kills.len() >= expected, "{kills:?}");
}

#[test]
fn a_force_run_killed_at_any_rename_or_unlink_leaves_a_pair_and_the_way_back() {
    kill_at_every_step(true);
}

#[test]
fn a_first_run_killed_at_any_rename_or_unlink_leaves_a_clean_way_back() {
    kill_at_every_step(false);
}

// A --users run that fails part way keeps the key of the tokens it delivered.

/// A users file of `n` QSEoW users.
fn users_file(dir: &Path, n: usize) {
    let mut text = String::from("userid,userdir\n");
    for i in 0..n {
        text.push_str(&format!("user{i},D\n"));
    }
    fs::write(dir.join("users.csv"), text).unwrap();
}

/// Runs a bash line with `$BIN` and `$ARGS` (a --users run making a new key) in `dir`.
fn batch_in_shell(dir: &Path, line: &str, force: bool) -> (i32, String) {
    let mut create = Create::qseow_users()
        .new_key()
        .args(["--users", "users.csv"]);
    if force {
        create = create.arg("--force");
    }
    let output = common::command("bash")
        .args(["-c", line])
        .current_dir(dir)
        .env("BIN", BIN)
        .env("ARGS", create.argv().join(" "))
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// The number in "N of M tokens were written whole".
fn delivered_in(stderr: &str) -> usize {
    let before = stderr
        .split(
            " of 300 tokens were written whole before this, signed by the new key, which is kept",
        )
        .next()
        .unwrap();
    before
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("no count of tokens: {stderr}"))
}

/// The whole lines of what a reader got: each a token the kept certificate verifies.
fn assert_signed_by_kept_key(dir: &Path, got: &str) -> usize {
    let certificate = fs::read_to_string(dir.join("publickey.cer")).unwrap();
    let whole: Vec<&str> = got
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .collect();
    for line in &whole {
        common::verify_with_certificate(line.trim_end(), &certificate, common::QSEOW_AUDIENCE);
    }
    whole.len()
}

#[test]
fn a_reader_that_goes_away_keeps_the_key_of_the_tokens_it_got() {
    for force in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        users_file(dir.path(), 300);
        let previous = force.then(|| {
            Create::qseow()
                .new_key()
                .run_in(dir.path())
                .assert()
                .success();
            fs::read(dir.path().join("privatekey.pem")).unwrap()
        });
        let (code, stderr) = batch_in_shell(
            dir.path(),
            "set -o pipefail; \"$BIN\" $ARGS | head -c 2000 > got.txt",
            force,
        );
        assert_eq!(code, 1, "{stderr}");
        assert!(
            stderr.contains("cannot write to standard output"),
            "{stderr}"
        );
        assert!(
            stderr.contains(
                "which is kept for them: 'privatekey.pem' (give Qlik its certificate \
                 'publickey.cer')"
            ),
            "{stderr}"
        );
        assert!(!stderr.contains("removed"), "{stderr}");
        let got = fs::read_to_string(dir.path().join("got.txt")).unwrap();
        let read = assert_signed_by_kept_key(dir.path(), &got);
        assert!(
            read >= 1 && delivered_in(&stderr) >= read,
            "{read}: {stderr}"
        );
        // The new pair replaced the previous one, as a run that finished would have.
        if let Some(previous) = previous {
            assert_ne!(
                fs::read(dir.path().join("privatekey.pem")).unwrap(),
                previous
            );
            assert!(stderr.contains("--force replaced"), "{stderr}");
        }
        assert!(
            left_over_in(dir.path()).is_empty(),
            "{:?}",
            left_over_in(dir.path())
        );
    }
}

/// Files other than the key files, the users file and what the test wrote.
fn left_over_in(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            ![
                "privatekey.pem",
                "publickey.pem",
                "publickey.cer",
                "users.csv",
                "got.txt",
            ]
            .contains(&n.as_str())
        })
        .collect()
}

/// A file size limit (as a full disk) stops the run part way: the message counts exactly the
/// whole tokens in the file, and their key stays.
#[test]
fn a_write_that_fails_part_way_keeps_the_key_and_counts_the_tokens() {
    let dir = tempfile::tempdir().unwrap();
    users_file(dir.path(), 300);
    // 20 KiB: room for the key files, not for 300 tokens. SIGXFSZ ignored, as a full disk
    // gives an error rather than a signal.
    let (code, stderr) = batch_in_shell(
        dir.path(),
        "trap '' XFSZ; ulimit -f 20; \"$BIN\" $ARGS > got.txt",
        false,
    );
    assert_eq!(code, 1, "{stderr}");
    let got = fs::read_to_string(dir.path().join("got.txt")).unwrap();
    let whole = assert_signed_by_kept_key(dir.path(), &got);
    assert!(whole > 0 && whole < 300, "{whole}");
    assert_eq!(delivered_in(&stderr), whole, "{stderr}");
}

/// No token out: the new key is taken back, and the message claims no previous files.
#[test]
fn a_run_that_delivers_no_token_takes_its_new_key_back() {
    let dir = tempfile::tempdir().unwrap();
    users_file(dir.path(), 300);
    let (code, stderr) = batch_in_shell(dir.path(), "\"$BIN\" $ARGS > /dev/full", false);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("INFO the new key files were removed\n"),
        "{stderr}"
    );
    assert!(!stderr.contains("previous"), "{stderr}");
    assert!(!stderr.contains("tokens were written"), "{stderr}");
    assert_eq!(left_over_in(dir.path()), Vec::<String>::new());
    assert!(!dir.path().join("privatekey.pem").exists());
}
