//! systemd: the key goes into its own 0600 environment file, and a drop-in
//! `<unit>.d/50-dashkey.conf` points the unit at it with `EnvironmentFile=`. The unit file
//! itself is never edited, and the drop-in holds no secret. systemd reads environment files
//! as root before starting a system service, so the file stays root's; a user unit's file
//! belongs to the user.

use std::path::Path;

use crate::Platform;
use crate::edit::fsx;
use crate::store::plan::{PersistError, Plan};
use crate::world::units;

use super::service::{HandoffError, Service};
use crate::export::systemd_escape;

/// Where systemd files go: the system directories (under `root`, `/` normally; another
/// directory in tests, like `systemctl --root`) or the user's.
pub fn systemd_service(
    platform: &Platform,
    unit: &str,
    user: bool,
    root: &Path,
) -> Result<Service, HandoffError> {
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
pub(super) fn unit_name(unit: &str) -> Result<String, HandoffError> {
    let valid = !unit.is_empty()
        && unit.len() < 250
        && unit.chars().all(|c| c.is_ascii_alphanumeric() || ":-_.\\@".contains(c))
        && !unit.starts_with('.');
    if !valid {
        return Err(HandoffError::BadUnit(unit.to_string()));
    }
    Ok(units::unit_name(unit))
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

pub(super) fn drop_in_text(service_unit: &str, env_file: &Path) -> String {
    format!(
        "# Written by dashkey: gives {service_unit} the DashScope API key.\n\
         # Remove with `dashkey service uninstall --systemd {service_unit}`.\n\
         [Service]\n\
         EnvironmentFile={}\n",
        systemd_escape(&env_file.display().to_string())
    )
}

pub(super) fn missing_dirs(dir: &Path, plan: &mut Plan) {
    for path in crate::store::plan::missing_ancestors(dir) {
        if !plan.create_dirs.contains(&path) {
            plan.create_dirs.push(path);
        }
    }
}

/// How every file dashkey writes for a service begins.
pub(super) const WRITTEN_BY_DASHKEY: &str = "# Written by dashkey";

/// The first line of a service's environment file.
pub(super) const ENV_FILE_HEADER: &str =
    "# Written by dashkey: the DashScope API key for one service.\n";

/// The start of a drop-in's first line.
pub(super) const DROP_IN_HEADER: &str = "# Written by dashkey: gives ";

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_get_a_type_and_bad_ones_are_refused() {
        assert_eq!(unit_name("app").unwrap(), "app.service");
        assert_eq!(unit_name("app@1.service").unwrap(), "app@1.service");
        assert!(unit_name("../etc/passwd").is_err());
        assert!(unit_name("a b").is_err());
    }
}
