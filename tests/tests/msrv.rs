//! The workspace promises a minimum supported Rust version (`rust-version` in the root
//! `Cargo.toml`). `.ci/run` builds `kallglot` with that toolchain; two checks catch a
//! breach earlier, with the everyday toolchain:
//!
//! - clippy's `incompatible_msrv` lint (on by default, and CI denies warnings) rejects our
//!   own use of standard-library APIs newer than the MSRV;
//! - this test rejects a locked dependency whose manifest declares a `rust-version` above
//!   ours, which would make the workspace fail to build on the promised toolchain.
//!
//! It reads the manifests of the dependencies that cargo has already downloaded to build
//! this workspace (no network): a locked package that is never downloaded on this platform
//! is never compiled here either.

use std::path::{Path, PathBuf};

use xtask::spec;

/// A `MAJOR.MINOR[.PATCH]` Rust version, compared numerically.
fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.trim().split('.').map(str::parse::<u32>);
    let major = parts.next()?.ok()?;
    let minor = parts.next().unwrap_or(Ok(0)).ok()?;
    let patch = parts.next().unwrap_or(Ok(0)).ok()?;
    Some((major, minor, patch))
}

/// The `rust-version` a manifest declares, directly or through the workspace.
fn declared_rust_version(manifest: &str) -> Option<String> {
    let value: toml::Table = toml::from_str(manifest).ok()?;
    let from = |table: &toml::Value| {
        table
            .get("rust-version")
            .and_then(toml::Value::as_str)
            .map(str::to_string)
    };
    value
        .get("package")
        .and_then(from)
        .or_else(|| value.get("workspace")?.get("package").and_then(from))
}

/// `(name, version)` of every registry package in a `Cargo.lock`.
fn locked_registry_packages(lock: &str) -> Vec<(String, String)> {
    let lock: toml::Table = toml::from_str(lock).expect("Cargo.lock is TOML");
    lock.get("package")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p.get("source").is_some())
        .filter_map(|p| {
            let name = p.get("name")?.as_str()?.to_string();
            let version = p.get("version")?.as_str()?.to_string();
            Some((name, version))
        })
        .collect()
}

/// The packages whose declared `rust-version` is above `msrv`, as `name version (needs X)`.
/// `manifest` returns a package's manifest text, or `None` if it is not available here.
fn too_new(
    packages: &[(String, String)],
    msrv: (u32, u32, u32),
    mut manifest: impl FnMut(&str, &str) -> Option<String>,
) -> Vec<String> {
    packages
        .iter()
        .filter_map(|(name, version)| {
            let needed = declared_rust_version(&manifest(name, version)?)?;
            let parsed = parse_version(&needed)?;
            (parsed > msrv).then(|| format!("{name} {version} (needs Rust {needed})"))
        })
        .collect()
}

/// Where cargo unpacks downloaded crates: `$CARGO_HOME/registry/src/<index>/`.
fn registry_source_dirs() -> Vec<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .expect("CARGO_HOME or HOME is set");
    std::fs::read_dir(cargo_home.join("registry").join("src"))
        .map(|dirs| dirs.flatten().map(|d| d.path()).collect())
        .unwrap_or_default()
}

#[test]
fn no_locked_dependency_needs_a_newer_rust_than_the_msrv() {
    let root = spec::workspace_root();
    let workspace_manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let msrv_text = declared_rust_version(&workspace_manifest).expect("the workspace sets one");
    let msrv = parse_version(&msrv_text).expect("a numeric rust-version");

    let packages =
        locked_registry_packages(&std::fs::read_to_string(root.join("Cargo.lock")).unwrap());
    let sources = registry_source_dirs();
    let mut found = 0usize;
    let offenders = too_new(&packages, msrv, |name, version| {
        let text = sources.iter().find_map(|dir| {
            std::fs::read_to_string(dir.join(format!("{name}-{version}")).join("Cargo.toml")).ok()
        });
        found += usize::from(text.is_some());
        text
    });
    assert!(
        offenders.is_empty(),
        "these locked dependencies need a Rust newer than the workspace's {msrv_text}: \
         {offenders:#?}\nPin an older version (`cargo update -p NAME --precise VERSION`) or \
         raise `rust-version`."
    );
    // This workspace's own build downloaded its dependencies, so most manifests must have
    // been read; finding none would mean the check looked in the wrong place.
    assert!(
        found * 2 > packages.len(),
        "read only {found} of {} locked manifests",
        packages.len()
    );
}

#[test]
fn a_dependency_above_the_msrv_is_reported() {
    let packages = vec![
        ("old".to_string(), "1.0.0".to_string()),
        ("new".to_string(), "2.0.0".to_string()),
        ("inherits".to_string(), "0.1.0".to_string()),
        ("unversioned".to_string(), "0.1.0".to_string()),
        ("absent".to_string(), "0.1.0".to_string()),
    ];
    let offenders = too_new(&packages, (1, 88, 0), |name, _| match name {
        "old" => Some("[package]\nname = \"old\"\nrust-version = \"1.70\"\n".into()),
        "new" => Some("[package]\nname = \"new\"\nrust-version = \"1.89\"\n".into()),
        "inherits" => Some(
            "[workspace.package]\nrust-version = \"1.88.1\"\n[package]\nname = \"inherits\"\n"
                .into(),
        ),
        "unversioned" => Some("[package]\nname = \"unversioned\"\n".into()),
        _ => None,
    });
    assert_eq!(
        offenders,
        [
            "new 2.0.0 (needs Rust 1.89)",
            "inherits 0.1.0 (needs Rust 1.88.1)"
        ]
    );
}

#[test]
fn versions_compare_numerically() {
    assert_eq!(parse_version("1.88"), Some((1, 88, 0)));
    assert_eq!(parse_version("1.9.2"), Some((1, 9, 2)));
    assert!(parse_version("1.100").unwrap() > parse_version("1.88").unwrap());
    assert_eq!(parse_version("1.x"), None);
}
