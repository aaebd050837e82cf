//! The configured region: which region this process calls, and which one dashkey stored.
//!
//! `verify`, `doctor` and `status` each compare "where the key works" with "where programs
//! send it", so they must agree on the second half, and it must be true of the process they
//! run in: a process without `DASHSCOPE_HTTP_BASE_URL` calls the SDK's default host (Beijing)
//! whatever dashkey stored for new shells. The stored region is kept beside it, so that a
//! verdict can tell "the key is stored for Singapore but this process did not load it" (fix:
//! load dashkey's file) from "the key is stored for the wrong region" (fix: `dashkey region`).
//! A URL counts as a region when it is that region's endpoint (so that a `config.toml`
//! override of Singapore on a gateway still counts as Singapore), else when its host names a
//! region; a host that names none (a gateway, a proxy) is no region at all.

use super::{BaseUrls, UrlOrigin, region_of_url};
use crate::region::RegionEndpoint;

/// Where the configured region was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionOrigin {
    /// The process environment sets the native base URL (this variable).
    Variable(&'static str),
    /// Nothing in this process sets it: the SDK's default host.
    Default,
}

/// The region this process calls, with the URL it was read from, and the region dashkey
/// stored for new shells and programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredRegion {
    /// Region id; `None` for a host that names no region.
    pub id: Option<String>,
    /// The native base URL that decided.
    pub url: String,
    /// Where that URL came from.
    pub origin: RegionOrigin,
    /// The region of the native base URL dashkey stored, when it stored one that names a
    /// region.
    pub stored: Option<String>,
}

impl ConfiguredRegion {
    /// dashkey stored a region that this process does not call: loading dashkey's file (or
    /// starting the program with `dashkey run`) is the fix, not `dashkey region`.
    pub fn stored_not_loaded(&self) -> bool {
        self.stored.is_some() && self.stored != self.id
    }
}

/// The region this process calls, given the Python SDK's base URLs in it, every region
/// endpoint (built in and from `config.toml`), and the native base URL dashkey's stored
/// files set (`None` when nothing is stored).
pub fn configured_region(
    urls: &BaseUrls,
    endpoints: &[RegionEndpoint],
    stored: Option<&str>,
) -> ConfiguredRegion {
    let origin = match &urls.http.origin {
        UrlOrigin::Variable(name) => RegionOrigin::Variable(name),
        UrlOrigin::Default => RegionOrigin::Default,
    };
    ConfiguredRegion {
        id: region_of_native(&urls.http.url, endpoints),
        url: urls.http.url.clone(),
        origin,
        stored: stored.and_then(|url| region_of_native(url, endpoints)),
    }
}

/// The region a native base URL calls: the region whose endpoint it is, else the region its
/// host names.
pub fn region_of_native(url: &str, endpoints: &[RegionEndpoint]) -> Option<String> {
    let trimmed = url.trim_end_matches('/');
    endpoints
        .iter()
        .find(|endpoint| endpoint.is_native(trimmed))
        .map(|endpoint| endpoint.region.clone())
        .or_else(|| region_of_url(url))
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

    /// `verify` marked Singapore "← configured" in a process that set no base URL because
    /// dashkey had stored Singapore for new shells; the process itself calls Beijing. The
    /// configured region is the process's; the stored one is kept beside it.
    #[test]
    fn the_process_decides_and_the_stored_region_is_kept_beside_it() {
        let stored = "https://dashscope-intl.aliyuncs.com/api/v1";
        let bare = super::super::python(&Platform::simulated(Os::Linux, [("HOME", "/h")])).urls;
        let configured = configured_region(&bare, &builtin(), Some(stored));
        assert_eq!(configured.id.as_deref(), Some("cn-beijing"));
        assert_eq!(configured.origin, RegionOrigin::Default);
        assert_eq!(configured.stored.as_deref(), Some("ap-southeast-1"));
        assert!(configured.stored_not_loaded());
        let loaded = Platform::simulated(Os::Linux, [(vars::HTTP_BASE_URL, stored)]);
        let urls = super::super::python(&loaded).urls;
        let configured = configured_region(&urls, &builtin(), Some(stored));
        assert_eq!(configured.id.as_deref(), Some("ap-southeast-1"));
        assert!(!configured.stored_not_loaded());
        let gateway =
            Platform::simulated(Os::Linux, [(vars::HTTP_BASE_URL, "https://gw.example/v1")]);
        let urls = super::super::python(&gateway).urls;
        assert_eq!(configured_region(&urls, &builtin(), Some(stored)).id, None);
    }
}
