//! `imauth keys init | rotate | show`, run as the built binary: on local key files, and on
//! Secrets Manager through a fake service on loopback (the real one is not reachable
//! from tests; `integration::secrets` speaks its JSON protocol). Key material never
//! appears in what the command prints, and a token signed before a rotation still
//! verifies after it until its key is retired.

use std::path::{Path, PathBuf};
use std::time::Duration;

use integration::secrets::{FakeSecretsManager, imauth_command};
use serde_json::Value;
use shared::auth::tokens::{Claims, KeySetDocument, PublicKeySet, TokenKeys, TokenType};

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn ok(self) -> Value {
        assert_eq!(self.code, 0, "{self:?}");
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// Exit status 1 with one line, `error: ...` containing `fragment`, on stderr.
    #[track_caller]
    fn fails_with(&self, fragment: &str) {
        assert_eq!(self.code, 1, "{self:?}");
        assert!(
            self.stderr.starts_with("error: ")
                && self.stderr.ends_with('\n')
                && self.stderr.lines().count() == 1
                && self.stderr.contains(fragment),
            "expected one `error:` line containing {fragment:?}: {self:?}"
        );
    }

    /// A usage error (clap's message, several lines): exit status 1, naming `fragment`.
    #[track_caller]
    fn refused_usage(&self, fragment: &str) {
        assert_eq!(self.code, 1, "{self:?}");
        assert!(
            self.stderr.starts_with("error: ") && self.stderr.contains(fragment),
            "expected a usage error naming {fragment:?}: {self:?}"
        );
        assert!(self.stdout.is_empty(), "{self:?}");
    }
}

/// The binary with a hermetic environment; `secrets` points Secrets Manager at the fake.
async fn imauth(args: &[&str], secrets: Option<&FakeSecretsManager>) -> Run {
    let mut command = imauth_command(secrets).unwrap();
    command.args(args);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .unwrap_or_else(|_| panic!("imauth {args:?} did not finish"))
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "imauth-keys-{}-{name}",
        uuid::Uuid::new_v4().simple()
    ))
}

fn document(text: &str) -> KeySetDocument {
    serde_json::from_str(text).expect("a key set document")
}

fn read_doc(path: &Path) -> KeySetDocument {
    document(&std::fs::read_to_string(path).unwrap())
}

/// Every secret string of a key set: what must never be printed.
fn secrets_of(doc: &KeySetDocument) -> Vec<String> {
    let hmac_versions = [&doc.refresh, &doc.store]
        .into_iter()
        .flat_map(|versions| std::iter::once(&versions.current).chain(&versions.previous));
    doc.keys
        .iter()
        .map(|k| k.ed25519_seed.clone())
        .chain(hmac_versions.map(|v| v.secret.clone()))
        .collect()
}

#[track_caller]
fn prints_no_key_material(run_output: &Value, docs: &[&KeySetDocument]) {
    let printed = run_output.to_string();
    for doc in docs {
        for secret in secrets_of(doc) {
            assert!(
                !printed.contains(&secret),
                "key material printed: {printed}"
            );
        }
    }
    assert!(!printed.contains("ed25519_seed") && !printed.contains("\"secret\""));
}

/// The summary lists exactly the document's keys and marks the active one.
#[track_caller]
fn summarises(summary: &Value, doc: &KeySetDocument) {
    assert_eq!(summary["active"], doc.active.as_str());
    let listed: Vec<(&str, bool)> = summary["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap(), k["active"].as_bool().unwrap()))
        .collect();
    let expected: Vec<(&str, bool)> = doc
        .keys
        .iter()
        .map(|k| (k.kid.as_str(), k.kid == doc.active))
        .collect();
    assert_eq!(listed, expected);
}

fn access_token(keys: &TokenKeys) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    keys.sign(&Claims {
        iss: "imauth".into(),
        aud: TokenType::Access.audience().into(),
        sub: "42".into(),
        app: "demo".into(),
        iat: now,
        iat_ms: now * 1000,
        exp: now + 600,
        sid: "s".into(),
        typ: TokenType::Access,
        dev: None,
        act: None,
        grp: None,
    })
    .unwrap()
}

fn token_keys(doc: &KeySetDocument) -> TokenKeys {
    TokenKeys::from_document(doc, "imauth").unwrap()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn file_init_creates_a_private_key_set_and_refuses_to_overwrite_it() {
    let path = temp_path("keys.json");
    let file = path.to_str().unwrap();
    let summary = imauth(&["keys", "init", "--file", file], None).await.ok();
    let doc = read_doc(&path);
    assert_eq!(doc.keys.len(), 1);
    assert_eq!(doc.keys[0].kid, doc.active);
    summarises(&summary, &doc);
    assert_eq!(summary["file"], file);
    prints_no_key_material(&summary, &[&doc]);
    #[cfg(unix)]
    assert_eq!(
        mode(&path),
        0o600,
        "the key file is readable by its owner only"
    );
    // What `imauth serve --keys` and IMAUTH_KEYS_FILE load.
    let keys = token_keys(&doc);
    let token = access_token(&keys);
    assert!(keys.verify(&token, TokenType::Access).is_ok());

    let before = std::fs::read_to_string(&path).unwrap();
    imauth(&["keys", "init", "--file", file], None)
        .await
        .fails_with("already exists");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);

    let shown = imauth(&["keys", "show", "--file", file], None).await.ok();
    summarises(&shown, &doc);
    prints_no_key_material(&shown, &[&doc]);

    // The public half (what `sam local` serves to the verify-only functions): it verifies
    // the key set's tokens and holds no secret.
    let public = imauth(&["keys", "public", "--file", file], None).await.ok();
    prints_no_key_material(&public, &[&doc]);
    let public: PublicKeySet = serde_json::from_value(public).unwrap();
    let verifier = TokenKeys::verify_only(&public, "imauth").unwrap();
    assert!(verifier.verify(&token, TokenType::Access).is_ok());
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn file_rotate_adds_an_active_key_keeps_old_tokens_valid_and_retires_past_keep() {
    let path = temp_path("keys.json");
    let file = path.to_str().unwrap();
    imauth(&["keys", "init", "--file", file], None).await.ok();
    let first = read_doc(&path);
    let old_token = access_token(&token_keys(&first));

    let summary = imauth(&["keys", "rotate", "--file", file], None).await.ok();
    let second = read_doc(&path);
    summarises(&summary, &second);
    prints_no_key_material(&summary, &[&first, &second]);
    assert_eq!(second.keys.len(), 2);
    assert_ne!(second.active, first.active, "the new key is active");
    assert_eq!(second.keys[0].kid, first.active, "the old key stays");
    // Both HMAC secrets get a new version; the one before stays for one rotation.
    for (before, after) in [
        (&first.refresh, &second.refresh),
        (&first.store, &second.store),
    ] {
        assert_ne!(after.current.secret, before.current.secret);
        assert_eq!(
            after.previous.as_ref().map(|v| v.secret.as_str()),
            Some(before.current.secret.as_str())
        );
    }
    assert_eq!(
        summary["secrets"]["store"],
        serde_json::json!([second.store.current.id, first.store.current.id])
    );
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    let keys = token_keys(&second);
    assert!(
        keys.verify(&old_token, TokenType::Access).is_ok(),
        "a token signed before the rotation still verifies"
    );
    let new_token = access_token(&keys);
    assert!(new_token.contains('.') && new_token != old_token);

    // --keep 2: each further rotation retires the oldest key, never the active one.
    let summary = imauth(&["keys", "rotate", "--file", file, "--keep", "2"], None)
        .await
        .ok();
    let third = read_doc(&path);
    assert_eq!(third.keys.len(), 2);
    assert_eq!(summary["retired"], serde_json::json!([first.active]));
    assert!(
        token_keys(&third)
            .verify(&old_token, TokenType::Access)
            .is_err(),
        "a retired key's tokens no longer verify"
    );
    assert!(
        token_keys(&third)
            .verify(&new_token, TokenType::Access)
            .is_ok()
    );

    imauth(&["keys", "rotate", "--file", file, "--keep", "0"], None)
        .await
        .refused_usage("--keep");
    assert_eq!(
        read_doc(&path).keys.len(),
        2,
        "a refused rotation writes nothing"
    );
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn file_rotate_refuses_a_missing_or_broken_file_without_touching_it() {
    let missing = temp_path("missing.json");
    imauth(
        &["keys", "rotate", "--file", missing.to_str().unwrap()],
        None,
    )
    .await
    .fails_with("reading key file");
    assert!(!missing.exists());

    let broken = temp_path("broken.json");
    std::fs::write(&broken, "{\"active\": \"k\", \"keys\": [").unwrap();
    imauth(
        &["keys", "rotate", "--file", broken.to_str().unwrap()],
        None,
    )
    .await
    .fails_with("does not hold a key set");
    assert_eq!(
        std::fs::read_to_string(&broken).unwrap(),
        "{\"active\": \"k\", \"keys\": ["
    );

    // Well-formed JSON whose active key is not in the set: refused, not "repaired".
    let mut doc = KeySetDocument::generate(1).unwrap();
    doc.active = "nope".into();
    let text = serde_json::to_string(&doc).unwrap();
    std::fs::write(&broken, &text).unwrap();
    let run = imauth(
        &["keys", "rotate", "--file", broken.to_str().unwrap()],
        None,
    )
    .await;
    run.fails_with("broken key set");
    assert!(!run.stderr.contains(&doc.keys[0].ed25519_seed));
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), text);
    let _ = std::fs::remove_file(&broken);
}

#[tokio::test]
async fn location_is_exactly_one_of_secret_id_and_file() {
    imauth(&["keys", "init"], None)
        .await
        .refused_usage("--secret-id");
    let path = temp_path("both.json");
    let run = imauth(
        &[
            "keys",
            "init",
            "--file",
            path.to_str().unwrap(),
            "--secret-id",
            "x",
        ],
        None,
    )
    .await;
    run.refused_usage("cannot be used with");
    assert!(!path.exists());
}

#[tokio::test]
async fn secret_init_rotate_and_show_through_secrets_manager() {
    let fake = FakeSecretsManager::start().await.unwrap();
    let name = "imauth/keys";

    let summary = imauth(&["keys", "init", "--secret-id", name], Some(&fake))
        .await
        .ok();
    let first = document(&fake.current(name).expect("the secret was created"));
    summarises(&summary, &first);
    prints_no_key_material(&summary, &[&first]);
    let arn = summary["arn"]
        .as_str()
        .expect("init prints the ARN")
        .to_owned();
    assert!(arn.starts_with("arn:aws:secretsmanager:"), "{summary}");
    assert_eq!(summary["secret_id"], name);
    assert!(
        summary["public_secret"]["arn"]
            .as_str()
            .is_some_and(|a| a.contains(":secret:imauth/keys-public")),
        "init prints the public key secret's ARN: {summary}"
    );
    publishes_only_the_public_keys(&fake, &first);

    imauth(&["keys", "init", "--secret-id", name], Some(&fake))
        .await
        .fails_with("already exists");
    assert_eq!(fake.version_count(name), 1);

    let old_token = access_token(&token_keys(&first));
    // Rotate by ARN, as the template's KeysSecretArn names it.
    let summary = imauth(&["keys", "rotate", "--secret-id", &arn], Some(&fake))
        .await
        .ok();
    assert_eq!(fake.version_count(name), 2, "rotation writes a new version");
    let second = document(&fake.current(name).unwrap());
    summarises(&summary, &second);
    prints_no_key_material(&summary, &[&first, &second]);
    assert_eq!(second.keys.len(), 2);
    assert_ne!(second.active, first.active);
    assert!(
        token_keys(&second)
            .verify(&old_token, TokenType::Access)
            .is_ok()
    );
    assert_eq!(
        fake.version_count(PUBLIC),
        2,
        "rotation publishes the new key"
    );
    publishes_only_the_public_keys(&fake, &second);

    let shown = imauth(&["keys", "show", "--secret-id", name], Some(&fake))
        .await
        .ok();
    summarises(&shown, &second);
    prints_no_key_material(&shown, &[&second]);

    imauth(&["keys", "rotate", "--secret-id", "nope"], Some(&fake))
        .await
        .fails_with("reading secret nope");
    assert_eq!(
        fake.operations(),
        [
            // init: the private secret, then the public one (not there yet: created)
            "CreateSecret",
            "PutSecretValue",
            "CreateSecret",
            // init again: refused before anything else
            "CreateSecret",
            // rotate: the public keys first, so verifiers know the new key before it signs
            "GetSecretValue",
            "PutSecretValue",
            "PutSecretValue",
            "GetSecretValue",
            "GetSecretValue"
        ]
    );
}

const PUBLIC: &str = "imauth/keys-public";

/// The public key secret beside `imauth/keys` holds exactly `doc`'s public keys and
/// nothing secret.
#[track_caller]
fn publishes_only_the_public_keys(fake: &FakeSecretsManager, doc: &KeySetDocument) {
    let text = fake.current(PUBLIC).expect("the public key secret exists");
    let public: PublicKeySet = serde_json::from_str(&text).unwrap();
    assert_eq!(public, doc.public_key_set().unwrap());
    for secret in secrets_of(doc) {
        assert!(
            !text.contains(&secret),
            "private material published: {text}"
        );
    }
}

#[tokio::test]
async fn upgrade_converts_an_old_key_set_which_the_functions_refuse() {
    let current = KeySetDocument::generate(1).unwrap();
    let legacy_secret = "c3RvcmUtc2VjcmV0LW9mLXRoZS1vbGQtbGF5b3V0LTMyYg";
    let legacy = serde_json::json!({
        "active": current.active, "keys": current.keys, "store_secret": legacy_secret,
    })
    .to_string();

    // A file: refused by every command but upgrade, which rewrites it once.
    let path = temp_path("legacy.json");
    let file = path.to_str().unwrap();
    std::fs::write(&path, &legacy).unwrap();
    imauth(&["keys", "rotate", "--file", file], None)
        .await
        .fails_with("convert it with `imauth keys upgrade`");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), legacy);
    let summary = imauth(&["keys", "upgrade", "--file", file], None)
        .await
        .ok();
    assert_eq!(summary["upgraded"], true);
    let upgraded = read_doc(&path);
    prints_no_key_material(&summary, &[&upgraded]);
    assert_eq!(upgraded.active, current.active);
    assert_eq!(upgraded.store.current.secret, legacy_secret);
    assert_ne!(upgraded.refresh.current.secret, legacy_secret);
    let again = imauth(&["keys", "upgrade", "--file", file], None)
        .await
        .ok();
    assert_eq!(again["upgraded"], false);
    assert_eq!(
        read_doc(&path).refresh.current.secret,
        upgraded.refresh.current.secret
    );
    let _ = std::fs::remove_file(&path);

    // A secret: upgraded in place, and the public key secret written beside it.
    let fake = FakeSecretsManager::start().await.unwrap();
    fake.insert("imauth/keys", &legacy);
    imauth(&["keys", "show", "--secret-id", "imauth/keys"], Some(&fake))
        .await
        .fails_with("old key-set layout");
    let summary = imauth(
        &["keys", "upgrade", "--secret-id", "imauth/keys"],
        Some(&fake),
    )
    .await
    .ok();
    assert_eq!(summary["upgraded"], true);
    let upgraded = document(&fake.current("imauth/keys").unwrap());
    assert_eq!(upgraded.store.current.secret, legacy_secret);
    publishes_only_the_public_keys(&fake, &upgraded);
}
