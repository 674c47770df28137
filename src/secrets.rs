//! The credentials one request carries, and the one way they are kept out of every text that
//! leaves the engine (errors, response headers handed to JS, debug lines). A server or proxy
//! may echo a key back ("Incorrect API key provided: sk-..."); whichever way a key came in
//! (the client's `apiKey`, a request's `apiKey`, or an `authorization` / `api-key` header
//! passed by hand), it never reaches the caller.

use std::borrow::Cow;

use crate::http::{ClientConfig, RequestOptions};

/// Header names whose values are credentials.
const CREDENTIAL_HEADERS: [&str; 4] = [
    "authorization",
    "api-key",
    "proxy-authorization",
    "x-api-key",
];

/// What replaces a credential in a text.
pub const REDACTED: &str = "[redacted]";

/// Shorter values are not scrubbed: replacing every "a" in an error would help nobody.
const SHORTEST_SECRET: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    /// The client's key, the request's key, and the credential headers of both.
    pub fn for_request(config: &ClientConfig, options: &RequestOptions) -> Self {
        let mut secrets = Secrets::default();
        secrets.add(config.api_key.as_deref());
        secrets.add(options.api_key.as_deref());
        for (name, value) in config.headers.iter().chain(options.headers.iter()) {
            if CREDENTIAL_HEADERS
                .iter()
                .any(|c| name.eq_ignore_ascii_case(c))
            {
                secrets.add(Some(value));
                // `Bearer sk-...`: the token alone is as secret as the whole value.
                if let Some((_scheme, token)) = value.trim().split_once(' ') {
                    secrets.add(Some(token));
                }
            }
        }
        // The longest first, so that a key inside a longer header value goes with it.
        secrets.0.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets
    }

    /// These too (the client's proxy credentials: its `user:pass@` and password), longest first.
    pub fn with(mut self, extra: &[String]) -> Self {
        for value in extra {
            self.add(Some(value));
        }
        self.0.sort_by_key(|s| std::cmp::Reverse(s.len()));
        self
    }

    /// Exactly these values (what a decoder outside an HTTP request is given).
    pub fn of<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut secrets = Secrets::default();
        for value in values {
            secrets.add(Some(value));
        }
        secrets
    }

    fn add(&mut self, secret: Option<&str>) {
        if let Some(secret) = secret.map(str::trim).filter(|s| s.len() >= SHORTEST_SECRET) {
            if !self.0.iter().any(|known| known == secret) {
                self.0.push(secret.to_owned());
            }
        }
    }

    /// `text` with every credential replaced by `[redacted]`.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.0 {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        out
    }

    /// The same, in place.
    pub fn scrub_in_place(&self, text: &mut String) {
        if let Cow::Owned(clean) = self.scrub(text) {
            *text = clean;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(api_key: Option<&str>, headers: &[(&str, &str)]) -> ClientConfig {
        ClientConfig {
            api_key: api_key.map(str::to_owned),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..ClientConfig::for_tests("http://127.0.0.1:1/v1")
        }
    }

    #[test]
    fn every_way_a_key_comes_in_is_scrubbed() {
        let options = RequestOptions {
            api_key: Some("sk-request-key".into()),
            headers: vec![("Authorization".into(), "Bearer sk-header-token".into())],
            ..RequestOptions::default()
        };
        let secrets = Secrets::for_request(
            &config(Some("sk-client-key"), &[("api-key", "azure-key-1234")]),
            &options,
        );
        let text =
            "sk-client-key sk-request-key Bearer sk-header-token sk-header-token azure-key-1234";
        assert_eq!(
            secrets.scrub(text),
            "[redacted] [redacted] [redacted] [redacted] [redacted]"
        );
    }

    #[test]
    fn proxy_credentials_are_scrubbed() {
        let proxy = crate::net::proxy_credentials("http://alice:hunter22@127.0.0.1:3128");
        let secrets =
            Secrets::for_request(&config(None, &[]), &RequestOptions::default()).with(&proxy);
        assert_eq!(
            secrets.scrub("via http://alice:hunter22@127.0.0.1:3128, password hunter22"),
            "via http://[redacted]127.0.0.1:3128, password [redacted]"
        );
    }

    #[test]
    fn other_headers_and_short_values_are_kept() {
        let secrets = Secrets::for_request(
            &config(Some("abc"), &[("x-team", "payments-team")]),
            &RequestOptions::default(),
        );
        assert_eq!(secrets.scrub("abc payments-team"), "abc payments-team");
        assert!(matches!(secrets.scrub("nothing"), Cow::Borrowed(_)));
    }
}
