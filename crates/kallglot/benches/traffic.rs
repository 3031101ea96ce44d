//! Call-center load against the emulator at its default rate limit (1,000 requests a
//! minute): N concurrent call flows, each making the REST requests of one call
//! (create, end, transcript, recordings, download of each recording, analysis, and
//! `Analyses::wait` polling until it completes).
//!
//! The emulator and the client share one current-thread tokio runtime with a paused
//! clock, so minutes of rate-limit windows pass in virtual time: the run reports the
//! virtual time the workload took and the real time the run took (loopback only).
//!
//! Run with `cargo bench -p kallglot --bench traffic`; options: `-- --flows N` (300),
//! `--no-pacing` (the client without rate-limit pacing, as before it existed).

use std::time::Instant;

use kallglot::Client;
use kallglot::model::{CreateAnalysisParams, CreateSessionParams, Mode};
use kallglot::{Error, WaitOptions};

/// What one flow came to.
#[derive(Debug, Default, Clone, Copy)]
struct Outcome {
    ok: bool,
    rate_limited: bool,
}

async fn flow(client: Client) -> Outcome {
    let mut outcome = Outcome::default();
    match run_flow(&client).await {
        Ok(()) => outcome.ok = true,
        Err(e) => {
            outcome.rate_limited = e.is_rate_limited();
            eprintln!("flow failed: {e}");
        }
    }
    outcome
}

async fn run_flow(client: &Client) -> Result<(), Error> {
    let session = client
        .sessions()
        .create(CreateSessionParams::new(Mode::BidirectionalTranslation))
        .await?;
    client.sessions().end(&session.id).await?;
    client.sessions().transcript(&session.id).await?;
    let recordings = client.sessions().recordings(&session.id).await?;
    for recording in &recordings.data {
        let mut sink = tokio::io::sink();
        client
            .recordings()
            .download(&recording.id)
            .to_writer(&mut sink)
            .await?;
    }
    let analysis = client
        .analyses()
        .create(&session.id, CreateAnalysisParams::new())
        .await?;
    client
        .analyses()
        .wait(&analysis.id, WaitOptions::default())
        .await?;
    Ok(())
}

fn main() {
    let mut flows = 300usize;
    let mut pacing = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--flows" => flows = args.next().and_then(|n| n.parse().ok()).expect("--flows N"),
            "--no-pacing" => pacing = false,
            // `cargo bench` passes `--bench`.
            _ => {}
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime");
    let real = Instant::now();
    let (outcomes, virtual_time, state, server_requests) = runtime.block_on(async {
        // Default rate limit; enough credits for two per flow (session + analysis).
        let server = kallglot_mock::MockServer::builder()
            .credits(flows as u64 * 2 + 10)
            .start()
            .await
            .expect("the emulator starts");
        let client = Client::builder()
            .api_key(server.api_key())
            .base_url(server.url())
            .rate_limit_pacing(pacing)
            .build()
            .expect("a client");
        let started = tokio::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..flows {
            tasks.spawn(flow(client.clone()));
        }
        let mut outcomes = Vec::with_capacity(flows);
        while let Some(outcome) = tasks.join_next().await {
            outcomes.push(outcome.expect("a flow task"));
        }
        let state = client.rate_limit_state();
        let used = server.credits_used();
        (outcomes, started.elapsed(), state, used)
    });
    let real = real.elapsed();
    let ok = outcomes.iter().filter(|o| o.ok).count();
    let limited = outcomes.iter().filter(|o| o.rate_limited).count();
    println!(
        "| flows | pacing | succeeded | failed with 429 | other failures | requests sent | virtual time | real time | requests that waited | total pacing wait |"
    );
    println!("|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {flows} | {} | {ok} | {limited} | {} | {} | {:.1} s | {:.2} s | {} | {:.0} s |",
        if pacing { "on" } else { "off" },
        flows - ok - limited,
        state.sent,
        virtual_time.as_secs_f64(),
        real.as_secs_f64(),
        state.paced_requests,
        state.total_wait.as_secs_f64(),
    );
    eprintln!("credits charged by the emulator: {server_requests}; pacer: {state:?}");
}
