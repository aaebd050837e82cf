//! `doctor --client ID`: one client's verdict as doctor findings.
//!
//! The fix depends on where the right value already is: when dashkey's stored file would
//! make the client work and this process did not load it, the fix is to start the program
//! with it (`dashkey run`), not to store anything again; when the client reads only names
//! dashkey writes with `--client`, the fix is that flag.

use super::{ClientResolution, KeySource, Problem, UrlSource};
use crate::doctor::{Finding, Severity};
use crate::platform::Platform;

/// Finding ids (stable, `--json`).
pub mod id {
    /// The client would send a key to the key's region in the style it needs.
    pub const CLIENT_OK: &str = "client-ok";
    /// Anything that stops it; the problem's own id is in the title's data (`--json` of
    /// `status`).
    pub const CLIENT_PROBLEM: &str = "client-problem";
}

/// The platform with dashkey's stored variables over its own environment: what a program
/// started with `dashkey run` (or from a new shell) gets. `None` when nothing is stored.
pub fn with_stored(platform: &Platform) -> Option<Platform> {
    let stored = crate::store::load_stored(platform).ok().flatten()?;
    let mut vars: Vec<(String, String)> = platform
        .vars()
        .filter(|(name, _)| !stored.vars.iter().any(|(n, _)| n == name))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    vars.extend(stored.vars.iter().map(|(n, v)| (n.clone(), v.to_string())));
    Some(platform.clone().with_vars(vars))
}

/// The findings for one client. `stored`: the same client replayed with dashkey's stored
/// variables loaded (see [`with_stored`]), when something is stored.
pub fn findings(
    resolution: &ClientResolution,
    stored: Option<&ClientResolution>,
    platform: &Platform,
) -> Vec<Finding> {
    let client = resolution.client;
    let sends = describe_send(resolution, platform);
    if resolution.works() {
        return vec![Finding {
            id: id::CLIENT_OK,
            severity: Severity::Ok,
            title: format!("{}: {sends}", client.id),
            detail: String::new(),
            fix: None,
        }];
    }
    let loaded_fixes = stored.is_some_and(ClientResolution::works);
    let url_stored = stores_url_var(resolution, platform);
    resolution
        .problems
        .iter()
        .map(|problem| Finding {
            id: id::CLIENT_PROBLEM,
            severity: Severity::Fail,
            title: format!("{}: {problem}", client.id),
            detail: format!("{} ({}); {sends}", client.name, client.note),
            fix: fix(resolution, problem, loaded_fixes, url_stored),
        })
        .collect()
}

fn describe_send(resolution: &ClientResolution, platform: &Platform) -> String {
    let key = match &resolution.key {
        Some((key, source)) => {
            let from = match source {
                KeySource::Variable(name) => (*name).to_string(),
                KeySource::File(path) => platform.show_path(path),
            };
            let from = match (&resolution.files, source) {
                (Some(files), KeySource::Variable(name)) => match files.file_of(name) {
                    Some(file) => format!("{from} in {}", platform.show_path(file)),
                    None => from,
                },
                _ => from,
            };
            format!("it sends the key {} from {from}", key.mask())
        }
        None => "it sends no key".to_string(),
    };
    let base = &resolution.base;
    let url = match &base.url {
        Some(url) => {
            let from = match &base.source {
                UrlSource::Variable(name) => {
                    match resolution.files.as_ref().and_then(|f| f.file_of(name)) {
                        Some(file) => format!("{name} in {}", platform.show_path(file)),
                        None => (*name).to_string(),
                    }
                }
                UrlSource::Sdk(what) => format!("the SDK's {what}"),
                UrlSource::Default => "its default".to_string(),
            };
            let region = base.region.as_deref().unwrap_or("no known region");
            format!("to {url} (from {from}; {region})")
        }
        None => "to no URL".to_string(),
    };
    let mut hidden = String::new();
    for value in resolution.files.iter().flat_map(|f| &f.hidden) {
        let winner = value
            .winner
            .as_ref()
            .map_or_else(|| "the shell's".to_string(), |w| platform.show_path(w) + "'s");
        hidden.push_str(&format!(
            "; {} in {} is not used: {winner} value wins",
            value.name,
            platform.show_path(&value.file)
        ));
    }
    format!("{key} {url}{hidden}")
}

fn fix(
    resolution: &ClientResolution,
    problem: &Problem,
    loaded_fixes: bool,
    url_stored: bool,
) -> Option<String> {
    let client = resolution.client;
    if loaded_fixes {
        return Some(
            "start it with dashkey's stored variables: dashkey run -- COMMAND (or from a new \
             terminal)"
                .to_string(),
        );
    }
    let url_from_own_file = match (&resolution.files, &resolution.base.source) {
        (Some(files), UrlSource::Variable(name)) => files.file_of(name).is_some(),
        _ => false,
    };
    match problem {
        // Qwen Code's URL is in one of its own files (the detail names it): that file is
        // what to edit, nothing dashkey stores moves it.
        Problem::WrongRegion { .. } if url_from_own_file => None,
        // The client reads a URL variable dashkey writes beside the key: moving the stored
        // region moves it too.
        // The same when the client's URL variable is one dashkey stored (`set --client`).
        Problem::WrongRegion { key_region: key, .. }
            if reads_dashkey_url(resolution) || url_stored =>
        {
            Some(format!("dashkey region {key}, then start it from a new terminal"))
        }
        // No variable moves its URL (`@ai-sdk/alibaba`'s is in code): storing again cannot
        // help; the row's note, in the detail, says where it is set.
        Problem::WrongRegion { .. }
            if resolution.client.url_chain == super::UrlChain::InCodeOnly =>
        {
            None
        }
        // The key's own plan host, in the style the client already uses: the variable that
        // points elsewhere is the one to change (where it is set, for a new terminal).
        Problem::OtherPlanFamily { right_url, .. } if !url_from_own_file => {
            match &resolution.base.source {
                UrlSource::Variable(name) => Some(format!(
                    "export {name}='{right_url}'   (and the same where {name} is set, for new \
                     terminals)"
                )),
                UrlSource::Sdk(_) | UrlSource::Default => None,
            }
        }
        Problem::NoKey { .. } | Problem::WrongRegion { .. } if !client.set_vars.is_empty() => {
            Some(format!("dashkey set --client {}", client.id))
        }
        _ => None,
    }
}

/// dashkey's stored variables include one of the client's URL variables (written with
/// `set --client`), so `dashkey region` rewrites it.
fn stores_url_var(resolution: &ClientResolution, platform: &Platform) -> bool {
    let Some(stored) = crate::store::load_stored(platform).ok().flatten() else { return false };
    let client = resolution.client;
    client.url_vars.iter().any(|v| stored.vars.iter().any(|(name, _)| name == v.name))
}

/// The URL came from (or, unset, would come from) a variable `set` writes by default.
fn reads_dashkey_url(resolution: &ClientResolution) -> bool {
    let written = [crate::vars::API_BASE, crate::vars::HTTP_BASE_URL];
    let client = resolution.client;
    client.url_vars.iter().any(|v| written.contains(&v.name))
        || (client.url_vars.is_empty() && client.url_chain == super::UrlChain::Sdk1x)
}
