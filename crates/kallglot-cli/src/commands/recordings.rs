//! `kallglot recordings list|get|download`

use std::pin::Pin;
use std::task::{Context, Poll};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::io::AsyncWrite;

use super::client;
use crate::cli::{Cli, RecordingsCommand};
use crate::exit::Failure;
use crate::output;

pub async fn run(cli: &Cli, command: &RecordingsCommand) -> Result<(), Failure> {
    let client = client(cli)?;
    match command {
        RecordingsCommand::List { session_id } => {
            let list = client.sessions().recordings(session_id.as_str()).await?;
            if cli.json {
                output::json(&*list);
            } else {
                if list.data.is_empty() {
                    println!("no recordings (they appear once the session has ended)");
                }
                for recording in &list.data {
                    output::recording(recording);
                }
            }
        }
        RecordingsCommand::Get { id } => {
            let recording = client.recordings().retrieve(id.as_str()).await?;
            if cli.json {
                output::json(&*recording);
            } else {
                output::recording(&recording);
            }
        }
        RecordingsCommand::Download { id, output: path } => {
            // The size, when known, gives the progress bar a length.
            let size = client
                .recordings()
                .retrieve(id.as_str())
                .await
                .ok()
                .and_then(|r| r.size);
            let bar = match size {
                Some(size) => ProgressBar::new(size),
                None => ProgressBar::new_spinner(),
            };
            bar.set_style(
                ProgressStyle::with_template("{bytes}/{total_bytes} {wide_bar} {bytes_per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let file = tokio::fs::File::create(path)
                .await
                .map_err(|e| Failure::local(format!("{}: {e}", path.display())))?;
            let mut writer = Progress {
                inner: file,
                bar: bar.clone(),
            };
            let result = client
                .recordings()
                .download(id.as_str())
                .to_writer(&mut writer)
                .await;
            bar.finish_and_clear();
            let done = match result {
                Ok(done) => done,
                Err(e) => {
                    let _ = tokio::fs::remove_file(path).await;
                    return Err(e.into());
                }
            };
            if cli.json {
                output::json(&serde_json::json!({
                    "path": path.display().to_string(),
                    "bytes": done.bytes,
                    "content_type": done.content_type,
                    "filename": done.filename,
                }));
            } else {
                println!(
                    "wrote {} bytes to {} ({})",
                    done.bytes,
                    path.display(),
                    done.content_type.as_deref().unwrap_or("unknown type")
                );
            }
        }
    }
    Ok(())
}

/// A writer that advances a progress bar.
struct Progress<W> {
    inner: W,
    bar: ProgressBar,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Progress<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &poll {
            self.bar.inc(*n as u64);
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
