//! Ctrl-C for commands that clean up after themselves (`stream`, `demo`): the first one
//! asks the command to stop gracefully, a second one exits at once.

use tokio::sync::watch;

use crate::exit::INTERRUPTED;
use crate::output::errln;

/// Whether Ctrl-C was pressed; cheap to clone into tasks.
#[derive(Debug, Clone)]
pub struct Interrupt {
    pressed: watch::Receiver<bool>,
}

impl Interrupt {
    /// Takes over Ctrl-C for the rest of the process.
    pub fn install() -> Self {
        let (tx, pressed) = watch::channel(false);
        let Some(mut presses) = Presses::new() else {
            // No handler could be installed: Ctrl-C keeps its default (exit at once).
            return Self { pressed };
        };
        tokio::spawn(async move {
            presses.next().await;
            let _ = tx.send(true);
            presses.next().await;
            errln!("interrupted again: exiting now");
            std::process::exit(i32::from(INTERRUPTED));
        });
        Self { pressed }
    }

    /// Resolves once Ctrl-C has been pressed (at once if it already was).
    pub async fn pressed(mut self) {
        if self.pressed.wait_for(|pressed| *pressed).await.is_err() {
            // The watcher is gone (no handler): never resolve.
            std::future::pending::<()>().await;
        }
    }

    /// Whether Ctrl-C has been pressed.
    pub fn is_pressed(&self) -> bool {
        *self.pressed.borrow()
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
