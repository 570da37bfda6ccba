//! docs/commands.md shows the exact `--help` of each command: it is the snapshot of every help
//! text, kept by snapbox. After a change to the help, `SNAPSHOTS=overwrite cargo test --test
//! it docs::` rewrites the blocks from the binary, and the diff of docs/commands.md is the review.

use std::fs;
use std::path::Path;

use crate::common::qs_jwt;

const DOC: &str = "docs/commands.md";

fn help(args: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = qs_jwt(dir.path())
        .env_remove("COLUMNS")
        .args(args.split(' '))
        .assert()
        .success()
        .get_output()
        .clone();
    String::from_utf8(output.stdout).unwrap()
}

/// The doc with each `<!-- help: ARGS -->` block replaced by the binary's output.
fn regenerated(doc: &str) -> String {
    let mut out = String::new();
    let mut rest = doc;
    while let Some(start) = rest.find("<!-- help: ") {
        let marker_end = start + rest[start..].find(" -->").expect("marker closes");
        let args = &rest[start + "<!-- help: ".len()..marker_end];
        let open = marker_end
            + rest[marker_end..].find("```text\n").expect("block opens")
            + "```text\n".len();
        let close = open + rest[open..].find("```\n").expect("block closes");
        out.push_str(&rest[..open]);
        out.push_str(&help(args));
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

#[test]
fn commands_doc_shows_the_current_help() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC);
    let doc = fs::read_to_string(&path).unwrap();
    let commands = <qs_jwt::cli::Cli as clap::CommandFactory>::command()
        .get_subcommands()
        .count();
    assert_eq!(
        doc.matches("<!-- help: ").count(),
        commands + 1,
        "a help block for qs-jwt and each of its {commands} commands"
    );
    // normalize_paths(false): the help's line continuations are backslashes, not paths.
    snapbox::Assert::new()
        .action_env("SNAPSHOTS")
        .normalize_paths(false)
        .eq(regenerated(&doc), snapbox::Data::read_from(&path, None));
}

#[test]
fn readme_names_every_option() {
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for command in [
        "create-key",
        "create-qseow",
        "create-qscloud",
        "decode",
        "setup-qscloud",
        "setup-qseow",
        "login-qscloud",
        "login-qseow",
        "doctor-qscloud",
        "doctor-qseow",
        "setup-qscloud-oauth",
        "oauth-qscloud",
        "completions",
    ] {
        let help = help(&format!("{command} --help"));
        // The options themselves, not the other programs' in the examples (curl's --data).
        let options = help.split("\nExample").next().unwrap_or_default();
        for word in options.split_whitespace() {
            let flag = word.trim_end_matches([',', '.']);
            if flag.starts_with("--") && flag.len() > 2 && !matches!(flag, "--help" | "--version") {
                let flag = flag.split(['=', '<', '[']).next().unwrap();
                assert!(readme.contains(&format!("`{flag}")), "README lacks {flag}");
            }
        }
    }
}

/// docs/commands.md names each shell whose completion script the README shows how to install.
#[test]
fn commands_doc_names_the_shells_the_readme_installs_completions_for() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = fs::read_to_string(root.join("README.md")).unwrap();
    let doc = fs::read_to_string(root.join(DOC)).unwrap();
    let section = doc.split("\n## completions\n").nth(1).unwrap();
    let prose = section.split("<!-- help:").next().unwrap();
    let installed: Vec<&str> = ["bash", "zsh", "fish", "powershell", "elvish"]
        .into_iter()
        .filter(|shell| readme.contains(&format!("qs-jwt completions {shell} ")))
        .collect();
    assert!(installed.len() >= 2, "{installed:?}");
    for shell in installed {
        assert!(
            prose.to_lowercase().contains(shell),
            "docs/commands.md's completions section does not name {shell}: {prose}"
        );
    }
}
