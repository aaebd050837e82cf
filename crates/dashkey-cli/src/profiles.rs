//! `dashkey use` and `dashkey profiles`, and the `--profile` of `set`, `unset`, `run`, `env`
//! and `export`: several stored keys, one in use. Where each profile lives and how a switch
//! is written is the library's (`store::profile`); this file phrases it.

use anyhow::anyhow;
use dashkey::edit::record::{Record, Role};
use dashkey::store::profile::{self, Profile};
use dashkey::store::{self, ProfileName, SetOptions, Settings, Stored};
use dashkey::{Config, KeyKind, Platform};

use crate::changes;
use crate::cli::{ProfilesArgs, SetArgs, UnsetArgs, UseArgs};
use crate::exit::{Exit, Failure, Outcome};

/// A profile name from the command line, or a usage error before anything is read.
pub fn parse(name: &str) -> Result<ProfileName, Failure> {
    ProfileName::parse(name).map_err(|e| Failure { exit: Exit::Usage, error: e.into() })
}

fn unknown(name: &ProfileName) -> Failure {
    Failure {
        exit: Exit::Usage,
        error: anyhow!(
            "no profile '{name}' is stored: `dashkey profiles` lists them, `dashkey set --profile \
             {name}` stores one; nothing was changed"
        ),
    }
}

/// The variables of `--profile NAME` (the one in use without it), for `run`, `env` and
/// `export`; `None` when nothing is stored and no profile was named.
pub fn stored(platform: &Platform, name: Option<&str>) -> Result<Option<Stored>, Failure> {
    let Some(name) = name else { return Ok(store::load_stored(platform)?) };
    let name = parse(name)?;
    match profile::load(platform, &name)? {
        Some(found) => Ok(Some(found.stored)),
        None => Err(unknown(&name)),
    }
}

/// `set --profile NAME` for a profile that is not in use: only its own file and the record.
pub fn store_profile(
    platform: &Platform,
    name: &ProfileName,
    settings: &Settings,
    args: &SetArgs,
) -> Outcome {
    if settings.key.kind() == KeyKind::CodingPlan {
        // The in-use check first: a profile of that name in use is written everywhere.
        profile::plan_store(platform, name, settings)?;
        let store = store::Beside::Store(name.clone(), Box::new(settings.clone()));
        if let Some(outcome) = beside(platform, store, args.dry_run, args.json) {
            if outcome.is_ok() && !args.dry_run && !args.json {
                coding_purpose(name);
            }
            return outcome;
        }
    }
    let plan = profile::plan_store(platform, name, settings)?;
    if args.dry_run {
        changes::print_dry_run(platform, &plan, args.json)?;
        return Ok(Exit::Ok);
    }
    let applied = store::apply(&plan, None)?;
    if args.json {
        changes::print_report(&plan, false)?;
        return Ok(Exit::Ok);
    }
    let key = &settings.key;
    if plan.is_empty() {
        anstream::println!(
            "The profile '{name}' already holds the key {} ({}); nothing changed.",
            key.mask(),
            key.fingerprint()
        );
    } else {
        changes::heading(format!(
            "Saved the key {} ({}) as the profile '{name}'",
            key.mask(),
            key.fingerprint()
        ));
        changes::print_applied(platform, &plan, &applied);
    }
    changes::print_notes(platform, &plan);
    anstream::println!(
        "It is not in use: new shells keep the profile they have. Switch with  dashkey use {name}"
    );
    Ok(Exit::Ok)
}

/// `dashkey use NAME`: one rewrite of dashkey's files, through the transaction `set` uses.
pub fn switch(platform: &Platform, args: &UseArgs) -> Outcome {
    let name = parse(&args.name)?;
    let dir = platform.dashkey_dir().ok_or_else(|| anyhow!("no home directory: set HOME"))?;
    let locked = if args.dry_run { None } else { Some(store::lock(platform)?) };
    if let Some(locked) = &locked {
        changes::print_note_list(platform, &locked.notes);
    }
    // The profile in use is written again too: a `use` interrupted after its record leaves
    // files behind, which this completes (and a complete one changes nothing).
    let record = Record::load(&dir)?.unwrap_or_default();
    let found = profile::load(platform, &name)?.ok_or_else(|| unknown(&name))?;
    let settings = settings_of(platform, &found, &record)?;
    let options = SetOptions { profile: Some(name.clone()), ..options_of(&record) };
    if !args.dry_run && !args.json {
        anstream::println!("Switching to the profile '{name}'.");
    }
    crate::set::write(
        platform,
        &settings,
        &options,
        args.dry_run,
        args.json,
        crate::set::Writer::Set,
    )
}

/// The settings that write a stored profile's key again: its region (and workspace), and
/// the client variables the record says `set` writes.
fn settings_of(platform: &Platform, found: &Profile, record: &Record) -> Result<Settings, Failure> {
    let key = found.stored.key().ok_or_else(|| unknown(&found.name))?;
    let region = match &found.region {
        Some(id) => {
            let config = Config::load(platform)
                .map_err(|e| Failure { exit: Exit::Usage, error: e.into() })?;
            Some(crate::set::stored_endpoint(&config, id, found.workspace.as_deref())?)
        }
        None => None,
    };
    Ok(Settings {
        region,
        openai_compatible: record.openai_compatible,
        client_vars: record
            .client_vars
            .iter()
            .filter_map(|n| store::CLIENT_VARS.into_iter().find(|c| c == n))
            .collect(),
        // Which plan an sk-sp- key belongs to is recorded only for the key in use.
        plan: record.plan.clone().filter(|_| record.fingerprint == Some(key.fingerprint())),
        key,
    })
}

/// The files the last `set` wrote change, and no others; with no `set` before, what a first
/// `set` writes.
fn options_of(record: &Record) -> SetOptions {
    if record.fingerprint.is_none() {
        return SetOptions::default();
    }
    let shells: Vec<dashkey::shell::Shell> = record
        .files
        .iter()
        .filter(|f| f.role == Role::Hook)
        .filter_map(|f| dashkey::shell::shell_of_hook_file(&f.path))
        .collect();
    SetOptions {
        no_modify_rc: shells.is_empty(),
        shells: Some(shells),
        gui: record.files.iter().any(|f| f.role == Role::Desktop),
        ..SetOptions::default()
    }
}

/// A Coding Plan profile stored or removed beside the key in use: the files in use export its
/// key as `BAILIAN_CODING_PLAN_API_KEY`, so they are written again with it, in the same
/// transaction as the profile's own file. `None` when no key is in use (nothing exports it
/// then; the profile's own file is all there is to write).
fn beside(
    platform: &Platform,
    beside: store::Beside,
    dry_run: bool,
    json: bool,
) -> Option<Outcome> {
    let dir = platform.dashkey_dir()?;
    let record = Record::load(&dir).ok()??;
    let using = profile::in_use(Some(&record));
    let found = profile::load(platform, &using).ok()??;
    found.stored.key()?;
    let settings = match settings_of(platform, &found, &record) {
        Ok(settings) => settings,
        Err(failure) => return Some(Err(failure)),
    };
    let options = SetOptions { beside: Some(beside), ..options_of(&record) };
    Some(crate::set::write(
        platform,
        &settings,
        &options,
        dry_run,
        json,
        crate::set::Writer::Beside,
    ))
}

/// What `set` says a Coding Plan profile is for, beside the standard key.
fn coding_purpose(name: &ProfileName) {
    anstream::println!(
        "The profile '{name}' holds a Coding Plan key: new shells get it as {} (what Qwen \
         Code's Coding Plan preset reads), beside the key in use in {} (the SDKs and the other \
         clients, on the standard hosts).",
        dashkey::vars::CODING_PLAN_API_KEY,
        dashkey::vars::API_KEY
    );
}

/// `unset --profile NAME`: that profile alone, never the one in use.
pub fn remove(platform: &Platform, name: &str, args: &UnsetArgs) -> Outcome {
    let name = parse(name)?;
    let _lock = if args.dry_run { None } else { Some(store::lock(platform)?) };
    let plan = match profile::plan_remove(platform, &name) {
        Err(store::PersistError::UnknownProfile { .. }) => return Err(unknown(&name)),
        Err(store::PersistError::ProfileInUse { .. }) => {
            return Err(Failure {
                exit: Exit::Usage,
                error: anyhow!(
                    "the profile '{name}' is in use, so removing it alone would leave new shells \
                     without a key: `dashkey use ANOTHER` first, or `dashkey unset` to remove \
                     everything; nothing was changed"
                ),
            });
        }
        other => other?,
    };
    // A Coding Plan profile leaves the files in use too, which export its key.
    let coding = profile::load(platform, &name)?
        .and_then(|p| p.stored.key())
        .is_some_and(|key| key.kind() == KeyKind::CodingPlan);
    if coding
        && let Some(outcome) =
            beside(platform, store::Beside::Remove(name.clone()), args.dry_run, args.json)
    {
        return outcome;
    }
    if args.dry_run {
        changes::print_dry_run(platform, &plan, args.json)?;
        return Ok(Exit::Ok);
    }
    let applied = store::apply(&plan, None)?;
    if args.json {
        changes::print_report(&plan, false)?;
    } else {
        changes::heading(format!("Removed the profile '{name}'"));
        changes::print_applied(platform, &plan, &applied);
    }
    changes::print_notes(platform, &plan);
    Ok(Exit::Ok)
}

fn kind(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::PayAsYouGo => "standard",
        KeyKind::CodingPlan => "coding-plan",
        KeyKind::Workspace => "workspace",
        KeyKind::Temporary => "temporary",
        KeyKind::Unknown => "unknown",
    }
}

/// `dashkey profiles`.
pub fn list(platform: &Platform, args: &ProfilesArgs) -> Outcome {
    let profiles = profile::list(platform)?;
    let rows: Vec<(&Profile, Option<dashkey::ApiKey>)> =
        profiles.iter().map(|p| (p, p.stored.key())).collect();
    let matrix = crate::contexts::matrix(platform);
    // Which launch contexts give a program each profile's key, and in which variable (cron
    // is left out as in `status`: its environment needs the crontab, which `doctor` reads).
    let held = |key: &Option<dashkey::ApiKey>| -> Vec<(&'static str, &'static str, &'static str)> {
        let Some(fingerprint) = key.as_ref().map(dashkey::ApiKey::fingerprint) else {
            return Vec::new();
        };
        matrix
            .contexts
            .iter()
            .filter(|row| row.context != dashkey::reach::LaunchContext::Cron)
            .flat_map(|row| {
                row.holds
                    .iter()
                    .filter(|h| h.fingerprint == fingerprint)
                    .map(|h| (row.context.id(), row.context.label(), h.variable))
            })
            .collect()
    };
    if args.json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|(p, key)| {
                serde_json::json!({
                    "name": p.name.as_str(),
                    "key": key.as_ref().map(dashkey::ApiKey::mask),
                    "fingerprint": key.as_ref().map(dashkey::ApiKey::fingerprint),
                    "kind": key.as_ref().map(|k| kind(k.kind())),
                    "region": p.region,
                    "workspace": p.workspace,
                    "in_use": p.in_use,
                    "contexts": held(key)
                        .iter()
                        .map(|(id, _, variable)| serde_json::json!({"context": id, "variable": variable}))
                        .collect::<Vec<_>>(),
                })
            })
            .collect();
        crate::output::print_json(&serde_json::json!({ "profiles": list }))?;
        return Ok(if profiles.is_empty() { Exit::Problem } else { Exit::Ok });
    }
    if profiles.is_empty() {
        anstream::eprintln!("no key is stored: {}", crate::output::set_first(platform));
        return Ok(Exit::Problem);
    }
    for (p, key) in &rows {
        let workspace = p.workspace.as_ref().map(|w| format!("  workspace {w}"));
        anstream::println!(
            "{} {:<12} {:<16} {:<14} {:<12} {}{}",
            if p.in_use { "*" } else { " " },
            p.name.as_str(),
            key.as_ref().map_or_else(|| "-".to_string(), dashkey::ApiKey::mask),
            key.as_ref().map_or_else(|| "-".to_string(), dashkey::ApiKey::fingerprint),
            key.as_ref().map_or("-", |k| kind(k.kind())),
            p.region.as_deref().unwrap_or("(SDK default)"),
            workspace.unwrap_or_default(),
        );
        let contexts: Vec<String> = held(key)
            .iter()
            .map(|(_, label, variable)| match *variable {
                dashkey::vars::API_KEY => (*label).to_string(),
                other => format!("{label} ({other})"),
            })
            .collect();
        if !contexts.is_empty() {
            anstream::println!("    held by: {}", contexts.join(", "));
        }
    }
    if profiles.iter().any(|p| p.in_use) {
        anstream::println!("* in use: what new shells, the desktop session and the SDK files get");
    } else {
        anstream::println!(
            "none is in use: new shells get no key until  dashkey use {}",
            profiles[0].name
        );
    }
    Ok(Exit::Ok)
}
