//! FAQ scenario 5: a key works in exactly one region, and a wrong base URL answers exactly
//! like a wrong key. Offline, every base URL variable is checked for what can be seen
//! without the network: the URL itself, its scheme, its API (a compatible-mode URL where the
//! native one belongs), a trailing slash (which breaks the Node SDK), a Coding Plan host for
//! another kind of key, variables that name different regions, and a workspace region without
//! a workspace. With `--online`, every region is asked whether it accepts the key, and a key
//! accepted elsewhere than where the SDKs send it gets `dashkey region <id>`.

use std::collections::BTreeSet;

use crate::edit::record::Record;
use crate::key::{ApiKey, KeyKind};
use crate::region::{
    ApiShape, DEFAULT_REGION, Endpoint, HostRegion, Plan, Region, UrlError, WORKSPACE_REGIONS,
};
use crate::resolve::{self, Sdk};
use crate::vars;
use crate::verify::{Classification, OnlineVerdict, Wait};

use super::{Context, Finding, Online, Severity, id};

impl Context<'_> {
    pub(super) fn check_base_urls(&self, out: &mut Vec<Finding>) {
        let before = out.len();
        let key = self.resolution(Sdk::Python).key();
        let key_kind = key.map(ApiKey::kind);
        // Which plan an sk-sp- key is in: only the host that accepted it said (`set` records it).
        let record = self.platform.dashkey_dir().and_then(|dir| Record::load(&dir).ok().flatten());
        let key_plan = key.zip(record.as_ref()).and_then(|(key, record)| record.plan_of(key));
        let key_host = key.zip(record.as_ref()).and_then(|(key, record)| record.plan_host_of(key));
        let key_kind = (key_kind, key_plan, key_host);
        let mut regions: Vec<(&'static str, String)> = Vec::new();
        for (name, shape) in [
            (vars::HTTP_BASE_URL, ApiShape::Native),
            (vars::WEBSOCKET_BASE_URL, ApiShape::WebSocket),
            (vars::COMPATIBLE_BASE_URL, ApiShape::Compatible),
        ] {
            let Some(url) = self.platform.var(name) else { continue };
            if let Some(region) = url_findings(name, shape, url, key_kind, out) {
                regions.push((name, region));
            }
        }
        let distinct: BTreeSet<&str> = regions.iter().map(|(_, r)| r.as_str()).collect();
        if distinct.len() > 1 {
            let list: Vec<String> = regions.iter().map(|(n, r)| format!("{n} → {r}")).collect();
            out.push(
                Finding::new(
                    id::BASE_URL,
                    Severity::Fail,
                    "the base URL variables point at different regions",
                )
                .detail(format!(
                    "{}: a key works in exactly one region, so one of these APIs answers 401.",
                    list.join(", ")
                ))
                .fix("dashkey region <id>   (writes all three URLs for one region)"),
            );
        }
        if let Some(region) = self.platform.var_non_empty(vars::API_REGION) {
            let (api_region, workspace) = (vars::API_REGION, vars::WORKSPACE_ID);
            if !WORKSPACE_REGIONS.contains(&region) {
                out.push(
                    Finding::new(
                        id::BASE_URL,
                        Severity::Warn,
                        format!("{api_region} is not a known region ({region})"),
                    )
                    .detail(format!("Known: {}.", WORKSPACE_REGIONS.join(", ")))
                    .fix(format!("unset {api_region}")),
                );
            } else if region != DEFAULT_REGION && self.platform.var_non_empty(workspace).is_none() {
                out.push(
                    Finding::new(
                        id::BASE_URL,
                        Severity::Fail,
                        format!("{api_region} is {region} but {workspace} is not set"),
                    )
                    .detail(format!(
                        "The Python SDK then builds https://{{workspace_id}}.{region}.maas.\
                         aliyuncs.com and raises InputRequired."
                    ))
                    .fix(format!(
                        "export {workspace}=<your workspace id>   (or unset {api_region})"
                    )),
                );
            }
        }
        // A broken variable is the finding; notes (a loopback test server) still leave the
        // region to judge.
        if out[before..].iter().any(|f| f.severity >= Severity::Warn) {
            return;
        }
        out.push(self.process_region_finding());
    }

    /// Where the Python SDK in this process sends the key, judged against the region dashkey
    /// stored (the one `set` found the key accepted in): never "right" for a region dashkey
    /// knows is not the key's, and honest when it knows nothing.
    fn process_region_finding(&self) -> Finding {
        let urls = &self.resolution(Sdk::Python).urls;
        let endpoints =
            crate::region::config::Config::load(self.platform).unwrap_or_default().endpoints();
        let stored_url = self.stored.as_ref().and_then(|stored| stored.get(vars::HTTP_BASE_URL));
        let configured = resolve::configured_region(urls, &endpoints, stored_url);
        let name = |id: &str| {
            Region::find(id).map_or_else(|| id.to_string(), |r| format!("{} ({id})", r.name))
        };
        let calls = configured.id.as_deref().map_or_else(|| "a custom endpoint".to_string(), name);
        let any_set = [vars::HTTP_BASE_URL, vars::WEBSOCKET_BASE_URL, vars::COMPATIBLE_BASE_URL]
            .iter()
            .any(|name| self.platform.var(name).is_some());
        match configured.stored.as_deref() {
            Some(stored) if configured.stored_not_loaded() && !self.under_sudo() => Finding::new(
                id::BASE_URL,
                Severity::Fail,
                format!("this process calls {calls}, but the key is stored for {}", name(stored)),
            )
            .detail(format!(
                "dashkey stored {} for new shells and programs, and {} here {}: the Python SDK \
                 here sends the key to {calls}, which answers 401 Invalid API-key provided \
                 (FAQ scenario 5). A program no shell starts gets it with dashkey run -- \
                 <command>.",
                name(stored),
                vars::HTTP_BASE_URL,
                if self.platform.var(vars::HTTP_BASE_URL).is_some() {
                    "names another region"
                } else {
                    "is not set"
                }
            ))
            .fix(self.reload_fix()),
            Some(stored) if !configured.stored_not_loaded() => Finding::new(
                id::BASE_URL,
                Severity::Ok,
                format!("the SDKs here call {}, the region dashkey stored", name(stored)),
            )
            .detail("Every base URL variable names the right API over https."),
            _ if any_set => {
                Finding::new(id::BASE_URL, Severity::Ok, format!("the base URLs point at {calls}"))
                    .detail("Every base URL variable names the right API over https.")
            }
            _ => Finding::new(
                id::BASE_URL,
                Severity::Info,
                format!("no base URL is set: the SDKs call {calls}"),
            )
            .detail(format!(
                "dashkey knows no region for this key (nothing is stored): that is right only \
                 for a key from {}; a key from another region fails there with 401 \
                 (dashkey doctor --online tells).",
                name(DEFAULT_REGION)
            )),
        }
    }

    /// Returns the region that accepted the key, when one did.
    pub(super) fn check_online(
        &self,
        online: Online<'_>,
        out: &mut Vec<Finding>,
    ) -> Option<String> {
        let python = self.resolution(Sdk::Python);
        let found = python.key().filter(|k| !k.is_empty())?;
        // Check the key itself: padding and quotes are reported by their own findings.
        let key = ApiKey::parse(found.expose()).map(|p| p.key).unwrap_or_else(|_| found.clone());
        // Like `verify`: a key works in one region, so once one accepts it a stalled region
        // gets the grace, not the whole timeout; its answer could change nothing.
        let probes = online
            .prober
            .probe_until(&key, online.targets, Wait::Grace(Wait::VERIFY_GRACE))
            .ok()?;
        let pending: Vec<&str> = probes
            .iter()
            .filter(|p| p.classification == Classification::Pending)
            .map(|p| p.endpoint.region.as_str())
            .collect();
        let waited = if pending.is_empty() {
            String::new()
        } else {
            format!(
                " No answer yet from {} when the check stopped waiting, {} ms after the key was                  accepted (a key works in one region only).",
                pending.join(", "),
                Wait::VERIFY_GRACE.as_millis()
            )
        };
        let stored = self.stored.as_ref().and_then(|stored| stored.get(vars::HTTP_BASE_URL));
        let configured_region = resolve::configured_region(&python.urls, online.targets, stored);
        let stored_region = configured_region.stored.clone();
        let configured = configured_region.id;
        let accepted: Vec<&str> = probes
            .iter()
            .filter(|p| p.classification.is_accepted())
            .map(|p| p.endpoint.region.as_str())
            .collect();
        let configured_accepts = configured.as_deref().map(|c| accepted.contains(&c));
        let name = |region: &str| {
            Region::find(region)
                .map_or_else(|| region.to_string(), |r| format!("{} ({region})", r.name))
        };
        let calls = configured
            .as_deref()
            .map_or_else(|| format!("the endpoint in {}", vars::HTTP_BASE_URL), name);
        let finding = match OnlineVerdict::of(&probes) {
            OnlineVerdict::Accepted if configured_accepts == Some(true) => Finding::new(
                id::REGION_MISMATCH,
                Severity::Ok,
                format!("the key works in {calls}, where the SDKs send it"),
            )
            .detail(format!("Checked {} region(s) online.{waited}", probes.len())),
            OnlineVerdict::Accepted
                if stored_region.as_deref().is_some_and(|stored| accepted.contains(&stored)) =>
            {
                // Stored already: `dashkey region` would answer "nothing changed" (a loop).
                let region = stored_region.as_deref().unwrap_or_default();
                Finding::new(
                    id::REGION_MISMATCH,
                    Severity::Fail,
                    format!(
                        "the key works in {}, where dashkey stored it, but this process calls \
                         {calls}",
                        name(region)
                    ),
                )
                .detail(format!(
                    "This process did not load dashkey's file; {calls} answers 401 Invalid \
                     API-key provided for the key (FAQ scenario 5).{waited}"
                ))
                .fix(self.reload_fix())
            }
            OnlineVerdict::Accepted => {
                let region = accepted.first().copied().unwrap_or_default();
                Finding::new(
                    id::REGION_MISMATCH,
                    Severity::Fail,
                    format!("the key works in {}, but the SDKs call {calls}", name(region)),
                )
                .detail(format!(
                    "A key works in exactly one region; {calls} answers 401 Invalid API-key \
                     provided for it (FAQ scenario 5).{waited}"
                ))
                .fix(format!("dashkey region {region}"))
            }
            OnlineVerdict::Rejected => {
                let coding = if key.kind() == KeyKind::CodingPlan {
                    " (Coding Plan keys work only on the coding hosts)"
                } else {
                    ""
                };
                Finding::new(id::KEY_REJECTED, Severity::Fail, "no region accepts the key")
                    .detail(format!(
                        "Every region that answered rejected {}: it is mistyped, incomplete or \
                         deleted{coding}.",
                        Self::describe_key(&key)
                    ))
                    .fix(
                        "copy the key again from the Model Studio console (API-KEY page), then \
                         dashkey set",
                    )
            }
            OnlineVerdict::Unknown => Finding::new(
                id::REGION_MISMATCH,
                Severity::Info,
                "could not check the key online",
            )
            .detail(
                "No region answered about the key (network, proxy or firewall); nothing is known \
                 to be wrong.",
            )
            .fix("dashkey verify   (later, or with HTTPS_PROXY set)"),
        };
        out.push(finding);
        accepted.first().map(|region| (*region).to_string())
    }
}

/// The findings for one base URL variable; returns the region it names, if any.
fn url_findings(
    name: &str,
    shape: ApiShape,
    url: &str,
    (key_kind, key_plan, key_host): (Option<KeyKind>, Option<Plan>, Option<&str>),
    out: &mut Vec<Finding>,
) -> Option<String> {
    let fail = |title: String, detail: String| {
        Finding::new(id::BASE_URL, Severity::Fail, title).detail(detail)
    };
    let endpoint = match Endpoint::parse(url) {
        Ok(endpoint) => endpoint,
        Err(UrlError::Empty) => {
            out.push(
                fail(
                    format!("{name} is set but empty"),
                    "The Python SDK then calls an empty URL and fails; unset it to use the \
                     default."
                        .to_string(),
                )
                .fix(format!("unset {name}")),
            );
            return None;
        }
        Err(error) => {
            let example = match shape {
                ApiShape::Native => Region::default_region().native_url(),
                ApiShape::WebSocket => Region::default_region().websocket_url(),
                ApiShape::Compatible => Region::default_region().compatible_url(),
            };
            out.push(
                fail(format!("{name} is not a URL"), format!("{error}; for example {example}."))
                    .fix(format!("export {name}='{example}'   (with your region's host)")),
            );
            return None;
        }
    };
    // URLs are never repeated whole: a path or query may hold a pasted secret. Only the
    // scheme, the host and the known API paths are shown.
    let (scheme, host) = (endpoint.scheme.as_str(), endpoint.host.as_str());
    let path = endpoint.shape.map_or("/…", ApiShape::path);
    let secure = if shape == ApiShape::WebSocket { "wss" } else { "https" };
    if scheme != secure {
        if endpoint.is_loopback() && (scheme == "http" || scheme == "ws") {
            out.push(
                Finding::new(
                    id::BASE_URL,
                    Severity::Info,
                    format!("{name} points at a local server ({host})"),
                )
                .detail("Plain http is fine on loopback (a test server or a local gateway)."),
            );
        } else {
            out.push(
                fail(
                    format!("{name} does not use {secure}://"),
                    format!(
                        "It starts with {scheme}://: the key would travel unencrypted or the \
                         connection fails."
                    ),
                )
                .fix(format!("export {name}='{secure}://{host}{path}'")),
            );
        }
    }
    let wrong_api = endpoint.shape.is_some_and(|found| found != shape);
    match endpoint.shape {
        Some(found) if found != shape => {
            let wanted = match shape {
                ApiShape::Native => "the native API (/api/v1)",
                ApiShape::Compatible => "the OpenAI-compatible API (/compatible-mode/v1)",
                ApiShape::WebSocket => "the WebSocket API (/api-ws/v1/inference)",
            };
            out.push(
                fail(
                    format!("{name} points at the {found}"),
                    format!(
                        "{name} must name {wanted}; with the {found} URL every request answers \
                         404 or fails."
                    ),
                )
                .fix(format!("export {name}='{scheme}://{host}{}'", shape.path())),
            );
        }
        None if endpoint.region != HostRegion::Custom => out.push(
            Finding::new(id::BASE_URL, Severity::Warn, format!("{name} has an unexpected path"))
                .detail(format!(
                    "Its path is not {}: requests will not reach the API.",
                    shape.path()
                ))
                .fix(format!("export {name}='{scheme}://{host}{}'", shape.path())),
        ),
        _ => {}
    }
    if endpoint.trailing_slash && !wrong_api {
        out.push(
            Finding::new(id::BASE_URL, Severity::Warn, format!("{name} ends with a slash"))
                .detail(
                    "The Node SDK joins paths onto it and the doubled slash breaks its requests.",
                )
                .fix(format!("export {name}='{scheme}://{host}{path}'   (no slash at the end)")),
        );
    }
    let host_plan = endpoint.region.plan();
    // The plan host of the key's own family (China or international), when this one is the
    // same plan's other one: each family has its own accounts and refuses the other's keys.
    let own_host = match (&endpoint.region, key_kind) {
        (
            HostRegion::Coding { international } | HostRegion::TokenPlan { international },
            Some(KeyKind::CodingPlan),
        ) if host_plan == key_plan => crate::verify::PLAN_HOSTS
            .iter()
            .find(|(id, ..)| Some(*id) == key_host && id.ends_with("-intl") != *international),
        _ => None,
    };
    if let (Some((_, own_name, own, _)), Some(plan)) = (own_host, host_plan) {
        // Only the known paths are repeated (see above), the plan hosts' own included.
        let known = ["", "/v1", "/apps/anthropic"];
        let own_path = match endpoint.shape {
            Some(found) => found.path(),
            None => known
                .into_iter()
                .find(|p| *p == endpoint.path.trim_end_matches('/'))
                .unwrap_or(shape.path()),
        };
        out.push(
            fail(
                format!("{name} is the other {plan} host, but the key is a {own_name} key"),
                format!(
                    "dashkey set found the key accepted on {own}; {host} belongs to the other \
                     family (China or international), which refuses it with 401."
                ),
            )
            .fix(format!("export {name}='https://{own}{own_path}'")),
        );
        return None;
    }
    match (&endpoint.region, key_kind) {
        (HostRegion::TokenPlan { .. }, Some(kind)) if kind != KeyKind::CodingPlan => out.push(
            fail(
                format!("{name} is a Token Plan host, but the key is not a Token Plan key"),
                "Token Plan hosts accept only Token Plan keys (sk-sp-); a pay-as-you-go key gets \
                 401 there."
                    .to_string(),
            )
            .fix(format!("unset {name}   (or use your region's host)")),
        ),
        (_, Some(KeyKind::CodingPlan))
            if host_plan.is_some() && key_plan.is_some() && host_plan != key_plan =>
        {
            let (host, key) = (host_plan.unwrap_or(Plan::Coding), key_plan.unwrap_or(Plan::Token));
            out.push(fail(
                format!("{name} is a {host} host, but the key is a {key} key"),
                format!(
                    "dashkey set found the key accepted on a {key} host; {host} hosts refuse it \
                     with 401, and {key} keys work only on {key} hosts."
                ),
            ));
        }
        (HostRegion::Public { .. } | HostRegion::Workspace { .. }, Some(KeyKind::CodingPlan))
            if key_plan == Some(Plan::Token) =>
        {
            out.push(fail(
                format!("{name} is a pay-as-you-go host, but the key is a Token Plan key"),
                "dashkey set found the key accepted on a Token Plan host; Token Plan keys work \
                 only on token-plan.cn-beijing.maas.aliyuncs.com (or token-plan.ap-southeast-1.), \
                 under /compatible-mode/v1, and standard hosts refuse them with 401."
                    .to_string(),
            ));
        }
        (HostRegion::Coding { .. }, Some(kind)) if kind != KeyKind::CodingPlan => out.push(
            fail(
                format!("{name} is a Coding Plan host, but the key is not a Coding Plan key"),
                "Coding Plan hosts accept only sk-sp- keys; a pay-as-you-go key gets 401 there."
                    .to_string(),
            )
            .fix(format!("unset {name}   (or use your region's host)")),
        ),
        (HostRegion::Public { .. } | HostRegion::Workspace { .. }, Some(KeyKind::CodingPlan)) => {
            out.push(
                fail(
                    format!("{name} is a pay-as-you-go host, but the key is a Coding Plan key"),
                    "Coding Plan keys (sk-sp-) work only on coding.dashscope.aliyuncs.com (or \
                     coding-intl.)."
                        .to_string(),
                )
                .fix(format!(
                    "export {name}='https://coding-intl.dashscope.aliyuncs.com/v1'   (or \
                     coding. for China)"
                )),
            );
        }
        _ => {}
    }
    endpoint.region.region_id().map(str::to_string)
}
