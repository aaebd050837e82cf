//! What an answer says about the key: the service's own error codes, read precisely.
//!
//! This is the part of verification that must never guess. A 401 with DashScope's
//! `InvalidApiKey` is a rejection; the same status without the code is a proxy or gateway
//! speaking, and is *unexpected*, not a verdict. The ways a key can be valid yet refused
//! (restricted, in arrears, throttled) are told apart by code, because each sends the user to
//! a different fix. A failure before any answer is *unreachable*, with dashkey's own words for
//! what failed (never a server's text), so that a good key is never called invalid because the
//! network was down.

use std::fmt;

use serde_json::Value;

use crate::region::{ApiShape, Endpoint};

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
    /// No answer yet: the check stopped waiting because another region had accepted the key
    /// ([`crate::verify::Wait::Grace`]). Says nothing about the key or the network.
    Pending,
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
            Classification::Pending => "pending",
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
            | Classification::Unexpected { .. }
            | Classification::Pending => None,
        }
    }

    /// The HTTP status that decided, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Classification::Accepted => Some(200),
            Classification::ServerError { status } => Some(*status),
            Classification::Unexpected { status, .. } => *status,
            Classification::Unreachable { .. } | Classification::Pending => None,
            other => other.answer().map(|answer| answer.status),
        }
    }
}

/// An HTTP answer, read with a bounded body.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) location: Option<String>,
    pub(super) body: Vec<u8>,
}

/// Reads an answer; `None` means "fall back to the native API" (a 404 from the compatible one).
pub(super) fn classify(answer: &Answer, api: ApiShape) -> Option<Classification> {
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
pub(super) fn classify_error(error: &ureq::Error, host: &str, via_proxy: bool) -> Classification {
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
