//! What someone scripting `kallglot` relies on: JSON on every command, safe writes, quiet
//! broken pipes, spellings from the API docs, `--timeout`, notices, profiles,
//! completions, colors, and input limits. Each test runs the binary against an emulator
//! on loopback.

mod common;

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

use common::*;
use kallglot_mock::catalogue::{DOWNLOAD_RECORDING_AUDIO, RETRIEVE_SESSION};
use kallglot_mock::{Fault, KeyConfig};
use serde_json::Value;

/// `sessions get … | head -c0`: the reader is gone before the first line is written.
#[test]
fn a_closed_stdout_is_a_quiet_exit_141() {
    let id = create_session();
    for args in [
        vec!["sessions", "get", &id],
        vec!["sessions", "get", &id, "--json"],
        vec!["completion", "bash"],
    ] {
        let mut child = kallglot()
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(141), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}: nothing is said about it");
    }
}

#[test]
fn download_dash_writes_the_audio_to_stdout() {
    let id = create_session();
    ok(kallglot().args(["sessions", "end", &id]));
    let list = json(kallglot().args(["recordings", "list", &id]));
    let recording = list["data"][0]["id"].as_str().unwrap().to_string();
    let dir = temp_dir("dash");
    let output = kallglot()
        .current_dir(&dir)
        .args(["recordings", "download", &recording, "-o", "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let file = temp("from-file.mp3");
    ok(kallglot().args([
        "recordings",
        "download",
        &recording,
        "-o",
        file.to_str().unwrap(),
    ]));
    assert!(!output.stdout.is_empty());
    assert_eq!(
        output.stdout,
        std::fs::read(&file).unwrap(),
        "the same audio"
    );
    assert!(!dir.join("-").exists(), "no file named -");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("to stdout"),
        "the summary goes to stderr: {stderr}"
    );
}

#[test]
fn errors_under_json_are_an_error_object_with_code_status_and_request_id() {
    server().add_key(KeyConfig::test("sk_test_cli_json_revoked_000000").revoked());
    let revoked = run(kallglot()
        .env("KALLGLOT_API_KEY", "sk_test_cli_json_revoked_000000")
        .args(["sessions", "get", "sess_1", "--json"]));
    assert_eq!(revoked.code, 3);
    let error: Value = serde_json::from_str(&revoked.stdout).unwrap();
    let error = &error["error"];
    assert_eq!(error["code"], "api_key_revoked", "{error}");
    assert_eq!(error["status"], 401, "{error}");
    assert!(
        error["request_id"].as_str().unwrap().starts_with("req_"),
        "{error}"
    );
    assert_eq!(error["kind"], "api");
    assert_eq!(error["exit_code"], 3);
    assert!(!revoked.stdout.contains("json_revoked_000000"), "no key");

    // A usage error too, and a local one.
    let missing = run(kallglot()
        .env_remove("KALLGLOT_API_KEY")
        .args(["sessions", "get", "sess_1", "--json"]));
    assert_eq!(missing.code, 2);
    let error: Value = serde_json::from_str(&missing.stdout).unwrap();
    assert_eq!(error["error"]["kind"], "usage", "{error}");
    let file = run(kallglot().args(["stream", "/nonexistent.wav", "--json"]));
    let error: Value = serde_json::from_str(&file.stdout).unwrap();
    assert_eq!(
        (&error["error"]["kind"], file.code),
        (&"local".into(), 5),
        "{error}"
    );
}

#[test]
fn stream_json_prints_one_event_per_line() {
    let wav = wav_file();
    let streamed = ok(kallglot().args([
        "stream",
        wav.to_str().unwrap(),
        "--speed",
        "50",
        "--source-language",
        "en",
        "--target-language",
        "es",
        "--json",
    ]));
    let events: Vec<Value> = streamed
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"transcript.final"), "{kinds:?}");
    assert!(kinds.contains(&"session.ended"), "{kinds:?}");
    let line = events
        .iter()
        .find(|e| e["type"] == "transcript.final")
        .unwrap();
    assert!(
        line["text"].is_string() && line["translation"].is_object(),
        "{line}"
    );
}

fn verify(header: &str, body: &[u8], json: bool) -> (i32, String, String) {
    let mut command = kallglot();
    command
        .env("CLI_TEST_SECRET", "whsec_cli_json_secret")
        .args([
            "webhooks",
            "verify",
            "--secret-env",
            "CLI_TEST_SECRET",
            "--header",
            header,
        ]);
    if json {
        command.arg("--json");
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn webhooks_verify_prints_json_and_takes_the_whole_header_line() {
    let body = br#"{"id":"evt_2","type":"session.ended","api_version":"v1","created_at":"2026-03-26T11:00:00Z","data":{"id":"sess_1"}}"#;
    let value = kallglot::webhooks::testing::sign(
        "whsec_cli_json_secret",
        chrono::Utc::now().timestamp(),
        body,
    );
    let (code, stdout, _) = verify(&value, body, true);
    assert_eq!(code, 0);
    let verified: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(verified["verified"], true, "{verified}");
    assert_eq!(verified["event"]["id"], "evt_2", "{verified}");
    assert_eq!(verified["event"]["type"], "session.ended", "{verified}");

    for line in [
        format!("Kallglot-Signature: {value}"),
        format!("kallglot-signature:{value}"),
    ] {
        let (code, stdout, stderr) = verify(&line, body, false);
        assert_eq!(code, 0, "{line}: {stderr}");
        assert!(stdout.contains("verified"), "{stdout}");
    }

    let (code, stdout, _) = verify(&value, b"{}", true);
    assert_eq!(code, 1);
    let refused: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(refused["verified"], false, "{refused}");
    assert!(refused["event"].is_null(), "{refused}");
    assert!(!stdout.contains("whsec_cli_json_secret"));
}

#[test]
fn demo_json_is_one_summary_of_the_api_objects() {
    let demo = ok(bare().args(["demo", "--speed", "20", "--json"]));
    let summary: Value = serde_json::from_str(&demo.stdout).unwrap();
    assert_eq!(summary["target"], "emulator");
    assert_eq!(summary["ended"]["status"], "ended", "{summary}");
    assert!(
        !summary["transcript"]["turns"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(summary["transcript"]["object"], "transcript");
    assert!(
        summary["recordings"][0]["downloaded_bytes"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(summary["recordings"][0]["recording"]["object"], "recording");
    assert_eq!(summary["analysis"]["status"], "completed");
    assert_eq!(summary["credits_used"], 2);
}

/// The line `analysis create --wait` prints comes from the last request it made: the
/// rate-limit figure it shows is one more than what the next request sees, so nothing
/// was asked in between (the CLI once fetched the finished analysis again to print it).
#[test]
fn analysis_wait_prints_the_last_poll_without_another_request() {
    let own = own_server(|b| b.analysis_delay(Duration::from_millis(50)));
    let id = create_session_at(&mut kallglot_at(&own));
    ok(kallglot_at(&own).args(["sessions", "end", &id]));
    let waited = ok(kallglot_at(&own).args(["analysis", "create", &id, "--wait"]));
    assert!(waited.stdout.contains("completed"), "{}", waited.stdout);
    let next = ok(kallglot_at(&own).args(["sessions", "get", &id]));
    let remaining = |text: &str| -> u64 {
        let at = text.find("rate limit ").unwrap() + "rate limit ".len();
        text[at..].split('/').next().unwrap().parse().unwrap()
    };
    assert_eq!(
        remaining(&waited.stdout),
        remaining(&next.stdout) + 1,
        "{}\n{}",
        waited.stdout,
        next.stdout
    );
}

#[test]
fn enum_values_are_accepted_as_the_api_spells_them_and_in_kebab_case() {
    for (given, wire) in [
        ("assistive_translation", "assistive_translation"),
        ("assistive-translation", "assistive_translation"),
        ("bidirectional_translation", "bidirectional_translation"),
        ("help_chat_voice", "help_chat_voice"),
    ] {
        let session = json(kallglot().args(["sessions", "create", "--mode", given]));
        assert_eq!(session["mode"], wire, "{given}");
    }
    let wrong = run(kallglot().args(["sessions", "create", "--mode", "bidirectional"]));
    assert_eq!(wrong.code, 2);
}

#[test]
fn timeout_bounds_the_whole_command() {
    let own = own_server(|b| b);
    own.faults()
        .inject(&RETRIEVE_SESSION, Fault::delay(Duration::from_secs(60)));
    let started = std::time::Instant::now();
    let hung = run(kallglot_at(&own).args(["sessions", "get", "sess_1", "--timeout", "300ms"]));
    assert_eq!(hung.code, 4, "{}", hung.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "gave up by the deadline, not after the SDK's 3 × 60 s"
    );
    assert!(
        hung.stderr.contains("deadline") || hung.stderr.contains("timeout"),
        "{}",
        hung.stderr
    );
    let bad = run(kallglot().args(["sessions", "get", "sess_1", "--timeout", "soon"]));
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[test]
fn each_retry_is_announced_with_its_delay_status_and_request_id() {
    let own = own_server(|b| b);
    let id = create_session_at(&mut kallglot_at(&own));
    own.faults().inject(
        &RETRIEVE_SESSION,
        Fault::status(503, "service_unavailable").times(1),
    );
    let got = ok(kallglot_at(&own).args(["sessions", "get", &id]));
    let notes: Vec<&str> = got.stderr.lines().collect();
    assert_eq!(notes.len(), 1, "{}", got.stderr);
    let note = notes[0];
    assert!(note.starts_with("note: retrying in "), "{note}");
    assert!(note.contains(" after 503 "), "{note}");
    assert!(note.contains("request req_"), "{note}");
    // Quiet when nothing is retried.
    let quiet = ok(kallglot_at(&own).args(["sessions", "get", &id]));
    assert_eq!(quiet.stderr, "");
}

#[test]
fn a_pacing_wait_is_announced() {
    // One request per window: the second request of a download waits for the reset.
    let own = own_server(|b| b.rate_limit(1, Duration::from_millis(200)));
    own.faults().inject(
        &DOWNLOAD_RECORDING_AUDIO,
        Fault::status(404, "resource_not_found"),
    );
    let out = temp("paced.mp3");
    let paced = run(kallglot_at(&own).args([
        "recordings",
        "download",
        "rec_paced",
        "-o",
        out.to_str().unwrap(),
    ]));
    assert!(
        paced.stderr.contains("note: waiting ") && paced.stderr.contains("for the rate limit"),
        "{}",
        paced.stderr
    );
}

#[test]
fn demo_base_url_runs_the_flow_against_that_server() {
    let demo = ok(kallglot().args(["demo", "--speed", "20", "--base-url", &server().url()]));
    assert!(
        demo.stdout.contains(&format!("against {}", server().url())),
        "{}",
        demo.stdout
    );
    assert!(demo.stdout.contains("done."), "{}", demo.stdout);
    let line = demo
        .stdout
        .lines()
        .find(|l| l.starts_with("session "))
        .unwrap();
    let id = line.split_whitespace().nth(1).unwrap();
    let session = json(kallglot().args(["sessions", "get", id]));
    assert_eq!(session["status"], "ended", "the session is that server's");

    let keyless = run(kallglot().env_remove("KALLGLOT_API_KEY").args([
        "demo",
        "--base-url",
        &server().url(),
    ]));
    assert_eq!(keyless.code, 2, "{}", keyless.stderr);
    assert!(keyless.stderr.contains("API key"), "{}", keyless.stderr);
    let live = run(kallglot().args([
        "demo",
        "--base-url",
        &server().url(),
        "--api-key",
        "sk_live_cli_demo_000000000000000",
    ]));
    assert_eq!(live.code, 2, "{}", live.stderr);
    assert!(live.stderr.contains("--yes"), "{}", live.stderr);
    assert!(
        !live.stderr.contains("sk_live_cli_demo"),
        "no key in messages"
    );
}

#[test]
fn completion_scripts_for_every_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef kallglot"),
        ("fish", "complete -c kallglot"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = ok(bare().args(["completion", shell]));
        assert!(script.stdout.contains(marker), "{shell}: {}", script.stdout);
        assert!(script.stdout.contains("sessions"), "{shell}");
    }
    assert_eq!(run(bare().args(["completion", "tcsh"])).code, 2);
}

/// A config directory holding `config.toml` with `text`.
fn config_home(name: &str, text: &str) -> std::path::PathBuf {
    let home = temp_dir(name);
    let dir = home.join(".config").join("kallglot");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), text).unwrap();
    home
}

#[test]
fn profiles_name_a_base_url_and_the_variable_holding_the_key() {
    let config = format!(
        "[profiles.local]\nbase_url = \"{}\"\napi_key_env = \"CLI_PROFILE_KEY\"\n\n[profiles.other]\nbase_url = \"http://127.0.0.1:9\"\n",
        server().url()
    );
    let home = config_home("profiles", &config);
    let with_home = || {
        let mut command = bare();
        command.env("HOME", &home).env_remove("XDG_CONFIG_HOME");
        command
    };
    let session = json(
        with_home()
            .env("CLI_PROFILE_KEY", server().api_key())
            .args(["--profile", "local", "sessions", "create"]),
    );
    assert!(session["id"].as_str().unwrap().starts_with("sess_"));
    // KALLGLOT_PROFILE selects it too, and a flag beats the profile.
    let by_env = json(
        with_home()
            .env("KALLGLOT_PROFILE", "local")
            .env("CLI_PROFILE_KEY", server().api_key())
            .args(["sessions", "create"]),
    );
    assert!(by_env["id"].is_string());

    let unset = run(with_home().args(["--profile", "local", "sessions", "get", "sess_1"]));
    assert_eq!(unset.code, 2);
    assert!(
        unset.stderr.contains("$CLI_PROFILE_KEY"),
        "{}",
        unset.stderr
    );
    let unknown = run(with_home().args(["--profile", "nope", "sessions", "get", "sess_1"]));
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("local, other"),
        "{}",
        unknown.stderr
    );

    // Nothing is written: the directory holds the config file only.
    let entries: Vec<_> = std::fs::read_dir(home.join(".config/kallglot"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["config.toml"]);
    assert_eq!(
        std::fs::read_to_string(home.join(".config/kallglot/config.toml")).unwrap(),
        config
    );
}

#[test]
fn profiles_honour_xdg_config_home_and_refuse_keys_in_the_file() {
    let xdg = temp_dir("xdg");
    std::fs::create_dir_all(xdg.join("kallglot")).unwrap();
    std::fs::write(
        xdg.join("kallglot/config.toml"),
        format!(
            "default = \"here\"\n[profiles.here]\nbase_url = \"{}\"\napi_key_env = \"CLI_XDG_KEY\"\n",
            server().url()
        ),
    )
    .unwrap();
    // The default profile, from XDG_CONFIG_HOME and not from HOME.
    let session = json(
        bare()
            .env("XDG_CONFIG_HOME", &xdg)
            .env("HOME", temp_dir("empty-home"))
            .env("CLI_XDG_KEY", server().api_key())
            .args(["sessions", "create"]),
    );
    assert!(session["id"].is_string());

    let home = config_home(
        "key-in-file",
        "[profiles.bad]\napi_key = \"sk_test_written_down_000000\"\n",
    );
    let refused = run(bare()
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .args(["--profile", "bad", "sessions", "get", "sess_1"]));
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("api_key_env"), "{}", refused.stderr);
    assert!(
        !refused.stderr.contains("written_down"),
        "{}",
        refused.stderr
    );
}

#[test]
fn color_always_and_never() {
    let always = run(kallglot().args(["--color", "always", "sessions", "get", "sess_nope"]));
    assert_eq!(always.code, 3);
    assert!(always.stderr.contains("\u{1b}["), "{:?}", always.stderr);
    let never = run(kallglot().args(["--color=never", "sessions", "get", "sess_nope"]));
    assert!(!never.stderr.contains('\u{1b}'), "{:?}", never.stderr);
    // Not a terminal: auto means none.
    let auto = run(kallglot().args(["sessions", "get", "sess_nope"]));
    assert!(!auto.stderr.contains('\u{1b}'), "{:?}", auto.stderr);
    let usage = run(kallglot().args(["--color", "always", "sessions", "explode"]));
    assert!(
        usage.stderr.contains("\u{1b}["),
        "clap follows it too: {:?}",
        usage.stderr
    );
}

#[test]
fn help_lists_exit_codes_and_global_options_apart() {
    let help = ok(bare().arg("--help"));
    for code in ["0 ", "1 ", "2 ", "3 ", "4 ", "5 ", "130", "141"] {
        assert!(
            help.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(code)),
            "exit code {code} in:\n{}",
            help.stdout
        );
    }
    let get = ok(bare().args(["sessions", "get", "--help"]));
    let global = get
        .stdout
        .find("Global options:")
        .expect("a heading of their own");
    assert!(get.stdout[global..].contains("--api-key"));
    assert!(
        !get.stdout[..global].contains("--api-key"),
        "{}",
        get.stdout
    );
    let usage = get
        .stdout
        .lines()
        .find(|l| l.starts_with("Usage:"))
        .unwrap();
    assert_eq!(usage, "Usage: kallglot sessions get [OPTIONS] <ID>");
}

/// The 1 Hz case is in cli.rs; these are the other header lies. Each is refused with
/// one line before any request: the emulator sees no session created.
#[test]
fn implausible_wav_files_are_refused_before_any_request() {
    let own = own_server(|b| b);
    let header = |rate: u32, channels: u16, data_bytes: u32| -> Vec<u8> {
        let block = channels * 2;
        let mut h = Vec::new();
        h.extend(b"RIFF");
        h.extend((36 + data_bytes).to_le_bytes());
        h.extend(b"WAVEfmt ");
        h.extend(16_u32.to_le_bytes());
        h.extend(1_u16.to_le_bytes());
        h.extend(channels.to_le_bytes());
        h.extend(rate.to_le_bytes());
        h.extend((rate * u32::from(block)).to_le_bytes());
        h.extend(block.to_le_bytes());
        h.extend(16_u16.to_le_bytes());
        h.extend(b"data");
        h.extend(data_bytes.to_le_bytes());
        h
    };
    let cases: [(&str, Vec<u8>, u64, &str); 4] = [
        ("rate.wav", header(1_000_000, 1, 0), 0, "1000000 Hz"),
        ("channels.wav", header(8_000, 200, 0), 0, "channel"),
        // Claims 2 MB of audio in a 44-byte file.
        (
            "size.wav",
            header(8_000, 1, 2_000_000),
            0,
            "claims 2000000 bytes",
        ),
        // 3 h of 8 kHz mono, as a sparse file: longer than stream takes.
        (
            "long.wav",
            header(8_000, 1, 172_800_000),
            172_800_044,
            "at most 2 h",
        ),
    ];
    for (name, bytes, length, expected) in cases {
        let path = temp(name);
        std::fs::write(&path, &bytes).unwrap();
        if length > 0 {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(length)
                .unwrap();
        }
        let refused = run(kallglot_at(&own).args(["stream", path.to_str().unwrap()]));
        assert_eq!(refused.code, 5, "{name}: {}", refused.stderr);
        assert_eq!(
            refused.stderr.lines().count(),
            1,
            "{name}: {}",
            refused.stderr
        );
        assert!(
            refused.stderr.contains(expected),
            "{name}: {}",
            refused.stderr
        );
    }
    assert_eq!(own.credits_used(), 0, "no session was created");
}

#[test]
fn streaming_into_an_ended_session_is_an_api_error() {
    let id = create_session();
    ok(kallglot().args(["sessions", "end", &id]));
    let wav = wav_file();
    let refused = run(kallglot().args(["stream", wav.to_str().unwrap(), "--session", &id]));
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(refused.stderr.contains("ended"), "{}", refused.stderr);
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let wav = wav_file();
    let streamed = ok(kallglot().args(["stream", wav.to_str().unwrap(), "--speed", "10"]));
    assert!(!streamed.stderr.contains(" ms"), "{}", streamed.stderr);
    assert!(!streamed.stderr.contains('\r'), "{:?}", streamed.stderr);
}

#[test]
fn timeout_during_a_stream_ends_the_session_it_created() {
    let wav = wav_of("timeout.wav", 30.0);
    let stopped = run(kallglot().args(["stream", wav.to_str().unwrap(), "--timeout", "500ms"]));
    assert_eq!(stopped.code, 4, "{}", stopped.stderr);
    let id = stopped
        .stderr
        .split_whitespace()
        .find(|w| w.starts_with("sess_"))
        .unwrap();
    assert!(
        stopped.stderr.contains(&format!("session {id} ended")),
        "{}",
        stopped.stderr
    );
    let session = json(kallglot().args(["sessions", "get", id]));
    assert_eq!(session["status"], "ended");
}

#[test]
fn mock_serve_json_prints_one_line_to_connect_with() {
    use std::io::BufRead;
    let mut child = bare()
        .args(["mock", "serve", "--port", "0", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let url = first["base_url"].as_str().unwrap().to_string();
    let key = first["api_key"].as_str().unwrap().to_string();
    let created = bare()
        .env("KALLGLOT_API_KEY", key)
        .env("KALLGLOT_BASE_URL", &url)
        .args(["sessions", "create", "--json"])
        .output()
        .unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(created.status.success(), "{created:?}");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
}

#[test]
fn a_malformed_key_is_a_usage_error_that_does_not_repeat_it() {
    for key in ["pk_live_cli_near_miss_0000", "sk_test_cli_near miss"] {
        let refused = run(kallglot().args(["sessions", "get", "sess_1", "--api-key", key]));
        assert_eq!(refused.code, 2, "{}", refused.stderr);
        assert!(refused.stderr.contains("--api-key"), "{}", refused.stderr);
        assert!(!refused.stderr.contains("near"), "{}", refused.stderr);
    }
}

#[test]
fn an_empty_wav_is_refused_before_any_request() {
    let own = own_server(|b| b);
    let path = temp("empty.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    hound::WavWriter::create(&path, spec)
        .unwrap()
        .finalize()
        .unwrap();
    for extra in [&[][..], &["--split-channels", "agent,customer"][..]] {
        let refused = run(kallglot_at(&own)
            .args(["stream", path.to_str().unwrap()])
            .args(extra));
        assert_eq!(refused.code, 5, "{}", refused.stderr);
        assert!(refused.stderr.contains("no audio"), "{}", refused.stderr);
    }
    assert_eq!(own.credits_used(), 0);
}

/// The stream cannot be opened (its upgrade is refused): the session created for it is
/// ended rather than left billing.
#[test]
fn a_failed_stream_ends_the_session_it_created() {
    let own = own_server(|b| b);
    own.faults().inject(
        kallglot_mock::Route::ConnectStream,
        Fault::status(500, "internal_error"),
    );
    let wav = wav_file();
    let failed = run(kallglot_at(&own).args(["stream", wav.to_str().unwrap()]));
    assert_ne!(failed.code, 0, "{}", failed.stderr);
    let id = failed
        .stderr
        .split_whitespace()
        .find(|w| w.starts_with("sess_"))
        .unwrap();
    let session = json(kallglot_at(&own).args(["sessions", "get", id]));
    assert_eq!(session["status"], "ended", "{}", failed.stderr);
}
