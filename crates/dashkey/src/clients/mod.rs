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

use crate::region::{ApiShape, RegionEndpoint};
use crate::vars;

pub mod claude_code;
mod conflicts;
mod findings;
mod locate;
mod problem;
pub mod qwen_code;
mod replay;
mod table;

pub use conflicts::{Conflict, Place, conflicts};
pub use findings::{findings, id, with_stored};
pub use locate::locate;
pub use problem::Problem;
pub use replay::{
    ClientBase, ClientResolution, KeyCandidate, KeySource, UrlSource, resolve, resolve_all,
};
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

#[cfg(test)]
mod tests;
