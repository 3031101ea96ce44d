//! The live scenarios, in the order a session lives (`lifecycle`: create, retrieve,
//! stream, end, transcript, recordings, analysis), then the errors the keys can provoke
//! (`errors`), then one row per documented header and the coverage row. This module holds
//! the run's bookkeeping: every raw exchange goes through [`Run::exchange`], which checks
//! it against the spec and tallies its headers.

use std::collections::BTreeMap;
use std::time::Duration;

use kallglot::ErrorCode;
use kallglot::model::{AnalysisPart, CreateAnalysisParams, CreateSessionParams, Language, Mode};
use serde_json::{Value, json};

mod errors;
mod lifecycle;

use super::check::Contract;
use super::stream::stream_steps;
use super::wire::{Exchange, Wire};
use super::{Checked, RESTRICTED_KEY_VAR};
use crate::report::{Outcome, Row};

/// A key of the right shape that no server knows.
const WRONG_KEY: &str = "sk_test_conformanceWrongKey000000000000";
/// An id no server has.
const MISSING_SESSION: &str = "sess_conformance_missing";
/// How long a recording may take to appear after the session ended.
const RECORDING_DEADLINE: Duration = Duration::from_secs(30);

/// How often one documented header was checked, and what was wrong.
#[derive(Default)]
struct Tally {
    checked: usize,
    problems: Vec<String>,
}

struct Run {
    contract: Contract,
    wire: Wire,
    checked: Checked,
    rows: Vec<Row>,
    headers: BTreeMap<String, Tally>,
    secrets: Vec<String>,
}

pub(super) async fn run(checked: Checked, contract: Contract) -> Vec<Row> {
    let wire = match Wire::new(checked.client.base_url(), Some(&checked.key)) {
        Ok(wire) => wire,
        Err(e) => return vec![Row::new("setup", Err(e))],
    };
    let mut secrets = vec![checked.key.expose_secret().to_string()];
    if let Some(k) = &checked.restricted {
        secrets.push(k.expose_secret().to_string());
    }
    let mut run = Run {
        contract,
        wire,
        checked,
        rows: Vec::new(),
        headers: BTreeMap::new(),
        secrets,
    };
    run.session_lifecycle().await;
    run.errors().await;
    run.header_rows();
    run.coverage_row();
    run.finish()
}

impl Run {
    // ---- bookkeeping ----

    fn record(&mut self, id: &str, result: Result<(), String>) {
        self.rows.push(Row::new(id, result));
    }

    fn record_all(&mut self, ids: &[&str], result: &Result<(), String>) {
        for id in ids {
            self.record(id, result.clone());
        }
    }

    fn not_run(&mut self, ids: &[&str], why: &str) {
        for id in ids {
            self.rows.push(Row {
                id: id.to_string(),
                outcome: Outcome::NotRun(why.to_string()),
            });
        }
    }

    /// Sends a raw request as `operation` and checks the answer against the spec; the
    /// header findings go to the header rows too.
    async fn exchange(
        &mut self,
        wire: &Wire,
        operation: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Exchange, String> {
        let exchange = wire.send(method, path, body, idempotency_key).await?;
        let findings = self.contract.check(operation, &exchange);
        for (name, result) in &findings.headers {
            let tally = self.headers.entry(name.clone()).or_default();
            tally.checked += 1;
            if let Err(e) = result {
                tally.problems.push(e.clone());
            }
        }
        if let Some(token) = exchange
            .json()
            .ok()
            .and_then(|b| b.pointer("/stream/token")?.as_str().map(str::to_string))
        {
            self.secrets.push(token);
        }
        let problems = findings.all_problems();
        if problems.is_empty() {
            Ok(exchange)
        } else {
            Err(problems.join("\n"))
        }
    }

    /// A raw request to the emulator's admin API (no key), which must answer 2xx.
    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let exchange = self
            .wire
            .with_key(None)
            .send(method, path, body.as_ref(), None)
            .await?;
        if !(200..300).contains(&exchange.status) {
            return Err(format!(
                "the emulator's admin API refused: {}",
                exchange.summary()
            ));
        }
        Ok(exchange.json().unwrap_or(Value::Null))
    }

    fn client(&self) -> &kallglot::Client {
        &self.checked.client
    }

    fn client_with(&self, key: &str) -> Result<kallglot::Client, String> {
        kallglot::Client::builder()
            .api_key(key)
            .base_url(self.client().base_url())
            .build()
            .map_err(|e| e.to_string())
    }
}

impl Run {
    // ---- summary rows ----

    /// One row per documented response header, over every response of the run.
    fn header_rows(&mut self) {
        let declared = match crate::spec_surface::spec() {
            Ok(spec) => crate::spec_surface::surface(&spec).response_headers,
            Err(e) => {
                self.record("response_headers", Err(e));
                return;
            }
        };
        for name in declared {
            let id = format!("response_headers/{name}");
            match self.headers.get(&name) {
                None | Some(Tally { checked: 0, .. }) => self.not_run(
                    &[&id],
                    "no answer of this run had a status that declares it",
                ),
                Some(tally) if tally.problems.is_empty() => self.record(&id, Ok(())),
                Some(tally) => {
                    let text = format!(
                        "{} of {} responses: {}",
                        tally.problems.len(),
                        tally.checked,
                        tally.problems.join("\n")
                    );
                    self.record(&id, Err(text));
                }
            }
        }
    }

    /// Every operation of the spec has a row, every operation row names one, and every
    /// other row is an entry of `documented.toml`.
    fn coverage_row(&mut self) {
        let result = coverage(
            &self.contract.operation_ids(),
            &crate::manifest::load(),
            self.rows.iter().map(|r| r.id.as_str()),
        );
        self.rows.insert(
            0,
            Row::new("coverage (spec operations, manifest <-> live rows)", result),
        );
    }

    /// The rows, with every key and token the run used replaced.
    fn finish(self) -> Vec<Row> {
        let redact = |text: &str| redact(&self.secrets, text);
        self.rows
            .iter()
            .map(|row| Row {
                id: row.id.clone(),
                outcome: match &row.outcome {
                    Outcome::Ok => Outcome::Ok,
                    Outcome::Failed(e) => Outcome::Failed(redact(e)),
                    Outcome::NotRun(why) => Outcome::NotRun(redact(why)),
                },
            })
            .collect()
    }
}

/// Checks the live rows against the spec's operations and the manifest's entries.
fn coverage<'r>(
    operations: &[String],
    manifest: &BTreeMap<String, String>,
    rows: impl Iterator<Item = &'r str>,
) -> Result<(), String> {
    let rows: Vec<&str> = rows.collect();
    let run: Vec<&str> = rows
        .iter()
        .filter_map(|id| id.strip_prefix("operations/"))
        .collect();
    let missing: Vec<&String> = operations
        .iter()
        .filter(|id| !run.contains(&id.as_str()))
        .collect();
    let unknown: Vec<&&str> = run
        .iter()
        .filter(|id| !operations.iter().any(|o| o == *id))
        .collect();
    let undocumented: Vec<&&str> = rows
        .iter()
        .filter(|id| !id.starts_with("operations/") && !manifest.contains_key(**id))
        .collect();
    if missing.is_empty() && unknown.is_empty() && undocumented.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "operations without a row: {missing:?}; operation rows the spec lacks: {unknown:?}; \
             rows that are not documented.toml entries: {undocumented:?}"
        ))
    }
}

/// `text` with every secret replaced by `[redacted]`.
fn redact(secrets: &[String], text: &str) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_string(), |t, s| t.replace(s.as_str(), "[redacted]"))
}

// ---- expectations ----

fn expect_status(raw: &Exchange, status: u16) -> Result<(), String> {
    if raw.status == status {
        Ok(())
    } else {
        Err(format!(
            "{}: expected HTTP {status} (error code {:?})",
            raw.summary(),
            raw.error_code()
        ))
    }
}

fn expect_success(raw: &Exchange) -> Result<(), String> {
    if (200..300).contains(&raw.status) {
        Ok(())
    } else {
        Err(format!(
            "{}: expected a 2xx (error code {:?})",
            raw.summary(),
            raw.error_code()
        ))
    }
}

fn expect_error(raw: &Exchange, status: u16, code: &str) -> Result<(), String> {
    expect_status(raw, status)?;
    match raw.error_code() {
        Some(got) if got == code => Ok(()),
        got => Err(format!(
            "{}: expected error code {code}, got {got:?}",
            raw.summary()
        )),
    }
}

fn expect_sdk_error(err: &kallglot::Error, status: u16, code: ErrorCode) -> Result<(), String> {
    if err.status() == Some(status) && err.code() == Some(&code) {
        Ok(())
    } else {
        Err(format!(
            "the SDK's error is not HTTP {status} {code}: {err}"
        ))
    }
}

fn same_id(raw: &Exchange, sdk_id: &str) -> Result<(), String> {
    let body = raw.json()?;
    match body["id"].as_str() {
        Some(id) if id == sdk_id => Ok(()),
        other => Err(format!(
            "the SDK read id {sdk_id}, the raw answer has {other:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_names_missing_operations_unknown_ones_and_undocumented_rows() {
        let operations = ["create_session".to_string(), "retrieve_session".to_string()];
        let manifest = BTreeMap::from([("statuses/401".to_string(), String::new())]);
        let ok = [
            "operations/create_session",
            "operations/retrieve_session",
            "statuses/401",
        ];
        assert_eq!(coverage(&operations, &manifest, ok.into_iter()), Ok(()));
        let bad = [
            "operations/create_session",
            "operations/dial",
            "statuses/499",
        ];
        let err = coverage(&operations, &manifest, bad.into_iter()).unwrap_err();
        assert!(
            err.contains("without a row: [\"retrieve_session\"]"),
            "{err}"
        );
        assert!(err.contains("spec lacks: [\"dial\"]"), "{err}");
        assert!(err.contains("entries: [\"statuses/499\"]"), "{err}");
    }

    #[test]
    fn every_secret_is_redacted_and_an_empty_one_is_ignored() {
        let secrets = [
            "sk_test_abc".to_string(),
            String::new(),
            "kst_test_xyz".into(),
        ];
        assert_eq!(
            redact(
                &secrets,
                "key sk_test_abc, token kst_test_xyz, again sk_test_abc"
            ),
            "key [redacted], token [redacted], again [redacted]"
        );
    }
}
