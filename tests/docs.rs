//! docs/commands.md shows the exact `--help` of each command; this keeps them equal.
//! `QS_JWT_BLESS=1 cargo test --test docs` rewrites the blocks from the binary.

mod common;

use std::fs;
use std::path::Path;

use common::qs_jwt;

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
    let fresh = regenerated(&doc);
    if std::env::var_os("QS_JWT_BLESS").is_some() {
        fs::write(&path, &fresh).unwrap();
        return;
    }
    assert_eq!(
        doc.matches("<!-- help: ").count(),
        5,
        "a help block for qs-jwt and each of its four commands"
    );
    assert!(
        doc == fresh,
        "{DOC} differs from --help; run: QS_JWT_BLESS=1 cargo test --test docs"
    );
}

#[test]
fn readme_names_every_option() {
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for command in ["create-qseow", "create-qscloud", "decode", "completions"] {
        let help = help(&format!("{command} --help"));
        for word in help.split_whitespace() {
            let flag = word.trim_end_matches([',', '.']);
            if flag.starts_with("--") && flag.len() > 2 && !matches!(flag, "--help" | "--version") {
                let flag = flag.split(['=', '<', '[']).next().unwrap();
                assert!(readme.contains(&format!("`{flag}")), "README lacks {flag}");
            }
        }
    }
}
