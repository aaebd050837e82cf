//! One place DashScope lives: a region id and the root of its host, whatever the source.
//!
//! The same concept is needed by three jobs that must never depend on each other: `verify`
//! sends the key there, `set` writes its three base URLs beside the key, and `doctor` compares
//! what a program calls with where the key works. So the endpoint lives here, with the region
//! table, rather than in the HTTP module: the write path can name a region without linking
//! the prober. An endpoint comes from the built-in table, from `config.toml`, or from a base
//! URL given for one run, and it is checked once, when it is made: only `scheme://host[:port]`
//! (plus a gateway's prefix for a one-off base URL), and plain `http` only to loopback, so a
//! bearer key can never be sent in clear text across a network.

use std::path::PathBuf;

use super::{ApiShape, Endpoint, Region, UrlError};

/// Where a region's endpoint came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointOrigin {
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
pub struct RegionEndpoint {
    /// Region id (`ap-southeast-1`), or `custom` for a bare base URL on an unknown host.
    pub region: String,
    /// Human name of the region, when it is a known one.
    pub name: Option<String>,
    /// `scheme://host[:port]` (plus a gateway's path prefix for a `--base-url`), no trailing
    /// slash; the API paths are appended to it.
    pub base: String,
    /// Where the endpoint came from.
    pub origin: EndpointOrigin,
    /// The workspace whose dedicated host this is (`{workspace}.{region}.maas.aliyuncs.com`,
    /// or where `config.toml` moves that region's workspace hosts); requests name it in
    /// `X-DashScope-WorkSpace` as the SDK's `Client()` does.
    pub workspace: Option<String>,
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

impl RegionEndpoint {
    /// A built-in region by id, on its public host; `None` for an id not in the table.
    pub fn builtin(id: &str) -> Option<RegionEndpoint> {
        Region::find(id).map(RegionEndpoint::public)
    }

    /// A region from the built-in table, on its public host.
    pub fn public(region: &Region) -> RegionEndpoint {
        RegionEndpoint {
            region: region.id.to_string(),
            name: Some(region.name.to_string()),
            base: format!("https://{}", region.host),
            origin: EndpointOrigin::Builtin,
            workspace: None,
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
        origin: EndpointOrigin,
    ) -> Result<RegionEndpoint, EndpointError> {
        let (root, path) = split_root(endpoint)?;
        if !path.is_empty() && path != "/" {
            return Err(EndpointError::Path { path: path.to_string() });
        }
        Ok(RegionEndpoint { region: region.to_string(), name, base: root, origin, workspace: None })
    }

    /// A one-off endpoint from a base URL as SDKs take them: a host root, or a URL ending in
    /// one of the API paths (`https://dashscope-intl.aliyuncs.com/api/v1`), possibly behind
    /// a gateway's prefix. The region is the one the host names, else `custom`.
    ///
    /// # Errors
    ///
    /// [`EndpointError`] for an unusable URL or plain http to a non-loopback host.
    pub fn from_base_url(url: &str) -> Result<RegionEndpoint, EndpointError> {
        let (root, path) = split_root(url)?;
        let path = path.trim_end_matches('/');
        let prefix = [ApiShape::Native, ApiShape::Compatible, ApiShape::WebSocket]
            .iter()
            .find_map(|shape| path.strip_suffix(shape.path()))
            .or(path.is_empty().then_some(""))
            .ok_or(EndpointError::UnknownPath)?;
        let endpoint = Endpoint::parse(&root)?;
        let known = endpoint.region.region_id().and_then(Region::find);
        Ok(RegionEndpoint {
            region: endpoint.region.region_id().unwrap_or("custom").to_string(),
            name: known.map(|region| region.name.to_string()),
            base: format!("{root}{prefix}"),
            origin: EndpointOrigin::BaseUrl,
            workspace: None,
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

    /// `DASHSCOPE_HTTP_BASE_URL` for this endpoint.
    pub fn native(&self) -> String {
        self.url(ApiShape::Native)
    }

    /// Whether `url` is [`RegionEndpoint::native`], compared without building it (the
    /// launch-context matrix asks this of every region for every surface).
    pub fn is_native(&self, url: &str) -> bool {
        url.strip_prefix(self.base.as_str()) == Some(ApiShape::Native.path())
    }

    /// `DASHSCOPE_WEBSOCKET_BASE_URL` for this endpoint.
    pub fn websocket(&self) -> String {
        self.url(ApiShape::WebSocket)
    }

    /// `DASHSCOPE_COMPATIBLE_BASE_URL` (and `OPENAI_BASE_URL`) for this endpoint.
    pub fn compatible(&self) -> String {
        self.url(ApiShape::Compatible)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_native_is_comparing_with_native() {
        let gateway = RegionEndpoint::from_base_url("http://127.0.0.1:18080/gw/api/v1").unwrap();
        let every = Region::all().iter().map(RegionEndpoint::public).chain([gateway]);
        for endpoint in every {
            assert!(endpoint.is_native(&endpoint.native()), "{}", endpoint.native());
            assert!(!endpoint.is_native(&endpoint.compatible()));
            assert!(!endpoint.is_native(&endpoint.base));
            assert!(!endpoint.is_native(&format!("{}/", endpoint.native())));
        }
    }

    #[test]
    fn base_urls_are_taken_apart_and_plain_http_stays_on_loopback() {
        let sg =
            RegionEndpoint::from_base_url("https://dashscope-intl.aliyuncs.com/api/v1/").unwrap();
        assert_eq!(sg.region, "ap-southeast-1");
        assert_eq!(sg.base, "https://dashscope-intl.aliyuncs.com");
        let gateway =
            RegionEndpoint::from_base_url("https://gw.example.com:8443/ds/compatible-mode/v1")
                .unwrap();
        assert_eq!(gateway.region, "custom");
        assert_eq!(gateway.url(ApiShape::Native), "https://gw.example.com:8443/ds/api/v1");
        let local = RegionEndpoint::from_base_url("http://127.0.0.1:8080").unwrap();
        assert!(local.is_loopback());
        for (url, error) in [
            (
                "http://dashscope.aliyuncs.com/api/v1",
                EndpointError::PlainHttp { host: "dashscope.aliyuncs.com".into() },
            ),
            ("https://h.example/v2", EndpointError::UnknownPath),
            ("https://u:p@h.example", EndpointError::Credentials),
            ("https://h.example/?k=v", EndpointError::Query),
            ("https://h.example:99999", EndpointError::Port),
        ] {
            assert_eq!(RegionEndpoint::from_base_url(url), Err(error), "{url}");
        }
    }

    #[test]
    fn a_builtin_endpoint_carries_the_three_urls_of_its_public_host() {
        for region in Region::all() {
            let endpoint = RegionEndpoint::builtin(region.id).unwrap();
            let urls = [endpoint.native(), endpoint.websocket(), endpoint.compatible()];
            assert_eq!(
                urls,
                [region.native_url(), region.websocket_url(), region.compatible_url()]
            );
        }
        assert_eq!(RegionEndpoint::builtin("mars-north-1"), None);
    }
}
