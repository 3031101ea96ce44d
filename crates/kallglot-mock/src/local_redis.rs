//! A throwaway `redis-server` on loopback, for tests and examples of receivers that
//! share webhook de-duplication through Redis.

use std::io;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a fresh server may take to answer `PING`.
const READY_DEADLINE: Duration = Duration::from_secs(10);

/// A `redis-server` process bound to `127.0.0.1` on a port of its own, without
/// persistence. It is killed when dropped.
///
/// Needs `redis-server` on `PATH` (Debian: `apt-get install redis-server`);
/// [`start`](Self::start) fails with [`io::ErrorKind::NotFound`] otherwise.
#[derive(Debug)]
pub struct LocalRedis {
    child: Option<Child>,
    port: u16,
}

impl LocalRedis {
    /// Starts a server on a free loopback port and waits until it answers `PING`.
    pub async fn start() -> io::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        Self::start_on(port).await
    }

    /// Starts a server on `port` (e.g. again on the port of one that was
    /// [`stop`](Self::stop)ped, as after an outage) and waits until it answers `PING`.
    pub async fn start_on(port: u16) -> io::Result<Self> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut server = Self {
            child: Some(child),
            port,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's URL, `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (its data is gone: there is no persistence) and waits for it
    /// to exit. The port is free again for [`start_on`](Self::start_on).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (`SIGSTOP`): connections stay open and nothing answers, like
    /// a Redis that hangs. [`resume`](Self::resume) undoes it.
    #[cfg(unix)]
    pub fn pause(&self) -> io::Result<()> {
        self.signal("-STOP")
    }

    /// Lets a [`pause`](Self::pause)d server run again (`SIGCONT`).
    #[cfg(unix)]
    pub fn resume(&self) -> io::Result<()> {
        self.signal("-CONT")
    }

    #[cfg(unix)]
    fn signal(&self, signal: &str) -> io::Result<()> {
        let child = self.child.as_ref().ok_or_else(stopped)?;
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("kill {signal} failed: {status}")))
        }
    }

    async fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = tokio::time::Instant::now() + READY_DEADLINE;
        loop {
            if let Some(status) = self.child.as_mut().ok_or_else(stopped)?.try_wait()? {
                return Err(io::Error::other(format!(
                    "redis-server exited early ({status}); is port {} taken?",
                    self.port
                )));
            }
            if self.answers_ping().await {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                self.stop();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "redis-server did not answer PING in time",
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// One `PING` on a fresh connection, with a short deadline.
    async fn answers_ping(&self) -> bool {
        let attempt = async {
            let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await?;
            stream.write_all(b"PING\r\n").await?;
            let mut reply = [0u8; 7];
            stream.read_exact(&mut reply).await?;
            io::Result::Ok(&reply == b"+PONG\r\n")
        };
        matches!(
            tokio::time::timeout(Duration::from_millis(500), attempt).await,
            Ok(Ok(true))
        )
    }
}

fn stopped() -> io::Error {
    io::Error::other("the redis-server was stopped")
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
