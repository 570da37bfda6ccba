//! Every combination of the key sources, for both create commands: none, one, two or all three
//! of --cert-privatekey-file, --cert-privatekey and --cert-create true, each with and without
//! QSJWTPRIVKEY set. Exactly one source signs; none is a usage error unless QSJWTPRIVKEY is set;
//! two or three are a usage error that names them all and leaves the folder as it was.

use std::path::Path;

use crate::common::*;

const FILE: &str = "--cert-privatekey-file";
const TEXT: &str = "--cert-privatekey";
const CREATE: &str = "--cert-create true";

/// The command with the sources named in `sources` and QSJWTPRIVKEY set or not.
fn command(kind: &str, dir: &Path, sources: &[&str], env: bool) -> assert_cmd::Command {
    let mut create = match kind {
        "create-qseow" => Create::qseow(),
        _ => Create::qscloud(),
    }
    .args(["--expires", "5m"]);
    for source in sources {
        create = match *source {
            FILE => create.key_file(fixture("rsa2048-pkcs8.pem")),
            TEXT => create.arg(TEXT).arg(fixture_text("rsa2048-pkcs1.pem")),
            _ => create.new_key(),
        };
    }
    let mut cmd = create.run_in(dir);
    if env {
        cmd.env("QSJWTPRIVKEY", fixture_text("rsa2048-pkcs8.pem"));
    }
    cmd
}

/// Every subset of the three sources, in the order clap reports them.
fn subsets() -> Vec<Vec<&'static str>> {
    (0..8u8)
        .map(|bits| {
            [FILE, TEXT, CREATE]
                .into_iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, source)| source)
                .collect()
        })
        .collect()
}

fn joined(names: &[&str]) -> String {
    match names {
        [one, two] => format!("{one} and {two}"),
        [one, two, three] => format!("{one}, {two} and {three}"),
        _ => unreachable!("only for two or three"),
    }
}

#[test]
fn every_combination_of_key_sources() {
    let mut cases = 0;
    for kind in ["create-qseow", "create-qscloud"] {
        for sources in subsets() {
            for env in [false, true] {
                cases += 1;
                let dir = tempfile::tempdir().unwrap();
                let case = format!("{kind} {sources:?} QSJWTPRIVKEY={env}");
                let mut cmd = command(kind, dir.path(), &sources, env);
                match (sources.as_slice(), env) {
                    ([], false) => {
                        let stderr = fails_cleanly(&mut cmd, dir.path(), 2);
                        assert_eq!(
                            error_lines(stderr.as_bytes()).trim_end(),
                            "error: no signing key: give --cert-privatekey-file <file>, \
                             --cert-privatekey <pem>, or --cert-create true, or set the \
                             environment variable QSJWTPRIVKEY",
                            "{case}"
                        );
                    }
                    ([CREATE], _) => {
                        let output = cmd.output().unwrap();
                        assert!(output.status.success(), "{case}: {output:?}");
                        let token = single_token(&output.stdout);
                        let public = std::fs::read_to_string(dir.path().join("publickey.pem"));
                        let (_, payload) = decode_parts(&token);
                        let audience = payload["aud"].as_str().unwrap();
                        verify_with_public_key(&token, &public.unwrap(), audience);
                    }
                    ([] | [_], _) => {
                        // One source, or none but QSJWTPRIVKEY: the fixture key signs.
                        let output = cmd.output().unwrap();
                        assert!(output.status.success(), "{case}: {output:?}");
                        let token = single_token(&output.stdout);
                        let (_, payload) = decode_parts(&token);
                        let audience = payload["aud"].as_str().unwrap();
                        let public = fixture_text("rsa2048-public.pem");
                        verify_with_public_key(&token, &public, audience);
                        assert!(snapshot(dir.path()).is_empty(), "{case}: no files written");
                    }
                    (several, _) => {
                        let stderr = fails_cleanly(&mut cmd, dir.path(), 2);
                        assert_eq!(
                            error_lines(stderr.as_bytes()).trim_end(),
                            format!(
                                "error: {} each give a signing key; use exactly one",
                                joined(several)
                            ),
                            "{case}"
                        );
                        assert!(!stderr.contains("BEGIN"), "{case}: no key text: {stderr}");
                    }
                }
            }
        }
    }
    assert_eq!(cases, 32);
}
