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
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_err() {
                // No handler could be installed: Ctrl-C keeps its default (exit at once).
                return;
            }
            let _ = tx.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                errln!("interrupted again: exiting now");
                std::process::exit(i32::from(INTERRUPTED));
            }
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
