//! The repository explains itself: every route's contract is in docs/api.md, the README and
//! docs/ link only to files that exist, and nothing points outside the repository.

use integration::repo_root;
use shared::http::Route;

/// README.md and every Markdown file of docs/, as (path relative to the root, text).
fn documents() -> Vec<(String, String)> {
    let root = repo_root();
    let mut names = vec!["README.md".to_owned()];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        if file.ends_with(".md") {
            names.push(format!("docs/{file}"));
        }
    }
    names
        .into_iter()
        .map(|name| {
            let text = std::fs::read_to_string(root.join(&name)).unwrap();
            (name, text)
        })
        .collect()
}

/// The targets of the Markdown links `[text](target)` in `text`.
fn link_targets(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            rest.find(')').map(|end| &rest[..end])
        })
        .collect()
}

#[test]
fn every_route_and_method_is_in_the_api_contract() {
    let api = std::fs::read_to_string(repo_root().join("docs/api.md")).unwrap();
    for route in Route::ALL {
        let row = api
            .lines()
            .find(|line| line.starts_with("| ") && line.contains(&format!(" {}` |", route.path())))
            .unwrap_or_else(|| panic!("docs/api.md has no route row for {}", route.path()));
        for method in route.methods() {
            assert!(
                row.contains(&format!("`{method}")),
                "docs/api.md: {} lacks {method}: {row}",
                route.path()
            );
        }
    }
}

#[test]
fn local_links_resolve() {
    let root = repo_root();
    let mut broken = Vec::new();
    for (name, text) in documents() {
        let dir = root.join(&name);
        let dir = dir.parent().unwrap();
        for target in link_targets(&text) {
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            let path = target.split('#').next().unwrap();
            if !path.is_empty() && !dir.join(path).exists() {
                broken.push(format!("{name}: {target}"));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links to missing files:\n{}",
        broken.join("\n")
    );
}

#[test]
fn nothing_points_outside_the_repository() {
    for (name, text) in documents() {
        let lower = text.to_lowercase();
        assert!(!text.contains("../shared"), "{name} refers to ../shared");
        for stale in ["seed 00", "seeds 00", "seed-00", "design.md in the shared"] {
            assert!(
                !lower.contains(stale),
                "{name} cites {stale:?}, which a reader cannot open"
            );
        }
    }
}

#[test]
fn link_targets_are_read_from_markdown() {
    assert_eq!(
        link_targets("see [a](docs/a.md#x) and [b](https://x.y) (not a link)"),
        ["docs/a.md#x", "https://x.y"]
    );
}
