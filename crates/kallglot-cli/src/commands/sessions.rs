//! `kallglot sessions create|get|end|transcript`

use kallglot::Method;

use super::{client, create_params, segment};
use crate::cli::{Cli, SessionsCommand};
use crate::exit::Failure;
use crate::output;

pub async fn run(cli: &Cli, command: &SessionsCommand) -> Result<(), Failure> {
    let client = client(cli)?;
    match command {
        SessionsCommand::Create(args) => {
            let params = create_params(args)?;
            if cli.json {
                let mut request = client
                    .request(Method::Post, "/v1/sessions")
                    .json(params.to_json());
                if let Some(key) = &args.idempotency_key {
                    request = request.idempotency_key(key.clone());
                }
                output::json(&*request.await?);
            } else {
                let mut call = client.sessions().create(params);
                if let Some(key) = &args.idempotency_key {
                    call = call.idempotency_key(key.clone());
                }
                output::session(&call.await?);
            }
        }
        SessionsCommand::Get { id } => {
            if cli.json {
                let path = format!("/v1/sessions/{}", segment(id));
                output::json(&*client.request(Method::Get, &path).await?);
            } else {
                output::session(&client.sessions().retrieve(id.as_str()).await?);
            }
        }
        SessionsCommand::End { id } => {
            if cli.json {
                let path = format!("/v1/sessions/{}/end", segment(id));
                output::json(&*client.request(Method::Post, &path).await?);
            } else {
                let ended = client.sessions().end(id.as_str()).await?;
                println!(
                    "session {} {} ({} s)",
                    ended.id,
                    ended.status,
                    ended
                        .duration_seconds
                        .map_or("?".into(), |d| format!("{d:.1}"))
                );
                println!("{}", output::figures(ended.meta()));
            }
        }
        SessionsCommand::Transcript { id } => {
            if cli.json {
                let path = format!("/v1/sessions/{}/transcript", segment(id));
                output::json(&*client.request(Method::Get, &path).await?);
            } else {
                output::transcript(&*client.sessions().transcript(id.as_str()).await?);
            }
        }
    }
    Ok(())
}
