//! Shell completion as a user meets it: the built binary prints each script, and bash, zsh and
//! fish load it and are asked to complete a command line. The long options expected come from
//! clap (the types that parse the command line), so an option that stops completing fails here.
//!
//! A shell that is not installed is a skip, listed at the end of the run, and a failure under
//! CI=true (common/skip.rs); CI on macOS and Windows names fish and zsh in QS_JWT_MAY_SKIP.
// The shells are driven on Unix only; elsewhere their helpers go unused.
#![cfg_attr(not(unix), allow(dead_code))]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use clap::CommandFactory;
use qs_jwt::cli::Cli;

const BIN: &str = env!("CARGO_BIN_EXE_qs-jwt");
const LOG_LEVELS: &[&str] = &["error", "warning", "info", "verbose", "debug"];
const TRUE_FALSE: &[&str] = &["true", "false"];
const SHELLS: &[&str] = &["bash", "zsh", "fish", "powershell", "elvish"];
const FILE_OPTIONS: &[(&str, &str)] = &[
    ("create-qseow", "--cert-privatekey-file"),
    ("create-qscloud", "--cert-privatekey-file"),
    ("decode", "--cert-publickey-file"),
    ("decode", "--jwt-file"),
    ("setup-qscloud", "--cert-publickey-file"),
    ("setup-qseow", "--cert-publickey-file"),
    ("login-qscloud", "--jwt-file"),
    ("login-qscloud", "--cacert"),
    ("login-qseow", "--cookie-jar"),
    ("setup-qscloud-oauth", "--cert-publickey-file"),
    ("oauth-qscloud", "--cert-privatekey-file"),
    ("oauth-qscloud", "--client-secret-file"),
    ("oauth-qscloud", "--cacert"),
    ("doctor-qscloud", "--cert-privatekey-file"),
    ("doctor-qscloud", "--api-key-file"),
    ("create-key", "--cert-privatekey-passphrase-file"),
];

/// A command line typed up to the cursor, and what the shell should offer there.
struct Case {
    line: String,
    expected: BTreeSet<String>,
}

fn case(line: &str, expected: &[&str]) -> Case {
    Case {
        line: line.to_owned(),
        expected: expected.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// Every case each shell must pass. The work folder holds one file, key.pem, so a file
/// option must offer exactly that.
fn cases() -> Vec<Case> {
    let subcommands: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .chain(["help".to_owned()])
        .collect();
    let subcommands: Vec<&str> = subcommands.iter().map(String::as_str).collect();
    let mut cases = vec![
        case("qs-jwt ", &subcommands),
        case("qs-jwt create-qscloud --exp", &["--expires"]),
        case(
            "qs-jwt decode --check ",
            &["qseow", "qscloud", "qscloud-oauth"],
        ),
        case(
            "qs-jwt decode --jwt-file t --check qs",
            &["qseow", "qscloud", "qscloud-oauth"],
        ),
        case("qs-jwt create-qseow --alg ", &["RS256", "RS384", "RS512"]),
        case("qs-jwt oauth-qscloud --alg ", &["RS256", "RS512", "ES384"]),
        case(
            "qs-jwt setup-qscloud-oauth --alg ",
            &["RS256", "RS512", "ES384"],
        ),
        case("qs-jwt oauth-qscloud --output ", &["token", "json"]),
        case("qs-jwt setup-qscloud-oauth --output ", &["json", "console"]),
        case("qs-jwt decode --loglevel ", LOG_LEVELS),
        case("qs-jwt create-qseow --loglevel ", LOG_LEVELS),
        case(
            "qs-jwt create-qscloud --issuer i --loglevel w",
            &["warning"],
        ),
        case("qs-jwt create-qseow --output ", &["token", "json"]),
        case("qs-jwt create-qscloud --output ", &["token", "json"]),
        case("qs-jwt create-qseow --cert-create ", TRUE_FALSE),
        case("qs-jwt create-qscloud --cert-create ", TRUE_FALSE),
        case("qs-jwt create-qscloud --useremail-verified ", TRUE_FALSE),
        case(
            "qs-jwt login-qscloud --output ",
            &["text", "json", "session"],
        ),
        case("qs-jwt doctor-qscloud --output ", &["text", "json"]),
        case("qs-jwt login-qseow --loglevel ", LOG_LEVELS),
        case("qs-jwt completions ", SHELLS),
        case("qs-jwt create-key --key-type ", &["rsa", "ec-p384"]),
        case("qs-jwt create-key --key-size ", &["4096", "2048"]),
        case("qs-jwt create-key --output ", &["text", "json"]),
        case("qs-jwt setup-qscloud --output ", &["json", "console"]),
        case("qs-jwt setup-qseow --output ", &["json", "console"]),
    ];
    for (command, option) in FILE_OPTIONS {
        cases.push(case(&format!("qs-jwt {command} {option} "), &["key.pem"]));
    }
    for (command, options) in long_options() {
        let options: Vec<&str> = options.iter().map(String::as_str).collect();
        cases.push(case(&format!("qs-jwt {command} --"), &options));
    }
    cases
}

/// Each subcommand's long options as clap declares them, --help and --version included.
fn long_options() -> Vec<(String, BTreeSet<String>)> {
    let mut cli = Cli::command();
    cli.build();
    cli.get_subcommands()
        .filter(|sub| sub.get_name() != "help")
        .map(|sub| {
            let longs = sub
                .get_arguments()
                .filter(|arg| !arg.is_hide_set())
                .flat_map(|arg| arg.get_long_and_visible_aliases().unwrap_or_default())
                .map(|long| format!("--{long}"))
                .collect();
            (sub.get_name().to_owned(), longs)
        })
        .collect()
}

/// The script the built binary prints for `shell`.
fn script(shell: &str) -> String {
    let output = crate::common::command(BIN)
        .args(["completions", shell])
        .output()
        .unwrap();
    assert!(output.status.success(), "{shell}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// Runs `shell` in `work` with a clean HOME and returns stdout; a shell that hangs (zsh waiting
/// on its pseudo-terminal) is killed so the test fails instead of blocking the suite.
fn run(mut cmd: Command, home: &Path, work: &Path) -> (String, String) {
    cmd.current_dir(work)
        .env("HOME", home)
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{cmd:?} ran for more than 30 seconds");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{cmd:?}: {stderr}");
    (stdout, stderr)
}

/// Asks `complete(line)` for every case and fails once, listing every case that went wrong.
/// When the word being completed is an option, all candidates count; when it is a value, the
/// option names some shells also offer there are left out.
fn check_cases(shell: &str, mut complete: impl FnMut(&str) -> (Vec<String>, String)) {
    let mut failures = Vec::new();
    for Case { line, expected } in cases() {
        let (candidates, stderr) = complete(&line);
        let completing_option = line.rsplit(' ').next().is_some_and(|w| w.starts_with('-'));
        let got: BTreeSet<String> = candidates
            .into_iter()
            .filter(|c| !c.is_empty() && (completing_option || !c.starts_with('-')))
            .collect();
        if got != expected {
            failures.push(format!(
                "{line:?}\n  expected {expected:?}\n  got      {got:?}\n  stderr   {stderr}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{shell} completion:\n{}",
        failures.join("\n")
    );
}

/// The folders a shell test works in: one for the scripts and HOME, one holding only key.pem.
fn folders() -> (tempfile::TempDir, tempfile::TempDir) {
    let scripts = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("key.pem"), "").unwrap();
    (scripts, work)
}

/// bash: sources the script, finds the function `complete -p qs-jwt` names, sets COMP_WORDS,
/// COMP_CWORD, COMP_LINE and COMP_POINT as bash would for the line, calls the function and
/// prints COMPREPLY. (compopt complains on stderr outside a real completion; that is all.)
const BASH_DRIVER: &str = r#"
source "$1" || exit 3
[[ $(complete -p qs-jwt) =~ -F\ ([^ ]+) ]] || { echo "no complete -F for qs-jwt" >&2; exit 4; }
function=${BASH_REMATCH[1]}
COMP_LINE=$2
COMP_POINT=${#COMP_LINE}
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ $COMP_LINE == *' ' ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
"$function" qs-jwt "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"#;

// Git Bash on Windows reads Windows paths unreliably, and zsh and fish are not Windows shells;
// PowerShell, the Windows one, is checked below on every system.
#[cfg(unix)]
#[test]
fn bash_completes_every_option_value_list_and_file() {
    if !crate::common::skip::require_tool("bash") {
        return;
    }
    let (scripts, work) = folders();
    let script_path = scripts.path().join("qs-jwt.bash");
    std::fs::write(&script_path, script("bash")).unwrap();
    check_cases("bash", |line| {
        let mut cmd = crate::common::command("bash");
        cmd.args(["--norc", "--noprofile", "-c", BASH_DRIVER, "bash"])
            .arg(&script_path)
            .arg(line);
        let (stdout, stderr) = run(cmd, scripts.path(), work.path());
        (stdout.lines().map(str::to_owned).collect(), stderr)
    });
}

/// zsh: completion only runs inside the line editor, so this starts an interactive `zsh -f`
/// on a pseudo-terminal (zsh/zpty), loads compinit with the script's folder on fpath, wraps
/// compadd to append every candidate added to a file, types the line and a TAB, and waits for
/// a marker printed from comppostfuncs, which completion calls when it is done. The markers are
/// typed split in two so the terminal's echo of the typing never matches them.
const ZSH_DRIVER: &str = r#"
zmodload zsh/zpty || exit 3
functions_dir=$1 line=$2 out=$3
zpty qs zsh -f -i
zpty -w qs "PS1= RPS1=; fpath=(${(q)functions_dir} \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w qs 'compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return; fi
  local -a hits
  builtin compadd -A hits "$@"
  (( $#hits )) && print -rl -- "${hits[@]}" >> '${(q)out}'
  builtin compadd "$@"
}'
zpty -w qs 'qs_done() { print -r -- "<<COMPLETION""-DONE>>"; }; comppostfuncs=(qs_done)'
zpty -w qs 'print -r -- "<<SETUP""-DONE>>"'
zpty -r qs ignored '*<<SETUP-DONE>>*'
zpty -w -n qs "$line"$'\t'
zpty -r qs ignored '*<<COMPLETION-DONE>>*'
zpty -d qs
[[ ! -f $out ]] || cat -- $out
"#;

#[cfg(unix)]
#[test]
fn zsh_completes_every_option_value_list_and_file() {
    if !crate::common::skip::require_tool("zsh") {
        return;
    }
    let (scripts, work) = folders();
    let functions = scripts.path().join("functions");
    std::fs::create_dir(&functions).unwrap();
    std::fs::write(functions.join("_qs-jwt"), script("zsh")).unwrap();
    let candidates = scripts.path().join("candidates");
    check_cases("zsh", |line| {
        let _ = std::fs::remove_file(&candidates);
        let mut cmd = crate::common::command("zsh");
        cmd.args(["-f", "-c", ZSH_DRIVER, "zsh"])
            .arg(&functions)
            .arg(line)
            .arg(&candidates);
        let (stdout, stderr) = run(cmd, scripts.path(), work.path());
        (stdout.lines().map(str::to_owned).collect(), stderr)
    });
}

/// fish: sources the script and asks `complete --do-complete`, which prints a candidate and
/// its description per line.
#[cfg(unix)]
#[test]
fn fish_completes_every_option_value_list_and_file() {
    if !crate::common::skip::require_tool("fish") {
        return;
    }
    let (scripts, work) = folders();
    let script_path = scripts.path().join("qs-jwt.fish");
    std::fs::write(&script_path, script("fish")).unwrap();
    check_cases("fish", |line| {
        let mut cmd = crate::common::command("fish");
        cmd.args([
            "--no-config",
            "-c",
            "source $argv[1]; and complete --do-complete $argv[2]",
        ])
        .arg(&script_path)
        .arg(line);
        let (stdout, stderr) = run(cmd, scripts.path(), work.path());
        let candidates = stdout
            .lines()
            .map(|l| l.split('\t').next().unwrap_or_default().to_owned())
            .collect();
        (candidates, stderr)
    });
}

/// Structural only: PowerShell cannot run here, so this checks the script registers a native
/// completer for qs-jwt, lists every long option in its subcommand's branch, and has qs-jwt's
/// value-list block (see src/commands/completions.rs) with each list and each file option.
#[test]
fn powershell_script_lists_every_option_and_value_list() {
    let script = script("powershell");
    assert!(
        script.contains("Register-ArgumentCompleter -Native -CommandName 'qs-jwt'"),
        "{script}"
    );
    for (command, options) in long_options() {
        let header = format!("'qs-jwt;{command}' {{");
        let branch = script
            .split_once(&header)
            .and_then(|(_, rest)| rest.split_once("break"))
            .map(|(branch, _)| branch)
            .unwrap_or_else(|| panic!("no branch {header}"));
        for option in options {
            assert!(
                branch.contains(&format!("[CompletionResult]::new('{option}', '{option}'")),
                "{command}: {option} missing"
            );
        }
    }
    let list = |values: &[&str]| {
        let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
        format!("{{ $values = @({}) }}", quoted.join(", "))
    };
    let mut expected = vec![
        format!(
            "'qs-jwt;decode;--check' {}",
            list(&["qseow", "qscloud", "qscloud-oauth"])
        ),
        format!(
            "'qs-jwt;create-qseow;--alg' {}",
            list(&["RS256", "RS384", "RS512"])
        ),
        format!(
            "'qs-jwt;oauth-qscloud;--alg' {}",
            list(&["RS256", "RS512", "ES384"])
        ),
        format!(
            "'qs-jwt;oauth-qscloud;--output' {}",
            list(&["token", "json"])
        ),
        format!(
            "'qs-jwt;completions;completions' {}",
            list(&["bash", "elvish", "fish", "powershell", "zsh"])
        ),
        format!(
            "'qs-jwt;create-qscloud;--useremail-verified' {}",
            list(TRUE_FALSE)
        ),
    ];
    for command in ["create-qseow", "create-qscloud"] {
        expected.push(format!(
            "'qs-jwt;{command};--output' {}",
            list(&["token", "json"])
        ));
        expected.push(format!(
            "'qs-jwt;{command};--cert-create' {}",
            list(TRUE_FALSE)
        ));
    }
    for command in ["login-qscloud", "login-qseow"] {
        expected.push(format!(
            "'qs-jwt;{command};--output' {}",
            list(&["text", "json", "session"])
        ));
    }
    for command in [
        "create-qseow",
        "create-qscloud",
        "decode",
        "login-qscloud",
        "login-qseow",
    ] {
        expected.push(format!(
            "'qs-jwt;{command};--loglevel' {}",
            list(LOG_LEVELS)
        ));
    }
    for (command, option) in FILE_OPTIONS {
        expected.push(format!("'qs-jwt;{command};{option}' {{ return }}"));
    }
    let value_block = script
        .split_once("switch (\"$command;$previous\") {")
        .and_then(|(_, rest)| rest.split_once("\n    }\n"))
        .map(|(block, _)| block)
        .unwrap_or_else(|| panic!("no value-list block:\n{script}"));
    for line in expected {
        assert!(
            value_block.contains(&line),
            "missing: {line}\n{value_block}"
        );
    }
}

#[test]
fn every_completion_script_is_printed_and_the_bash_one_parses() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F _qs__jwt"),
        ("zsh", "#compdef qs-jwt"),
        ("fish", "complete -c qs-jwt"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[qs-jwt]"),
    ] {
        let output = qs_jwt(dir.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(output.status.success(), "{shell}");
        assert!(output.stderr.is_empty(), "{shell}");
        let script = String::from_utf8(output.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: {marker}");
        for flag in ["--cert-publickey-file", "--useremail-verified", "--output"] {
            assert!(
                script.contains(flag.trim_start_matches('-')),
                "{shell} lacks {flag}"
            );
        }
        // Git Bash on Windows runners reads Windows paths unreliably; the script is the same.
        if shell == "bash" && cfg!(unix) {
            let path = dir.path().join("qs-jwt.bash");
            std::fs::write(&path, &script).unwrap();
            let check = crate::common::command("bash")
                .arg("-n")
                .arg(&path)
                .output()
                .unwrap();
            assert!(check.status.success(), "{check:?}");
        }
    }
    let stderr = fails_cleanly(
        qs_jwt(dir.path()).args(["completions", "tcsh"]),
        dir.path(),
        2,
    );
    assert!(stderr.contains("invalid value 'tcsh'"), "{stderr}");
}
