//! The clients DashScope users actually run, beside the official SDKs: where each takes the
//! key and the base URL, and what it would do with this environment.
//!
//! Most "Invalid API-key" reports come from clients other than the SDKs, because each reads
//! its own variable names, wants its own URL style (native `/api/v1`, OpenAI-compatible
//! `/compatible-mode/v1`, Anthropic `/apps/anthropic`) and defaults to its own region (some
//! Beijing, some Singapore, one changed between versions). The facts are one table,
//! [`CATALOGUE`], transcribed from each client's code (the version read is named per row);
//! [`resolve`] replays one row against a [`Platform`] candidate by candidate, like
//! [`crate::resolve`] does for the SDKs, and ends in a verdict a user can act on. `status`,
//! `doctor`, `set` and the README table all read the same rows: there is no second copy.

use std::fmt;

use crate::key::{ApiKey, KeyKind, ValueProblem};
use crate::platform::Platform;
use crate::region::{ApiShape, Endpoint, HostRegion, Plan, Region, RegionEndpoint};
use crate::resolve::{self, CandidateVerdict, ClientUrl, Lookup, Skip};
use crate::vars;

pub mod claude_code;
mod conflicts;
mod findings;
pub mod qwen_code;
mod table;

pub use conflicts::{Conflict, Place, conflicts};
pub use findings::{findings, id, with_stored};
pub use table::CATALOGUE;

/// LiteLLM's and langchain-qwq's base URL variable (compatible-mode form), which `set` writes.
pub const API_BASE: &str = vars::API_BASE;

/// The URL style a client builds its requests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Style {
    /// `https://<host>/api/v1`: the DashScope SDKs and what is built on them.
    Native,
    /// `https://<host>/compatible-mode/v1`: OpenAI-style clients.
    Compatible,
    /// `https://<host>/apps/anthropic`: Anthropic-style clients.
    Anthropic,
    /// `https://<host>` without a path: Spring AI Alibaba appends the path itself.
    HostRoot,
    /// A Coding Plan host's `/v1`.
    Coding,
}

impl Style {
    /// The path this style puts under a host (empty for a host root).
    pub fn path(self) -> &'static str {
        match self {
            Style::Native => ApiShape::Native.path(),
            Style::Compatible => ApiShape::Compatible.path(),
            Style::Anthropic => "/apps/anthropic",
            Style::HostRoot => "",
            Style::Coding => "/v1",
        }
    }

    /// A stable identifier (`--json`, the README).
    pub fn id(self) -> &'static str {
        match self {
            Style::Native => "native",
            Style::Compatible => "compatible",
            Style::Anthropic => "anthropic",
            Style::HostRoot => "host-root",
            Style::Coding => "coding",
        }
    }

    /// This style's URL on a region's endpoint.
    pub fn url_on(self, endpoint: &RegionEndpoint) -> String {
        format!("{}{}", endpoint.base, self.path())
    }
}

impl fmt::Display for Style {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Style::Native => "native (/api/v1)",
            Style::Compatible => "OpenAI-compatible (/compatible-mode/v1)",
            Style::Anthropic => "Anthropic (/apps/anthropic)",
            Style::HostRoot => "host root (no path)",
            Style::Coding => "Coding Plan (/v1)",
        })
    }
}

/// What a client does with a key variable that is set but empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Empty {
    /// Takes `""` as the key and sends it (or a bare `Bearer `): every request is refused,
    /// and later candidates are never looked at.
    CountsAsSet,
    /// Treats `""` as unset and moves on to the next candidate.
    Skipped,
}

/// One variable a client reads the key from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct KeyVar {
    /// The variable.
    pub name: &'static str,
    /// What an empty value does.
    pub empty: Empty,
    /// The client trims surrounding whitespace off the value.
    pub trimmed: bool,
    /// Read only when this other variable is set (langchain-qwq falls back to
    /// `OPENAI_API_KEY` only with a custom `DASHSCOPE_API_BASE`).
    pub only_with: Option<&'static str>,
}

/// Where the key comes from after (or instead of) the variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyChain {
    /// Only the variables.
    Variables,
    /// The variables, then the Python SDK 1.x chain (`DASHSCOPE_API_KEY_FILE_PATH`, then
    /// `~/.dashscope/api_key`).
    ThenSdkFiles,
    /// The Python SDK 1.x chain itself (variable read at import, then the key files).
    Sdk1x,
    /// The Python SDK 2.0 `Client()` (an empty variable counts as unset, then the 1.x files).
    Sdk2,
    /// Nothing from the environment: the key must be passed in code.
    InCodeOnly,
}

/// What a client does with a base URL variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UrlRule {
    /// Used as it is, empty included (an empty URL breaks every request).
    Verbatim,
    /// Trimmed; empty means unset.
    NonEmpty,
    /// LiteLLM: a native, Anthropic or bare standard DashScope host is rewritten to
    /// `/compatible-mode/v1` (the Hong Kong host excepted); empty is unset; anything else is
    /// used as it is.
    LiteLlmRewrite,
    /// `@langchain/community`: a region word (`china`, `singapore`, `us`) picks a native URL;
    /// any other value, `""` included, builds a broken URL.
    AlibabaRegion,
}

/// One variable a client reads its base URL (or region) from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct UrlVar {
    /// The variable.
    pub name: &'static str,
    /// How the value is taken.
    pub rule: UrlRule,
}

/// How the client's base URL is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UrlChain {
    /// These variables in order, then the default.
    Variables,
    /// The Python SDK 1.x surface's `DASHSCOPE_HTTP_BASE_URL` (after the client's own
    /// variables, if any).
    Sdk1x,
    /// The Python SDK 2.0 `Client()`'s resolution.
    Sdk2,
    /// No variable: only an option in code (the default otherwise).
    InCodeOnly,
}

/// One row of the catalogue.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Client {
    /// Short id (`litellm`), as `--client` takes it.
    pub id: &'static str,
    /// What it is, with the package and the version its facts were read from.
    pub name: &'static str,
    /// The variables the key is read from, in order.
    pub key_vars: &'static [KeyVar],
    /// What comes after (or instead of) the variables.
    pub key_chain: KeyChain,
    /// The variables the base URL is read from, in order.
    pub url_vars: &'static [UrlVar],
    /// Where the URL comes from after the variables.
    pub url_chain: UrlChain,
    /// The URL style the client's requests need.
    pub style: Style,
    /// The URL used when nothing is set (`None`: none, the client needs one).
    pub default_url: Option<&'static str>,
    /// A key with whitespace around it fails as "Connection error." (the openai Python
    /// client puts it in a header verbatim, which the HTTP library refuses before sending).
    pub whitespace_is_connection_error: bool,
    /// The variables `dashkey set --client ID` writes for this client, beyond the defaults.
    pub set_vars: &'static [&'static str],
    /// One line on why, or what dashkey cannot do for it.
    pub note: &'static str,
}

impl Client {
    /// The row with this id.
    pub fn find(id: &str) -> Option<&'static Client> {
        CATALOGUE.iter().find(|client| client.id == id)
    }

    /// Every id, in catalogue order.
    pub fn ids() -> impl Iterator<Item = &'static str> {
        CATALOGUE.iter().map(|client| client.id)
    }
}

/// Where a client's key came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", content = "name", rename_all = "kebab-case")]
pub enum KeySource {
    /// An environment variable.
    Variable(&'static str),
    /// A key file of the Python SDK chain.
    File(std::path::PathBuf),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Variable(name) => f.write_str(name),
            KeySource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// One place a client looked for its key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyCandidate {
    /// Where it looked.
    pub source: KeySource,
    /// What it concluded (the same vocabulary as the SDK replays).
    #[serde(flatten)]
    pub verdict: CandidateVerdict,
}

/// Where a client's base URL came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", content = "name", rename_all = "kebab-case")]
pub enum UrlSource {
    /// An environment variable (possibly rewritten by the client, see [`UrlRule`]).
    Variable(&'static str),
    /// The Python SDK's resolution (its own variables or `config.toml`).
    Sdk(String),
    /// The client's built-in default.
    Default,
}

/// The base URL a client would call, located.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClientBase {
    /// The URL as the client would use it (`None`: it has none and fails first).
    pub url: Option<String>,
    /// Where it came from.
    pub source: UrlSource,
    /// The region it calls (`None`: a host that names none).
    pub region: Option<String>,
    /// The style its path has (`None`: no known path).
    pub style: Option<Style>,
    /// It is a Coding Plan or Token Plan host (`None`: a standard host, or none known).
    pub plan: Option<Plan>,
    /// What makes it unusable (an empty or unparsable URL, a region word the client does not
    /// know, an SDK error), when something does.
    pub broken: Option<String>,
}

impl ClientBase {
    fn none(source: UrlSource) -> ClientBase {
        ClientBase { url: None, source, region: None, style: None, plan: None, broken: None }
    }
}

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
            Problem::StandardKeyOnCodingHost => f.write_str(
                "a standard key is sent to a Coding Plan host, which accepts only sk-sp- keys",
            ),
        }
    }
}

/// What one client would do in a process with this environment.
#[derive(Debug, Clone)]
pub struct ClientResolution {
    /// The row.
    pub client: &'static Client,
    /// Every key candidate in order, including those never reached.
    pub candidates: Vec<KeyCandidate>,
    /// The key it would send, and where from.
    pub key: Option<(ApiKey, KeySource)>,
    /// The base URL it would call.
    pub base: ClientBase,
    /// The region the key works in, when known (given by the caller).
    pub key_region: Option<String>,
    /// Everything that stops it, in the order a user should fix them.
    pub problems: Vec<Problem>,
    /// Qwen Code's values from its `.env` files and `settings.json` (other clients: none).
    pub files: Option<qwen_code::Files>,
}

impl ClientResolution {
    /// True when nothing stops it (as far as dashkey can tell offline).
    pub fn works(&self) -> bool {
        self.problems.is_empty()
    }

    /// The style of the base URL is the one the client needs (`None`: no URL).
    pub fn style_ok(&self) -> Option<bool> {
        self.base.url.as_ref()?;
        Some(self.base.style == Some(self.client.style))
    }

    /// The URL calls the key's region (`None`: either is unknown).
    pub fn region_ok(&self) -> Option<bool> {
        let key = self.key_region.as_deref()?;
        Some(self.base.region.as_deref()? == key)
    }
}

/// Replays one client against this platform. `endpoints` are every region endpoint (built in
/// and from `config.toml`), so a gateway configured as a region counts as that region;
/// `key_region` is where the key works, when known (stored by `set` or found online).
pub fn resolve(
    client: &'static Client,
    platform: &Platform,
    endpoints: &[RegionEndpoint],
    key_region: Option<&str>,
) -> ClientResolution {
    // Qwen Code fills its environment from its own files before it reads a variable.
    let layered = (client.id == qwen_code::ID).then(|| qwen_code::layer(platform));
    let platform = layered.as_ref().map_or(platform, |l| &l.platform);
    let (candidates, key) = resolve_key(client, platform);
    let base = resolve_url(client, platform, endpoints);
    let mut resolution = ClientResolution {
        client,
        candidates,
        key,
        base,
        key_region: key_region.map(str::to_string),
        problems: Vec::new(),
        files: layered.as_ref().map(|l| l.files.clone()),
    };
    resolution.problems = judge(&resolution, platform);
    resolution
}

/// Replays every client.
pub fn resolve_all(
    platform: &Platform,
    endpoints: &[RegionEndpoint],
    key_region: Option<&str>,
) -> Vec<ClientResolution> {
    CATALOGUE.iter().map(|client| resolve(client, platform, endpoints, key_region)).collect()
}

type KeyResult = (Vec<KeyCandidate>, Option<(ApiKey, KeySource)>);

fn resolve_key(client: &Client, platform: &Platform) -> KeyResult {
    let mut candidates = Vec::new();
    let mut found: Option<(ApiKey, KeySource)> = None;
    let mut push = |source: KeySource, verdict: CandidateVerdict, found_now: bool| {
        candidates.push(KeyCandidate { source, verdict });
        found_now
    };
    match client.key_chain {
        KeyChain::Sdk1x => return from_sdk(resolve::python(platform), None),
        KeyChain::Sdk2 => {
            // `Client()`: an empty variable counts as unset, then the 1.x files.
            let python = resolve::python(platform);
            let empty = platform.var(vars::API_KEY) == Some("");
            return from_sdk(python, empty.then_some(platform));
        }
        KeyChain::InCodeOnly => return (candidates, None),
        KeyChain::Variables | KeyChain::ThenSdkFiles => {}
    }
    for var in client.key_vars {
        let source = KeySource::Variable(var.name);
        if found.is_some() {
            push(source, CandidateVerdict::NotReached, false);
            continue;
        }
        if let Some(other) = var.only_with
            && platform.var(other).is_none()
        {
            push(source, CandidateVerdict::Skipped(Skip::Unset), false);
            continue;
        }
        let Some(raw) = platform.var(var.name) else {
            push(source, CandidateVerdict::Skipped(Skip::Unset), false);
            continue;
        };
        let value = if var.trimmed { raw.trim() } else { raw };
        if value.is_empty() && var.empty == Empty::Skipped {
            push(source, CandidateVerdict::Skipped(Skip::Empty), false);
            continue;
        }
        push(source.clone(), CandidateVerdict::Chosen, true);
        found = Some((ApiKey::verbatim(value), source));
    }
    if client.key_chain == KeyChain::ThenSdkFiles {
        // The SDK's chain after its variable: the variable itself was judged above.
        let python = resolve::python(&without(platform, vars::API_KEY));
        let (files, from_files) = from_sdk(python, None);
        for candidate in
            files.into_iter().filter(|c| c.source != KeySource::Variable(vars::API_KEY))
        {
            if found.is_some() {
                candidates
                    .push(KeyCandidate { verdict: CandidateVerdict::NotReached, ..candidate });
            } else {
                candidates.push(candidate);
            }
        }
        if found.is_none() {
            found = from_files;
        }
    }
    (candidates, found)
}

/// The SDK replay's candidates in this module's vocabulary. `empty_unset`: the 2.0 surface,
/// where an empty variable is skipped (the replay is redone without it).
fn from_sdk(python: resolve::Resolution, empty_unset: Option<&Platform>) -> KeyResult {
    let python = match empty_unset {
        Some(platform) => {
            let again = resolve::python(&without(platform, vars::API_KEY));
            let mut candidates = vec![KeyCandidate {
                source: KeySource::Variable(vars::API_KEY),
                verdict: CandidateVerdict::Skipped(Skip::Empty),
            }];
            let (rest, key) = from_sdk(again, None);
            candidates.extend(rest.into_iter().skip(1));
            return (candidates, key);
        }
        None => python,
    };
    let source_of = |source: &resolve::Source| match source {
        resolve::Source::Variable => KeySource::Variable(vars::API_KEY),
        resolve::Source::FilePathVariable { path: None } => {
            KeySource::Variable(vars::API_KEY_FILE_PATH)
        }
        resolve::Source::FilePathVariable { path: Some(path) }
        | resolve::Source::DefaultFile { path } => KeySource::File(path.clone()),
    };
    let candidates = python
        .candidates
        .iter()
        .map(|c| KeyCandidate { source: source_of(&c.source), verdict: c.verdict.clone() })
        .collect();
    let key = match python.outcome {
        Lookup::Found { key, source } => Some((key, source_of(&source))),
        Lookup::Missing | Lookup::Failed { .. } => None,
    };
    (candidates, key)
}

fn resolve_url(client: &Client, platform: &Platform, endpoints: &[RegionEndpoint]) -> ClientBase {
    let locate = |url: String, source: UrlSource| {
        let (region, style, plan) = locate(&url, endpoints);
        let broken = Endpoint::parse(&url).is_err().then(|| url.clone());
        ClientBase { url: Some(url), source, region, style, plan, broken }
    };
    for var in client.url_vars {
        let Some(raw) = platform.var(var.name) else { continue };
        let url = match var.rule {
            UrlRule::Verbatim => raw.to_string(),
            UrlRule::NonEmpty if raw.trim().is_empty() => continue,
            UrlRule::NonEmpty => raw.trim().to_string(),
            // `api_base or get_secret_str(...)`, then `candidate or default`: empty is unset.
            UrlRule::LiteLlmRewrite if raw.is_empty() => continue,
            UrlRule::LiteLlmRewrite => litellm_rewrite(raw),
            UrlRule::AlibabaRegion => match alibaba_region(raw) {
                Some(region) => region.native_url(),
                None => {
                    return ClientBase {
                        broken: Some(raw.to_string()),
                        ..ClientBase::none(UrlSource::Variable(var.name))
                    };
                }
            },
        };
        return locate(url, UrlSource::Variable(var.name));
    }
    match client.url_chain {
        UrlChain::Sdk1x => {
            let http = resolve::python(platform).urls.http;
            let source = match http.origin {
                resolve::UrlOrigin::Variable(name) => UrlSource::Sdk(name.to_string()),
                resolve::UrlOrigin::Default => UrlSource::Default,
            };
            return locate(http.url, source);
        }
        UrlChain::Sdk2 => match resolve::python_client(platform) {
            ClientUrl::Url { url, origin } => {
                let source = match origin {
                    resolve::ClientOrigin::Variable(name) => UrlSource::Sdk(name.to_string()),
                    resolve::ClientOrigin::ConfigFile(path) => {
                        UrlSource::Sdk(platform.show_path(&path))
                    }
                    resolve::ClientOrigin::Region(region) => {
                        UrlSource::Sdk(format!("region {region}"))
                    }
                    resolve::ClientOrigin::Default => UrlSource::Default,
                };
                return locate(url, source);
            }
            ClientUrl::Fails(why) => {
                let source = UrlSource::Sdk("dashscope.Client()".to_string());
                return ClientBase { broken: Some(why), ..ClientBase::none(source) };
            }
        },
        UrlChain::Variables | UrlChain::InCodeOnly => {}
    }
    match client.default_url {
        Some(url) => locate(url.to_string(), UrlSource::Default),
        None => ClientBase::none(UrlSource::Default),
    }
}

/// LiteLLM 1.110's `resolve_dashscope_openai_api_base`: a standard DashScope host (Beijing,
/// Singapore, US, or a workspace host other than `trial.`/`token-plan.`), bare or with one of
/// DashScope's protocol paths, becomes that host's `/compatible-mode/v1`; anything else (Hong
/// Kong's host, a gateway, a loopback test server) is kept as given.
fn litellm_rewrite(raw: &str) -> String {
    const PREFIXES: [&str; 4] =
        ["/compatible-mode/v1", "/apps/anthropic", "/api/v1", "/compatible-api/v1"];
    let Ok(endpoint) = Endpoint::parse(raw) else { return raw.to_string() };
    let standard = match &endpoint.region {
        HostRegion::Public { region } => *region != "cn-hongkong",
        HostRegion::Workspace { workspace, .. } => {
            workspace != "trial" && workspace != "token-plan"
        }
        HostRegion::Coding { .. } | HostRegion::TokenPlan { .. } | HostRegion::Custom => false,
    };
    let path = endpoint.path.trim_end_matches('/');
    let native_call = endpoint.path.starts_with("/api/v1/");
    let known_path = path.is_empty()
        || PREFIXES.iter().any(|p| path == *p || path.starts_with(&format!("{p}/")));
    let plain = !endpoint.path.contains(['?', '#']);
    if standard
        && known_path
        && plain
        && !native_call
        && matches!(endpoint.scheme.as_str(), "http" | "https")
    {
        let origin = raw.split_once("://").map_or(raw, |(_, rest)| rest);
        let authority = origin.split(['/', '?', '#']).next().unwrap_or(origin);
        return format!("{}://{authority}{}", endpoint.scheme, ApiShape::Compatible.path());
    }
    raw.to_string()
}

/// `@langchain/community`'s `ALIBABA_REGION` words.
fn alibaba_region(word: &str) -> Option<&'static Region> {
    match word {
        "china" => Region::find("cn-beijing"),
        "singapore" => Region::find("ap-southeast-1"),
        "us" => Region::find("us-east-1"),
        _ => None,
    }
}

/// The region, style and plan of a URL: a region endpoint's URL in any style counts as that
/// region (a gateway or a test server configured in `config.toml`), else the host decides.
pub fn locate(
    url: &str,
    endpoints: &[RegionEndpoint],
) -> (Option<String>, Option<Style>, Option<Plan>) {
    const STYLES: [Style; 4] =
        [Style::Native, Style::Compatible, Style::Anthropic, Style::HostRoot];
    let trimmed = url.trim_end_matches('/');
    for endpoint in endpoints {
        // A plan host moved in `config.toml` (a test server) is still that plan's host.
        if let Some(plan) = crate::verify::plan_of(endpoint) {
            let base = endpoint.base.as_str();
            for style in [Style::Coding, Style::Compatible, Style::Anthropic] {
                if trimmed == format!("{base}{}", style.path()) {
                    return (None, Some(style), Some(plan));
                }
            }
            continue;
        }
        if let Some(style) = STYLES.into_iter().find(|style| style.url_on(endpoint) == trimmed) {
            return (Some(endpoint.region.clone()), Some(style), None);
        }
    }
    let Ok(endpoint) = Endpoint::parse(url) else { return (None, None, None) };
    let path = endpoint.path.trim_end_matches('/');
    let plan = endpoint.region.plan();
    let coding = plan == Some(Plan::Coding);
    let style = match endpoint.shape {
        Some(ApiShape::Native) => Some(Style::Native),
        Some(ApiShape::Compatible) => Some(Style::Compatible),
        Some(ApiShape::WebSocket) => None,
        None if path == Style::Anthropic.path() => Some(Style::Anthropic),
        None if coding && path == Style::Coding.path() => Some(Style::Coding),
        None if path.is_empty() => Some(Style::HostRoot),
        None => None,
    };
    let region = match &endpoint.region {
        HostRegion::Custom | HostRegion::Coding { .. } | HostRegion::TokenPlan { .. } => None,
        region => region.region_id().map(str::to_string),
    };
    (region, style, plan)
}

fn is_dashscope(url: &str) -> bool {
    Endpoint::parse(url).is_ok_and(|e| !matches!(e.region, HostRegion::Custom))
}

fn judge(resolution: &ClientResolution, platform: &Platform) -> Vec<Problem> {
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

/// The platform with one variable unset (to replay the SDK's chain after a variable the
/// client judged itself).
fn without(platform: &Platform, name: &str) -> Platform {
    let kept: Vec<(String, String)> = platform
        .vars()
        .filter(|(key, _)| *key != name)
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    platform.clone().with_vars(kept)
}

#[cfg(test)]
mod tests;
