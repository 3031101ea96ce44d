//! `kallglot analysis create [--wait]|get`

use kallglot::WaitOptions;
use kallglot::model::{AnalysisPart, CreateAnalysisParams};

use super::client;
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
                output::json(&*analysis);
            } else {
                output::analysis(&analysis);
                println!("{}", output::figures(analysis.meta()));
            }
        }
        AnalysisCommand::Get { id } => {
            let analysis = client.analyses().retrieve(id.as_str()).await?;
            if cli.json {
                output::json(&*analysis);
            } else {
                output::analysis(&analysis);
            }
        }
    }
    Ok(())
}
