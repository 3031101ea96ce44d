//! Raw HTTP exchanges with the server under test: what it sent, byte for byte, so that
//! statuses, headers and bodies can be checked against the spec (the SDK hides them).

use std::time::Duration;

use serde_json::Value;

/// The longest body the suite reads; a recording larger than this fails its row.
const MAX_BODY: usize = 64 * 1024 * 1024;
/// The deadline of one exchange, from sending to the end of the body.
const TIMEOUT: Duration = Duration::from_secs(30);

/// One request and what came back.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path sent, such as `/v1/sessions/sess_…`.
    pub path: String,
    /// The HTTP status.
    pub status: u16,
    /// Response headers, names lowercase, in the order received.
    pub headers: Vec<(String, String)>,
    /// The response body.
    pub body: Vec<u8>,
}

impl Exchange {
    /// The first value of a header (`name` in any case); `None` when absent or not text.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| {
            format!(
                "{} {}: HTTP {}: the body is not JSON: {e}",
                self.method, self.path, self.status
            )
        })
    }

    /// `error.code` of an error envelope, if the body is one.
    pub fn error_code(&self) -> Option<String> {
        let body = self.json().ok()?;
        body.pointer("/error/code")?.as_str().map(str::to_string)
    }

    /// `METHOD path -> status`, for messages.
    pub fn summary(&self) -> String {
        format!("{} {} -> {}", self.method, self.path, self.status)
    }
}

/// Sends raw requests to one server, with or without an API key.
#[derive(Clone)]
pub struct Wire {
    http: reqwest::Client,
    base_url: String,
    key: Option<String>,
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wire")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Wire {
    /// A client for `base_url` (already checked by the SDK's builder) sending `key` as
    /// `Authorization: Bearer`. It never follows redirects, so the key cannot be carried
    /// to another host.
    pub fn new(base_url: &str, key: Option<&kallglot::ApiKey>) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            key: key.map(|k| k.expose_secret().to_string()),
        })
    }

    /// The same server with another key (or none).
    pub fn with_key(&self, key: Option<&kallglot::ApiKey>) -> Self {
        Self {
            key: key.map(|k| k.expose_secret().to_string()),
            ..self.clone()
        }
    }

    /// Sends one request; `body` goes as JSON. No retries: what the server answered first
    /// is what is checked.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Exchange, String> {
        let verb = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("{method} is not an HTTP method"))?;
        let mut request = self
            .http
            .request(verb, format!("{}{path}", self.base_url))
            .header("user-agent", kallglot::default_user_agent());
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| format!("{method} {path}: no response: {}", without_url(&e)))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("{method} {path}: the body broke off: {}", without_url(&e)))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(format!(
                    "{method} {path}: the body is larger than {MAX_BODY} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Exchange {
            method: method.to_string(),
            path: path.to_string(),
            status,
            headers,
            body,
        })
    }
}

/// A reqwest error's description without the URL it names (the base URL is already in
/// the report, and a URL could carry a query one day).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
