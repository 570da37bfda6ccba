//! Every bash example in README.md and docs/ runs as written. The blocks of one document run in
//! order in one bash (`set -euo pipefail`), in a new folder, with the built `qs-jwt` on PATH, so
//! a document is one story: what its first example makes, the later ones use. `curl` is a stand-in
//! that reaches no server and says so; a block that cannot run here (it builds qs-jwt, needs a
//! Vault server, takes minutes) carries `<!-- not run by tests/it/examples.rs: why -->` right above
//! its fence. In the README's quick start, `cargo run --release --` is the built binary and
//! `cargo test` is this test run itself, so it is left out.

#![cfg(unix)]

use crate::common::identity_providers::ADMIN_API_KEY;
use crate::common::oauth_server::{OauthClient, OauthConfig};
use crate::common::qlik_server::{Behaviour, QlikServer, Trust};
use crate::common::qrs_server::QrsServer;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const SKIP: &str = "<!-- not run by tests/it/examples.rs:";

/// The bash blocks of a Markdown text, each with its line number, less the marked ones.
fn bash_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines().enumerate().peekable();
    let mut previous = "";
    while let Some((number, line)) = lines.next() {
        if line.trim() == "```bash" {
            let mut block = String::new();
            for (_, inner) in lines.by_ref() {
                if inner.trim() == "```" {
                    break;
                }
                block.push_str(inner.trim_start_matches("   "));
                block.push('\n');
            }
            if !previous.trim_start().starts_with(SKIP) {
                blocks.push((number + 1, block));
            }
        }
        previous = line;
    }
    blocks
}

/// A folder of stand-ins for what reaches the network, and `qs-jwt` itself.
fn tools(dir: &Path) -> String {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_qs-jwt"), bin.join("qs-jwt")).unwrap();
    let curl = bin.join("curl");
    fs::write(
        &curl,
        "#!/bin/sh\necho 'curl (a stand-in in tests/it/examples.rs) reached no server' >&2\n\
         echo '{}'\n",
    )
    .unwrap();
    fs::set_permissions(&curl, fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs the document's blocks in order and fails with the block that failed.
fn runs_as_written(document: &str) {
    runs_with(document, &[], &[]);
}

/// As `runs_as_written`, with these host names replaced (a document's Qlik servers by the local
/// stand-ins) and these variables set.
fn runs_with(document: &str, hosts: &[(&str, String)], vars: &[(&str, String)]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(document);
    let markdown = fs::read_to_string(&path).unwrap();
    let blocks = bash_blocks(&markdown);
    assert!(!blocks.is_empty(), "{document} has no bash example");

    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    fs::create_dir(&work).unwrap();
    runs_in(document, &blocks, dir.path(), &work, hosts, vars);
}

fn runs_in(
    document: &str,
    blocks: &[(usize, String)],
    dir: &Path,
    work: &Path,
    hosts: &[(&str, String)],
    vars: &[(&str, String)],
) {
    let mut script = String::from("set -euo pipefail\n");
    for (line, block) in blocks {
        let block = hosts
            .iter()
            .fold(block.clone(), |block, (host, url)| block.replace(host, url));
        let block = block
            .replace("cargo run --release -- ", "qs-jwt ")
            .lines()
            .filter(|l| !l.starts_with("cargo test"))
            .collect::<Vec<_>>()
            .join("\n");
        script.push_str(&format!("echo '>>> {document}:{line}' >&2\n{block}\n"));
    }
    let mut bash = Command::new("bash");
    bash.arg("-c")
        .arg(&script)
        .current_dir(work)
        .env("PATH", tools(dir))
        .env("HOME", dir);
    for (name, value) in vars {
        bash.env(name, value);
    }
    let output = bash
        // The documents' one placeholder variable: a tenant admin's API key, for curl.
        .env("API_KEY", "placeholder-api-key")
        .env_remove("QSJWTPRIVKEY")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rfind(|l| l.starts_with(">>> "))
        .unwrap_or("before the first block");
    assert!(
        output.status.success(),
        "{last} fails (exit {:?}):\n{stderr}",
        output.status.code()
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn the_readme_runs_as_written() {
    if !["jq", "openssl"]
        .map(crate::common::skip::require_tool)
        .iter()
        .all(|has| *has)
    {
        return;
    }
    runs_as_written("README.md");
}

/// The OAuth client's secret in the walk, from "the secret store" (the environment).
const OAUTH_SECRET: &str = "walk-client-secret-0f6a";

/// The walk from a new key to a proven login, for both kinds of Qlik, against local stand-ins
/// configured as the walk tells an admin to configure Qlik (issuer, key ID, prefix, audience,
/// and the certificate the walk's first step makes).
#[test]
fn qlik_setup_runs_as_written_to_a_proven_login() {
    if !crate::common::skip::require_tool("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    fs::create_dir(&work).unwrap();
    let trust = Trust {
        issuer: "myorg.example.com".to_owned(),
        key_id: "qsjwt-2026-11".to_owned(),
        prefix: "jwt".to_owned(),
        audience: "qlik-jwt".to_owned(),
        certificate: Some(work.join("keys/qsjwt_publickey.cer")),
        // The OAuth client the walk tells the admin to make, holding the JWK the walk writes.
        oauth: OauthConfig {
            clients: vec![OauthClient {
                id: "0123456789abcdef0123456789abcdef".to_owned(),
                secret: Some(OAUTH_SECRET.to_owned()),
                public_key_file: Some(work.join("jwk.json")),
                more_key_files: vec![work.join("jwk-es384.json")],
                client_credentials: true,
                impersonation: true,
                ..OauthClient::default()
            }],
            users: vec![("anna", "64d0f0a7a1b2c3d4e5f60718")],
            ..OauthConfig::default()
        },
        ..Trust::default()
    };
    let cloud = QlikServer::start_with(Behaviour::QlikCloud, trust);
    // The QSEoW site: a repository with no virtual proxy for JWT, which the walk's
    // setup-qseow --apply configures, and its proxy, where the walk's login goes.
    let qseow = QrsServer::start();
    // The QMC's export, copied where the walk says.
    let exported = work.join("qmc-certs");
    fs::create_dir(&exported).unwrap();
    qseow.write_certificates(&exported);
    // rustls-native-certs reads SSL_CERT_FILE in place of the system's store.
    let authorities = dir.path().join("test-ca.pem");
    fs::write(&authorities, format!("{}{}", cloud.ca_pem, qseow.root_pem)).unwrap();

    let markdown =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/qlik-setup.md"))
            .unwrap();
    let blocks = bash_blocks(&markdown);
    runs_in(
        "docs/qlik-setup.md",
        &blocks,
        dir.path(),
        &work,
        &[
            ("https://mytenant.eu.qlikcloud.com", cloud.url()),
            // The repository's port first: the hub's origin is a prefix of it.
            ("https://qlikserver.example.com:4242", qseow.qrs_url()),
            ("https://qlikserver.example.com", qseow.proxy_url()),
            // The hub's host name in the host allow list is the stand-in's.
            (
                "--allow-host qlikserver.example.com",
                "--allow-host 127.0.0.1".to_owned(),
            ),
        ],
        &[
            ("SSL_CERT_FILE", authorities.display().to_string()),
            ("QLIK_API_KEY", ADMIN_API_KEY.to_owned()),
            ("QLIK_CLIENT_SECRET", OAUTH_SECRET.to_owned()),
        ],
    );
    let logins = |server: &QlikServer, path: &str| {
        server
            .requests()
            .iter()
            .filter(|r| r.target.starts_with(path))
            .count()
    };
    assert_eq!(
        logins(&cloud, "/login/jwt-session"),
        3,
        "three logins: the walk's, doctor-qscloud --login's, and the rotation's with the new key"
    );
    // --apply made the identity provider, the second --apply changed nothing, the rotation
    // added the new key's and removed the old one.
    let idps = cloud.identity_providers();
    assert_eq!(idps.len(), 1, "{idps:?}");
    assert_eq!(idps[0]["options"]["staticKeys"][0]["kid"], "qsjwt-2027-05");
    assert_eq!(
        idps[0]["options"]["staticKeys"][0]["pem"],
        fs::read_to_string(work.join("keys/qsjwt2_publickey.cer"))
            .unwrap()
            .lines()
            .collect::<String>()
    );
    let posts = cloud
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.target == "/api/v1/identity-providers")
        .count();
    assert_eq!(
        posts, 2,
        "one identity provider per key, the second --apply sent nothing"
    );
    assert!(
        logins(&cloud, "/api/v1/users") >= 1,
        "the session's user was read"
    );
    let through_proxy = |path: &str| {
        qseow
            .proxy_requests()
            .iter()
            .filter(|r| r.target.starts_with(path))
            .count()
    };
    assert_eq!(
        through_proxy("/jwt/qrs/about"),
        4,
        "four logins through the virtual proxy: the walk's, doctor-qseow --login's, the \
         rotation's with the new key, and the old key's, refused"
    );
    assert!(through_proxy("/jwt/qps/user") >= 1);
    // --apply created the virtual proxy and linked it; the second --apply sent nothing.
    let writes: Vec<String> = qseow
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.target.split('?').next().unwrap()))
        .collect();
    assert_eq!(
        writes.len(),
        3,
        "one POST of the virtual proxy, one PUT of the proxy service, the rotation's PUT of \
         the virtual proxy: {writes:?}"
    );
    let vps = qseow.virtual_proxies();
    assert_eq!(vps.len(), 1);
    assert_eq!(vps[0]["jwtAudience"], "qlik-jwt");
    // The rotation put the new certificate in place of the old, and removed the old key.
    let bare = |text: &str| text.split_whitespace().collect::<String>();
    assert_eq!(
        bare(vps[0]["jwtPublicKeyCertificate"].as_str().unwrap()),
        bare(&fs::read_to_string(work.join("keys/qsjwt2_publickey.cer")).unwrap())
    );
    assert!(!work.join("keys/qsjwt_privatekey.pem").exists());
    // The deliberately broken QSEoW configuration: the audience the virtual proxy takes, and
    // the doctor with it as the fix.
    let doctor = fs::read_to_string(work.join("doctor-qseow.txt")).unwrap();
    assert!(
        doctor.contains("FAIL  audience                     'jwt' takes the audience 'qlik-jwt', and you sign with 'qlik-jwt-test'")
            && doctor.contains("fix: qs-jwt doctor-qseow --qrs https://127.0.0.1:")
            && doctor.contains("--prefix jwt --audience qlik-jwt --cert-privatekey-file keys/qsjwt_privatekey.pem --qrs-cert qmc-certs/client.pem --qrs-key qmc-certs/client_key.pem --cacert qmc-certs/root.pem\n")
            && doctor.ends_with("11 checks: 10 passed, 1 failed\n"),
        "{doctor}"
    );
    // Before the new certificate was applied, the new key failed the key's line alone.
    let rotate = fs::read_to_string(work.join("rotate-qseow.txt")).unwrap();
    assert!(
        rotate.contains("FAIL  same key  ")
            && rotate.contains("fix: qs-jwt setup-qseow --audience qlik-jwt --prefix jwt --cert-publickey-file keys/qsjwt2_publickey.cer --apply")
            && rotate.ends_with("11 checks: 10 passed, 1 failed\n"),
        "{rotate}"
    );
    assert_eq!(
        vps[0]["websocketCrossOriginWhiteList"],
        serde_json::json!(["qlik.example.com", "127.0.0.1"])
    );
    // Four token requests (the key, Anna by subject, Anna with the ES384 key, a user by ID with
    // the secret), each
    // answered with a token: a refusal would have stopped the walk (set -e).
    assert_eq!(
        logins(&cloud, "/oauth/token"),
        4,
        "the OAuth walk's token requests"
    );
    assert!(
        fs::read_to_string(work.join("token.txt"))
            .unwrap()
            .starts_with("ey")
    );
    // The deliberately broken configuration: the key ID the tenant holds, and the fix with it.
    let doctor = fs::read_to_string(work.join("doctor.txt")).unwrap();
    assert!(
        doctor.contains("FAIL  identity provider  no identity provider has issuer 'myorg.example.com' and key ID 'qsjwt-2026-12'")
            && doctor.contains("has key ID 'qsjwt-2026-11' (your key)")
            && doctor.contains("fix: qs-jwt doctor-qscloud --tenant https://127.0.0.1:")
            && doctor.contains("--issuer myorg.example.com --keyid qsjwt-2026-11 --cert-privatekey-file keys/qsjwt_privatekey.pem\n"),
        "{doctor}"
    );
    let jar = fs::read_to_string(work.join("cookies.txt")).unwrap();
    assert!(
        jar.starts_with("# Netscape HTTP Cookie File") && jar.contains("eas.sid"),
        "{jar}"
    );
    let jar = fs::read_to_string(work.join("qseow-cookies.txt")).unwrap();
    assert!(jar.contains("X-Qlik-Session-jwt"), "{jar}");
}

#[test]
fn every_document_with_bash_examples_is_run() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut with_examples: Vec<String> = fs::read_dir(docs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let text = fs::read_to_string(p).unwrap_or_default();
            !bash_blocks(&text).is_empty()
        })
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    with_examples.sort();
    assert_eq!(
        with_examples,
        ["qlik-setup.md"],
        "run the new document's examples in a test here"
    );
}
