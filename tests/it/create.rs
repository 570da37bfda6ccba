//! What a script sees: the token alone on stdout at every log level, log lines on stderr in
//! `LEVEL message` form, help and version, and the options that shape the claims.

use crate::common::*;
use predicates::prelude::*;
use serde_json::{Value, json};

fn token_payload(cmd: &mut assert_cmd::Command) -> (Value, String) {
    let output = cmd.assert().success().get_output().clone();
    let token = single_token(&output.stdout);
    (
        decode_parts(&token).1,
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// `create-qseow` signing with the key in `dir`; each test adds the rest.
fn qseow(dir: &std::path::Path) -> assert_cmd::Command {
    Create::qseow().key_file("privatekey.pem").run_in(dir)
}

/// A Qlik Cloud call that logs at every level: a random subject (info), a 365-day validity
/// and no name or email (warnings).
fn noisy_qscloud(dir: &std::path::Path) -> assert_cmd::Command {
    Create::qscloud()
        .args(["--expires", "365d"])
        .key_file("privatekey.pem")
        .run_in(dir)
}

fn levels_in(stderr: &str) -> Vec<&str> {
    let mut levels: Vec<&str> = stderr
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    levels.dedup();
    levels.sort();
    levels.dedup();
    levels
}

#[test]
fn version_and_help() {
    let dir = tempfile::tempdir().unwrap();
    qs_jwt(dir.path())
        .arg("--version")
        .assert()
        .success()
        .stdout(format!("qs-jwt {}\n", env!("CARGO_PKG_VERSION")));
    qs_jwt(dir.path())
        .args(["help", "create-qseow"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--userdir <directory>"));
    for (command, flags) in [
        ("create-qseow", &["--userdir", "--userid", "--audience"][..]),
        (
            "create-qscloud",
            &["--issuer", "--keyid", "--useremail-verified", "--sub"][..],
        ),
    ] {
        let output = qs_jwt(dir.path())
            .args([command, "--help"])
            .assert()
            .success()
            .get_output()
            .clone();
        let help = String::from_utf8(output.stdout).unwrap();
        let shared = [
            "--loglevel",
            "--username",
            "--useremail",
            "--groups",
            "--expires",
            "--claim",
            "--cert-privatekey-file",
            "--cert-privatekey",
            "--cert-create",
            "--cert-file-prefix",
            "--cert-create-expires-days",
            "--force",
            "--minimal-output",
        ];
        for flag in shared.iter().chain(flags) {
            let listed = help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n"));
            assert!(listed, "{command} --help lacks {flag}");
        }
    }
}

#[test]
fn help_of_help_is_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["help", "--help"][..], &["help", "-h"], &["help", "help"]] {
        qs_jwt(dir.path())
            .args(args)
            .assert()
            .success()
            .stderr("")
            .stdout(predicate::str::starts_with(
                "Print this message or the help of the given subcommand(s)\n\nUsage: qs-jwt help",
            ));
    }
    qs_jwt(dir.path())
        .args(["help", "create-qseow", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--userdir <directory>"));
}

#[test]
fn a_flag_named_after_its_claim_gets_the_flag_that_sets_it() {
    let dir = folder_with_key();
    let cases = [
        ("create-qseow", "--email", "--useremail"),
        ("create-qscloud", "--email", "--useremail"),
        ("create-qscloud", "--email=anna@example.com", "--useremail"),
        ("create-qscloud", "--email-verified", "--useremail-verified"),
        ("create-qseow", "--name", "--username"),
        ("create-qscloud", "--kid", "--keyid"),
        ("create-qseow", "--userId", "--userid"),
        ("create-qseow", "--userDirectory", "--userdir"),
    ];
    for (command, given, meant) in cases {
        let output = qs_jwt(dir.path())
            .args([command, given, "anna@example.com"])
            .assert()
            .code(2)
            .stdout("")
            .get_output()
            .clone();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(
            stderr.contains(&format!("tip: a similar argument exists: '{meant}'\n")),
            "{command} {given}: {stderr}"
        );
    }
    // Only a flag the command has: create-qseow has no --useremail-verified.
    qs_jwt(dir.path())
        .args(["create-qseow", "--email-verified", "true"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--useremail-verified").not());
}

#[test]
fn stdout_is_the_token_alone_at_every_level() {
    let dir = folder_with_key();
    for level in [
        "error", "warning", "warn", "info", "verbose", "debug", "DEBUG",
    ] {
        for minimal in [false, true] {
            let mut cmd = noisy_qscloud(dir.path());
            cmd.args(["--loglevel", level]);
            if minimal {
                cmd.arg("--minimal-output");
            }
            let (_, stderr) = token_payload(&mut cmd);
            assert!(
                !stderr.contains('\x1b'),
                "no colour when stderr is not a terminal"
            );
            let expected: &[&str] = match (level.to_lowercase().as_str(), minimal) {
                ("error", _) => &[],
                ("warning" | "warn", _) | ("info", true) => &["WARN"],
                ("info", false) => &["INFO", "WARN"],
                ("verbose", _) => &["INFO", "VERBOSE", "WARN"],
                _ => &["DEBUG", "INFO", "VERBOSE", "WARN"],
            };
            assert_eq!(
                levels_in(&stderr),
                expected,
                "--loglevel {level} minimal={minimal}: {stderr}"
            );
        }
    }
}

#[test]
fn debug_shows_header_and_payload() {
    let dir = folder_with_key();
    let (payload, stderr) =
        token_payload(qseow(dir.path()).args(["--expires", "1h", "--loglevel", "debug"]));
    assert!(
        stderr.contains(r#"DEBUG header {"typ":"JWT","alg":"RS256"}"#),
        "{stderr}"
    );
    let logged = stderr
        .lines()
        .find_map(|line| line.strip_prefix("DEBUG payload "))
        .expect("a payload line");
    assert_eq!(
        serde_json::from_str::<Value>(logged).unwrap(),
        payload,
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "VERBOSE loaded a 2048-bit RSA private key from --cert-privatekey-file 'privatekey.pem'"
        ),
        "{stderr}"
    );
}

/// At a terminal the level names are coloured, and NO_COLOR turns that off.
#[cfg(target_os = "linux")]
#[test]
fn a_terminal_gets_colour_unless_no_color_is_set() {
    let dir = folder_with_key();
    let args =
        "create-qscloud --issuer i --keyid k --expires 30m --cert-privatekey-file privatekey.pem";
    let (code, coloured) = on_terminal(dir.path(), args, None);
    assert_eq!(code, 0, "{coloured}");
    assert!(
        coloured.contains("\x1b[32mINFO\x1b[0m no --sub"),
        "{coloured:?}"
    );
    assert!(
        coloured.contains("\x1b[33mWARN\x1b[0m Qlik Cloud will reject this token"),
        "{coloured:?}"
    );
    let (_, empty_no_color_is_unset) = on_terminal(dir.path(), args, Some(""));
    assert!(
        empty_no_color_is_unset.contains("\x1b[32mINFO"),
        "{empty_no_color_is_unset:?}"
    );
    let (_, plain) = on_terminal(dir.path(), args, Some("1"));
    assert!(
        plain.contains("INFO no --sub") && !plain.contains('\x1b'),
        "{plain:?}"
    );
}

/// `--cert-privatekey-file -` and `--jwt-file -` must never sit waiting for someone to type.
#[cfg(target_os = "linux")]
#[test]
fn standard_input_on_a_terminal_is_refused_not_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let args =
        "create-qseow --userdir D --userid u --audience a --expires 1h --cert-privatekey-file -";
    let (code, screen) = on_terminal(dir.path(), args, Some("1"));
    assert_eq!(code, 2, "{screen}");
    assert!(screen.contains("error: --cert-privatekey-file - reads the key from standard input, which is a terminal; pipe the key in"), "{screen}");

    let (code, screen) = on_terminal(dir.path(), "decode --jwt-file -", Some("1"));
    assert_eq!(code, 2, "{screen}");
    assert!(
        screen.contains("error: --jwt-file - reads the token from standard input, which is a terminal; pipe the token in"),
        "{screen}"
    );
}

#[test]
fn no_colour_when_no_color_is_set() {
    let dir = folder_with_key();
    let (_, stderr) = token_payload(noisy_qscloud(dir.path()).env("NO_COLOR", "1"));
    assert!(
        stderr.starts_with("INFO ") && !stderr.contains('\x1b'),
        "{stderr}"
    );
}

#[test]
fn extra_claims_keep_their_json_types() {
    let dir = folder_with_key();
    let claims = [
        "--claim",
        "dept=sales",
        "--claim",
        "level=3",
        "--claim",
        r#"tags=["a","b"]"#,
        "--claim",
        "admin=true",
        "--claim",
        r#"code="007""#,
        "--claim",
        "note=",
    ];
    let expected = json!({"dept": "sales", "level": 3, "tags": ["a", "b"], "admin": true, "code": "007", "note": ""});
    let (payload, _) = token_payload(qseow(dir.path()).args(["--expires", "1h"]).args(claims));
    for (name, value) in expected.as_object().unwrap() {
        assert_eq!(&payload[name], value, "{name}");
    }
    let (payload, _) = token_payload(noisy_qscloud(dir.path()).args(claims));
    for (name, value) in expected.as_object().unwrap() {
        assert_eq!(&payload[name], value, "{name}");
    }
}

#[test]
fn groups_keep_order_drop_duplicates_and_may_repeat() {
    let dir = folder_with_key();
    let args = [
        "--expires",
        "1h",
        "--groups",
        "b",
        "a",
        "b",
        "--groups",
        "c",
        "a",
    ];
    let (payload, _) = token_payload(qseow(dir.path()).args(args));
    assert_eq!(payload["group"], json!(["b", "a", "c"]));
    assert!(payload.get("groups").is_none());
    let (payload, _) = token_payload(noisy_qscloud(dir.path()).args(&args[2..]));
    assert_eq!(payload["groups"], json!(["b", "a", "c"]));
    assert!(payload.get("group").is_none());
}

#[test]
fn a_list_in_one_groups_value_is_one_group_and_a_warning_says_how_to_give_several() {
    let dir = folder_with_key();
    let (payload, stderr) =
        token_payload(qseow(dir.path()).args(["--expires", "1h", "--groups", "group1,group2"]));
    // The token carries what was given (a name may hold a comma); the warning says so.
    assert_eq!(payload["group"], json!(["group1,group2"]));
    assert!(
        stderr.contains(
            "WARN --groups 'group1,group2' is one group, whose name holds ','; for 2 groups, give \
             each as its own value: --groups group1 group2 (or repeat --groups)"
        ),
        "{stderr}"
    );
    let (_, stderr) = token_payload(
        &mut Create::qscloud()
            .key_file("privatekey.pem")
            .args(["--groups", "group1;group 2"])
            .run_in(dir.path()),
    );
    assert!(stderr.contains("--groups group1 'group 2'"), "{stderr}");
    // The form the warning gives makes two groups, without a warning.
    let (payload, stderr) = token_payload(qseow(dir.path()).args([
        "--expires",
        "1h",
        "--groups",
        "group1",
        "group2",
        "CN=Sales,OU=Groups,DC=corp",
    ]));
    assert_eq!(
        payload["group"],
        json!(["group1", "group2", "CN=Sales,OU=Groups,DC=corp"])
    );
    assert!(!stderr.contains("--groups"), "{stderr}");
}

#[test]
fn expires_forms_end_to_end() {
    let dir = folder_with_key();
    for (value, seconds) in [
        ("1h 30m", 5_400),
        ("2 days", 172_800),
        ("1.5h", 5_400),
        ("90s", 90),
        ("5y", 157_788_000),
    ] {
        let (payload, _) = token_payload(qseow(dir.path()).args(["--expires", value]));
        let validity = payload["exp"].as_u64().unwrap() - payload["iat"].as_u64().unwrap();
        assert_eq!(validity, seconds, "--expires {value}");
    }
    // As in qs-jwt 1.x, the last of a repeated option counts.
    let (payload, _) =
        token_payload(qseow(dir.path()).args(["--expires", "1h", "--expires", "2h"]));
    assert_eq!(
        payload["exp"].as_u64().unwrap() - payload["iat"].as_u64().unwrap(),
        7_200
    );
}

#[test]
fn a_token_qlik_cloud_accepts_gets_no_warnings() {
    let dir = folder_with_key();
    let (payload, stderr) = token_payload(qs_jwt(dir.path()).args([
        "create-qscloud",
        "--issuer",
        "i",
        "--keyid",
        "k",
        "--sub",
        "anna",
        "--username",
        "Anna",
        "--useremail",
        "anna@example.com",
        "--useremail-verified",
        "False",
        "--expires",
        "60m",
        "--cert-privatekey-file",
        "privatekey.pem",
    ]));
    assert_eq!(payload["sub"], "anna");
    assert_eq!(payload["email_verified"], json!(false));
    assert_eq!(
        payload["exp"].as_u64().unwrap() - payload["nbf"].as_u64().unwrap(),
        3_600
    );
    assert_eq!(stderr, "", "nothing to say about a good token");
}

#[test]
fn options_without_effect_are_named_in_a_warning() {
    let dir = folder_with_key();
    let (payload, stderr) =
        token_payload(noisy_qscloud(dir.path()).args(["--useremail-verified", "true"]));
    assert!(payload.get("email_verified").is_none());
    assert!(
        stderr.contains("WARN --useremail-verified is ignored without --useremail"),
        "{stderr}"
    );

    let (_, stderr) = token_payload(qseow(dir.path()).args([
        "--expires",
        "1h",
        "--cert-create-expires-days",
        "30",
    ]));
    assert!(
        stderr.contains("WARN --cert-create-expires-days is ignored without --cert-create true"),
        "{stderr}"
    );
}

#[test]
fn output_json_carries_the_token_header_payload_and_expiry() {
    let dir = folder_with_key();
    let output = qseow(dir.path())
        .args(["--expires", "60m", "--output", "json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one JSON line: {stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let token = json["token"].as_str().unwrap();
    let (header, payload) = decode_parts(token);
    assert_eq!(json["header"], header);
    assert_eq!(json["payload"], payload);
    let exp = payload["exp"].as_u64().unwrap();
    let expires_at = humantime::parse_rfc3339(json["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!(
        expires_at
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        exp
    );
    assert_eq!(
        json.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["token", "header", "payload", "expiresAt"]
    );
}

#[test]
fn output_token_is_the_default_and_a_bad_format_is_a_usage_error() {
    let dir = folder_with_key();
    let args = ["--expires", "5m"];
    let default = qseow(dir.path()).args(args).output().unwrap();
    single_token(&default.stdout);
    let explicit = qseow(dir.path())
        .args(args)
        .args(["--output", "token"])
        .output()
        .unwrap();
    single_token(&explicit.stdout);
    let stderr = fails_cleanly(
        qseow(dir.path()).args(args).args(["--output", "yaml"]),
        dir.path(),
        2,
    );
    assert!(
        stderr.contains("invalid value 'yaml' for '--output"),
        "{stderr}"
    );
}

/// A script that asked for JSON reads one object for a usage error too, as for any failure
/// after parsing: clap's errors come before the command exists, so they are made from the words
/// typed. Text output keeps stdout empty; stderr says the same either way.
#[test]
fn a_usage_error_with_output_json_is_one_json_object() {
    let dir = folder_with_key();
    let cases: [&[&str]; 3] = [
        &[
            "create-qseow",
            "--output",
            "json",
            "--expires",
            "5m",
            "--bogus",
        ],
        &["login-qseow", "--output=json", "--jwt", "x"],
        &["decode", "--minimal-output", "--jwt"],
    ];
    for args in cases {
        let output = qs_jwt(dir.path()).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert_eq!(stdout.lines().count(), 1, "{args:?}: {stdout}");
        let json: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(json["error"]["code"], "usage", "{stdout}");
        let detail = json["error"]["detail"].as_str().unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(
            stderr.contains(detail.split(':').next().unwrap()),
            "{detail} / {stderr}"
        );
    }
    let text = qs_jwt(dir.path())
        .args(["create-qseow", "--expires", "5m", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(text.status.code(), Some(2));
    assert!(text.stdout.is_empty());
}
