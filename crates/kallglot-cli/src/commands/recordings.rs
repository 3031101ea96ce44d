//! `kallglot recordings list|get|download`

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use kallglot::Client;
use tokio::io::AsyncWriteExt;

use super::client;
use crate::cli::{Cli, RecordingsCommand};
use crate::exit::Failure;
use crate::output::{self, errln, outln};

pub async fn run(cli: &Cli, command: &RecordingsCommand) -> Result<(), Failure> {
    let client = client(cli)?;
    match command {
        RecordingsCommand::List { session_id } => {
            let list = client.sessions().recordings(session_id.as_str()).await?;
            if cli.json {
                output::json(&*list)?;
            } else {
                if list.data.is_empty() {
                    outln!("no recordings (they appear once the session has ended)")?;
                }
                for recording in &list.data {
                    output::recording(recording)?;
                }
            }
        }
        RecordingsCommand::Get { id } => {
            let recording = client.recordings().retrieve(id.as_str()).await?;
            if cli.json {
                output::json(&*recording)?;
            } else {
                output::recording(&recording)?;
            }
        }
        RecordingsCommand::Download { id, output: path } => {
            download(cli, &client, id, path).await?;
        }
    }
    Ok(())
}

/// What `download --json` prints.
#[derive(serde::Serialize)]
struct Written<'a> {
    path: &'a str,
    bytes: u64,
    content_type: Option<&'a str>,
    filename: Option<&'a str>,
}

/// Downloads to `path`, or to stdout for `-`, with a progress bar on a terminal. A file
/// is written beside the target and renamed into place once complete (the SDK's
/// `to_file`), so an existing file survives any failure.
async fn download(cli: &Cli, client: &Client, id: &str, path: &Path) -> Result<(), Failure> {
    // The size, when known, gives the progress bar a length.
    let size = client
        .recordings()
        .retrieve(id)
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
    let call = client
        .recordings()
        .download(id)
        .on_progress(move |bytes| report.set_position(bytes));
    let to_stdout = path.as_os_str() == "-";
    let result = if to_stdout {
        let mut stdout = tokio::io::stdout();
        let done = call.to_writer(&mut stdout).await;
        match done {
            Ok(done) => stdout.flush().await.map(|()| done).map_err(Failure::output),
            Err(kallglot::Error::Io(e)) => Err(Failure::output(e)),
            Err(e) => Err(e.into()),
        }
    } else {
        call.to_file(path).await.map_err(|e| match e {
            kallglot::Error::Io(e) => Failure::local(format!("{}: {e}", path.display())),
            other => other.into(),
        })
    };
    bar.finish_and_clear();
    let done = result?;
    let shown = if to_stdout {
        "stdout".to_string()
    } else {
        path.display().to_string()
    };
    if cli.json && !to_stdout {
        output::json(&Written {
            path: &shown,
            bytes: done.bytes,
            content_type: done.content_type.as_deref(),
            filename: done.filename.as_deref(),
        })?;
    } else {
        // With the audio on stdout, the summary goes to stderr.
        let line = format!(
            "wrote {} bytes to {shown} ({})",
            done.bytes,
            done.content_type.as_deref().unwrap_or("unknown type")
        );
        if to_stdout {
            errln!("{line}");
        } else {
            outln!("{line}")?;
        }
    }
    Ok(())
}
