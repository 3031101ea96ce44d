//! Starts Debian's headless `chromium` for the test: a fake microphone playing a WAV
//! file, DevTools on a loopback port, and every background service that could reach
//! beyond loopback turned off.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the browser may take to start and print its DevTools address.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running browser. Dropping it kills the process.
pub struct Chromium {
    child: Child,
    /// The DevTools WebSocket URL of the browser.
    pub devtools_url: String,
    /// Everything the browser printed on stderr.
    pub log: Arc<Mutex<String>>,
    _profile: tempfile::TempDir,
}

impl Chromium {
    /// Starts the browser with `wav` as the microphone.
    pub async fn launch(wav: &Path) -> Result<Self, String> {
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut command = Command::new("chromium");
        command
            .arg("--headless=new")
            // Tests run as root in CI, where Chromium's sandbox cannot start; the page is
            // the test's own, served from loopback.
            .arg("--no-sandbox")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(["--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0"])
            // The microphone: a fake device playing the WAV, granted without a prompt.
            .args(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
            .arg(format!("--use-file-for-fake-audio-capture={}", wav.display()))
            .args(["--autoplay-policy=no-user-gesture-required", "--mute-audio"])
            // Nothing leaves loopback: no background services, no proxy detection, and any
            // host name other than 127.0.0.1 fails to resolve.
            .args([
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--disable-extensions",
                "--disable-breakpad",
                "--disable-domain-reliability",
                "--disable-client-side-phishing-detection",
                "--metrics-recording-only",
                "--no-pings",
                "--no-proxy-server",
                "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            ])
            .args(["--disable-gpu", "--window-size=900,900", "about:blank"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start chromium (.ci/run installs it): {e}"))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let log = Arc::new(Mutex::new(String::new()));
        let (found_tx, found_rx) = tokio::sync::oneshot::channel();
        tokio::spawn({
            let log = log.clone();
            async move {
                let mut lines = BufReader::new(stderr).lines();
                let mut found_tx = Some(found_tx);
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(url) = line.strip_prefix("DevTools listening on ")
                        && let Some(tx) = found_tx.take()
                    {
                        let _ = tx.send(url.trim().to_owned());
                    }
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let devtools_url = match tokio::time::timeout(START_TIMEOUT, found_rx).await {
            Ok(Ok(url)) => url,
            _ => {
                let _ = child.kill().await;
                return Err(format!(
                    "chromium printed no DevTools address within {START_TIMEOUT:?}:\n{}",
                    log.lock().unwrap()
                ));
            }
        };
        Ok(Self {
            child,
            devtools_url,
            log,
            _profile: profile,
        })
    }

    /// Waits (a bounded time) for the browser to exit after `Browser.close`, killing it
    /// otherwise.
    pub async fn wait_or_kill(mut self) {
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
