//! The HTTP side: URL and auth layout, retries before the first body byte, the `timeout`
//! until headers, and mapping non-2xx answers to failures. Knows nothing of SSE or napi.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::{Method, Response, StatusCode, Url};

use crate::failure::{truncate_at_char, Failure, FailureKind};
use crate::openai::errors::error_from_json;
use crate::secrets::Secrets;

/// Client-wide settings, as `lib/client.js` validated them (`binding::types::JsClientConfig`
/// is how they cross from JS).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: String,
    pub api_key: Option<String>,
    pub organization: Option<String>,
    pub project: Option<String>,
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub timeout_ms: u64,
    pub idle_timeout_ms: u64,
    pub max_retries: u32,
    pub max_event_bytes: Option<usize>,
    pub azure: Option<AzureConfig>,
    /// Debug log to stderr (`STREAMDELTA_LOG=debug` or the client's `log: 'debug'`).
    pub debug: bool,
}

/// Azure OpenAI layout: `/openai/deployments/{deployment}/...?api-version=` and `api-key`.
#[derive(Debug, Clone)]
pub struct AzureConfig {
    pub api_version: String,
    pub deployment: Option<String>,
}

/// Per-request overrides (the second argument of every call).
#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    pub max_retries: Option<u32>,
    /// Replaces the client's key for this request (scrubbed like it).
    pub api_key: Option<String>,
    /// A background Responses request: a stream that breaks after sequence-numbered events is
    /// resumed with `starting_after` (within `maxRetries`).
    pub resume: bool,
}

/// One request to make: the endpoint path under `baseURL` and the JSON body.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub method: Method,
    pub path: String,
    pub body: Option<String>,
    pub options: RequestOptions,
}

/// Response metadata handed to JS as `stream.response`.
#[derive(Debug, Clone)]
pub struct ResponseMeta {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub request_id: Option<String>,
}

pub struct HttpClient {
    inner: reqwest::Client,
    config: ClientConfig,
}

/// Longest error body we read from a failed response; enough for any JSON error object.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

impl HttpClient {
    pub fn new(config: ClientConfig) -> Result<Self, String> {
        // reqwest is built with `rustls-no-provider`: install ring once (a host that already
        // installed a provider keeps its own).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let inner = reqwest::Client::builder()
            .build()
            .map_err(|e| format!("could not create the HTTP client: {e}"))?;
        Url::parse(&config.base_url).map_err(|e| format!("baseURL is not a valid URL: {e}"))?;
        Ok(HttpClient { inner, config })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// One debug log line on stderr. Request headers are never logged; `secrets` (the
    /// request's credentials) are scrubbed from the line in case a server echoed one.
    pub fn debug(&self, secrets: &Secrets, line: &str) {
        if self.config.debug {
            eprintln!("[streamdelta] {}", secrets.scrub(line));
        }
    }

    /// The credentials of a request made with `options`, to scrub from what it returns.
    pub fn secrets(&self, options: &RequestOptions) -> Secrets {
        Secrets::for_request(&self.config, options)
    }

    pub fn max_retries(&self, spec: &RequestSpec) -> u32 {
        spec.options.max_retries.unwrap_or(self.config.max_retries)
    }

    pub fn idle_timeout(&self, spec: &RequestSpec) -> Duration {
        Duration::from_millis(
            spec.options
                .idle_timeout_ms
                .unwrap_or(self.config.idle_timeout_ms),
        )
    }

    /// Builds the full URL for `path` (`/chat/completions`, ...), Azure layout included.
    pub fn url_for(
        &self,
        path: &str,
        model: Option<&str>,
        options: &RequestOptions,
    ) -> Result<Url, Box<Failure>> {
        let base = self.config.base_url.trim_end_matches('/');
        let mut full = match &self.config.azure {
            // Azure puts chat and completions under the deployment; responses is not.
            Some(azure) if path != "/responses" && !path.starts_with("/responses/") => {
                let deployment = azure.deployment.as_deref().or(model).unwrap_or_default();
                format!("{base}/openai/deployments/{deployment}{path}")
            }
            Some(_) => format!("{base}/openai{path}"),
            None => format!("{base}{path}"),
        };
        if full.contains('?') {
            full.push('&');
        } else {
            full.push('?');
        }
        let mut url = Url::parse(full.trim_end_matches(['?', '&'])).map_err(|e| {
            Box::new(Failure::new(
                FailureKind::Connection,
                format!("invalid request URL: {e}"),
            ))
        })?;
        {
            let mut pairs = url.query_pairs_mut();
            if let Some(azure) = &self.config.azure {
                pairs.append_pair("api-version", &azure.api_version);
            }
            // A per-request value replaces the client's value of the same name.
            let overridden = |k: &String| options.query.iter().any(|(name, _)| name == k);
            let client_query = self.config.query.iter().filter(|(k, _)| !overridden(k));
            for (k, v) in client_query.chain(options.query.iter()) {
                pairs.append_pair(k, v);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        Ok(url)
    }

    fn headers_for(&self, options: &RequestOptions) -> HeaderMap {
        let mut map = HeaderMap::new();
        let mut put = |name: &str, value: &str| {
            if let (Ok(n), Ok(mut v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                if n == "authorization" || n == "api-key" {
                    v.set_sensitive(true);
                }
                map.insert(n, v);
            }
        };
        put("accept", "text/event-stream");
        put("content-type", "application/json");
        put(
            "user-agent",
            concat!("streamdelta/", env!("CARGO_PKG_VERSION")),
        );
        let key = options
            .api_key
            .as_deref()
            .or(self.config.api_key.as_deref());
        if let Some(key) = key.filter(|k| !k.is_empty()) {
            if self.config.azure.is_some() {
                put("api-key", key);
            } else {
                put("authorization", &format!("Bearer {key}"));
            }
        }
        if let Some(org) = &self.config.organization {
            put("openai-organization", org);
        }
        if let Some(project) = &self.config.project {
            put("openai-project", project);
        }
        for (k, v) in self.config.headers.iter().chain(options.headers.iter()) {
            put(k, v);
        }
        map
    }

    /// Sends the request, retrying (before any body byte is handed on) on connection errors,
    /// 408, 409, 429 and 5xx. Returns a 2xx response whose body is an event stream.
    pub async fn open(
        &self,
        spec: &RequestSpec,
        model: Option<&str>,
    ) -> Result<Response, Box<Failure>> {
        let url = self.url_for(&spec.path, model, &spec.options)?;
        let headers = self.headers_for(&spec.options);
        let secrets = self.secrets(&spec.options);
        let timeout =
            Duration::from_millis(spec.options.timeout_ms.unwrap_or(self.config.timeout_ms));
        let max_retries = spec.options.max_retries.unwrap_or(self.config.max_retries);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let started = std::time::Instant::now();
            self.debug(
                &secrets,
                &format!("-> {} {url} (attempt {attempt})", spec.method),
            );
            let mut request = self
                .inner
                .request(spec.method.clone(), url.clone())
                .headers(headers.clone());
            if let Some(body) = &spec.body {
                request = request.body(body.clone());
            }
            let (failure, advice) = match tokio::time::timeout(timeout, request.send()).await {
                Err(_) => (
                    Failure::timeout("headers", timeout.as_millis() as u64),
                    None,
                ),
                Ok(Err(e)) => (connection_failure(&e), None),
                Ok(Ok(response)) => {
                    self.debug(
                        &secrets,
                        &format!(
                            "<- {} {} in {} ms",
                            response.status().as_u16(),
                            spec.path,
                            started.elapsed().as_millis()
                        ),
                    );
                    if response.status().is_success() {
                        return self.check_event_stream(response, &secrets).await;
                    }
                    let advice = ServerAdvice {
                        retry: should_retry(&response),
                        wait: retry_delay(response.headers(), attempt),
                    };
                    (self.api_failure(response).await, Some(advice))
                }
            };
            match after_attempt(failure, advice, attempt, max_retries) {
                AfterAttempt::GiveUp(failure) => {
                    return Err(Box::new(failure.redact(&secrets)));
                }
                AfterAttempt::Retry { wait, failure } => {
                    self.debug(
                        &secrets,
                        &format!("retrying in {} ms: {}", wait.as_millis(), failure.message),
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// A 2xx answer must carry an event stream; anything else is named in the error.
    async fn check_event_stream(
        &self,
        response: Response,
        secrets: &Secrets,
    ) -> Result<Response, Box<Failure>> {
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        // A missing content type is tolerated: some compatible servers omit it on SSE.
        if content_type.is_empty() || content_type.starts_with("text/event-stream") {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let request_id = request_id_of(response.headers());
        let headers = header_pairs(response.headers());
        let body = read_limited(response).await;
        // A JSON error object on a 200 is still the provider's error: keep its fields.
        if let Some(mut failure) = error_from_json(&body) {
            failure.status = Some(status);
            failure.request_id = request_id;
            failure.headers = Some(headers);
            return Err(Box::new(failure.redact(secrets)));
        }
        let mut failure = Failure::new(
            FailureKind::Parse,
            format!("expected an event stream (text/event-stream) but the server answered {status} with content-type '{content_type}'"),
        );
        failure.status = Some(status);
        failure.request_id = request_id;
        failure.line = Some(truncate_at_char(&body, 200).to_string());
        Err(Box::new(failure.redact(secrets)))
    }

    async fn api_failure(&self, response: Response) -> Failure {
        let status = response.status();
        let request_id = request_id_of(response.headers());
        let headers = header_pairs(response.headers());
        let retry_after_ms = retry_delay(response.headers(), 0).map(|d| d.as_millis() as u64);
        let body = read_limited(response).await;
        let mut failure = error_from_json(&body).unwrap_or_else(|| {
            let text = body.trim();
            let message = if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                truncate_at_char(text, 500).to_string()
            };
            Failure::new(FailureKind::Api, message)
        });
        failure.kind = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => FailureKind::Auth,
            StatusCode::TOO_MANY_REQUESTS => FailureKind::RateLimit,
            _ => FailureKind::Api,
        };
        failure.message = with_status(status.as_u16(), &failure.message);
        failure.status = Some(status.as_u16());
        failure.request_id = request_id;
        failure.headers = Some(headers);
        if failure.kind == FailureKind::RateLimit {
            failure.retry_after_ms = retry_after_ms;
        }
        failure
    }
}

/// `429 Rate limit reached`: the status in front of the provider's message, once: servers
/// that already start their text with it ("429 Too Many Requests") do not get it twice.
fn with_status(status: u16, message: &str) -> String {
    let code = status.to_string();
    match message.strip_prefix(code.as_str()) {
        Some(rest) if rest.is_empty() || rest.starts_with([' ', ':', '-']) => message.to_string(),
        _ => format!("{code} {message}"),
    }
}

/// A request that got no response: what happened, in words a person can act on; the
/// transport's own texts ("error sending request: client error (Connect): tcp connect
/// error: Connection refused (os error 111)") stay in `causes`.
fn connection_failure(error: &reqwest::Error) -> Failure {
    let (host, authority) = match error.url() {
        Some(url) => {
            let host = url.host_str().unwrap_or_default().to_string();
            let authority = match url.port_or_known_default() {
                Some(port) => format!("{host}:{port}"),
                None => host.clone(),
            };
            (host, authority)
        }
        None => ("the server".to_string(), "the server".to_string()),
    };
    let message = match transport_cause(error) {
        TransportCause::Refused => format!("could not connect to {authority}: connection refused"),
        TransportCause::Dns => format!("could not resolve the host '{host}' (DNS lookup failed)"),
        TransportCause::Certificate(detail) => {
            format!("the TLS certificate of {host} was not trusted ({detail})")
        }
        TransportCause::Tls(detail) => format!("the TLS handshake with {host} failed ({detail})"),
        TransportCause::Reset => {
            format!("the connection to {authority} was reset before a response arrived")
        }
        TransportCause::Closed => format!("{authority} closed the connection before answering"),
        TransportCause::TimedOut => format!("timed out connecting to {authority}"),
        TransportCause::Other => format!("could not get a response from {authority}"),
    };
    Failure::new(FailureKind::Connection, message).caused_by(error)
}

/// What, at the bottom of a transport error, went wrong.
enum TransportCause {
    Refused,
    Dns,
    Certificate(String),
    Tls(String),
    Reset,
    Closed,
    TimedOut,
    Other,
}

/// Reads the source chain of `error`: an io error's kind, a rustls error, or hyper's and
/// hyper-util's texts for the cases they give no type for.
fn transport_cause(error: &(dyn std::error::Error + 'static)) -> TransportCause {
    use std::io::ErrorKind;
    let mut next = Some(error);
    let mut texts = String::new();
    while let Some(cause) = next {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return match tls {
                rustls::Error::InvalidCertificate(why) => {
                    TransportCause::Certificate(format!("{why:?}"))
                }
                other => TransportCause::Tls(other.to_string()),
            };
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            match io.kind() {
                ErrorKind::ConnectionRefused => return TransportCause::Refused,
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                    return TransportCause::Reset
                }
                ErrorKind::TimedOut => return TransportCause::TimedOut,
                _ => {}
            }
        }
        texts.push_str(&cause.to_string().to_ascii_lowercase());
        texts.push('\n');
        next = cause.source();
    }
    if texts.contains("dns error") || texts.contains("failed to lookup address") {
        TransportCause::Dns
    } else if texts.contains("connection closed before message completed") {
        TransportCause::Closed
    } else if texts.contains("timed out") {
        TransportCause::TimedOut
    } else {
        TransportCause::Other
    }
}

/// What the server said about retrying a non-2xx answer.
struct ServerAdvice {
    /// `x-should-retry`, else whether the status is one worth retrying.
    retry: bool,
    /// The wait it asked for (`retry-after-ms`, `retry-after`).
    wait: Option<Duration>,
}

/// What a failed attempt leads to.
#[derive(Debug)]
enum AfterAttempt {
    /// Try again after `wait`; `failure` is why.
    Retry { wait: Duration, failure: Failure },
    /// Give up with this failure (`attempts` filled in).
    GiveUp(Failure),
}

/// After attempt number `attempt` failed: connection errors and timeouts are retried, non-2xx
/// answers when the server's advice says so, within `max_retries` retries. The wait is the
/// server's when it named one, else the backoff.
fn after_attempt(
    mut failure: Failure,
    advice: Option<ServerAdvice>,
    attempt: u32,
    max_retries: u32,
) -> AfterAttempt {
    let retryable = match (&failure.kind, &advice) {
        (_, Some(advice)) => advice.retry,
        (FailureKind::Connection | FailureKind::Timeout, None) => true,
        _ => false,
    };
    if !retryable || attempt > max_retries {
        failure.attempts = Some(attempt);
        if attempt > 1 {
            failure.message = format!("{} (after {attempt} attempts)", failure.message);
        }
        return AfterAttempt::GiveUp(failure);
    }
    let wait = advice
        .and_then(|advice| advice.wait)
        .unwrap_or_else(|| backoff(attempt));
    AfterAttempt::Retry { wait, failure }
}

fn should_retry(response: &Response) -> bool {
    match response
        .headers()
        .get("x-should-retry")
        .and_then(|v| v.to_str().ok())
    {
        Some("true") => return true,
        Some("false") => return false,
        _ => {}
    }
    let status = response.status().as_u16();
    matches!(status, 408 | 409 | 429) || status >= 500
}

/// The server's requested wait (`retry-after-ms`, then `retry-after` in seconds or as an HTTP
/// date), used only when it is between 0 and 60 s.
fn retry_delay(headers: &HeaderMap, _attempt: u32) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let ms = if let Some(ms) = get("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        Some(ms)
    } else {
        get("retry-after").and_then(|v| {
            let v = v.trim();
            v.parse::<f64>()
                .ok()
                .map(|s| s * 1000.0)
                .or_else(|| ms_until_http_date(v))
        })
    };
    ms.filter(|ms| (0.0..=60_000.0).contains(ms))
        .map(|ms| Duration::from_millis(ms as u64))
}

/// Milliseconds from now until an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form
/// HTTP dates take in `retry-after`; negative when it is past.
fn ms_until_http_date(text: &str) -> Option<f64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as i64
        + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, sec] = hms.as_slice() else {
        return None;
    };
    // Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let then_ms = ((days * 86_400 + h * 3600 + m * 60 + sec) * 1000) as f64;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_millis() as f64;
    Some(then_ms - now_ms)
}

/// Exponential backoff: min(0.5 * 2^(n-1), 8) s with up to 25 % jitter taken off.
fn backoff(attempt: u32) -> Duration {
    let base = (0.5 * 2f64.powi(attempt.saturating_sub(1) as i32)).min(8.0);
    let jitter = 1.0 - 0.25 * pseudo_random_unit();
    Duration::from_secs_f64(base * jitter)
}

/// A cheap jitter source; cryptographic quality is irrelevant for spreading retries.
fn pseudo_random_unit() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos % 1000) as f64 / 1000.0
}

fn request_id_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_string(), v.to_string()))
        })
        .collect()
}

pub fn response_meta(response: &Response) -> ResponseMeta {
    ResponseMeta {
        status: response.status().as_u16(),
        headers: header_pairs(response.headers()),
        request_id: request_id_of(response.headers()),
    }
}

async fn read_limited(mut response: Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= ERROR_BODY_LIMIT {
            body.truncate(ERROR_BODY_LIMIT);
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_prefixes_a_message_once() {
        assert_eq!(
            with_status(429, "Rate limit reached"),
            "429 Rate limit reached"
        );
        assert_eq!(
            with_status(429, "429 Too Many Requests"),
            "429 Too Many Requests"
        );
        assert_eq!(with_status(429, "429: slow down"), "429: slow down");
        assert_eq!(
            with_status(500, "5000 tokens is too many"),
            "500 5000 tokens is too many"
        );
    }

    #[test]
    fn http_dates_are_read_as_a_wait() {
        let past = ms_until_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let expected = 784_111_777_000.0
            - std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as f64;
        assert!((past - expected).abs() < 5_000.0, "{past} vs {expected}");
        assert_eq!(ms_until_http_date("soon"), None);
    }

    #[test]
    fn a_failed_attempt_is_retried_within_max_retries_or_given_up() {
        let connection = || Failure::new(FailureKind::Connection, "refused");
        match after_attempt(connection(), None, 1, 2) {
            AfterAttempt::Retry { wait, .. } => assert!(wait <= backoff(1) * 2),
            other => panic!("{other:?}"),
        }
        match after_attempt(connection(), None, 3, 2) {
            AfterAttempt::GiveUp(failure) => {
                assert_eq!(failure.attempts, Some(3));
                assert_eq!(failure.message, "refused (after 3 attempts)");
            }
            other => panic!("{other:?}"),
        }
        let advice = |retry, wait| Some(ServerAdvice { retry, wait });
        let api = || Failure::new(FailureKind::Api, "500 internal");
        let wait = Some(Duration::from_millis(10));
        match after_attempt(api(), advice(true, wait), 1, 1) {
            AfterAttempt::Retry { wait: w, failure } => {
                assert_eq!(Some(w), wait);
                assert_eq!(failure.message, "500 internal");
            }
            other => panic!("{other:?}"),
        }
        match after_attempt(api(), advice(false, wait), 1, 1) {
            AfterAttempt::GiveUp(failure) => {
                assert_eq!(failure.attempts, Some(1));
                assert_eq!(failure.message, "500 internal");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            after_attempt(Failure::new(FailureKind::Parse, "x"), None, 1, 5),
            AfterAttempt::GiveUp(_)
        ));
    }

    #[test]
    fn backoff_grows_and_is_capped_with_jitter() {
        for attempt in 1..10 {
            let base = (0.5 * 2f64.powi(attempt as i32 - 1)).min(8.0);
            let wait = backoff(attempt).as_secs_f64();
            assert!(
                wait <= base && wait >= base * 0.75,
                "attempt {attempt}: {wait}"
            );
        }
    }
}
