//! What stops a command that cleans up after itself (`stream`, `demo`) early: Ctrl-C,
//! or its `--timeout` passing. The first Ctrl-C asks the command to stop gracefully, a
//! second one exits at once.

use tokio::sync::watch;

use crate::exit::INTERRUPTED;
use crate::output::errln;

/// Why the command was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Ctrl-C.
    CtrlC,
    /// `--timeout` passed.
    Deadline,
}

/// Whether the command was asked to stop; cheap to clone into tasks.
#[derive(Debug, Clone)]
pub struct Interrupt {
    stop: watch::Receiver<Option<Stop>>,
}

impl Interrupt {
    /// Takes over Ctrl-C for the rest of the process, and stops the command at
    /// `deadline` too, if given.
    pub fn install(deadline: Option<tokio::time::Instant>) -> Self {
        let (tx, stop) = watch::channel(None);
        if let Some(deadline) = deadline {
            let tx = tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(deadline).await;
                tx.send_if_modified(|stop| stop.get_or_insert(Stop::Deadline) == &Stop::Deadline);
            });
        }
        let Some(mut presses) = Presses::new() else {
            // No handler could be installed: Ctrl-C keeps its default (exit at once).
            return Self { stop };
        };
        tokio::spawn(async move {
            presses.next().await;
            tx.send_if_modified(|stop| stop.get_or_insert(Stop::CtrlC) == &Stop::CtrlC);
            presses.next().await;
            errln!("interrupted again: exiting now");
            std::process::exit(i32::from(INTERRUPTED));
        });
        Self { stop }
    }

    /// Resolves once the command is asked to stop (at once if it already was).
    pub async fn stopped(mut self) -> Stop {
        // The guard `wait_for` returns is not `Send`: copy the value out at once.
        let stop = self.stop.wait_for(Option::is_some).await.map(|stop| *stop);
        match stop {
            Ok(stop) => stop.unwrap_or(Stop::CtrlC),
            // Nothing can stop it any more: never resolve.
            Err(_) => std::future::pending().await,
        }
    }

    /// Why the command was asked to stop, if it was.
    pub fn stop(&self) -> Option<Stop> {
        *self.stop.borrow()
    }
}

/// Ctrl-C presses, counted from installation: on Unix a SIGINT stream, which keeps a
/// press that comes before the next wait (two quick presses are two presses).
struct Presses {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Presses {
    fn new() -> Option<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            signal(SignalKind::interrupt())
                .ok()
                .map(|signal| Self { signal })
        }
        #[cfg(not(unix))]
        {
            Some(Self {})
        }
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        {
            if self.signal.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
