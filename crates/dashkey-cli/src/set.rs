//! `dashkey set`: store the key once, for every shell, desktop session and SDK of this user;
//! and `dashkey region`, which changes only the region of the stored key.
//!
//! Before writing, `set` asks DashScope whether the key works and where: a key is accepted in
//! exactly one region and answers 401 everywhere else, so the region found online is the one
//! whose base URLs are written. A rejected key is not stored; a network failure only warns.
//! The decision is the library's (`verify::choose_region`); this file asks and phrases it.

use anyhow::anyhow;
use dashkey::Config;
use dashkey::edit::record::{KeyPlan, KeyStore, Record};
use dashkey::region::config::UnknownRegion;
use dashkey::region::{Plan, RegionEndpoint, WorkspaceId};
use dashkey::shell::{Dialect, Probes, Shell};
use dashkey::store::{self, SetOptions, Settings};
use dashkey::verify::{HttpSettings, Probe, Prober, RegionChoice, Wait, choose_region};
use dashkey::{ApiKey, Platform};

use crate::changes;
use crate::cli::{RegionArgs, SetArgs};
use crate::exit::{Exit, Failure, Outcome};
use crate::keyinput;
use crate::output::{BOLD, DIM, WARN, paint, show_path};
use crate::spinner::Spinner;

/// What the keyring store adds to a shell's start (`scripts/bench keyring`, README).
const KEYRING_SHELL_COST: &str = "20 ms";

/// How long `set` waits for DashScope by default: it should feel quick, and a network
/// failure only costs a warning.
const SET_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub fn run(platform: &Platform, args: &SetArgs) -> Outcome {
    if !args.key_on_argv.is_empty() || args.key_option.is_some() {
        return Err(keyinput::refuse_argv("set"));
    }
    let config = Config::load(platform).map_err(usage)?;
    let targets = config.endpoints();
    // A bad workspace id or a region without workspace hosts stops before the key is read.
    let asked_workspace = match args.workspace.as_deref() {
        Some(id) => Some(WorkspaceId::parse(id).map_err(usage)?),
        None => None,
    };
    let explicit = match (&args.region, &asked_workspace) {
        (Some(id), Some(workspace)) => {
            Some(config.workspace_endpoint(id, workspace).map_err(usage)?)
        }
        (Some(id), None) => Some(config.find(id).map_err(unknown_region)?),
        (None, _) => None,
    };
    // No --profile is the unnamed key, `default`.
    let target = match args.profile.as_deref() {
        Some(name) => crate::profiles::parse(name)?,
        None => store::ProfileName::default_profile(),
    };
    let shells = parse_shells(&args.shells)?;
    let asked = client_vars(&args.clients)?;
    let parsed = if args.keep_key {
        kept_key(platform, &target)?
    } else if args.from_env {
        from_env(platform)?
    } else {
        keyinput::read_key(args.stdin, "DashScope API key (input hidden): ")?
    };
    keyinput::show_notes(&parsed);

    let dir = platform.dashkey_dir().ok_or_else(|| anyhow!("no home directory: set HOME"))?;
    let previous = Record::load(&dir)?;
    // A Coding Plan or Token Plan key (`sk-sp-`) works only on its plan's hosts: it is checked
    // there, and the region URLs are left as asked (or stored), since no region takes it.
    let plan_key = parsed.key.kind() == dashkey::KeyKind::CodingPlan;
    // The region this profile was stored with (the one in use: the record's).
    let target_profile = store::profile::load(platform, &target).ok().flatten();
    let stored = target_profile.as_ref().and_then(|p| p.region.as_deref());
    // A rotation keeps the profile's workspace; `--no-workspace` drops it.
    let workspace = match asked_workspace {
        Some(workspace) => Some(workspace),
        None if args.no_workspace => None,
        None => target_profile
            .as_ref()
            .and_then(|p| p.workspace.as_deref())
            .and_then(|id| WorkspaceId::parse(id).ok()),
    };
    // A workspace key is checked on its workspace's hosts, the ones the SDKs will call.
    let (targets, explicit) = match &workspace {
        Some(workspace) => {
            let explicit = match &args.region {
                Some(id) => Some(config.workspace_endpoint(id, workspace).map_err(usage)?),
                None => None,
            };
            (config.workspace_endpoints(workspace), explicit)
        }
        None => (targets, explicit),
    };
    // A kept key was checked (or not) when it was stored; its stored region stays.
    let checked = !(args.offline || args.keep_key);
    let http = || match platform.var(dashkey::verify::TIMEOUT_VAR) {
        Some(_) => HttpSettings::from_platform(platform).map_err(usage),
        None => Ok(HttpSettings::with_timeout(SET_TIMEOUT)),
    };
    let standard: Vec<RegionEndpoint> =
        targets.iter().filter(|t| dashkey::verify::plan_of(t).is_none()).cloned().collect();
    let probes =
        if checked && !plan_key { Some(check(&parsed.key, &standard, http()?)?) } else { None };
    let choice = choose_region(probes.as_deref(), &standard, explicit.as_ref(), stored);
    let region = chosen(choice)?;
    if let (Some(workspace), None) = (&workspace, &region) {
        return Err(usage(anyhow!(
            "the workspace {workspace} needs its region: add --region ID (one of {}); nothing \
             was changed",
            dashkey::region::WORKSPACE_REGIONS.join(", ")
        )));
    }
    // Unchecked, the plan recorded for this very key stays.
    let same_key = previous.as_ref().filter(|r| r.fingerprint == Some(parsed.key.fingerprint()));
    let plan = match (plan_key, checked) {
        (true, true) => plan_of(&config, &parsed.key, same_key, http()?)?,
        (true, false) => same_key.and_then(|r| r.plan.clone()),
        (false, _) => None,
    };

    let locked = if args.dry_run { None } else { Some(store::lock(platform)?) };
    if let Some(locked) = &locked {
        changes::print_note_list(platform, &locked.notes);
    }
    let mut client_vars: Vec<&'static str> = previous
        .as_ref()
        .map(|r| r.client_vars.iter().filter_map(|n| static_client_var(n)).collect())
        .unwrap_or_default();
    for name in &asked.others {
        if !client_vars.contains(name) {
            client_vars.push(name);
        }
    }
    let mut settings = Settings {
        key: parsed.key,
        region,
        openai_compatible: args.openai_compatible
            || asked.openai
            || previous.as_ref().is_some_and(|r| r.openai_compatible && !args.no_openai_compatible),
        client_vars,
        plan,
    };
    // Only names this set adds are checked: those an earlier set wrote were accepted then.
    let mut already: Vec<&'static str> = previous
        .as_ref()
        .map(|r| r.client_vars.iter().filter_map(|n| static_client_var(n)).collect())
        .unwrap_or_default();
    if previous.as_ref().is_some_and(|r| r.openai_compatible) {
        already.extend([dashkey::vars::OPENAI_API_KEY, dashkey::vars::OPENAI_BASE_URL]);
    }
    refuse_conflicts(platform, &mut settings, &asked, &already, args)?;
    let options = SetOptions {
        shells,
        no_modify_rc: args.no_modify_rc,
        gui: args.gui,
        no_desktop: args.no_desktop,
        migrate: args.migrate,
        profile: None,
        store: args.store.as_deref().map(|name| match name {
            "keyring" => KeyStore::Keyring,
            _ => KeyStore::File,
        }),
        beside: None,
    };
    // A profile not in use gets its own file only; the one in use is written everywhere.
    let current = store::profile::in_use(previous.as_ref());
    let keyring = options.store.unwrap_or(previous.as_ref().map_or(KeyStore::File, |r| r.store));
    if target != current && keyring == KeyStore::Keyring {
        return Err(store::PersistError::ProfileWithKeyring.into());
    }
    if target != current {
        return crate::profiles::store_profile(platform, &target, &settings, args);
    }
    // The lock is held until the plan is written (or refused), then released with `locked`.
    let outcome = write(platform, &settings, &options, args.dry_run, args.json, Writer::Set)?;
    if args.from_env && !args.migrate && !args.dry_run && !args.json {
        offer_migrate(platform);
    }
    Ok(outcome)
}

/// `--from-env`: the key this process inherited, parsed like a paste. It never comes from
/// argv; an unset or empty variable is a usage error that says where to get one.
fn from_env(platform: &Platform) -> Result<dashkey::ParsedKey, Failure> {
    let name = dashkey::vars::API_KEY;
    let value = platform.var(name).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
        usage(anyhow!(
            "--from-env takes the key from {name}, which is not set (or empty) here: run it \
             from the terminal that has the key, or paste it instead with  dashkey set"
        ))
    })?;
    ApiKey::parse(value).map_err(|e| usage(crate::output::key_error(e)))
}

/// `--keep-key`: the key dashkey's own file holds, so a person adds a store (`--gui`) or a
/// shell without pasting the key again and without it passing through argv.
fn kept_key(
    platform: &Platform,
    profile: &store::ProfileName,
) -> Result<dashkey::ParsedKey, Failure> {
    match store::profile::load(platform, profile)?.and_then(|found| found.stored.key()) {
        Some(key) => Ok(dashkey::ParsedKey { key, notes: Vec::new() }),
        None => Err(Failure {
            exit: Exit::Problem,
            error: anyhow!(
                "--keep-key writes the stored key again, but no key is stored: {}",
                crate::output::set_first(platform)
            ),
        }),
    }
}

/// The old `export DASHSCOPE_API_KEY=…` lines that adopted the key are still there, and a
/// line after dashkey's hook wins over it: offer to take them out (after a 0600 backup).
fn offer_migrate(platform: &Platform) {
    let startup = dashkey::world::startup::Startup::read(platform);
    let lines: Vec<String> = startup
        .files()
        .iter()
        .flat_map(|file| {
            file.assignments
                .iter()
                .filter(|a| a.name == dashkey::vars::API_KEY)
                .map(|a| format!("{}:{}", crate::output::show_path(platform, &file.path), a.line))
        })
        .collect();
    if lines.is_empty() {
        return;
    }
    let one = lines.len() == 1;
    anstream::println!();
    anstream::println!(
        "{} {} still set{} {} by hand: the key in plain text in a startup file, which wins \
         over a rotated key when it is read after dashkey's line. Take {} out (after a 0600 \
         backup):  {}",
        if one { "The old line" } else { "The old lines" },
        lines.join(", "),
        if one { "s" } else { "" },
        dashkey::vars::API_KEY,
        if one { "it" } else { "them" },
        paint(BOLD, "dashkey set --keep-key --migrate")
    );
}

/// Which command writes: the heading says what it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writer {
    Set,
    Region,
    /// A profile stored or removed beside the key in use (`SetOptions::beside`).
    Beside,
}

/// Plans, shows or applies, and reports. Shared by `set` and `region`.
pub(crate) fn write(
    platform: &Platform,
    settings: &Settings,
    options: &SetOptions,
    dry_run: bool,
    json: bool,
    writer: Writer,
) -> Outcome {
    let asked: Vec<Shell> =
        options.shells.clone().unwrap_or_else(|| dashkey::shell::detect(platform));
    let probes = Probes::ask(platform, &asked);
    let mut session = dashkey::store::desktop::native_session();
    let plan = store::plan_set(platform, settings, options, &probes, session.as_deref())?;
    if dry_run {
        changes::print_dry_run(platform, &plan, json)?;
        return Ok(Exit::Ok);
    }
    let applied = store::apply(&plan, session.as_deref_mut())?;
    if json {
        changes::print_report(&plan, false)?;
        changes::print_notes(platform, &plan);
        return Ok(Exit::Ok);
    }
    let key = &settings.key;
    if plan.is_empty() {
        anstream::println!(
            "The key {} ({}) is already set everywhere; nothing changed.",
            key.mask(),
            key.fingerprint()
        );
    } else {
        let beside = match &options.beside {
            Some(store::Beside::Store(name, stored)) => Some(format!(
                "Saved the key {} ({}) as the profile '{name}', exported beside the key in use",
                stored.key.mask(),
                stored.key.fingerprint()
            )),
            Some(store::Beside::Remove(name)) => Some(format!("Removed the profile '{name}'")),
            None => None,
        };
        changes::heading(match (writer, &settings.region, beside) {
            (Writer::Beside, _, Some(beside)) => beside,
            (Writer::Region, Some(region), _) => format!(
                "Moved the stored key {} ({}) to region {}",
                key.mask(),
                key.fingerprint(),
                region.region
            ),
            _ => format!("Saved the DashScope API key {} ({})", key.mask(), key.fingerprint()),
        });
        changes::print_applied(platform, &plan, &applied);
    }
    changes::print_notes(platform, &plan);
    explain_environment_d(platform, &plan);
    if let Some(region) = &settings.region {
        anstream::println!("Region: {}, {}", region.region, region.native());
    }
    if store::keyring::recorded_store(platform) == KeyStore::Keyring {
        anstream::println!(
            "The key is in {} and in no file. New shells load it by running `dashkey env` \
             from dashkey's file (a subprocess: about {KEYRING_SHELL_COST} more per shell \
             start, see README's Speed); cron jobs and system services cannot reach the \
             keyring (`dashkey doctor` says which).",
            store::keyring::place()
        );
    }
    anstream::println!();
    anstream::println!("Load it into this terminal now:  {}", paint(BOLD, load_command(platform)));
    // The desktop session's file (environment.d) is read when a session starts: restarting
    // an app started from the menu does not give it the key, a new login does.
    let desktop_file = plan.changes.iter().any(|c| c.role == dashkey::edit::record::Role::Desktop);
    let after = if desktop_file {
        "New terminals get it from now on; apps started from the desktop (IDEs from the menu) \
         get it after your next login: log out and back in. Terminals and services already \
         running keep their old environment: restart them."
    } else {
        "New terminals and new programs get it from now on. Programs already running \
         (IDEs, terminals, services) keep their old environment: restart them."
    };
    anstream::println!("{}", paint(DIM, after));
    Ok(Exit::Ok)
}

/// What the environment.d file just written is for, and when it takes effect: it is no
/// shell's file, so "new terminals" is not when its readers see it.
fn explain_environment_d(platform: &Platform, plan: &store::Plan) {
    let Some(path) = store::desktop::session_file(platform) else { return };
    let written = plan.changes.iter().any(|c| c.path == path && c.after.is_some());
    if platform.os() != dashkey::Os::Linux || !written {
        return;
    }
    anstream::println!(
        "{} feeds programs no shell starts: desktop apps, the IDEs they launch, and systemd user \
         services. The systemd user manager reads it when it starts, at your next login (after \
         every session of yours has ended) or a reboot; `{}` makes it read the file now, for \
         the user services started after that.",
        show_path(platform, &path),
        paint(BOLD, "systemctl --user daemon-reload")
    );
}

/// Asks every region about the key, and stops waiting as soon as one accepts it (a key
/// works in one region: the others could only reject it). The answers already in count.
fn check(
    key: &ApiKey,
    targets: &[RegionEndpoint],
    settings: HttpSettings,
) -> Result<Vec<Probe>, Failure> {
    let spinner = Spinner::start(format!("checking {} with DashScope…", key.mask()));
    let probes =
        Prober::new(settings).probe_until(key, targets, Wait::Grace(std::time::Duration::ZERO));
    drop(spinner);
    probes.map_err(usage)
}

/// An `sk-sp-` key checked on every Coding Plan and Token Plan host: the plan whose host
/// accepts it is recorded (preferring the host recorded before); a key every host that
/// answered rejects is not stored, and silence only warns.
fn plan_of(
    config: &Config,
    key: &ApiKey,
    previous: Option<&Record>,
    settings: HttpSettings,
) -> Result<Option<KeyPlan>, Failure> {
    let hosts = dashkey::verify::plan_endpoints(config.regions());
    let probes = check(key, &hosts, settings)?;
    let before = previous.and_then(|r| r.plan.as_ref()).map(|p| p.host.as_str());
    match choose_region(Some(&probes), &hosts, None, before) {
        RegionChoice::Accepted(host) => {
            let plan = dashkey::verify::plan_of(&host).unwrap_or(Plan::Coding);
            anstream::eprintln!(
                "DashScope accepts the key on {} ({}): it is a {plan} key. It works only on \
                 {plan} hosts, so the region URLs are left as they were; `dashkey verify \
                 --stdin` shows each host's answer.",
                host.region,
                host.display_name()
            );
            Ok(Some(KeyPlan { plan, host: host.region }))
        }
        RegionChoice::Rejected | RegionChoice::Mismatch { .. } => Err(Failure {
            exit: Exit::Problem,
            error: anyhow!(
                "DashScope rejected this sk-sp- key on every Coding Plan and Token Plan host \
                 that answered, so it was not stored. Copy the key again from the plan's page in \
                 the Model Studio console; `dashkey verify --stdin` shows each host's answer, \
                 and --offline stores it anyway"
            ),
        }),
        RegionChoice::Unchecked { .. } => {
            anstream::eprintln!(
                "{} could not reach the Coding Plan or Token Plan hosts to check the key (see \
                 `dashkey verify`); storing it unchecked",
                paint(WARN, "warning:")
            );
            Ok(None)
        }
    }
}

/// Phrases the library's choice of region: the region to write, or why nothing is stored.
fn chosen(choice: RegionChoice) -> Result<Option<RegionEndpoint>, Failure> {
    match choice {
        RegionChoice::Accepted(endpoint) => {
            anstream::eprintln!(
                "DashScope accepts the key in {} ({}).",
                endpoint.region,
                endpoint.display_name()
            );
            Ok(Some(endpoint))
        }
        RegionChoice::Mismatch { asked, accepted } => Err(Failure {
            exit: Exit::Problem,
            error: anyhow!(
                "DashScope accepts this key in {accepted}, not in {asked}: keys work in one region only. \
                 Run again with --region {accepted} (or --offline to store it as asked)"
            ),
        }),
        RegionChoice::Rejected => Err(Failure {
            exit: Exit::Problem,
            error: anyhow!(
                "DashScope rejected this key in every region that answered, so it was not stored. \
                 Copy the key again from the Model Studio console (API-KEY page); \
                 `dashkey verify --stdin` shows each region's answer, and --offline stores it anyway"
            ),
        }),
        RegionChoice::Unchecked { region, unheard } => {
            if unheard {
                anstream::eprintln!(
                    "{} could not reach DashScope to check the key (see `dashkey verify`); storing it unchecked",
                    paint(WARN, "warning:")
                );
            }
            Ok(region)
        }
    }
}

/// `dashkey region [<id>]`: show the stored region, or rewrite the base URLs beside the
/// stored key for every shell, through the same machinery as `set`.
pub fn region(platform: &Platform, args: &RegionArgs) -> Outcome {
    if let Some(outcome) = crate::profiles::region(platform, args) {
        return outcome;
    }
    let dir = platform.dashkey_dir().ok_or_else(|| anyhow!("no home directory: set HOME"))?;
    let previous = Record::load(&dir)?;
    let Some(id) = &args.id else {
        if args.json {
            let region = previous.as_ref().and_then(|r| r.region.clone());
            crate::output::print_json(&serde_json::json!({
                "stored": previous.is_some(),
                "region": region,
            }))?;
            return Ok(if previous.is_some() { Exit::Ok } else { Exit::Problem });
        }
        match previous.as_ref().and_then(|r| r.region.as_deref()) {
            Some(region) => anstream::println!("{region}"),
            None if previous.is_some() => {
                anstream::println!("none: the SDKs' default (cn-beijing) applies")
            }
            None => {
                anstream::eprintln!("no key is stored: {}", crate::output::set_first(platform));
                return Ok(Exit::Problem);
            }
        }
        return Ok(Exit::Ok);
    };
    let config = Config::load(platform).map_err(usage)?;
    let workspace = previous.as_ref().and_then(|r| r.workspace.as_deref());
    let target = stored_endpoint(&config, id, workspace)?;
    // The stored key is read under the lock: an `unset` finishing just before must win.
    let locked = if args.dry_run { None } else { Some(store::lock(platform)?) };
    if let Some(locked) = &locked {
        changes::print_note_list(platform, &locked.notes);
    }
    let previous = match locked {
        Some(_) => Record::load(&dir)?,
        None => previous,
    };
    let Some(key) = store::load_stored(platform)?.and_then(|stored| stored.key()) else {
        return Err(Failure {
            exit: Exit::Problem,
            error: anyhow!("no key is stored: {}", set_first_in(platform, id)),
        });
    };
    let record = previous.unwrap_or_default();
    let shells: Vec<Shell> = record
        .files
        .iter()
        .filter(|f| f.role == dashkey::edit::record::Role::Hook)
        .filter_map(|f| dashkey::shell::shell_of_hook_file(&f.path))
        .collect();
    let settings = Settings {
        key,
        region: Some(target),
        openai_compatible: record.openai_compatible,
        client_vars: record.client_vars.iter().filter_map(|n| static_client_var(n)).collect(),
        plan: record.plan.clone(),
    };
    // Only the files the last `set` wrote change: no new shells are hooked by a region change.
    let options = SetOptions {
        shells: Some(shells.clone()),
        no_modify_rc: shells.is_empty(),
        gui: record.files.iter().any(|f| f.role == dashkey::edit::record::Role::Desktop),
        no_desktop: false,
        migrate: false,
        profile: None,
        store: None,
        beside: None,
    };
    // The lock is held until the plan is written (or refused), then released with `locked`.
    write(platform, &settings, &options, args.dry_run, args.json, Writer::Region)
}

/// The generic variables `--client` asked for: the OpenAI pair, and the others by name.
#[derive(Default)]
struct Asked {
    ids: Vec<&'static str>,
    openai: bool,
    others: Vec<&'static str>,
}

fn client_vars(ids: &[String]) -> Result<Asked, Failure> {
    let mut asked = Asked::default();
    for id in ids {
        let client = crate::clients::find(id)?;
        asked.ids.push(client.id);
        for name in client.set_vars {
            match static_client_var(name) {
                Some(name) if !asked.others.contains(&name) => asked.others.push(name),
                Some(_) => {}
                None => asked.openai = true,
            }
        }
    }
    Ok(asked)
}

fn static_client_var(name: &str) -> Option<&'static str> {
    store::CLIENT_VARS.into_iter().find(|n| *n == name)
}

/// `--client`: a generic variable that holds another value somewhere a program would read
/// it is not shadowed without `--force`; a client whose variables cannot name the region is
/// refused. Nothing is written either way. For Claude Code, another key in
/// `ANTHROPIC_API_KEY` (which it prefers over the token dashkey writes) is such a value too:
/// `--force` then writes dashkey's key there as well; in Claude Code's settings it is refused
/// even so, since a settings file's `env` wins over anything dashkey writes.
fn refuse_conflicts(
    platform: &Platform,
    settings: &mut Settings,
    asked: &Asked,
    already: &[&'static str],
    args: &SetArgs,
) -> Result<(), Failure> {
    let region = settings.region.clone().or_else(|| RegionEndpoint::builtin("cn-beijing"));
    if let Some(region) = &region {
        for name in &asked.others {
            if store::client_value(name, &settings.key, region).is_none() {
                return Err(usage(anyhow!(
                    "{name} cannot name {} (it knows china, singapore and us), so `--client {}` cannot serve that region; nothing was changed",
                    region.region,
                    asked.ids.join(" --client ")
                )));
            }
        }
    }
    let variables = settings.variables();
    let api_key = dashkey::vars::ANTHROPIC_API_KEY;
    let claude = asked.ids.contains(&dashkey::clients::claude_code::ID)
        && !settings.client_vars.contains(&api_key);
    let mut generic: Vec<(&'static str, &str)> = variables
        .iter()
        .filter(|(name, _)| {
            store::CLIENT_VARS.contains(name)
                || *name == dashkey::vars::OPENAI_API_KEY
                || *name == dashkey::vars::OPENAI_BASE_URL
        })
        .filter(|(name, _)| !already.contains(name))
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    if claude {
        generic.push((api_key, settings.key.expose()));
    }
    let stored = store::load_stored(platform).ok().flatten();
    let session = dashkey::store::desktop::native_session();
    let conflicts =
        dashkey::clients::conflicts(platform, &generic, stored.as_ref(), session.as_deref());
    let settings_files = if claude {
        dashkey::clients::claude_code::other_api_keys(platform, settings.key.expose())
    } else {
        Vec::new()
    };
    let describe = |found: &[dashkey::clients::Conflict]| -> Vec<String> {
        found.iter().map(|c| format!("{} in {}", c.name, c.place.describe(platform))).collect()
    };
    if !settings_files.is_empty() {
        // Claude Code copies each settings file's `env` over its process environment at
        // start, and sends ANTHROPIC_API_KEY as X-Api-Key: the fix is in that file, which
        // dashkey does not edit.
        let files: Vec<String> = settings_files
            .iter()
            .filter_map(|c| match &c.place {
                dashkey::clients::Place::ClientSettings { path } => Some(platform.show_path(path)),
                _ => None,
            })
            .collect();
        return Err(usage(anyhow!(
            "another key is set for {}: Claude Code copies its settings' env over the shell's \
             when it starts and sends ANTHROPIC_API_KEY as X-Api-Key, so its calls would carry \
             that key, and nothing dashkey writes can shadow a settings file (not even \
             with --force); nothing was changed. Fix: delete the \"ANTHROPIC_API_KEY\" entry \
             from the \"env\" object of {}, then run this again; or, so that Claude Code asks \
             dashkey for the key every time, put \"apiKeyHelper\": \"dashkey key\" in its \
             place (in a settings.json: Claude Code reads the helper from its settings, not from \
             ~/.claude.json, and sends the helper's output as the key)",
            describe(&settings_files).join(", "),
            files.join(" and of ")
        )));
    }
    if conflicts.is_empty() {
        return Ok(());
    }
    let shadows_api_key = conflicts.iter().any(|c| c.name == api_key);
    let places = describe(&conflicts);
    if args.force {
        // Claude Code sends ANTHROPIC_API_KEY when set: dashkey's key goes there too.
        if shadows_api_key {
            settings.client_vars.push(api_key);
        }
        anstream::eprintln!(
            "{} dashkey's values now shadow another value of {}; `dashkey unset` takes dashkey's away and leaves those untouched",
            paint(WARN, "!"),
            places.join(", ")
        );
        return Ok(());
    }
    let why = if shadows_api_key {
        " Claude Code sends ANTHROPIC_API_KEY (as X-Api-Key) beside the ANTHROPIC_AUTH_TOKEN \
         dashkey writes, so its calls would carry that other key too; --force writes this key \
         into ANTHROPIC_API_KEY as well."
    } else {
        ""
    };
    Err(usage(anyhow!(
        "another value is already set for {}: these names may belong to another provider, so dashkey does not shadow them; nothing was changed.{why} To write dashkey's anyway, add --force (`dashkey unset` later leaves the other values as they are)",
        places.join(", ")
    )))
}

/// The endpoint a profile is stored with: its region's public host, or its workspace's
/// dedicated host in that region.
pub fn stored_endpoint(
    config: &Config,
    region: &str,
    workspace: Option<&str>,
) -> Result<RegionEndpoint, Failure> {
    match workspace {
        Some(id) => {
            let workspace = WorkspaceId::parse(id).map_err(usage)?;
            config.workspace_endpoint(region, &workspace).map_err(usage)
        }
        None => config.find(region).map_err(unknown_region),
    }
}

/// `set --region <id>` first, from this environment's key when it has one (no paste).
fn set_first_in(platform: &Platform, id: &str) -> String {
    if platform.var(dashkey::vars::API_KEY).is_some_and(|v| !v.trim().is_empty()) {
        format!(
            "run `dashkey set --from-env --region {id}` first (it stores the DASHSCOPE_API_KEY \
             this terminal has)"
        )
    } else {
        format!("run `dashkey set --region {id}` first")
    }
}

fn usage(error: impl Into<anyhow::Error>) -> Failure {
    Failure { exit: Exit::Usage, error: error.into() }
}

/// The refusal of a region id nobody knows, naming the known ones.
pub fn unknown_region(unknown: UnknownRegion) -> Failure {
    let shown = shown_region(&unknown);
    let asked = unknown.asked.as_deref().unwrap_or_default();
    if dashkey::region::WORKSPACE_REGIONS.contains(&asked) {
        return usage(anyhow!(
            "the region {shown} has workspace hosts only: add --workspace ID (your workspace's \
             id), or use one of {}",
            unknown.known.join(", ")
        ));
    }
    usage(anyhow!("unknown region {shown}: use one of {}", unknown.known.join(", ")))
}

/// The region id asked for, quoted, unless the library saw a key in it.
pub fn shown_region(unknown: &UnknownRegion) -> String {
    match &unknown.asked {
        Some(id) => format!("'{id}'"),
        None => "(that looks like a key; never put a key on the command line)".to_string(),
    }
}

fn parse_shells(names: &[String]) -> Result<Option<Vec<Shell>>, Failure> {
    if names.is_empty() {
        return Ok(None);
    }
    names
        .iter()
        .map(|name| {
            Shell::from_name(name).ok_or_else(|| {
                usage(anyhow!(
                    "unknown shell '{name}': use bash, zsh, fish, sh, ksh, mksh, tcsh, nu or pwsh"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The command that loads dashkey's file into the current shell.
pub fn load_command(platform: &Platform) -> String {
    store::load_command(platform).unwrap_or_else(|| "eval \"$(dashkey env)\"".to_string())
}

/// The syntax of the shell this command runs in, from `$SHELL` (POSIX when unknown).
pub fn current_dialect(platform: &Platform) -> Dialect {
    dashkey::shell::login_dialect(platform)
}
