//! `dashkey doctor`: name the wall a program hit, and the fix.
//!
//! The library runs the checks and phrases each finding (it has to: a finding is data that
//! scripts read through `--json`); this command gathers what the user asked about, runs them,
//! and lays the findings out by severity, worst first, each with its why and its fix.
//!
//! # `--json` schema
//!
//! ```text
//! {
//!   "findings": [ {
//!     "id": "temporary",                       // stable, see README ("dashkey doctor")
//!     "severity": "ok" | "info" | "warn" | "fail",
//!     "title": string,                         // what is wrong, one line
//!     "detail": string,                        // why, one line
//!     "fix": string | null                     // what to do, one line; null when nothing is
//!   } ]
//! }
//! ```
//!
//! Findings come in check order. Fields are only ever added; an id never changes meaning.

use dashkey::Platform;
use dashkey::doctor::{self, Finding, Host, Online, Options, Severity};
use dashkey::verify::{HttpSettings, Prober};
use serde::Serialize;

use crate::cli::DoctorArgs;
use crate::exit::{Exit, Failure, Outcome};
use crate::output::{self, BOLD, DIM, FAIL, OK, WARN, paint};
use crate::spinner::Spinner;

#[derive(Serialize)]
struct Report<'a> {
    findings: &'a [Finding],
}

pub fn run(platform: &Platform, args: &DoctorArgs) -> Outcome {
    if let Some(dir) = &args.project {
        return project(platform, args, dir);
    }
    let client = args.client.as_deref().map(crate::clients::find).transpose()?;
    let options = Options {
        pids: args.pids.clone(),
        systemd: args.systemd.clone(),
        systemd_user: args.user,
        supervisord: args.supervisord.clone(),
        supervisord_config: args.supervisord_conf.clone(),
        crontab: dashkey::reach::read_crontab(platform),
        program: crate::program_path(),
        profile: args.profile.clone(),
    };
    let host = Host::system();
    let online = if args.online {
        let config = dashkey::Config::load(platform).map_err(usage)?;
        let settings = HttpSettings::from_platform(platform).map_err(usage)?;
        Some((Prober::new(settings), config.endpoints()))
    } else {
        None
    };
    let spinner = online.as_ref().map(|(_, targets)| {
        Spinner::start(format!("asking {} regions about the key…", targets.len()))
    });
    let online_ref = online.as_ref().map(|(prober, targets)| Online { prober, targets });
    let mut findings = doctor::diagnose(platform, &host, &options, online_ref).map_err(usage)?;
    drop(spinner);
    findings.splice(0..0, pending_recovery(platform));
    if let Some(client) = client {
        findings.extend(client_findings(platform, client, online.as_ref()));
    }

    if args.json {
        output::print_json(&Report { findings: &findings })?;
    } else {
        render(&findings);
    }
    let failed = findings.iter().any(|f| f.severity == Severity::Fail);
    Ok(if failed { Exit::Problem } else { Exit::Ok })
}

/// `--project DIR`: the project scan, printed like the rest of doctor.
fn project(platform: &Platform, args: &DoctorArgs, dir: &std::path::Path) -> Outcome {
    let region = if args.online { online_region(platform)? } else { None };
    let findings = dashkey::project::scan(dir, platform, region.as_deref()).map_err(usage)?;
    if args.json {
        output::print_json(&Report { findings: &findings })?;
    } else {
        render(&findings);
    }
    let failed = findings.iter().any(|f| f.severity == Severity::Fail);
    Ok(if failed { Exit::Problem } else { Exit::Ok })
}

/// The region where DashScope accepts the stored key, asked in every region at once.
fn online_region(platform: &Platform) -> Result<Option<String>, Failure> {
    let stored = dashkey::store::load_stored(platform).ok().flatten();
    let Some(key) = stored.as_ref().and_then(dashkey::store::Stored::key) else { return Ok(None) };
    let config = dashkey::Config::load(platform).map_err(usage)?;
    let settings = HttpSettings::from_platform(platform).map_err(usage)?;
    let targets = config.endpoints();
    let spinner = Spinner::start(format!("asking {} regions about the key…", targets.len()));
    let probes = Prober::new(settings).probe_all(&key, &targets).map_err(usage)?;
    drop(spinner);
    Ok(probes.iter().find(|p| p.classification.is_accepted()).map(|p| p.endpoint.region.clone()))
}

/// A write that a killed dashkey left half-done (its journal is still in dashkey's
/// directory): the next `set`, `unset` or `region` completes it.
fn pending_recovery(platform: &Platform) -> Vec<Finding> {
    let Some(dir) = platform.dashkey_dir() else { return Vec::new() };
    dashkey::edit::fsx::pending_journals(&dir)
        .into_iter()
        .map(|(file, journal)| Finding {
            id: "pending-recovery",
            severity: Severity::Warn,
            title: format!(
                "{} was being written when a dashkey was stopped",
                file.map_or_else(|| "a file".to_string(), |f| platform.show_path(&f))
            ),
            detail: format!(
                "its old content is kept in {} until the write is completed or undone",
                platform.show_path(&journal)
            ),
            fix: Some("dashkey set (or unset, or region) completes it first".to_string()),
        })
        .collect()
}

/// `--client ID`: what that client would send from here, judged against the key's region,
/// and whether dashkey's stored variables (a new terminal, `dashkey run`) would fix it.
/// With `--online`, the key the client sends is asked about in every region, and the region
/// that accepts it is the one judged against.
fn client_findings(
    platform: &Platform,
    client: &'static dashkey::clients::Client,
    online: Option<&(Prober, Vec<dashkey::RegionEndpoint>)>,
) -> Vec<Finding> {
    let mut key_region = crate::contexts::matrix(platform).key_region;
    if let Some((prober, targets)) = online {
        let sent = crate::clients::resolve(platform, Some(client), None).remove(0).key;
        // A client that takes the key only in code (llama-index) is given DASHSCOPE_API_KEY
        // there, as DashScope's samples do: that is the key to ask about.
        let in_code = client.key_chain == dashkey::clients::KeyChain::InCodeOnly;
        let sent = sent.or_else(|| {
            let value = platform.var_non_empty(dashkey::vars::API_KEY).filter(|_| in_code)?;
            Some((
                dashkey::ApiKey::verbatim(value),
                dashkey::clients::KeySource::Variable(dashkey::vars::API_KEY),
            ))
        });
        if let Some((key, _)) = sent.filter(|(key, _)| !key.is_empty()) {
            // The key itself: padding and quotes are the client's own finding.
            let key = dashkey::ApiKey::parse(key.expose()).map_or(key, |parsed| parsed.key);
            let accepted = prober.probe_all(&key, targets).ok().and_then(|probes| {
                probes
                    .iter()
                    .find(|p| p.classification.is_accepted())
                    .map(|p| p.endpoint.region.clone())
            });
            key_region = accepted.or(key_region);
        }
    }
    let here = crate::clients::resolve(platform, Some(client), key_region.as_deref());
    let stored = dashkey::clients::with_stored(platform)
        .map(|loaded| crate::clients::resolve(&loaded, Some(client), key_region.as_deref()));
    let stored = stored.as_ref().map(|s| &s[0]);
    dashkey::clients::findings(&here[0], stored, platform)
}

fn usage(error: impl Into<anyhow::Error>) -> Failure {
    Failure { exit: Exit::Usage, error: error.into() }
}

fn render(findings: &[Finding]) {
    let groups = [
        (Severity::Fail, "✗", FAIL, "Problems"),
        (Severity::Warn, "!", WARN, "Warnings"),
        (Severity::Info, "i", BOLD, "Notes"),
        (Severity::Ok, "✓", OK, "Fine"),
    ];
    let mut first = true;
    for (severity, mark, style, heading) in groups {
        let group: Vec<&Finding> = findings.iter().filter(|f| f.severity == severity).collect();
        if group.is_empty() {
            continue;
        }
        if !first {
            anstream::println!();
        }
        first = false;
        anstream::println!("{}", paint(BOLD, format!("{heading} ({})", severity.id())));
        for finding in group {
            anstream::println!(
                "  {} {}  {}",
                paint(style, mark),
                finding.title,
                paint(DIM, format!("[{}]", finding.id))
            );
            if severity == Severity::Ok {
                continue;
            }
            if !finding.detail.is_empty() {
                anstream::println!("      {} {}", paint(DIM, "why:"), finding.detail);
            }
            if let Some(fix) = &finding.fix {
                anstream::println!("      {} {}", paint(DIM, "fix:"), paint(BOLD, fix));
            }
        }
    }
    let count = |severity| findings.iter().filter(|f| f.severity == severity).count();
    let (fails, warns) = (count(Severity::Fail), count(Severity::Warn));
    anstream::println!();
    match (fails, warns) {
        (0, 0) => anstream::println!("{} No problems found.", paint(OK, "✓")),
        _ => anstream::println!(
            "{} {fails} problem{} and {warns} warning{}.",
            paint(if fails > 0 { FAIL } else { WARN }, if fails > 0 { "✗" } else { "!" }),
            if fails == 1 { "" } else { "s" },
            if warns == 1 { "" } else { "s" },
        ),
    }
}
