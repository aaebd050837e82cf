//! `dashkey set`: store the key once, for every shell, desktop session and SDK of this user.

use anyhow::anyhow;
use dashkey::persist::{self, SetOptions, Settings};
use dashkey::record::Record;
use dashkey::shell::{Dialect, Probes, Shell};
use dashkey::{Platform, Region};
use serde::Serialize;

use crate::changes;
use crate::cli::SetArgs;
use crate::exit::{Exit, Failure, Outcome};
use crate::keyinput;
use crate::output::{BOLD, DIM, paint};

pub fn run(platform: &Platform, args: &SetArgs) -> Outcome {
    if !args.key_on_argv.is_empty() || args.key_option.is_some() {
        return Err(keyinput::refuse_argv());
    }
    let region = match &args.region {
        Some(id) => Some(parse_region(id)?),
        None => None,
    };
    let shells = parse_shells(&args.shells)?;
    let parsed = keyinput::read_key(args.stdin, "DashScope API key (input hidden): ")?;
    keyinput::show_notes(&parsed);

    let mut locked = if args.dry_run { None } else { Some(persist::lock(platform)?) };
    let result = store(platform, args, parsed, region, shells, locked.as_ref());
    if result.is_err()
        && let Some(locked) = locked.take()
    {
        locked.undo();
    }
    result
}

fn store(
    platform: &Platform,
    args: &SetArgs,
    parsed: dashkey::ParsedKey,
    region: Option<String>,
    shells: Option<Vec<Shell>>,
    locked: Option<&persist::Locked>,
) -> Outcome {
    let dir = platform.dashkey_dir().ok_or_else(|| anyhow!("no home directory: set HOME"))?;
    let previous = Record::load(&dir)?;
    let settings = Settings {
        key: parsed.key,
        // A rotation keeps the region chosen before, unless a new one is given.
        region: region.or_else(|| previous.as_ref().and_then(|r| r.region.clone())),
        openai_compatible: args.openai_compatible
            || previous.as_ref().is_some_and(|r| r.openai_compatible && !args.no_openai_compatible),
    };
    let options = SetOptions {
        shells: shells.clone(),
        no_modify_rc: args.no_modify_rc,
        gui: args.gui,
        migrate: args.migrate,
        created_dirs: locked.map(|l| l.created_dirs.clone()).unwrap_or_default(),
    };
    let asked: Vec<Shell> = shells.unwrap_or_else(|| dashkey::shell::detect(platform));
    let probes = Probes::ask(platform, &asked);
    let mut session = dashkey::desktop::native_session();
    let plan = persist::plan_set(platform, &settings, &options, &probes, session.as_deref())?;

    if args.dry_run {
        if args.json {
            crate::output::print_json(&Report { dry_run: true, changes: changes::report(&plan) })?;
        } else {
            anstream::print!("{}", changes::diff(platform, &plan));
            changes::print_notes(platform, &plan);
            anstream::eprintln!("{}", paint(DIM, "dry run: nothing was written"));
        }
        return Ok(Exit::Ok);
    }
    let applied = persist::apply(&plan, session.as_deref_mut())?;
    if args.json {
        crate::output::print_json(&Report { dry_run: false, changes: changes::report(&plan) })?;
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
        changes::heading(format!(
            "Saved the DashScope API key {} ({})",
            key.mask(),
            key.fingerprint()
        ));
        changes::print_applied(platform, &plan, &applied);
    }
    changes::print_notes(platform, &plan);
    if let Some(region) = settings.region.as_deref().and_then(Region::find) {
        anstream::println!("Region: {} ({}), {}", region.id, region.name, region.native_url());
    }
    anstream::println!();
    anstream::println!("Load it into this terminal now:  {}", paint(BOLD, load_command(platform)));
    anstream::println!(
        "{}",
        paint(
            DIM,
            "New terminals and new programs get it from now on. Programs already running \
             (IDEs, terminals, services) keep their old environment: restart them."
        )
    );
    Ok(Exit::Ok)
}

#[derive(Serialize)]
struct Report {
    dry_run: bool,
    changes: Vec<changes::ChangeReport>,
}

/// The region for `--region`, refusing without echoing something that looks like a key.
pub fn parse_region(id: &str) -> Result<String, Failure> {
    if Region::find(id).is_some() {
        return Ok(id.to_string());
    }
    let known: Vec<&str> = Region::all().iter().map(|r| r.id).collect();
    let shown =
        if dashkey::ApiKey::verbatim(id).kind() != dashkey::KeyKind::Unknown || id.len() > 40 {
            "(that looks like a key; never put a key on the command line)".to_string()
        } else {
            format!("'{id}'")
        };
    Err(Failure {
        exit: Exit::Usage,
        error: anyhow!("unknown region {shown}: use one of {}", known.join(", ")),
    })
}

fn parse_shells(names: &[String]) -> Result<Option<Vec<Shell>>, Failure> {
    if names.is_empty() {
        return Ok(None);
    }
    names
        .iter()
        .map(|name| {
            Shell::from_name(name).ok_or_else(|| Failure {
                exit: Exit::Usage,
                error: anyhow!(
                    "unknown shell '{name}': use bash, zsh, fish, sh, ksh, mksh, tcsh, nu or pwsh"
                ),
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The command that loads dashkey's file into the current shell.
pub fn load_command(platform: &Platform) -> String {
    persist::load_command(platform).unwrap_or_else(|| "eval \"$(dashkey env)\"".to_string())
}

/// The syntax of the shell this command runs in, from `$SHELL` (POSIX when unknown).
pub fn current_dialect(platform: &Platform) -> Dialect {
    dashkey::shell::login_dialect(platform)
}
