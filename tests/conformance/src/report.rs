//! The table both suites print: one row per entry, its status, then a summary line.

/// The outcome of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The scenario passed.
    Ok,
    /// The scenario failed; the text says how (its first line goes in the table).
    Failed(String),
    /// The scenario was not run, for the reason given (shown in the table, never counted
    /// as passed).
    NotRun(String),
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The entry id, such as `statuses/401`.
    pub id: String,
    /// What happened.
    pub outcome: Outcome,
}

impl Row {
    /// A row from a pass/fail result.
    pub fn new(id: impl Into<String>, result: Result<(), String>) -> Self {
        let outcome = match result {
            Ok(()) => Outcome::Ok,
            Err(e) => Outcome::Failed(e),
        };
        Self {
            id: id.into(),
            outcome,
        }
    }
}

/// Renders the table, the summary line `"<suite>: N passed, M failed"` (plus the rows not
/// run, if any) and, after it, every failure in full.
pub fn render(suite: &str, rows: &[Row]) -> String {
    let width = rows.iter().map(|r| r.id.len()).max().unwrap_or(10).max(5);
    let mut out = format!(
        "\n{:width$}  status\n{}  ------\n",
        "entry",
        "-".repeat(width)
    );
    for row in rows {
        let status = match &row.outcome {
            Outcome::Ok => "ok".to_string(),
            Outcome::Failed(e) => format!("FAILED: {}", e.lines().next().unwrap_or("")),
            Outcome::NotRun(why) => format!("not run: {why}"),
        };
        out.push_str(&format!("{:width$}  {status}\n", row.id));
    }
    let passed = rows.iter().filter(|r| r.outcome == Outcome::Ok).count();
    let failed = failures(rows);
    let not_run = rows.len() - passed - failed;
    out.push_str(&format!("\n{suite}: {passed} passed, {failed} failed"));
    if not_run > 0 {
        out.push_str(&format!(", {not_run} not run"));
    }
    out.push('\n');
    for row in rows {
        if let Outcome::Failed(e) = &row.outcome {
            out.push_str(&format!("\n--- {} ---\n{e}\n", row.id));
        }
    }
    out
}

/// How many rows failed.
pub fn failures(rows: &[Row]) -> usize {
    rows.iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed(_)))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_each_row_and_counts_them() {
        let rows = [
            Row::new("statuses/401", Ok(())),
            Row::new("statuses/404", Err("expected 404\nfound 200".into())),
            Row {
                id: "error_codes.current/insufficient_permissions".into(),
                outcome: Outcome::NotRun("no restricted key".into()),
            },
        ];
        let text = render("conformance", &rows);
        assert!(
            text.contains("statuses/401                                  ok\n"),
            "{text}"
        );
        assert!(
            text.contains("statuses/404                                  FAILED: expected 404\n")
        );
        assert!(text.contains("not run: no restricted key"));
        assert!(text.contains("conformance: 1 passed, 1 failed, 1 not run\n"));
        assert!(text.ends_with("--- statuses/404 ---\nexpected 404\nfound 200\n"));
        assert_eq!(failures(&rows), 1);
    }
}
