//! Why a client would not work, judged from its replay: the findings `doctor --client` names
//! and the verdict `status --client` prints come from this one list.

use std::fmt;

use super::locate::{is_dashscope, plan_host};
use super::{ClientResolution, KeyChain, KeySource, Style, UrlSource};
use crate::key::{KeyKind, ValueProblem};
use crate::platform::Platform;
use crate::region::{Plan, RegionEndpoint};
use crate::vars;

/// Why a client would not work.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "id", rename_all = "kebab-case")]
pub enum Problem {
    /// No key anywhere it looks.
    NoKey {
        /// The variables it reads.
        reads: Vec<&'static str>,
        /// A DashScope key is set under a name this client does not read.
        elsewhere: Option<&'static str>,
    },
    /// The key must be passed in code; the environment cannot give it.
    KeyInCode,
    /// Two variables hold different keys and the client sends both (the Anthropic SDK:
    /// `X-Api-Key` and `Authorization: Bearer`); which one the service takes is not the
    /// client's to say.
    TwoKeys {
        /// The variable taken as what it sends.
        sent: &'static str,
        /// The other one.
        also: &'static str,
    },
    /// An empty variable is taken as the key.
    EmptyKeySent {
        /// The variable.
        variable: &'static str,
    },
    /// The key has a problem (whitespace, quotes, placeholder…) the client does not fix.
    BadKey {
        /// The variable or file.
        source: String,
        /// The problem's id ([`ValueProblem::id`]).
        problem: &'static str,
        /// The problem, in words.
        detail: String,
        /// The openai client turns it into "Connection error.".
        connection_error: bool,
    },
    /// No base URL: the client needs one.
    NoUrl,
    /// The base URL cannot work at all (empty, or a region word the client does not know).
    BrokenUrl {
        /// Where it came from.
        source: String,
        /// The value that breaks it.
        value: String,
    },
    /// The URL is not DashScope (the client's own default service, e.g. api.openai.com).
    #[serde(rename = "not-dashscope")]
    NotDashScope {
        /// The URL.
        url: String,
    },
    /// The URL's path is another style than the client needs.
    WrongStyle {
        /// The style given.
        got: Option<Style>,
        /// The style the client needs.
        want: Style,
    },
    /// The URL calls another region than the key's.
    WrongRegion {
        /// The region called.
        calls: String,
        /// The key's region.
        key_region: String,
    },
    /// A Coding Plan key on a standard host.
    CodingKeyOnStandardHost,
    /// A standard key on a Coding Plan host.
    StandardKeyOnCodingHost,
    /// A Token Plan key (as `set` found it) on a standard host.
    TokenKeyOnStandardHost,
    /// A standard key on a Token Plan host.
    StandardKeyOnTokenHost,
    /// A plan key on its own plan's host of the other family (a China Token Plan key on the
    /// international Token Plan host, `coding` against `coding-intl`): refused like a wrong
    /// key, because each family has its own accounts.
    OtherPlanFamily {
        /// The plan host id that accepted the key when `set` checked it.
        key_host: String,
        /// The plan host id it is sent to.
        calls: String,
        /// The URL on the key's own host, in the style of the one it is sent to.
        right_url: String,
    },
    /// A key of one plan (as `set` found it) on the other plan's host.
    OtherPlanHost {
        /// The key's plan.
        key: Plan,
        /// The host's plan.
        host: Plan,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NoKey { reads, elsewhere } => {
                write!(f, "no key: it reads {}", reads.join(", "))?;
                match elsewhere {
                    Some(name) => write!(f, ", and the key is in {name}, which it does not read"),
                    None => Ok(()),
                }
            }
            Problem::KeyInCode => f.write_str(
                "the key must be passed in code (api_key=…); no variable gives it to this client",
            ),
            Problem::EmptyKeySent { variable } => {
                write!(f, "{variable} is set but empty, and an empty value counts as the key")
            }
            Problem::TwoKeys { sent, also } => write!(
                f,
                "{sent} and {also} hold different keys and it sends both; unset the one that \
                 is not the DashScope key"
            ),
            Problem::BadKey { source, detail, connection_error, .. } => {
                write!(f, "the key in {source}: {detail}")?;
                if *connection_error {
                    f.write_str(" (the openai client reports this as \"Connection error.\")")?;
                }
                Ok(())
            }
            Problem::NoUrl => f.write_str("no base URL: it needs one"),
            Problem::BrokenUrl { source, value } => {
                write!(f, "{source} is {value:?}, which gives no usable base URL")
            }
            Problem::NotDashScope { url } => write!(f, "it calls {url}, which is not DashScope"),
            Problem::WrongStyle { got, want } => match got {
                Some(got) => write!(f, "the base URL is {got}; this client needs {want}"),
                None => write!(f, "the base URL has an unknown path; this client needs {want}"),
            },
            Problem::WrongRegion { calls, key_region } => {
                write!(f, "it calls {calls}, but the key works in {key_region}")
            }
            Problem::CodingKeyOnStandardHost => f.write_str(
                "a Coding Plan key (sk-sp-) is sent to a standard host, which refuses it",
            ),
            Problem::TokenKeyOnStandardHost => f.write_str(
                "a Token Plan key (sk-sp-) is sent to a standard host, which refuses it",
            ),
            Problem::StandardKeyOnTokenHost => f.write_str(
                "a standard key is sent to a Token Plan host, which accepts only Token Plan keys",
            ),
            Problem::OtherPlanHost { key, host } => write!(
                f,
                "a {key} key is sent to a {host} host, which refuses it: it works only on \
                 {key} hosts"
            ),
            Problem::OtherPlanFamily { key_host, calls, .. } => write!(
                f,
                "the key was accepted on {}, but it is sent to {}, which refuses it: each \
                 plan host family has its own keys",
                plan_host_name(key_host),
                plan_host_name(calls)
            ),
            Problem::StandardKeyOnCodingHost => f.write_str(
                "a standard key is sent to a Coding Plan host, which accepts only sk-sp- keys",
            ),
        }
    }
}

/// A plan host's name with its id (`Token Plan (China) (token-plan)`).
fn plan_host_name(id: &str) -> String {
    let named = crate::verify::PLAN_HOSTS.iter().find(|(host, ..)| *host == id);
    named.map_or_else(|| id.to_string(), |(_, name, ..)| format!("{name} ({id})"))
}

pub(super) fn judge(
    resolution: &ClientResolution,
    platform: &Platform,
    endpoints: &[RegionEndpoint],
) -> Vec<Problem> {
    let client = resolution.client;
    let mut problems = Vec::new();
    match &resolution.key {
        None if client.key_chain == KeyChain::InCodeOnly => problems.push(Problem::KeyInCode),
        None => {
            let reads: Vec<&'static str> = client.key_vars.iter().map(|v| v.name).collect();
            let reads = if reads.is_empty() { vec![vars::API_KEY] } else { reads };
            let elsewhere = [vars::API_KEY, vars::OPENAI_API_KEY, "ALIBABA_API_KEY"]
                .into_iter()
                .find(|name| !reads.contains(name) && platform.var_non_empty(name).is_some());
            problems.push(Problem::NoKey { reads, elsewhere });
        }
        Some((key, source)) if key.is_empty() => {
            let variable = match source {
                KeySource::Variable(name) => name,
                KeySource::File(_) => vars::API_KEY,
            };
            problems.push(Problem::EmptyKeySent { variable });
        }
        Some((key, source)) => {
            if let Some(problem) = key.problems().into_iter().find(|p| *p != ValueProblem::Empty) {
                let connection_error = client.whitespace_is_connection_error
                    && problem == ValueProblem::SurroundingWhitespace;
                problems.push(Problem::BadKey {
                    source: match source {
                        KeySource::Variable(name) => (*name).to_string(),
                        KeySource::File(path) => platform.show_path(path),
                    },
                    problem: problem.id(),
                    detail: problem.to_string(),
                    connection_error,
                });
            }
        }
    }
    if client.style == Style::Anthropic
        && let [first, second] = client.key_vars
    {
        let value = |name| platform.var(name).map(str::trim).filter(|v| !v.is_empty());
        if let (Some(a), Some(b)) = (value(first.name), value(second.name))
            && a != b
        {
            problems.push(Problem::TwoKeys { sent: first.name, also: second.name });
        }
    }
    let base = &resolution.base;
    if let Some(value) = &base.broken {
        let source = match &base.source {
            UrlSource::Variable(name) => (*name).to_string(),
            UrlSource::Sdk(what) => what.clone(),
            UrlSource::Default => "the default".to_string(),
        };
        problems.push(Problem::BrokenUrl { source, value: value.clone() });
        return problems;
    }
    let Some(url) = &base.url else {
        problems.push(Problem::NoUrl);
        return problems;
    };
    let coding = base.plan == Some(Plan::Coding);
    let known = base.region.is_some() || base.plan.is_some();
    if !known && !is_dashscope(url) && base.source == UrlSource::Default {
        problems.push(Problem::NotDashScope { url: url.clone() });
        return problems;
    }
    let want = if coding { Style::Coding } else { client.style };
    let style_fits = base.style == Some(want)
        || (coding && client.style == Style::Anthropic && base.style == Some(Style::Anthropic));
    if !style_fits {
        problems.push(Problem::WrongStyle { got: base.style, want });
    }
    let key_kind = resolution.key.as_ref().map(|(key, _)| key.kind());
    // The plan of an sk-sp- key is known only from the host that accepted it (`set` records
    // it, an online check finds it): its id stands where a standard key's region would.
    let key_plan = resolution.key_region.as_deref().and_then(crate::verify::plan_of_id);
    match (key_kind, base.plan) {
        (Some(KeyKind::CodingPlan), None) if known => problems.push(match key_plan {
            Some(Plan::Token) => Problem::TokenKeyOnStandardHost,
            _ => Problem::CodingKeyOnStandardHost,
        }),
        (Some(KeyKind::CodingPlan), Some(host)) => {
            if let Some(key) = key_plan.filter(|key| *key != host) {
                problems.push(Problem::OtherPlanHost { key, host });
            } else if let (Some(key_host), Some(calls)) =
                (resolution.key_region.as_ref(), plan_host(url, endpoints))
                && key_plan.is_some()
                && *key_host != calls
            {
                let right = crate::verify::plan_endpoints(endpoints)
                    .into_iter()
                    .find(|target| target.region == *key_host);
                if let Some(right) = right {
                    let path = base.style.map_or("", Style::path);
                    let right_url = format!("{}{path}", right.base.trim_end_matches('/'));
                    problems.push(Problem::OtherPlanFamily {
                        key_host: key_host.clone(),
                        calls,
                        right_url,
                    });
                }
            }
        }
        (Some(_), Some(Plan::Coding)) => problems.push(Problem::StandardKeyOnCodingHost),
        (Some(_), Some(Plan::Token)) => problems.push(Problem::StandardKeyOnTokenHost),
        _ => {}
    }
    if let (Some(calls), Some(key)) = (&base.region, &resolution.key_region)
        && calls != key
        && base.plan.is_none()
        && key_plan.is_none()
    {
        problems.push(Problem::WrongRegion { calls: calls.clone(), key_region: key.clone() });
    }
    problems
}
