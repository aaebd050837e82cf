//! Handing the key to services: systemd units and supervisord programs, which never read a
//! shell's startup files (FAQ scenario 3).
//!
//! - `systemd.rs`: an environment file of its own and a drop-in pointing the unit at it;
//! - `supervisord.rs`: a marker block in the program's `environment=` line;
//! - `cron.rs`: a marker block at the top of the user's crontab, through `crontab`;
//! - `service.rs`: what a hand-off is called, how it restarts, why it fails.
//!
//! Both are plans (see [`crate::store`]), applied all-or-nothing, and recorded (by
//! [`install`] and [`uninstall`], with the plan's own changes) so that `dashkey set` with a
//! new key rewrites them and `unset` takes them back. Whether this user may write a
//! service's files is decided here, before anything is written. The writers are here, in the stores;
//! reading how a manager sees its configuration is [`crate::world`]'s.

use std::path::{Path, PathBuf};

pub mod cron;
mod supervisord;
mod systemd;

use zeroize::Zeroizing;

use crate::Platform;
use crate::edit::crontab::CrontabChange;
use crate::edit::fsx;
use crate::edit::record::Role;
use crate::edit::record::{InstalledService, Record};
use crate::edit::transaction::FileChange;
use crate::store::owned::Stored;
use crate::store::plan::{NotUpdated, Note, PersistError, Plan, SetRun, UnsetRun, pairs};

use supervisord::{edit_config, supervisord_with, supervisord_without};
pub use supervisord::{find_supervisord_programs, supervisord_service};
pub use systemd::{CREDENTIAL_NAME, find_user_units, systemd_env_file, systemd_service};
use systemd::{
    DROP_IN_HEADER, ENV_FILE_HEADER, credential_drop_in_text, credential_text, drop_in_text,
    is_credential_text, key_file_name, missing_dirs,
};

mod service;

pub use service::{HandoffError, Service};

/// Plans giving a service the variables (also used to rewrite it with a new key).
///
/// # Errors
///
/// [`HandoffError`] when the service cannot be found or edited safely.
pub fn plan_install(
    platform: &Platform,
    service: &Service,
    vars: &[(&str, &str)],
) -> Result<Plan, HandoffError> {
    let mut plan = Plan::default();
    match service {
        Service::Cron { with_key, .. } => {
            let current = crate::world::crontab::read(platform)?;
            let after = cron::with_block(current.as_deref(), &cron::block(vars, *with_key)?)?;
            if current.as_deref() != Some(after.as_str()) {
                plan.crontab = Some(CrontabChange {
                    program: crate::world::crontab::program(platform),
                    before: current.map(Zeroizing::new),
                    after: Some(Zeroizing::new(after)),
                });
            }
        }
        Service::Systemd { unit, env_file, unit_env_file, drop_in, credential, .. } => {
            for path in [env_file, drop_in] {
                if let Some(dir) = path.parent() {
                    missing_dirs(dir, &mut plan);
                }
            }
            let before = fsx::read_optional(env_file)?;
            let after = if *credential { credential_text(vars) } else { systemd_env_file(vars) };
            plan.changes.extend(FileChange::new(
                env_file.clone(),
                Role::ServiceEnv,
                before,
                Some(after.into_bytes()),
                0o600,
            )?);
            // The other way's file, from an earlier install of this unit: no copy stays behind.
            let (other, ours) = key_file_of(unit, env_file, !*credential);
            take_back(&mut plan, &other, Role::ServiceEnv, ours, false)?;
            let before = fsx::read_optional(drop_in)?;
            let after = if *credential {
                credential_drop_in_text(unit, unit_env_file, vars)
            } else {
                drop_in_text(unit, unit_env_file)
            }
            .into_bytes();
            plan.changes.extend(FileChange::new(
                drop_in.clone(),
                Role::ServiceConfig,
                before,
                Some(after),
                0o644,
            )?);
        }
        Service::Supervisord { program, config } => {
            edit_config(&mut plan, config, |text| supervisord_with(text, program, config, vars))?;
        }
    }
    require_writable(&plan)?;
    Ok(plan)
}

/// Every file a plan changes must be writable by this process: checked before anything is
/// written, so that a service's files are all changed or none is.
fn require_writable(plan: &Plan) -> Result<(), HandoffError> {
    match plan.changes.iter().find(|c| !fsx::writable(&c.real_path)) {
        Some(change) => Err(HandoffError::NotWritable { path: change.real_path.clone() }),
        None => Ok(()),
    }
}

/// Plans taking the variables away from a service, restoring its files byte for byte. Only
/// what dashkey can prove it wrote goes: systemd files that are regular files beginning with
/// dashkey's header, and the supervisord block named after this program (or, from earlier
/// versions, the unnamed block inside this program's section).
///
/// # Errors
///
/// [`HandoffError`] when a file cannot be read or its markers cannot be trusted.
pub fn plan_uninstall(platform: &Platform, service: &Service) -> Result<Plan, HandoffError> {
    let mut plan = Plan::default();
    match service {
        Service::Cron { created, .. } => {
            let current = crate::world::crontab::read(platform)?;
            if let Some(current) = current
                && let Some(rest) = cron::without_block(&current)?
            {
                // A crontab dashkey created, and nothing but its block: it goes again.
                let after = (!(rest.is_empty() && *created)).then(|| Zeroizing::new(rest));
                plan.crontab = Some(CrontabChange {
                    program: crate::world::crontab::program(platform),
                    before: Some(Zeroizing::new(current)),
                    after,
                });
            }
        }
        Service::Systemd { unit, env_file, drop_in, .. } => {
            // Where dashkey puts them: the unit's names (a record may say anything).
            let named = |path: &Path, name: &str| path.file_name().is_some_and(|n| *n == *name);
            let key_files = [false, true].map(|credential| key_file_of(unit, env_file, credential));
            if [false, true].iter().any(|c| named(env_file, &key_file_name(unit, *c))) {
                for (path, ours) in key_files {
                    take_back(&mut plan, &path, Role::ServiceEnv, ours, true)?;
                }
            }
            let in_unit_dir = drop_in
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|d| *d == *format!("{unit}.d").as_str());
            if named(drop_in, "50-dashkey.conf") && in_unit_dir {
                let ours: fn(&[u8]) -> bool = |b| b.starts_with(DROP_IN_HEADER.as_bytes());
                take_back(&mut plan, drop_in, Role::ServiceConfig, ours, true)?;
            }
        }
        Service::Supervisord { config, program } if config.is_file() => {
            edit_config(&mut plan, config, |text| supervisord_without(text, program, config))?;
        }
        Service::Supervisord { .. } => {}
    }
    require_writable(&plan)?;
    Ok(plan)
}

/// A unit's key file of one kind, beside `env_file`, and how to recognise dashkey's.
fn key_file_of(unit: &str, env_file: &Path, credential: bool) -> (PathBuf, fn(&[u8]) -> bool) {
    let path = env_file.with_file_name(key_file_name(unit, credential));
    let ours: fn(&[u8]) -> bool =
        if credential { is_credential_text } else { |b| b.starts_with(ENV_FILE_HEADER.as_bytes()) };
    (path, ours)
}

/// Plans deleting `path` when it is a regular file `ours` recognises as dashkey's; a link, a
/// special file or someone else's file stays (with a note when `noted`).
fn take_back(
    plan: &mut Plan,
    path: &Path,
    role: Role,
    ours: fn(&[u8]) -> bool,
    noted: bool,
) -> Result<(), HandoffError> {
    use crate::store::NotRemovedReason;
    let reason = match std::fs::symlink_metadata(path) {
        Err(_) => return Ok(()),
        Ok(meta) if meta.file_type().is_symlink() => Some(NotRemovedReason::Link),
        Ok(meta) if !meta.is_file() => Some(NotRemovedReason::NotAFile),
        Ok(_) => None,
    };
    let before = match reason {
        Some(_) => None,
        None => fsx::read_optional(path)?,
    };
    let reason = reason
        .or_else(|| (!before.as_deref().is_some_and(ours)).then_some(NotRemovedReason::Foreign));
    match reason {
        Some(reason) if noted => {
            plan.notes.push(Note::NotRemoved { path: path.to_path_buf(), reason });
        }
        Some(_) => {}
        None => {
            plan.changes.extend(FileChange::new(path.to_path_buf(), role, before, None, 0o600)?)
        }
    }
    Ok(())
}

/// `set`: every service given the key earlier gets the new value too, when this user can
/// write its files.
pub(super) fn plan_set(run: &mut SetRun) -> Result<(), PersistError> {
    // A service installed with a profile keeps it: only a `set` of that profile reaches it.
    let writing = run
        .options
        .profile
        .clone()
        .unwrap_or_else(|| crate::store::profile::in_use(Some(&run.old_record)));
    let services = run
        .old_record
        .services
        .iter()
        .filter(|s| s.profile.as_deref().is_none_or(|p| p == writing.as_str()));
    rewrite(run.platform, services, &pairs(&run.variables), &mut run.plan);
    Ok(())
}

/// Gives each of these installed services the variables again, into `plan`; a service
/// this user cannot rewrite is a note, not a failure.
pub(super) fn rewrite<'s>(
    platform: &Platform,
    services: impl Iterator<Item = &'s InstalledService>,
    pairs: &[(&str, &str)],
    plan: &mut Plan,
) {
    for installed in services {
        let service = &installed.service;
        match plan_install(platform, service, pairs) {
            Ok(service_plan) if service_plan.is_empty() => {}
            Ok(service_plan) if service_plan.crontab.is_some() => {
                plan.crontab = service_plan.crontab;
            }
            Ok(service_plan) => {
                plan.notes.push(Note::ServiceUpdated {
                    service: service.describe(),
                    restart: service.restart_command(),
                });
                plan.create_dirs.extend(service_plan.create_dirs);
                plan.changes.extend(service_plan.changes);
            }
            Err(error) => plan.notes.push(Note::ServiceNotUpdated {
                service: service.describe(),
                reason: NotUpdated::of(&error, true),
            }),
        }
    }
}

/// Whether this account's crontab holds a block of dashkey's. A crontab that cannot be read
/// (no cron here) holds none: that is not worth a note in every `unset`.
fn unrecorded_cron_block(platform: &Platform) -> bool {
    crate::world::crontab::applies(platform)
        && matches!(crate::world::crontab::read(platform), Ok(Some(text))
            if cron::without_block(&text).is_ok_and(|rest| rest.is_some()))
}

/// The files dashkey writes for a service (the directories of these go when empty).
fn own_files(service: &Service) -> Vec<PathBuf> {
    match service {
        Service::Systemd { env_file, drop_in, .. } => vec![env_file.clone(), drop_in.clone()],
        Service::Supervisord { .. } | Service::Cron { .. } => Vec::new(),
    }
}

/// `unset`: the record's services, and the user units found by their drop-ins (and, without
/// a record, the supervisord programs holding a block of dashkey's).
pub(super) fn plan_unset(run: &mut UnsetRun) -> Result<(), PersistError> {
    let mut services: Vec<(Service, Vec<PathBuf>)> = run
        .record
        .services
        .iter()
        .map(|installed| (installed.service.clone(), installed.created_dirs.clone()))
        .collect();
    let mut found = find_user_units(run.platform);
    if !run.trusted {
        found.extend(find_supervisord_programs(run.platform));
    }
    for service in found {
        if !services.iter().any(|(known, _)| known.same_place(&service)) {
            // Found without the record: the directories of its files go when empty.
            let dirs = own_files(&service)
                .iter()
                .filter_map(|f| f.parent())
                .map(Path::to_path_buf)
                .collect();
            services.push((service, dirs));
        }
    }
    if !services.iter().any(|(known, _)| matches!(known, Service::Cron { .. }))
        && unrecorded_cron_block(run.platform)
    {
        // A block of dashkey's the record does not list (an install killed before its
        // record was written, a crontab restored from a backup): it is a trace all the same.
        services.push((Service::Cron { with_key: false, created: false }, Vec::new()));
    }
    for (service, created_dirs) in &services {
        match plan_uninstall(run.platform, service) {
            Ok(service_plan) if service_plan.is_empty() => {}
            Ok(service_plan) if service_plan.crontab.is_some() => {
                run.plan.crontab = service_plan.crontab;
            }
            Ok(service_plan) => {
                run.plan.changes.extend(service_plan.changes);
                run.plan.notes.extend(service_plan.notes);
                // Only directories that hold this service's own files (rmdir of an empty one).
                let files = own_files(service);
                run.service_dirs.extend(
                    created_dirs
                        .iter()
                        .rev()
                        .filter(|d| files.iter().any(|f| f.starts_with(d) && f != *d))
                        .cloned(),
                );
                run.plan.notes.push(Note::ServiceUpdated {
                    service: service.describe(),
                    restart: service.restart_command(),
                });
            }
            Err(error) => run.plan.notes.push(Note::ServiceNotUpdated {
                service: service.describe(),
                reason: NotUpdated::of(&error, false),
            }),
        }
    }
    Ok(())
}

impl NotUpdated {
    /// Why a service's plan was not taken into a `set` (`install`) or an `unset`.
    fn of(error: &HandoffError, install: bool) -> NotUpdated {
        match error {
            HandoffError::NotWritable { .. } => NotUpdated::NeedsRoot { install },
            error => NotUpdated::Failed(error.to_string()),
        }
    }
}

/// Plans `dashkey service install`: the service gets the variables `stored` holds, and the
/// record lists it (with the directories this install creates; a reinstall keeps the ones
/// the first install created, and with `profile`, the one it keeps), so that every later
/// `set` (of that profile) rewrites it.
///
/// # Errors
///
/// [`HandoffError`] when the service cannot be edited safely, or a file it changes (the
/// record included) cannot be written by this process.
pub fn install(
    owner: &Platform,
    service: &Service,
    stored: &Stored,
    profile: Option<&crate::store::ProfileName>,
) -> Result<Plan, HandoffError> {
    let pairs: Vec<(&str, &str)> =
        stored.vars.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let dir = owner.dashkey_dir().ok_or(PersistError::NoHome)?;
    let known = Record::inspect(&dir).0.unwrap_or_default().services;
    let service = &recorded_as(owner, service, &known)?;
    let mut plan = plan_install(owner, service, &pairs)?;
    plan.secrets.extend(stored.key());
    let created_now = plan.create_dirs.clone();
    plan.changes.push(record_change(owner, |record| {
        let created_dirs = record
            .services
            .iter()
            .find(|s| s.service.same_place(service))
            .map_or(created_now, |s| s.created_dirs.clone());
        record.services.retain(|s| !s.service.same_place(service));
        record.services.push(InstalledService {
            service: service.clone(),
            created_dirs,
            profile: profile.map(ToString::to_string),
        });
    })?);
    require_writable(&plan)?;
    Ok(plan)
}

/// Plans `dashkey service uninstall`: the service's files as they were, the directories
/// dashkey created for it (when empty), and the record without it.
///
/// # Errors
///
/// [`HandoffError`] when a file cannot be read, its markers cannot be trusted, or a file it
/// changes cannot be written by this process.
pub fn uninstall(owner: &Platform, service: &Service) -> Result<Plan, HandoffError> {
    let dir = owner.dashkey_dir().ok_or(PersistError::NoHome)?;
    let record = Record::inspect(&dir).0.unwrap_or_default();
    let installed = record.services.iter().find(|s| s.service.same_place(service));
    // The crontab as it was installed (whether dashkey created it), not as asked now.
    let service = installed.map_or(service, |s| &s.service);
    let mut plan = plan_uninstall(owner, service)?;
    // Only directories dashkey created for this service go away.
    plan.remove_dirs =
        installed.map(|s| s.created_dirs.iter().rev().cloned().collect()).unwrap_or_default();
    if installed.is_some() {
        plan.changes.push(record_change(owner, |record| {
            record.services.retain(|s| !s.service.same_place(service));
        })?);
    }
    require_writable(&plan)?;
    Ok(plan)
}

/// The service as the record will keep it: a crontab remembers whether dashkey created it,
/// from its first install (a reinstall finds the crontab the first one made).
fn recorded_as(
    owner: &Platform,
    service: &Service,
    known: &[InstalledService],
) -> Result<Service, HandoffError> {
    let Service::Cron { with_key, .. } = service else { return Ok(service.clone()) };
    let created = match known.iter().find(|s| s.service.same_place(service)) {
        Some(InstalledService { service: Service::Cron { created, .. }, .. }) => *created,
        _ => crate::world::crontab::read(owner)?.is_none(),
    };
    Ok(Service::Cron { with_key: *with_key, created })
}

/// The services the record lists as given the key, each with the profile it keeps.
pub fn installed(owner: &Platform) -> Vec<InstalledService> {
    let Some(dir) = owner.dashkey_dir() else { return Vec::new() };
    let record = Record::inspect(&dir).0.unwrap_or_default();
    record.services
}

/// The file a service's variables are in (its environment file; supervisord's configuration).
pub fn key_file(service: &Service) -> &Path {
    match service {
        Service::Systemd { env_file, .. } => env_file,
        Service::Supervisord { config, .. } => config,
        Service::Cron { .. } => Path::new("crontab -l"),
    }
}

/// The record's change: the record as it is now, updated.
fn record_change(
    owner: &Platform,
    update: impl FnOnce(&mut Record),
) -> Result<FileChange, HandoffError> {
    let dir = owner.dashkey_dir().ok_or(PersistError::NoHome)?;
    let path = dir.join(crate::edit::record::FILE_NAME);
    let before = fsx::read_optional(&path)?;
    let mut record = Record::inspect(&dir).0.unwrap_or_default();
    update(&mut record);
    Ok(FileChange {
        real_path: fsx::write_target(&path)?,
        path,
        role: Role::Record,
        before: before.map(Zeroizing::new),
        after: Some(Zeroizing::new(record.to_bytes())),
        mode: 0o600,
    })
}
