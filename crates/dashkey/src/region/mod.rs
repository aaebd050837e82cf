//! Where DashScope lives: one host per region, three URL shapes per host.
//!
//! A key works in exactly one region, and using it against another region's host answers
//! exactly like a wrong key (401 `InvalidApiKey`). So the region is not a detail of the URL
//! but a property of the key that must be carried next to it. This module is the table, plus
//! the reverse direction: given any base URL a user or tool configured, which region (and
//! which of the three API shapes) it points at, so that a Singapore key in front of a
//! Beijing URL can be named for what it is.
//!
//! [`RegionEndpoint`] (in `endpoint.rs`) is one region's endpoint as dashkey uses it, from the
//! table, from `config.toml` ([`config`]) or from a base URL given for one run.

use std::fmt;

pub mod config;
mod endpoint;
pub mod workspace;

pub use endpoint::{EndpointError, EndpointOrigin, RegionEndpoint};
pub use workspace::{BadWorkspaceId, NoWorkspaceHosts, WorkspaceId};

/// One DashScope region and its public host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// The identifier used by Alibaba Cloud and by dashkey's `--region` (`ap-southeast-1`).
    pub id: &'static str,
    /// A human name (`Singapore`).
    pub name: &'static str,
    /// The public API host (`dashscope-intl.aliyuncs.com`).
    pub host: &'static str,
}

/// The default region of every official SDK.
pub const DEFAULT_REGION: &str = "cn-beijing";

const REGIONS: [Region; 4] = [
    Region { id: "cn-beijing", name: "China (Beijing)", host: "dashscope.aliyuncs.com" },
    Region { id: "ap-southeast-1", name: "Singapore", host: "dashscope-intl.aliyuncs.com" },
    Region { id: "us-east-1", name: "US (Virginia)", host: "dashscope-us.aliyuncs.com" },
    Region {
        id: "cn-hongkong",
        name: "China (Hong Kong)",
        host: "cn-hongkong.dashscope.aliyuncs.com",
    },
];

/// Regions that have workspace-dedicated hosts (`{workspace}.{region}.maas.aliyuncs.com`).
pub const WORKSPACE_REGIONS: [&str; 6] =
    ["cn-beijing", "ap-southeast-1", "us-east-1", "cn-hongkong", "ap-northeast-1", "eu-central-1"];

impl Region {
    /// Every public region, the default first.
    pub fn all() -> &'static [Region] {
        &REGIONS
    }

    /// The region with this identifier.
    pub fn find(id: &str) -> Option<&'static Region> {
        REGIONS.iter().find(|region| region.id == id)
    }

    /// The region every SDK uses when nothing is configured.
    pub fn default_region() -> &'static Region {
        &REGIONS[0]
    }

    /// Base URL of the native DashScope API (`DASHSCOPE_HTTP_BASE_URL`).
    pub fn native_url(&self) -> String {
        ApiShape::Native.url_for_host("https", self.host)
    }

    /// Base URL of the OpenAI-compatible API (`DASHSCOPE_COMPATIBLE_BASE_URL`, `OPENAI_BASE_URL`).
    pub fn compatible_url(&self) -> String {
        ApiShape::Compatible.url_for_host("https", self.host)
    }

    /// Base URL of the streaming API (`DASHSCOPE_WEBSOCKET_BASE_URL`).
    pub fn websocket_url(&self) -> String {
        ApiShape::WebSocket.url_for_host("wss", self.host)
    }
}

/// The three APIs a DashScope host serves, each under its own path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApiShape {
    /// `/api/v1`: the native API the DashScope SDKs use.
    Native,
    /// `/compatible-mode/v1`: the OpenAI-compatible API.
    Compatible,
    /// `/api-ws/v1/inference`: the streaming API.
    WebSocket,
}

impl ApiShape {
    /// The path under the host, without a trailing slash.
    pub fn path(self) -> &'static str {
        match self {
            ApiShape::Native => "/api/v1",
            ApiShape::Compatible => "/compatible-mode/v1",
            ApiShape::WebSocket => "/api-ws/v1/inference",
        }
    }

    fn url_for_host(self, scheme: &str, host: &str) -> String {
        format!("{scheme}://{host}{}", self.path())
    }

    /// The environment variable that configures this API for the DashScope SDKs.
    pub fn variable(self) -> &'static str {
        match self {
            ApiShape::Native => crate::vars::HTTP_BASE_URL,
            ApiShape::Compatible => crate::vars::COMPATIBLE_BASE_URL,
            ApiShape::WebSocket => crate::vars::WEBSOCKET_BASE_URL,
        }
    }
}

impl fmt::Display for ApiShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ApiShape::Native => "native API",
            ApiShape::Compatible => "OpenAI-compatible API",
            ApiShape::WebSocket => "WebSocket API",
        })
    }
}

/// Which region a host belongs to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum HostRegion {
    /// One of the public regional hosts.
    Public {
        /// Region identifier.
        region: &'static str,
    },
    /// A workspace-dedicated host; only that workspace's keys work there.
    Workspace {
        /// Region identifier (the second label of the host).
        region: String,
        /// Workspace identifier, or `{workspace_id}` when the SDK left it unfilled.
        workspace: String,
    },
    /// A Coding Plan host, which accepts only `sk-sp-` keys.
    Coding {
        /// True for the international host.
        international: bool,
    },
    /// A Token Plan host (`token-plan.{region}.maas.aliyuncs.com`): it looks like a workspace
    /// host but accepts only Token Plan keys (`sk-sp-`), and no standard key.
    TokenPlan {
        /// True for the international (Singapore) host.
        international: bool,
    },
    /// Anything else: a gateway, a proxy, a private endpoint, a test server.
    Custom,
}

impl HostRegion {
    /// The region identifier, when the host names one.
    pub fn region_id(&self) -> Option<&str> {
        match self {
            HostRegion::Public { region } => Some(region),
            HostRegion::Workspace { region, .. } => Some(region),
            HostRegion::Coding { .. } | HostRegion::TokenPlan { .. } | HostRegion::Custom => None,
        }
    }

    /// The subscription plan whose keys this host takes, for a plan host.
    pub fn plan(&self) -> Option<Plan> {
        match self {
            HostRegion::Coding { .. } => Some(Plan::Coding),
            HostRegion::TokenPlan { .. } => Some(Plan::Token),
            HostRegion::Public { .. } | HostRegion::Workspace { .. } | HostRegion::Custom => None,
        }
    }
}

/// The two subscription plans whose keys (both `sk-sp-`) work only on their own hosts, and
/// whose hosts take no other key. The prefix does not tell them apart: only the host that
/// accepts the key does, so `set` records which one did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Plan {
    /// Coding Plan: `coding.dashscope.aliyuncs.com` and `coding-intl.`, for coding agents.
    #[serde(rename = "coding-plan")]
    Coding,
    /// Token Plan: `token-plan.{cn-beijing|ap-southeast-1}.maas.aliyuncs.com`.
    #[serde(rename = "token-plan")]
    Token,
}

impl Plan {
    /// A stable identifier (`--json`, the record).
    pub fn id(self) -> &'static str {
        match self {
            Plan::Coding => "coding-plan",
            Plan::Token => "token-plan",
        }
    }

    /// The plan's name as Model Studio writes it.
    pub fn name(self) -> &'static str {
        match self {
            Plan::Coding => "Coding Plan",
            Plan::Token => "Token Plan",
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A base URL taken apart: what it points at and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Endpoint {
    /// The URL scheme, lowercased (`https`).
    pub scheme: String,
    /// The host, lowercased, without port.
    pub host: String,
    /// The path as given (may be empty).
    pub path: String,
    /// Which region's host this is.
    pub region: HostRegion,
    /// Which API the path selects, when it is one of the known paths.
    pub shape: Option<ApiShape>,
    /// The URL ends with `/`, which breaks URL joining in the Node SDK.
    pub trailing_slash: bool,
}

/// Why a string is not a usable base URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// The value is empty.
    #[error("the URL is empty")]
    Empty,
    /// No `scheme://`.
    #[error("the URL has no scheme (it should start with https://)")]
    NoScheme,
    /// Nothing after `scheme://`.
    #[error("the URL has no host")]
    NoHost,
    /// Spaces, quotes or control characters.
    #[error("the URL contains spaces, quotes or control characters")]
    BadCharacter,
}

impl Endpoint {
    /// Takes a base URL apart. Lenient about case, strict about structure.
    ///
    /// # Errors
    ///
    /// [`UrlError`] when the value cannot be a URL at all.
    pub fn parse(url: &str) -> Result<Endpoint, UrlError> {
        if url.is_empty() {
            return Err(UrlError::Empty);
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\'') {
            return Err(UrlError::BadCharacter);
        }
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::NoScheme)?;
        if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '+') {
            return Err(UrlError::NoScheme);
        }
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, ""),
        };
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        let host = if host_port.starts_with('[') {
            let host = host_port.split_inclusive(']').next().unwrap_or(host_port);
            // After `[v6]` comes nothing or a port: `[::1].example.com` is no host at all.
            let after = &host_port[host.len()..];
            if !host.ends_with(']') || !(after.is_empty() || after.starts_with(':')) {
                return Err(UrlError::NoHost);
            }
            host
        } else {
            host_port.split(':').next().unwrap_or(host_port)
        };
        if host.is_empty() {
            return Err(UrlError::NoHost);
        }
        let host = host.to_ascii_lowercase();
        let trimmed_path = path.trim_end_matches('/');
        let shape = [ApiShape::Native, ApiShape::Compatible, ApiShape::WebSocket]
            .into_iter()
            .find(|shape| trimmed_path == shape.path());
        Ok(Endpoint {
            scheme: scheme.to_ascii_lowercase(),
            region: host_region(&host),
            host,
            path: path.to_string(),
            shape,
            trailing_slash: path.len() > 1 && path.ends_with('/'),
        })
    }

    /// True when the host is a loopback address, where plain `http` is acceptable: an IP
    /// address in 127.0.0.0/8, `[::1]`, or exactly `localhost`. The host is parsed, never
    /// matched by prefix: `127.0.0.1.example.com` is a public name.
    pub fn is_loopback(&self) -> bool {
        if self.host == "localhost" {
            return true;
        }
        let bare = self.host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
        match bare {
            Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok_and(|ip| ip.is_loopback()),
            None => self.host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback()),
        }
    }
}

fn host_region(host: &str) -> HostRegion {
    if let Some(region) = REGIONS.iter().find(|region| region.host == host) {
        return HostRegion::Public { region: region.id };
    }
    match host {
        "coding.dashscope.aliyuncs.com" => {
            return HostRegion::Coding { international: false };
        }
        "coding-intl.dashscope.aliyuncs.com" => {
            return HostRegion::Coding { international: true };
        }
        "token-plan.cn-beijing.maas.aliyuncs.com" => {
            return HostRegion::TokenPlan { international: false };
        }
        "token-plan.ap-southeast-1.maas.aliyuncs.com" => {
            return HostRegion::TokenPlan { international: true };
        }
        _ => {}
    }
    if let Some(prefix) = host.strip_suffix(".maas.aliyuncs.com")
        && let Some((workspace, region)) = prefix.rsplit_once('.')
        && !workspace.is_empty()
        && !region.is_empty()
        && !workspace.contains('.')
    {
        return HostRegion::Workspace {
            region: region.to_string(),
            workspace: workspace.to_string(),
        };
    }
    HostRegion::Custom
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_region_url_parses_back_to_its_region_and_shape() {
        for region in Region::all() {
            for (url, shape) in [
                (region.native_url(), ApiShape::Native),
                (region.compatible_url(), ApiShape::Compatible),
                (region.websocket_url(), ApiShape::WebSocket),
            ] {
                let endpoint = Endpoint::parse(&url).unwrap();
                assert_eq!(endpoint.region, HostRegion::Public { region: region.id });
                assert_eq!(endpoint.shape, Some(shape));
                assert!(!endpoint.trailing_slash);
            }
        }
    }

    #[test]
    fn documented_urls_are_exact() {
        let sg = Region::find("ap-southeast-1").unwrap();
        assert_eq!(sg.native_url(), "https://dashscope-intl.aliyuncs.com/api/v1");
        assert_eq!(sg.compatible_url(), "https://dashscope-intl.aliyuncs.com/compatible-mode/v1");
        assert_eq!(sg.websocket_url(), "wss://dashscope-intl.aliyuncs.com/api-ws/v1/inference");
        assert_eq!(Region::default_region().id, DEFAULT_REGION);
    }

    #[test]
    fn recognises_a_compatible_url_where_a_native_one_belongs() {
        let endpoint =
            Endpoint::parse("https://dashscope-us.aliyuncs.com/compatible-mode/v1/").unwrap();
        assert_eq!(endpoint.shape, Some(ApiShape::Compatible));
        assert!(endpoint.trailing_slash);
        assert_eq!(endpoint.region.region_id(), Some("us-east-1"));
    }

    #[test]
    fn workspace_coding_and_custom_hosts() {
        let ws =
            Endpoint::parse("https://ws-abc123.ap-northeast-1.maas.aliyuncs.com/api/v1").unwrap();
        assert_eq!(
            ws.region,
            HostRegion::Workspace {
                region: "ap-northeast-1".into(),
                workspace: "ws-abc123".into()
            }
        );
        let coding = Endpoint::parse("https://coding-intl.dashscope.aliyuncs.com/v1").unwrap();
        assert_eq!(coding.region, HostRegion::Coding { international: true });
        assert_eq!(coding.region.plan(), Some(Plan::Coding));
        // A Token Plan host has a workspace host's shape but is no workspace.
        let token = Endpoint::parse(
            "https://token-plan.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1",
        )
        .unwrap();
        assert_eq!(token.region, HostRegion::TokenPlan { international: true });
        assert_eq!((token.region.plan(), token.region.region_id()), (Some(Plan::Token), None));
        assert_eq!(token.shape, Some(ApiShape::Compatible));
        for public in [
            "http://127.0.0.1.evil.com",
            "http://127.evil.com/api/v1",
            "http://localhost.evil.com",
            "http://evil.localhost",
            "http://127.0.0.1@evil.com",
            "http://[::2]",
        ] {
            assert!(!Endpoint::parse(public).unwrap().is_loopback(), "{public}");
        }
        assert_eq!(Endpoint::parse("http://[::1].evil.com").unwrap_err(), UrlError::NoHost);
        for local in
            ["http://localhost:1", "http://127.0.0.2:8080", "http://[::1]:9", "http://127.255.0.1"]
        {
            assert!(Endpoint::parse(local).unwrap().is_loopback(), "{local}");
        }
        let local = Endpoint::parse("http://127.0.0.1:18080/api/v1").unwrap();
        assert_eq!(local.region, HostRegion::Custom);
        assert!(local.is_loopback());
        assert_eq!(local.shape, Some(ApiShape::Native));
    }

    #[test]
    fn refuses_what_cannot_be_a_url() {
        assert_eq!(Endpoint::parse(""), Err(UrlError::Empty));
        assert_eq!(Endpoint::parse("dashscope.aliyuncs.com/api/v1"), Err(UrlError::NoScheme));
        assert_eq!(Endpoint::parse("https:///api/v1"), Err(UrlError::NoHost));
        assert_eq!(Endpoint::parse("'https://x/api/v1'"), Err(UrlError::BadCharacter));
    }
}
