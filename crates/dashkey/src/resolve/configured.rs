//! The configured region: which region a program started now would call, and why.
//!
//! `verify`, `doctor` and `status` each compare "where the key works" with "where programs
//! send it", so they must agree on the second half. The answer comes from three places, in
//! this order: a native base URL in the process environment (what the SDK in this process
//! reads), else the one dashkey's stored files give every new shell and program, else the
//! SDK's default. A URL counts as a region when it is that region's endpoint (so that a
//! `config.toml` override of Singapore on a gateway still counts as Singapore), else when its
//! host names a region; a host that names none (a gateway, a proxy) is no region at all.

use super::{BaseUrls, UrlOrigin, region_of_url};
use crate::region::RegionEndpoint;

/// Where the configured region was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionOrigin {
    /// The process environment sets the native base URL (this variable).
    Variable(&'static str),
    /// The environment sets none; dashkey's stored files set it for new processes.
    Stored,
    /// Nothing sets it: the SDK's default host.
    Default,
}

/// The region programs would call, with the URL it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredRegion {
    /// Region id; `None` for a host that names no region.
    pub id: Option<String>,
    /// The native base URL that decided.
    pub url: String,
    /// Where that URL came from.
    pub origin: RegionOrigin,
}

/// The region a program would call, given the Python SDK's base URLs in this process, every
/// region endpoint (built in and from `config.toml`), and the native base URL dashkey's
/// stored files set (`None` to judge this process alone).
pub fn configured_region(
    urls: &BaseUrls,
    endpoints: &[RegionEndpoint],
    stored: Option<&str>,
) -> ConfiguredRegion {
    let (url, origin) = match (&urls.http.origin, stored) {
        (UrlOrigin::Variable(name), _) => (urls.http.url.as_str(), RegionOrigin::Variable(name)),
        (UrlOrigin::Default, Some(stored)) => (stored, RegionOrigin::Stored),
        (UrlOrigin::Default, None) => (urls.http.url.as_str(), RegionOrigin::Default),
    };
    let trimmed = url.trim_end_matches('/');
    let id = endpoints
        .iter()
        .find(|endpoint| endpoint.native() == trimmed)
        .map(|endpoint| endpoint.region.clone())
        .or_else(|| region_of_url(url));
    ConfiguredRegion { id, url: url.to_string(), origin }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{Os, Platform};
    use crate::region::EndpointOrigin;
    use crate::vars;

    fn builtin() -> Vec<RegionEndpoint> {
        crate::region::Region::all().iter().map(RegionEndpoint::public).collect()
    }

    #[test]
    fn an_overridden_endpoint_counts_as_its_region() {
        let gateway = RegionEndpoint::from_config(
            "ap-southeast-1",
            None,
            "http://127.0.0.1:18080",
            EndpointOrigin::BaseUrl,
        )
        .unwrap();
        let platform = Platform::simulated(
            Os::Linux,
            [(vars::HTTP_BASE_URL, "http://127.0.0.1:18080/api/v1/")],
        );
        let urls = super::super::python(&platform).urls;
        let configured = configured_region(&urls, &[gateway], None);
        assert_eq!(configured.id.as_deref(), Some("ap-southeast-1"));
        assert_eq!(configured.origin, RegionOrigin::Variable(vars::HTTP_BASE_URL));
        let default = super::super::python(&Platform::simulated(Os::Linux, [("HOME", "/h")])).urls;
        let configured = configured_region(&default, &builtin(), None);
        assert_eq!(configured.id.as_deref(), Some("cn-beijing"));
        assert_eq!(configured.origin, RegionOrigin::Default);
    }

    /// `verify` used the region dashkey stored when this process sets no base URL, while
    /// `doctor` used the SDK default: after `dashkey set` found a Singapore key, in the same
    /// terminal, one said Singapore and the other Beijing. Both now ask this function.
    #[test]
    fn without_a_variable_the_stored_url_decides_and_a_variable_beats_it() {
        let stored = "https://dashscope-intl.aliyuncs.com/api/v1";
        let bare = super::super::python(&Platform::simulated(Os::Linux, [("HOME", "/h")])).urls;
        let configured = configured_region(&bare, &builtin(), Some(stored));
        assert_eq!(configured.id.as_deref(), Some("ap-southeast-1"));
        assert_eq!(configured.origin, RegionOrigin::Stored);
        assert_eq!(configured.url, stored);
        let us = Platform::simulated(
            Os::Linux,
            [(vars::HTTP_BASE_URL, "https://dashscope-us.aliyuncs.com/api/v1")],
        );
        let urls = super::super::python(&us).urls;
        let configured = configured_region(&urls, &builtin(), Some(stored));
        assert_eq!(configured.id.as_deref(), Some("us-east-1"));
        let gateway =
            Platform::simulated(Os::Linux, [(vars::HTTP_BASE_URL, "https://gw.example/v1")]);
        let urls = super::super::python(&gateway).urls;
        assert_eq!(configured_region(&urls, &builtin(), Some(stored)).id, None);
    }
}
