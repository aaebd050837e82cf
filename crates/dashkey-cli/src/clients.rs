//! `dashkey clients`, `status --client ID` and the `clients` section of `status --json`: the
//! library's client catalogue laid out, and each client's replay in this environment.
//!
//! # `status --json`: `clients`
//!
//! ```text
//! "clients": [ {
//!   "id": "litellm",
//!   "name": string,
//!   "key_found": bool,                         // a non-empty key is sent
//!   "key_source": { "type": "variable" | "file", "name": string } | null,
//!   "key_masked": string | null,
//!   "candidates": [ { "source": {…as key_source}, "verdict": "chosen" | "skipped"
//!                     | "failed" | "not-reached", "reason"?: string } ],
//!   "base_url": string | null,                 // null: it has none, or it is broken
//!   "base_url_from": { "type": "variable" | "sdk", "name": string } | { "type": "default" },
//!   "region": string | null,                   // the region base_url calls
//!   "url_style": "native" | "compatible" | "anthropic" | "host-root" | "coding" | null,
//!   "needs_style": same set,                   // the style this client needs
//!   "style_ok": bool | null,
//!   "key_region": string | null,               // where the key works, when known
//!   "region_ok": bool | null,
//!   "verdict": "works" | "fails",
//!   "problems": [ { "id": string, "message": string, …fields of the problem } ]
//! } ]
//! ```

use std::path::{Path, PathBuf};

use dashkey::Platform;
use dashkey::clients::{self, Client, ClientResolution, KeyCandidate, KeySource, Problem, Style};
use serde::Serialize;

use crate::cli::ClientsArgs;
use crate::exit::{Exit, Failure, Outcome};
use crate::output::{self, BOLD, DIM, FAIL, OK, paint};

#[derive(Serialize)]
struct CatalogueRow {
    id: &'static str,
    name: &'static str,
    key_vars: Vec<&'static str>,
    url_vars: Vec<&'static str>,
    style: Style,
    default_url: Option<&'static str>,
    set_vars: &'static [&'static str],
    note: &'static str,
}

#[derive(Serialize)]
pub struct ClientReport {
    id: &'static str,
    name: &'static str,
    key_found: bool,
    key_source: Option<KeySource>,
    key_masked: Option<String>,
    candidates: Vec<KeyCandidate>,
    base_url: Option<String>,
    base_url_from: clients::UrlSource,
    region: Option<String>,
    url_style: Option<Style>,
    needs_style: Style,
    style_ok: Option<bool>,
    key_region: Option<String>,
    region_ok: Option<bool>,
    verdict: &'static str,
    problems: Vec<ProblemReport>,
    /// Qwen Code only: what its `.env` files and `settings.json` supply.
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<FilesReport>,
}

/// Qwen Code's files, as `status --client qwen-code --json` shows them.
#[derive(Serialize)]
struct FilesReport {
    /// The file the key it sends came from (`null`: the shell, or no key).
    key_file: Option<PathBuf>,
    /// The file its base URL came from (`null`: the shell, or its default).
    base_url_file: Option<PathBuf>,
    from_files: Vec<clients::qwen_code::FileValue>,
    hidden: Vec<clients::qwen_code::Hidden>,
    unreadable: Vec<Unreadable>,
}

#[derive(Serialize)]
struct Unreadable {
    file: PathBuf,
    error: String,
}

fn files_report(r: &ClientResolution) -> Option<FilesReport> {
    let files = r.files.as_ref()?;
    let key_file = match &r.key {
        Some((_, KeySource::Variable(name))) => files.file_of(name).map(Path::to_path_buf),
        _ => None,
    };
    let base_url_file = match &r.base.source {
        clients::UrlSource::Variable(name) => files.file_of(name).map(Path::to_path_buf),
        _ => None,
    };
    Some(FilesReport {
        key_file,
        base_url_file,
        from_files: files.from_files.clone(),
        hidden: files.hidden.clone(),
        unreadable: files
            .unreadable
            .iter()
            .map(|(file, error)| Unreadable { file: file.clone(), error: error.clone() })
            .collect(),
    })
}

#[derive(Serialize)]
struct ProblemReport {
    #[serde(flatten)]
    problem: Problem,
    message: String,
}

/// The variables a client reads its key from, as the catalogue lists them.
fn key_vars(client: &Client) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = client.key_vars.iter().map(|v| v.name).collect();
    if names.is_empty() && client.key_chain != clients::KeyChain::InCodeOnly {
        names.push(dashkey::vars::API_KEY);
    }
    names
}

fn url_vars(client: &Client) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = client.url_vars.iter().map(|v| v.name).collect();
    match client.url_chain {
        clients::UrlChain::Sdk1x => names.push(dashkey::vars::HTTP_BASE_URL),
        clients::UrlChain::Sdk2 => {
            names.extend(["DASHSCOPE_BASE_URL", dashkey::vars::HTTP_BASE_URL])
        }
        clients::UrlChain::Variables | clients::UrlChain::InCodeOnly => {}
    }
    names
}

/// `dashkey clients`.
pub fn list(args: &ClientsArgs) -> Outcome {
    let rows: Vec<CatalogueRow> = clients::CATALOGUE
        .iter()
        .map(|c| CatalogueRow {
            id: c.id,
            name: c.name,
            key_vars: key_vars(c),
            url_vars: url_vars(c),
            style: c.style,
            default_url: c.default_url,
            set_vars: c.set_vars,
            note: c.note,
        })
        .collect();
    if args.json {
        output::print_json(&serde_json::json!({ "clients": rows }))?;
        return Ok(Exit::Ok);
    }
    for row in &rows {
        anstream::println!("{}  {}", paint(BOLD, row.id), row.name);
        let or_none = |v: &[&str], none: &str| {
            if v.is_empty() { none.to_string() } else { v.join(", ") }
        };
        anstream::println!("    key:   {}", or_none(&row.key_vars, "passed in code only"));
        anstream::println!("    URL:   {}", or_none(&row.url_vars, "an option in code only"));
        anstream::println!(
            "    style: {}; default {}",
            row.style,
            row.default_url.unwrap_or("none (it needs a base URL)")
        );
        if !row.set_vars.is_empty() {
            anstream::println!(
                "    {}",
                paint(
                    DIM,
                    format!("dashkey set --client {} writes {}", row.id, row.set_vars.join(", "))
                )
            );
        }
        anstream::println!("    {}", paint(DIM, row.note));
    }
    Ok(Exit::Ok)
}

/// The client with this id, or a usage error listing the ids.
pub fn find(id: &str) -> Result<&'static Client, Failure> {
    Client::find(id).ok_or_else(|| Failure {
        exit: Exit::Usage,
        error: anyhow::anyhow!(
            "unknown client {id:?}; known clients: {}",
            Client::ids().collect::<Vec<_>>().join(", ")
        ),
    })
}

/// Every client (or only `only`), replayed in this environment.
pub fn resolve(
    platform: &Platform,
    only: Option<&'static Client>,
    key_region: Option<&str>,
) -> Vec<ClientResolution> {
    let endpoints = dashkey::Config::load(platform).unwrap_or_default().endpoints();
    let record = platform
        .dashkey_dir()
        .and_then(|dir| dashkey::edit::record::Record::load(&dir).ok().flatten());
    let chosen: Vec<&'static Client> = match only {
        Some(client) => vec![client],
        None => dashkey::clients::CATALOGUE.iter().collect(),
    };
    chosen
        .into_iter()
        .map(|client| {
            let resolution = clients::resolve(client, platform, &endpoints, key_region);
            // An sk-sp- key `set` found on a plan host is judged against that host, not a region.
            let host = record.as_ref().and_then(|r| recorded_plan_host(r, &resolution));
            match host {
                Some(host) => clients::resolve(client, platform, &endpoints, Some(&host)),
                None => resolution,
            }
        })
        .collect()
}

/// The plan host `set` recorded for the key this client sends, when it is that key.
fn recorded_plan_host(
    record: &dashkey::edit::record::Record,
    resolution: &ClientResolution,
) -> Option<String> {
    let (key, _) = resolution.key.as_ref()?;
    record.plan_of(key)?;
    record.plan.as_ref().map(|plan| plan.host.clone())
}

pub fn report(resolutions: &[ClientResolution]) -> Vec<ClientReport> {
    resolutions
        .iter()
        .map(|r| ClientReport {
            id: r.client.id,
            name: r.client.name,
            key_found: r.key.as_ref().is_some_and(|(key, _)| !key.is_empty()),
            key_source: r.key.as_ref().map(|(_, source)| source.clone()),
            key_masked: r.key.as_ref().map(|(key, _)| key.mask()),
            candidates: r.candidates.clone(),
            base_url: r.base.url.clone(),
            base_url_from: r.base.source.clone(),
            region: r.base.region.clone(),
            url_style: r.base.style,
            needs_style: r.client.style,
            style_ok: r.style_ok(),
            key_region: r.key_region.clone(),
            region_ok: r.region_ok(),
            verdict: if r.works() { "works" } else { "fails" },
            problems: r
                .problems
                .iter()
                .map(|p| ProblemReport { problem: p.clone(), message: p.to_string() })
                .collect(),
            files: files_report(r),
        })
        .collect()
}

/// `status --client ID` as text.
pub fn render(platform: &Platform, resolution: &ClientResolution) {
    let client = resolution.client;
    anstream::println!("{} {}", paint(BOLD, client.id), paint(DIM, client.name));
    anstream::println!("  Key, in the order it looks:");
    if resolution.candidates.is_empty() {
        anstream::println!("    (none: the key must be passed in code)");
    }
    for candidate in &resolution.candidates {
        let place = match &candidate.source {
            KeySource::Variable(name) => (*name).to_string(),
            KeySource::File(path) => output::show_path(platform, path),
        };
        let verdict = match &candidate.verdict {
            dashkey::resolve::CandidateVerdict::Chosen => {
                let masked = resolution.key.as_ref().map(|(k, _)| k.mask()).unwrap_or_default();
                paint(OK, format!("← used ({masked})"))
            }
            dashkey::resolve::CandidateVerdict::Skipped(skip) => {
                paint(DIM, format!("skipped: {skip}"))
            }
            dashkey::resolve::CandidateVerdict::Failed(failure) => {
                paint(FAIL, format!("fails: {failure}"))
            }
            dashkey::resolve::CandidateVerdict::NotReached => paint(DIM, "not reached"),
        };
        anstream::println!("    {place:<36} {verdict}");
    }
    if let Some(files) = &resolution.files {
        render_files(platform, files);
    }
    let base = &resolution.base;
    let from = match &base.source {
        clients::UrlSource::Variable(name) => (*name).to_string(),
        clients::UrlSource::Sdk(what) => format!("the SDK: {what}"),
        clients::UrlSource::Default => "its default".to_string(),
    };
    anstream::println!(
        "  Base URL: {} {}",
        base.url.as_deref().unwrap_or("(none)"),
        paint(DIM, format!("(from {from})"))
    );
    anstream::println!(
        "  Region:   {}   style: {} (needs {})",
        base.region.as_deref().unwrap_or("unknown"),
        base.style.map_or_else(|| "unknown".to_string(), |s| s.id().to_string()),
        client.style.id()
    );
    if resolution.works() {
        anstream::println!("  {} it works (as far as can be told offline)", paint(OK, "✓"));
    }
    for problem in &resolution.problems {
        anstream::println!("  {} {problem}", paint(FAIL, "✗"));
    }
}

/// Qwen Code's values from its own files, and the file values something else hides.
fn render_files(platform: &Platform, files: &clients::qwen_code::Files) {
    if files.from_files.is_empty() && files.hidden.is_empty() && files.unreadable.is_empty() {
        anstream::println!("  Its .env files and settings.json: nothing it uses");
        return;
    }
    anstream::println!("  From its .env files and settings.json:");
    for value in &files.from_files {
        anstream::println!(
            "    {:<36} {}",
            value.name,
            paint(DIM, format!("← {}", output::show_path(platform, &value.file)))
        );
    }
    for hidden in &files.hidden {
        let winner = hidden
            .winner
            .as_ref()
            .map_or_else(|| "the shell's".to_string(), |w| output::show_path(platform, w) + "'s");
        anstream::println!(
            "    {:<36} {}",
            hidden.name,
            paint(
                DIM,
                format!(
                    "in {} not used: {winner} value wins",
                    output::show_path(platform, &hidden.file)
                )
            )
        );
    }
    for (file, error) in &files.unreadable {
        anstream::println!(
            "    {} {}",
            paint(FAIL, "✗"),
            format!("{} not read: {error}", output::show_path(platform, file))
        );
    }
}
