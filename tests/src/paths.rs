//! Where things are: the repository root, built workspace binaries, event files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Root of the repository (the workspace), independent of the test's working directory.
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or_else(|| manifest.join(".."), Path::to_path_buf)
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
