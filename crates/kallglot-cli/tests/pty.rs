//! Interactive behaviour under a pseudo-terminal: the progress bar, Ctrl-C ending the
//! session the command created (checked on the emulator afterwards), a second Ctrl-C,
//! and `--color auto` with `NO_COLOR`.
#![cfg(unix)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use kallglot_mock::catalogue::END_SESSION;
use kallglot_mock::{Fault, MockServer};
use nix::sys::wait::WaitStatus;
use rexpect::session::{PtySession, spawn_command};

/// Generous: only reached when something is broken.
const EXPECT_TIMEOUT_MS: u64 = 20_000;

fn spawn(command: Command) -> PtySession {
    spawn_command(command, Some(EXPECT_TIMEOUT_MS)).unwrap()
}

/// Waits for the process to end and returns its exit code.
fn exit_code(mut session: PtySession) -> (i32, String) {
    let rest = session.exp_eof().unwrap();
    match session.process().wait().unwrap() {
        WaitStatus::Exited(_, code) => (code, rest),
        other => panic!("did not exit normally: {other:?}; output: {rest}"),
    }
}

/// Starts `stream` on a long file at real-time speed and waits until the audio is
/// flowing; returns the session id.
fn start_stream(session: &mut PtySession) -> String {
    let (_, line) = session
        .exp_regex(r"into session sess_[A-Za-z0-9_]+")
        .unwrap();
    line.rsplit(' ').next().unwrap().to_string()
}

fn stream_command(server: &MockServer, extra: &[&str]) -> Command {
    let wav = wav_of("long.wav", 30.0);
    let mut command = kallglot_at(server);
    command.arg("stream").arg(&wav).args(extra);
    command
}

fn status_of(server: &MockServer, id: &str) -> String {
    let session = json(kallglot_at(server).args(["sessions", "get", id]));
    session["status"].as_str().unwrap().to_string()
}

#[test]
fn the_progress_bar_shows_and_ctrl_c_ends_the_created_session() {
    let server = server();
    let mut session = spawn(stream_command(server, &[]));
    let id = start_stream(&mut session);
    // The bar: the position in milliseconds of audio, redrawn as it plays.
    session.exp_regex(r"\d+/30000 ms").unwrap();
    session.send_control('c').unwrap();
    session.exp_string("interrupted").unwrap();
    let (code, rest) = exit_code(session);
    assert_eq!(code, 130, "{rest}");
    assert!(rest.contains(&format!("session {id} ended")), "{rest}");
    assert_eq!(status_of(server, &id), "ended", "no stray billing");
}

#[test]
fn ctrl_c_leaves_a_given_session_running_unless_end() {
    let server = server();
    let id = create_session();
    let mut session = spawn(stream_command(server, &["--session", &id]));
    start_stream(&mut session);
    session.send_control('c').unwrap();
    let (code, rest) = exit_code(session);
    assert_eq!(code, 130, "{rest}");
    assert!(rest.contains("still active"), "it says so: {rest}");
    let status = status_of(server, &id);
    assert!(["created", "active"].contains(&status.as_str()), "{status}");

    let mut session = spawn(stream_command(server, &["--session", &id, "--end"]));
    start_stream(&mut session);
    session.send_control('c').unwrap();
    let (code, rest) = exit_code(session);
    assert_eq!(code, 130, "{rest}");
    assert_eq!(status_of(server, &id), "ended");
}

#[test]
fn a_second_ctrl_c_exits_at_once() {
    // Ending the session hangs, so only the second Ctrl-C can end the command.
    let own = own_server(|b| b);
    own.faults()
        .inject(&END_SESSION, Fault::delay(Duration::from_secs(60)));
    let mut session = spawn(stream_command(&own, &[]));
    start_stream(&mut session);
    session.send_control('c').unwrap();
    session.exp_string("stopping the audio").unwrap();
    session.send_control('c').unwrap();
    session.exp_string("interrupted again").unwrap();
    let (code, rest) = exit_code(session);
    assert_eq!(code, 130, "{rest}");
}

#[test]
fn color_auto_on_a_terminal_and_no_color() {
    let colored = |command: &mut Command| {
        let (code, output) = exit_code(spawn(std::mem::replace(command, Command::new("true"))));
        assert_eq!(code, 3, "{output}");
        output.contains("\u{1b}[")
    };
    let args = ["sessions", "get", "sess_nope"];
    assert!(colored(kallglot().args(args)), "auto on a terminal");
    assert!(
        !colored(kallglot().env("NO_COLOR", "1").args(args)),
        "NO_COLOR"
    );
    assert!(!colored(kallglot().args(["--color", "never"]).args(args)));
    // An empty NO_COLOR does not count, by its definition.
    assert!(colored(kallglot().env("NO_COLOR", "").args(args)));
}

#[test]
fn ctrl_c_during_the_demo_ends_its_session() {
    let server = server();
    let mut command = kallglot_at(server);
    command.args(["demo", "--base-url", &server.url()]);
    let mut session = spawn(command);
    let (_, line) = session.exp_regex(r"session +sess_[A-Za-z0-9_]+").unwrap();
    let id = line.split_whitespace().nth(1).unwrap().to_string();
    session.exp_string("live bilingual transcript").unwrap();
    session.send_control('c').unwrap();
    let (code, rest) = exit_code(session);
    assert_eq!(code, 130, "{rest}");
    assert_eq!(status_of(server, &id), "ended");
}
