//! Property tests: the parsers take any input and answer with a value or an error, never a
//! panic; what create signs, decode reads back unchanged; `--claim` values keep their JSON.

use std::time::{Duration, UNIX_EPOCH};

use crate::common::{NOW, fixture_text};
use proptest::prelude::*;
use qs_jwt::claims::{parse_claim, qseow_claims, qseow_header};
use qs_jwt::cli::create::CreateQseowArgs;
use qs_jwt::cli::{Command, try_parse_from};
use qs_jwt::commands::decode::report;
use qs_jwt::expires::{MAX_TIMESTAMP, parse_expires};
use qs_jwt::keys::{self, KeySource};
use qs_jwt::qlik::check;
use qs_jwt::qlik::rules::Profile;
use qs_jwt::token;
use qs_jwt::users::{RowClaim, TableFormat, TableRules, UserRow, read_table};
use serde_json::{Map, Value, json};

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e15..1e15f64).prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(
        prop_oneof![
            Just("alg".to_owned()),
            Just("kid".to_owned()),
            Just("aud".to_owned()),
            Just("nbf".to_owned()),
            Just("exp".to_owned()),
            Just("iat".to_owned()),
            Just("sub".to_owned()),
            Just("groups".to_owned()),
            "[a-zA-Z_]{1,8}",
        ],
        json_value(),
        0..10,
    )
    .prop_map(|m| m.into_iter().collect())
}

proptest! {
    #[test]
    fn expires_never_panics(text in ".{0,40}") {
        let _ = parse_expires(&text);
    }

    #[test]
    fn expires_reads_every_number_and_unit(
        number in 1u64..100_000,
        (unit, seconds) in prop_oneof![
            Just(("s", 1u64)), Just(("sec", 1)), Just(("m", 60)), Just(("Minutes", 60)),
            Just(("h", 3_600)), Just(("hrs", 3_600)), Just(("d", 86_400)), Just(("DAYS", 86_400)),
            Just(("w", 604_800)), Just(("weeks", 604_800)),
        ],
        space in prop_oneof![Just(""), Just(" ")],
    ) {
        let parsed = parse_expires(&format!("{number}{space}{unit}"));
        prop_assert_eq!(parsed, Ok(Duration::from_secs(number * seconds)));
    }

    #[test]
    fn expires_is_never_beyond_the_year_9999(text in "[0-9]{1,25}(\\.[0-9]{1,12})? ?[ywdhms]") {
        if let Ok(validity) = parse_expires(&text) {
            prop_assert!(validity.as_secs() >= 1 && validity.as_secs() <= MAX_TIMESTAMP);
        }
    }

    #[test]
    fn pem_normaliser_and_key_readers_never_panic(text in "(-----BEGIN [A-Z ]{0,20}-----)?[ -~\\n\\r\\\\]{0,200}(-----END [A-Z ]{0,20}-----)?") {
        let _ = keys::normalise_pem(&text);
        let _ = keys::signing_key(&KeySource::Text(&text), None, UNIX_EPOCH);
        let _ = keys::verifying_key(None, Some(&text));
    }

    #[test]
    fn a_key_with_damaged_line_breaks_still_loads(
        breaks in prop::collection::vec(prop_oneof![Just("\n"), Just("\r\n"), Just("\\n"), Just(" ")], 64)
    ) {
        let pem = fixture_text("rsa2048-pkcs8.pem");
        let mut damaged = String::new();
        for (i, line) in pem.lines().enumerate() {
            damaged.push_str(line);
            damaged.push_str(breaks[i % breaks.len()]);
        }
        let key = keys::signing_key(&KeySource::Text(&damaged), None, UNIX_EPOCH);
        prop_assert!(key.is_ok(), "{:?}", key.err().map(|e| e.to_string()));
    }

    #[test]
    fn the_decoder_never_panics(text in "[ -~]{0,120}") {
        let _ = token::parts(token::clean(&text));
    }

    #[test]
    fn the_decoder_never_panics_on_any_bytes_in_the_parts(
        header in prop::collection::vec(any::<u8>(), 0..64),
        payload in prop::collection::vec(any::<u8>(), 0..64),
        signature in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        use base64::Engine;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let _ = token::parts(&format!("{}.{}.{}", b64(&header), b64(&payload), b64(&signature)));
    }

    #[test]
    fn reports_and_checks_take_any_header_and_payload(
        header in json_object(),
        payload in json_object(),
        now in any::<u64>(),
        audience in prop::option::of("[a-z]{1,5}"),
    ) {
        for profile in [Profile::Qseow, Profile::Qscloud] {
            let report = check::evaluate(profile, &header, &payload, now, audience.as_deref());
            prop_assert_eq!(report.passed, report.failures().next().is_none());
        }
        let key = keys::verifying_key(None, Some(&fixture_text("rsa2048-public.pem"))).unwrap();
        let parts = token::TokenParts {
            header,
            payload,
            signing_input: "e30.e30".to_owned(),
            signature: "c2ln".to_owned(),
        };
        let report = report(parts, key.as_ref(), now, audience.as_deref(), None, Some(Profile::Qscloud));
        prop_assert!(report.failure().is_some(), "a made-up signature never verifies");
        prop_assert!(serde_json::to_string(&report).is_ok());
    }

    #[test]
    fn claim_values_round_trip_as_json(name in "[a-z][a-z0-9_]{0,10}", value in json_value()) {
        let text = format!("{name}={value}");
        let claim = parse_claim(&text).unwrap();
        prop_assert_eq!(claim.name, name);
        prop_assert_eq!(claim.value, value);
    }

    #[test]
    fn claim_text_that_is_not_json_stays_a_string(name in "[a-z]{1,8}", raw in "[a-zA-Z][ -~]{0,30}") {
        prop_assume!(serde_json::from_str::<Value>(&raw).is_err());
        let claim = parse_claim(&format!("{name}={raw}")).unwrap();
        prop_assert_eq!(claim.value, Value::String(raw));
    }
}

proptest! {
    // Each case signs with a 2048-bit key; fewer cases keep the suite quick.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn what_create_signs_decode_reads_back(
        userid in "[a-zA-Z0-9._@]{1,20}",
        userdir in "[A-Z0-9_]{1,12}",
        username in prop::option::of("[a-zA-Z][a-zA-Z .'-]{0,20}"),
        groups in prop::collection::vec("[a-zA-Z0-9][a-zA-Z0-9 _]{0,12}", 0..4),
        claims in prop::collection::btree_map("x[a-z]{1,6}", json_value(), 0..3),
        minutes in 1u64..100_000,
    ) {
        let expires = format!("{minutes}m");
        let mut argv: Vec<String> = ["qs-jwt", "create-qseow", "--userdir", &userdir, "--userid", &userid,
            "--audience", "aud", "--expires", &expires]
            .map(str::to_owned)
            .to_vec();
        if let Some(name) = &username {
            argv.extend(["--username".to_owned(), name.clone()]);
        }
        for group in &groups {
            argv.extend(["--groups".to_owned(), group.clone()]);
        }
        for (name, value) in &claims {
            argv.extend(["--claim".to_owned(), format!("{name}={value}")]);
        }
        let args: CreateQseowArgs = match try_parse_from(&argv).unwrap().command {
            Command::CreateQseow(args) => args,
            _ => unreachable!("parsed as create-qseow"),
        };
        let payload = qseow_claims(&args.token_input(), NOW).unwrap();
        let key = keys::signing_key(&KeySource::Text(&fixture_text("rsa2048-pkcs1.pem")), None, UNIX_EPOCH).unwrap();
        let token = token::sign(&qseow_header(), &payload, &key.key).unwrap();

        let parts = token::parts(&token).unwrap();
        prop_assert_eq!(Value::Object(parts.payload.clone()), serde_json::to_value(&payload).unwrap());
        for (name, value) in &claims {
            prop_assert_eq!(&parts.payload[name.as_str()], value);
        }
        let public = keys::verifying_key(None, Some(&fixture_text("rsa2048-public.pem"))).unwrap().unwrap();
        prop_assert!(token::verify(&parts, &public).is_ok());
        let checked = check::evaluate(Profile::Qseow, &parts.header, &parts.payload, NOW, Some("aud"));
        prop_assert!(checked.passed, "{:?}", checked);
    }
}

/// A key mangled the ways keys travel: line breaks written out or replaced by a separator,
/// labels in another case or without spaces, URL encoding, invisible characters, markers cut.
fn mangled_key() -> impl Strategy<Value = (String, String)> {
    let keys = prop_oneof![
        Just("rsa2048-pkcs1.pem"),
        Just("rsa2048-pkcs8.pem"),
        Just("rsa2048-encrypted-pkcs8.pem"),
        Just("ec-p256-pkcs8.pem"),
    ];
    let line_break = prop_oneof![
        Just("\n"),
        Just("\\n"),
        Just("\\r\\n"),
        Just("\\u000a"),
        Just("|"),
        Just(","),
        Just(" "),
        Just("%0A"),
        Just("\r\n"),
        Just(""),
    ];
    (
        keys,
        line_break,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0..40usize,
        any::<bool>(),
    )
        .prop_map(
            |(name, line_break, lower, no_spaces, url, invisible_every, cut)| {
                let pem = fixture_text(name);
                // A cut key is its body alone: the marker lines go before the line breaks are
                // mangled (after, a key of one line would be dropped whole, and an empty key
                // tests nothing).
                let body = match cut {
                    true => pem
                        .trim()
                        .lines()
                        .filter(|l| !l.contains("-----"))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    false => pem.trim().to_owned(),
                };
                let mut text = body.replace('\n', line_break);
                if lower {
                    text = text.replace("PRIVATE KEY", "private key");
                }
                if no_spaces {
                    text = text
                        .replace("BEGIN ", "BEGIN")
                        .replace("END ", "END")
                        .replace("PRIVATE KEY", "PRIVATEKEY");
                }
                if url {
                    text = text
                        .replace('+', "%2B")
                        .replace('/', "%2F")
                        .replace('=', "%3D");
                }
                if invisible_every > 0 {
                    text = text
                        .chars()
                        .enumerate()
                        .flat_map(|(i, c)| {
                            let zw = (i % invisible_every == 0).then_some('\u{200b}');
                            std::iter::once(c).chain(zw)
                        })
                        .collect();
                }
                (pem, text)
            },
        )
}

/// Every 20-character run of a PEM key's base64 body.
fn key_windows(pem: &str) -> Vec<String> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----") && !l.contains(':'))
        .collect();
    let chars: Vec<char> = body.chars().collect();
    chars.windows(20).map(|w| w.iter().collect()).collect()
}

/// Every option that can reject a value, with the key as that value.
fn argv_with_key(option: usize, key: &str) -> Vec<String> {
    let qseow = [
        "qs-jwt",
        "create-qseow",
        "--userdir",
        "D",
        "--userid",
        "u",
        "--audience",
        "a",
    ];
    let with = |rest: &[&str]| -> Vec<String> {
        qseow.iter().chain(rest).map(|s| (*s).to_owned()).collect()
    };
    let plain = |args: &[&str]| -> Vec<String> { args.iter().map(|s| (*s).to_owned()).collect() };
    match option {
        0 => with(&["--expires", key]),
        1 => with(&["--expires", "1h", "--cert-privatekey-file", key]),
        2 => with(&["--expires", "1h", "--cert-create", key]),
        3 => with(&[
            "--expires",
            "1h",
            "--cert-create",
            "--cert-create-expires-days",
            key,
        ]),
        4 => with(&["--expires", "1h", "--output", key]),
        5 => with(&["--expires", "1h", "--loglevel", key]),
        6 => with(&["--expires", "1h", key]),
        7 => with(&["--expires", "1h", "--claim", &format!("iat={key}")]),
        8 => plain(&[
            "qs-jwt",
            "create-qscloud",
            "--issuer",
            "i",
            "--keyid",
            "k",
            "--expires",
            "1h",
            "--useremail",
            "e",
            "--useremail-verified",
            key,
        ]),
        9 => plain(&["qs-jwt", "decode", "--jwt", key]),
        10 => plain(&["qs-jwt", "decode", "--jwt-file", key]),
        11 => plain(&["qs-jwt", "decode", "--jwt", "a.b.c", "--check", key]),
        12 => plain(&["qs-jwt", "completions", key]),
        _ => plain(&["qs-jwt", key]),
    }
}

/// What the binary would print on stderr for `argv`, run in-process up to the error. Only
/// paths without side effects are run: no key is created, nothing is written.
fn error_text(argv: &[String]) -> Option<String> {
    let cli = match try_parse_from(argv) {
        Ok(cli) => cli,
        Err(err) => return Some(qs_jwt::cli::render_clap(&err, false)),
    };
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    let result = match &cli.command {
        Command::CreateQseow(args) if !args.key.cert_create => {
            qs_jwt::commands::create::create_qseow(args, now).map(|_| ())
        }
        Command::Decode(args) => qs_jwt::commands::decode::decode(args, now).map(|_| ()),
        _ => return None,
    };
    result.err().map(|err| qs_jwt::error::render(&err, false))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Issue 8, class 5: whatever shape a key arrives in and wherever it lands, no 20 characters
    /// of its base64 reach an error.
    #[test]
    fn a_mangled_key_in_any_option_never_reaches_an_error((pem, key) in mangled_key(), option in 0..14usize) {
        let argv = argv_with_key(option, &key);
        if let Some(text) = error_text(&argv) {
            for window in key_windows(&pem) {
                prop_assert!(!text.contains(&window), "{} survived in {}", window, text);
            }
        }
    }

    /// Redaction on its own, with the key anywhere in other text.
    #[test]
    fn redaction_leaves_nothing_of_a_key((pem, key) in mangled_key(), before in "[ -~]{0,30}", after in "[ -~]{0,30}") {
        let text = format!("{before}{key}{after}");
        let shown = qs_jwt::error::for_people(&text);
        for window in key_windows(&pem) {
            prop_assert!(!shown.contains(&window), "{} survived in {}", window, shown);
        }
    }
}

/// An opaque id as identity providers issue them: 16 to 64 base62 or base64url characters.
fn opaque_id() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Za-z0-9]{16,64}", "[A-Za-z0-9_-]{16,64}"]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Issue 17: a random id, alone or as a folder in a path, is shown as given in the messages
    /// that quote it, and is never taken for key text where a name belongs.
    #[test]
    fn a_random_id_is_shown_as_given(id in opaque_id(), date in "20[0-9]{2}-[01][0-9]-[0-3][0-9]") {
        for value in [
            id.clone(),
            format!("./Keys/{id}/Prod2025Q3/privatekey.pem"),
            format!("C:\\Users\\Administrator\\QlikKeys\\{id}\\{date}\\privatekey.pem"),
            format!("/tmp/tmp{}/{id}/", &id[..8].to_ascii_lowercase()),
        ] {
            prop_assert!(!qs_jwt::secret::holds_key_material(&value), "{}", value);
            for message in [
                format!("cannot read --cert-privatekey-file '{value}': No such file or directory"),
                format!("'users.csv' line 3, column sub: sub {value} is also on line 2"),
                format!("hint: chmod 600 '{value}'"),
            ] {
                prop_assert_eq!(qs_jwt::error::for_people(&message), message);
            }
            // And through the binary's own code, up to the error it prints.
            // `--jwt-file=<id>`: an id may start with `-`.
            let argv: Vec<String> = ["qs-jwt", "decode", &format!("--jwt-file={value}")]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            let text = error_text(&argv).unwrap_or_default();
            prop_assert!(text.contains(&value) && !text.contains("redacted"), "{}", text);
        }
    }
}

/// A value of a users file that survives CSV as written: not empty (empty means absent), no
/// blank at either end (cells are trimmed), anything else: separators, quotes, line breaks,
/// control characters, non-ASCII.
fn cell_text(extra: &'static str) -> impl Strategy<Value = String> {
    let pattern = format!("[a-zA-Z0-9 ,\"'\\n\\r\\t\\x1b\u{e9}\u{20ac}.@{extra}]{{1,12}}");
    proptest::string::string_regex(&pattern)
        .unwrap()
        .prop_filter("no blank at the ends", |s| !s.is_empty() && s.trim() == s)
}

/// A user id or directory: as [`cell_text`], without control characters (refused in an id).
fn id_text() -> impl Strategy<Value = String> {
    cell_text(";").prop_filter("no control character", |s| !s.chars().any(char::is_control))
}

/// A claim value of any JSON kind but null (null means absent).
fn claim_in_table() -> impl Strategy<Value = Value> {
    json_value().prop_filter("null means absent", |v| !v.is_null())
}

/// A table of users for `profile`, as `UserRow`s with line numbers left at 0, and the names of
/// its claim columns.
fn user_table(profile: Profile) -> impl Strategy<Value = (Vec<UserRow>, Vec<String>)> {
    let reserved = qs_jwt::claims::claims_set_by(profile);
    let names = prop::collection::btree_set("[a-z]{1,6}", 0..3).prop_map(move |names| {
        names
            .into_iter()
            .filter(|n| !reserved.contains(&n.as_str()))
            .collect::<Vec<_>>()
    });
    names.prop_flat_map(move |names| {
        let claim_count = names.len();
        let row = (
            id_text(),
            prop::option::of(id_text()),
            prop::option::of(cell_text(";")),
            prop::option::of(cell_text(";")),
            any::<bool>(),
            prop::collection::vec(cell_text(""), 0..3),
            prop::collection::vec(prop::option::of(claim_in_table()), claim_count),
        );
        let names_for_rows = names.clone();
        prop::collection::vec(row, 1..6).prop_map(move |rows| {
            // Each user once, as the product tells users apart: a Qlik Cloud subject exactly,
            // a QSEoW user id folded (`p` and `P` are one user, refused as a repeat).
            let mut seen = std::collections::HashSet::new();
            let rows: Vec<UserRow> = rows
                .into_iter()
                .filter(|row| {
                    seen.insert(match profile {
                        Profile::Qseow => qs_jwt::users::qseow_folded(&row.0),
                        Profile::Qscloud => row.0.clone(),
                    })
                })
                .map(
                    |(id, userdir, name, email, verified, groups, claims)| UserRow {
                        line: 0,
                        id: id.into(),
                        userdir: match profile {
                            Profile::Qseow => Some(userdir.as_deref().unwrap_or("DEFAULT").into()),
                            Profile::Qscloud => None,
                        },
                        email_verified: match profile {
                            Profile::Qscloud if email.is_some() => Some(verified),
                            _ => None,
                        },
                        name: name.map(Into::into),
                        email: email.map(Into::into),
                        groups: groups.iter().map(|g| g.as_str().into()).collect(),
                        claims: names_for_rows
                            .iter()
                            .zip(claims)
                            .filter_map(|(name, value)| {
                                value.map(|value| RowClaim {
                                    name: name.as_str().into(),
                                    json: value.to_string().into(),
                                })
                            })
                            .collect(),
                    },
                )
                .collect();
            (rows, names_for_rows.clone())
        })
    })
}

/// A claim's cell: a string as it is when `--claim` would read it back the same, else JSON.
fn claim_cell(value: &Value) -> String {
    match value {
        Value::String(text)
            if !text.is_empty()
                && text.trim() == text
                && qs_jwt::claims::claim_value(text) == *value =>
        {
            text.clone()
        }
        other => other.to_string(),
    }
}

fn write_csv(profile: Profile, rows: &[UserRow], names: &[String], crlf: bool) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(if crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(Vec::new());
    let mut header: Vec<String> = match profile {
        Profile::Qscloud => ["sub", "name", "email", "email_verified", "groups"],
        Profile::Qseow => ["userid", "userdir", "name", "email", "groups"],
    }
    .map(String::from)
    .to_vec();
    header.extend(names.iter().map(|n| format!("claim.{n}")));
    writer.write_record(&header).unwrap();
    for row in rows {
        let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
        let second = match profile {
            Profile::Qscloud => text(row.name.as_deref()),
            Profile::Qseow => text(row.userdir.as_deref()),
        };
        let (third, fourth) = match profile {
            Profile::Qscloud => (
                text(row.email.as_deref()),
                row.email_verified
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
            ),
            Profile::Qseow => (text(row.name.as_deref()), text(row.email.as_deref())),
        };
        let groups: Vec<&str> = row.groups.iter().map(|g| &**g).collect();
        let mut record = vec![row.id.to_string(), second, third, fourth, groups.join(";")];
        for name in names {
            let claim = row.claims.iter().find(|c| *c.name == **name);
            record.push(
                claim
                    .map(|c| claim_cell(&c.to_extra().value))
                    .unwrap_or_default(),
            );
        }
        writer.write_record(&record).unwrap();
    }
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

fn write_json_lines(profile: Profile, rows: &[UserRow]) -> String {
    let mut text = String::new();
    for row in rows {
        let mut object = Map::new();
        let id = match profile {
            Profile::Qscloud => "sub",
            Profile::Qseow => "userid",
        };
        object.insert(id.into(), json!(&*row.id));
        if profile == Profile::Qseow {
            object.insert("userdir".into(), json!(row.userdir.as_deref()));
        }
        object.insert("name".into(), json!(row.name.as_deref()));
        object.insert("email".into(), json!(row.email.as_deref()));
        if let Some(verified) = row.email_verified {
            object.insert("email_verified".into(), json!(verified));
        }
        let groups: Vec<&str> = row.groups.iter().map(|g| &**g).collect();
        object.insert("groups".into(), json!(groups));
        for claim in &row.claims {
            object.insert(format!("claim.{}", claim.name), claim.to_extra().value);
        }
        text.push_str(&Value::Object(object).to_string());
        text.push('\n');
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Issue 11: any user table written as CSV (LF or CRLF) or as JSON Lines reads back as the
    /// same users, in the same order, each on the line it was written on.
    #[test]
    fn a_user_table_round_trips_through_csv_and_json_lines(
        (profile, (rows, names)) in prop_oneof![Just(Profile::Qscloud), Just(Profile::Qseow)]
            .prop_flat_map(|profile| (Just(profile), user_table(profile))),
        crlf in any::<bool>(),
    ) {
        let rules = TableRules {
            profile,
            default_userdir: Some("DEFAULT"),
            shared_claims: &[],
            file: "'users'",
        };
        let csv_text = write_csv(profile, &rows, &names, crlf);
        let from_csv = read_table(csv_text.clone(), TableFormat::Csv, &rules)
            .map_err(|e| TestCaseError::fail(format!("{e:?}\n{csv_text}")))?;
        let json_text = write_json_lines(profile, &rows);
        let from_json = read_table(json_text.clone(), TableFormat::JsonLines, &rules)
            .map_err(|e| TestCaseError::fail(format!("{e:?}\n{json_text}")))?;
        let without_lines = |rows: &[UserRow]| -> Vec<UserRow> {
            rows.iter().map(|r| UserRow { line: 0, ..r.clone() }).collect()
        };
        prop_assert_eq!(without_lines(&from_csv), rows.clone(), "CSV:\n{}", csv_text);
        prop_assert_eq!(without_lines(&from_json), rows.clone(), "JSON Lines:\n{}", json_text);
        // JSON Lines: a user a line. CSV: the line each record starts on, counting the line
        // breaks inside quoted values.
        let json_lines: Vec<u64> = from_json.iter().map(|r| r.line).collect();
        prop_assert_eq!(json_lines, (1..=rows.len() as u64).collect::<Vec<_>>());
        let mut expected_line = 2;
        for (row, read) in rows.iter().zip(&from_csv) {
            prop_assert_eq!(read.line, expected_line, "{}", csv_text);
            let record = write_csv(profile, std::slice::from_ref(row), &names, crlf);
            let body = record.split_once(if crlf { "\r\n" } else { "\n" }).unwrap().1;
            expected_line += body.matches('\n').count() as u64;
        }
    }
}
