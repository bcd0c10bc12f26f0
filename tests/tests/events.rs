//! `events/` is what the generator (`integration::events`) writes, byte for byte: a changed
//! generator or a hand-edited event fails here. `IMAUTH_WRITE_EVENTS=1` rewrites the files
//! instead (then review the diff and commit it).

use integration::events::{ROUTE_FOLDERS, rendered, stale_files, write_all};
use integration::fixtures::TempDir;
use integration::repo_root;

#[test]
fn events_match_their_generator() {
    let events_dir = repo_root().join("events");
    if std::env::var_os("IMAUTH_WRITE_EVENTS").is_some_and(|v| v == "1") {
        let written = write_all(&events_dir).unwrap();
        eprintln!("wrote {written} events to {}", events_dir.display());
    }
    let stale = stale_files(&events_dir).unwrap();
    assert!(
        stale.is_empty(),
        "events/ does not match the generator in tests/src/events (change the generator, then \
         rewrite with `IMAUTH_WRITE_EVENTS=1 cargo nextest run -p integration --test events`):\n{}",
        stale.join("\n")
    );
}

#[test]
fn an_edited_missing_or_extra_event_is_reported_and_rewritten() {
    let dir = TempDir::new("events").unwrap();
    std::fs::write(dir.0.join("seed.json"), "{}").unwrap();
    assert_eq!(write_all(&dir.0).unwrap(), rendered().len());
    assert_eq!(stale_files(&dir.0).unwrap(), Vec::<String>::new());

    let edited = dir.0.join("token-id/ok.json");
    let text = std::fs::read_to_string(&edited).unwrap();
    std::fs::write(&edited, text.replace("alice-password", "alice-passw0rd")).unwrap();
    std::fs::remove_file(dir.0.join("jwks/get.json")).unwrap();
    std::fs::write(dir.0.join("push-token/hand-made.json"), "{}").unwrap();
    assert_eq!(
        stale_files(&dir.0).unwrap(),
        [
            "jwks/get.json: missing",
            "token-id/ok.json: differs from the generator",
            "push-token/hand-made.json: not generated",
        ]
    );

    write_all(&dir.0).unwrap();
    assert_eq!(stale_files(&dir.0).unwrap(), Vec::<String>::new());
    // Files outside the route folders are not the generator's.
    assert_eq!(
        std::fs::read_to_string(dir.0.join("seed.json")).unwrap(),
        "{}"
    );
}

#[test]
fn every_generated_event_is_in_a_route_folder_and_is_json() {
    for (name, text) in rendered() {
        let folder = name.split('/').next().unwrap();
        assert!(
            ROUTE_FOLDERS.contains(&folder),
            "{name} is outside the route folders"
        );
        let event: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(event["version"], "2.0", "{name}");
    }
}
