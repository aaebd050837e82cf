//! `dashkey status`: every copy of the key, and which one each SDK would use.
//!
//! Both outputs are made from the same typed values (the library's copies, resolutions and
//! record): the JSON report serialises them, the text renders them by matching on their
//! types, never on the report's strings, so renaming an id cannot change the text.

use dashkey::edit::record::{Record, RecordProblem};
use dashkey::resolve::{
    self, BaseUrl, Candidate, CandidateVerdict, Lookup, Resolution, Sdk, Source, UrlOrigin,
};
use dashkey::store::{self, CopyState, KeyCopy, PlaceKind, PlaceProblem};
use dashkey::{ApiKey, Endpoint, Platform, vars};
use serde::Serialize;

use crate::cli::StatusArgs;
use crate::exit::{Exit, Outcome};
use crate::output::{self, BOLD, DIM, FAIL, OK, WARN, paint};

/// Version of the `--json` document. Bumped only on incompatible changes.
const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Report {
    schema_version: u32,
    stored: Option<StoredReport>,
    /// Why dashkey's record cannot be used, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    record_problem: Option<String>,
    copies: Vec<CopyReport>,
    sdks: Vec<SdkReport>,
    all_found: bool,
    /// The region's copy in the 2.0 SDK's `~/.dashscope/config.toml`, when it holds a
    /// `base_url` (dashkey's or the user's).
    sdk_config: Option<SdkConfigReport>,
    /// The region the key works in, as far as dashkey knows (see `contexts.rs`).
    key_region: Option<crate::contexts::KeyRegionReport>,
    /// The launch-context matrix (see `contexts.rs`).
    contexts: Vec<crate::contexts::ContextReport>,
    /// The profile that applies here when it is not simply the one in use: `--profile`, or a
    /// link file (see `profiles::here`).
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<serde_json::Value>,
    /// What each client of the catalogue would send from here (see `clients.rs`); only the
    /// one asked for with `--client`.
    clients: Vec<crate::clients::ClientReport>,
}

/// The `base_url` in `~/.dashscope/config.toml`, which `dashscope.Client()` reads when no
/// variable names a base URL.
#[derive(Serialize)]
struct SdkConfigReport {
    path: String,
    base_url: String,
}

/// What `dashkey set` stored, from its record: what new terminals will load.
#[derive(Serialize)]
struct StoredReport {
    region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workspace: Option<String>,
    /// The Coding Plan key new terminals get as `BAILIAN_CODING_PLAN_API_KEY`, masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    coding_plan_key: Option<ValueReport>,
    openai_compatible: bool,
    fingerprint: Option<String>,
    written_at: u64,
    files: Vec<String>,
    services: Vec<String>,
}

#[derive(Serialize)]
struct CopyReport {
    place: &'static str,
    label: String,
    path: Option<String>,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(flatten)]
    value: Option<ValueReport>,
    mode: Option<String>,
    used_by: Vec<&'static str>,
    problems: Vec<ProblemReport>,
}

#[derive(Serialize)]
struct ValueReport {
    masked: String,
    fingerprint: String,
    kind: dashkey::KeyKind,
    length: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
}

#[derive(Serialize)]
struct ProblemReport {
    id: &'static str,
    message: String,
}

#[derive(Serialize)]
struct SdkReport {
    sdk: &'static str,
    name: &'static str,
    outcome: &'static str,
    found: bool,
    source: Option<SourceReport>,
    #[serde(flatten)]
    value: Option<ValueReport>,
    error: Option<String>,
    failure: Option<dashkey::resolve::ReadFailure>,
    candidates: Vec<CandidateReport>,
    base_urls: UrlsReport,
    region: Option<String>,
}

#[derive(Serialize)]
struct SourceReport {
    place: &'static str,
    path: Option<String>,
}

#[derive(Serialize)]
struct CandidateReport {
    place: &'static str,
    path: Option<String>,
    verdict: &'static str,
    reason: Option<String>,
}

#[derive(Serialize)]
struct UrlsReport {
    http: UrlReport,
    websocket: UrlReport,
    compatible: Option<UrlReport>,
}

#[derive(Serialize)]
struct UrlReport {
    url: String,
    origin: String,
    region: Option<String>,
    api: Option<dashkey::region::ApiShape>,
}

pub fn run(platform: &Platform, args: &StatusArgs) -> Outcome {
    let only = args.client.as_deref().map(crate::clients::find).transpose()?;
    let status = Status::read(platform);
    // A write killed half-way is completed by the next command that takes the lock.
    for (file, journal) in
        platform.dashkey_dir().map(|d| dashkey::edit::fsx::pending_journals(&d)).unwrap_or_default()
    {
        let file = file.map_or_else(|| "a file".to_string(), |f| output::show_path(platform, &f));
        anstream::eprintln!(
            "{} {file} has a pending recovery (a dashkey was stopped while writing it; its old \
             content is in {}): any `dashkey set`, `unset` or `region` completes it first",
            paint(WARN, "!"),
            output::show_path(platform, &journal)
        );
    }
    let here = crate::profiles::here(platform, args.profile.as_deref());
    let matrix = crate::contexts::matrix(platform);
    // The clients are shown only with `--client` or in JSON; the plain text does not list
    // them, so it does not pay for resolving every one (a sixth of its instructions).
    let clients = match (only, args.json) {
        (None, false) => Vec::new(),
        _ => crate::clients::resolve(platform, only, matrix.key_region.as_deref()),
    };
    if let (Some(_), false) = (only, args.json) {
        crate::clients::render(platform, &clients[0]);
        return Ok(if clients[0].works() { Exit::Ok } else { Exit::Problem });
    }
    if args.json {
        let mut report = status.report(platform, args.reveal);
        report.key_region = Some(crate::contexts::key_region(&matrix));
        report.contexts = crate::contexts::report(platform, &matrix);
        report.clients = crate::clients::report(&clients);
        report.profile = here.map(|(_, _, json)| json);
        output::print_json(&report)?;
        if only.is_some() {
            return Ok(if clients[0].works() { Exit::Ok } else { Exit::Problem });
        }
    } else {
        // One buffer, one write: a write through `anstream` per line costs more than the
        // rest of the text together.
        let mut out = String::with_capacity(4096);
        status.render(&mut out, platform, args.reveal);
        if let Some((line, problem, _)) = &here {
            let mark = if *problem { paint(WARN, "!") } else { paint(OK, "→") };
            outln!(out, "  {mark} {line}");
        }
        crate::contexts::render(&mut out, platform, &matrix);
        output::print(&out)?;
    }
    Ok(if status.all_found() { Exit::Ok } else { Exit::Problem })
}

/// What `status` found, as the library's typed values: the JSON report and the text are
/// both made from it.
struct Status {
    copies: Vec<KeyCopy>,
    resolutions: Vec<Resolution>,
    /// The region each SDK (in `resolutions` order) would call from this environment.
    regions: Vec<Option<String>>,
    record: Option<Record>,
    record_problem: Option<RecordProblem>,
}

impl Status {
    fn read(platform: &Platform) -> Status {
        let (record, record_problem) =
            platform.dashkey_dir().map_or((None, None), |dir| Record::inspect(&dir));
        let copies = store::scan_recorded(platform, record.as_ref());
        let resolutions: Vec<Resolution> =
            Sdk::ALL.iter().map(|&sdk| resolve::resolve(sdk, platform)).collect();
        // An unreadable config.toml is `verify`'s and `set`'s to report; here the built-in
        // table still names the regions.
        let endpoints = dashkey::Config::load(platform).unwrap_or_default().endpoints();
        let regions = resolutions
            .iter()
            .map(|r| resolve::configured_region(&r.urls, &endpoints, None).id)
            .collect();
        Status { copies, resolutions, regions, record, record_problem }
    }

    fn found(resolution: &Resolution) -> bool {
        resolution.key().is_some_and(|key| !key.is_empty())
    }

    fn all_found(&self) -> bool {
        self.resolutions.iter().all(Status::found)
    }

    /// Why dashkey's record cannot be used, when it cannot.
    fn record_problem(&self, platform: &Platform) -> Option<String> {
        self.record_problem.as_ref().map(|problem| {
            format!(
                "{}: {}, so dashkey does not use it; `dashkey unset` finds dashkey's files \
                 without it, and `dashkey set` writes a new one",
                output::show_path(platform, &problem.path),
                problem.kind
            )
        })
    }

    fn report(&self, platform: &Platform, reveal: bool) -> Report {
        let record_problem = self.record_problem(platform);
        let stored = self.record.as_ref().map(|record| StoredReport {
            region: record.region.clone(),
            workspace: record.workspace.clone(),
            coding_plan_key: coding_plan_key(platform).map(|key| value_report(&key, reveal)),
            openai_compatible: record.openai_compatible,
            fingerprint: record.fingerprint.clone(),
            written_at: record.written_at,
            files: record.files.iter().map(|f| f.path.display().to_string()).collect(),
            services: record.services.iter().map(|s| s.service.describe()).collect(),
        });
        Report {
            schema_version: SCHEMA_VERSION,
            stored,
            record_problem,
            copies: self
                .copies
                .iter()
                .map(|copy| copy_report(copy, &self.resolutions, reveal))
                .collect(),
            sdks: self
                .resolutions
                .iter()
                .zip(&self.regions)
                .map(|(resolution, region)| sdk_report(resolution, region.clone(), reveal))
                .collect(),
            all_found: self.all_found(),
            sdk_config: dashkey::store::sdk_config::base_url(platform).map(|(path, base_url)| {
                SdkConfigReport { path: path.display().to_string(), base_url }
            }),
            key_region: None,
            contexts: Vec::new(),
            profile: None,
            clients: Vec::new(),
        }
    }

    fn render(&self, out: &mut String, platform: &Platform, reveal: bool) {
        let show = |path: Option<&std::path::Path>| -> String {
            path.map_or_else(String::new, |p| output::show_path(platform, p))
        };
        let shown = |key: &ApiKey| if reveal { key.expose().to_string() } else { key.mask() };
        outln!(out, "{}", paint(BOLD, "Copies of the key"));
        for copy in &self.copies {
            let absent = matches!(copy.state, CopyState::Absent);
            let name = match copy.kind {
                PlaceKind::Variable | PlaceKind::Keyring => copy_label(copy.kind).to_string(),
                PlaceKind::FilePathVariable => {
                    format!("{} → {}", copy_label(copy.kind), show(copy.path.as_deref()))
                }
                PlaceKind::Dashkey | PlaceKind::DesktopSession if absent => continue,
                PlaceKind::SdkKeyFile
                | PlaceKind::JavaKeyFile
                | PlaceKind::Dashkey
                | PlaceKind::DesktopSession => show(copy.path.as_deref()),
            };
            let what = match (copy.value(), &copy.state) {
                (Some(key), _) if key.is_empty() => paint(WARN, "(empty)"),
                (Some(key), _) => format!("{}  {}", shown(key), paint(DIM, key.fingerprint())),
                (None, CopyState::Unreadable(failure)) => {
                    paint(FAIL, format!("unreadable: {failure}"))
                }
                (None, _) if copy.kind == PlaceKind::Variable => paint(DIM, "not set"),
                // A keyring that cannot be asked may well hold the key: its problem says why.
                (None, _) if copy.kind == PlaceKind::Keyring && !copy.problems.is_empty() => {
                    paint(FAIL, "cannot be read")
                }
                (None, _) if copy.kind == PlaceKind::Keyring => paint(DIM, "no entry"),
                (None, _) => paint(DIM, "no file"),
            };
            let mode = copy.mode.map(|m| format!("  {m:04o}")).unwrap_or_default();
            let used_by = used_by(copy, &self.resolutions);
            let used = if used_by.is_empty() {
                String::new()
            } else {
                paint(OK, format!("  ← {}", used_by.join(", ")))
            };
            outln!(out, "  {name:<34} {what}{}{used}", paint(DIM, mode));
            for problem in &copy.problems {
                outln!(out, "  {:<34} {} {problem}", "", paint(WARN, "!"));
            }
        }
        if let Some(problem) = self.record_problem(platform) {
            outln!(out, "  {} {problem}", paint(WARN, "!"));
        }
        if let Some(record) = &self.record {
            let region = record.region.as_deref().unwrap_or("SDK default (cn-beijing)");
            let workspace =
                record.workspace.as_ref().map(|w| format!(", workspace {w}")).unwrap_or_default();
            if record.fingerprint.is_some() {
                outln!(
                    out,
                    "  {}",
                    paint(
                        DIM,
                        format!("new terminals load dashkey's copy; region: {region}{workspace}")
                    )
                );
                if let Some(key) = coding_plan_key(platform) {
                    let line = format!(
                        "and the Coding Plan key {} {} as {} (Qwen Code's Coding Plan preset)",
                        shown(&key),
                        key.fingerprint(),
                        dashkey::vars::CODING_PLAN_API_KEY
                    );
                    outln!(out, "  {}", paint(DIM, line));
                }
            } else if !record.profiles.is_empty() {
                // Only named profiles are stored: none is in use, so no shell loads a key.
                let names: Vec<&str> = record.profiles.iter().map(|p| p.name.as_str()).collect();
                let line = format!(
                    "no key is in use: new terminals load none (profiles stored: {}; pick one with  dashkey use NAME)",
                    names.join(", ")
                );
                outln!(out, "  {}", paint(DIM, line));
            }
            if let Some((path, url)) = dashkey::store::sdk_config::base_url(platform) {
                let path = output::show_path(platform, &path);
                let line = format!("programs without a shell (2.0 SDK): base_url {url} in {path}");
                outln!(out, "  {}", paint(DIM, line));
            }
            for service in &record.services {
                let service = service.service.describe();
                outln!(out, "  {}", paint(DIM, format!("also given to the {service}")));
            }
        }
        outln!(out);
        outln!(out, "{}", paint(BOLD, "What each SDK would use (in this environment)"));
        for (resolution, region) in self.resolutions.iter().zip(&self.regions) {
            let name = resolution.sdk.name().trim_end_matches(" SDK");
            let key = match &resolution.outcome {
                Lookup::Found { key, source } => {
                    let from = match source {
                        Source::Variable => vars::API_KEY.to_string(),
                        Source::FilePathVariable { .. } | Source::DefaultFile { .. } => {
                            show(source.path())
                        }
                    };
                    let shown =
                        if key.is_empty() { paint(FAIL, "an empty key") } else { shown(key) };
                    format!("{shown} from {from}")
                }
                Lookup::Missing | Lookup::Failed { .. } => {
                    let error = resolution.clone().into_result().err().map(|e| e.to_string());
                    paint(FAIL, error.as_deref().unwrap_or("no key"))
                }
            };
            outln!(out, "  {name:<7} {key}");
            let http = &resolution.urls.http;
            let region = region.as_deref().unwrap_or("custom endpoint");
            let origin = match http.origin {
                UrlOrigin::Default => "default".to_string(),
                UrlOrigin::Variable(name) => format!("from {name}"),
            };
            outln!(
                out,
                "  {:<7} {}",
                "",
                paint(DIM, format!("→ {region}: {} ({origin})", http.url))
            );
        }
        let regions: std::collections::BTreeSet<&str> =
            self.regions.iter().filter_map(|region| region.as_deref()).collect();
        if regions.len() > 1 {
            outln!(out);
            outln!(
                out,
                "{} the SDKs would call different regions ({}); a key works in only one",
                paint(WARN, "!"),
                regions.into_iter().collect::<Vec<_>>().join(", ")
            );
        }
        if let Some(stored) = self.record.as_ref().and_then(|r| r.region.as_deref()) {
            // One line per place they would call, naming every SDK that calls it: the same
            // cause (this environment lacks dashkey's base URL) is said once.
            let mut elsewhere: Vec<(Option<&str>, Vec<&str>)> = Vec::new();
            for (resolution, region) in self
                .resolutions
                .iter()
                .zip(&self.regions)
                .filter(|(r, region)| Status::found(r) && region.as_deref() != Some(stored))
            {
                let sdk = resolution.sdk.name().trim_end_matches(" SDK");
                match elsewhere.iter_mut().find(|(r, _)| *r == region.as_deref()) {
                    Some((_, sdks)) => sdks.push(sdk),
                    None => elsewhere.push((region.as_deref(), vec![sdk])),
                }
            }
            for (region, sdks) in elsewhere {
                let (last, first) = sdks.split_last().expect("one SDK at least");
                let names = if first.is_empty() {
                    format!("the {last} SDK")
                } else {
                    format!("the {} and {last} SDKs", first.join(", "))
                };
                outln!(
                    out,
                    "{} {names} here would call {}, but the stored key belongs to {stored}: \
                     programs that did not load dashkey's file need {} (new terminals have it)",
                    paint(WARN, "!"),
                    region.unwrap_or("a custom endpoint"),
                    vars::HTTP_BASE_URL,
                );
            }
        }
        if !self.all_found() {
            outln!(out);
            let loaded = self
                .copies
                .iter()
                .any(|c| c.kind == PlaceKind::Variable && matches!(c.state, CopyState::Present(_)));
            let hint = match (&self.record, loaded) {
                (Some(_), false) => format!(
                    "this terminal has not loaded the stored key: open a new terminal or run  {}",
                    paint(BOLD, crate::set::load_command(platform))
                ),
                (Some(_), true) => "run `dashkey set` again to store a working key".to_string(),
                (None, _) => format!("store one with  {}", paint(BOLD, "dashkey set")),
            };
            outln!(out, "{} not every SDK finds a non-empty key: {hint}", paint(FAIL, "✗"));
        }
    }
}

/// The Coding Plan key dashkey's files give new terminals beside the key in use.
fn coding_plan_key(platform: &Platform) -> Option<ApiKey> {
    let stored = dashkey::store::load_stored(platform).ok()??;
    stored.get(dashkey::vars::CODING_PLAN_API_KEY).map(ApiKey::verbatim)
}

fn value_report(key: &ApiKey, reveal: bool) -> ValueReport {
    ValueReport {
        masked: key.mask(),
        fingerprint: key.fingerprint(),
        kind: key.kind(),
        length: key.len(),
        value: reveal.then(|| key.expose().to_string()),
    }
}

fn place_of(source: &Source) -> &'static str {
    match source {
        Source::Variable => PlaceKind::Variable.id(),
        Source::FilePathVariable { .. } => PlaceKind::FilePathVariable.id(),
        Source::DefaultFile { .. } => "default-key-file",
    }
}

/// The SDKs (ids) that would take their key from this copy.
fn used_by(copy: &KeyCopy, resolutions: &[Resolution]) -> Vec<&'static str> {
    resolutions
        .iter()
        .filter(|r| matches!(&r.outcome, Lookup::Found { source, .. } if copy.is_source(source)))
        .map(|r| r.sdk.id())
        .collect()
}

fn copy_report(copy: &KeyCopy, resolutions: &[Resolution], reveal: bool) -> CopyReport {
    let (state, error) = match &copy.state {
        // A keyring that could not be asked is not a missing entry: say which it is and why.
        CopyState::Absent => match copy.problems.iter().find_map(|p| match p {
            PlaceProblem::Keyring(error) => Some(error),
            _ => None,
        }) {
            Some(error) => ("unreadable", Some(error.to_string())),
            None => ("absent", None),
        },
        CopyState::Present(_) => ("present", None),
        CopyState::Unreadable(failure) => ("unreadable", Some(failure.to_string())),
    };
    CopyReport {
        place: copy.kind.id(),
        label: copy_label(copy.kind).to_string(),
        path: copy.path.as_ref().map(|p| p.display().to_string()),
        state,
        error,
        value: copy.value().map(|key| value_report(key, reveal)),
        mode: copy.mode.map(|mode| format!("{mode:04o}")),
        used_by: used_by(copy, resolutions),
        problems: copy
            .problems
            .iter()
            .map(|p| ProblemReport { id: p.id(), message: p.to_string() })
            .collect(),
    }
}

fn copy_label(kind: PlaceKind) -> &'static str {
    match kind {
        PlaceKind::Variable => vars::API_KEY,
        PlaceKind::FilePathVariable => vars::API_KEY_FILE_PATH,
        PlaceKind::SdkKeyFile => "SDK key file",
        PlaceKind::JavaKeyFile => "SDK key file (Java user.home)",
        PlaceKind::Dashkey => "dashkey (new terminals)",
        PlaceKind::DesktopSession => "desktop session (next login)",
        PlaceKind::Keyring => dashkey::store::keyring::place(),
    }
}

fn sdk_report(resolution: &Resolution, region: Option<String>, reveal: bool) -> SdkReport {
    let (outcome, source, value, error) = match &resolution.outcome {
        Lookup::Found { key, source } => {
            ("found", Some(source_report(source)), Some(value_report(key, reveal)), None)
        }
        Lookup::Missing | Lookup::Failed { .. } => {
            let error = resolution.clone().into_result().err().map(|e| e.to_string());
            let outcome =
                if matches!(resolution.outcome, Lookup::Missing) { "missing" } else { "failed" };
            (outcome, None, None, error)
        }
    };
    SdkReport {
        sdk: resolution.sdk.id(),
        name: resolution.sdk.name(),
        outcome,
        found: Status::found(resolution),
        source,
        value,
        error,
        failure: match &resolution.outcome {
            Lookup::Failed { failure, .. } => Some(*failure),
            Lookup::Found { .. } | Lookup::Missing => None,
        },
        candidates: resolution.candidates.iter().map(candidate_report).collect(),
        base_urls: UrlsReport {
            http: url_report(&resolution.urls.http),
            websocket: url_report(&resolution.urls.websocket),
            compatible: resolution.urls.compatible.as_ref().map(url_report),
        },
        region,
    }
}

fn source_report(source: &Source) -> SourceReport {
    SourceReport { place: place_of(source), path: source.path().map(|p| p.display().to_string()) }
}

fn candidate_report(candidate: &Candidate) -> CandidateReport {
    let (verdict, reason) = match &candidate.verdict {
        CandidateVerdict::Chosen => ("chosen", None),
        CandidateVerdict::Skipped(skip) => ("skipped", Some(skip.to_string())),
        CandidateVerdict::Failed(failure) => ("failed", Some(failure.to_string())),
        CandidateVerdict::NotReached => ("not-reached", None),
    };
    let SourceReport { place, path } = source_report(&candidate.source);
    CandidateReport { place, path, verdict, reason }
}

fn url_report(url: &BaseUrl) -> UrlReport {
    let endpoint = Endpoint::parse(&url.url).ok();
    UrlReport {
        url: url.url.clone(),
        origin: match url.origin {
            UrlOrigin::Variable(name) => name.to_string(),
            UrlOrigin::Default => "default".to_string(),
        },
        region: url.region_id(),
        api: endpoint.and_then(|e| e.shape),
    }
}
