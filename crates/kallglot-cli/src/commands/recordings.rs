//! `kallglot recordings list|get|download`

use indicatif::{ProgressBar, ProgressStyle};

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
            let report = bar.clone();
            let result = client
                .recordings()
                .download(id.as_str())
                .on_progress(move |bytes| report.set_position(bytes))
                .to_file(path)
                .await;
            bar.finish_and_clear();
            let done = result?;
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
