//! `--users`: many users in one run, for both create commands, from CSV and JSON Lines. What a
//! user sees: a token a line in the file's order, each verifying with the certificate and
//! carrying exactly its row's claims; bad rows listed before anything is signed; usage errors.

use crate::common;

use std::collections::HashSet;
use std::fs;

use crate::common::{
    Create, QLIK_CLOUD_AUDIENCE, QSEOW_AUDIENCE, decode_parts, error_lines, fails_cleanly,
    fixture_text, folder_with_key, succeeds, verify_with_certificate, verify_with_public_key,
};
use serde_json::{Map, Value, json};

/// One user as a test writes it into a users file.
#[derive(Debug, Clone, Default)]
struct User {
    id: String,
    userdir: Option<String>,
    name: Option<String>,
    email: Option<String>,
    verified: Option<bool>,
    groups: Vec<String>,
    claims: Vec<(String, Value)>,
}

fn user(id: &str) -> User {
    User {
        id: id.to_owned(),
        ..User::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Qscloud,
    Qseow,
}

/// Users whose values need care in a CSV file: separators, quotes, line breaks, non-ASCII, a
/// claim of each JSON kind.
fn tricky_users(kind: Kind) -> Vec<User> {
    let mut anna = user("anna");
    anna.name = Some("Anderson, Anna \"Annie\"".into());
    anna.email = Some("anna@grusgrus.com".into());
    anna.verified = Some(true);
    anna.groups = vec!["sales".into(), "group 2".into()];
    anna.claims = vec![("level".into(), json!(3)), ("dept".into(), json!("nord"))];
    let mut bjorn = user("björn.ström");
    bjorn.name = Some("Björn\nStröm".into());
    bjorn.email = Some("b@x.se".into());
    bjorn.verified = Some(false);
    bjorn.claims = vec![("level".into(), json!(1.5))];
    let mut carl = user("carl");
    carl.groups = vec!["finance".into()];
    carl.claims = vec![("dept".into(), json!("x;y,z"))];
    let mut users = vec![anna, bjorn, carl];
    if kind == Kind::Qseow {
        users[1].userdir = Some("EXTERNAL".into());
        for user in &mut users {
            user.verified = None;
        }
    }
    users
}

fn csv_file(kind: Kind, users: &[User]) -> String {
    csv_file_separated_by(kind, users, b',')
}

/// The users file as a spreadsheet saves it where the comma is the decimal mark (`;`), or as
/// "Unicode text" (a tab).
fn csv_file_separated_by(kind: Kind, users: &[User], delimiter: u8) -> String {
    let claim_names: Vec<String> = {
        let mut names = Vec::new();
        for user in users {
            for (name, _) in &user.claims {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        names
    };
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_writer(Vec::new());
    let mut header: Vec<String> = match kind {
        Kind::Qscloud => ["sub", "name", "email", "email_verified", "groups"],
        Kind::Qseow => ["userid", "userdir", "name", "email", "groups"],
    }
    .map(String::from)
    .to_vec();
    header.extend(claim_names.iter().map(|n| format!("claim.{n}")));
    writer.write_record(&header).unwrap();
    for user in users {
        let mut record = vec![user.id.clone()];
        match kind {
            Kind::Qscloud => {
                record.push(user.name.clone().unwrap_or_default());
                record.push(user.email.clone().unwrap_or_default());
                record.push(user.verified.map(|v| v.to_string()).unwrap_or_default());
            }
            Kind::Qseow => {
                record.push(user.userdir.clone().unwrap_or_default());
                record.push(user.name.clone().unwrap_or_default());
                record.push(user.email.clone().unwrap_or_default());
            }
        }
        record.push(user.groups.join(";"));
        for name in &claim_names {
            let value = user.claims.iter().find(|(n, _)| n == name);
            record.push(match value {
                Some((_, Value::String(text))) => text.clone(),
                Some((_, value)) => value.to_string(),
                None => String::new(),
            });
        }
        writer.write_record(&record).unwrap();
    }
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

fn jsonl_file(kind: Kind, users: &[User]) -> String {
    let mut text = String::new();
    for user in users {
        let mut object = Map::new();
        let id = match kind {
            Kind::Qscloud => "sub",
            Kind::Qseow => "userid",
        };
        object.insert(id.into(), json!(user.id));
        if let Some(dir) = &user.userdir {
            object.insert("userdir".into(), json!(dir));
        }
        if let Some(name) = &user.name {
            object.insert("name".into(), json!(name));
        }
        if let Some(email) = &user.email {
            object.insert("email".into(), json!(email));
        }
        if let Some(verified) = user.verified {
            object.insert("email_verified".into(), json!(verified));
        }
        if !user.groups.is_empty() {
            object.insert("groups".into(), json!(user.groups));
        }
        for (name, value) in &user.claims {
            object.insert(format!("claim.{name}"), value.clone());
        }
        text.push_str(&Value::Object(object).to_string());
        text.push('\n');
    }
    text
}

/// The claims a user's token must carry, times and `jti` aside: the row's values after the
/// options every user shares (`--groups all`, `--claim tenant=t1`).
fn expected_claims(kind: Kind, user: &User) -> Map<String, Value> {
    let mut claims = Map::new();
    let mut groups = vec!["all".to_owned()];
    groups.extend(user.groups.iter().cloned());
    match kind {
        Kind::Qscloud => {
            claims.insert("sub".into(), json!(user.id));
            claims.insert("subType".into(), json!("user"));
        }
        Kind::Qseow => {
            claims.insert("userId".into(), json!(user.id));
            let dir = user.userdir.as_deref().unwrap_or("CORP");
            claims.insert("userDirectory".into(), json!(dir));
        }
    }
    if let Some(name) = &user.name {
        claims.insert("name".into(), json!(name));
    }
    if let Some(email) = &user.email {
        claims.insert("email".into(), json!(email));
        if kind == Kind::Qscloud {
            claims.insert("email_verified".into(), json!(user.verified.unwrap()));
        }
    }
    let group_claim = match kind {
        Kind::Qscloud => "groups",
        Kind::Qseow => "group",
    };
    claims.insert(group_claim.into(), json!(groups));
    match kind {
        Kind::Qscloud => {
            claims.insert("aud".into(), json!(QLIK_CLOUD_AUDIENCE));
            claims.insert("iss".into(), json!("i"));
        }
        Kind::Qseow => {
            claims.insert("aud".into(), json!(QSEOW_AUDIENCE));
        }
    }
    claims.insert("tenant".into(), json!("t1"));
    for (name, value) in &user.claims {
        claims.insert(name.clone(), value.clone());
    }
    claims
}

fn command(kind: Kind) -> Create {
    let create = match kind {
        Kind::Qscloud => Create::qscloud(),
        Kind::Qseow => Create::qseow_users().args(["--userdir", "CORP"]),
    };
    create.args(["--groups", "all", "--claim", "tenant=t1"])
}

/// Checks that `tokens` are `users`' tokens, in order: each verifies, carries exactly its
/// user's claims, and (Qlik Cloud) has a `jti` of its own.
fn assert_tokens_of(kind: Kind, tokens: &[String], users: &[User], certificate: &str) {
    assert_eq!(tokens.len(), users.len(), "a token a user: {tokens:?}");
    let mut ids = HashSet::new();
    for (token, user) in tokens.iter().zip(users) {
        let audience = match kind {
            Kind::Qscloud => QLIK_CLOUD_AUDIENCE,
            Kind::Qseow => QSEOW_AUDIENCE,
        };
        verify_with_certificate(token, certificate, audience);
        let (header, payload) = decode_parts(token);
        let mut payload = payload.as_object().unwrap().clone();
        let iat = payload.remove("iat").unwrap().as_u64().unwrap();
        let exp = payload.remove("exp").unwrap().as_u64().unwrap();
        match kind {
            Kind::Qscloud => {
                assert_eq!(header, json!({"typ": "JWT", "alg": "RS256", "kid": "k"}));
                assert_eq!(payload.remove("nbf"), Some(json!(iat)));
                assert_eq!(exp - iat, 1_800);
                let jti = payload.remove("jti").unwrap();
                assert!(ids.insert(jti.as_str().unwrap().to_owned()), "jti repeats");
            }
            Kind::Qseow => {
                assert_eq!(header, json!({"typ": "JWT", "alg": "RS256"}));
                assert_eq!(exp - iat, 3_600);
            }
        }
        // Compared as sorted maps: the claims, not their order, are the contract here.
        let sorted = |map: Map<String, Value>| -> Vec<(String, Value)> {
            let mut pairs: Vec<_> = map.into_iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            pairs
        };
        assert_eq!(sorted(payload), sorted(expected_claims(kind, user)));
    }
}

fn lines(stdout: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(stdout).unwrap();
    assert!(text.ends_with('\n'), "{text:?}");
    text.lines().map(str::to_owned).collect()
}

/// A folder with a new key pair made by qs-jwt, and its certificate's text.
fn folder_with_new_key() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    Create::qseow()
        .new_key()
        .run_in(dir.path())
        .assert()
        .success();
    let certificate = fs::read_to_string(dir.path().join("publickey.cer")).unwrap();
    (dir, certificate)
}

#[test]
fn every_command_and_format_round_trips_in_input_order() {
    let (dir, certificate) = folder_with_new_key();
    for kind in [Kind::Qscloud, Kind::Qseow] {
        let users = tricky_users(kind);
        for (file, text) in [
            ("users.csv", csv_file(kind, &users)),
            ("users.jsonl", jsonl_file(kind, &users)),
        ] {
            fs::write(dir.path().join(file), &text).unwrap();
            let output = command(kind)
                .key_file("privatekey.pem")
                .args(["--users", file])
                .run_in(dir.path())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "{kind:?} {file}: {stderr}\n{text}");
            assert_tokens_of(kind, &lines(&output.stdout), &users, &certificate);
            assert!(
                stderr.contains("INFO signed a token for each of 3 users in "),
                "{stderr}"
            );
        }
    }
}

#[test]
fn a_file_separated_by_semicolons_or_tabs_is_read_as_such() {
    let (dir, certificate) = folder_with_new_key();
    for kind in [Kind::Qscloud, Kind::Qseow] {
        let users = tricky_users(kind);
        for delimiter in [b';', b'\t'] {
            let text = csv_file_separated_by(kind, &users, delimiter);
            fs::write(dir.path().join("users.csv"), text).unwrap();
            let output = succeeds(
                &mut command(kind)
                    .key_file("privatekey.pem")
                    .args(["--users", "users.csv"])
                    .run_in(dir.path()),
            );
            assert_tokens_of(kind, &lines(&output.stdout), &users, &certificate);
        }
    }
    // A semicolon file whose groups are not quoted: the row is named, with the separator.
    fs::write(dir.path().join("bad.csv"), "sub;groups\nanna;g1;g2\n").unwrap();
    let mut cmd = Create::qscloud()
        .key_file("privatekey.pem")
        .args(["--users", "bad.csv"])
        .run_in(dir.path());
    let stderr = fails_cleanly(&mut cmd, dir.path(), 1);
    assert!(
        stderr.contains("the file is separated by semicolons (its header row is)"),
        "{stderr}"
    );
}

#[test]
fn qseow_users_in_another_letter_case_or_unicode_form_are_duplicates() {
    let dir = folder_with_key();
    // "Björn" composed (NFC) and decomposed (NFD), as macOS and some exports write it.
    fs::write(
        dir.path().join("staff.csv"),
        "userid,userdir\nanna,\nAnna,corp\nBj\u{f6}rn,\nBjo\u{308}rn,\n",
    )
    .unwrap();
    let mut cmd = Create::qseow_users()
        .args(["--userdir", "CORP", "--users", "staff.csv"])
        .key_file("privatekey.pem")
        .run_in(dir.path());
    let stderr = fails_cleanly(&mut cmd, dir.path(), 1);
    assert!(
        stderr.contains(
            "error: 'staff.csv' line 3, column userid: user corp\\Anna is also on line 2 (written \
             CORP\\anna there; QSEoW compares user ids and directories regardless of letter case \
             and Unicode form, NFC or NFD)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("line 5, column userid"), "{stderr}");
    assert!(stderr.contains("2 bad rows"), "{stderr}");
    // Qlik Cloud subjects are opaque ids: two subjects, two tokens.
    fs::write(dir.path().join("subs.csv"), "sub\nanna\nAnna\n").unwrap();
    let output = succeeds(
        &mut Create::qscloud()
            .key_file("privatekey.pem")
            .args(["--users", "subs.csv"])
            .run_in(dir.path()),
    );
    assert_eq!(lines(&output.stdout).len(), 2);
}

#[test]
fn json_output_is_a_line_a_user_naming_the_user_first() {
    let dir = folder_with_key();
    fs::write(
        dir.path().join("users.csv"),
        "userid,userdir\nanna,\nbob,EXT\n",
    )
    .unwrap();
    let output = Create::qseow_users()
        .args([
            "--userdir",
            "CORP",
            "--output",
            "json",
            "--users",
            "users.csv",
        ])
        .key_file("privatekey.pem")
        .run_in(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let objects: Vec<Value> = lines(&output.stdout)
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(objects.len(), 2);
    for (object, (dir_name, id)) in objects.iter().zip([("CORP", "anna"), ("EXT", "bob")]) {
        let keys: Vec<&str> = object
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "userdir",
                "userid",
                "token",
                "header",
                "payload",
                "expiresAt"
            ]
        );
        assert_eq!(
            (object["userdir"].as_str(), object["userid"].as_str()),
            (Some(dir_name), Some(id))
        );
        let token = object["token"].as_str().unwrap();
        verify_with_public_key(token, &fixture_text("rsa2048-public.pem"), QSEOW_AUDIENCE);
        assert_eq!(decode_parts(token).1, object["payload"]);
        assert_eq!(object["payload"]["userDirectory"], json!(dir_name));
    }
}

#[test]
fn csv_edge_cases_byte_order_mark_crlf_quotes_and_blank_lines() {
    let dir = folder_with_key();
    let text = "\u{feff}sub,name,groups\r\n\
                \"a,1\",\"say \"\"hi\"\"\",\"g;h\"\r\n\
                \r\n\
                b2,\"two\r\nlines\",\r\n\
                \r\n";
    fs::write(dir.path().join("users.csv"), text).unwrap();
    let output = succeeds(
        &mut Create::qscloud()
            .key_file("privatekey.pem")
            .args(["--users", "users.csv"])
            .run_in(dir.path()),
    );
    let tokens = lines(&output.stdout);
    assert_eq!(tokens.len(), 2);
    let first = decode_parts(&tokens[0]).1;
    assert_eq!(
        (&first["sub"], &first["name"], &first["groups"]),
        (&json!("a,1"), &json!("say \"hi\""), &json!(["g", "h"]))
    );
    let second = decode_parts(&tokens[1]).1;
    assert_eq!(
        (&second["sub"], &second["name"]),
        (&json!("b2"), &json!("two\r\nlines"))
    );
    assert!(second.get("groups").is_none());
}

#[test]
fn windows_powershell_files_are_read_utf16_and_type_line() {
    let dir = folder_with_key();
    // What `Export-Csv users.csv` writes in Windows PowerShell 5.1 without -NoTypeInformation,
    // saved by Out-File as UTF-16 with a byte order mark.
    let text = "#TYPE System.Management.Automation.PSCustomObject\r\n\"sub\",\"name\"\r\n\"anna\",\"Änna\"\r\n";
    let mut bytes = vec![0xff, 0xfe];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    fs::write(dir.path().join("users.csv"), bytes).unwrap();
    let output = succeeds(
        &mut Create::qscloud()
            .key_file("privatekey.pem")
            .args(["--users", "users.csv"])
            .run_in(dir.path()),
    );
    let payload = decode_parts(&lines(&output.stdout)[0]).1;
    assert_eq!(
        (&payload["sub"], &payload["name"]),
        (&json!("anna"), &json!("Änna"))
    );
}

#[test]
fn users_come_from_standard_input() {
    let dir = folder_with_key();
    for (format, text) in [
        (None, "sub\nanna\nbob\n"),
        (Some("jsonl"), "{\"sub\":\"anna\"}\n{\"sub\":\"bob\"}\n"),
    ] {
        let mut create = Create::qscloud()
            .key_file("privatekey.pem")
            .args(["--users", "-"]);
        if let Some(format) = format {
            create = create.args(["--users-format", format]);
        }
        let output = succeeds(create.run_in(dir.path()).write_stdin(text));
        let subs: Vec<Value> = lines(&output.stdout)
            .iter()
            .map(|t| decode_parts(t).1["sub"].clone())
            .collect();
        assert_eq!(subs, [json!("anna"), json!("bob")]);
    }
}

#[test]
fn users_format_overrides_the_file_name() {
    let dir = folder_with_key();
    fs::write(dir.path().join("users.txt"), "{\"sub\":\"anna\"}\n").unwrap();
    let output = succeeds(
        &mut Create::qscloud()
            .key_file("privatekey.pem")
            .args(["--users", "users.txt", "--users-format", "jsonl"])
            .run_in(dir.path()),
    );
    assert_eq!(
        decode_parts(&lines(&output.stdout)[0]).1["sub"],
        json!("anna")
    );
    // Without it, the same file is CSV whose header is the JSON text.
    let stderr = fails_cleanly(
        &mut Create::qscloud()
            .key_file("privatekey.pem")
            .args(["--users", "users.txt"])
            .run_in(dir.path()),
        dir.path(),
        1,
    );
    assert!(
        stderr.contains("'users.txt' looks like JSON Lines, not CSV"),
        "{stderr}"
    );
}

#[test]
fn a_large_file_gives_what_one_run_a_user_gives() {
    let dir = folder_with_key();
    let count = 3_000;
    let mut text = String::from("userid,name,groups\n");
    for n in 0..count {
        text.push_str(&format!("user{n},User {n},g{}\n", n % 7));
    }
    fs::write(dir.path().join("users.csv"), &text).unwrap();
    let output = Create::qseow_users()
        .args(["--userdir", "D", "--users", "users.csv"])
        .key_file("privatekey.pem")
        .run_in(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let tokens = lines(&output.stdout);
    assert_eq!(tokens.len(), count);
    // Every 500th user, made alone the way a script's loop does it: the same header and claims
    // (the times aside, which depend on the second each run starts in).
    for n in (0..count).step_by(500) {
        let alone = Create::qseow()
            .args([
                "--userid",
                &format!("user{n}"),
                "--username",
                &format!("User {n}"),
            ])
            .args(["--groups", &format!("g{}", n % 7)])
            .key_file("privatekey.pem")
            .run_in(dir.path())
            .output()
            .unwrap();
        let alone = common::single_token(&alone.stdout);
        let without_times = |token: &str| {
            let (header, mut payload) = decode_parts(token);
            let payload = payload.as_object_mut().unwrap();
            let validity = payload["exp"].as_u64().unwrap() - payload["iat"].as_u64().unwrap();
            payload.remove("iat");
            payload.remove("exp");
            (header, Value::Object(payload.clone()), validity)
        };
        assert_eq!(without_times(&tokens[n]), without_times(&alone), "user{n}");
    }
}

#[test]
fn bad_rows_are_all_listed_and_nothing_is_signed_or_made() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("users.csv"),
        "sub,email,email_verified\n\
         ,a@b.c,true\n\
         anna,a@b.c,yes\n\
         bob,b@b.c,\n\
         carl\n\
         dora,,\n\
         dora,,\n",
    )
    .unwrap();
    // --cert-create: a bad file makes no key either.
    let stderr = fails_cleanly(
        &mut Create::qscloud()
            .new_key()
            .args(["--users", "users.csv"])
            .run_in(dir.path()),
        dir.path(),
        1,
    );
    assert_eq!(
        stderr,
        "error: 'users.csv' line 2, column sub: is empty; every user needs a subject\n\
         error: 'users.csv' line 3, column email_verified: 'yes' is not true or false; write \
         true or false\n\
         error: 'users.csv' line 4, column email_verified: is empty; Qlik Cloud reads \
         email_verified with every email: write true if you have verified that the email \
         belongs to the user, else false\n\
         error: 'users.csv' line 5: has 1 value, the header has 3; quote a value that holds a \
         comma, such as \"Anderson, Anna\"\n\
         error: 'users.csv' line 7, column sub: sub dora is also on line 6; give each user once \
         (a second token for the same user is a second session)\n\
         error: 5 bad rows in 'users.csv' (all listed above); nothing was signed: fix them and \
         run again\n"
    );
}

#[test]
fn bad_json_lines_name_their_line() {
    let dir = folder_with_key();
    fs::write(
        dir.path().join("users.jsonl"),
        "{\"sub\":\"anna\"}\n{\"sub\":\"bob\",\n{\"sub\":\"carl\",\"email_verified\":\"yes\"}\n",
    )
    .unwrap();
    let stderr = fails_cleanly(
        &mut Create::qscloud()
            .key_file("privatekey.pem")
            .args(["--users", "users.jsonl"])
            .run_in(dir.path()),
        dir.path(),
        1,
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines[0].starts_with("error: 'users.jsonl' line 2: is not JSON ("),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with(
            "error: 'users.jsonl' line 3, column email_verified: 'yes' is not true or false"
        ),
        "{stderr}"
    );
    assert!(
        lines[2].starts_with("error: 2 bad rows in 'users.jsonl'"),
        "{stderr}"
    );
}

#[test]
fn twenty_bad_rows_are_listed_and_the_rest_counted() {
    let dir = folder_with_key();
    let text = format!("sub,email_verified\n{}", "anna,maybe\n".repeat(25));
    fs::write(dir.path().join("users.csv"), text).unwrap();
    let stderr = fails_cleanly(
        &mut Create::qscloud()
            .key_file("privatekey.pem")
            .args(["--users", "users.csv"])
            .run_in(dir.path()),
        dir.path(),
        1,
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 21, "{stderr}");
    assert_eq!(
        lines[20],
        "error: 25 bad rows in 'users.csv' (the first 20 listed above); nothing was signed: fix \
         them and run again"
    );
}

#[test]
fn file_problems_are_one_line() {
    let dir = folder_with_key();
    let cases: [(&str, &[u8], &str); 6] = [
        (
            "unknown.csv",
            b"sub,mail\nanna,a@b.c\n",
            "error: 'unknown.csv': column 'mail' is not one create-qscloud reads; its columns \
             are sub, name, email, email_verified, groups and claim.<name>\n",
        ),
        (
            "nosub.csv",
            b"name\nAnna\n",
            "error: 'nosub.csv' has no column sub in its header row (name); the first row names \
             the columns, such as sub,name,email,email_verified,groups\n",
        ),
        (
            "header-only.csv",
            b"sub,name\n",
            "error: 'header-only.csv' holds no users; give one user a row\n",
        ),
        (
            "empty.csv",
            b"",
            "error: 'empty.csv' is empty; the first row names the columns, such as \
             sub,name,email,email_verified,groups\n",
        ),
        (
            "binary.csv",
            b"sub\n\x00\x01",
            "error: --users 'binary.csv' is binary (it holds a NUL byte), not a CSV or JSON \
             Lines text file\n",
        ),
        (
            "latin1.csv",
            b"sub\nj\xf6rg\n",
            "error: --users 'latin1.csv' is not UTF-8 text; save it as UTF-8 (Export-Csv \
             -Encoding UTF8 in PowerShell)\n",
        ),
    ];
    for (file, contents, expected) in cases {
        fs::write(dir.path().join(file), contents).unwrap();
        let stderr = fails_cleanly(
            &mut Create::qscloud()
                .key_file("privatekey.pem")
                .args(["--users", file])
                .run_in(dir.path()),
            dir.path(),
            1,
        );
        assert_eq!(stderr, expected);
    }
    for (path, expected) in [
        ("/dev/zero", "is binary (it holds a NUL byte)"),
        (".", "is a folder; give the users file in it"),
        ("missing.csv", "cannot read --users 'missing.csv': "),
    ] {
        let stderr = fails_cleanly(
            &mut Create::qscloud()
                .key_file("privatekey.pem")
                .args(["--users", path])
                .run_in(dir.path()),
            dir.path(),
            1,
        );
        error_lines(stderr.as_bytes());
        assert!(stderr.contains(expected), "{path}: {stderr}");
    }
}

#[test]
fn options_for_one_user_are_usage_errors_naming_the_column() {
    let dir = folder_with_key();
    fs::write(dir.path().join("users.csv"), "sub\nanna\n").unwrap();
    let cases: [(Create, &[&str], &str); 6] = [
        (Create::qscloud(), &["--sub", "x"], "--sub"),
        (Create::qscloud(), &["--username", "x"], "--username"),
        (Create::qscloud(), &["--useremail", "x@y"], "--useremail"),
        (
            Create::qscloud(),
            &["--useremail-verified", "true"],
            "--useremail-verified",
        ),
        (Create::qseow_users(), &["--userid", "x"], "--userid"),
        (Create::qseow_users(), &["--username", "x"], "--username"),
    ];
    let columns = ["sub", "name", "email", "email_verified", "userid", "name"];
    for ((create, extra, option), column) in cases.into_iter().zip(columns) {
        let stderr = fails_cleanly(
            &mut create
                .key_file("privatekey.pem")
                .args(["--users", "users.csv"])
                .args(extra)
                .run_in(dir.path()),
            dir.path(),
            2,
        );
        assert_eq!(
            stderr,
            format!(
                "error: {option} is for one user; with --users, give each user's value in \
                 column {column} of the users file\n"
            )
        );
    }
}

#[test]
fn other_usage_errors() {
    let dir = folder_with_key();
    fs::write(dir.path().join("users.csv"), "sub,claim.dept\nanna,x\n").unwrap();
    let key = ["--cert-privatekey-file", "privatekey.pem"];
    let cases: [(Create, &[&str], i32, &str); 4] = [
        // Standard input cannot carry both.
        (
            Create::qscloud(),
            &["--cert-privatekey-file", "-", "--users", "-"],
            2,
            "both read standard input",
        ),
        // --users-format needs --users.
        (
            Create::qscloud().args(key),
            &["--sub", "a", "--users-format", "csv"],
            2,
            "--users <file>",
        ),
        // Without --users, create-qseow still needs its user.
        (Create::qseow_users().args(key), &[], 2, "--userid <userid>"),
        // A column that gives a claim --claim gives every user.
        (
            Create::qscloud().args(key),
            &["--users", "users.csv", "--claim", "dept=a"],
            1,
            "drop one of the two",
        ),
    ];
    for (create, args, code, expected) in cases {
        let stderr = fails_cleanly(
            create
                .args(args)
                .run_in(dir.path())
                .write_stdin("sub\nanna\n"),
            dir.path(),
            code,
        );
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

// /dev/full is Linux's.
#[cfg(target_os = "linux")]
#[test]
fn a_new_key_is_kept_only_when_every_token_is_delivered() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("users.csv"), "sub\nanna\nbob\n").unwrap();
    // Standard output that cannot be written (a full disk): exit 1 and no key files left.
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let output = common::command(env!("CARGO_BIN_EXE_qs-jwt"))
        .args(
            Create::qscloud()
                .new_key()
                .args(["--users", "users.csv"])
                .argv(),
        )
        .current_dir(dir.path())
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: cannot write to standard output"),
        "{stderr}"
    );
    let left: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["users.csv"], "{stderr}");

    let output = Create::qscloud()
        .new_key()
        .args(["--users", "users.csv"])
        .run_in(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let certificate = fs::read_to_string(dir.path().join("publickey.cer")).unwrap();
    for token in lines(&output.stdout) {
        verify_with_certificate(&token, &certificate, QLIK_CLOUD_AUDIENCE);
    }
}

#[test]
fn qlik_cloud_rules_are_warned_once_for_the_run() {
    let dir = folder_with_key();
    fs::write(dir.path().join("users.csv"), "sub,name\na,A\nb,\nc,C\nd,\n").unwrap();
    let output = Create::qscloud()
        .key_file("privatekey.pem")
        .args(["--users", "users.csv", "--expires", "2h"])
        .run_in(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("WARN ")).collect();
    assert_eq!(
        warnings,
        [
            "WARN Qlik Cloud will reject every token: the rule \"exp - nbf is at most 3600 \
             seconds\" fails (seen: 7200 seconds (2h)); use --expires 60m or less",
            "WARN Qlik Cloud will reject every token: the rule \"email is present\" fails \
             (seen: not present); fill columns email and email_verified",
            "WARN Qlik Cloud will reject the tokens of 2 of 4 users: the rule \"name is \
             present\" fails (seen: not present); fill column name (lines 3, 5)",
        ]
    );
    assert_eq!(lines(&output.stdout).len(), 4);
}

// A pseudo-terminal through util-linux's `script`: Linux only.
#[cfg(target_os = "linux")]
#[test]
fn progress_shows_on_a_terminal_only() {
    let dir = folder_with_key();
    let mut text = String::from("userid\n");
    for n in 0..400 {
        text.push_str(&format!("u{n}\n"));
    }
    fs::write(dir.path().join("users.csv"), text).unwrap();
    let args = "create-qseow --audience a --userdir D --expires 30m --cert-privatekey-file \
                privatekey.pem --users users.csv";
    let (code, screen) = common::on_terminal(dir.path(), &format!("{args} >/dev/null"), None);
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("/400 tokens"),
        "no progress bar: {screen:?}"
    );
    assert!(
        screen.contains("signed a token for each of 400 users"),
        "{screen}"
    );
    // With --loglevel warning a terminal shows nothing at all.
    let (code, screen) = common::on_terminal(
        dir.path(),
        &format!("{args} --loglevel warning >/dev/null"),
        None,
    );
    assert_eq!((code, screen.as_str()), (0, ""));
    // Standard error that is not a terminal: the summary alone.
    let output = Create::qseow_users()
        .key_file("privatekey.pem")
        .args(["--userdir", "D", "--users", "users.csv"])
        .run_in(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains("tokens,"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn nothing_secret_or_raw_reaches_the_terminal_from_a_users_file() {
    let dir = folder_with_key();
    // An escape sequence in a cell and a key pasted into the file by mistake.
    let key = fixture_text("rsa2048-pkcs8.pem").replace('\n', " ");
    let text = format!("sub,email_verified\n\"\x1b[31mred\",\"{key}\"\n");
    fs::write(dir.path().join("users.csv"), text).unwrap();
    let stderr = fails_cleanly(
        &mut Create::qscloud()
            .key_file("privatekey.pem")
            .args(["--users", "users.csv"])
            .run_in(dir.path()),
        dir.path(),
        1,
    );
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    // The key is refused as such, by line and column, and not quoted at all (issue 17).
    assert!(
        stderr.contains("line 2, column email_verified: holds key text"),
        "{stderr}"
    );
    assert!(!stderr.contains("MII"), "{stderr}");
}

#[test]
fn the_key_may_come_from_qsjwtprivkey() {
    let dir = folder_with_key();
    fs::write(dir.path().join("users.csv"), "userid\nanna\n").unwrap();
    let key = fixture_text("rsa2048-pkcs8.pem");
    let output = succeeds(
        Create::qseow_users()
            .args(["--userdir", "D", "--users", "users.csv"])
            .run_in(dir.path())
            .env("QSJWTPRIVKEY", &key),
    );
    verify_with_public_key(
        &lines(&output.stdout)[0],
        &fixture_text("rsa2048-public.pem"),
        QSEOW_AUDIENCE,
    );
}

/// Ctrl-C or SIGTERM during a long run with a new key: the run stops between chunks and exits
/// 1. Tokens went out, so the new key that signed them stays, as after a run that finished.
#[cfg(unix)]
#[test]
fn a_signal_stops_the_run_and_keeps_the_key_of_the_tokens_out() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    Create::qscloud()
        .new_key()
        .run_in(dir.path())
        .assert()
        .success();
    let mut text = String::from("sub\n");
    for n in 0..2_000 {
        text.push_str(&format!("u{n}\n"));
    }
    fs::write(dir.path().join("users.csv"), text).unwrap();
    let previous = fs::read(dir.path().join("privatekey.pem")).unwrap();

    let mut child = common::command(env!("CARGO_BIN_EXE_qs-jwt"))
        .args(
            Create::qscloud()
                .new_key()
                .args(["--force", "--users", "users.csv"])
                .argv(),
        )
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut tokens = BufReader::new(child.stdout.take().unwrap()).lines();
    // The first chunk is out: the new key is in place, the old one set aside.
    let first = tokens.next().unwrap().unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill only sends SIGTERM to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let read = tokens.count();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(read < 2_000, "the run was not stopped: {read} more tokens");
    assert!(stderr.contains("error: stopped by a signal; "), "{stderr}");
    assert!(
        stderr.contains(" of 2000 tokens were written whole before this, signed by the new key, which is kept for them"),
        "{stderr}"
    );
    assert_ne!(
        fs::read(dir.path().join("privatekey.pem")).unwrap(),
        previous
    );
    verify_with_certificate(
        &first,
        &fs::read_to_string(dir.path().join("publickey.cer")).unwrap(),
        QLIK_CLOUD_AUDIENCE,
    );
}

/// Ctrl-Break on Windows (Ctrl-C cannot be sent to a process group of its own) does what a
/// signal does on Unix: the run stops between chunks, exits 1, and keeps the key of the tokens
/// that went out. Skipped where the test runs without a console to send it through.
#[cfg(windows)]
#[test]
fn ctrl_break_stops_the_run_and_keeps_the_key_of_the_tokens_out() {
    use std::io::{BufRead, BufReader};
    use std::os::windows::process::CommandExt;
    use std::process::Stdio;
    use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, GenerateConsoleCtrlEvent};

    const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("sub\n");
    for n in 0..2_000 {
        text.push_str(&format!("u{n}\n"));
    }
    fs::write(dir.path().join("users.csv"), text).unwrap();
    let mut child = common::command(env!("CARGO_BIN_EXE_qs-jwt"))
        .args(
            Create::qscloud()
                .new_key()
                .args(["--users", "users.csv"])
                .argv(),
        )
        .current_dir(dir.path())
        .creation_flags(CREATE_NEW_PROCESS_GROUP)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut tokens = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokens.next().unwrap().unwrap();
    // SAFETY: sends Ctrl-Break to the process group of the child this test started.
    if unsafe { GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, child.id()) } == 0 {
        let _ = child.kill();
        let _ = child.wait();
        crate::common::skip::require(false, "a console to send Ctrl-Break through");
        return;
    }
    let read = tokens.count();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(read < 2_000, "the run was not stopped: {read} more tokens");
    assert!(stderr.contains("error: stopped by a signal; "), "{stderr}");
    assert!(stderr.contains("which is kept for them"), "{stderr}");
    verify_with_certificate(
        &first,
        &fs::read_to_string(dir.path().join("publickey.cer")).unwrap(),
        QLIK_CLOUD_AUDIENCE,
    );
}

/// A users file of `rows` Qlik Cloud users with long names (a few hundred rows a 64 KiB block),
/// and its subjects.
fn long_rows(rows: usize) -> (String, Vec<String>) {
    let mut text = String::from("sub,name\n");
    let subs: Vec<String> = (0..rows).map(|n| format!("u{n:05}")).collect();
    for sub in &subs {
        text.push_str(&format!("{sub},{}\n", "n".repeat(200)));
    }
    (text, subs)
}

/// Starts a run over `users.csv` in `dir` whose standard output is read by the test: once the
/// first token is out, the file was read once to its end and the second read is under way, and
/// the run waits on the pipe long before that read reaches the file's last rows.
fn started_run(
    dir: &std::path::Path,
) -> (
    std::process::Child,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = common::command(env!("CARGO_BIN_EXE_qs-jwt"))
        .args(
            Create::qscloud()
                .key_file("privatekey.pem")
                .args(["--users", "users.csv"])
                .argv(),
        )
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut tokens = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokens.next().unwrap().unwrap();
    assert_eq!(decode_parts(&first).1["sub"], json!("u00000"));
    (child, tokens)
}

/// The subjects of the tokens still to come, and the run's exit code and standard error.
fn rest_of_run(
    child: std::process::Child,
    tokens: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) -> (Vec<String>, Option<i32>, String) {
    let subs = tokens
        .map(|token| {
            let token = token.unwrap();
            decode_parts(&token).1["sub"].as_str().unwrap().to_owned()
        })
        .collect();
    let output = child.wait_with_output().unwrap();
    (
        subs,
        output.status.code(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn a_file_changed_in_place_between_the_reads_stops_the_run_unsigned() {
    use std::io::{Seek, SeekFrom, Write};
    let dir = folder_with_key();
    let (text, subs) = long_rows(1_200);
    let path = dir.path().join("users.csv");
    fs::write(&path, &text).unwrap();
    let (child, tokens) = started_run(dir.path());
    // The last row becomes another user, in place (same length, same file, same handle).
    let at = text.rfind("u01199").unwrap();
    let mut file = fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.seek(SeekFrom::Start(at as u64)).unwrap();
    file.write_all(b"x01199").unwrap();
    drop(file);
    let (rest, code, stderr) = rest_of_run(child, tokens);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "error: --users 'users.csv' changed while qs-jwt was reading it; nothing was signed \
             from the changed part"
        ),
        "{stderr}"
    );
    // Only rows the first read checked, in order, and the run stopped before the last block.
    assert!(rest.len() < 1_199, "{} tokens", rest.len());
    assert_eq!(rest, subs[1..=rest.len()]);
}

#[test]
fn a_file_that_grows_between_the_reads_stops_the_run() {
    use std::io::Write;
    let dir = folder_with_key();
    let (text, subs) = long_rows(1_200);
    let path = dir.path().join("users.csv");
    fs::write(&path, &text).unwrap();
    let (child, tokens) = started_run(dir.path());
    let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"unchecked,Nobody checked me\n").unwrap();
    drop(file);
    let (rest, code, stderr) = rest_of_run(child, tokens);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("error: --users 'users.csv' changed while qs-jwt was reading it"),
        "{stderr}"
    );
    assert!(!rest.contains(&"unchecked".to_owned()));
    assert_eq!(rest, subs[1..=rest.len()]);
}

#[test]
fn a_fifo_and_standard_input_are_read_twice_from_a_private_copy() {
    let dir = folder_with_key();
    let (text, subs) = long_rows(1_000);
    // A FIFO can be read once: the run copies it, checks the copy, then signs from it.
    let fifo = dir.path().join("users.csv");
    assert!(
        common::command("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let writer = {
        let (fifo, text) = (fifo.clone(), text.clone());
        std::thread::spawn(move || fs::write(fifo, text).unwrap())
    };
    let create = Create::qscloud()
        .key_file("privatekey.pem")
        .args(["--users", "users.csv"]);
    let output = succeeds(&mut create.run_in(dir.path()));
    writer.join().unwrap();
    let got: Vec<String> = lines(&output.stdout)
        .iter()
        .map(|t| decode_parts(t).1["sub"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, subs);
    fs::remove_file(&fifo).unwrap();

    // Standard input: a user given twice, far apart, is named with both lines (a second read
    // of the copy finds the first).
    let twice = format!("{text}u00003,again\n");
    let create = Create::qscloud()
        .key_file("privatekey.pem")
        .args(["--users", "-"]);
    let stderr = fails_cleanly(create.run_in(dir.path()).write_stdin(twice), dir.path(), 1);
    assert!(
        stderr.contains("standard input line 1002, column sub: sub u00003 is also on line 5"),
        "{stderr}"
    );
}

/// Issue 31: a last row that opens a quote and never closes it was read as a user (`bjorn`) and
/// signed: the csv reader takes the end of the file as closing the quote.
#[test]
fn a_quote_never_closed_on_the_last_line_is_refused_with_its_line() {
    let dir = folder_with_key();
    for (file, text) in [
        ("comma.csv", "sub\nanna\n\"bjorn"),
        ("crlf.csv", "sub,name\r\nanna,A\r\n\"bjorn,B\r\n"),
        ("semicolon.csv", "sub;name\nanna;A\n\"bjorn;B\n"),
        ("tab.csv", "sub\tname\nanna\tA\nbjorn\t\"B"),
    ] {
        fs::write(dir.path().join(file), text).unwrap();
        let stderr = fails_cleanly(
            &mut Create::qscloud()
                .key_file("privatekey.pem")
                .args(["--users", file])
                .run_in(dir.path()),
            dir.path(),
            1,
        );
        assert_eq!(
            stderr,
            format!(
                "error: '{file}': a quote (\") on line 3 is not closed, so everything from there \
                 to the end of the file is one value; close it, or write a quote inside a quoted \
                 value as \"\"\n"
            ),
            "{text:?}"
        );
    }
}

/// Issue 31: rows alike but for their id share one payload check; each row still counts, on its
/// own line, whether the row before it was alike or not.
#[test]
fn rows_alike_but_for_their_id_are_each_counted_with_their_line() {
    let dir = folder_with_key();
    fs::write(
        dir.path().join("users.csv"),
        "sub,name\na,\nb,\nc,C\nd,C\ne,\nf,\n",
    )
    .unwrap();
    let output = Create::qscloud()
        .key_file("privatekey.pem")
        .args(["--users", "users.csv"])
        .run_in(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("WARN ")).collect();
    assert_eq!(
        warnings,
        [
            "WARN Qlik Cloud will reject the tokens of 4 of 6 users: the rule \"name is \
             present\" fails (seen: not present); fill column name (lines 2, 3, 6, 7)",
            "WARN Qlik Cloud will reject every token: the rule \"email is present\" fails \
             (seen: not present); fill columns email and email_verified",
        ]
    );
    assert_eq!(lines(&output.stdout).len(), 6);
}
