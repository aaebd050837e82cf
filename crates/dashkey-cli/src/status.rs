//! `dashkey status`: every copy of the key, and which one each SDK would use.
//!
//! The report is built once as a serializable value; the JSON output is that value, and the
//! text output is a rendering of it, so the two can never disagree.

use dashkey::resolve::{
    self, BaseUrl, Candidate, CandidateVerdict, Lookup, Resolution, Sdk, Source,
};
use dashkey::store::{self, Copy, CopyState, PlaceKind};
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
}

/// What `dashkey set` stored, from its record: what new terminals will load.
#[derive(Serialize)]
struct StoredReport {
    region: Option<String>,
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
    let report = build(platform, args.reveal);
    // A write killed half-way is completed by the next command that takes the lock.
    for (file, journal) in
        platform.dashkey_dir().map(|d| dashkey::fsx::pending_journals(&d)).unwrap_or_default()
    {
        let file = file.map_or_else(|| "a file".to_string(), |f| output::show_path(platform, &f));
        anstream::eprintln!(
            "{} {file} has a pending recovery (a dashkey was stopped while writing it; its old \
             content is in {}): any `dashkey set`, `unset` or `region` completes it first",
            paint(WARN, "!"),
            output::show_path(platform, &journal)
        );
    }
    if args.json {
        output::print_json(&report)?;
    } else {
        render(platform, &report);
    }
    Ok(if report.all_found { Exit::Ok } else { Exit::Problem })
}

fn build(platform: &Platform, reveal: bool) -> Report {
    let copies = store::scan(platform);
    let resolutions: Vec<Resolution> =
        Sdk::ALL.iter().map(|&sdk| resolve::resolve(sdk, platform)).collect();
    let copy_reports = copies.iter().map(|copy| copy_report(copy, &resolutions, reveal)).collect();
    let sdks: Vec<SdkReport> =
        resolutions.iter().map(|resolution| sdk_report(resolution, reveal)).collect();
    let all_found = sdks.iter().all(|sdk| sdk.found);
    let (record, problem) =
        platform.dashkey_dir().map_or((None, None), |dir| dashkey::record::Record::inspect(&dir));
    let record_problem = problem.map(|problem| {
        format!(
            "{}: {}, so dashkey does not use it; `dashkey unset` finds dashkey's files without \
             it, and `dashkey set` writes a new one",
            output::show_path(platform, &problem.path),
            problem.kind
        )
    });
    let stored = record.map(|record| StoredReport {
        region: record.region,
        openai_compatible: record.openai_compatible,
        fingerprint: record.fingerprint,
        written_at: record.written_at,
        files: record.files.iter().map(|f| f.path.display().to_string()).collect(),
        services: record.services.iter().map(|s| s.service.describe()).collect(),
    });
    Report {
        schema_version: SCHEMA_VERSION,
        stored,
        record_problem,
        copies: copy_reports,
        sdks,
        all_found,
    }
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

fn copy_report(copy: &Copy, resolutions: &[Resolution], reveal: bool) -> CopyReport {
    let used_by = resolutions
        .iter()
        .filter(|r| matches!(&r.outcome, Lookup::Found { source, .. } if copy.is_source(source)))
        .map(|r| r.sdk.id())
        .collect();
    let (state, error) = match &copy.state {
        CopyState::Absent => ("absent", None),
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
        used_by,
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
    }
}

fn sdk_report(resolution: &Resolution, reveal: bool) -> SdkReport {
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
    let found = resolution.key().is_some_and(|key| !key.is_empty());
    SdkReport {
        sdk: resolution.sdk.id(),
        name: resolution.sdk.name(),
        outcome,
        found,
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
        region: resolve::region_of(&resolution.urls),
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
            resolve::UrlOrigin::Variable(name) => name.to_string(),
            resolve::UrlOrigin::Default => "default".to_string(),
        },
        region: url.region_id(),
        api: endpoint.and_then(|e| e.shape),
    }
}

fn render(platform: &Platform, report: &Report) {
    let show = |path: &Option<String>| -> String {
        path.as_deref().map_or_else(String::new, |p| output::show_path(platform, p.as_ref()))
    };
    anstream::println!("{}", paint(BOLD, "Copies of the key"));
    for copy in &report.copies {
        let name = match copy.place {
            "variable" => copy.label.clone(),
            "key-file-path" => format!("{} → {}", copy.label, show(&copy.path)),
            "dashkey" | "desktop-session" if copy.state == "absent" => continue,
            _ => show(&copy.path),
        };
        let what = match (&copy.value, copy.state) {
            (Some(value), _) if value.length == 0 => paint(WARN, "(empty)"),
            (Some(value), _) => format!(
                "{}  {}",
                value.value.as_deref().unwrap_or(&value.masked),
                paint(DIM, &value.fingerprint)
            ),
            (None, "unreadable") => {
                paint(FAIL, format!("unreadable: {}", copy.error.as_deref().unwrap_or("")))
            }
            (None, _) if copy.place == "variable" => paint(DIM, "not set"),
            (None, _) => paint(DIM, "no file"),
        };
        let mode = copy.mode.as_deref().map(|m| format!("  {m}")).unwrap_or_default();
        let used = if copy.used_by.is_empty() {
            String::new()
        } else {
            paint(OK, format!("  ← {}", copy.used_by.join(", ")))
        };
        anstream::println!("  {name:<34} {what}{}{used}", paint(DIM, mode));
        for problem in &copy.problems {
            anstream::println!("  {:<34} {} {}", "", paint(WARN, "!"), problem.message);
        }
    }
    if let Some(problem) = &report.record_problem {
        anstream::println!("  {} {problem}", paint(WARN, "!"));
    }
    if let Some(stored) = &report.stored {
        let region = stored.region.as_deref().unwrap_or("SDK default (cn-beijing)");
        anstream::println!(
            "  {}",
            paint(DIM, format!("new terminals load dashkey's copy; region: {region}"))
        );
        for service in &stored.services {
            anstream::println!("  {}", paint(DIM, format!("also given to the {service}")));
        }
    }
    anstream::println!();
    anstream::println!("{}", paint(BOLD, "What each SDK would use (in this environment)"));
    for sdk in &report.sdks {
        let name = sdk.name.trim_end_matches(" SDK");
        let key = match (&sdk.value, &sdk.source) {
            (Some(value), Some(source)) => {
                let from = match source.place {
                    "variable" => vars::API_KEY.to_string(),
                    _ => show(&source.path),
                };
                let shown = if value.length == 0 {
                    paint(FAIL, "an empty key")
                } else {
                    value.value.clone().unwrap_or_else(|| value.masked.clone())
                };
                format!("{shown} from {from}")
            }
            _ => paint(FAIL, sdk.error.as_deref().unwrap_or("no key")),
        };
        anstream::println!("  {name:<7} {key}");
        let http = &sdk.base_urls.http;
        let region = sdk.region.as_deref().unwrap_or("custom endpoint");
        let origin = if http.origin == "default" {
            "default".to_string()
        } else {
            format!("from {}", http.origin)
        };
        anstream::println!(
            "  {:<7} {}",
            "",
            paint(DIM, format!("→ {region}: {} ({origin})", http.url))
        );
    }
    let regions: std::collections::BTreeSet<&str> =
        report.sdks.iter().filter_map(|sdk| sdk.region.as_deref()).collect();
    if regions.len() > 1 {
        anstream::println!();
        anstream::println!(
            "{} the SDKs would call different regions ({}); a key works in only one",
            paint(WARN, "!"),
            regions.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    if let Some(stored) = report.stored.as_ref().and_then(|s| s.region.as_deref()) {
        for sdk in
            report.sdks.iter().filter(|sdk| sdk.found && sdk.region.as_deref() != Some(stored))
        {
            anstream::println!(
                "{} the {} here would call {}, but the stored key belongs to {stored}: programs \
                 that did not load dashkey's file need {} (new terminals have it)",
                paint(WARN, "!"),
                sdk.name,
                sdk.region.as_deref().unwrap_or("a custom endpoint"),
                vars::HTTP_BASE_URL,
            );
        }
    }
    if !report.all_found {
        anstream::println!();
        let loaded = report.copies.iter().any(|c| c.place == "variable" && c.state == "present");
        let hint = match (&report.stored, loaded) {
            (Some(_), false) => format!(
                "this terminal has not loaded the stored key: open a new terminal or run  {}",
                paint(BOLD, crate::set::load_command(platform))
            ),
            (Some(_), true) => "run `dashkey set` again to store a working key".to_string(),
            (None, _) => format!("store one with  {}", paint(BOLD, "dashkey set")),
        };
        anstream::println!("{} not every SDK finds a non-empty key: {hint}", paint(FAIL, "✗"));
    }
}
