//! `dashkey service install|uninstall|list`: give a systemd unit or a supervisord program the
//! stored key (FAQ scenario 3), and take it back byte for byte.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use dashkey::Platform;
use dashkey::store::handoff::{self, Service};
use dashkey::store::{self, Plan, ProfileName};

use crate::changes;
use crate::cli::{ServiceArgs, ServiceCommand, ServiceTarget};
use crate::exit::{Exit, Failure, Outcome};
use crate::output::{BOLD, DIM, WARN, paint, show_path};

pub fn run(platform: &Platform, args: &ServiceArgs) -> Outcome {
    // Under sudo, the key and the record are those of the user who ran sudo.
    let owner = platform.sudo_invoker().unwrap_or_else(|| platform.clone());
    match &args.command {
        ServiceCommand::Install(target) => install(platform, &owner, target),
        ServiceCommand::Uninstall(target) => uninstall(platform, &owner, target),
        ServiceCommand::List { json } => list(&owner, *json),
    }
}

fn failure(exit: Exit, error: impl Into<anyhow::Error>) -> Failure {
    Failure { exit, error: crate::exit::sentence(error.into()) }
}

/// The service a command line names, refusing a system unit without root before anything
/// is read.
fn resolve(
    platform: &Platform,
    owner: &Platform,
    target: &ServiceTarget,
) -> Result<Service, Failure> {
    if target.cron {
        if platform.sudo_invoker().is_some() {
            // `crontab` would edit root's crontab, recorded as the invoking user's.
            return Err(failure(
                Exit::Usage,
                anyhow!(
                    "--cron edits the crontab of the user who runs it: run it without sudo, as \
                     the user whose jobs need the key"
                ),
            ));
        }
        // The record keeps whether dashkey created the crontab; that is decided at install.
        return Ok(Service::Cron { with_key: target.with_key, created: false });
    }
    match (&target.systemd, &target.supervisord) {
        (Some(unit), None) => {
            let root = target.root.clone().unwrap_or_else(|| PathBuf::from("/"));
            if !target.user && target.root.is_none() && !platform.is_root() {
                return Err(failure(Exit::Io, handoff::HandoffError::NeedsRoot(unit.clone())));
            }
            let base = if target.user { platform } else { owner };
            handoff::systemd_service(base, unit, target.user, &root, target.credential)
                .map_err(|e| failure(Exit::Usage, e))
        }
        (None, Some(program)) => {
            handoff::supervisord_service(platform, program, target.config.as_deref())
                .map_err(|e| failure(Exit::Io, e))
        }
        _ => Err(failure(
            Exit::Usage,
            anyhow!("name one service: --systemd UNIT, --supervisord PROGRAM or --cron"),
        )),
    }
}

/// Shows (`--dry-run`) or applies a service plan. Returns whether it applied.
fn carry_out(
    platform: &Platform,
    plan: &Plan,
    dry_run: bool,
    heading: &str,
) -> Result<bool, Failure> {
    if dry_run {
        changes::print_dry_run(platform, plan, false)?;
        return Ok(false);
    }
    let applied = store::apply(plan, None)?;
    changes::heading(heading);
    changes::print_applied(platform, plan, &applied);
    Ok(true)
}

fn install(platform: &Platform, owner: &Platform, target: &ServiceTarget) -> Outcome {
    let service = resolve(platform, owner, target)?;
    // The record is rewritten: take turns with `set` and `unset`.
    let _lock = if target.dry_run { None } else { Some(store::lock(owner)?) };
    let profile = target.profile.as_deref().map(crate::profiles::parse).transpose()?;
    let stored = match &profile {
        // The profile's own variables: its rotations rewrite the service from those alone.
        Some(name) => {
            crate::profiles::choose(owner, Some(name.as_str()))?.profile.map(|p| p.stored)
        }
        None => store::load_stored(owner)?,
    };
    let Some(stored) = stored else {
        return Err(failure(
            Exit::Problem,
            anyhow!("no key is stored for this user: {}", crate::output::set_first(owner)),
        ));
    };
    let plan = handoff::install(owner, &service, &stored, profile.as_ref())
        .map_err(|e| failure(Exit::Io, e))?;
    let heading = match service {
        Service::Cron { with_key: false, .. } => {
            "Gave your cron jobs the DashScope region (the key stays out of the crontab)"
                .to_string()
        }
        Service::Cron { with_key: true, .. } => {
            "Gave your cron jobs the DashScope API key and region".to_string()
        }
        Service::Systemd { credential: true, .. } => {
            format!(
                "Gave the DashScope API key to the {} as a systemd credential",
                service.describe()
            )
        }
        _ => format!("Gave the DashScope API key to the {}", service.describe()),
    };
    if !carry_out(platform, &plan, target.dry_run, &heading)? {
        return Ok(Exit::Ok);
    }
    if let Service::Supervisord { config, .. } = &service
        && let Some(mode) =
            std::fs::metadata(config).ok().and_then(|m| dashkey::edit::fsx::mode(&m))
        && dashkey::edit::fsx::readable_by_others(mode)
    {
        anstream::eprintln!(
            "{} the key is now in {} (mode {mode:04o}), which other users can read: chmod 600 it",
            paint(WARN, "!"),
            show_path(platform, config)
        );
    }
    if let Service::Cron { with_key, .. } = service {
        explain_cron(with_key);
        return Ok(Exit::Ok);
    }
    if let Service::Systemd { credential: true, .. } = &service {
        explain_credential(platform, &service, target);
    }
    activate(&service, target.root.is_some());
    Ok(Exit::Ok)
}

/// What the unit gets with `--credential`, and which clients that leaves without a key.
fn explain_credential(platform: &Platform, service: &Service, target: &ServiceTarget) {
    let unit = target.systemd.as_deref().unwrap_or_default();
    let scope = match (&target.root, target.user) {
        (_, true) => " --user".to_string(),
        (Some(root), false) => {
            format!(" --root {}", dashkey::shell::quote_posix(&root.display().to_string()))
        }
        (None, false) => String::new(),
    };
    let sudo = if !target.user && platform.sudo_invoker().is_some() { "sudo " } else { "" };
    anstream::println!(
        "The key is in {} (readable only by its owner) and reaches the unit as the credential \
         {name}: the unit's environment holds only DASHSCOPE_API_KEY_FILE_PATH=%d/{name} and the \
         region's URLs, never the key. The Python and Java SDKs read the key from that file.",
        show_path(platform, handoff::key_file(service)),
        name = handoff::CREDENTIAL_NAME,
    );
    anstream::println!(
        "Node, the OpenAI SDKs, LiteLLM, LangChain's ChatTongyi and other clients that read only \
         DASHSCOPE_API_KEY or OPENAI_API_KEY get no key this way: for them, use the plain \
         hand-off:  {}",
        paint(BOLD, format!("{sudo}dashkey service install --systemd {unit}{scope}"))
    );
}

/// What cron jobs get now, and which clients still lack the key (the block holds none
/// unless `--with-key`).
fn explain_cron(with_key: bool) {
    anstream::println!(
        "cron reads the changed crontab by itself (within a minute); every job gets the region's \
         base URLs."
    );
    if with_key {
        anstream::println!("The key is in the crontab too: every client reads it from there.");
        return;
    }
    anstream::println!(
        "The Python and Java SDKs read the key from ~/.dashscope/api_key. Node, the OpenAI SDKs \
         and other clients that read only DASHSCOPE_API_KEY get no key from cron: start their \
         job lines with `{}` (it loads the stored key into that one job), or run `{}`.",
        paint(BOLD, format!("{} run --", dashkey_path())),
        paint(BOLD, "dashkey service install --cron --with-key")
    );
}

/// This program's path as a cron job would name it (cron's PATH is only /usr/bin:/bin).
fn dashkey_path() -> String {
    std::env::current_exe()
        .ok()
        .map(|p| dashkey::shell::quote_posix(&p.display().to_string()))
        .unwrap_or_else(|| "dashkey".to_string())
}

/// Reloads systemd when it runs here; otherwise prints what to run. Never restarts a
/// service on its own: that is the user's call.
fn activate(service: &Service, alternate_root: bool) {
    let running = match service {
        Service::Systemd { user: false, .. } => {
            !alternate_root && Path::new("/run/systemd/system").is_dir()
        }
        Service::Systemd { user: true, .. } => std::env::var_os("XDG_RUNTIME_DIR")
            .is_some_and(|dir| Path::new(&dir).join("systemd").is_dir()),
        Service::Supervisord { .. } | Service::Cron { .. } => false,
    };
    if running && let Service::Systemd { user, unit, .. } = service {
        let mut reload = std::process::Command::new("systemctl");
        if *user {
            reload.arg("--user");
        }
        match reload.arg("daemon-reload").status() {
            Ok(status) if status.success() => {
                let scope = if *user { "--user " } else { "" };
                anstream::println!(
                    "Reloaded systemd. Restart the service:  {}",
                    paint(BOLD, format!("systemctl {scope}restart {unit}"))
                );
                return;
            }
            _ => anstream::eprintln!("{} systemctl daemon-reload failed", paint(WARN, "!")),
        }
    }
    anstream::println!("To apply it:  {}", paint(BOLD, service.restart_command()));
}

fn uninstall(platform: &Platform, owner: &Platform, target: &ServiceTarget) -> Outcome {
    let service = resolve(platform, owner, target)?;
    if let Some(name) = &target.profile {
        refuse_other_profile(owner, &service, &crate::profiles::parse(name)?)?;
    }
    let _lock = if target.dry_run { None } else { Some(store::lock(owner)?) };
    let plan = handoff::uninstall(owner, &service).map_err(|e| failure(Exit::Io, e))?;
    if plan.is_empty() {
        anstream::println!("The {} has nothing from dashkey; nothing changed.", service.describe());
        return Ok(Exit::Ok);
    }
    let heading = format!("Took the DashScope API key back from the {}", service.describe());
    if carry_out(platform, &plan, target.dry_run, &heading)?
        && !matches!(service, Service::Cron { .. })
    {
        activate(&service, target.root.is_some());
    }
    Ok(Exit::Ok)
}

/// `uninstall --profile NAME` takes a service back only when it keeps that profile, so that
/// the flag never takes back a service holding another profile's key by surprise.
fn refuse_other_profile(
    owner: &Platform,
    service: &Service,
    name: &ProfileName,
) -> Result<(), Failure> {
    let installed = handoff::installed(owner);
    let Some(found) = installed.iter().find(|s| s.service.same_place(service)) else {
        return Ok(());
    };
    if found.profile.as_deref() == Some(name.as_str()) {
        return Ok(());
    }
    let keeps = match &found.profile {
        Some(other) => format!("keeps the profile '{other}'"),
        None => "follows the profile in use".to_string(),
    };
    Err(failure(
        Exit::Usage,
        anyhow!(
            "the {} {keeps}, not '{name}': run the same command without --profile to take it              back; nothing was changed",
            service.describe()
        ),
    ))
}

fn list(owner: &Platform, json: bool) -> Outcome {
    owner.dashkey_dir().ok_or_else(|| anyhow!("no home directory"))?;
    let services = handoff::installed(owner);
    if json {
        let services: Vec<serde_json::Value> = services
            .iter()
            .map(|s| {
                let mut value = serde_json::to_value(&s.service).unwrap_or_default();
                value["profile"] = serde_json::json!(s.profile);
                value
            })
            .collect();
        crate::output::print_json(&serde_json::json!({ "services": services }))?;
        return Ok(Exit::Ok);
    }
    if services.is_empty() {
        anstream::println!("No service has the key from dashkey.");
    }
    for installed in &services {
        let profile = match &installed.profile {
            Some(name) => format!("profile {name}"),
            None => "the profile in use".to_string(),
        };
        anstream::println!(
            "{}  {}  {}",
            installed.service.describe(),
            profile,
            paint(DIM, show_path(owner, handoff::key_file(&installed.service)))
        );
    }
    Ok(Exit::Ok)
}
