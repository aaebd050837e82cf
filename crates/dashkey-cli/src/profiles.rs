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
    let record = Record::load(&dir)?;
    let found = profile::load(platform, &name)?.ok_or_else(|| unknown(&name))?;
    let key = found.stored.key().ok_or_else(|| unknown(&name))?;
    let region = match &found.region {
        Some(id) => {
            let config = Config::load(platform)
                .map_err(|e| Failure { exit: Exit::Usage, error: e.into() })?;
            Some(config.find(id).map_err(crate::set::unknown_region)?)
        }
        None => None,
    };
    let record = record.unwrap_or_default();
    let settings = Settings {
        key,
        region,
        openai_compatible: record.openai_compatible,
        client_vars: record
            .client_vars
            .iter()
            .filter_map(|n| store::CLIENT_VARS.into_iter().find(|c| c == n))
            .collect(),
        // Another profile's key: which plan it belongs to was not recorded.
        plan: None,
    };
    // The files the last `set` wrote change, and no others; with no `set` before, what a
    // first `set` writes.
    let options = if record.fingerprint.is_some() {
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
            profile: Some(name.clone()),
            ..SetOptions::default()
        }
    } else {
        SetOptions { profile: Some(name.clone()), ..SetOptions::default() }
    };
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
                    "in_use": p.in_use,
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
        anstream::println!(
            "{} {:<12} {:<16} {:<14} {:<12} {}",
            if p.in_use { "*" } else { " " },
            p.name.as_str(),
            key.as_ref().map_or_else(|| "-".to_string(), dashkey::ApiKey::mask),
            key.as_ref().map_or_else(|| "-".to_string(), dashkey::ApiKey::fingerprint),
            key.as_ref().map_or("-", |k| kind(k.kind())),
            p.region.as_deref().unwrap_or("(SDK default)"),
        );
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
