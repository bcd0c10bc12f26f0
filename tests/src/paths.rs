//! Where things are: the repository root, built workspace binaries, event files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Root of the repository (the workspace), independent of the test's working directory.
///
/// Found at run time when it can be: `scripts/test.sh` shares one target directory
/// between every clone on a machine, and cargo takes a test binary built in one clone as
/// fresh in another whose sources are older. Such a binary must read the files of the
/// clone it runs in, not those of the clone it was built in. Cargo and nextest set
/// `CARGO_MANIFEST_DIR` when they run a test; a tool started by hand looks from its
/// working directory; the path compiled in is the last resort.
pub fn repo_root() -> PathBuf {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok());
    repo_root_above(start.as_deref()).unwrap_or_else(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        manifest
            .parent()
            .map_or_else(|| manifest.join(".."), Path::to_path_buf)
    })
}

/// The repository `start` is in (or is), if any.
fn repo_root_above(start: Option<&Path>) -> Option<PathBuf> {
    start?
        .ancestors()
        .find(|d| is_repo_root(d))
        .map(Path::to_path_buf)
}

fn is_repo_root(dir: &Path) -> bool {
    dir.join("Cargo.lock").is_file() && dir.join("events/seed.json").is_file()
}

/// Path of a workspace binary, e.g. `workspace_binary("token-id")`: from the directory in
/// `IMAUTH_BIN_DIR` when that is set (relative paths are taken from the repository root,
/// e.g. `IMAUTH_BIN_DIR=target/release`), otherwise from the debug profile's output.
pub fn workspace_binary(name: &str) -> Result<PathBuf> {
    match bin_dir_override() {
        Some(dir) => binary_in(&dir, name, "IMAUTH_BIN_DIR"),
        None => profile_binary(name, "debug"),
    }
}

/// Path of a workspace binary built in `profile` (`"debug"`, `"release"`, ...), ignoring
/// `IMAUTH_BIN_DIR`.
pub fn profile_binary(name: &str, profile: &str) -> Result<PathBuf> {
    let flag = match profile {
        "debug" => String::new(),
        "release" => " --release".to_owned(),
        other => format!(" --profile {other}"),
    };
    binary_in(
        &target_dir()?.join(profile),
        name,
        &format!("cargo build --workspace --bins{flag}"),
    )
}

/// The binary directory named by `IMAUTH_BIN_DIR`, if set.
pub fn bin_dir_override() -> Option<PathBuf> {
    let dir = std::env::var_os("IMAUTH_BIN_DIR").filter(|d| !d.is_empty())?;
    let dir = PathBuf::from(dir);
    Some(if dir.is_absolute() {
        dir
    } else {
        repo_root().join(dir)
    })
}

fn binary_in(dir: &Path, name: &str, how: &str) -> Result<PathBuf> {
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if path.is_file() {
        Ok(path)
    } else {
        bail!(
            "binary {name} not built: run `{how}` first (looked for {})",
            path.display()
        )
    }
}

fn target_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        // Cargo resolves a relative CARGO_TARGET_DIR against the directory it was run from,
        // normally the workspace root, whereas tests run with their package as cwd.
        return Ok(if dir.is_absolute() {
            dir
        } else {
            repo_root().join(dir)
        });
    }
    let exe = std::env::current_exe().context("locating the running executable")?;
    // Test executables live in <target>/<profile>/deps/, workspace binaries (the bench
    // tools of bench/tools, which use this crate) in <target>/<profile>/.
    let profile_dir = exe.parent().and_then(|dir| {
        if dir
            .file_name()
            .is_some_and(|n| n == "deps" || n == "examples")
        {
            dir.parent()
        } else {
            Some(dir)
        }
    });
    profile_dir
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .with_context(|| {
            format!(
                "executable {} is not inside <target>/<profile>[/deps]",
                exe.display()
            )
        })
}

/// Reads a JSON event from a path relative to the repository root, e.g. `events/login.json`.
pub fn load_event(path_relative_to_repo: &str) -> Result<Value> {
    let path = repo_root().join(path_relative_to_repo);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading event {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing event {} as JSON", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::TempDir;

    #[test]
    fn the_repository_is_found_from_any_directory_inside_another_clone() {
        let clone = TempDir::new("other-clone").unwrap();
        std::fs::create_dir_all(clone.0.join("events")).unwrap();
        std::fs::create_dir_all(clone.0.join("tests/src")).unwrap();
        std::fs::write(clone.0.join("Cargo.lock"), "").unwrap();
        std::fs::write(clone.0.join("events/seed.json"), "{}").unwrap();
        let inside = clone.0.join("tests/src");
        assert_eq!(repo_root_above(Some(&inside)), Some(clone.0.clone()));
        assert_eq!(repo_root_above(Some(&clone.0)), Some(clone.0.clone()));
    }

    #[test]
    fn outside_any_clone_there_is_no_repository() {
        let elsewhere = TempDir::new("not-a-clone").unwrap();
        std::fs::create_dir_all(elsewhere.0.join("events")).unwrap();
        // A Cargo.lock alone (any Rust project) is not this repository.
        std::fs::write(elsewhere.0.join("Cargo.lock"), "").unwrap();
        assert_eq!(repo_root_above(Some(&elsewhere.0)), None);
        assert_eq!(repo_root_above(None), None);
    }

    #[test]
    fn under_cargo_the_repository_is_this_clone() {
        let root = repo_root();
        assert!(is_repo_root(&root), "{}", root.display());
        assert!(root.join("tests/src/paths.rs").is_file());
    }
}
