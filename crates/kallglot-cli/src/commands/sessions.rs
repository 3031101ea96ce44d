//! `kallglot sessions create|get|end|transcript`

use super::{client, create_params};
use crate::cli::{Cli, SessionsCommand};
use crate::exit::Failure;
use crate::output::{self, outln};

pub async fn run(cli: &Cli, command: &SessionsCommand) -> Result<(), Failure> {
    let client = client(cli)?;
    match command {
        SessionsCommand::Create(args) => {
            let params = create_params(args)?;
            let mut call = client.sessions().create(params);
            if let Some(key) = &args.idempotency_key {
                call = call.idempotency_key(key.clone());
            }
            let session = call.await?;
            if cli.json {
                output::json(&*session)?;
            } else {
                output::session(&session)?;
            }
        }
        SessionsCommand::Get { id } => {
            let session = client.sessions().retrieve(id.as_str()).await?;
            if cli.json {
                output::json(&*session)?;
            } else {
                output::session(&session)?;
            }
        }
        SessionsCommand::End { id } => {
            let ended = client.sessions().end(id.as_str()).await?;
            if cli.json {
                output::json(&*ended)?;
            } else {
                outln!(
                    "session {} {} ({} s)",
                    ended.id,
                    ended.status,
                    ended
                        .duration_seconds
                        .map_or("?".into(), |d| format!("{d:.1}"))
                )?;
                outln!("{}", output::figures(ended.meta()))?;
            }
        }
        SessionsCommand::Transcript { id } => {
            let transcript = client.sessions().transcript(id.as_str()).await?;
            if cli.json {
                output::json(&*transcript)?;
            } else {
                output::transcript(&transcript)?;
            }
        }
    }
    Ok(())
}
