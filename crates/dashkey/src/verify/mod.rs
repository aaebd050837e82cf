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
//!
//! Coding Plan and Token Plan keys (both `sk-sp-`) work only on their plan's hosts, and only
//! they work there, so they are checked there instead ([`plan_endpoints`]): `GET
//! {host}/v1/models` on a Coding Plan host, `GET {host}/compatible-mode/v1/models` on a Token
//! Plan host. The host that accepts the key says which plan it belongs to. A 404 there is
//! "unexpected", never "rejected".
//!
//! The parts: `probe.rs` talks HTTP (concurrency, timeouts, proxies), `classify.rs` reads
//! the answers, `choice.rs` decides which region `set` writes from them ([`choose_region`]),
//! and this file holds what they share: the settings, one region's [`Probe`] and the
//! [`OnlineVerdict`] over all of them. Where the regions are is not verification's business:
//! [`crate::region::RegionEndpoint`] and `config.toml` ([`crate::region::config`]) say it.

use std::time::Duration;

use crate::platform::Platform;
use crate::region::{ApiShape, Plan, RegionEndpoint};

mod choice;
mod classify;
mod probe;

pub use choice::{RegionChoice, choose_region};
pub use classify::{Classification, ServiceAnswer, UnreachableKind};
pub use probe::{Prober, probe_all};

/// The hosts of the two subscription plans: the id dashkey gives each (also its
/// `[regions.ID]` in `config.toml`, which may point it elsewhere), its name, its host and its
/// plan. Coding Plan hosts serve the OpenAI-compatible API under `/v1`; Token Plan hosts under
/// `/compatible-mode/v1`, like a standard host.
pub const PLAN_HOSTS: [(&str, &str, &str, Plan); 4] = [
    ("coding", "Coding Plan (China)", "coding.dashscope.aliyuncs.com", Plan::Coding),
    (
        "coding-intl",
        "Coding Plan (international)",
        "coding-intl.dashscope.aliyuncs.com",
        Plan::Coding,
    ),
    ("token-plan", "Token Plan (China)", "token-plan.cn-beijing.maas.aliyuncs.com", Plan::Token),
    (
        "token-plan-intl",
        "Token Plan (international)",
        "token-plan.ap-southeast-1.maas.aliyuncs.com",
        Plan::Token,
    ),
];

/// Where an `sk-sp-` key is checked: each plan host, at the endpoint `configured` gives its
/// id (`config.toml`), else at its public host. Both plans' hosts are asked, because the
/// prefix does not say which plan the key belongs to; the host that accepts it does.
pub fn plan_endpoints(configured: &[RegionEndpoint]) -> Vec<RegionEndpoint> {
    PLAN_HOSTS
        .iter()
        .map(|(id, name, host, _)| {
            configured.iter().find(|target| target.region == *id).cloned().unwrap_or_else(|| {
                RegionEndpoint {
                    region: (*id).to_string(),
                    name: Some((*name).to_string()),
                    base: format!("https://{host}"),
                    origin: crate::region::EndpointOrigin::Builtin,
                    workspace: None,
                }
            })
        })
        .collect()
}

/// The plan whose host this is, by its id or by its host name (`None`: a standard host). The
/// standard check leaves plan hosts out: they refuse every standard key.
pub fn plan_of(target: &RegionEndpoint) -> Option<Plan> {
    plan_of_id(&target.region)
        .or_else(|| crate::region::Endpoint::parse(&target.base).ok()?.region.plan())
}

/// The plan of the plan host with this id (`coding-intl`, `token-plan`), `None` for any
/// other id: where a standard key's region is named, an `sk-sp-` key's plan host is.
pub fn plan_of_id(id: &str) -> Option<Plan> {
    PLAN_HOSTS.iter().find(|(host, ..)| *host == id).map(|(.., plan)| *plan)
}

/// True for a Coding Plan host: the check asks it at `/v1`.
pub fn is_coding(target: &RegionEndpoint) -> bool {
    plan_of(target) == Some(Plan::Coding)
}

/// The URL of the key check on this target.
fn check_url(target: &RegionEndpoint) -> String {
    if is_coding(target) {
        format!("{}/v1/models", target.base)
    } else {
        format!("{}/models", target.url(ApiShape::Compatible))
    }
}

/// Environment variable: the time allowed for one HTTP request, in milliseconds.
pub const TIMEOUT_VAR: &str = "DASHKEY_HTTP_TIMEOUT_MS";

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

/// How long the online check waits for the regions.
///
/// A key works in exactly one region, so once a region has accepted it the others can only
/// reject it: waiting for a stalled one (up to the whole timeout) changes no decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Every region's answer, each up to the timeout.
    All,
    /// Until a region accepts the key, then this long for the others; the regions still
    /// silent then are [`Classification::Pending`].
    Grace(Duration),
}

impl Wait {
    /// What `dashkey verify` allows the other regions after the first acceptance: enough
    /// for regions answering at about the same time to be heard, small beside a timeout.
    pub const VERIFY_GRACE: Duration = Duration::from_millis(400);
}

/// One region's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Where the key was sent.
    pub endpoint: RegionEndpoint,
    /// What came back.
    pub classification: Classification,
    /// The URL whose answer decided (the compatible one, or the native one after a 404).
    pub url: String,
    /// The API that decided.
    pub api: ApiShape,
    /// Time from the first request to the classification.
    pub elapsed: Duration,
}

/// The online check's conclusion about a key, over every region probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnlineVerdict {
    /// At least one region accepted the key.
    Accepted,
    /// No region accepted it, and at least one rejected it.
    Rejected,
    /// No region said anything about the key (unreachable, failing, or answering oddly).
    Unknown,
}

impl OnlineVerdict {
    /// Accepted somewhere beats everything; otherwise a rejection beats silence.
    pub fn of(probes: &[Probe]) -> OnlineVerdict {
        if probes.iter().any(|probe| probe.classification.is_accepted()) {
            OnlineVerdict::Accepted
        } else if probes.iter().any(|probe| probe.classification.is_rejected()) {
            OnlineVerdict::Rejected
        } else {
            OnlineVerdict::Unknown
        }
    }

    /// A stable identifier for scripts.
    pub fn id(self) -> &'static str {
        match self {
            OnlineVerdict::Accepted => "accepted",
            OnlineVerdict::Rejected => "rejected",
            OnlineVerdict::Unknown => "unknown",
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

#[cfg(test)]
mod tests;
