//! One catalogue row replayed against a platform: which key candidate the client takes and
//! which base URL it calls, in the same candidate-by-candidate vocabulary as the SDK replays,
//! so `status --client` can explain a choice rather than only state it.

use std::fmt;

use super::locate::{alibaba_region, litellm_rewrite, locate};
use super::problem::{Problem, judge};
use super::{CATALOGUE, Client, Empty, KeyChain, Style, UrlChain, UrlRule, qwen_code};
use crate::key::ApiKey;
use crate::platform::Platform;
use crate::region::{Endpoint, Plan, RegionEndpoint};
use crate::resolve::{self, CandidateVerdict, ClientUrl, Lookup, Skip};
use crate::vars;

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
    resolution.problems = judge(&resolution, platform, endpoints);
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
