//! Where a base URL points (region, URL style, plan host), and the rewrites clients apply to
//! a URL variable before they use it: the URL-style checks read these, not the raw string.

use super::Style;
use crate::region::{ApiShape, Endpoint, HostRegion, Plan, Region, RegionEndpoint};

/// LiteLLM 1.110's `resolve_dashscope_openai_api_base`: a standard DashScope host (Beijing,
/// Singapore, US, or a workspace host other than `trial.`/`token-plan.`), bare or with one of
/// DashScope's protocol paths, becomes that host's `/compatible-mode/v1`; anything else (Hong
/// Kong's host, a gateway, a loopback test server) is kept as given.
pub(super) fn litellm_rewrite(raw: &str) -> String {
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
pub(super) fn alibaba_region(word: &str) -> Option<&'static Region> {
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

pub(super) fn is_dashscope(url: &str) -> bool {
    Endpoint::parse(url).is_ok_and(|e| !matches!(e.region, HostRegion::Custom))
}

/// The id of the plan host (`coding`, `token-plan-intl`, as [`crate::verify::PLAN_HOSTS`]
/// names them) a URL is on: a plan host moved in `config.toml` (a test server) by its id,
/// else by its host name. A key of one plan is refused on the same plan's host of the other
/// family (China or international), which only this id tells apart.
pub(super) fn plan_host(url: &str, endpoints: &[RegionEndpoint]) -> Option<String> {
    let moved = endpoints.iter().filter(|e| crate::verify::plan_of_id(&e.region).is_some());
    for endpoint in moved {
        let base = endpoint.base.trim_end_matches('/');
        if url.strip_prefix(base).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')) {
            return Some(endpoint.region.clone());
        }
    }
    let id = match Endpoint::parse(url).ok()?.region {
        HostRegion::Coding { international: false } => "coding",
        HostRegion::Coding { international: true } => "coding-intl",
        HostRegion::TokenPlan { international: false } => "token-plan",
        HostRegion::TokenPlan { international: true } => "token-plan-intl",
        _ => return None,
    };
    Some(id.to_string())
}
