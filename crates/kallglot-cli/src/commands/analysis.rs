//! `kallglot analysis create [--wait]|get`

use indicatif::ProgressBar;
use kallglot::WaitOptions;
use kallglot::model::{AnalysisPart, CreateAnalysisParams};

use super::client;
use crate::cli::{AnalysisCommand, Cli};
use crate::exit::Failure;
use crate::output::{self, outln};

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
            // The analysis `wait` returns is the one its last poll read: printing it
            // takes no further request.
            let analysis = if *wait {
                let spinner = ProgressBar::new_spinner();
                spinner.set_message(format!("waiting for analysis {}", created.id));
                spinner.enable_steady_tick(std::time::Duration::from_millis(120));
                let done = client
                    .analyses()
                    .wait(created.id.clone(), WaitOptions::default())
                    .await;
                spinner.finish_and_clear();
                done?
            } else {
                created
            };
            if cli.json {
                output::json(&*analysis)?;
            } else {
                output::analysis(&analysis)?;
                outln!("{}", output::figures(analysis.meta()))?;
            }
        }
        AnalysisCommand::Get { id } => {
            let analysis = client.analyses().retrieve(id.as_str()).await?;
            if cli.json {
                output::json(&*analysis)?;
            } else {
                output::analysis(&analysis)?;
            }
        }
    }
    Ok(())
}
