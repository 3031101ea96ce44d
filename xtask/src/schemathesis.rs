//! `cargo xtask schemathesis`: the emulator checked against the spec by Schemathesis.
//!
//! 1. Schemathesis ([`VERSION`], from PyPI) is installed into a virtual environment
//!    under `target/` unless that version is there already (needs `python3` with the
//!    `venv` module; on Debian and Ubuntu that is the `python3-venv` package).
//! 2. `kallglot mock serve` is built and started as a separate process on a free
//!    loopback port (it prints the port it got), with credits and a rate limit that a
//!    run cannot exhaust.
//! 3. Schemathesis runs every check (response schemas and headers, status codes and
//!    media types, negative-data rejection, positive-data acceptance, auth, methods), in
//!    every phase, the stateful one following the spec's `links`. The hooks in
//!    `xtask/schemathesis/hooks.py` give each case a fresh `Idempotency-Key`.
//! 4. The emulator is stopped, whatever the outcome.
//!
//! Arguments after the command are passed to `schemathesis run` (for example
//! `--max-examples 500` or `--seed 7`; the later of a repeated option wins).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The Schemathesis release the run is pinned to.
pub const VERSION: &str = "4.32.5";

/// Where the hooks live, relative to the workspace root.
const HOOKS_DIR: &str = "xtask/schemathesis";

/// What each run does unless told otherwise: a fixed seed, so CI is reproducible, and
/// a number of examples that keeps a run within a minute or two on two cores.
const DEFAULT_ARGS: &[&str] = &["--max-examples", "100", "--seed", "20261201"];

/// Installs Schemathesis if needed, runs it against a fresh emulator, and fails when it
/// reports a failure.
pub fn run(root: &Path, extra_args: &[&str]) -> Result<(), String> {
    let target = target_dir(root);
    let schemathesis = ensure_installed(&target.join("schemathesis-venv"))?;
    let emulator = build_emulator(root, &target)?;
    let server = Emulator::start(&emulator)?;
    println!("schemathesis: the emulator is listening on {}", server.url);
    // Schemathesis keeps a cache in its working directory: that belongs under target/.
    let work = target.join("schemathesis");
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let status = Command::new(&schemathesis)
        .current_dir(&work)
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("PYTHONPATH", root.join(HOOKS_DIR))
        .arg("run")
        .arg(root.join(crate::spec::SPEC_PATH))
        .args(["--url", &server.url])
        .args(["--checks", "all"])
        .args(["--header", &format!("Authorization: Bearer {}", server.key)])
        .args(DEFAULT_ARGS)
        .args(extra_args)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", schemathesis.display()))?;
    drop(server);
    if status.success() {
        Ok(())
    } else {
        Err(format!("Schemathesis reported failures ({status})"))
    }
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// The `schemathesis` executable of `venv`, installing the pinned version first if
/// the environment does not have it.
fn ensure_installed(venv: &Path) -> Result<PathBuf, String> {
    let bin = venv.join("bin");
    let schemathesis = bin.join("schemathesis");
    let installed = Command::new(&schemathesis)
        .arg("--version")
        .output()
        .ok()
        .is_some_and(|out| String::from_utf8_lossy(&out.stdout).contains(VERSION));
    if installed {
        return Ok(schemathesis);
    }
    println!(
        "schemathesis: installing schemathesis {VERSION} into {}",
        venv.display()
    );
    let created = Command::new("python3")
        .args(["-m", "venv"])
        .arg(venv)
        .status()
        .map_err(|e| format!("cannot run python3: {e}; install Python 3"))?;
    if !created.success() {
        return Err(
            "`python3 -m venv` failed; on Debian or Ubuntu, install python3-venv".to_string(),
        );
    }
    let pip = Command::new(bin.join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("schemathesis=={VERSION}"))
        .status()
        .map_err(|e| format!("cannot run pip: {e}"))?;
    if !pip.success() {
        return Err(format!("pip could not install schemathesis {VERSION}"));
    }
    Ok(schemathesis)
}

/// Builds the `kallglot` binary and returns its path.
fn build_emulator(root: &Path, target: &Path) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["build", "--quiet", "--locked", "-p", "kallglot-cli"])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("cannot build kallglot-cli".into());
    }
    Ok(target.join("debug").join("kallglot"))
}

/// A running `kallglot mock serve`, stopped when dropped.
struct Emulator {
    child: Child,
    url: String,
    key: String,
}

impl Emulator {
    /// How long the emulator may take to say where it listens.
    const STARTUP: Duration = Duration::from_secs(30);

    fn start(binary: &Path) -> Result<Self, String> {
        let mut child = Command::new(binary)
            .args(["mock", "serve", "--port", "0"])
            .args(["--credits", "1000000000", "--rate-limit", "1000000000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        // The emulator prints its URL and key; read them on a thread, so that a silent
        // emulator is noticed by the deadline instead of blocking the read forever.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (mut url, mut key, mut sent) = (None, None, false);
            // Reading to the end keeps draining, so the emulator never blocks on a full
            // pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(v) = line.trim().strip_prefix("export KALLGLOT_BASE_URL=") {
                    url = Some(v.to_string());
                }
                if let Some(v) = line.trim().strip_prefix("export KALLGLOT_API_KEY=") {
                    key = Some(v.to_string());
                }
                if !sent && let (Some(url), Some(key)) = (&url, &key) {
                    let _ = tx.send((url.clone(), key.clone()));
                    sent = true;
                }
            }
        });
        let mut server = Self {
            child,
            url: String::new(),
            key: String::new(),
        };
        match rx.recv_timeout(Self::STARTUP) {
            Ok((url, key)) if url.starts_with("http://127.0.0.1:") => {
                server.url = url;
                server.key = key;
                Ok(server)
            }
            Ok((url, _)) => Err(format!("the emulator listens on {url}, not on loopback")),
            Err(_) => Err(format!(
                "the emulator did not report its address within {:?}",
                Self::STARTUP
            )),
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // The child is this process's own, stopped by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
