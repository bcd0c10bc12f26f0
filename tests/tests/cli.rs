//! The `imauth` operator commands, run as the built binary against DynamoDB Local with
//! only the standard AWS environment and `TABLE_NAME`, each test on a fresh table; what
//! they write is read back through the store.

use std::fmt::Write as _;
use std::path::PathBuf;

use integration::client::request;
use integration::dynamo::fresh_store;
use integration::operator::{FAST, args, imauth, run, run_in, serve_dynamodb};
use serde_json::{Value, json};
use shared::auth::password::{Password, PasswordHasher, PasswordPolicy};
use shared::auth::verify_client_secret;
use shared::domain::{LoginKey, User};
use shared::store::{AppDirectory as _, CredentialLookup as _, DynamoStore};

async fn create_app(store: &DynamoStore, app_id: &str) -> Value {
    run(store.table(), &["app", "create", "--app-id", app_id], "")
        .await
        .ok()
        .json()
}

async fn stored(store: &DynamoStore, app_id: &str, key: LoginKey) -> Option<User> {
    store.find_user(app_id, &key).await.unwrap()
}

fn verifies(password: &str, user: &User) -> bool {
    PasswordHasher::new(PasswordPolicy::INSECURE_FAST)
        .unwrap()
        .verify(
            &Password::new(password.to_owned()).unwrap(),
            &user.password_hash,
        )
        .unwrap()
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "imauth-cli-{}-{name}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&path, contents).unwrap();
    path
}

#[tokio::test]
async fn table_create_makes_a_new_table_and_refuses_an_existing_one() {
    let (store, _) = fresh_store().await.unwrap();
    let name = format!("imauth-cli-{}", uuid::Uuid::new_v4().simple());
    let created = run("unused", &["table", "create", "--table", &name], "")
        .await
        .ok();
    assert_eq!(created.stderr, format!("created table {name}\n"));
    let described = store
        .client()
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = described
        .table()
        .unwrap()
        .key_schema()
        .iter()
        .map(|k| k.attribute_name().to_owned())
        .collect();
    assert_eq!(keys, ["pk", "sk"]);

    // Again, naming the table through TABLE_NAME this time.
    run(&name, &["table", "create"], "")
        .await
        .fails_with(&format!("table {name} already exists"));
}

#[tokio::test]
async fn app_create_shows_the_client_secret_once_and_stores_only_its_hash() {
    let (store, _) = fresh_store().await.unwrap();
    let created = run(
        store.table(),
        &[
            "app",
            "create",
            "--app-id",
            "shop",
            "--org-name",
            "acme",
            "--app-name",
            "shop-app",
            "--token-ttl",
            "3600",
            "--encrypt-type",
            "1",
            "--public-key",
            "PUBKEY",
            "--allow-non-expiring",
            "--client-id",
            "shop-client",
        ],
        "",
    )
    .await
    .ok();
    let shown = created.json();
    let secret = shown["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 40, "{secret}");
    assert_eq!(shown["client_id"], "shop-client");
    assert_eq!(shown["token_ttl"], 3600);
    assert!(shown.get("client_secret_hash").is_none());
    assert!(!created.stdout.contains("sha256:"), "{}", created.stdout);
    assert!(
        created.stderr.contains("shown only this once"),
        "{created:?}"
    );

    let app = store.app_by_id("shop").await.unwrap().unwrap();
    assert_ne!(app.client_secret_hash, secret);
    assert!(!app.client_secret_hash.contains(&secret));
    assert!(verify_client_secret(&secret, &app.client_secret_hash));
    assert_eq!(
        (
            app.org_name.as_str(),
            app.app_name.as_str(),
            app.token_ttl,
            app.encrypt_type,
            app.public_key.as_str(),
            app.allow_non_expiring
        ),
        ("acme", "shop-app", 3600, 1, "PUBKEY", true)
    );
    assert!(
        store
            .app_by_name("acme", "shop-app")
            .await
            .unwrap()
            .is_some()
    );

    // Defaults: a generated client id, a new secret.
    let other = create_app(&store, "other").await;
    assert!(other["client_id"].as_str().unwrap().starts_with("other-"));
    assert_ne!(other["client_secret"], shown["client_secret"]);

    run(store.table(), &["app", "create", "--app-id", "shop"], "")
        .await
        .fails_with("app_id already taken");
}

#[tokio::test]
async fn users_round_trip_through_create_show_ban_unban_and_set_password() {
    let (store, _) = fresh_store().await.unwrap();
    let table = store.table();
    create_app(&store, "shop").await;
    let create = args(
        &[
            "user",
            "create",
            "--app-id",
            "shop",
            "--user-id",
            "42",
            "--username",
            "Carol",
            "--phone",
            "+1 555-0100",
            "--email",
            "Carol@Example.com",
        ],
        &FAST,
    );
    let created = run(table, &create, "first pass\n").await.ok();
    let shown = created.json();
    assert_eq!(
        (
            &shown["user_id"],
            &shown["username"],
            &shown["phone"],
            &shown["email"],
            &shown["activated"]
        ),
        (
            &json!(42),
            &json!("carol"),
            &json!("+15550100"),
            &json!("carol@example.com"),
            &json!(true)
        )
    );
    assert!(shown.get("password_hash").is_none());
    assert!(!created.stdout.contains("argon2"), "{}", created.stdout);
    let user = stored(&store, "shop", LoginKey::UserId(42)).await.unwrap();
    assert!(
        verifies("first pass", &user),
        "the line end is not part of the password"
    );

    // show, by id and by each login name.
    let by_id = run(
        table,
        &["user", "show", "--app-id", "shop", "--user-id", "42"],
        "",
    )
    .await
    .ok()
    .json();
    assert_eq!(by_id, shown);
    for login in ["CAROL", "carol@example.COM", "+1 (555) 0100"] {
        let found = run(
            table,
            &["user", "show", "--app-id", "shop", "--login", login],
            "",
        )
        .await
        .ok()
        .json();
        assert_eq!(found, shown, "--login {login}");
    }
    run(
        table,
        &["user", "show", "--app-id", "shop", "--user-id", "7"],
        "",
    )
    .await
    .fails_with("no user user_id 7 in app shop");

    // ban / unban
    let who = ["--app-id", "shop", "--user-id", "42"];
    let banned = run(table, &args(&["user", "ban"], &who), "")
        .await
        .ok()
        .json();
    assert_eq!(banned["activated"], false);
    let user = stored(&store, "shop", LoginKey::Username("carol".into()))
        .await
        .unwrap();
    assert!(!user.activated);
    assert!(user.tokens_valid_after > 0);
    run(table, &args(&["user", "unban"], &who), "").await.ok();
    let user = stored(&store, "shop", LoginKey::Phone("+15550100".into()))
        .await
        .unwrap();
    assert!(user.activated);
    run(
        table,
        &["user", "ban", "--app-id", "shop", "--user-id", "7"],
        "",
    )
    .await
    .fails_with("no user 7 in app shop");

    // set-password, from stdin then from a file; every copy of the user follows.
    let set = args(&args(&["user", "set-password"], &who), &FAST);
    let changed = run(table, &set, "second pass\n").await.ok();
    assert!(changed.stderr.contains("password set"), "{changed:?}");
    let user = stored(&store, "shop", LoginKey::Email("carol@example.com".into()))
        .await
        .unwrap();
    assert!(verifies("second pass", &user));
    assert!(!verifies("first pass", &user));

    let file = temp_file("password", "third pass\n");
    let from_file = args(&set, &["--password-file", file.to_str().unwrap()]);
    run(table, &from_file, "").await.ok();
    let user = stored(&store, "shop", LoginKey::UserId(42)).await.unwrap();
    assert!(verifies("third pass", &user));
    std::fs::remove_file(file).unwrap();

    run(table, &set, "\n")
        .await
        .fails_with("password must not be empty");
}

#[tokio::test]
async fn a_taken_username_exits_1_and_writes_nothing() {
    let (store, _) = fresh_store().await.unwrap();
    create_app(&store, "shop").await;
    let user = |app: &'static str, id: &'static str, name: &'static str| {
        args(
            &[
                "user",
                "create",
                "--app-id",
                app,
                "--user-id",
                id,
                "--username",
                name,
            ],
            &FAST,
        )
    };
    run(store.table(), &user("shop", "1", "alice"), "pw-1\n")
        .await
        .ok();
    run(store.table(), &user("shop", "2", "ALICE"), "pw-2\n")
        .await
        .fails_with("username already taken");
    assert!(stored(&store, "shop", LoginKey::UserId(2)).await.is_none());

    run(store.table(), &user("nope", "3", "bob"), "pw\n")
        .await
        .fails_with("unknown app: app_id \"nope\" names no app");
}

#[tokio::test]
async fn passwords_are_never_taken_from_argv_and_weak_policies_need_dynamodb_local() {
    let (store, _) = fresh_store().await.unwrap();
    let with_flag = run(
        store.table(),
        &[
            "user",
            "create",
            "--app-id",
            "a",
            "--user-id",
            "1",
            "--username",
            "u",
            "--password",
            "secret",
        ],
        "",
    )
    .await;
    assert_eq!(with_flag.code, 1, "{with_flag:?}");
    assert!(
        with_flag
            .stderr
            .contains("unexpected argument '--password'"),
        "{with_flag:?}"
    );

    let mut remote = imauth(store.table());
    remote.env(
        "AWS_ENDPOINT_URL_DYNAMODB",
        "https://dynamodb.us-east-1.amazonaws.com",
    );
    let weak = run_in(
        remote,
        &args(
            &[
                "user",
                "create",
                "--app-id",
                "a",
                "--user-id",
                "1",
                "--username",
                "u",
            ],
            &FAST,
        ),
        "pw\n",
    )
    .await;
    assert_eq!(weak.code, 1, "{weak:?}");
    assert!(
        weak.stderr
            .contains("only allowed with the embedded store or DynamoDB Local"),
        "{weak:?}"
    );
}

/// A CSV row per tuple.
fn csv(rows: &[String]) -> String {
    let mut text = String::from("user_id,username,phone,email,password\n");
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text
}

#[tokio::test]
async fn import_reports_bad_rows_by_line_and_a_rerun_imports_nothing_twice() {
    let (store, _) = fresh_store().await.unwrap();
    create_app(&store, "shop").await;
    // A user that already holds the username `taken`.
    run(
        store.table(),
        &args(
            &[
                "user",
                "create",
                "--app-id",
                "shop",
                "--user-id",
                "500",
                "--username",
                "taken",
            ],
            &FAST,
        ),
        "pw\n",
    )
    .await
    .ok();

    let mut rows: Vec<String> = vec![
        "1,u1,,,pw-1".into(),                                             // line 2
        "abc,u2,,,pw".into(),                                             // line 3
        "2,12345,,,pw".into(),                                            // line 4
        "3,u3,,,".into(),                                                 // line 5
        "4,taken,,,pw".into(),                                            // line 6
        "5,u5,,".into(),                                                  // line 7
        "6,u6,+86 138-0000-0006,U6@Example.com,\"p,w \"\"6\"\"\"".into(), // line 8
        "7,U1,,,pw".into(),                                               // line 9
    ];
    for i in 10..40 {
        rows.push(format!("{i},user-{i},,user{i}@example.com,pw-{i}"));
    }
    let bad = [
        "line 3: user_id \"abc\" is not a positive int64",
        "line 4: username must contain a non-digit character (all-digit names are read as phone numbers)",
        "line 5: password must not be empty",
        "line 6: username already taken by another user",
        "line 7: expected 5 fields (user_id,username,phone,email,password), found 4",
        "line 9: username already taken by line 2",
    ];
    let good = rows.len() - bad.len();
    let file = temp_file("users.csv", &csv(&rows));
    let import = [
        "import",
        "--app-id",
        "shop",
        "--password-policy",
        "insecure-fast",
        file.to_str().unwrap(),
    ];

    for (attempt, (imported, present)) in [(good, 0), (0, good)].into_iter().enumerate() {
        let outcome = run(store.table(), &import, "").await;
        assert_eq!(outcome.code, 2, "run {attempt}: {outcome:?}");
        let summary = outcome.json();
        assert_eq!(summary["imported"], imported, "run {attempt}: {outcome:?}");
        assert_eq!(
            summary["already_present"], present,
            "run {attempt}: {outcome:?}"
        );
        assert_eq!(summary["bad_rows"], bad.len(), "run {attempt}: {outcome:?}");
        assert!(summary["rows_per_second"].as_f64().unwrap() > 0.0);
        let mut reported: Vec<&str> = outcome
            .stderr
            .lines()
            .filter(|l| l.starts_with("line "))
            .collect();
        reported.sort_by_key(|l| l.split(':').next().map(|n| n[5..].parse::<u32>().unwrap()));
        assert_eq!(reported, bad, "run {attempt}");
        let last = outcome.stderr.lines().last().unwrap();
        assert!(
            last.starts_with(&format!(
                "import: {imported} imported, {present} already present, {} bad rows;",
                bad.len()
            )),
            "{last}"
        );
        println!("run {attempt}: {}", outcome.stdout.trim());
    }
    std::fs::remove_file(file).unwrap();

    let six = stored(&store, "shop", LoginKey::Phone("+8613800000006".into()))
        .await
        .unwrap();
    assert_eq!((six.user_id, six.username.as_str()), (6, "u6"));
    assert_eq!(six.email.as_deref(), Some("u6@example.com"));
    assert!(verifies("p,w \"6\"", &six));
    let one = stored(&store, "shop", LoginKey::Username("u1".into()))
        .await
        .unwrap();
    assert_eq!(one.user_id, 1);
    assert!(verifies("pw-1", &one));
    let last = stored(&store, "shop", LoginKey::Email("user39@example.com".into()))
        .await
        .unwrap();
    assert_eq!(last.user_id, 39);
    for (id, why) in [
        (3, "no password"),
        (4, "name taken"),
        (5, "short row"),
        (7, "dup"),
    ] {
        assert!(
            stored(&store, "shop", LoginKey::UserId(id)).await.is_none(),
            "{why}"
        );
    }
    let holder = stored(&store, "shop", LoginKey::Username("taken".into()))
        .await
        .unwrap();
    assert_eq!(holder.user_id, 500);
}

/// Excel and Windows tools end lines with CRLF: a bad row is still named by its own line.
#[tokio::test]
async fn import_names_the_bad_line_whether_lines_end_in_lf_or_crlf() {
    let (store, _) = fresh_store().await.unwrap();
    create_app(&store, "shop").await;
    for (end, first_id) in [("\n", 8001), ("\r\n", 8101)] {
        let text = format!(
            "user_id,username,phone,email,password{end}{first_id},a{first_id},,,pw{end}bad,b,x,y,z{end}"
        );
        let file = temp_file("line-ends.csv", &text);
        let path = file.to_str().unwrap();
        let outcome = run(
            store.table(),
            &args(&["import", "--app-id", "shop", path], &FAST),
            "",
        )
        .await;
        std::fs::remove_file(&file).unwrap();
        let reported: Vec<&str> = outcome
            .stderr
            .lines()
            .filter(|l| l.starts_with("line "))
            .collect();
        assert_eq!(
            reported,
            ["line 3: user_id \"bad\" is not a positive int64"],
            "line ends {end:?}: {outcome:?}"
        );
        assert_eq!(
            outcome.json()["imported"],
            1,
            "line ends {end:?}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn import_refuses_a_bad_header_and_an_unknown_app() {
    let (store, _) = fresh_store().await.unwrap();
    create_app(&store, "shop").await;
    let file = temp_file("header.csv", "id,name,password\n1,a,b\n");
    let path = file.to_str().unwrap();
    run(store.table(), &args(&["import", "--app-id", "shop", path], &FAST), "")
        .await
        .fails_with(&format!(
            "{path}: line 1: the header must be `user_id,username,phone,email,password` (found `id,name,password`)"
        ));
    run(
        store.table(),
        &args(&["import", "--app-id", "nope", path], &FAST),
        "",
    )
    .await
    .fails_with(&format!(
        "unknown app: app_id \"nope\" names no app in table {}",
        store.table()
    ));
    std::fs::remove_file(file).unwrap();
}

#[tokio::test]
async fn import_of_10000_rows() {
    const ROWS: i64 = 10_000;
    let (store, _) = fresh_store().await.unwrap();
    create_app(&store, "big").await;
    let mut text = String::from("user_id,username,phone,email,password\n");
    for i in 1..=ROWS {
        let phone = if i % 3 == 0 {
            format!("+1555{i:07}")
        } else {
            String::new()
        };
        let email = if i % 2 == 0 {
            format!("user{i}@example.com")
        } else {
            String::new()
        };
        writeln!(text, "{i},user-{i},{phone},{email},password-{i}").unwrap();
    }
    let file = temp_file("10k.csv", &text);
    let outcome = run(
        store.table(),
        &args(
            &["import", "--app-id", "big", file.to_str().unwrap()],
            &FAST,
        ),
        "",
    )
    .await
    .ok();
    std::fs::remove_file(file).unwrap();
    let summary = outcome.json();
    println!(
        "10k import (debug build, insecure-fast): {}",
        outcome.stdout.trim()
    );
    println!("{}", outcome.stderr.lines().last().unwrap_or_default());
    assert_eq!(summary["imported"], ROWS);
    assert_eq!(summary["already_present"], 0);
    assert_eq!(summary["bad_rows"], 0);
    assert!(summary["rows_per_second"].as_f64().unwrap() > 0.0);
    // Not a terminal: plain progress lines, at most about one a second.
    let progress = outcome
        .stderr
        .lines()
        .filter(|l| l.contains("/10000 rows"))
        .count();
    let seconds = summary["seconds"].as_f64().unwrap();
    assert!(
        progress as f64 <= seconds + 1.0,
        "{progress} lines in {seconds} s"
    );
    if seconds > 2.0 {
        assert!(progress >= 1, "{}", outcome.stderr);
    }
    for i in [1, 4_999, ROWS] {
        let user = stored(&store, "big", LoginKey::UserId(i)).await.unwrap();
        assert_eq!(user.username, format!("user-{i}"));
        assert!(verifies(&format!("password-{i}"), &user));
    }
    let by_phone = stored(&store, "big", LoginKey::Phone("+15550009999".into()))
        .await
        .unwrap();
    assert_eq!(by_phone.user_id, 9_999);
}

#[tokio::test]
async fn serve_dynamodb_logs_in_a_user_created_with_the_cli() {
    let (store, _) = fresh_store().await.unwrap();
    create_app(&store, "shop").await;
    run(
        store.table(),
        &args(
            &[
                "user",
                "create",
                "--app-id",
                "shop",
                "--user-id",
                "77",
                "--username",
                "dora",
                "--email",
                "dora@example.com",
            ],
            &FAST,
        ),
        "dora's password\n",
    )
    .await
    .ok();
    let (_server, addr) = serve_dynamodb(store.table()).await;
    let headers = [("app_id", "shop"), ("content-type", "application/json")];

    let ok = request(
        addr,
        "POST",
        "/token/id",
        &headers,
        br#"{"user_id":77,"password":"dora's password"}"#,
    )
    .await
    .unwrap();
    let body = ok.json().unwrap();
    assert_eq!((ok.status, &body["code"]), (200, &json!(200)), "{body}");
    assert_eq!(body["data"]["user_id"], 77);
    assert!(body["data"]["token"].as_str().unwrap().starts_with("eyJ"));

    let by_email = request(
        addr,
        "POST",
        "/token/login",
        &headers,
        br#"{"login_name":"Dora@Example.com","password":"dora's password"}"#,
    )
    .await
    .unwrap();
    assert_eq!(by_email.status, 200, "{:?}", by_email.json());

    let wrong = request(
        addr,
        "POST",
        "/token/id",
        &headers,
        br#"{"user_id":77,"password":"nope"}"#,
    )
    .await
    .unwrap();
    assert_eq!(wrong.status, 401);

    // A ban through the CLI is seen by the very next login.
    run(
        store.table(),
        &["user", "ban", "--app-id", "shop", "--user-id", "77"],
        "",
    )
    .await
    .ok();
    let banned = request(
        addr,
        "POST",
        "/token/id",
        &headers,
        br#"{"user_id":77,"password":"dora's password"}"#,
    )
    .await
    .unwrap();
    assert_eq!(banned.status, 403);
}

#[tokio::test]
async fn serve_dynamodb_refuses_seed_and_demo() {
    let (store, _) = fresh_store().await.unwrap();
    let refused = run(
        store.table(),
        &["serve", "--store", "dynamodb", "--demo"],
        "",
    )
    .await;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("--seed and --demo only fill the embedded store"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn app_show_and_create_with_a_ttl_cap_never_print_the_secret_hash() {
    let (store, _) = fresh_store().await.unwrap();
    let created = run(
        store.table(),
        &[
            "app",
            "create",
            "--app-id",
            "capped",
            "--token-ttl",
            "600",
            "--max-token-ttl",
            "7200",
        ],
        "",
    )
    .await
    .ok()
    .json();
    assert_eq!(created["max_token_ttl"], 7_200);
    assert_eq!(
        store
            .app_by_id("capped")
            .await
            .unwrap()
            .unwrap()
            .max_token_ttl,
        7_200
    );

    let shown = run(store.table(), &["app", "show", "--app-id", "capped"], "")
        .await
        .ok();
    let app = shown.json();
    assert_eq!(
        (
            &app["app_id"],
            &app["token_ttl"],
            &app["max_token_ttl"],
            &app["app_tokens_valid_after"]
        ),
        (&json!("capped"), &json!(600), &json!(7_200), &json!(0))
    );
    assert_eq!(app["client_id"], created["client_id"]);
    assert!(app.get("client_secret").is_none() && app.get("client_secret_hash").is_none());
    assert!(!shown.stdout.contains("sha256:"), "{}", shown.stdout);
    // Defaults: 30 days, never below the app's own token_ttl.
    let default = create_app(&store, "plain").await;
    assert_eq!(default["max_token_ttl"], 2_592_000);

    run(
        store.table(),
        &[
            "app",
            "create",
            "--app-id",
            "bad",
            "--token-ttl",
            "600",
            "--max-token-ttl",
            "599",
        ],
        "",
    )
    .await
    .fails_with("max_token_ttl must be from token_ttl (600) to 315360000 seconds");
    run(store.table(), &["app", "show", "--app-id", "nope"], "")
        .await
        .fails_with("no app nope");
    run(
        store.table(),
        &["app", "rotate-secret", "--app-id", "nope"],
        "",
    )
    .await
    .fails_with("no app nope");
}

#[tokio::test]
async fn app_list_pages_through_apps_and_app_update_keeps_the_creation_rules() {
    let (store, _) = fresh_store().await.unwrap();
    for id in ["beta", "alpha", "gamma"] {
        create_app(&store, id).await;
    }
    let list = |after: Option<&'static str>| {
        let mut argv = vec!["app", "list", "--limit", "2"];
        argv.extend(after.iter().flat_map(|after| ["--after", *after]));
        let table = store.table().to_owned();
        async move { run(&table, &argv, "").await.ok() }
    };
    let first = list(None).await;
    let page = first.json();
    let ids = |page: &Value| {
        page["apps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|app| app["app_id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&page), ["alpha", "beta"]);
    assert_eq!(page["next"], "beta");
    assert!(!first.stdout.contains("sha256:"), "{}", first.stdout);
    let last = list(Some("beta")).await.json();
    assert_eq!(
        (ids(&last), &last["next"]),
        (vec!["gamma".to_owned()], &Value::Null)
    );

    let updated = run(
        store.table(),
        &[
            "app",
            "update",
            "--app-id",
            "beta",
            "--token-ttl",
            "600",
            "--max-token-ttl",
            "3600",
            "--encrypt-type",
            "1",
            "--public-key",
            "pk-2",
        ],
        "",
    )
    .await
    .ok()
    .json();
    let stored = store.app_by_id("beta").await.unwrap().unwrap();
    assert_eq!(
        (
            stored.token_ttl,
            stored.max_token_ttl,
            stored.encrypt_type,
            stored.public_key.as_str()
        ),
        (600, 3_600, 1, "pk-2")
    );
    assert_eq!(updated["token_ttl"], 600);
    assert_eq!(updated["public_key"], "pk-2");
    let beta = store.app_by_id("beta").await.unwrap().unwrap();
    let listed = list(None).await.json();
    assert_eq!(
        listed["apps"][1]["max_token_ttl"], 3_600,
        "the listed copy changed too"
    );

    run(
        store.table(),
        &["app", "update", "--app-id", "beta", "--token-ttl", "3601"],
        "",
    )
    .await
    .fails_with("max_token_ttl must be from token_ttl (3601) to 315360000 seconds");
    assert_eq!(
        store.app_by_id("beta").await.unwrap(),
        Some(beta),
        "nothing written"
    );
    run(
        store.table(),
        &["app", "update", "--app-id", "nope", "--encrypt-type", "0"],
        "",
    )
    .await
    .fails_with("no app nope");
    let nothing = run(store.table(), &["app", "update", "--app-id", "beta"], "").await;
    assert!(
        nothing.code == 1
            && nothing
                .stderr
                .contains("required arguments were not provided"),
        "an update that changes nothing is refused: {nothing:?}"
    );
    run(store.table(), &["app", "list", "--limit", "0"], "")
        .await
        .fails_with("limit must be 1 to 1000");
}

#[tokio::test]
async fn rotate_secret_revokes_app_tokens_in_a_running_server_at_once() {
    let (store, _) = fresh_store().await.unwrap();
    let created = create_app(&store, "shop").await;
    let old_secret = created["client_secret"].as_str().unwrap().to_owned();
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    run(
        store.table(),
        &args(
            &[
                "user",
                "create",
                "--app-id",
                "shop",
                "--user-id",
                "7",
                "--username",
                "bo",
            ],
            &FAST,
        ),
        "bo's password\n",
    )
    .await
    .ok();
    let (_server, addr) = serve_dynamodb(store.table()).await;
    let app_token = |secret: String| {
        let body = json!({"grant_type": "client_credentials", "client_id": client_id,
                          "client_secret": secret});
        async move {
            let json = [("content-type", "application/json")];
            let answer = request(
                addr,
                "POST",
                "/shop/shop/token",
                &json,
                body.to_string().as_bytes(),
            )
            .await
            .unwrap();
            (answer.status, answer.json().unwrap())
        }
    };
    let act = |admin: String| async move {
        let headers = [
            ("app_id", "shop"),
            ("access-token", admin.as_str()),
            ("user_id", "7"),
        ];
        request(addr, "POST", "/token/id", &headers, b"{}")
            .await
            .unwrap()
            .status
    };
    let (status, body) = app_token(old_secret.clone()).await;
    assert_eq!(status, 200, "{body}");
    let old_admin = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(act(old_admin.clone()).await, 200);

    let rotation = run(
        store.table(),
        &["app", "rotate-secret", "--app-id", "shop"],
        "",
    )
    .await
    .ok();
    let rotated = rotation.json();
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, old_secret);
    assert!(rotated["app_tokens_valid_after"].as_i64().unwrap() > 0);
    assert!(
        rotation.stderr.contains("shown only this once"),
        "{rotation:?}"
    );
    assert!(!rotation.stdout.contains("sha256:"), "{}", rotation.stdout);
    let stored = store.app_by_id("shop").await.unwrap().unwrap();
    assert!(verify_client_secret(
        &new_secret,
        &stored.client_secret_hash
    ));
    assert!(!verify_client_secret(
        &old_secret,
        &stored.client_secret_hash
    ));
    assert_eq!(
        store.app_by_name("shop", "shop").await.unwrap().as_ref(),
        Some(&stored),
        "both copies"
    );

    // The server cached the app a moment ago; the rotation counts at once anyway.
    assert_eq!(act(old_admin).await, 401);
    let (status, body) = app_token(old_secret).await;
    assert_eq!(
        (status, &body["error"]),
        (401, &json!("unauthorized")),
        "{body}"
    );
    let (status, body) = app_token(new_secret).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        act(body["access_token"].as_str().unwrap().to_owned()).await,
        200
    );
}
