//! `dashkey use`, `dashkey profiles`, `dashkey link`/`unlink`, and the `--profile` of `set`,
//! `unset`, `run`, `env`, `export`, `key`, `verify`, `status`, `doctor` and `region`:
//! several stored keys, one in use, and which one applies here. Where each profile lives and
//! how a switch is written is the library's (`store::profile`, `store::link`); this file
//! phrases it.

use anyhow::anyhow;
use dashkey::edit::record::{Record, Role};
use dashkey::store::link;
use dashkey::store::profile::{self, Profile};
use dashkey::store::{self, ProfileName, SetOptions, Settings, Stored};
use dashkey::{Config, KeyKind, Platform, RegionEndpoint};

use crate::changes;
use crate::cli::{LinkArgs, ProfilesArgs, RegionArgs, SetArgs, UnlinkArgs, UnsetArgs, UseArgs};
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

/// The profile that applies here (`--profile`, the nearest link file, the one in use), as a
/// usage error when the flag or the link does not name a stored profile.
pub fn choose(platform: &Platform, flag: Option<&str>) -> Result<link::Choice, Failure> {
    let choice = link::choose(platform, flag).map_err(|error| match error {
        link::ChoiceError::Persist(e) => Failure::from(e),
        other => Failure { exit: Exit::Usage, error: anyhow!("{other}; nothing was changed") },
    })?;
    match (&choice.why, &choice.profile) {
        (link::Why::Link(path), None) => Err(Failure {
            exit: Exit::Usage,
            error: anyhow!(
                "{} links this directory to the profile '{}', which is not stored: `dashkey \
                 profiles` lists them; store it with `dashkey set --profile {}`, or remove the \
                 link with `dashkey unlink` there; nothing was changed",
                platform.show_path(path),
                choice.name,
                choice.name
            ),
        }),
        (link::Why::Flag, None) => Err(unknown(&choice.name)),
        _ => Ok(choice),
    }
}

/// The variables of the profile that applies here (see [`choose`]), for `run`, `env`,
/// `export` and `key`; `None` when nothing is stored and no profile was named or linked.
pub fn stored(platform: &Platform, flag: Option<&str>) -> Result<Option<Stored>, Failure> {
    let Some(found) = choose(platform, flag)?.profile else { return Ok(None) };
    Ok(Some(link::handed(platform, found.stored)?))
}

/// When `--profile` or a link file chooses a profile other than by default, this platform
/// with that profile's variables in its environment, as `dashkey run` would start a program;
/// `None` when the profile in use applies (the environment is then judged as it is).
pub fn overlay(
    platform: &Platform,
    flag: Option<&str>,
) -> Result<Option<(Platform, link::Choice)>, Failure> {
    let choice = choose(platform, flag)?;
    let Some(found) = choice.profile.as_ref().filter(|_| choice.why != link::Why::InUse) else {
        return Ok(None);
    };
    let mut vars: std::collections::BTreeMap<String, String> =
        platform.vars().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    for (name, value) in &found.stored.vars {
        vars.insert(name.clone(), value.to_string());
    }
    let overlaid = platform.with_environment(vars);
    Ok(Some((overlaid, choice)))
}

/// `dashkey region [ID]` when `--profile` or a link file chooses a profile that is not in
/// use: its region, or its own files rewritten for another region (nothing any shell in use
/// reads). `None` when the profile in use applies, which `set::region` handles.
pub fn region(platform: &Platform, args: &RegionArgs) -> Option<Outcome> {
    let choice = match choose(platform, args.profile.as_deref()) {
        Ok(choice) => choice,
        Err(failure) => return Some(Err(failure)),
    };
    let found = choice.profile.as_ref().filter(|p| !p.in_use)?;
    Some(region_of(platform, args, &choice, found))
}

fn region_of(
    platform: &Platform,
    args: &RegionArgs,
    choice: &link::Choice,
    found: &Profile,
) -> Outcome {
    let Some(id) = &args.id else {
        if args.json {
            crate::output::print_json(&serde_json::json!({
                "stored": true,
                "profile": choice.name.as_str(),
                "region": found.region,
            }))?;
        } else {
            anstream::println!(
                "{}",
                found.region.as_deref().unwrap_or("none: the SDKs' default (cn-beijing) applies")
            );
        }
        return Ok(Exit::Ok);
    };
    let config =
        Config::load(platform).map_err(|e| Failure { exit: Exit::Usage, error: e.into() })?;
    // A workspace profile moves with its workspace, as `region` does for the profile in use.
    let target = crate::set::stored_endpoint(&config, id, found.workspace.as_deref())?;
    let _lock = if args.dry_run { None } else { Some(store::lock(platform)?) };
    let dir = platform.dashkey_dir().ok_or_else(|| anyhow!("no home directory: set HOME"))?;
    let record = Record::load(&dir)?.unwrap_or_default();
    let key = found.stored.key().ok_or_else(|| unknown(&choice.name))?;
    let settings = settings_with(&record, key, Some(target));
    let Some((plan, applied)) =
        write_profile(platform, &choice.name, &settings, args.dry_run, args.json)?
    else {
        return Ok(Exit::Ok);
    };
    if plan.is_empty() {
        anstream::println!(
            "The profile '{}' is already stored for {id}; nothing changed.",
            choice.name
        );
    } else {
        changes::heading(format!("Moved the profile {} to {id}", why(platform, choice)));
        changes::print_applied(platform, &plan, &applied);
    }
    changes::print_notes(platform, &plan);
    Ok(Exit::Ok)
}

/// How a choice reads in a sentence: `'work' (linked by ~/p/.dashkey-profile)`.
pub fn why(platform: &Platform, choice: &link::Choice) -> String {
    match &choice.why {
        link::Why::Flag => format!("'{}' (asked for with --profile)", choice.name),
        link::Why::Link(path) => {
            format!("'{}' (linked by {})", choice.name, platform.show_path(path))
        }
        link::Why::InUse => format!("'{}' (the profile in use)", choice.name),
    }
}

/// Which profile applies here, for `status`: a sentence (with a `!` problem when the link
/// is broken) and its JSON, or `None` when it is simply the profile in use.
pub fn here(platform: &Platform, flag: Option<&str>) -> Option<(String, bool, serde_json::Value)> {
    let choice = match link::choose(platform, flag) {
        Ok(choice) if choice.why == link::Why::InUse => return None,
        Ok(choice) => choice,
        Err(error) => {
            let json = serde_json::json!({ "problem": error.to_string() });
            return Some((format!("{error}: shells here keep the profile in use"), true, json));
        }
    };
    let (why, link) = match &choice.why {
        link::Why::Flag => ("flag", None),
        link::Why::Link(path) => ("link", Some(path.display().to_string())),
        link::Why::InUse => ("in-use", None),
    };
    let key = choice.profile.as_ref().and_then(|p| p.stored.key());
    let region = choice.profile.as_ref().and_then(|p| p.region.clone());
    let json = serde_json::json!({
        "name": choice.name.as_str(),
        "why": why,
        "link": link,
        "stored": choice.profile.is_some(),
        "key": key.as_ref().map(dashkey::ApiKey::mask),
        "fingerprint": key.as_ref().map(dashkey::ApiKey::fingerprint),
        "region": region,
    });
    let text = match (&choice.profile, key) {
        (Some(_), Some(key)) => format!(
            "profile here: {}: {} {}, region {}",
            self::why(platform, &choice),
            key.mask(),
            key.fingerprint(),
            region.as_deref().unwrap_or("(SDK default)")
        ),
        _ if choice.why == link::Why::Flag => format!("{}", unknown(&choice.name).error),
        _ => format!(
            "{}, which is not stored: shells here keep the profile in use, and `dashkey run` \
             refuses. Fix: dashkey unlink (in that directory), or dashkey set --profile {}",
            self::why(platform, &choice),
            choice.name
        ),
    };
    let problem = choice.profile.is_none();
    Some((text, problem, json))
}

/// `dashkey link NAME`: the link file in this directory.
pub fn link(platform: &Platform, args: &LinkArgs) -> Outcome {
    let name = parse(&args.name)?;
    if profile::load(platform, &name)?.is_none() {
        return Err(unknown(&name));
    }
    let dir = platform.cwd();
    let (path, before) = link::write(dir, &name)?;
    let shown = platform.show_path(&path);
    match before.map(|b| b.name) {
        Some(Ok(old)) if old == name => {
            anstream::println!("{shown} already links this directory to '{name}'.");
        }
        Some(Ok(old)) => {
            anstream::println!("{shown} now links this directory to '{name}' (was '{old}').")
        }
        _ => anstream::println!("Linked this directory to the profile '{name}': wrote {shown}."),
    }
    anstream::println!(
        "It holds only the name, so it is safe to commit. bash, zsh and fish switch to '{name}' \
         when they enter this tree and back when they leave; other shells: dashkey run -- COMMAND"
    );
    let in_use = store::load_stored(platform).ok().flatten().is_some();
    if !in_use {
        anstream::println!(
            "No profile is in use, so no shell loads dashkey's file and none switches yet: \
             dashkey use NAME"
        );
    } else if !link::shells_switch(platform) {
        anstream::println!(
            "Your shells load a file an older dashkey wrote, which does not switch: \
             dashkey set --keep-key  rewrites it (then open a new terminal)"
        );
    }
    Ok(Exit::Ok)
}

/// `dashkey unlink`: the link file in this directory, not one above it.
pub fn unlink(platform: &Platform, _args: &UnlinkArgs) -> Outcome {
    let dir = platform.cwd();
    match link::remove(dir)? {
        Some(removed) => {
            anstream::println!("Removed {}.", platform.show_path(&removed.path));
            match link::nearest(dir) {
                Some(above) => anstream::println!(
                    "{} still links this tree{}.",
                    platform.show_path(&above.path),
                    above.name.map(|n| format!(" to '{n}'")).unwrap_or_default()
                ),
                None => anstream::println!("This directory uses the profile in use again."),
            }
            Ok(Exit::Ok)
        }
        None => {
            let hint = match link::nearest(dir) {
                Some(above) => format!(
                    "; the link that applies here is {}: run `dashkey unlink` in its directory",
                    platform.show_path(&above.path)
                ),
                None => String::new(),
            };
            Err(Failure {
                exit: Exit::Usage,
                error: anyhow!(
                    "no {} in this directory{hint}; nothing was changed",
                    link::LINK_FILE
                ),
            })
        }
    }
}

/// A profile's settings: its key and region, with the `--client` names the record asks for.
fn settings_with(
    record: &Record,
    key: dashkey::ApiKey,
    region: Option<RegionEndpoint>,
) -> Settings {
    Settings {
        // Which plan an sk-sp- key belongs to is recorded only for the key in use.
        plan: record.plan.clone().filter(|_| record.fingerprint == Some(key.fingerprint())),
        key,
        region,
        openai_compatible: record.openai_compatible,
        client_vars: record
            .client_vars
            .iter()
            .filter_map(|n| store::CLIENT_VARS.into_iter().find(|c| c == n))
            .collect(),
    }
}

/// Writes a profile that is not in use (its own files, its services, the record), or shows
/// the diff (`--dry-run`) or the changes (`--json`); `None` when that was all there was to say.
fn write_profile(
    platform: &Platform,
    name: &ProfileName,
    settings: &Settings,
    dry_run: bool,
    json: bool,
) -> Result<Option<(store::Plan, store::Applied)>, Failure> {
    let plan = profile::plan_store(platform, name, settings)?;
    if dry_run {
        changes::print_dry_run(platform, &plan, json)?;
        return Ok(None);
    }
    let applied = store::apply(&plan, None)?;
    if json {
        changes::print_report(&plan, false)?;
        return Ok(None);
    }
    Ok(Some((plan, applied)))
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
    let Some((plan, applied)) = write_profile(platform, name, settings, args.dry_run, args.json)?
    else {
        return Ok(Exit::Ok);
    };
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
    Ok(settings_with(record, key, region))
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
    // A service installed with this profile would keep a key nothing rotates any more.
    let dir = platform.dashkey_dir().ok_or_else(|| anyhow!("no home directory: set HOME"))?;
    let record = Record::load(&dir).ok().flatten().unwrap_or_default();
    let pinned: Vec<String> = record
        .services
        .iter()
        .filter(|s| s.profile.as_deref() == Some(name.as_str()))
        .map(|s| s.service.describe())
        .collect();
    if !pinned.is_empty() {
        return Err(Failure {
            exit: Exit::Usage,
            error: anyhow!(
                "the profile '{name}' was given to the {} with `service install --profile \
                 {name}`: uninstall it (dashkey service uninstall …) or install it again without \
                 --profile first; nothing was changed",
                pinned.join(", the ")
            ),
        });
    }
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
