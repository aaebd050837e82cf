//! Which key, and which base URLs, each official SDK would use.
//!
//! The SDKs disagree in ways that decide whether a program works:
//!
//! - **Python** reads `DASHSCOPE_API_KEY` once, at import, and takes it verbatim: an empty or
//!   space-padded value is sent as the key. Otherwise it reads the whole file named by
//!   `DASHSCOPE_API_KEY_FILE_PATH` (a missing file is an error, with no fallback), else
//!   `~/.dashscope/api_key` under `$HOME`, stripping surrounding whitespace.
//! - **Java** also takes an empty variable as the key, but a `DASHSCOPE_API_KEY_FILE_PATH`
//!   naming a missing file silently falls back to the default file, only the *first line* of a
//!   file is read, and "home" is the JVM's `user.home`, which comes from the account database,
//!   not from `$HOME`.
//! - **Node** reads only the variable, trims it, and treats empty as missing. No key file.
//!
//! Each function here replays one SDK's lookup step by step against a [`Platform`], recording
//! every candidate it looked at and why it moved on, so that `dashkey status` can show the
//! answer *and* the reasoning, and Rust programs can resolve a key exactly like the Python SDK.
//!
//! This file holds the vocabulary every replay shares (a [`Candidate`] per place looked at,
//! the [`Resolution`] it ends in, the [`BaseUrls`] it would call); `sdk.rs` holds the replays
//! of the official SDKs, one function each. Third-party clients and launch contexts (what a
//! program started by systemd, cron or a desktop session receives) are the next files here.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::key::ApiKey;
use crate::platform::Platform;
use crate::region::{Endpoint, HostRegion};
use crate::vars;

mod client;
mod configured;
mod sdk;

pub use client::{ClientOrigin, ClientUrl, python_client};
pub use configured::{ConfiguredRegion, RegionOrigin, configured_region, region_of_native};

pub(crate) use sdk::{classify_io, classify_read};
pub use sdk::{java, java_user_home, node, python};

/// The official SDKs whose lookup dashkey models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sdk {
    /// `dashscope` on PyPI.
    Python,
    /// `com.alibaba:dashscope-sdk-java`.
    Java,
    /// The Node.js SDK.
    Node,
}

impl Sdk {
    /// All modelled SDKs, in report order.
    pub const ALL: [Sdk; 3] = [Sdk::Python, Sdk::Java, Sdk::Node];

    /// Short lowercase identifier (`python`).
    pub fn id(self) -> &'static str {
        match self {
            Sdk::Python => "python",
            Sdk::Java => "java",
            Sdk::Node => "node",
        }
    }

    /// Human name (`Python SDK`).
    pub fn name(self) -> &'static str {
        match self {
            Sdk::Python => "Python SDK",
            Sdk::Java => "Java SDK",
            Sdk::Node => "Node SDK",
        }
    }
}

/// A place an SDK can take the key from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Source {
    /// The `DASHSCOPE_API_KEY` variable.
    Variable,
    /// The file named by `DASHSCOPE_API_KEY_FILE_PATH` (no path when the variable is unset).
    FilePathVariable {
        /// The path as the SDK would open it.
        path: Option<PathBuf>,
    },
    /// The SDK's default key file, `~/.dashscope/api_key`.
    DefaultFile {
        /// The path as the SDK would open it.
        path: PathBuf,
    },
}

impl Source {
    /// The file behind this source, if it is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::Variable => None,
            Source::FilePathVariable { path } => path.as_deref(),
            Source::DefaultFile { path } => Some(path),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Variable => f.write_str(vars::API_KEY),
            Source::FilePathVariable { path: None } => f.write_str(vars::API_KEY_FILE_PATH),
            Source::FilePathVariable { path: Some(path) } => {
                write!(f, "{} (named by {})", path.display(), vars::API_KEY_FILE_PATH)
            }
            Source::DefaultFile { path } => write!(f, "{}", path.display()),
        }
    }
}

/// What an SDK concluded about one candidate (one place it looked).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "kebab-case")]
pub enum CandidateVerdict {
    /// This candidate supplied the key.
    Chosen,
    /// The SDK moved on to the next candidate.
    Skipped(Skip),
    /// The SDK stopped here with an error.
    Failed(ReadFailure),
    /// An earlier candidate decided; this one was never looked at.
    NotReached,
}

/// Why an SDK moved past a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Skip {
    /// The variable is not set.
    Unset,
    /// The variable is set but empty (or only whitespace, for the Node SDK).
    Empty,
    /// The file does not exist.
    NoFile,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Skip::Unset => "not set",
            Skip::Empty => "empty",
            Skip::NoFile => "no such file",
        })
    }
}

/// Why reading a key file failed, as the SDK would experience it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadFailure {
    /// The file does not exist.
    NotFound,
    /// The path is a directory.
    IsDirectory,
    /// The file cannot be read by this user.
    PermissionDenied,
    /// The file is not UTF-8 (Python reads key files as UTF-8 text).
    NotUtf8,
    /// The file has no first line (Java reads only the first line, and fails on an empty file).
    NoFirstLine,
    /// The path is not a regular file (a FIFO, a device, a socket): not read, since a FIFO
    /// blocks a reader forever and a device may never end.
    NotRegular(crate::world::read::NotRegular),
    /// The file is far larger than a key file can be: not read.
    TooLarge,
    /// Any other I/O error.
    Other,
}

impl fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReadFailure::NotFound => "no such file",
            ReadFailure::IsDirectory => "is a directory",
            ReadFailure::PermissionDenied => "permission denied",
            ReadFailure::NotUtf8 => "not UTF-8 text",
            ReadFailure::NoFirstLine => "empty file (no first line)",
            ReadFailure::NotRegular(kind) => {
                return write!(f, "{}, not a regular file; not read", kind.describe());
            }
            ReadFailure::TooLarge => "too large for a key file; not read",
            ReadFailure::Other => "cannot be read",
        })
    }
}

/// One step of an SDK's lookup.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Candidate {
    /// Where the SDK looked.
    pub source: Source,
    /// What it concluded.
    #[serde(flatten)]
    pub verdict: CandidateVerdict,
}

/// How an SDK's lookup ended: a key found, no key, or a file it failed on.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// The SDK would send this value as the key (possibly empty or malformed: check
    /// [`ApiKey::problems`]).
    Found {
        /// The value, byte for byte as the SDK would send it.
        key: ApiKey,
        /// Where it came from.
        source: Source,
    },
    /// The SDK would raise its "no api key" error.
    Missing,
    /// The SDK would fail reading a file.
    Failed {
        /// The file it failed on.
        source: Source,
        /// How it failed.
        failure: ReadFailure,
    },
}

/// Where a base URL comes from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", content = "name", rename_all = "kebab-case")]
pub enum UrlOrigin {
    /// An environment variable.
    Variable(&'static str),
    /// The SDK's built-in default (Beijing, or the workspace host that
    /// `DASHSCOPE_API_REGION` selects).
    Default,
}

/// One base URL an SDK would use.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BaseUrl {
    /// The URL, exactly as the SDK would use it.
    pub url: String,
    /// Where it came from.
    pub origin: UrlOrigin,
}

impl BaseUrl {
    /// The URL taken apart, if it parses.
    pub fn endpoint(&self) -> Option<Endpoint> {
        Endpoint::parse(&self.url).ok()
    }

    /// The region the URL points at, if it names one.
    pub fn region_id(&self) -> Option<String> {
        self.endpoint().and_then(|e| e.region.region_id().map(str::to_string))
    }
}

/// The base URLs an SDK would use.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BaseUrls {
    /// Native API (`DASHSCOPE_HTTP_BASE_URL`).
    pub http: BaseUrl,
    /// Streaming API (`DASHSCOPE_WEBSOCKET_BASE_URL`).
    pub websocket: BaseUrl,
    /// OpenAI-compatible API, for SDKs that have a setting for it.
    pub compatible: Option<BaseUrl>,
}

/// Everything one SDK would do to find its key and endpoints.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// Which SDK.
    pub sdk: Sdk,
    /// Every candidate in lookup order, including the ones never reached.
    pub candidates: Vec<Candidate>,
    /// The result.
    pub outcome: Lookup,
    /// The endpoints it would call.
    pub urls: BaseUrls,
}

/// A key an SDK would find, with where it found it.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The key, byte for byte as the SDK would send it.
    pub key: ApiKey,
    /// Where it came from.
    pub source: Source,
    /// The endpoints the SDK would call.
    pub urls: BaseUrls,
}

/// An SDK would not find a usable key. The message lists every place that was checked and
/// never contains a key.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", describe_failure(*sdk, candidates, failure.as_ref()))]
pub struct ResolveError {
    /// Which SDK.
    pub sdk: Sdk,
    /// What it checked.
    pub candidates: Vec<Candidate>,
    /// The file error that stopped it, if one did.
    pub failure: Option<(Source, ReadFailure)>,
}

fn describe_failure(
    sdk: Sdk,
    candidates: &[Candidate],
    failure: Option<&(Source, ReadFailure)>,
) -> String {
    let checked: Vec<String> = candidates
        .iter()
        .filter(|c| c.verdict != CandidateVerdict::NotReached)
        .map(|c| match &c.verdict {
            CandidateVerdict::Skipped(skip) => format!("{} ({skip})", c.source),
            CandidateVerdict::Failed(failure) => format!("{} ({failure})", c.source),
            CandidateVerdict::Chosen | CandidateVerdict::NotReached => c.source.to_string(),
        })
        .collect();
    match failure {
        Some((source, failure)) => format!(
            "the {} would fail reading {source}: {failure}; checked: {}",
            sdk.name(),
            checked.join(", ")
        ),
        None => {
            format!("the {} would find no API key; checked: {}", sdk.name(), checked.join(", "))
        }
    }
}

impl Resolution {
    /// The key and endpoints, or an error that lists what was checked.
    ///
    /// # Errors
    ///
    /// [`ResolveError`] when the SDK would raise its "no api key" error or fail on a file.
    pub fn into_result(self) -> Result<Resolved, ResolveError> {
        match self.outcome {
            Lookup::Found { key, source } => Ok(Resolved { key, source, urls: self.urls }),
            Lookup::Missing => {
                Err(ResolveError { sdk: self.sdk, candidates: self.candidates, failure: None })
            }
            Lookup::Failed { source, failure } => Err(ResolveError {
                sdk: self.sdk,
                candidates: self.candidates,
                failure: Some((source, failure)),
            }),
        }
    }

    /// The key the SDK would send, if any.
    pub fn key(&self) -> Option<&ApiKey> {
        match &self.outcome {
            Lookup::Found { key, .. } => Some(key),
            Lookup::Missing | Lookup::Failed { .. } => None,
        }
    }
}

/// Replays one SDK's lookup.
pub fn resolve(sdk: Sdk, platform: &Platform) -> Resolution {
    match sdk {
        Sdk::Python => python(platform),
        Sdk::Java => java(platform),
        Sdk::Node => node(platform),
    }
}

/// The region the SDK's native base URL points at, or `None` for a custom host.
pub fn region_of(urls: &BaseUrls) -> Option<String> {
    region_of_url(&urls.http.url)
}

/// The region a URL's host names (public or workspace host), or `None` for any other host.
fn region_of_url(url: &str) -> Option<String> {
    Endpoint::parse(url).ok().and_then(|endpoint| match endpoint.region {
        HostRegion::Custom | HostRegion::Coding { .. } | HostRegion::TokenPlan { .. } => None,
        region => region.region_id().map(str::to_string),
    })
}

#[cfg(test)]
mod tests;
