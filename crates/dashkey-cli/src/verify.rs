//! `dashkey verify`: does DashScope accept the key, and in which region?
//!
//! "Invalid API-key provided" most often means a good key sent to the wrong region, and only
//! asking every region tells the two apart. So this command probes them all at once, says
//! which one accepted the key, and when that is not the region the configuration points the
//! SDK at, says so and gives the fix. When no region could be heard (network down, proxy,
//! timeouts) it says it could not tell, exits 3, and never calls the key invalid: a user told
//! that a good key is invalid rotates it for nothing.
//!
//! Both outputs are made from the same typed values (the library's probes and configured
//! region): `--json` serialises them, the text matches on their types (never on the report's
//! strings), so the two never disagree and renaming an id cannot change the text.
//!
//! # `--json` schema (version 1)
//!
//! Fields are only ever added within a version; a removal or change of meaning bumps
//! `schema_version`.
//!
//! ```text
//! {
//!   "schema_version": 1,
//!   "key": {
//!     "masked": "sk-…5b6c",            // never the key itself
//!     "fingerprint": "1a2b3c4d",         // 8 hex digits of SHA-256 of the exact bytes
//!     "kind": "pay-as-you-go" | "coding-plan" | "workspace" | "temporary" | "unknown",
//!     "source": "variable" | "key-file-path" | "default-key-file" | "stdin",
//!     "path": string | null,             // the key file, for file sources
//!     "cleaned": bool                    // surrounding spaces/quotes were removed to check it
//!   },
//!   "configured": {                      // where the Python SDK in this process sends the key
//!     "http_base_url": string,           // the URL that decided
//!     "origin": "default" | "DASHSCOPE_HTTP_BASE_URL",
//!     "region": string | null,           // null: a custom endpoint
//!     "stored_region": string | null     // the region dashkey stored for new shells, if any
//!   },
//!   "timeout_ms": integer,               // per request
//!   "regions": [ {                       // in probe order: built-in table, then config.toml additions
//!     "region": "ap-southeast-1",        // or "custom" for --base-url on an unknown host
//!     "name": "Singapore" | null,
//!     "endpoint": "https://dashscope-intl.aliyuncs.com",
//!     "origin": "builtin" | "config" | "base-url",
//!     "configured": bool,                // the SDK's base URL points at this region
//!     "result": "accepted" | "accepted-restricted" | "accepted-arrears" | "accepted-throttled"
//!             | "rejected" | "server-error" | "unreachable" | "unexpected"
//!             | "pending",                 // no answer yet when the check ended (see "pending" below)
//!     "accepted": bool,                  // one of the accepted-* results
//!     "api": "compatible" | "native",    // which API gave the deciding answer
//!     "url": string,                     // the URL of that request (never contains the key)
//!     "status": integer | null,          // HTTP status, null when none arrived
//!     "code": string | null,             // the service's error code (InvalidApiKey, Arrearage, …)
//!     "message": string | null,          // the service's error message
//!     "request_id": string | null,
//!     "unreachable": "dns" | "connect" | "tls" | "timeout" | "proxy" | null,
//!     "detail": string | null,           // dashkey's sentence for unreachable/unexpected
//!     "elapsed_ms": integer
//!   } ],
//!   "verdict": "accepted" | "rejected" | "unknown",
//!   "accepted_in": [ "ap-southeast-1" ],
//!   "plan": "coding-plan" | "token-plan" | null,   // the plan whose host accepted an sk-sp- key
//!   "configured_region_accepts": bool | null,   // null: the configured region was not probed,
//!                                               // or had not answered yet ("pending")
//!   "fix": "dashkey region ap-southeast-1" | ". \"$HOME/.config/dashkey/env.sh\"" | null,
//!   "pending": [ "us-east-1" ]           // regions still silent when the check stopped waiting,
//!                                        // 400 ms after the first acceptance (empty with --wait-all)
//! }
//! ```

use std::io::{IsTerminal, Read};

use anyhow::anyhow;
use dashkey::key::{KeyKind, KeyNote, MAX_KEY_LEN, ValueProblem};
use dashkey::region::ApiShape;
use dashkey::region::config::ConfigError;
use dashkey::region::{EndpointOrigin, RegionEndpoint};
use dashkey::resolve::{self, ConfiguredRegion, Lookup, RegionOrigin, Resolution, Source};
use dashkey::verify::{Classification, HttpSettings, OnlineVerdict, Probe, Prober, Wait};
use dashkey::{ApiKey, Config, Platform};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cli::VerifyArgs;
use crate::exit::{Exit, Failure, Outcome};
use crate::output::{self, BOLD, DIM, FAIL, OK, WARN, paint};
use crate::spinner::Spinner;

/// Version of the `--json` document. Bumped only on incompatible changes.
const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Report {
    schema_version: u32,
    key: KeyReport,
    configured: ConfiguredReport,
    timeout_ms: u64,
    regions: Vec<RegionReport>,
    verdict: &'static str,
    accepted_in: Vec<String>,
    plan: Option<dashkey::region::Plan>,
    configured_region_accepts: Option<bool>,
    fix: Option<String>,
    pending: Vec<String>,
}

#[derive(Serialize)]
struct KeyReport {
    masked: String,
    fingerprint: String,
    kind: KeyKind,
    source: &'static str,
    path: Option<String>,
    cleaned: bool,
}

#[derive(Serialize)]
struct ConfiguredReport {
    http_base_url: String,
    origin: String,
    region: Option<String>,
    stored_region: Option<String>,
}

#[derive(Serialize)]
struct RegionReport {
    region: String,
    name: Option<String>,
    endpoint: String,
    origin: &'static str,
    configured: bool,
    result: &'static str,
    accepted: bool,
    api: ApiShape,
    url: String,
    status: Option<u16>,
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
    unreachable: Option<&'static str>,
    detail: Option<String>,
    elapsed_ms: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Notice {
    Note,
    Warning,
}

/// The key to check and where it came from.
struct Candidate {
    key: ApiKey,
    source: &'static str,
    path: Option<String>,
    /// Shown before checking: what was cleaned (notes) and what is odd (warnings).
    notices: Vec<(Notice, String)>,
    cleaned: bool,
}

pub fn run(platform: &Platform, args: &VerifyArgs) -> Outcome {
    let config = Config::load(platform).map_err(config_failure)?;
    for ignored in config.ignored() {
        let file = config.path().map(|p| output::show_path(platform, p)).unwrap_or_default();
        anstream::eprintln!(
            "{} {file}: ignoring [{ignored}], which this version of dashkey does not know",
            paint(WARN, "warning:")
        );
    }
    let settings = HttpSettings::from_platform(platform).map_err(usage)?;
    // A bad workspace id stops before the key is read, as in `set`.
    let workspace = match args.workspace.as_deref() {
        Some(id) => Some(dashkey::region::WorkspaceId::parse(id).map_err(usage)?),
        None => None,
    };
    // A profile chosen by --profile or a link file is checked as `dashkey run` hands it over.
    let chosen = if args.stdin {
        None
    } else {
        crate::profiles::overlay(platform, args.profile.as_deref())?
    };
    if let Some((_, choice)) = &chosen {
        anstream::eprintln!(
            "note: checking the profile {}",
            crate::profiles::why(platform, choice)
        );
    }
    let platform = chosen.as_ref().map_or(platform, |(overlaid, _)| overlaid);
    let resolution = resolve::python(platform);
    let candidate = if args.stdin { from_stdin()? } else { from_sdk(platform, &resolution)? };
    for (notice, text) in &candidate.notices {
        match notice {
            Notice::Note => anstream::eprintln!("note: {text}"),
            Notice::Warning => anstream::eprintln!("{} {text}", paint(WARN, "warning:")),
        }
    }

    let all = config.endpoints();
    let targets = match (&args.region, &args.base_url) {
        (Some(region), _) if let Some(workspace) = &workspace => {
            vec![config.workspace_endpoint(region, workspace).map_err(usage)?]
        }
        (None, None) if let Some(workspace) = &workspace => config.workspace_endpoints(workspace),
        (Some(region), _) => vec![config.find(region).map_err(|unknown| {
            let shown = match &unknown.asked {
                Some(id) => format!("{id:?}"),
                None => crate::set::shown_region(&unknown),
            };
            usage(anyhow!("unknown region {shown}; known regions: {}", unknown.known.join(", ")))
        })?],
        (None, Some(url)) => {
            vec![
                RegionEndpoint::from_base_url(url)
                    .map_err(|e| usage(anyhow!("--base-url: {e}")))?,
            ]
        }
        // An sk-sp- key works only on its plan's hosts (Coding Plan or Token Plan), and they
        // refuse every other key.
        (None, None) if candidate.key.kind() == KeyKind::CodingPlan => {
            dashkey::verify::plan_endpoints(config.regions())
        }
        (None, None) => match workspace_of(platform, &candidate.key) {
            // A workspace key is checked where the SDKs send it: its workspace's hosts.
            Some(workspace) => config.workspace_endpoints(&workspace),
            None => all.iter().filter(|t| dashkey::verify::plan_of(t).is_none()).cloned().collect(),
        },
    };
    // The process is judged, not what new terminals will load; the stored region is kept
    // beside it so that the fix can be "load it" rather than "store it again".
    let stored = match &chosen {
        Some((_, choice)) => choice.profile.as_ref().map(|p| p.stored.clone()),
        None => dashkey::store::load_stored(platform).ok().flatten(),
    };
    let stored_url = stored.as_ref().and_then(|stored| stored.get(dashkey::vars::HTTP_BASE_URL));
    let configured = resolve::configured_region(&resolution.urls, &all, stored_url);

    let what = match targets.as_slice() {
        [one] => format!("asking {} about the key…", one.display_name()),
        many => format!("asking {} regions about the key…", many.len()),
    };
    let spinner = Spinner::start(what);
    let wait = if args.wait_all { Wait::All } else { Wait::Grace(Wait::VERIFY_GRACE) };
    let probes = Prober::new(settings).probe_until(&candidate.key, &targets, wait);
    drop(spinner);
    let probes = probes.map_err(|e| Failure { exit: Exit::Problem, error: e.into() })?;

    let load = dashkey::store::load_command(platform);
    let checked = Checked::of(&candidate, &configured, &probes, load);
    if args.json {
        output::print_json(&checked.report(settings))?;
    } else {
        checked.render(platform);
    }
    Ok(match OnlineVerdict::of(&probes) {
        OnlineVerdict::Accepted => Exit::Ok,
        OnlineVerdict::Rejected => Exit::Problem,
        OnlineVerdict::Unknown => Exit::Io,
    })
}

/// The workspace the key is for: the one this process names for the 1.x surface
/// (`DASHSCOPE_WORKSPACE_ID`) or `Client()` (`DASHSCOPE_WORKSPACE`), else the one stored with
/// this very key.
fn workspace_of(platform: &Platform, key: &ApiKey) -> Option<dashkey::region::WorkspaceId> {
    let named = [dashkey::vars::WORKSPACE_ID, dashkey::vars::WORKSPACE]
        .into_iter()
        .find_map(|name| platform.var_non_empty(name))
        .map(str::to_string);
    let stored = || {
        let record = dashkey::edit::record::Record::load(&platform.dashkey_dir()?).ok()??;
        (record.fingerprint.as_deref() == Some(&key.fingerprint()))
            .then_some(record.workspace)
            .flatten()
    };
    dashkey::region::WorkspaceId::parse(&named.or_else(stored)?).ok()
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

fn usage(error: impl Into<anyhow::Error>) -> Failure {
    Failure { exit: Exit::Usage, error: error.into() }
}

fn config_failure(error: ConfigError) -> Failure {
    let exit = match error {
        ConfigError::Read { .. } => Exit::Io,
        ConfigError::Parse { .. } | ConfigError::RegionId { .. } | ConfigError::Endpoint { .. } => {
            Exit::Usage
        }
    };
    Failure { exit, error: error.into() }
}

/// The key piped on standard input, read with a bound and parsed like a paste.
fn from_stdin() -> Result<Candidate, Failure> {
    if std::io::stdin().is_terminal() {
        return Err(usage(anyhow!(
            "--stdin reads a piped key, and standard input is a terminal (typing there would \
             show the key): pipe it, for example\n  printf '%s' \"$KEY\" | dashkey verify --stdin"
        )));
    }
    let mut input = Zeroizing::new(Vec::new());
    std::io::stdin().lock().take(MAX_KEY_LEN as u64 + 1).read_to_end(&mut input).map_err(|e| {
        Failure { exit: Exit::Io, error: anyhow!("cannot read standard input: {e}") }
    })?;
    if input.len() > MAX_KEY_LEN {
        return Err(usage(anyhow!(
            "standard input holds more than {MAX_KEY_LEN} bytes, far more than an API key: \
             pipe only the key itself"
        )));
    }
    let text = std::str::from_utf8(&input)
        .map_err(|_| usage(anyhow!("standard input is not text: pipe only the key itself")))?;
    let parsed = ApiKey::parse(text).map_err(|e| usage(output::key_error(e)))?;
    Ok(Candidate {
        key: parsed.key,
        source: "stdin",
        path: None,
        notices: parsed
            .notes
            .iter()
            .map(|note| {
                let notice =
                    if *note == KeyNote::UnknownPrefix { Notice::Warning } else { Notice::Note };
                (notice, note.to_string())
            })
            .collect(),
        cleaned: false,
    })
}

/// The key the Python SDK would send from this environment. A value with padding or quotes
/// is checked cleaned, with a warning, because the question is whether the *key* is good.
fn from_sdk(platform: &Platform, resolution: &Resolution) -> Result<Candidate, Failure> {
    let (key, source) = match &resolution.outcome {
        Lookup::Found { key, source } => (key, source),
        Lookup::Missing | Lookup::Failed { .. } => {
            let exit = match resolution.outcome {
                Lookup::Failed { .. } => Exit::Io,
                _ => Exit::Problem,
            };
            let error = resolution.clone().into_result().err().map_or_else(
                || anyhow!("no API key found"),
                |e| anyhow!("{e}\n  Set one (dashkey set), or check one with: printf '%s' \"$KEY\" | dashkey verify --stdin"),
            );
            return Err(Failure { exit, error });
        }
    };
    let (place, path) = match source {
        Source::Variable => ("variable", None),
        Source::FilePathVariable { path } => ("key-file-path", path.clone()),
        Source::DefaultFile { path } => ("default-key-file", Some(path.clone())),
    };
    let shown = match &path {
        Some(path) => output::show_path(platform, path),
        None => source.to_string(),
    };
    let problems = key.problems();
    if problems.is_empty() {
        return Ok(Candidate {
            key: key.clone(),
            source: place,
            path: path.map(|p| p.display().to_string()),
            notices: Vec::new(),
            cleaned: false,
        });
    }
    if key.is_empty() {
        return Err(Failure {
            exit: Exit::Problem,
            error: anyhow!(
                "the Python SDK would send an empty key, from {shown}: set a real one (dashkey set)"
            ),
        });
    }
    match ApiKey::parse(key.expose()) {
        Ok(parsed) => {
            let padding: Vec<String> = problems
                .iter()
                .filter(|p| {
                    matches!(
                        p,
                        ValueProblem::SurroundingWhitespace
                            | ValueProblem::ByteOrderMark
                            | ValueProblem::Quoted
                    )
                })
                .map(ToString::to_string)
                .collect();
            let cleaned = !padding.is_empty();
            let mut notices = Vec::new();
            if cleaned {
                notices.push((
                    Notice::Warning,
                    format!(
                        "in {shown}, {}: the SDK sends the value as it is, which can fail; \
                     checking the key without them (fix the stored value with dashkey set)",
                        padding.join(", ")
                    ),
                ));
            }
            let odd = parsed.notes.iter().filter(|note| **note == KeyNote::UnknownPrefix);
            notices.extend(odd.map(|note| (Notice::Warning, note.to_string())));
            Ok(Candidate {
                key: parsed.key,
                source: place,
                path: path.map(|p| p.display().to_string()),
                notices,
                cleaned,
            })
        }
        Err(error) => Err(Failure {
            exit: Exit::Problem,
            error: anyhow!(
                "the key the Python SDK would use, from {shown}, cannot work: {}",
                output::key_error(error)
            ),
        }),
    }
}

/// The check's typed result: what both the JSON report and the text are made from.
struct Checked<'a> {
    candidate: &'a Candidate,
    configured: &'a ConfiguredRegion,
    probes: &'a [Probe],
    verdict: OnlineVerdict,
    /// The configured region's answer, when it was probed.
    configured_accepts: Option<bool>,
    /// The command that points programs at the region that accepted the key.
    fix: Option<String>,
}

impl<'a> Checked<'a> {
    fn of(
        candidate: &'a Candidate,
        configured: &'a ConfiguredRegion,
        probes: &'a [Probe],
        load: Option<String>,
    ) -> Checked<'a> {
        // A configured region that had not answered yet is not known to accept or reject.
        let configured_accepts = probes
            .iter()
            .find(|probe| is_configured(probe, configured))
            .filter(|probe| probe.classification != Classification::Pending)
            .map(accepted);
        // A plan host is no region the SDK could be pointed at: no `dashkey region` fix.
        let first = probes
            .iter()
            .find(|probe| accepted(probe) && dashkey::verify::plan_of(&probe.endpoint).is_none())
            .map(|p| &p.endpoint.region);
        let fix = match (first, configured_accepts) {
            (_, Some(true)) => None,
            // Stored already: `dashkey region` would change nothing; this process must load it.
            (Some(region), _) if configured.stored.as_ref() == Some(region) => load,
            (Some(region), _) if region != "custom" => Some(format!("dashkey region {region}")),
            _ => None,
        };
        Checked {
            candidate,
            configured,
            probes,
            verdict: OnlineVerdict::of(probes),
            configured_accepts,
            fix,
        }
    }

    /// The stored region, when it accepted the key and this process calls another.
    fn stored_elsewhere(&self) -> Option<&str> {
        let stored = self.configured.stored.as_deref()?;
        let accepted = self.accepted().any(|probe| probe.endpoint.region == stored);
        (accepted && self.configured.stored_not_loaded()).then_some(stored)
    }

    fn accepted(&self) -> impl Iterator<Item = &'a Probe> + use<'a> {
        self.probes.iter().filter(|probe| accepted(probe))
    }

    fn pending(&self) -> impl Iterator<Item = &'a Probe> + use<'a> {
        self.probes.iter().filter(|probe| probe.classification == Classification::Pending)
    }

    fn report(&self, settings: HttpSettings) -> Report {
        let candidate = self.candidate;
        Report {
            schema_version: SCHEMA_VERSION,
            key: KeyReport {
                masked: candidate.key.mask(),
                fingerprint: candidate.key.fingerprint(),
                kind: candidate.key.kind(),
                source: candidate.source,
                path: candidate.path.clone(),
                cleaned: candidate.cleaned,
            },
            configured: ConfiguredReport {
                http_base_url: self.configured.url.clone(),
                origin: match self.configured.origin {
                    RegionOrigin::Variable(name) => name.to_string(),
                    RegionOrigin::Default => "default".to_string(),
                },
                region: self.configured.id.clone(),
                stored_region: self.configured.stored.clone(),
            },
            timeout_ms: u64::try_from(settings.timeout.as_millis()).unwrap_or(u64::MAX),
            regions: self.probes.iter().map(|probe| self.region_report(probe)).collect(),
            verdict: self.verdict.id(),
            accepted_in: self.accepted().map(|probe| probe.endpoint.region.clone()).collect(),
            plan: self.accepted().find_map(|probe| dashkey::verify::plan_of(&probe.endpoint)),
            configured_region_accepts: self.configured_accepts,
            fix: self.fix.clone(),
            pending: self.pending().map(|probe| probe.endpoint.region.clone()).collect(),
        }
    }

    fn region_report(&self, probe: &Probe) -> RegionReport {
        let classification = &probe.classification;
        let answer = classification.answer();
        let unreachable = match classification {
            Classification::Unreachable { kind, .. } => Some(kind.id()),
            _ => None,
        };
        RegionReport {
            region: probe.endpoint.region.clone(),
            name: probe.endpoint.name.clone(),
            endpoint: probe.endpoint.base.clone(),
            origin: match probe.endpoint.origin {
                EndpointOrigin::Builtin => "builtin",
                EndpointOrigin::Config { .. } => "config",
                EndpointOrigin::BaseUrl => "base-url",
            },
            configured: is_configured(probe, self.configured),
            result: classification.id(),
            accepted: classification.is_accepted(),
            api: probe.api,
            url: probe.url.clone(),
            status: classification.status(),
            code: answer.map(|a| a.code.clone()),
            message: answer.map(|a| a.message.clone()),
            request_id: answer.and_then(|a| a.request_id.clone()),
            unreachable,
            detail: detail(classification),
            elapsed_ms: millis(probe),
        }
    }

    fn render(&self, platform: &Platform) {
        let candidate = self.candidate;
        let from = match (&candidate.path, candidate.source) {
            (_, "stdin") => "standard input".to_string(),
            (Some(path), _) => output::show_path(platform, path.as_ref()),
            (None, _) => dashkey::vars::API_KEY.to_string(),
        };
        let calls = match &self.configured.id {
            Some(region) => format!("the Python SDK here calls {region}"),
            None => format!("the Python SDK here calls {}", self.configured.url),
        };
        anstream::println!(
            "{} {} {}",
            paint(BOLD, "Checking"),
            candidate.key.mask(),
            paint(DIM, format!("from {from}; {calls}"))
        );
        let width = self.probes.iter().map(|p| p.endpoint.region.len()).max().unwrap_or(0).max(14);
        let name_width = self
            .probes
            .iter()
            .map(|p| p.endpoint.name.as_deref().unwrap_or("").chars().count())
            .max()
            .unwrap_or(0);
        let rows: Vec<(&str, &str, String)> = self.probes.iter().map(row).collect();
        let result_width = rows.iter().map(|(_, result, _)| result.chars().count()).max();
        let result_width = result_width.unwrap_or(0);
        for (probe, (mark, result, said)) in self.probes.iter().zip(rows) {
            let style = match &probe.classification {
                c if c.is_accepted() => OK,
                Classification::Rejected(_) => FAIL,
                _ => WARN,
            };
            let said =
                if said.is_empty() { String::new() } else { format!("  {}", paint(DIM, said)) };
            let here = if is_configured(probe, self.configured) {
                paint(BOLD, "  ← configured")
            } else {
                String::new()
            };
            anstream::println!(
                "  {} {:<width$}  {:<name_width$}  {}  {}{said}{here}",
                paint(style, mark),
                probe.endpoint.region,
                probe.endpoint.name.as_deref().unwrap_or(""),
                paint(style, format!("{result:<result_width$}")),
                paint(DIM, format!("{:>5} ms", millis(probe))),
            );
        }
        anstream::println!();
        self.conclude();
        let pending: Vec<&str> = self.pending().map(|p| p.endpoint.region.as_str()).collect();
        if !pending.is_empty() {
            anstream::println!(
                "  {}",
                paint(
                    DIM,
                    format!(
                        "Stopped waiting {} ms after the key was accepted; no answer yet from {} \
                         (dashkey verify --wait-all waits for every region).",
                        Wait::VERIFY_GRACE.as_millis(),
                        pending.join(", ")
                    )
                )
            );
        }
    }

    fn conclude(&self) {
        match self.verdict {
            OnlineVerdict::Accepted => self.conclude_accepted(),
            OnlineVerdict::Rejected => self.conclude_rejected(),
            OnlineVerdict::Unknown => {
                let count = |is: fn(&Classification) -> bool| {
                    self.probes.iter().filter(|p| is(&p.classification)).count()
                };
                anstream::println!(
                    "{} Could not tell whether the key works: no region answered about it \
                     ({} unreachable, {} failing, {} answering unexpectedly).",
                    paint(WARN, "?"),
                    count(|c| matches!(c, Classification::Unreachable { .. })),
                    count(|c| matches!(c, Classification::ServerError { .. })),
                    count(|c| matches!(c, Classification::Unexpected { .. })),
                );
                anstream::println!(
                    "  Nothing is known to be wrong with the key. Check the network, proxy \
                     (HTTPS_PROXY) or firewall, then run dashkey verify again."
                );
            }
        }
    }

    fn conclude_accepted(&self) {
        let names: Vec<String> = self.accepted().map(|p| label(&p.endpoint)).collect();
        anstream::println!("{} The key works in {}.", paint(OK, "✓"), names.join(", "));
        for probe in self.accepted() {
            let caveat = match probe.classification {
                Classification::AcceptedRestricted(_) => {
                    "it may not call every model (403 AccessDenied): \
                     check the key's permissions in the console"
                }
                Classification::AcceptedArrears(_) => {
                    "the account is overdue (Arrearage): calls fail until it is topped up"
                }
                Classification::AcceptedThrottled(_) => {
                    "it is over its rate limit right now (429); calls will work again shortly"
                }
                _ => continue,
            };
            anstream::println!("  {} In {}, {caveat}.", paint(WARN, "!"), probe.endpoint.region);
        }
        if let Some(coding) = self.accepted().find(|p| dashkey::verify::is_coding(&p.endpoint)) {
            anstream::println!(
                "  It is a Coding Plan key: coding agents take it with the base URL {}/v1 \
                 (OpenAI-compatible) or {}/apps/anthropic (Anthropic); the SDK's regions refuse it.",
                coding.endpoint.base,
                coding.endpoint.base
            );
        }
        let token = self
            .accepted()
            .find(|p| dashkey::verify::plan_of(&p.endpoint) == Some(dashkey::region::Plan::Token));
        if let Some(token) = token {
            anstream::println!(
                "  It is a Token Plan key: OpenAI-style clients take it with the base URL \
                 {}/compatible-mode/v1; the SDK's regions and the Coding Plan hosts refuse it.",
                token.endpoint.base
            );
        }
        let who = "the Python SDK is configured for";
        match (&self.fix, self.configured_accepts, &self.configured.id) {
            (Some(fix), Some(false), Some(configured)) => {
                let label = self
                    .probes
                    .iter()
                    .find(|p| p.endpoint.region == *configured)
                    .map_or_else(|| configured.clone(), |p| label(&p.endpoint));
                anstream::println!(
                    "{} But {who} {label}, which rejects it: \
                     programs fail there with \"Invalid API-key provided\".",
                    paint(WARN, "!")
                );
                anstream::println!("  Fix: {}", paint(BOLD, fix));
                if let Some(stored) = self.stored_elsewhere() {
                    anstream::println!(
                        "  dashkey already stored {stored} for new shells; this process did not \
                         load it (or start programs with: dashkey run -- <command>)."
                    );
                }
            }
            (Some(fix), None, Some(configured))
                if self.pending().any(|p| p.endpoint.region == *configured) =>
            {
                let label = self
                    .pending()
                    .find(|p| p.endpoint.region == *configured)
                    .map_or_else(|| configured.clone(), |p| label(&p.endpoint));
                anstream::println!(
                    "{} But {who} {label}, which had not answered when the check ended; \
                     a key works in one region only.",
                    paint(WARN, "!")
                );
                anstream::println!("  Fix: {}", paint(BOLD, fix));
            }
            (Some(fix), None, configured) => {
                let where_ = configured.as_deref().map_or_else(
                    || self.configured.url.clone(),
                    |region| format!("region {region}"),
                );
                anstream::println!(
                    "{} {} {where_}, which was not checked here.",
                    paint(WARN, "!"),
                    capitalize(who)
                );
                anstream::println!(
                    "  To use the region that accepted the key: {}",
                    paint(BOLD, fix)
                );
            }
            _ => {
                if self.configured_accepts == Some(true) {
                    anstream::println!("  That is the region {who}.");
                }
            }
        }
    }

    fn conclude_rejected(&self) {
        let unheard: Vec<String> = self
            .probes
            .iter()
            .filter(|p| !accepted(p) && !p.classification.is_rejected())
            .map(|p| format!("{} ({})", p.endpoint.region, p.classification.id()))
            .collect();
        if let [only] = self.probes {
            anstream::println!(
                "{} {} rejected the key. Other regions were not checked: \
                 run dashkey verify without --region/--base-url to check them all.",
                paint(FAIL, "✗"),
                label(&only.endpoint)
            );
        } else {
            anstream::println!(
                "{} No region accepted the key: every region that answered rejected it.",
                paint(FAIL, "✗")
            );
        }
        if !unheard.is_empty() {
            anstream::println!(
                "  Not heard from: {}. The key may belong there: run dashkey verify again later.",
                unheard.join(", ")
            );
        }
        if self.candidate.key.kind() == KeyKind::CodingPlan {
            anstream::println!(
                "  This is a Coding Plan or Token Plan key (sk-sp-): it works only on that plan's \
                 hosts (coding.dashscope.aliyuncs.com, coding-intl.dashscope.aliyuncs.com; \
                 token-plan.cn-beijing.maas.aliyuncs.com, \
                 token-plan.ap-southeast-1.maas.aliyuncs.com)."
            );
        } else {
            anstream::println!(
                "  Copy the key again from the Model Studio console (API-KEY page): \
                 it may be mistyped, incomplete or deleted."
            );
        }
    }
}

fn accepted(probe: &Probe) -> bool {
    probe.classification.is_accepted()
}

fn is_configured(probe: &Probe, configured: &ConfiguredRegion) -> bool {
    configured.id.as_deref() == Some(probe.endpoint.region.as_str())
}

fn millis(probe: &Probe) -> u64 {
    u64::try_from(probe.elapsed.as_millis()).unwrap_or(u64::MAX)
}

fn label(endpoint: &RegionEndpoint) -> String {
    match &endpoint.name {
        Some(name) => format!("{name} ({})", endpoint.region),
        None => endpoint.region.clone(),
    }
}

/// dashkey's sentence for an answer that says nothing about the key.
fn detail(classification: &Classification) -> Option<String> {
    match classification {
        Classification::Unreachable { detail, .. } | Classification::Unexpected { detail, .. } => {
            Some(detail.clone())
        }
        Classification::ServerError { status } => {
            Some(format!("HTTP {status}: the service failed and said nothing about the key"))
        }
        Classification::Pending => {
            Some("still waiting when another region accepted the key".to_string())
        }
        _ => None,
    }
}

/// One region's line: mark, result, and what the service (or the network) said.
fn row(probe: &Probe) -> (&'static str, &'static str, String) {
    let classification = &probe.classification;
    let (mark, result) = match classification {
        Classification::Accepted => ("✓", "accepted"),
        Classification::AcceptedRestricted(_) => ("✓", "accepted, but restricted"),
        Classification::AcceptedArrears(_) => ("✓", "accepted, but the account is overdue"),
        Classification::AcceptedThrottled(_) => ("✓", "accepted, but throttled"),
        Classification::Rejected(_) => ("✗", "rejected"),
        Classification::ServerError { .. } => ("?", "server error"),
        Classification::Unreachable { .. } => ("?", "unreachable"),
        Classification::Unexpected { .. } => ("?", "unexpected answer"),
        Classification::Pending => ("…", "no answer yet"),
    };
    let status = classification.status().map(|s| format!("{s} ")).unwrap_or_default();
    let said = match (classification.answer(), detail(classification)) {
        (Some(answer), _) if !answer.message.trim().is_empty() => {
            format!("{status}{}: {}", answer.code, answer.message.trim())
        }
        (Some(answer), _) => format!("{status}{}", answer.code),
        (None, Some(detail)) => detail,
        (None, None) => String::new(),
    };
    (mark, result, said)
}

#[cfg(test)]
mod tests {
    #[test]
    fn api_shape_serializes_as_documented() {
        let value = serde_json::to_value(dashkey::region::ApiShape::Compatible).unwrap();
        assert_eq!(value, "compatible");
        let kind = serde_json::to_value(dashkey::KeyKind::PayAsYouGo).unwrap();
        assert_eq!(kind, "pay-as-you-go");
    }

    #[test]
    fn the_help_states_the_grace_in_force() {
        use clap::CommandFactory;
        let mut cli = crate::cli::Cli::command();
        let verify = cli.find_subcommand_mut("verify").unwrap();
        let help = verify.render_long_help().to_string();
        let grace = format!("{} ms", dashkey::verify::Wait::VERIFY_GRACE.as_millis());
        assert!(help.contains(&grace), "{help}");
    }
}
