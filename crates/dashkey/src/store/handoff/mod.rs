//! Handing the key to services: systemd units and supervisord programs, which never read a
//! shell's startup files (FAQ scenario 3).
//!
//! - **systemd**: the key goes into its own 0600 environment file, and a drop-in
//!   `<unit>.d/50-dashkey.conf` points the unit at it with `EnvironmentFile=`. The unit file
//!   itself is never edited, and the drop-in holds no secret. systemd reads environment
//!   files as root before starting a system service, so the file stays root's; a user
//!   unit's file belongs to the user.
//! - **supervisord** has no environment files: the variables go into the program's
//!   `environment=` line, inside a marker block that remembers the line it replaced, so that
//!   uninstalling restores the configuration byte for byte.
//!
//! Both are plans (see [`crate::store`]), applied all-or-nothing, and recorded so that
//! `dashkey set` with a new key rewrites them.

use std::path::{Path, PathBuf};

use crate::Platform;
use crate::edit::block;
use crate::edit::fsx;
use crate::edit::record::Role;
use crate::export::{supervisord_value, systemd_escape};
use crate::services;
use crate::store::FileChange;
use crate::store::plan::{Note, PersistError, Plan, SetRun, UnsetRun, pairs};

pub use crate::edit::record::Service;

impl Service {
    /// A short human name (`systemd unit app.service`).
    pub fn describe(&self) -> String {
        match self {
            Service::Systemd { unit, user: true, .. } => format!("systemd user unit {unit}"),
            Service::Systemd { unit, .. } => format!("systemd unit {unit}"),
            Service::Supervisord { program, .. } => format!("supervisord program {program}"),
        }
    }

    /// The command that makes the running service pick up a change.
    pub fn restart_command(&self) -> String {
        match self {
            Service::Systemd { unit, user: true, .. } => {
                format!("systemctl --user daemon-reload && systemctl --user restart {unit}")
            }
            Service::Systemd { unit, .. } => {
                format!("systemctl daemon-reload && systemctl restart {unit}")
            }
            Service::Supervisord { config, .. } => {
                format!(
                    "supervisorctl -c {} update",
                    crate::shell::quote_posix(&config.display().to_string())
                )
            }
        }
    }
}

/// Why a service cannot be handed the key.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Not a unit name systemd accepts.
    #[error("'{0}' is not a valid systemd unit name")]
    BadUnit(String),
    /// System units need root.
    #[error(
        "writing a system unit's files needs root: run `sudo dashkey service install --systemd {0}` \
         (dashkey reads the key of the user who ran sudo), or use --user for a user unit"
    )]
    NeedsRoot(String),
    /// No supervisord configuration was found.
    #[error("no supervisord configuration found (looked in {0}); give it with -c")]
    NoConfig(String),
    /// The program has no section.
    #[error("no [program:{program}] section in {config} or the files it includes")]
    NoProgram {
        /// The program.
        program: String,
        /// The main configuration.
        config: String,
    },
    /// An `environment=` value continued on the next line: dashkey does not guess.
    #[error(
        "{0}: the program's environment= continues on the next line; put it on one line, then run dashkey again"
    )]
    MultiLineEnvironment(String),
    /// The configuration cannot be read as its manager reads it.
    #[error(transparent)]
    Config(#[from] services::ServiceError),
    /// Something else in the plan.
    #[error(transparent)]
    Persist(#[from] PersistError),
    /// A file operation.
    #[error(transparent)]
    Fs(#[from] fsx::FsError),
}

/// Where systemd files go: the system directories (under `root`, `/` normally; another
/// directory in tests, like `systemctl --root`) or the user's.
pub fn systemd_service(
    platform: &Platform,
    unit: &str,
    user: bool,
    root: &Path,
) -> Result<Service, ServiceError> {
    let unit = unit_name(unit)?;
    let (unit_dir, env_dir) = if user {
        let config = platform.config_dir().ok_or(PersistError::NoHome)?;
        let dashkey = platform.dashkey_dir().ok_or(PersistError::NoHome)?;
        (config.join("systemd/user"), dashkey.join("services"))
    } else {
        (root.join("etc/systemd/system"), root.join("etc/dashkey"))
    };
    let env_file = env_dir.join(format!("{unit}.env"));
    let unit_env_file = match env_file.strip_prefix(root) {
        Ok(inside) if !user && root != Path::new("/") => Path::new("/").join(inside),
        _ => env_file.clone(),
    };
    Ok(Service::Systemd {
        env_file,
        unit_env_file,
        drop_in: unit_dir.join(format!("{unit}.d")).join("50-dashkey.conf"),
        unit,
        user,
    })
}

/// A unit name, with `.service` added when no type is given.
fn unit_name(unit: &str) -> Result<String, ServiceError> {
    let valid = !unit.is_empty()
        && unit.len() < 250
        && unit.chars().all(|c| c.is_ascii_alphanumeric() || ":-_.\\@".contains(c))
        && !unit.starts_with('.');
    if !valid {
        return Err(ServiceError::BadUnit(unit.to_string()));
    }
    Ok(services::unit_name(unit))
}

/// The systemd environment file: `NAME=value` lines, double-quoted when needed.
pub fn systemd_env_file(vars: &[(&str, &str)]) -> String {
    let mut out = String::from(ENV_FILE_HEADER);
    for (name, value) in vars {
        let plain = value.chars().all(|c| c.is_ascii_alphanumeric() || "._~+/=:-@,".contains(c));
        if plain {
            out.push_str(&format!("{name}={value}\n"));
        } else {
            out.push_str(&format!(
                "{name}=\"{}\"\n",
                value.replace('\\', "\\\\").replace('"', "\\\"")
            ));
        }
    }
    out
}

fn drop_in_text(service_unit: &str, env_file: &Path) -> String {
    format!(
        "# Written by dashkey: gives {service_unit} the DashScope API key.\n\
         # Remove with `dashkey service uninstall --systemd {service_unit}`.\n\
         [Service]\n\
         EnvironmentFile={}\n",
        systemd_escape(&env_file.display().to_string())
    )
}

fn missing_dirs(dir: &Path, plan: &mut Plan) {
    for path in crate::store::missing_ancestors(dir) {
        if !plan.create_dirs.contains(&path) {
            plan.create_dirs.push(path);
        }
    }
}

/// Plans an edit of a supervisord configuration file as a whole.
fn edit_config(
    plan: &mut Plan,
    config: &Path,
    edit: impl FnOnce(&str) -> Result<String, ServiceError>,
) -> Result<(), ServiceError> {
    let Some(before) = fsx::read_optional(config)? else {
        return Err(ServiceError::NoConfig(config.display().to_string()));
    };
    let text = String::from_utf8(before.clone())
        .map_err(|_| PersistError::NotUtf8 { path: config.to_path_buf(), hint: String::new() })?;
    let after = edit(&text)?.into_bytes();
    let change = FileChange::new(
        config.to_path_buf(),
        Role::ServiceConfig,
        Some(before),
        Some(after),
        0o644,
    )?;
    plan.changes.extend(change);
    Ok(())
}

/// Plans giving a service the variables (also used to rewrite it with a new key).
///
/// # Errors
///
/// [`ServiceError`] when the service cannot be found or edited safely.
pub fn plan_install(service: &Service, vars: &[(&str, &str)]) -> Result<Plan, ServiceError> {
    let mut plan = Plan::default();
    match service {
        Service::Systemd { unit, env_file, unit_env_file, drop_in, .. } => {
            for path in [env_file, drop_in] {
                if let Some(dir) = path.parent() {
                    missing_dirs(dir, &mut plan);
                }
            }
            let before = fsx::read_optional(env_file)?;
            let after = systemd_env_file(vars).into_bytes();
            plan.changes.extend(FileChange::new(
                env_file.clone(),
                Role::ServiceEnv,
                before,
                Some(after),
                0o600,
            )?);
            let before = fsx::read_optional(drop_in)?;
            let after = drop_in_text(unit, unit_env_file).into_bytes();
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
    Ok(plan)
}

/// Plans taking the variables away from a service, restoring its files byte for byte. Only
/// what dashkey can prove it wrote goes: systemd files that are regular files beginning with
/// dashkey's header, and the supervisord block named after this program (or, from earlier
/// versions, the unnamed block inside this program's section).
///
/// # Errors
///
/// [`ServiceError`] when a file cannot be read or its markers cannot be trusted.
pub fn plan_uninstall(service: &Service) -> Result<Plan, ServiceError> {
    use crate::store::{NotRemovedReason, Note};
    let mut plan = Plan::default();
    match service {
        Service::Systemd { unit, env_file, drop_in, .. } => {
            let files = [
                (env_file, Role::ServiceEnv, ENV_FILE_HEADER, format!("{unit}.env")),
                (drop_in, Role::ServiceConfig, DROP_IN_HEADER, "50-dashkey.conf".to_string()),
            ];
            for (path, role, header, name) in files {
                // Where dashkey puts them: the unit's names (a record may say anything).
                let named = path.file_name().is_some_and(|n| *n == *name.as_str())
                    && (role == Role::ServiceEnv
                        || path
                            .parent()
                            .and_then(Path::file_name)
                            .is_some_and(|d| *d == *format!("{unit}.d").as_str()));
                if !named {
                    continue;
                }
                let reason = match std::fs::symlink_metadata(path) {
                    Err(_) => continue,
                    Ok(meta) if meta.file_type().is_symlink() => Some(NotRemovedReason::Link),
                    Ok(meta) if !meta.is_file() => Some(NotRemovedReason::NotAFile),
                    Ok(_) => None,
                };
                if let Some(reason) = reason {
                    plan.notes.push(Note::NotRemoved { path: path.clone(), reason });
                    continue;
                }
                let before = fsx::read_optional(path)?;
                if !before.as_deref().is_some_and(|b| b.starts_with(header.as_bytes())) {
                    plan.notes.push(Note::NotRemoved {
                        path: path.clone(),
                        reason: NotRemovedReason::Foreign,
                    });
                    continue;
                }
                plan.changes.extend(FileChange::new(path.clone(), role, before, None, 0o600)?);
            }
        }
        Service::Supervisord { config, program } if config.is_file() => {
            edit_config(&mut plan, config, |text| supervisord_without(text, program, config))?;
        }
        Service::Supervisord { .. } => {}
    }
    Ok(plan)
}

/// How every file dashkey writes for a service begins.
const WRITTEN_BY_DASHKEY: &str = "# Written by dashkey";
/// The first line of a service's environment file.
const ENV_FILE_HEADER: &str = "# Written by dashkey: the DashScope API key for one service.\n";
/// The start of a drop-in's first line.
const DROP_IN_HEADER: &str = "# Written by dashkey: gives ";

/// The user units given the key, found by their drop-ins (`unset` without a record).
pub fn find_user_units(platform: &Platform) -> Vec<Service> {
    let Some(config) = platform.config_dir() else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(config.join("systemd/user")) else { return Vec::new() };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(unit) = name.strip_suffix(".d") else { continue };
        let drop_in = entry.path().join("50-dashkey.conf");
        let ours = std::fs::symlink_metadata(&drop_in).is_ok_and(|m| m.is_file())
            && fsx::read_optional(&drop_in)
                .ok()
                .flatten()
                .is_some_and(|b| b.starts_with(WRITTEN_BY_DASHKEY.as_bytes()));
        if ours && let Ok(service) = systemd_service(platform, unit, true, Path::new("/")) {
            found.push(service);
        }
    }
    found.sort_by_key(Service::describe);
    found
}

/// The supervisord programs holding a block of dashkey's, in the configuration supervisord
/// reads without `-c` and the files it includes (`unset` without a record).
pub fn find_supervisord_programs(platform: &Platform) -> Vec<Service> {
    let supervisord = platform.find_program("supervisord");
    let mut found: Vec<Service> = Vec::new();
    for main in services::supervisor_default_paths(supervisord.as_deref(), platform.cwd()) {
        if !std::fs::symlink_metadata(&main).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let env = |name: &str| platform.var(name).map(str::to_string);
        let Ok(parsed) = services::SupervisorConfig::read(&main, &env) else { continue };
        for program in parsed.programs() {
            let Ok(service) = supervisord_service(platform, program, Some(&main)) else {
                continue;
            };
            let Service::Supervisord { config, .. } = &service else { continue };
            let has_block = fsx::read_optional(config)
                .ok()
                .flatten()
                .is_some_and(|bytes| String::from_utf8_lossy(&bytes).contains(">>> dashkey"));
            if has_block && !found.contains(&service) {
                found.push(service);
            }
        }
    }
    found
}

/// The markers of a program's block.
fn program_markers(program: &str) -> block::Markers {
    block::Markers::named(&format!("program:{program}"))
}

/// Refuses a block holding lines dashkey did not write (they would be lost).
fn check_block(text: &str, markers: &block::Markers, path: &Path) -> Result<(), ServiceError> {
    let Ok(Some(span)) = block::find_with(text, markers) else { return Ok(()) };
    let body = block::body_with(text, markers).unwrap_or_default();
    for (index, line) in body.iter().enumerate() {
        let ours = line.starts_with("# The DashScope API key for this program")
            || line.starts_with(ORIGINAL)
            || line.starts_with("environment=");
        if !ours {
            return Err(PersistError::ForeignLineInBlock {
                path: path.to_path_buf(),
                line: span.line + 1 + index,
            }
            .into());
        }
    }
    Ok(())
}

/// The file with a block from an earlier version (unnamed markers) inside this program's
/// section taken out and the line it replaced put back, so that it can be handled as the
/// program's own named block. An unnamed block elsewhere belongs to another program.
fn without_legacy_block(text: &str, program: &str, path: &Path) -> Result<String, ServiceError> {
    let Some(section) = program_section(text, program) else { return Ok(text.to_string()) };
    let inside = &text[section.start..section.end];
    let unnamed = block::Markers::unnamed();
    if block::find_with(inside, &unnamed).ok().flatten().is_none() {
        return Ok(text.to_string());
    }
    check_block(inside, &unnamed, path)?;
    let restored = remove_block(inside, &unnamed, path)?;
    Ok(format!("{}{restored}{}", &text[..section.start], &text[section.end..]))
}

/// Marks the line of the user's own `environment=` that a block replaced.
const ORIGINAL: &str = "# dashkey replaced this line: ";

/// The configuration with the program's `environment=` carrying the variables, in a block
/// named after the program (other programs' blocks in the same file are left alone).
fn supervisord_with(
    text: &str,
    program: &str,
    path: &Path,
    vars: &[(&str, &str)],
) -> Result<String, ServiceError> {
    let ours: Vec<String> =
        vars.iter().map(|(n, v)| format!("{n}={}", supervisord_value(v))).collect();
    let block_error = |source| PersistError::Block { path: path.to_path_buf(), source };
    let markers = program_markers(program);
    let text = &without_legacy_block(text, program, path)?;
    // A block already there (a rotation): keep the user's original line it remembers.
    if let Some(body) = block::body_with(text, &markers) {
        check_block(text, &markers, path)?;
        let original = body.iter().find_map(|line| line.strip_prefix(ORIGINAL)).map(str::to_string);
        let lines = supervisord_block(original.as_deref(), &ours);
        let span = block::find_with(text, &markers).map_err(block_error)?;
        return Ok(block::upsert_at_with(text, span.map_or(0, |s| s.start), &lines, &markers)
            .map_err(block_error)?);
    }
    let section = program_section(text, program).ok_or_else(|| ServiceError::NoProgram {
        program: program.to_string(),
        config: path.display().to_string(),
    })?;
    let mut offset = section.start;
    let mut insert_at = section.end_of_content;
    let mut original: Option<(usize, usize, String)> = None;
    for line in text[section.start..section.end].split_inclusive('\n') {
        let key = line.split(['=', ':']).next().unwrap_or("").trim();
        if key.eq_ignore_ascii_case("environment") && !line.starts_with([' ', '\t']) {
            let next = &text[offset + line.len()..section.end];
            if next.starts_with([' ', '\t'])
                && !next.trim_start_matches([' ', '\t']).starts_with(['\n', '\r'])
            {
                return Err(ServiceError::MultiLineEnvironment(path.display().to_string()));
            }
            original = Some((
                offset,
                offset + line.len(),
                line.trim_end_matches(['\n', '\r']).to_string(),
            ));
        }
        offset += line.len();
    }
    let mut text = text.to_string();
    if let Some((start, end, _)) = &original {
        text.replace_range(*start..*end, "");
        insert_at = *start;
    }
    let lines = supervisord_block(original.as_ref().map(|(_, _, line)| line.as_str()), &ours);
    block::upsert_at_with(&text, insert_at, &lines, &markers)
        .map_err(block_error)
        .map_err(Into::into)
}

fn supervisord_block(original: Option<&str>, ours: &[String]) -> Vec<String> {
    let mut lines = vec![
        "# The DashScope API key for this program; remove with `dashkey service uninstall`."
            .to_string(),
    ];
    let mut pairs: Vec<String> = Vec::new();
    if let Some(line) = original {
        lines.push(format!("{ORIGINAL}{line}"));
        let value = line.split_once(['=', ':']).map_or("", |(_, v)| v).trim();
        pairs.extend(
            value
                .split(',')
                .map(str::trim)
                .filter(|pair| !pair.is_empty())
                .filter(|pair| !ours.iter().any(|o| o.split('=').next() == pair.split('=').next()))
                .map(str::to_string),
        );
    }
    pairs.extend(ours.iter().cloned());
    lines.push(format!("environment={}", pairs.join(",")));
    lines
}

/// The configuration without the program's block, with the user's original line put back.
fn supervisord_without(text: &str, program: &str, path: &Path) -> Result<String, ServiceError> {
    let text = without_legacy_block(text, program, path)?;
    let markers = program_markers(program);
    check_block(&text, &markers, path)?;
    remove_block(&text, &markers, path)
}

/// The text without one block, with the line it replaced put back.
fn remove_block(text: &str, markers: &block::Markers, path: &Path) -> Result<String, ServiceError> {
    let block_error = |source| PersistError::Block { path: path.to_path_buf(), source };
    let Some(span) = block::find_with(text, markers).map_err(block_error)? else {
        return Ok(text.to_string());
    };
    let original = block::body_with(text, markers)
        .unwrap_or_default()
        .iter()
        .find_map(|line| line.strip_prefix(ORIGINAL).map(str::to_string));
    let mut out = block::remove_with(text, markers).map_err(block_error)?;
    if let Some(line) = original {
        out.insert_str(span.cut_start, &format!("{line}{}", span.eol));
    }
    Ok(out)
}

/// A program's section: from its header line to the next section (or the end).
struct Section {
    start: usize,
    end: usize,
    /// Just after the last non-blank line of the section: where a new line belongs.
    end_of_content: usize,
}

fn program_section(text: &str, program: &str) -> Option<Section> {
    let header = format!("[program:{program}]");
    let mut offset = 0;
    let mut start = None;
    let mut end_of_content = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if let Some(s) = start {
            if trimmed.starts_with('[') {
                return Some(Section { start: s, end: offset, end_of_content });
            }
            if !trimmed.is_empty() && !trimmed.starts_with(['#', ';']) {
                end_of_content = offset + line.len();
            }
        } else if trimmed == header {
            start = Some(offset + line.len());
            end_of_content = offset + line.len();
        }
        offset += line.len();
    }
    start.map(|s| Section { start: s, end: text.len(), end_of_content })
}

/// The file holding `[program:NAME]`: the main configuration (`-c`, else where supervisord
/// looks) or one it includes, found by reading the configuration as supervisord does.
///
/// # Errors
///
/// [`ServiceError`] when there is no configuration or no such program.
pub fn supervisord_service(
    platform: &Platform,
    program: &str,
    config: Option<&Path>,
) -> Result<Service, ServiceError> {
    let main = match config {
        Some(path) => platform.resolve_path(&path.display().to_string()),
        None => {
            let supervisord = platform.find_program("supervisord");
            let candidates =
                services::supervisor_default_paths(supervisord.as_deref(), platform.cwd());
            let list =
                candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
            candidates.into_iter().find(|p| p.is_file()).ok_or(ServiceError::NoConfig(list))?
        }
    };
    let parsed =
        services::SupervisorConfig::read(&main, &|name| platform.var(name).map(str::to_string))?;
    let no_program = || ServiceError::NoProgram {
        program: program.to_string(),
        config: main.display().to_string(),
    };
    let section = parsed.program_section(program).ok_or_else(no_program)?;
    if !section.starts_with("program:") {
        return Err(no_program());
    }
    let file = parsed.value(section, "command").map_or_else(|| main.clone(), |v| v.at.file.clone());
    Ok(Service::Supervisord { program: program.to_string(), config: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VARS: [(&str, &str); 1] = [("DASHSCOPE_API_KEY", "sk-abc")];

    #[test]
    fn unit_names_get_a_type_and_bad_ones_are_refused() {
        assert_eq!(unit_name("app").unwrap(), "app.service");
        assert_eq!(unit_name("app@1.service").unwrap(), "app@1.service");
        assert!(unit_name("../etc/passwd").is_err());
        assert!(unit_name("a b").is_err());
    }

    #[test]
    fn supervisord_environment_is_merged_and_restored_byte_for_byte() {
        let path = Path::new("/x/supervisord.conf");
        let original = "[program:app]\ncommand=/bin/app\nenvironment=A=\"1\",B=\"2\"\nautostart=true\n\n[program:other]\ncommand=/bin/other\n";
        let with = supervisord_with(original, "app", path, &VARS).unwrap();
        assert!(
            with.contains("environment=A=\"1\",B=\"2\",DASHSCOPE_API_KEY=\"sk-abc\"\n# <<< dashkey program:app <<<\nautostart=true"),
            "{with}"
        );
        assert_eq!(with.matches("environment=").count(), 2, "the original is only a comment now");
        let rotated =
            supervisord_with(&with, "app", path, &[("DASHSCOPE_API_KEY", "sk-new")]).unwrap();
        assert!(rotated.contains("DASHSCOPE_API_KEY=\"sk-new\"") && !rotated.contains("sk-abc"));
        assert_eq!(supervisord_without(&rotated, "app", path).unwrap(), original);
    }

    #[test]
    fn supervisord_without_environment_gets_one_at_the_end_of_the_section() {
        let path = Path::new("/x/s.conf");
        let original = "[program:app]\ncommand=/bin/app\n\n[program:b]\ncommand=x";
        let with = supervisord_with(original, "app", path, &VARS).unwrap();
        assert!(
            with.starts_with("[program:app]\ncommand=/bin/app\n# >>> dashkey program:app >>>\n"),
            "{with}"
        );
        assert_eq!(supervisord_without(&with, "app", path).unwrap(), original);
        assert!(matches!(
            supervisord_with(original, "nope", path, &VARS),
            Err(ServiceError::NoProgram { .. })
        ));
    }
}

/// `set`: every service given the key earlier gets the new value too, when this user can
/// write its files.
pub(super) fn plan_set(run: &mut SetRun) -> Result<(), PersistError> {
    let pairs = pairs(&run.variables);
    for installed in &run.old_record.services {
        let service = &installed.service;
        match plan_install(service, &pairs) {
            Ok(service_plan) if service_plan.changes.is_empty() => {}
            Ok(service_plan) => {
                if service_plan.changes.iter().all(|c| fsx::writable(&c.real_path)) {
                    run.plan.notes.push(Note::ServiceUpdated {
                        service: service.describe(),
                        restart: service.restart_command(),
                    });
                    run.plan.create_dirs.extend(service_plan.create_dirs);
                    run.plan.changes.extend(service_plan.changes);
                } else {
                    run.plan.notes.push(Note::ServiceNotUpdated {
                        service: service.describe(),
                        reason:
                            "its files need root: run `sudo dashkey service install` for it again"
                                .to_string(),
                    });
                }
            }
            Err(error) => run.plan.notes.push(Note::ServiceNotUpdated {
                service: service.describe(),
                reason: error.to_string(),
            }),
        }
    }
    Ok(())
}

/// The files dashkey writes for a service (the directories of these go when empty).
fn own_files(service: &Service) -> Vec<PathBuf> {
    match service {
        Service::Systemd { env_file, drop_in, .. } => vec![env_file.clone(), drop_in.clone()],
        Service::Supervisord { .. } => Vec::new(),
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
        if !services.iter().any(|(known, _)| *known == service) {
            // Found without the record: the directories of its files go when empty.
            let dirs = own_files(&service)
                .iter()
                .filter_map(|f| f.parent())
                .map(Path::to_path_buf)
                .collect();
            services.push((service, dirs));
        }
    }
    for (service, created_dirs) in &services {
        match plan_uninstall(service) {
            Ok(service_plan) if service_plan.changes.is_empty() => {}
            Ok(service_plan)
                if service_plan.changes.iter().all(|c| fsx::writable(&c.real_path)) =>
            {
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
            Ok(_) => run.plan.notes.push(Note::ServiceNotUpdated {
                service: service.describe(),
                reason: "its files need root: run `sudo dashkey service uninstall` for it"
                    .to_string(),
            }),
            Err(error) => run.plan.notes.push(Note::ServiceNotUpdated {
                service: service.describe(),
                reason: error.to_string(),
            }),
        }
    }
    Ok(())
}
