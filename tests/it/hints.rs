//! Issue 27: every option a hint or a fix suggests exists on the command it names. The source's
//! text (strings and comments) is walked for each command's name, the options that follow it
//! are read, and each is looked up in that command's `--help`; and the commands that read a
//! key are run without one, their error's options looked up in their own `--help`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::common::qs_jwt;

/// The long options of `command`'s `--help` (`--help` and `--version` included).
fn options_of(dir: &Path, command: &str) -> BTreeSet<String> {
    let output = qs_jwt(dir).args([command, "--help"]).output().unwrap();
    assert!(output.status.success(), "{command} --help");
    let help = String::from_utf8(output.stdout).unwrap();
    let mut options = BTreeSet::new();
    for line in help.lines() {
        let line = line.trim_start();
        if let Some(rest) = line
            .strip_prefix("-h, ")
            .or_else(|| line.strip_prefix("-V, "))
            .or(Some(line))
            && let Some(rest) = rest.strip_prefix("--")
        {
            options.insert(option_name(rest));
        }
    }
    options
}

fn option_name(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

/// The subcommands `qs-jwt --help` lists.
fn commands(dir: &Path) -> Vec<String> {
    let output = qs_jwt(dir).arg("--help").output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The options written after each mention of `command` in `text`: the words that follow it,
/// an option and its value at a time, up to the end of the string, a word that is neither,
/// or a punctuation mark that ends a clause.
fn options_after(text: &str, command: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let word_char = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let mut from = 0;
    while let Some(at) = text[from..].find(command) {
        let start = from + at;
        let end = start + command.len();
        from = end;
        if (start > 0 && word_char(bytes[start - 1]))
            || (end < bytes.len() && word_char(bytes[end]))
        {
            continue;
        }
        let rest = &text[end..];
        let rest = rest.split(['"', '\n', '`', '|']).next().unwrap_or_default();
        let snippet: String = text[start..end + rest.len()].to_owned();
        let mut after_option = false;
        let mut in_placeholder = false;
        for word in rest.split_whitespace() {
            if in_placeholder {
                in_placeholder = !word.contains('>');
                after_option = false;
                continue;
            }
            let stops = word.ends_with([',', ';', '.', ':', ')']);
            if let Some(option) = word.strip_prefix("--") {
                found.push((option_name(option), snippet.clone()));
                after_option = !word.contains('=');
            } else if word.starts_with('<') {
                in_placeholder = !word.contains('>');
                after_option = false;
            } else if word == "\\" {
                continue;
            } else if after_option || word.starts_with('{') || word == "-" {
                after_option = false;
            } else {
                break;
            }
            if stops {
                break;
            }
        }
    }
    found
}

#[test]
fn every_option_a_hint_names_exists_on_its_command() {
    let dir = tempfile::tempdir().unwrap();
    let commands = commands(dir.path());
    assert!(commands.len() >= 12, "{commands:?}");
    let options: BTreeMap<String, BTreeSet<String>> = commands
        .iter()
        .map(|c| (c.clone(), options_of(dir.path(), c)))
        .collect();
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut wrong = Vec::new();
    let mut walked = 0;
    for file in files {
        // A string's continuation (`\` at a line's end) joined, as the compiler does.
        let source = fs::read_to_string(&file).unwrap();
        let mut text = String::with_capacity(source.len());
        let mut lines = source.lines().peekable();
        while let Some(line) = lines.next() {
            match line.strip_suffix('\\') {
                Some(head) if !head.ends_with('\\') => {
                    text.push_str(head);
                    if let Some(next) = lines.peek() {
                        let trimmed = next.trim_start();
                        let trimmed = trimmed.strip_prefix("///").unwrap_or(trimmed);
                        text.push_str(trimmed);
                        lines.next();
                    }
                }
                _ => {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        for command in &commands {
            for (option, snippet) in options_after(&text, command) {
                walked += 1;
                if !options[command].contains(&option) {
                    wrong.push(format!(
                        "{}: --{option} is not an option of {command}: {snippet}",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(
        walked > 50,
        "only {walked} options found after a command's name"
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The commands that read a signing key, run without one: the options their error suggests
/// are theirs (a doctor has no --cert-create).
#[test]
fn a_missing_key_names_only_options_of_the_command_run() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec![
            "create-qscloud",
            "--issuer",
            "i",
            "--keyid",
            "k",
            "--sub",
            "s",
        ],
        vec![
            "doctor-qscloud",
            "--tenant",
            "t.example.com",
            "--issuer",
            "i",
            "--keyid",
            "k",
        ],
        vec![
            "doctor-qseow",
            "--qrs",
            "https://127.0.0.1:1",
            "--qrs-cert",
            "c.pem",
            "--qrs-key",
            "k.pem",
            "--audience",
            "a",
        ],
    ] {
        let mut cmd = qs_jwt(dir.path());
        cmd.env("QLIK_API_KEY", "x.y.z");
        let output = cmd.args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}: {stderr}");
        let known = options_of(dir.path(), args[0]);
        let mut named = 0;
        for word in stderr.split_whitespace() {
            if let Some(option) = word.strip_prefix("--") {
                let option = option_name(option);
                named += 1;
                assert!(
                    known.contains(&option),
                    "{}: --{option} is not an option of it: {stderr}",
                    args[0]
                );
            }
        }
        assert!(named > 0, "{args:?}: {stderr}");
    }
}
