//! The `kallglot` binary against the emulator: every command, output modes, exit codes.

mod common;

use std::process::{Command, Stdio};

use assert_cmd::cargo::CommandCargoExt;
use common::*;
use kallglot_mock::KeyConfig;
use serde_json::Value;

#[test]
fn sessions_create_get_end_and_transcript() {
    let human = ok(kallglot().args(["sessions", "create", "--metadata", "ticket=T-1"]));
    assert!(human.stdout.contains("session   sess_"), "{}", human.stdout);
    assert!(human.stdout.contains("credits"), "{}", human.stdout);
    assert!(
        !human.stdout.contains("kst_"),
        "the stream token is not printed"
    );

    let id = create_session();
    let got = json(kallglot().args(["sessions", "get", &id]));
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["object"], "session", "the API's own JSON object");
    assert_eq!(got["source_language"], "en");
    let ended = ok(kallglot().args(["sessions", "end", &id]));
    assert!(
        ended.stdout.contains(&format!("session {id} ended")),
        "{}",
        ended.stdout
    );
    let transcript = json(kallglot().args(["sessions", "transcript", &id]));
    assert_eq!(transcript["status"], "completed");
    assert_eq!(transcript["object"], "transcript");
    assert!(transcript["turns"].is_array(), "{transcript}");
    let ended = json(kallglot().args(["sessions", "end", &id]));
    assert_eq!(
        (&ended["id"], &ended["status"]),
        (&id.as_str().into(), &"ended".into())
    );
    let human = ok(kallglot().args(["sessions", "transcript", &id]));
    assert!(human.stdout.contains("transcript of"), "{}", human.stdout);
}

#[test]
fn stream_a_wav_file_then_recordings_and_analysis() {
    let id = create_session();
    let wav = wav_file();
    let streamed = ok(kallglot().args([
        "stream",
        wav.to_str().unwrap(),
        "--session",
        &id,
        "--speed",
        "50",
    ]));
    assert!(
        streamed.stdout.contains("[customer]"),
        "{}",
        streamed.stdout
    );
    assert!(
        streamed.stdout.contains("→"),
        "translations are printed: {}",
        streamed.stdout
    );
    assert!(
        streamed.stderr.contains("session ended"),
        "{}",
        streamed.stderr
    );

    let list = json(kallglot().args(["recordings", "list", &id]));
    assert_eq!(list["object"], "list");
    let recording = list["data"][0]["id"].as_str().unwrap().to_string();
    let got = json(kallglot().args(["recordings", "get", &recording]));
    assert_eq!(
        (&got["object"], &got["status"]),
        (&"recording".into(), &"ready".into())
    );
    assert!(
        got["download_url"].as_str().unwrap().ends_with("/audio"),
        "{got}"
    );
    let got = ok(kallglot().args(["recordings", "get", &recording]));
    assert!(got.stdout.contains("ready"), "{}", got.stdout);
    let out = temp("recording.mp3");
    let downloaded = ok(kallglot().args([
        "recordings",
        "download",
        &recording,
        "-o",
        out.to_str().unwrap(),
    ]));
    assert!(
        downloaded.stdout.contains("audio/mpeg"),
        "{}",
        downloaded.stdout
    );
    assert!(std::fs::metadata(&out).unwrap().len() > 0);

    let analysis = json(kallglot().args(["analysis", "create", &id, "--wait"]));
    assert_eq!(analysis["status"], "completed");
    let shown = ok(kallglot().args(["analysis", "get", analysis["id"].as_str().unwrap()]));
    assert!(shown.stdout.contains("summary"), "{}", shown.stdout);
}

/// `--json` prints the result of the one call the command makes: with a key that may
/// request analyses but not read them, `analysis create --json` still succeeds, which it
/// could not while the CLI fetched the analysis again to print it.
#[test]
fn json_output_makes_no_extra_request() {
    let id = create_session();
    ok(kallglot().args(["sessions", "end", &id]));
    let write_only = "sk_test_cli_analysis_write_only_00";
    server().add_key(KeyConfig::test(write_only).scopes(["analysis:write"]));
    let created = json(
        kallglot()
            .env("KALLGLOT_API_KEY", write_only)
            .args(["analysis", "create", &id]),
    );
    assert_eq!(created["object"], "analysis");
    assert_eq!(created["session_id"], id.as_str());
    assert!(
        created["id"].as_str().unwrap().starts_with("anl_"),
        "{created}"
    );
}

#[test]
fn errors_are_one_line_with_distinct_exit_codes() {
    // Usage: no key at all.
    let missing = run(kallglot()
        .env_remove("KALLGLOT_API_KEY")
        .args(["sessions", "get", "sess_1"]));
    assert_eq!(missing.code, 2);
    assert_eq!(missing.stderr.lines().count(), 1, "{}", missing.stderr);
    assert!(missing.stderr.starts_with("error: no API key"));

    // API: a revoked key, with its code and request id.
    server().add_key(KeyConfig::test("sk_test_cli_revoked_0000000000").revoked());
    let revoked = run(kallglot()
        .env("KALLGLOT_API_KEY", "sk_test_cli_revoked_0000000000")
        .args(["sessions", "get", "sess_1"]));
    assert_eq!(revoked.code, 3);
    assert_eq!(revoked.stderr.lines().count(), 1, "{}", revoked.stderr);
    assert!(
        revoked.stderr.contains("api_key_revoked"),
        "{}",
        revoked.stderr
    );
    assert!(
        revoked.stderr.contains("request id req_"),
        "{}",
        revoked.stderr
    );
    assert!(
        !revoked.stderr.contains("cli_revoked_0000000000"),
        "the key is not printed"
    );

    // Network: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let offline = run(kallglot()
        .env("KALLGLOT_BASE_URL", format!("http://127.0.0.1:{port}"))
        .args(["sessions", "get", "sess_1"]));
    assert_eq!(offline.code, 4, "{}", offline.stderr);
    // One error line, after a notice for each retry.
    let (notes, errors): (Vec<&str>, Vec<&str>) = offline
        .stderr
        .lines()
        .partition(|l| l.starts_with("note: retrying in "));
    assert_eq!(errors.len(), 1, "{}", offline.stderr);
    assert_eq!(notes.len(), 2, "{}", offline.stderr);

    // Usage errors from clap.
    assert_eq!(run(kallglot().args(["sessions", "explode"])).code, 2);
    // A missing file is a local problem.
    let file = run(kallglot().args(["stream", "/nonexistent.wav"]));
    assert_eq!(file.code, 5, "{}", file.stderr);
}

#[test]
fn a_failed_download_keeps_the_existing_file() {
    let keep = temp("keep.mp3");
    std::fs::write(&keep, b"precious").unwrap();
    let failed = run(kallglot().args([
        "recordings",
        "download",
        "rec_typo",
        "-o",
        keep.to_str().unwrap(),
    ]));
    assert_eq!(failed.code, 3, "{}", failed.stderr);
    assert_eq!(std::fs::read(&keep).unwrap(), b"precious");
    let dir = keep.parent().unwrap();
    let partials = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .count();
    assert_eq!(partials, 0, "no partial file is left behind");
}

#[test]
fn stream_splits_a_stereo_call_into_agent_and_customer() {
    let id = create_session();
    let wav = wav_file();
    let streamed = ok(kallglot().args([
        "stream",
        wav.to_str().unwrap(),
        "--session",
        &id,
        "--split-channels",
        "agent,customer",
        "--speed",
        "50",
    ]));
    assert!(
        streamed.stderr.contains("session ended"),
        "{}",
        streamed.stderr
    );
    // More speakers than the file has channels is a usage error, before any streaming.
    let three = run(kallglot().args([
        "stream",
        wav.to_str().unwrap(),
        "--session",
        &id,
        "--split-channels",
        "agent,customer,supervisor",
    ]));
    assert_eq!(three.code, 2, "{}", three.stderr);
    assert!(three.stderr.contains("channel"), "{}", three.stderr);
}

#[test]
fn an_implausible_wav_header_is_a_clear_local_error() {
    // A 1 Hz "recording": converting it would turn each sample into 8000.
    let path = temp("one-hertz.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 1,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&path, spec).unwrap();
    for _ in 0..100 {
        writer.write_sample(1000_i16).unwrap();
    }
    writer.finalize().unwrap();
    let refused = run(kallglot().args(["stream", path.to_str().unwrap()]));
    assert_eq!(refused.code, 5, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("1 Hz is not a plausible sample rate"),
        "{}",
        refused.stderr
    );
}

#[test]
fn webhooks_verify_exit_code_says_whether_the_body_verified() {
    let secret = "whsec_cli_test_secret";
    let body = br#"{"id":"evt_1","type":"session.ended","api_version":"v1","created_at":"2026-03-26T11:00:00Z","data":{"id":"sess_1"}}"#;
    let now = chrono::Utc::now().timestamp();
    let header = kallglot::webhooks::testing::sign(secret, now, body);
    let verify = |body: &[u8]| {
        let mut child = kallglot()
            .env("CLI_TEST_SECRET", secret)
            .args([
                "webhooks",
                "verify",
                "--secret-env",
                "CLI_TEST_SECRET",
                "--header",
                &header,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(body).unwrap();
        let output = child.wait_with_output().unwrap();
        (
            output.status.code().unwrap(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stdout, _) = verify(body);
    assert_eq!(code, 0);
    assert!(stdout.contains("verified: session.ended evt_1"), "{stdout}");
    let mut tampered = body.to_vec();
    tampered.push(b' ');
    let (code, _, stderr) = verify(&tampered);
    assert_eq!(code, 1);
    assert!(stderr.contains("not verified"), "{stderr}");
    assert!(!stderr.contains(secret));
}

#[test]
fn mock_serve_prints_its_url_and_serves() {
    use std::io::BufRead;
    let mut child = Command::cargo_bin("kallglot")
        .unwrap()
        .args(["mock", "serve", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{first}");
    let key_line = lines.nth(1).unwrap().unwrap();
    let key = key_line.rsplit('=').next().unwrap().to_string();
    let created = Command::cargo_bin("kallglot")
        .unwrap()
        .env("KALLGLOT_API_KEY", key)
        .env("KALLGLOT_BASE_URL", &url)
        .args(["sessions", "create", "--json"])
        .output()
        .unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let session: Value = serde_json::from_slice(&created.stdout).unwrap();
    assert!(session["id"].as_str().unwrap().starts_with("sess_"));
}

#[test]
fn the_demo_runs_offline_without_a_key() {
    let demo = ok(Command::cargo_bin("kallglot")
        .unwrap()
        .env_remove("KALLGLOT_API_KEY")
        .env_remove("KALLGLOT_BASE_URL")
        .args(["demo", "--speed", "20"]));
    for expected in [
        "created (en → es)",
        "[customer] Hello, I need help with my order.",
        "→ Hola, necesito ayuda con mi pedido.",
        "transcript of",
        "downloaded",
        "analysis",
        "credits 98 left, 2 used",
        "done.",
    ] {
        assert!(
            demo.stdout.contains(expected),
            "missing {expected:?} in:\n{}",
            demo.stdout
        );
    }
}
