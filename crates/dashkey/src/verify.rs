//! The online check: does DashScope accept this key, and in which region?
//!
//! A key works in exactly one region, and every other region answers exactly as it would for a
//! wrong key (401 `InvalidApiKey`). So "is my key valid?" can only be answered by asking every
//! region, and [`Prober::probe_all`] asks them all at once, one thread each, so that the
//! slowest region sets the time rather than the sum of them.
//!
//! The check costs no tokens: `GET {compatible base}/models` with `Authorization: Bearer
//! <key>`, falling back to the native `GET {native base}/models?page_no=1&page_size=1` (what
//! the official `dashscope auth whoami` calls) when the compatible API answers 404.
//!
//! Each answer is classified precisely ([`Classification`]): the service's own error codes
//! decide between *rejected* and the several ways a key can be valid yet refused (restricted,
//! in arrears, throttled). A network failure is never "rejected": it is
//! [`Classification::Unreachable`], with the kind of failure, because telling a user that a
//! good key is invalid sends them to rotate it for nothing.
//!
//! The key goes only into the `Authorization` header, marked sensitive. It is never in a URL,
//! and redirects are not followed at all (a redirect is reported, naming the host it pointed
//! to), so the header can never be forwarded to another host. Plain `http` is accepted only
//! for loopback hosts; anything else is `https` with certificate verification, which cannot
//! be turned off. Proxies come from `ALL_PROXY` / `HTTPS_PROXY` / `HTTP_PROXY` and `NO_PROXY`
//! as the process environment sets them, except for loopback hosts, which are always reached
//! directly.

use std::fmt;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use ureq::http::{HeaderValue, Uri};
use zeroize::Zeroizing;

use crate::key::ApiKey;
use crate::platform::Platform;
use crate::region::{ApiShape, Endpoint, Region, UrlError};
use crate::resolve::{self, BaseUrls};

/// Environment variable: the time allowed for one HTTP request, in milliseconds.
pub const TIMEOUT_VAR: &str = "DASHKEY_HTTP_TIMEOUT_MS";

/// Largest answer body read; a model list is a few kilobytes.
const MAX_BODY: u64 = 1 << 20;

/// Timeouts of the online check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// Time allowed for one whole request: resolving, connecting, sending, and reading the
    /// answer. A region that falls back to the native API may use it twice.
    pub timeout: Duration,
    /// Time allowed for resolving the host and opening the connection (at most `timeout`).
    pub connect_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> HttpSettings {
        HttpSettings {
            timeout: HttpSettings::DEFAULT_TIMEOUT,
            connect_timeout: HttpSettings::DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

/// `DASHKEY_HTTP_TIMEOUT_MS` is not a usable number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{TIMEOUT_VAR} must be a whole number of milliseconds from 1 to {max}, not {value:?}",
    max = HttpSettings::MAX_TIMEOUT.as_millis()
)]
pub struct SettingsError {
    /// The value as set.
    pub value: String,
}

impl HttpSettings {
    /// Ten seconds: generous for a cross-continent TLS handshake on a poor link.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Five seconds to resolve and connect.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// The longest timeout accepted from the environment (ten minutes).
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

    /// Settings with this overall timeout; the connect timeout is the default or the overall
    /// one, whichever is shorter.
    pub fn with_timeout(timeout: Duration) -> HttpSettings {
        HttpSettings {
            timeout,
            connect_timeout: timeout.min(HttpSettings::DEFAULT_CONNECT_TIMEOUT),
        }
    }

    /// The defaults, with the overall timeout from [`TIMEOUT_VAR`] when it is set.
    ///
    /// # Errors
    ///
    /// [`SettingsError`] when the variable is set to anything but 1 to 600000.
    pub fn from_platform(platform: &Platform) -> Result<HttpSettings, SettingsError> {
        let Some(value) = platform.var(TIMEOUT_VAR) else {
            return Ok(HttpSettings::default());
        };
        let millis = value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|ms| *ms >= 1 && u128::from(*ms) <= HttpSettings::MAX_TIMEOUT.as_millis());
        match millis {
            Some(ms) => Ok(HttpSettings::with_timeout(Duration::from_millis(ms))),
            None => Err(SettingsError { value: value.to_string() }),
        }
    }
}

/// Where a region's endpoint came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetOrigin {
    /// dashkey's built-in region table.
    Builtin,
    /// `config.toml`.
    Config {
        /// The file.
        path: PathBuf,
        /// The file replaces the endpoint of a built-in region (rather than adding one).
        overrides_builtin: bool,
    },
    /// A URL given for one run (`dashkey verify --base-url`).
    BaseUrl,
}

/// One place to check a key: a region id and the root of its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Region id (`ap-southeast-1`), or `custom` for a bare base URL on an unknown host.
    pub region: String,
    /// Human name of the region, when it is a known one.
    pub name: Option<String>,
    /// `scheme://host[:port]` (plus a gateway's path prefix for a `--base-url`), no trailing
    /// slash; the API paths are appended to it.
    pub base: String,
    /// Where the endpoint came from.
    pub origin: TargetOrigin,
}

/// Why a URL cannot be used as an endpoint. Messages never repeat the URL's path or query,
/// where a pasted secret could hide.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Not a URL at all.
    #[error("{0}")]
    Url(#[from] UrlError),
    /// A scheme other than http(s).
    #[error("the scheme must be https (or http for a loopback host), not {scheme}")]
    Scheme {
        /// The scheme given.
        scheme: String,
    },
    /// Plain http to a host that is not loopback.
    #[error(
        "plain http would send the API key unencrypted to {host}; use https \
         (http is accepted only for loopback hosts such as 127.0.0.1)"
    )]
    PlainHttp {
        /// The host.
        host: String,
    },
    /// A path where only the host root is expected.
    #[error(
        "give only scheme://host[:port], without the path {path}: dashkey appends \
         /api/v1, /compatible-mode/v1 and /api-ws/v1/inference itself"
    )]
    Path {
        /// The path given.
        path: String,
    },
    /// A path that is not one of DashScope's API paths.
    #[error(
        "the path must end with /api/v1, /compatible-mode/v1 or /api-ws/v1/inference, \
         or be empty"
    )]
    UnknownPath,
    /// A user name or password in the URL.
    #[error("the URL must not contain a user name or password")]
    Credentials,
    /// A query or fragment.
    #[error("the URL must not contain a query (?…) or fragment (#…)")]
    Query,
    /// A port that is not a number from 1 to 65535.
    #[error("the port must be a number from 1 to 65535")]
    Port,
}

impl Target {
    /// A region from the built-in table, on its public host.
    pub fn builtin(region: &Region) -> Target {
        Target {
            region: region.id.to_string(),
            name: Some(region.name.to_string()),
            base: format!("https://{}", region.host),
            origin: TargetOrigin::Builtin,
        }
    }

    /// A region endpoint from `config.toml`: exactly `scheme://host[:port]` (a trailing `/`
    /// is tolerated).
    ///
    /// # Errors
    ///
    /// [`EndpointError`] for anything else, and for plain http to a non-loopback host.
    pub fn from_config(
        region: &str,
        name: Option<String>,
        endpoint: &str,
        origin: TargetOrigin,
    ) -> Result<Target, EndpointError> {
        let (root, path) = split_root(endpoint)?;
        if !path.is_empty() && path != "/" {
            return Err(EndpointError::Path { path: path.to_string() });
        }
        Ok(Target { region: region.to_string(), name, base: root, origin })
    }

    /// A one-off endpoint from a base URL as SDKs take them: a host root, or a URL ending in
    /// one of the API paths (`https://dashscope-intl.aliyuncs.com/api/v1`), possibly behind
    /// a gateway's prefix. The region is the one the host names, else `custom`.
    ///
    /// # Errors
    ///
    /// [`EndpointError`] for an unusable URL or plain http to a non-loopback host.
    pub fn from_base_url(url: &str) -> Result<Target, EndpointError> {
        let (root, path) = split_root(url)?;
        let path = path.trim_end_matches('/');
        let prefix = [ApiShape::Native, ApiShape::Compatible, ApiShape::WebSocket]
            .iter()
            .find_map(|shape| path.strip_suffix(shape.path()))
            .or(path.is_empty().then_some(""))
            .ok_or(EndpointError::UnknownPath)?;
        let endpoint = Endpoint::parse(&root)?;
        let known = endpoint.region.region_id().and_then(Region::find);
        Ok(Target {
            region: endpoint.region.region_id().unwrap_or("custom").to_string(),
            name: known.map(|region| region.name.to_string()),
            base: format!("{root}{prefix}"),
            origin: TargetOrigin::BaseUrl,
        })
    }

    /// The base URL of one of the three APIs on this endpoint (`ws`/`wss` for the WebSocket
    /// API).
    pub fn url(&self, shape: ApiShape) -> String {
        let base = match shape {
            ApiShape::WebSocket => match self.base.split_once("://") {
                Some(("http", rest)) => format!("ws://{rest}"),
                Some((_, rest)) => format!("wss://{rest}"),
                None => self.base.clone(),
            },
            ApiShape::Native | ApiShape::Compatible => self.base.clone(),
        };
        format!("{base}{}", shape.path())
    }

    /// The name to show: the region's human name, else its id.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.region)
    }

    /// True when the host is a loopback address (reached without any proxy).
    pub fn is_loopback(&self) -> bool {
        Endpoint::parse(&self.base).is_ok_and(|endpoint| endpoint.is_loopback())
    }
}

/// Splits `scheme://authority` (normalised, checked) from the rest of the URL.
fn split_root(url: &str) -> Result<(String, &str), EndpointError> {
    let endpoint = Endpoint::parse(url)?;
    let (_, rest) = url.split_once("://").ok_or(UrlError::NoScheme)?;
    let cut = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(cut);
    if authority.contains('@') {
        return Err(EndpointError::Credentials);
    }
    if path.contains(['?', '#']) {
        return Err(EndpointError::Query);
    }
    let port = if endpoint.host.starts_with('[') {
        authority.rsplit_once("]:").map(|(_, port)| port)
    } else {
        authority.split_once(':').map(|(_, port)| port)
    };
    if let Some(port) = port
        && port.parse::<u16>().map_or(true, |port| port == 0)
    {
        return Err(EndpointError::Port);
    }
    match endpoint.scheme.as_str() {
        "https" => {}
        "http" if endpoint.is_loopback() => {}
        "http" => return Err(EndpointError::PlainHttp { host: endpoint.host }),
        other => return Err(EndpointError::Scheme { scheme: other.to_string() }),
    }
    let port = port.map(|port| format!(":{port}")).unwrap_or_default();
    Ok((format!("{}://{}{port}", endpoint.scheme, endpoint.host), path))
}

/// The kind of network failure that kept an answer from arriving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnreachableKind {
    /// The host name did not resolve.
    Dns,
    /// The connection was refused, reset or closed before an answer.
    Connect,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// No answer in time.
    Timeout,
    /// The proxy could not be reached or refused the connection.
    Proxy,
}

impl UnreachableKind {
    /// A stable identifier for scripts (`timeout`).
    pub fn id(self) -> &'static str {
        match self {
            UnreachableKind::Dns => "dns",
            UnreachableKind::Connect => "connect",
            UnreachableKind::Tls => "tls",
            UnreachableKind::Timeout => "timeout",
            UnreachableKind::Proxy => "proxy",
        }
    }
}

impl fmt::Display for UnreachableKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnreachableKind::Dns => "name resolution failed",
            UnreachableKind::Connect => "connection failed",
            UnreachableKind::Tls => "TLS failed",
            UnreachableKind::Timeout => "timed out",
            UnreachableKind::Proxy => "proxy failed",
        })
    }
}

/// What the service said about the key, in its own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAnswer {
    /// HTTP status.
    pub status: u16,
    /// The error code (`InvalidApiKey`, `invalid_api_key`, `Arrearage`, …).
    pub code: String,
    /// The error message.
    pub message: String,
    /// The request id, for a support ticket.
    pub request_id: Option<String>,
}

/// The verdict of one region on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    /// The key works here (200 with a model list).
    Accepted,
    /// The service rejected the key (401 `InvalidApiKey` / `invalid_api_key`): wrong key, or
    /// a key of another region.
    Rejected(ServiceAnswer),
    /// The key is valid here but not allowed this call (403 `AccessDenied`).
    AcceptedRestricted(ServiceAnswer),
    /// The key is valid here but the account is overdue (400 `Arrearage`).
    AcceptedArrears(ServiceAnswer),
    /// The key is valid here but over its rate limit (429 `Throttling…`).
    AcceptedThrottled(ServiceAnswer),
    /// The service failed (5xx); it said nothing about the key.
    ServerError {
        /// HTTP status.
        status: u16,
    },
    /// No answer: the network failed before the service could say anything.
    Unreachable {
        /// What failed.
        kind: UnreachableKind,
        /// A sentence saying what happened.
        detail: String,
    },
    /// An answer that is not what DashScope sends (a redirect, garbage, an unknown error).
    Unexpected {
        /// HTTP status, when a status line arrived.
        status: Option<u16>,
        /// A sentence saying what was wrong with it.
        detail: String,
    },
}

impl Classification {
    /// A stable identifier for scripts (`accepted-throttled`).
    pub fn id(&self) -> &'static str {
        match self {
            Classification::Accepted => "accepted",
            Classification::Rejected(_) => "rejected",
            Classification::AcceptedRestricted(_) => "accepted-restricted",
            Classification::AcceptedArrears(_) => "accepted-arrears",
            Classification::AcceptedThrottled(_) => "accepted-throttled",
            Classification::ServerError { .. } => "server-error",
            Classification::Unreachable { .. } => "unreachable",
            Classification::Unexpected { .. } => "unexpected",
        }
    }

    /// True when the service recognised the key (even if it refused the call).
    pub fn is_accepted(&self) -> bool {
        matches!(
            self,
            Classification::Accepted
                | Classification::AcceptedRestricted(_)
                | Classification::AcceptedArrears(_)
                | Classification::AcceptedThrottled(_)
        )
    }

    /// True when the service said the key is not a key it knows.
    pub fn is_rejected(&self) -> bool {
        matches!(self, Classification::Rejected(_))
    }

    /// The service's own answer, for the classes that carry one.
    pub fn answer(&self) -> Option<&ServiceAnswer> {
        match self {
            Classification::Rejected(answer)
            | Classification::AcceptedRestricted(answer)
            | Classification::AcceptedArrears(answer)
            | Classification::AcceptedThrottled(answer) => Some(answer),
            Classification::Accepted
            | Classification::ServerError { .. }
            | Classification::Unreachable { .. }
            | Classification::Unexpected { .. } => None,
        }
    }

    /// The HTTP status that decided, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Classification::Accepted => Some(200),
            Classification::ServerError { status } => Some(*status),
            Classification::Unexpected { status, .. } => *status,
            Classification::Unreachable { .. } => None,
            other => other.answer().map(|answer| answer.status),
        }
    }
}

/// One region's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Where the key was sent.
    pub target: Target,
    /// What came back.
    pub classification: Classification,
    /// The URL whose answer decided (the compatible one, or the native one after a 404).
    pub url: String,
    /// The API that decided.
    pub api: ApiShape,
    /// Time from the first request to the classification.
    pub elapsed: Duration,
}

/// The conclusion over all regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// At least one region accepted the key.
    Accepted,
    /// No region accepted it, and at least one rejected it.
    Rejected,
    /// No region said anything about the key (unreachable, failing, or answering oddly).
    Unknown,
}

impl Verdict {
    /// Accepted somewhere beats everything; otherwise a rejection beats silence.
    pub fn of(probes: &[Probe]) -> Verdict {
        if probes.iter().any(|probe| probe.classification.is_accepted()) {
            Verdict::Accepted
        } else if probes.iter().any(|probe| probe.classification.is_rejected()) {
            Verdict::Rejected
        } else {
            Verdict::Unknown
        }
    }

    /// A stable identifier for scripts.
    pub fn id(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
            Verdict::Unknown => "unknown",
        }
    }
}

/// The key cannot be put into an HTTP header as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Empty.
    #[error("the key is empty")]
    EmptyKey,
    /// Spaces, control characters or non-ASCII: no HTTP client can send it unchanged.
    #[error(
        "the key contains spaces, line breaks or non-ASCII characters, which cannot be sent \
         in an HTTP header as they are; remove them first"
    )]
    UnsendableKey,
}

/// The region a configuration's native base URL points at: the target whose native URL it
/// is (so that an overridden endpoint counts as its region), else the region its host names.
pub fn configured_region(urls: &BaseUrls, targets: &[Target]) -> Option<String> {
    let configured = urls.http.url.trim_end_matches('/');
    targets
        .iter()
        .find(|target| target.url(ApiShape::Native) == configured)
        .map(|target| target.region.clone())
        .or_else(|| resolve::region_of(urls))
}

/// A blocking HTTPS client set up for the check. Build one and reuse it.
#[derive(Debug, Clone)]
pub struct Prober {
    direct: ureq::Agent,
    proxied: ureq::Agent,
    proxy: Option<ureq::Proxy>,
    settings: HttpSettings,
}

impl Prober {
    /// A client with these timeouts and the proxy the process environment names.
    pub fn new(settings: HttpSettings) -> Prober {
        let proxy = ureq::Proxy::try_from_env();
        let agent = |proxy: Option<ureq::Proxy>| {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .https_only(false)
                .timeout_global(Some(settings.timeout))
                .timeout_resolve(Some(settings.connect_timeout))
                .timeout_connect(Some(settings.connect_timeout))
                .user_agent(concat!("dashkey/", env!("CARGO_PKG_VERSION")))
                .accept("application/json")
                .proxy(proxy)
                .build()
                .new_agent()
        };
        Prober { direct: agent(None), proxied: agent(proxy.clone()), proxy, settings }
    }

    /// The timeouts in force.
    pub fn settings(&self) -> HttpSettings {
        self.settings
    }

    /// Checks the key in every target at once (one thread each); results in target order.
    ///
    /// # Errors
    ///
    /// [`VerifyError`] when the key cannot be sent as it is; nothing is sent then.
    pub fn probe_all(&self, key: &ApiKey, targets: &[Target]) -> Result<Vec<Probe>, VerifyError> {
        let header = authorization(key)?;
        Ok(thread::scope(|scope| {
            let running: Vec<_> = targets
                .iter()
                .map(|target| scope.spawn(|| self.probe_with(&header, target)))
                .collect();
            running
                .into_iter()
                .map(|handle| {
                    handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        }))
    }

    /// Checks the key in one target.
    ///
    /// # Errors
    ///
    /// [`VerifyError`] when the key cannot be sent as it is; nothing is sent then.
    pub fn probe(&self, key: &ApiKey, target: &Target) -> Result<Probe, VerifyError> {
        Ok(self.probe_with(&authorization(key)?, target))
    }

    fn probe_with(&self, header: &HeaderValue, target: &Target) -> Probe {
        let started = Instant::now();
        let compatible = format!("{}/models", target.url(ApiShape::Compatible));
        let first =
            self.get(header, target, &compatible).map(|a| classify(&a, ApiShape::Compatible));
        let (api, url, classification) = match first {
            Ok(Some(classification)) | Err(classification) => {
                (ApiShape::Compatible, compatible, classification)
            }
            // 404: not every gateway serves the compatible API; the native one decides.
            Ok(None) => {
                let native =
                    format!("{}/models?page_no=1&page_size=1", target.url(ApiShape::Native));
                let classification = match self.get(header, target, &native) {
                    Ok(answer) => classify(&answer, ApiShape::Native)
                        .expect("only the compatible API falls back"),
                    Err(classification) => classification,
                };
                (ApiShape::Native, native, classification)
            }
        };
        Probe { target: target.clone(), classification, url, api, elapsed: started.elapsed() }
    }

    /// One GET; the answer, or the classification of the failure.
    fn get(
        &self,
        header: &HeaderValue,
        target: &Target,
        url: &str,
    ) -> Result<Answer, Classification> {
        let via_proxy = !target.is_loopback()
            && self.proxy.as_ref().is_some_and(|proxy| {
                url.parse::<Uri>().map_or(true, |uri| !proxy.is_no_proxy(&uri))
            });
        let agent = if via_proxy { &self.proxied } else { &self.direct };
        let host = Endpoint::parse(url).map(|endpoint| endpoint.host).unwrap_or_default();
        let failure = |error: ureq::Error| classify_error(&error, &host, via_proxy);
        let mut response =
            agent.get(url).header("Authorization", header.clone()).call().map_err(failure)?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let body = if (300..400).contains(&status) {
            Vec::new()
        } else {
            response.body_mut().with_config().limit(MAX_BODY).read_to_vec().map_err(failure)?
        };
        Ok(Answer { status, location, body })
    }
}

/// Checks the key in every target at once with a fresh [`Prober`].
///
/// # Errors
///
/// [`VerifyError`] when the key cannot be sent as it is; nothing is sent then.
pub fn probe_all(
    key: &ApiKey,
    targets: &[Target],
    settings: HttpSettings,
) -> Result<Vec<Probe>, VerifyError> {
    Prober::new(settings).probe_all(key, targets)
}

/// `Bearer <key>`, marked sensitive so that no `Debug` of the request shows it.
fn authorization(key: &ApiKey) -> Result<HeaderValue, VerifyError> {
    let value = key.expose();
    if value.is_empty() {
        return Err(VerifyError::EmptyKey);
    }
    // Visible ASCII only: what every HTTP stack sends unchanged.
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(VerifyError::UnsendableKey);
    }
    let bearer = Zeroizing::new(format!("Bearer {value}"));
    let mut header = HeaderValue::from_str(&bearer).map_err(|_| VerifyError::UnsendableKey)?;
    header.set_sensitive(true);
    Ok(header)
}

struct Answer {
    status: u16,
    location: Option<String>,
    body: Vec<u8>,
}

/// Reads an answer; `None` means "fall back to the native API" (a 404 from the compatible one).
fn classify(answer: &Answer, api: ApiShape) -> Option<Classification> {
    let status = answer.status;
    let json: Option<Value> = serde_json::from_slice(&answer.body).ok();
    let service = json.as_ref().and_then(|json| service_answer(status, json));
    let code = service.as_ref().map(|answer| answer.code.as_str()).unwrap_or_default();
    let unexpected = |detail: &str| {
        Some(Classification::Unexpected { status: Some(status), detail: detail.to_string() })
    };
    match status {
        200..=299 => {
            let Some(json) = &json else {
                return unexpected("the answer is not JSON (cut off or garbled)");
            };
            let listed = match api {
                ApiShape::Compatible => json.get("data").is_some_and(Value::is_array),
                ApiShape::Native | ApiShape::WebSocket => {
                    json.get("output").is_some_and(Value::is_object)
                }
            };
            if listed {
                Some(Classification::Accepted)
            } else {
                unexpected("the answer is JSON but not a model list")
            }
        }
        300..=399 => {
            let to = match answer.location.as_deref() {
                Some(location) if location.contains("://") => Endpoint::parse(location)
                    .map_or_else(|_| "an unreadable address".to_string(), |e| e.host),
                Some(_) => "another path on the same host".to_string(),
                None => "nowhere (no Location header)".to_string(),
            };
            unexpected(&format!(
                "redirected to {to}; dashkey does not follow redirects, \
                 so the key is never sent anywhere else"
            ))
        }
        401 if matches!(code, "InvalidApiKey" | "invalid_api_key") => {
            service.map(Classification::Rejected)
        }
        401 => unexpected("401 without DashScope's error code (a proxy or gateway answering?)"),
        403 if code.to_ascii_lowercase().replace('_', "").contains("accessdenied") => {
            service.map(Classification::AcceptedRestricted)
        }
        400 if code == "Arrearage" => service.map(Classification::AcceptedArrears),
        429 if code.starts_with("Throttling") || code == "limit_requests" => {
            service.map(Classification::AcceptedThrottled)
        }
        404 if api == ApiShape::Compatible => None,
        404 => unexpected(
            "neither the OpenAI-compatible nor the native model list exists at this endpoint \
             (404): is it a DashScope host?",
        ),
        500..=599 => Some(Classification::ServerError { status }),
        _ => unexpected(&format!("HTTP {status} without an error code DashScope uses for keys")),
    }
}

/// The error code and message from either envelope: native `{"code","message"}` or
/// OpenAI-style `{"error":{"code","message","type"}}`.
fn service_answer(status: u16, json: &Value) -> Option<ServiceAnswer> {
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_string);
    let (code, message) = match json.get("error") {
        Some(error) if error.is_object() => (
            text(error.get("code")).or_else(|| text(error.get("type"))),
            text(error.get("message")),
        ),
        _ => (text(json.get("code")), text(json.get("message"))),
    };
    Some(ServiceAnswer {
        status,
        code: code?,
        message: message.unwrap_or_default(),
        request_id: text(json.get("request_id")),
    })
}

/// Names a transport failure. Details are dashkey's own words (never a server's text), so
/// that an answer-less failure can never be mistaken for a verdict on the key.
fn classify_error(error: &ureq::Error, host: &str, via_proxy: bool) -> Classification {
    let unreachable = |kind: UnreachableKind, detail: String| {
        let (kind, detail) = match kind {
            UnreachableKind::Dns | UnreachableKind::Connect if via_proxy => (
                UnreachableKind::Proxy,
                format!("the proxy set in ALL_PROXY/HTTPS_PROXY/HTTP_PROXY: {detail}"),
            ),
            _ => (kind, detail),
        };
        Classification::Unreachable { kind, detail }
    };
    match error {
        ureq::Error::Timeout(phase) => {
            let during = match phase {
                ureq::Timeout::Resolve => "resolving the host name",
                ureq::Timeout::Connect => "connecting",
                ureq::Timeout::SendRequest | ureq::Timeout::SendBody => "sending the request",
                ureq::Timeout::RecvBody => "reading the answer",
                _ => "waiting for the answer",
            };
            unreachable(UnreachableKind::Timeout, format!("timed out {during} ({host})"))
        }
        ureq::Error::HostNotFound => {
            unreachable(UnreachableKind::Dns, format!("the host name {host} does not resolve"))
        }
        ureq::Error::Io(io) => classify_io(io, host, &unreachable),
        ureq::Error::ConnectionFailed => {
            unreachable(UnreachableKind::Connect, format!("cannot connect to {host}"))
        }
        ureq::Error::Tls(_)
        | ureq::Error::Rustls(_)
        | ureq::Error::Pem(_)
        | ureq::Error::TlsRequired => {
            unreachable(UnreachableKind::Tls, format!("{} ({host})", tls_detail(error)))
        }
        ureq::Error::ConnectProxyFailed(_) | ureq::Error::InvalidProxyUrl => {
            Classification::Unreachable {
                kind: UnreachableKind::Proxy,
                detail: "the proxy set in ALL_PROXY/HTTPS_PROXY/HTTP_PROXY refused to connect \
                     or cannot be used"
                    .to_string(),
            }
        }
        ureq::Error::Protocol(_)
        | ureq::Error::LargeResponseHeader(..)
        | ureq::Error::BodyStalled => Classification::Unexpected {
            status: None,
            detail: format!("the answer from {host} is not well-formed HTTP"),
        },
        _ => Classification::Unexpected {
            status: None,
            detail: format!("the request to {host} failed in the HTTP client"),
        },
    }
}

fn classify_io(
    io: &std::io::Error,
    host: &str,
    unreachable: &dyn Fn(UnreachableKind, String) -> Classification,
) -> Classification {
    use std::io::ErrorKind;
    match io.kind() {
        ErrorKind::ConnectionRefused => unreachable(
            UnreachableKind::Connect,
            format!("connection refused by {host} (nothing listening?)"),
        ),
        ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe
        | ErrorKind::UnexpectedEof => unreachable(
            UnreachableKind::Connect,
            format!("{host} closed the connection before answering"),
        ),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => {
            unreachable(UnreachableKind::Timeout, format!("timed out talking to {host}"))
        }
        ErrorKind::NetworkUnreachable
        | ErrorKind::HostUnreachable
        | ErrorKind::AddrNotAvailable => {
            unreachable(UnreachableKind::Connect, format!("no network route to {host}"))
        }
        // The standard library reports a failed `getaddrinfo` as an uncategorised error whose
        // message is its own, stable wording.
        _ if io.to_string().contains("lookup address") => {
            unreachable(UnreachableKind::Dns, format!("the host name {host} does not resolve"))
        }
        kind => unreachable(
            UnreachableKind::Connect,
            format!("network error talking to {host} ({kind:?})"),
        ),
    }
}

/// A certificate problem in plain words, from rustls' error names.
fn tls_detail(error: &ureq::Error) -> &'static str {
    let debug = format!("{error:?}");
    if debug.contains("UnknownIssuer") {
        "the server's certificate is not signed by a trusted authority \
         (a TLS-intercepting proxy or firewall?)"
    } else if debug.contains("Expired") || debug.contains("NotValidYet") {
        "the server's certificate is out of its validity period (or the clock is wrong)"
    } else if debug.contains("NotValidForName") {
        "the server's certificate is for another host name"
    } else {
        "the TLS handshake failed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Os;
    use fake_dashscope::{FakeDashScope, Fault, KeyBehaviour, Running};

    const KEY: &str = "sk-3f9a1c0b7d2e4f6a8b0c1d2e3f4a5b6c";

    fn fast() -> Prober {
        Prober::new(HttpSettings::with_timeout(Duration::from_millis(500)))
    }

    fn target(server: &Running, region: &str) -> Target {
        Target::from_config(region, None, &server.url(), TargetOrigin::BaseUrl).unwrap()
    }

    fn check(server: &Running) -> Probe {
        fast().probe(&ApiKey::verbatim(KEY), &target(server, "x")).unwrap()
    }

    #[test]
    fn valid_rejected_and_each_valid_but_refused_state() {
        let server = FakeDashScope::builder()
            .valid_key(KEY)
            .key("sk-restricted", KeyBehaviour::Restricted)
            .key("sk-arrears", KeyBehaviour::Arrears)
            .key("sk-throttled", KeyBehaviour::Throttled)
            .start()
            .unwrap();
        let prober = fast();
        let target = target(&server, "x");
        let probe = |key: &str| prober.probe(&ApiKey::verbatim(key), &target).unwrap();
        let accepted = probe(KEY);
        assert_eq!(accepted.classification, Classification::Accepted);
        assert_eq!(accepted.api, ApiShape::Compatible);
        let rejected = probe("sk-unknown").classification;
        assert!(rejected.is_rejected(), "{rejected:?}");
        assert_eq!(rejected.answer().unwrap().code, "invalid_api_key");
        assert_eq!(probe("sk-restricted").classification.id(), "accepted-restricted");
        assert_eq!(probe("sk-arrears").classification.id(), "accepted-arrears");
        let throttled = probe("sk-throttled").classification;
        assert_eq!(throttled.id(), "accepted-throttled");
        assert!(throttled.is_accepted());
    }

    #[test]
    fn falls_back_to_the_native_list_when_the_compatible_one_is_missing() {
        let server =
            FakeDashScope::builder().valid_key(KEY).without_compatible_models().start().unwrap();
        let probe = check(&server);
        assert_eq!(probe.classification, Classification::Accepted);
        assert_eq!(probe.api, ApiShape::Native);
        assert!(probe.url.ends_with("/api/v1/models?page_no=1&page_size=1"), "{}", probe.url);
        let rejected = fast().probe(&ApiKey::verbatim("sk-other"), &target(&server, "x")).unwrap();
        assert_eq!(rejected.classification.answer().unwrap().code, "InvalidApiKey");
        assert_eq!(rejected.classification.answer().unwrap().message, "Invalid API-key provided.");
    }

    #[test]
    fn faults_are_classified_and_never_called_rejected() {
        let cases: [(Fault, &str, Option<UnreachableKind>); 6] = [
            (Fault::ServerError(503), "server-error", None),
            (Fault::MalformedJson, "unexpected", None),
            (Fault::Reset, "unreachable", Some(UnreachableKind::Connect)),
            (Fault::Stall, "unreachable", Some(UnreachableKind::Timeout)),
            (Fault::StallAfterHeaders, "unreachable", Some(UnreachableKind::Timeout)),
            (Fault::Redirect("https://elsewhere.example/x".into()), "unexpected", None),
        ];
        for (fault, id, kind) in cases {
            let server =
                FakeDashScope::builder().valid_key(KEY).fault(fault.clone()).start().unwrap();
            let classification = check(&server).classification;
            assert_eq!(classification.id(), id, "{fault:?}: {classification:?}");
            if let Some(kind) = kind {
                assert!(
                    matches!(classification, Classification::Unreachable { kind: k, .. } if k == kind),
                    "{fault:?}: {classification:?}"
                );
            }
            if let Fault::Redirect(_) = fault {
                let Classification::Unexpected { detail, .. } = &classification else { panic!() };
                assert!(detail.contains("elsewhere.example"), "{detail}");
                assert_eq!(server.requests().len(), 1, "the redirect must not be followed");
            }
        }
    }

    #[test]
    fn latency_within_the_timeout_is_fine() {
        let server = FakeDashScope::builder()
            .valid_key(KEY)
            .fault(Fault::Latency(Duration::from_millis(150)))
            .start()
            .unwrap();
        assert_eq!(check(&server).classification, Classification::Accepted);
    }

    #[test]
    fn a_closed_port_is_a_connection_failure() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let target = Target::from_config(
            "x",
            None,
            &format!("http://127.0.0.1:{port}"),
            TargetOrigin::BaseUrl,
        )
        .unwrap();
        let probe = fast().probe(&ApiKey::verbatim(KEY), &target).unwrap();
        assert!(
            matches!(
                probe.classification,
                Classification::Unreachable { kind: UnreachableKind::Connect, .. }
            ),
            "{:?}",
            probe.classification
        );
        assert_eq!(Verdict::of(&[probe]), Verdict::Unknown);
    }

    #[test]
    fn probes_all_regions_concurrently_and_in_order() {
        // Every region answers only after 3 s. If all four requests arrive while the probe
        // is still waiting, they were in flight at the same time: probing is concurrent.
        // (How long it takes is measured in scripts/bench-verify, not asserted here.)
        let latency = Fault::Latency(Duration::from_secs(3));
        let servers: Vec<Running> = (0..4)
            .map(|i| {
                let builder = FakeDashScope::builder().fault(latency.clone());
                if i == 2 { builder.valid_key(KEY) } else { builder }.start().unwrap()
            })
            .collect();
        let targets: Vec<Target> =
            servers.iter().enumerate().map(|(i, s)| target(s, &format!("r{i}"))).collect();
        let probing = std::thread::spawn(move || {
            Prober::new(HttpSettings::with_timeout(Duration::from_secs(30)))
                .probe_all(&ApiKey::verbatim(KEY), &targets)
                .unwrap()
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while servers.iter().any(|s| s.requests().is_empty()) {
            assert!(Instant::now() < deadline, "not every region was asked");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!probing.is_finished(), "all four requests were sent before any answer came back");
        let probes = probing.join().unwrap();
        let ids: Vec<&str> = probes.iter().map(|p| p.classification.id()).collect();
        assert_eq!(ids, ["rejected", "rejected", "accepted", "rejected"]);
        assert_eq!(probes[2].target.region, "r2");
        assert_eq!(Verdict::of(&probes), Verdict::Accepted);
    }

    #[test]
    fn the_key_travels_only_in_the_authorization_header() {
        let server = FakeDashScope::builder().without_compatible_models().start().unwrap();
        check(&server);
        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        for request in &requests {
            assert!(request.occurrences_outside_authorization(KEY).is_empty(), "{request:?}");
            assert_eq!(request.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
        }
    }

    #[test]
    fn keys_that_cannot_be_sent_are_refused_before_any_request() {
        let server = FakeDashScope::builder().start().unwrap();
        let target = target(&server, "x");
        for (value, error) in [
            ("", VerifyError::EmptyKey),
            (" sk-abc", VerifyError::UnsendableKey),
            ("sk-abc\r", VerifyError::UnsendableKey),
            ("sk-é", VerifyError::UnsendableKey),
        ] {
            assert_eq!(fast().probe(&ApiKey::verbatim(value), &target).unwrap_err(), error);
        }
        assert!(server.requests().is_empty());
    }

    #[test]
    fn base_urls_are_taken_apart_and_plain_http_stays_on_loopback() {
        let sg = Target::from_base_url("https://dashscope-intl.aliyuncs.com/api/v1/").unwrap();
        assert_eq!(sg.region, "ap-southeast-1");
        assert_eq!(sg.base, "https://dashscope-intl.aliyuncs.com");
        let gateway =
            Target::from_base_url("https://gw.example.com:8443/ds/compatible-mode/v1").unwrap();
        assert_eq!(gateway.region, "custom");
        assert_eq!(gateway.url(ApiShape::Native), "https://gw.example.com:8443/ds/api/v1");
        let local = Target::from_base_url("http://127.0.0.1:8080").unwrap();
        assert!(local.is_loopback());
        assert_eq!(
            Target::from_base_url("http://dashscope.aliyuncs.com/api/v1"),
            Err(EndpointError::PlainHttp { host: "dashscope.aliyuncs.com".into() })
        );
        assert_eq!(Target::from_base_url("https://h.example/v2"), Err(EndpointError::UnknownPath));
        assert_eq!(Target::from_base_url("https://u:p@h.example"), Err(EndpointError::Credentials));
        assert_eq!(Target::from_base_url("https://h.example/?k=v"), Err(EndpointError::Query));
        assert_eq!(Target::from_base_url("https://h.example:99999"), Err(EndpointError::Port));
    }

    #[test]
    fn timeout_comes_from_the_environment_and_bad_values_are_refused() {
        let platform = Platform::simulated(Os::Linux, [(TIMEOUT_VAR, "250")]);
        let settings = HttpSettings::from_platform(&platform).unwrap();
        assert_eq!(settings.timeout, Duration::from_millis(250));
        assert_eq!(settings.connect_timeout, Duration::from_millis(250));
        for bad in ["0", "-1", "1.5", "fast", "600001"] {
            let platform = Platform::simulated(Os::Linux, [(TIMEOUT_VAR, bad)]);
            assert!(HttpSettings::from_platform(&platform).is_err(), "{bad}");
        }
        let none = Platform::simulated(Os::Linux, [("HOME", "/h")]);
        assert_eq!(HttpSettings::from_platform(&none).unwrap(), HttpSettings::default());
    }

    #[test]
    fn configured_region_follows_overridden_endpoints() {
        let server = FakeDashScope::builder().start().unwrap();
        let targets = vec![target(&server, "ap-southeast-1")];
        let platform = Platform::simulated(
            Os::Linux,
            [(crate::vars::HTTP_BASE_URL, format!("{}/", server.native_url()))],
        );
        let urls = resolve::python(&platform).urls;
        assert_eq!(configured_region(&urls, &targets).as_deref(), Some("ap-southeast-1"));
        let default = resolve::python(&Platform::simulated(Os::Linux, [("HOME", "/h")])).urls;
        assert_eq!(configured_region(&default, &targets).as_deref(), Some("cn-beijing"));
    }
}
