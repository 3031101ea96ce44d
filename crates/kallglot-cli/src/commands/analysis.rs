//! `kallglot analysis create [--wait]|get`

use kallglot::model::{AnalysisPart, CreateAnalysisParams};
use kallglot::{Method, WaitOptions};

use super::{client, segment};
use crate::cli::{AnalysisCommand, Cli};
use crate::exit::Failure;
use crate::output;

pub async fn run(cli: &Cli, command: &AnalysisCommand) -> Result<(), Failure> {
    let client = client(cli)?;
    match command {
        AnalysisCommand::Create {
            session_id,
            profile,
            include,
            wait,
        } => {
            let mut params = CreateAnalysisParams::new()
                .include(include.iter().map(|part| AnalysisPart::from(part.trim())));
            if let Some(profile) = profile {
                params = params.profile(profile.clone());
            }
            let created = client
                .analyses()
                .create(session_id.as_str(), params)
                .await?;
            let analysis = if *wait {
                client
                    .analyses()
                    .wait(created.id.clone(), WaitOptions::default())
                    .await?
            } else {
                created
            };
            if cli.json {
                let path = format!("/v1/analyses/{}", segment(analysis.id.as_str()));
                output::json(&*client.request(Method::Get, &path).await?);
            } else {
                output::analysis(&analysis);
                println!("{}", output::figures(analysis.meta()));
            }
        }
        AnalysisCommand::Get { id } => {
            if cli.json {
                let path = format!("/v1/analyses/{}", segment(id));
                output::json(&*client.request(Method::Get, &path).await?);
            } else {
                output::analysis(&*client.analyses().retrieve(id.as_str()).await?);
            }
        }
    }
    Ok(())
}
