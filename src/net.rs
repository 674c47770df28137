//! Real networks: which CAs are trusted and which proxy a request goes through, set up once
//! when a client is made. reqwest does the work (the platform verifier with extra roots, env
//! proxies with curl's rules, CONNECT for https); this module feeds it the `ca` option,
//! `NODE_EXTRA_CA_CERTS` and the `proxy` option, and keeps what error messages need: the
//! proxy a URL goes through (named without its password) and the proxy credentials to scrub.

use std::collections::HashSet;
use std::sync::Mutex;

use hyper_util::client::proxy::matcher::Matcher;
use reqwest::{Certificate, ClientBuilder, Proxy, Url};

/// Which proxy the client uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ProxyConfig {
    /// `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY` (either case), as curl reads them.
    #[default]
    FromEnv,
    /// `proxy: false`: no proxy, whatever the environment says.
    Off,
    /// `proxy: 'http://user:pass@host:port'`: every request goes through it (the environment
    /// is ignored, `NO_PROXY` included).
    Url(String),
}

/// A proxy as error messages name it: `http://host:port` (never the credentials) and where it
/// was configured (`the proxy option`, `HTTPS_PROXY`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyName {
    pub url: String,
    pub origin: String,
    /// Whether credentials were given (a 407 then means they were refused).
    pub has_credentials: bool,
}

impl std::fmt::Display for ProxyName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the proxy {} (from {})", self.url, self.origin)
    }
}

/// The proxy decisions of one client, mirroring what reqwest was told.
pub struct Proxies {
    mode: Mode,
    /// Every proxy credential this client may send: scrubbed from what it returns.
    pub secrets: Vec<String>,
}

enum Mode {
    Off,
    Explicit(ProxyName),
    /// reqwest reads the environment itself (hyper-util's `Matcher::from_env`, the same rules
    /// curl uses); this is the same matcher, read at the same moment, to name the proxy.
    Env(Box<Matcher>),
}

impl Proxies {
    /// Configures `builder` for `config` and returns what the client needs to name proxies.
    pub fn apply(
        config: &ProxyConfig,
        builder: ClientBuilder,
    ) -> Result<(ClientBuilder, Proxies), String> {
        match config {
            ProxyConfig::Off => Ok((
                builder.no_proxy(),
                Proxies {
                    mode: Mode::Off,
                    secrets: Vec::new(),
                },
            )),
            ProxyConfig::Url(raw) => {
                let secrets = proxy_credentials(raw);
                let parsed = Url::parse(raw).map_err(|e| {
                    format!("proxy is not a valid URL: {e} ({})", without_userinfo(raw))
                })?;
                let proxy = Proxy::all(parsed.as_str())
                    .map_err(|e| format!("proxy {} was refused: {e}", without_userinfo(raw)))?;
                let name = ProxyName {
                    url: shown(&parsed),
                    origin: "the proxy option".into(),
                    has_credentials: !parsed.username().is_empty() || parsed.password().is_some(),
                };
                Ok((
                    builder.proxy(proxy),
                    Proxies {
                        mode: Mode::Explicit(name),
                        secrets,
                    },
                ))
            }
            ProxyConfig::FromEnv => {
                let mut secrets = Vec::new();
                for name in ENV_PROXY_VARS {
                    if let Ok(value) = std::env::var(name) {
                        secrets.extend(proxy_credentials(&value));
                    }
                }
                Ok((
                    builder,
                    Proxies {
                        mode: Mode::Env(Box::new(Matcher::from_env())),
                        secrets,
                    },
                ))
            }
        }
    }

    /// The proxy a request to `url` goes through, if any.
    pub fn for_url(&self, url: &Url) -> Option<ProxyName> {
        match &self.mode {
            Mode::Off => None,
            Mode::Explicit(name) => Some(name.clone()),
            Mode::Env(matcher) => {
                let uri: http::Uri = url.as_str().parse().ok()?;
                let intercept = matcher.intercept(&uri)?;
                let https = url.scheme() == "https";
                let origin = env_origin(https).unwrap_or("the environment");
                let has_credentials = intercept.basic_auth().is_some()
                    || intercept.raw_auth().is_some()
                    || env_value(origin).is_some_and(|v| userinfo(&v).is_some());
                let proxy_uri = intercept.uri();
                let url = format!(
                    "{}://{}",
                    proxy_uri.scheme_str().unwrap_or("http"),
                    proxy_uri.authority().map(|a| a.as_str()).unwrap_or("")
                );
                Some(ProxyName {
                    url,
                    origin: origin.to_string(),
                    has_credentials,
                })
            }
        }
    }
}

/// Every variable reqwest reads a proxy from.
const ENV_PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The variable a proxy for an http(s) URL came from, in hyper-util's order of preference.
fn env_origin(https: bool) -> Option<&'static str> {
    let names: &[&'static str] = if https {
        &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    names.iter().copied().find(|name| env_value(name).is_some())
}

/// `scheme://host:port` of a parsed proxy URL, without credentials.
fn shown(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// The `user:pass` of `scheme://user:pass@host:port/`, if there is one.
fn userinfo(raw: &str) -> Option<&str> {
    let rest = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority.rsplit_once('@').map(|(info, _)| info)
}

/// `raw` with any `user:pass@` cut out (for the rare message that must quote the text).
pub fn without_userinfo(raw: &str) -> String {
    match userinfo(raw) {
        Some(info) => raw.replacen(&format!("{info}@"), "", 1),
        None => raw.to_string(),
    }
}

/// What to scrub for a proxy URL: its `user:pass@` part, and the password as written and
/// percent-decoded.
pub fn proxy_credentials(raw: &str) -> Vec<String> {
    let Some(info) = userinfo(raw) else {
        return Vec::new();
    };
    let mut out = vec![format!("{info}@"), info.to_string()];
    if let Some((_, password)) = info.split_once(':') {
        out.push(password.to_string());
        let decoded = percent_decode(password);
        if decoded != password {
            out.push(decoded);
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(byte) = u8::from_str_radix(hex, 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The extra roots of a client: every certificate of the `ca` option (a bad one is an error
/// naming it) and of the file `NODE_EXTRA_CA_CERTS` names (read now; a file that cannot be
/// read or holds no certificate gets one warning line on stderr, as Node gives, and is skipped).
pub fn extra_roots(ca: &[String], extra_ca_file: Option<&str>) -> Result<Vec<Certificate>, String> {
    let mut roots = Vec::new();
    for (i, pem) in ca.iter().enumerate() {
        let name = if ca.len() == 1 {
            "ca".to_string()
        } else {
            format!("ca[{i}]")
        };
        let certs = Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| format!("{name} is not a valid PEM certificate: {e}"))?;
        if certs.is_empty() {
            return Err(format!(
                "{name} holds no certificate (expected '-----BEGIN CERTIFICATE-----' blocks)"
            ));
        }
        roots.extend(certs);
    }
    if let Some(path) = extra_ca_file.filter(|p| !p.is_empty()) {
        match read_pem_file(path) {
            Ok(certs) => roots.extend(certs),
            Err(why) => warn_once(
                path,
                &format!(
                    "Warning: Ignoring extra certs from `{path}` (NODE_EXTRA_CA_CERTS), load failed: {why}"
                ),
            ),
        }
    }
    Ok(roots)
}

fn read_pem_file(path: &str) -> Result<Vec<Certificate>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let certs = Certificate::from_pem_bundle(&bytes).map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate in the file".into());
    }
    Ok(certs)
}

/// One stderr line per distinct `key` in a process: many clients, one warning (as Node).
fn warn_once(key: &str, line: &str) {
    static WARNED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if warned
        .get_or_insert_with(HashSet::new)
        .insert(key.to_string())
    {
        eprintln!("[streamdelta] {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_credentials_are_the_userinfo_and_the_password() {
        assert_eq!(
            proxy_credentials("http://alice:s%40cret@proxy.local:3128/"),
            vec!["alice:s%40cret@", "alice:s%40cret", "s%40cret", "s@cret"]
        );
        assert!(proxy_credentials("http://proxy.local:3128").is_empty());
        assert_eq!(
            without_userinfo("http://alice:secret@proxy.local:3128"),
            "http://proxy.local:3128"
        );
    }

    #[test]
    fn an_explicit_proxy_is_named_without_its_password() {
        let config = ProxyConfig::Url("http://alice:secret@127.0.0.1:3128".into());
        let (_, proxies) = Proxies::apply(&config, reqwest::Client::builder()).unwrap();
        let name = proxies
            .for_url(&Url::parse("https://api.example.com/v1").unwrap())
            .unwrap();
        assert_eq!(
            name.to_string(),
            "the proxy http://127.0.0.1:3128 (from the proxy option)"
        );
        assert!(name.has_credentials);
        assert!(proxies.secrets.contains(&"secret".to_string()));
        let (_, off) = Proxies::apply(&ProxyConfig::Off, reqwest::Client::builder()).unwrap();
        assert!(off
            .for_url(&Url::parse("https://api.example.com").unwrap())
            .is_none());
    }

    #[test]
    fn a_ca_that_is_not_pem_is_refused_and_names_the_entry() {
        let err = extra_roots(&["hello".into()], None).unwrap_err();
        assert!(err.starts_with("ca holds no certificate"), "{err}");
        let roots = extra_roots(&[], Some("/nonexistent/streamdelta-ca.pem")).unwrap();
        assert!(roots.is_empty());
    }
}
