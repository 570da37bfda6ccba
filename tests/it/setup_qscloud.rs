//! setup-qscloud --apply and --remove against the local stand-in for Qlik Cloud's
//! identity-providers API (tests/it/common/identity_providers.rs, served by qlik_server.rs over
//! HTTPS on 127.0.0.1). Nothing here reaches the network.

use crate::common;

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

use crate::common::identity_providers::{self, ADMIN_API_KEY, USER_API_KEY, jwt_idp};
use crate::common::qlik_server::Behaviour;
use crate::common::tenant::{Tenant, TenantBuilder};
use crate::common::{
    Create, assert_valid, certificate_path, error_lines, fails_cleanly, fixture, fixture_text,
    owner_only, printed, qlik_schema, qs_jwt, single_token,
};

/// The fixture certificate on one line, as setup-qscloud sends it.
fn one_line(pem: &str) -> String {
    pem.lines().map(str::trim).collect()
}

/// A tenant stand-in whose folder holds the certificate to register (publickey.cer).
fn stand_in() -> TenantBuilder {
    TenantBuilder::new().file("publickey.cer", "rsa2048-cert.pem")
}

impl Tenant {
    /// `setup-qscloud --issuer <issuer> --keyid <kid> <action...> --tenant <stand-in>
    /// --cacert ca.pem`, with the admin's API key in QLIK_API_KEY.
    fn setup(&self, issuer: &str, kid: &str, action: &[&str]) -> Command {
        let mut cmd = self.command();
        cmd.args(["setup-qscloud", "--issuer", issuer, "--keyid", kid])
            .args(action)
            .args(self.connection());
        cmd
    }

    fn apply(&self, issuer: &str, kid: &str) -> Command {
        self.setup(
            issuer,
            kid,
            &["--cert-publickey-file", "publickey.cer", "--apply"],
        )
    }

    fn remove(&self, issuer: &str, kid: &str) -> Command {
        self.setup(issuer, kid, &["--remove"])
    }
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let output = cmd.output().unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn apply_creates_the_identity_provider_and_a_second_run_changes_nothing() {
    let tenant = stand_in().start();
    let (code, stdout, stderr) = run(&mut tenant.apply("i", "k"));
    assert_eq!(code, 0, "{stderr}");
    let created: Value = serde_json::from_str(&stdout).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["options"]["issuer"], "i");
    assert_eq!(created["options"]["staticKeys"][0]["kid"], "k");
    assert_eq!(
        created["options"]["staticKeys"][0]["pem"],
        one_line(&fixture_text("rsa2048-cert.pem"))
    );
    assert!(stderr.contains("created the identity provider"), "{stderr}");
    assert_eq!(tenant.server.identity_providers().len(), 1);
    let post = tenant
        .server
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(post.target, "/api/v1/identity-providers");
    assert_eq!(
        post.header("authorization"),
        Some(format!("Bearer {ADMIN_API_KEY}").as_str())
    );
    assert_eq!(post.header("content-type"), Some("application/json"));

    // Idempotent: the same command again finds it, changes nothing, prints it.
    let (code, again, stderr) = run(&mut tenant.apply("i", "k"));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("nothing changed"), "{stderr}");
    let again: Value = serde_json::from_str(&again).unwrap();
    assert_eq!(again["id"], id.as_str());
    assert_eq!(tenant.server.identity_providers().len(), 1);
    assert_eq!(
        tenant
            .server
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count(),
        1
    );
}

#[test]
fn apply_with_another_key_under_the_same_key_id_changes_nothing_and_points_to_the_rotation() {
    let tenant = stand_in().start();
    let other = one_line(&fixture_text("rsa2048-genpkey-public.pem"));
    tenant
        .server
        .add_identity_provider(jwt_idp("old0001", "i", "k", &other, true));
    let stderr = fails_cleanly(&mut tenant.apply("i", "k"), tenant.path(), 1);
    let lines = error_lines(stderr.as_bytes());
    assert!(
        lines.contains("old0001") && lines.contains("another key"),
        "{lines}"
    );
    assert!(
        lines.contains("Rotating the key") && lines.contains("--keyid <new id>"),
        "{lines}"
    );
    assert_eq!(
        tenant.server.identity_providers(),
        vec![jwt_idp("old0001", "i", "k", &other, true)]
    );
    assert!(tenant.server.requests().iter().all(|r| r.method == "GET"));
}

/// Issue 26: a create whose answer holds no id (`{}`) is a failure, and the error says Qlik may
/// have changed and that a rerun converges; the rerun finds the identity provider made and
/// changes nothing.
#[test]
fn a_create_answered_without_an_id_says_qlik_may_have_changed_and_a_rerun_converges() {
    let tenant = stand_in().start();
    let mut marker = jwt_idp("other01", "someone-else", "x", "-----BEGIN X-----", true);
    marker[identity_providers::CREATE_ANSWERS] = serde_json::json!({});
    tenant.server.add_identity_provider(marker);
    let (code, stdout, stderr) = run(&mut tenant.apply("i", "k"));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_eq!(stdout, "");
    let lines = error_lines(stderr.as_bytes());
    assert!(
        lines.contains("has no id")
            && lines.contains("Qlik may have changed")
            && lines.contains("a rerun converges"),
        "{lines}"
    );
    assert_eq!(tenant.server.identity_providers().len(), 2);
    let (code, _, stderr) = run(&mut tenant.apply("i", "k"));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("nothing changed"), "{stderr}");
    assert_eq!(tenant.server.identity_providers().len(), 2);
}

/// Issue 26: a next page on another origin is an error, not the end of the list: taking the
/// first page for the whole list created a duplicate of the identity provider on page two.
#[test]
fn a_next_page_on_another_origin_is_an_error_and_nothing_is_created() {
    let tenant = stand_in().start();
    let pem = one_line(&fixture_text("rsa2048-cert.pem"));
    let mut liar = jwt_idp("a01", "other", "x", &pem, true);
    liar[identity_providers::PAGES_ELSEWHERE] = serde_json::json!(true);
    tenant.server.add_identity_provider(liar);
    tenant
        .server
        .add_identity_provider(jwt_idp("b02", "other", "y", &pem, true));
    tenant
        .server
        .add_identity_provider(jwt_idp("c03", "i", "k", &pem, true));
    let (code, stdout, stderr) = run(&mut tenant.apply("i", "k"));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("a next page on another origin, or one that cannot be followed"),
        "{stderr}"
    );
    assert!(tenant.server.requests().iter().all(|r| r.method == "GET"));
    assert_eq!(tenant.server.identity_providers().len(), 3);
}

/// Issue 26: --timeout bounds the whole run, not each request: ten pages of the list that
/// each take 1.2 s, at --timeout 3s, end the run with an error naming --timeout before the
/// tenant served them all (each request had its own 3 s before, and the run took 12 s).
#[test]
fn timeout_bounds_the_whole_paged_list_not_each_page() {
    let tenant = stand_in().start();
    let pem = one_line(&fixture_text("rsa2048-cert.pem"));
    for n in 0..identity_providers::PAGE * 10 {
        let mut idp = jwt_idp(&format!("p{n:02}"), "other", &format!("k{n}"), &pem, true);
        idp[identity_providers::PAGES_SLOW_MS] = serde_json::json!(1200);
        tenant.server.add_identity_provider(idp);
    }
    let (code, stdout, stderr) = run(tenant.apply("i", "k").args(["--timeout", "3s"]));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains("within 3s (--timeout)"), "{stderr}");
    assert!(
        stderr.contains("--timeout bounds the whole run"),
        "{stderr}"
    );
    let pages = tenant
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.target.starts_with(identity_providers::PATH))
        .count();
    assert!(pages < 10, "{pages} pages asked for");
    assert!(tenant.server.requests().iter().all(|r| r.method == "GET"));
}

/// Issue 26: a tenant typed in capitals (`HTTPS://LOCALHOST:<port>`) whose next links name
/// the lower-case origin, as Qlik's do, is read to its last page: the identity provider on
/// page three is found (nothing created), and --remove finds it too.
#[test]
fn a_tenant_in_capitals_reads_every_page_of_lower_case_links() {
    let tenant = stand_in().start();
    let pem = one_line(&fixture_text("rsa2048-cert.pem"));
    for n in 0..identity_providers::PAGE * 2 {
        tenant.server.add_identity_provider(jwt_idp(
            &format!("o{n:02}"),
            "other",
            &format!("k{n}"),
            &pem,
            true,
        ));
    }
    tenant
        .server
        .add_identity_provider(jwt_idp("mine01", "i", "k", &pem, true));
    let port = tenant.server.url().rsplit(':').next().unwrap().to_owned();
    let upper = format!("HTTPS://LOCALHOST:{port}");
    let (code, stdout, stderr) = run(tenant.apply("i", "k").args(["--tenant", &upper]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("nothing changed"), "{stderr}");
    assert_eq!(
        tenant.server.identity_providers().len(),
        identity_providers::PAGE * 2 + 1
    );
    let pages = tenant
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.target.starts_with(identity_providers::PATH))
        .count();
    assert_eq!(pages, 3);
    let (code, stdout, stderr) = run(tenant
        .remove("i", "k")
        .args(["--tenant", &upper, "--force"]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let left = tenant.server.identity_providers();
    assert!(left.iter().all(|p| p["id"] != "mine01"), "{left:?}");
    assert_eq!(left.len(), identity_providers::PAGE * 2);
}

/// `setup-qscloud --issuer i --keyid k <action> --tenant <stand-in>` with standard output on
/// /dev/full (a full disk): exit code and stderr.
#[cfg(target_os = "linux")]
fn to_dev_full(tenant: &Tenant, action: &[&str]) -> (i32, String) {
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut cmd = common::command(env!("CARGO_BIN_EXE_qs-jwt"));
    let output = cmd
        .current_dir(tenant.path())
        .env("QLIK_API_KEY", ADMIN_API_KEY)
        .args(["setup-qscloud", "--issuer", "i", "--keyid", "k"])
        .args(action)
        .args(tenant.connection())
        .stdout(full)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// Issue 26: a report that cannot be written after Qlik changed says Qlik was changed, and
/// that a rerun converges (exit 1): --apply's create, then --remove's delete.
#[cfg(target_os = "linux")]
#[test]
fn a_report_lost_after_a_change_says_qlik_was_changed() {
    let tenant = stand_in().start();
    let (code, stderr) = to_dev_full(
        &tenant,
        &["--cert-publickey-file", "publickey.cer", "--apply"],
    );
    assert_eq!(code, 1, "{stderr}");
    let made = tenant.server.identity_providers();
    assert_eq!(made.len(), 1);
    let id = made[0]["id"].as_str().unwrap().to_owned();
    let text = error_lines(stderr.as_bytes());
    assert!(
        text.contains(&format!(
            "error: --apply created the identity provider {id} on https://127.0.0.1:"
        )),
        "{text}"
    );
    assert!(text.contains("Qlik holds that change"), "{text}");
    assert!(text.contains("cannot write to standard output"), "{text}");
    assert!(text.contains("so a rerun converges"), "{text}");

    let (code, stderr) = to_dev_full(&tenant, &["--remove", "--force"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(tenant.server.identity_providers().is_empty());
    let text = error_lines(stderr.as_bytes());
    assert!(
        text.contains(&format!(
            "error: --remove removed the identity provider {id}"
        )),
        "{text}"
    );
    assert!(text.contains("so a rerun converges"), "{text}");
}

/// Issue 26: keys are compared by their public key. The identity provider holds the
/// certificate; the bare public key of the same key is the same key (nothing to do, exit 0),
/// as the doctor says.
#[test]
fn apply_with_the_bare_public_key_of_the_certificate_held_changes_nothing() {
    let tenant = TenantBuilder::new()
        .file("public.pem", "rsa2048-public.pem")
        .file("keys/qsjwt_privatekey.pem", "rsa2048-pkcs1.pem")
        .start();
    let held = one_line(&fixture_text("rsa2048-cert.pem"));
    tenant
        .server
        .add_identity_provider(jwt_idp("cert001", "i", "k", &held, true));
    let (code, stdout, stderr) = run(&mut tenant.setup(
        "i",
        "k",
        &["--cert-publickey-file", "public.pem", "--apply"],
    ));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("this key already: nothing changed"),
        "{stderr}"
    );
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed["id"], "cert001");
    assert!(tenant.server.requests().iter().all(|r| r.method == "GET"));
    assert_eq!(
        tenant.server.identity_providers(),
        vec![jwt_idp("cert001", "i", "k", &held, true)]
    );
}

#[test]
fn apply_beside_other_identity_providers_adds_a_second_one() {
    let tenant = stand_in().start();
    let other = one_line(&fixture_text("rsa2048-genpkey-public.pem"));
    tenant
        .server
        .add_identity_provider(jwt_idp("old0001", "i", "k1", &other, true));
    tenant
        .server
        .add_identity_provider(jwt_idp("elsewhere", "j", "k2", &other, true));
    let (code, stdout, stderr) = run(&mut tenant.apply("i", "k2"));
    assert_eq!(code, 0, "{stderr}");
    let created: Value = serde_json::from_str(&stdout).unwrap();
    assert_ne!(created["id"], "old0001");
    assert_eq!(tenant.server.identity_providers().len(), 3);
}

#[test]
fn qliks_refusals_are_said_in_words_with_a_hint() {
    let tenant = stand_in().start();
    // 401: a key Qlik does not know.
    let stderr = fails_cleanly(
        tenant.apply("i", "k").env("QLIK_API_KEY", "not-a-key"),
        tenant.path(),
        1,
    );
    let lines = error_lines(stderr.as_bytes());
    assert!(lines.contains("refused the API key (HTTP 401)"), "{lines}");
    assert!(
        lines.contains("hint: ") && lines.contains("API keys"),
        "{lines}"
    );
    assert!(!stderr.contains("not-a-key"), "{stderr}");
    // 403: a user who is not a tenant admin.
    let stderr = fails_cleanly(
        tenant.apply("i", "k").env("QLIK_API_KEY", USER_API_KEY),
        tenant.path(),
        1,
    );
    let lines = error_lines(stderr.as_bytes());
    assert!(
        lines.contains("HTTP 403") && lines.contains("TenantAdmin"),
        "{lines}"
    );
    assert!(tenant.server.identity_providers().is_empty());
}

#[test]
fn a_400_names_qliks_errors() {
    let tenant = stand_in().behaviour(Behaviour::Fixed(400, r#"{"errors": [{"code": "IDPS-400", "title": "Invalid request body", "detail": "options.issuer is invalid"}], "traceId": "abc123"}"#)).start();
    let stderr = fails_cleanly(&mut tenant.apply("i", "k"), tenant.path(), 1);
    let lines = error_lines(stderr.as_bytes());
    assert!(
        lines.contains("HTTP 400")
            && lines.contains("options.issuer is invalid")
            && lines.contains("traceId abc123"),
        "{lines}"
    );
}

#[test]
fn the_api_key_comes_from_a_file_or_standard_input_and_is_warned_about() {
    let tenant = stand_in().start();
    let key_file = tenant.path().join("apikey.txt");
    fs::write(&key_file, format!("{ADMIN_API_KEY}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&key_file, fs::Permissions::from_mode(0o644)).unwrap();
    }
    let (code, _, stderr) = run(tenant
        .apply("i", "k")
        .env_remove("QLIK_API_KEY")
        .args(["--api-key-file", "apikey.txt"]));
    assert_eq!(code, 0, "{stderr}");
    #[cfg(unix)]
    assert!(
        stderr.contains("--api-key-file 'apikey.txt' can be read by every user"),
        "{stderr}"
    );
    owner_only(&key_file);
    let (code, _, stderr) = run(tenant
        .apply("i", "k")
        .env_remove("QLIK_API_KEY")
        .args(["--api-key-file", "apikey.txt"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("can be read"), "{stderr}");
    let (code, _, stderr) = run(tenant
        .apply("i", "k")
        .env_remove("QLIK_API_KEY")
        .args(["--api-key-file", "-"])
        .write_stdin(format!("{ADMIN_API_KEY}\r\n")));
    assert_eq!(code, 0, "{stderr}");

    // None: a usage error naming both ways, before anything is sent.
    let before = tenant.server.requests().len();
    let stderr = fails_cleanly(
        tenant.apply("i", "k").env_remove("QLIK_API_KEY"),
        tenant.path(),
        2,
    );
    assert!(
        stderr.contains("QLIK_API_KEY") && stderr.contains("--api-key-file"),
        "{stderr}"
    );
    assert_eq!(tenant.server.requests().len(), before);
}

#[test]
fn remove_deletes_only_the_identity_provider_with_this_issuer_and_key_id() {
    let tenant = stand_in().start();
    let pem = one_line(&fixture_text("rsa2048-cert.pem"));
    for idp in [
        jwt_idp("old", "i", "k1", &pem, true),
        jwt_idp("new", "i", "k2", &pem, true),
        jwt_idp("otherissuer", "j", "k1", &pem, true),
    ] {
        tenant.server.add_identity_provider(idp);
    }
    let (code, stdout, stderr) = run(&mut tenant.remove("i", "k1"));
    assert_eq!(code, 0, "{stderr}");
    let removed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(removed["id"], "old");
    assert!(
        stderr.contains("removed the identity provider old"),
        "{stderr}"
    );
    let left: Vec<Value> = tenant
        .server
        .identity_providers()
        .into_iter()
        .map(|p| p["id"].clone())
        .collect();
    assert_eq!(left, ["new", "otherissuer"]);
    let delete = tenant
        .server
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .unwrap();
    assert_eq!(delete.target, "/api/v1/identity-providers/old");
    // Three identity providers are two pages: links.next was followed.
    assert!(
        tenant
            .server
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.target == "/api/v1/identity-providers?page=1")
    );

    // Gone: a second run finds nothing to do, says so with the key IDs that are there, and
    // exits 0, as a second --apply does; nothing is deleted.
    let (code, stdout, stderr) = run(&mut tenant.remove("i", "k1"));
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");
    assert!(
        stderr.contains(
            "has no JWT identity provider with issuer 'i' and key ID 'k1': nothing to remove, \
             nothing changed (its identity providers with issuer 'i' have the key IDs 'k2')"
        ),
        "{stderr}"
    );
    let deletes = tenant
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .count();
    assert_eq!(deletes, 1, "the first run's DELETE alone");
}

#[test]
fn remove_refuses_the_last_active_jwt_identity_provider_of_the_issuer_unless_forced() {
    let tenant = stand_in().start();
    let pem = one_line(&fixture_text("rsa2048-cert.pem"));
    tenant
        .server
        .add_identity_provider(jwt_idp("only", "i", "k", &pem, true));
    // An inactive one of the same issuer does not count.
    tenant
        .server
        .add_identity_provider(jwt_idp("inactive", "i", "k0", &pem, false));
    let stderr = fails_cleanly(&mut tenant.remove("i", "k"), tenant.path(), 1);
    let lines = error_lines(stderr.as_bytes());
    assert!(
        lines.contains("last active JWT identity provider of issuer 'i'"),
        "{lines}"
    );
    assert!(lines.contains("--force"), "{lines}");
    assert_eq!(tenant.server.identity_providers().len(), 2);

    let (code, _, stderr) = run(tenant.remove("i", "k").arg("--force"));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(tenant.server.identity_providers().len(), 1);
    assert_eq!(tenant.server.identity_providers()[0]["id"], "inactive");
}

/// Two --remove runs at once: both read the identity provider, both ask to delete it, and the
/// one whose DELETE finds it gone (404) converges as a rerun does: exit 0, nothing on stdout.
#[test]
fn two_removes_at_once_both_converge() {
    let tenant = stand_in().start();
    let pem = one_line(&fixture_text("rsa2048-cert.pem"));
    tenant
        .server
        .add_identity_provider(jwt_idp("old", "i", "k1", &pem, false));
    tenant.server.hold_identity_provider_lists_for(2);
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| run(&mut tenant.remove("i", "k1")));
        let second = scope.spawn(|| run(&mut tenant.remove("i", "k1")));
        (first.join().unwrap(), second.join().unwrap())
    });
    let requests = tenant.server.requests();
    let deletes = requests.iter().filter(|r| r.method == "DELETE").count();
    assert_eq!(deletes, 2, "both runs asked to delete: {requests:?}");
    let mut outcomes = [first, second];
    outcomes.sort_by_key(|(_, stdout, _)| stdout.is_empty());
    let [
        (code, stdout, stderr),
        (late_code, late_stdout, late_stderr),
    ] = outcomes;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(serde_json::from_str::<Value>(&stdout).unwrap()["id"], "old");
    assert_eq!((late_code, late_stdout.as_str()), (0, ""), "{late_stderr}");
    assert!(
        late_stderr.contains(
            "the identity provider old was removed meanwhile (by another run?): nothing to \
             remove, nothing changed"
        ),
        "{late_stderr}"
    );
    assert!(!late_stderr.contains("error"), "{late_stderr}");
    assert!(tenant.server.identity_providers().is_empty());
}

/// --dry-run: the plan on stdout as JSON, the same plan line on stderr as a real run prints,
/// and nothing sent that changes the tenant; a real run after it does what the plan said, and
/// a dry run after that plans nothing.
#[test]
fn a_dry_run_prints_the_plan_and_changes_nothing() {
    let tenant = stand_in().start();
    let writes = |tenant: &Tenant| {
        tenant
            .server
            .requests()
            .iter()
            .filter(|r| r.method != "GET")
            .count()
    };
    let (code, stdout, stderr) = run(tenant.apply("i", "k").arg("--dry-run"));
    assert_eq!(code, 0, "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["changes"][0]["action"], "create");
    assert_eq!(plan["changes"][0]["key_id"], "k");
    let line = "plan: create the identity provider: issuer 'i', key ID 'k'";
    assert!(stderr.contains(line), "{stderr}");
    assert!(stderr.contains("nothing changed"), "{stderr}");
    assert_eq!(writes(&tenant), 0);
    assert!(tenant.server.identity_providers().is_empty());

    let (code, _, stderr) = run(&mut tenant.apply("i", "k"));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(line),
        "the real run says the plan's line: {stderr}"
    );
    assert_eq!(tenant.server.identity_providers().len(), 1);

    let (code, stdout, stderr) = run(tenant.apply("i", "k").arg("--dry-run"));
    assert_eq!(code, 0, "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(plan["changes"], serde_json::json!([]));
    assert!(stderr.contains("nothing would change"), "{stderr}");

    let before = writes(&tenant);
    let (code, stdout, stderr) = run(tenant.remove("i", "k").args(["--force", "--dry-run"]));
    assert_eq!(code, 0, "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(plan["changes"][0]["action"], "remove");
    assert!(
        stderr.contains("plan: remove the identity provider"),
        "{stderr}"
    );
    assert_eq!(writes(&tenant), before, "a dry run sends no DELETE");
    assert_eq!(tenant.server.identity_providers().len(), 1);

    let (code, _, stderr) = run(&mut tenant.setup("i", "k", &["--dry-run"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--dry-run shows what --apply or --remove"),
        "{stderr}"
    );
}

/// Four --apply runs at once, each reading the empty list before any creates: each creates
/// one, reads the list back, and every run keeps the same one (the earliest made), so the
/// others remove their own; the tenant ends with one identity provider.
#[test]
fn four_applies_at_once_end_with_one_identity_provider() {
    let tenant = stand_in().start();
    tenant.server.hold_identity_provider_lists_for(4);
    let outcomes: Vec<(i32, String, String)> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| run(&mut tenant.apply("i", "k"))))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let left = tenant.server.identity_providers();
    assert_eq!(left.len(), 1, "{left:#?} {outcomes:#?}");
    for (code, stdout, stderr) in &outcomes {
        assert_eq!(*code, 0, "{stderr}");
        let printed: Value = serde_json::from_str(stdout).unwrap();
        assert_eq!(
            printed["id"], left[0]["id"],
            "every run prints the one kept: {stderr}"
        );
    }
    let posts = tenant
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 4, "the runs overlapped");
}

/// Twins left on the tenant (by runs of an older qs-jwt, or a lost read-back): --apply keeps
/// one and removes the others, saying so; --remove removes them all.
#[test]
fn twins_are_made_one_by_apply_and_all_removed_by_remove() {
    let tenant = stand_in().start();
    let pem = one_line(&fixture_text("rsa2048-cert.pem"));
    for id in ["b2", "a1", "c3"] {
        tenant
            .server
            .add_identity_provider(jwt_idp(id, "i", "k", &pem, true));
    }
    let (code, stdout, stderr) = run(&mut tenant.apply("i", "k"));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(serde_json::from_str::<Value>(&stdout).unwrap()["id"], "a1");
    assert!(
        stderr.contains("plan: remove the identity provider b2: a twin of a1, which stays"),
        "{stderr}"
    );
    let ids: Vec<Value> = tenant
        .server
        .identity_providers()
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    assert_eq!(ids, ["a1"]);

    for id in ["b2", "c3"] {
        tenant
            .server
            .add_identity_provider(jwt_idp(id, "i", "k", &pem, false));
    }
    let (code, _, stderr) = run(tenant.remove("i", "k").arg("--force"));
    assert_eq!(code, 0, "{stderr}");
    assert!(tenant.server.identity_providers().is_empty(), "{stderr}");
}

#[test]
fn usage_errors_for_the_tenant_options() {
    let tenant = stand_in().start();
    for (args, needle) in [
        (
            vec!["--apply", "--cert-publickey-file", "publickey.cer"],
            "--tenant",
        ),
        (vec!["--remove"], "--tenant"),
        (vec!["--force", "--tenant", "t.example.com"], "--remove"),
        (
            vec![
                "--cert-publickey-file",
                "publickey.cer",
                "--tenant",
                "t.example.com",
            ],
            "--apply or --remove",
        ),
        (
            vec!["--apply", "--remove", "--tenant", "t.example.com"],
            "cannot be used with",
        ),
        (
            vec![
                "--cert-publickey-file",
                "publickey.cer",
                "--apply",
                "--output",
                "console",
                "--tenant",
                "t.example.com",
            ],
            "--output console",
        ),
    ] {
        let mut cmd = qs_jwt(tenant.path());
        cmd.env("QLIK_API_KEY", ADMIN_API_KEY)
            .args(["setup-qscloud", "--issuer", "i", "--keyid", "k"])
            .args(&args);
        let stderr = fails_cleanly(&mut cmd, tenant.path(), 2);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn no_api_key_or_private_key_text_at_debug() {
    let tenant = stand_in().start();
    let private_key = fixture_text("rsa2048-pkcs8.pem");
    let key_body: Vec<&str> = private_key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let mut outputs = Vec::new();
    let mut remove = tenant.remove("i", "k");
    remove.arg("--force");
    for mut cmd in [tenant.apply("i", "k"), tenant.apply("i", "k"), remove] {
        let output = cmd.args(["--loglevel", "debug"]).output().unwrap();
        assert!(output.status.success(), "{output:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("DEBUG"));
        outputs.push(output);
    }
    let mut bad_key = tenant.apply("i", "k2");
    bad_key
        .env("QLIK_API_KEY", "secret-wrong-key-123")
        .args(["--loglevel", "debug"]);
    outputs.push(bad_key.output().unwrap());
    for output in outputs {
        for text in [&output.stdout, &output.stderr] {
            let text = String::from_utf8_lossy(text);
            assert!(!text.contains(ADMIN_API_KEY), "{text}");
            assert!(!text.contains("admin-api-key-for-tests"), "{text}");
            assert!(!text.contains("secret-wrong-key-123"), "{text}");
            for line in &key_body {
                assert!(!text.contains(line), "{text}");
            }
        }
    }
}

#[test]
fn a_login_works_through_the_identity_provider_that_apply_made() {
    let tenant = stand_in().start();
    let (code, _, stderr) = run(&mut tenant.apply("i", "k"));
    assert_eq!(code, 0, "{stderr}");
    let token = anna()
        .key_file(fixture("rsa2048-pkcs8.pem"))
        .run_in(tenant.path())
        .output()
        .unwrap();
    assert!(token.status.success());
    fs::write(tenant.path().join("token.txt"), &token.stdout).unwrap();
    let login = |dir: &Path| {
        let mut cmd = qs_jwt(dir);
        cmd.args([
            "login-qscloud",
            "--tenant",
            &tenant.server.url(),
            "--jwt-file",
            "token.txt",
            "--cacert",
            "ca.pem",
        ]);
        cmd
    };
    let (code, _, stderr) = run(&mut login(tenant.path()));
    assert_eq!(code, 0, "{stderr}");
    // Removed (it is the last one: --force), the next token is refused.
    let (code, _, stderr) = run(tenant.remove("i", "k").arg("--force"));
    assert_eq!(code, 0, "{stderr}");
    tenant.server.add_identity_provider(jwt_idp(
        "unrelated",
        "j",
        "x",
        "-----BEGIN CERTIFICATE-----x-----END CERTIFICATE-----",
        true,
    ));
    let token = anna()
        .key_file(fixture("rsa2048-pkcs8.pem"))
        .run_in(tenant.path())
        .output()
        .unwrap();
    fs::write(tenant.path().join("token.txt"), &token.stdout).unwrap();
    let (code, _, _) = run(&mut login(tenant.path()));
    assert_eq!(code, 1);
}

/// A Qlik Cloud token's command for Anna, with every claim Qlik Cloud requires.
fn anna() -> common::Create {
    common::Create::qscloud().args([
        "--sub",
        "anna",
        "--username",
        "Anna Anderson",
        "--useremail",
        "anna@example.com",
        "--useremail-verified",
        "true",
    ])
}

/// The stand-in itself: PATCH changes the description and nothing else, as Qlik's API does,
/// so that no test can pass by swapping a key in place.
#[test]
fn the_stand_in_patches_the_description_only() {
    use crate::common::identity_providers::handle;
    let pem = one_line(&fixture_text("rsa2048-cert.pem"));
    let mut idps = vec![jwt_idp("a1", "i", "k", &pem, true)];
    let patch = |body: &str, idps: &mut Vec<Value>| {
        handle(
            "PATCH",
            "https://127.0.0.1:1/api/v1/identity-providers/a1",
            Some(ADMIN_API_KEY),
            body.as_bytes(),
            idps,
        )
        .0
    };
    assert_eq!(
        patch(
            r#"[{"op": "replace", "path": "/description", "value": "new"}]"#,
            &mut idps
        ),
        204
    );
    assert_eq!(idps[0]["description"], "new");
    let before = idps.clone();
    assert_eq!(
        patch(
            r#"[{"op": "replace", "path": "/options/staticKeys", "value": []}]"#,
            &mut idps
        ),
        400
    );
    assert_eq!(idps, before);
    assert_eq!(
        handle(
            "PATCH",
            "https://127.0.0.1:1/api/v1/identity-providers/a1",
            Some(USER_API_KEY),
            b"[]",
            &mut idps
        )
        .0,
        403
    );
}

#[test]
fn apply_finds_an_inactive_one_or_one_without_its_key_and_says_so() {
    let tenant = stand_in().start();
    let pem = one_line(&fixture_text("rsa2048-cert.pem"));
    tenant
        .server
        .add_identity_provider(jwt_idp("sleeping", "i", "k", &pem, false));
    let (code, stdout, stderr) = run(&mut tenant.apply("i", "k"));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("nothing changed"), "{stderr}");
    assert!(stderr.contains("is not active"), "{stderr}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap()["id"],
        "sleeping"
    );

    // A tenant that does not give the key back: nothing changed, and qs-jwt says it could not
    // compare.
    let tenant = stand_in().start();
    let mut idp = jwt_idp("keyless", "i", "k", &pem, true);
    idp["options"]["staticKeys"][0]
        .as_object_mut()
        .unwrap()
        .remove("pem");
    tenant.server.add_identity_provider(idp);
    let (code, _, stderr) = run(&mut tenant.apply("i", "k"));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("cannot compare"), "{stderr}");
    assert!(tenant.server.requests().iter().all(|r| r.method == "GET"));
}

/// Issue 27: the identity provider --apply prints is the one Qlik returned by its documented
/// fields only, and anything the run holds as a secret (the API key) is redacted from them; a
/// server that put the API key into the object, whole or in a piece, gets none of it printed.
/// The certificate and the names show as they are.
#[test]
fn apply_prints_the_identity_provider_by_its_documented_fields_without_secrets() {
    let tenant = stand_in().start();
    let pem = one_line(&fixture_text("rsa2048-cert.pem"));
    let mut idp = jwt_idp("64d0f0a7a1b2c3d4e5f60718", "i", "k", &pem, true);
    let piece = &ADMIN_API_KEY[4..32];
    idp["apiKey"] = Value::from(ADMIN_API_KEY);
    idp["description"] = Value::from(format!("made with {piece} by auth0|a08D000001DVHcIIAX"));
    idp["options"]["clientSecret"] = Value::from(ADMIN_API_KEY);
    idp["options"]["staticKeys"][0]["token"] = Value::from(ADMIN_API_KEY);
    tenant.server.add_identity_provider(idp);
    let (code, stdout, stderr) = run(&mut tenant.apply("i", "k"));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("nothing changed"), "{stderr}");
    for text in [&stdout, &stderr] {
        assert!(!text.contains(piece), "{text}");
    }
    let shown: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["id"], "64d0f0a7a1b2c3d4e5f60718");
    assert!(shown.get("apiKey").is_none(), "{stdout}");
    assert!(shown["options"].get("clientSecret").is_none(), "{stdout}");
    assert_eq!(
        shown["options"]["staticKeys"][0],
        serde_json::json!({"kid": "k", "pem": pem})
    );
    assert_eq!(
        shown["description"],
        "made with [key text redacted] by auth0|a08D000001DVHcIIAX"
    );
    assert_eq!(shown["protocol"], "jwtAuth");
    assert_eq!(shown["options"]["issuer"], "i");
}

/// Issue 27: an API key file in UTF-16 without a byte order mark (as some Windows tools write
/// it) is read as the key, found by its NUL bytes; before, it was "more than one word".
#[test]
fn an_api_key_file_in_utf16_without_a_byte_order_mark_is_read() {
    let tenant = stand_in().start();
    let utf16: Vec<u8> = format!("{ADMIN_API_KEY}\r\n")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    fs::write(tenant.path().join("apikey.txt"), utf16).unwrap();
    common::owner_only(&tenant.path().join("apikey.txt"));
    let (code, _, stderr) = run(tenant
        .apply("i", "k")
        .env_remove("QLIK_API_KEY")
        .args(["--api-key-file", "apikey.txt"]));
    assert_eq!(code, 0, "{stderr}");
    let post = tenant
        .server
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(
        post.header("authorization"),
        Some(format!("Bearer {ADMIN_API_KEY}").as_str())
    );
}

// setup-qscloud without --apply: the body field by field and against the schema Qlik
// publishes (tests/fixtures/qlik/), the console fields word for word, the refusals, and the
// round trip (a token made with the same issuer and key id passes decode with the certificate
// the body carries). The last two run setup-qseow too, for the same refusals and round trip.

#[test]
fn qscloud_body_is_what_the_identity_providers_api_takes() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) = printed(
        dir.path(),
        &[
            "setup-qscloud",
            "--issuer",
            "t.example",
            "--keyid",
            "k1",
            "--cert-publickey-file",
            &certificate_path(),
        ],
    );
    let body: Value = serde_json::from_str(&stdout).unwrap();
    assert_valid(
        &qlik_schema("identity-providers-create-jwt.schema.json"),
        &body,
    );
    assert_eq!(body["provider"], "external");
    assert_eq!(body["protocol"], "jwtAuth");
    assert_eq!(body["interactive"], false);
    assert_eq!(body["active"], true);
    assert_eq!(
        body["description"],
        "JWT login for t.example, key k1 (qs-jwt)"
    );
    assert_eq!(body["options"]["jwtLoginEnabled"], true);
    assert_eq!(body["options"]["issuer"], "t.example");
    let keys = body["options"]["staticKeys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], "k1");
    // One line, as Qlik Cloud wants it: the certificate with its line breaks taken out.
    let one_line: String = fixture_text("rsa2048-cert.pem").lines().collect();
    assert_eq!(keys[0]["pem"], one_line.as_str());
    assert!(stderr.contains("/api/v1/identity-providers"), "{stderr}");
    // The curl line reads the variable the tool reads, and the file docs/qlik-setup.md writes.
    assert!(
        stderr.contains("save the body in idp.json")
            && stderr.contains("\"Authorization: Bearer $QLIK_API_KEY\"")
            && stderr.contains("--data @idp.json;"),
        "{stderr}"
    );
}

#[test]
fn qscloud_console_shows_the_form_fields() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) = printed(
        dir.path(),
        &[
            "setup-qscloud",
            "--issuer",
            "t.example",
            "--keyid",
            "k1",
            "--cert-publickey-file",
            &certificate_path(),
            "--output",
            "console",
            "--description",
            "Web app",
        ],
    );
    snapbox::assert_data_eq!(
        stdout,
        snapbox::file!["../snapshots/setup/qscloud-console.txt"]
    );
    // The API's curl line goes with --output json only: the console's fields are pasted.
    assert!(
        !stderr.contains("curl") && !stderr.contains("/api/v1/identity-providers"),
        "{stderr}"
    );
}

#[test]
fn what_qlik_cannot_use_is_refused_or_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let public = fixture("rsa2048-public.pem").display().to_string();
    // QSEoW needs a certificate: refused, with the command that makes one.
    let mut cmd = qs_jwt(dir.path());
    cmd.args([
        "setup-qseow",
        "--audience",
        "a",
        "--cert-publickey-file",
        &public,
    ]);
    let stderr = error_lines(fails_cleanly(&mut cmd, dir.path(), 1).as_bytes());
    assert!(
        stderr.contains(
            "is a public key, but a QSEoW virtual proxy verifies tokens with an X.509 certificate"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: make one from the private key: openssl req -new -x509"),
        "{stderr}"
    );
    // Qlik Cloud's schema says public key, its console and examples certificate: a warning.
    let (stdout, stderr) = printed(
        dir.path(),
        &[
            "setup-qscloud",
            "--issuer",
            "i",
            "--keyid",
            "k",
            "--cert-publickey-file",
            &public,
        ],
    );
    assert!(stdout.contains("-----BEGIN PUBLIC KEY-----MII"), "{stdout}");
    assert!(
        stderr.contains("WARN") && stderr.contains("openssl req -new -x509"),
        "{stderr}"
    );

    let cert = certificate_path();
    let long = "d".repeat(129);
    for (args, expected) in [
        (
            vec![
                "setup-qseow",
                "--audience",
                "a",
                "--prefix",
                "Bad/Prefix",
                "--cert-publickey-file",
                &cert,
            ],
            "is not a virtual proxy prefix",
        ),
        (
            vec![
                "setup-qscloud",
                "--issuer",
                "i",
                "--keyid",
                "k",
                "--description",
                &long,
                "--cert-publickey-file",
                &cert,
            ],
            "Qlik Cloud takes at most 128",
        ),
        (
            vec!["setup-qscloud", "--issuer", "i", "--keyid", "k"],
            "--cert-publickey-file",
        ),
    ] {
        let mut cmd = qs_jwt(dir.path());
        cmd.args(&args);
        let stderr = fails_cleanly(&mut cmd, dir.path(), 2);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    for (file, expected) in [
        (
            "ec-p256-public.pem",
            "holds an EC P-256 key; Qlik verifies qs-jwt's tokens (RS256) with an RSA key",
        ),
        ("rsa2048-pkcs8.pem", "holds a private key"),
    ] {
        let path = fixture(file).display().to_string();
        let mut cmd = qs_jwt(dir.path());
        cmd.args([
            "setup-qscloud",
            "--issuer",
            "i",
            "--keyid",
            "k",
            "--cert-publickey-file",
            &path,
        ]);
        let stderr = fails_cleanly(&mut cmd, dir.path(), 1);
        assert!(stderr.contains(expected), "{file}: {stderr}");
    }
}

/// What setup gives Qlik and what create signs belong together: a token made with the same
/// issuer and key id (or audience) passes decode's checks against the certificate in the body.
#[test]
fn a_token_from_create_verifies_with_the_certificate_in_the_body() {
    let dir = tempfile::tempdir().unwrap();
    Create::qseow()
        .new_key()
        .run_in(dir.path())
        .assert()
        .success();

    let (stdout, _) = printed(
        dir.path(),
        &[
            "setup-qscloud",
            "--issuer",
            "t.example",
            "--keyid",
            "k1",
            "--cert-publickey-file",
            "publickey.cer",
        ],
    );
    let body: Value = serde_json::from_str(&stdout).unwrap();
    let pem = body["options"]["staticKeys"][0]["pem"].as_str().unwrap();
    fs::write(dir.path().join("from-body.pem"), pem).unwrap();
    let token = Create::qscloud()
        .args([
            "--issuer",
            "t.example",
            "--keyid",
            "k1",
            "--sub",
            "anna",
            "--username",
            "A",
        ])
        .args(["--useremail", "a@b.c", "--useremail-verified", "true"])
        .key_file("privatekey.pem")
        .run_in(dir.path())
        .output()
        .unwrap();
    let token = single_token(&token.stdout);
    qs_jwt(dir.path())
        .args([
            "decode",
            "--jwt",
            &token,
            "--cert-publickey-file",
            "from-body.pem",
            "--check",
            "qscloud",
        ])
        .assert()
        .success();

    let (stdout, _) = printed(
        dir.path(),
        &[
            "setup-qseow",
            "--audience",
            "aud-1",
            "--cert-publickey-file",
            "publickey.cer",
        ],
    );
    let body: Value = serde_json::from_str(&stdout).unwrap();
    fs::write(
        dir.path().join("vp.pem"),
        body["jwtPublicKeyCertificate"].as_str().unwrap(),
    )
    .unwrap();
    let token = Create::qseow()
        .args(["--audience", "aud-1"])
        .key_file("privatekey.pem")
        .run_in(dir.path())
        .output()
        .unwrap();
    let token = single_token(&token.stdout);
    let (_, payload) = common::decode_parts(&token);
    for attribute in ["jwtAttributeUserId", "jwtAttributeUserDirectory"] {
        let claim = body[attribute].as_str().unwrap();
        assert!(
            payload.get(claim).is_some(),
            "{attribute} names claim {claim}: {payload}"
        );
    }
    qs_jwt(dir.path())
        .args(["decode", "--jwt", &token, "--cert-publickey-file", "vp.pem"])
        .args([
            "--expected-audience",
            body["jwtAudience"].as_str().unwrap(),
            "--check",
            "qseow",
        ])
        .assert()
        .success();
}
