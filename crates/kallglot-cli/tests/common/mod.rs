//! Helpers shared by the CLI's test binaries: the emulator on loopback, the binary
//! pointed at it, and WAV files.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use assert_cmd::cargo::CommandCargoExt;
use kallglot_mock::{MockServer, MockServerBuilder};
use serde_json::Value;

/// The runtime the emulators of a test binary run on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// One emulator for the whole test binary, shared by tests that need no faults.
pub fn server() -> &'static MockServer {
    static SERVER: OnceLock<MockServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        own_server(|b| {
            b.utterance_duration(std::time::Duration::from_millis(300))
                .analysis_delay(std::time::Duration::ZERO)
        })
    })
}

/// An emulator of its own, for a test that injects faults or counts requests.
pub fn own_server(configure: impl FnOnce(MockServerBuilder) -> MockServerBuilder) -> MockServer {
    runtime().block_on(async { configure(MockServer::builder()).start().await.unwrap() })
}

/// The binary, with no config, profile or colors from the environment of the test run.
pub fn bare() -> Command {
    let mut command = Command::cargo_bin("kallglot").unwrap();
    command
        .env_remove("KALLGLOT_API_KEY")
        .env_remove("KALLGLOT_BASE_URL")
        .env_remove("KALLGLOT_PROFILE")
        .env_remove("NO_COLOR")
        .env_remove("RUST_BACKTRACE")
        .env("XDG_CONFIG_HOME", temp_dir("no-config"));
    command
}

/// The binary, pointed at `server`.
pub fn kallglot_at(server: &MockServer) -> Command {
    let mut command = bare();
    command
        .env("KALLGLOT_API_KEY", server.api_key())
        .env("KALLGLOT_BASE_URL", server.url());
    command
}

/// The binary, pointed at the shared emulator.
pub fn kallglot() -> Command {
    kallglot_at(server())
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(command: &mut Command) -> Run {
    let output = command.stdin(Stdio::null()).output().unwrap();
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(!run.stderr.contains("RUST_BACKTRACE"), "{}", run.stderr);
    run
}

pub fn ok(command: &mut Command) -> Run {
    let run = run(command);
    assert_eq!(
        run.code, 0,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    run
}

pub fn json(command: &mut Command) -> Value {
    serde_json::from_str(&ok(command.arg("--json")).stdout).unwrap()
}

pub fn create_session_at(command: &mut Command) -> String {
    let session = json(command.args([
        "sessions",
        "create",
        "--source-language",
        "en",
        "--target-language",
        "es",
    ]));
    session["id"].as_str().unwrap().to_string()
}

pub fn create_session() -> String {
    create_session_at(&mut kallglot())
}

/// A directory of this test process's own.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("kallglot-cli-{}", std::process::id()))
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kallglot-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A stereo 16 kHz WAV of `seconds`: the stream command must resample and downmix it.
/// Tests running side by side may write the same file: each writes its own copy and
/// renames it into place, so a reader never sees a half-written one.
pub fn wav_of(name: &str, seconds: f64) -> PathBuf {
    static COPIES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let copy = COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = temp(name);
    let partial = temp(&format!("{name}.{copy}.partial"));
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&partial, spec).unwrap();
    for i in 0..(16_000.0 * seconds) as usize {
        let v = ((i as f64 * 220.0 * std::f64::consts::TAU / 16_000.0).sin() * 8_000.0) as i16;
        writer.write_sample(v).unwrap();
        writer.write_sample(v / 2).unwrap();
    }
    writer.finalize().unwrap();
    std::fs::rename(&partial, &path).unwrap();
    path
}

/// A 1.5 s stereo 16 kHz WAV.
pub fn wav_file() -> PathBuf {
    wav_of("call.wav", 1.5)
}
