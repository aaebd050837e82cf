//! systemd: the key goes into its own 0600 environment file, and a drop-in
//! `<unit>.d/50-dashkey.conf` points the unit at it with `EnvironmentFile=`. The unit file
//! itself is never edited, and the drop-in holds no secret. systemd reads environment files
//! as root before starting a system service, so the file stays root's; a user unit's file
//! belongs to the user.
//!
//! With `--credential` the key goes as a systemd credential instead: a 0600 file holding the
//! key alone, which the drop-in names with `LoadCredential=`, and
//! `DASHSCOPE_API_KEY_FILE_PATH=%d/dashscope_api_key` beside the region's URLs, so the Python
//! and Java SDKs read the key from `$CREDENTIALS_DIRECTORY` and the unit's environment
//! (`systemctl show`, `/proc/PID/environ`) never holds it. `LoadCredential=` rather than
//! `SetCredentialEncrypted=`: an encrypted credential is bound to this host's TPM or
//! `/var/lib/systemd/credential.secret`, which `dashkey set` (run by the user) cannot use to
//! rotate, and the service sees the same plaintext file either way.

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
    credential: bool,
) -> Result<Service, HandoffError> {
    let unit = unit_name(unit)?;
    let (unit_dir, env_dir) = if user {
        let config = platform.config_dir().ok_or(PersistError::NoHome)?;
        let dashkey = platform.dashkey_dir().ok_or(PersistError::NoHome)?;
        (config.join("systemd/user"), dashkey.join("services"))
    } else {
        (root.join("etc/systemd/system"), root.join("etc/dashkey"))
    };
    let env_file = env_dir.join(key_file_name(&unit, credential));
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
        credential,
    })
}

/// The name of the file holding a unit's key: its environment file, or its credential.
pub(super) fn key_file_name(unit: &str, credential: bool) -> String {
    if credential { format!("{unit}.credential") } else { format!("{unit}.env") }
}

/// The credential's name: the file the service finds in `$CREDENTIALS_DIRECTORY`.
pub const CREDENTIAL_NAME: &str = "dashscope_api_key";

/// The credential file: the key alone on one line (the Python SDK reads the whole file and
/// trims it, the Java SDK reads its first line), so it carries no header.
pub(super) fn credential_text(vars: &[(&str, &str)]) -> String {
    let key = vars.iter().find(|(name, _)| *name == crate::vars::API_KEY).map_or("", |(_, v)| v);
    format!("{key}\n")
}

/// Whether a credential file looks as dashkey writes it: one line, one token. Having no
/// header, this and its name are what `uninstall` can check before deleting it.
pub(super) fn is_credential_text(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else { return false };
    let token = text.strip_suffix('\n').unwrap_or(text);
    !token.is_empty() && !token.chars().any(char::is_whitespace)
}

/// The drop-in of a credential hand-off: the credential, the path variable pointing at it
/// inside `$CREDENTIALS_DIRECTORY` (`%d`), and every variable but the secrets.
pub(super) fn credential_drop_in_text(
    service_unit: &str,
    credential_file: &Path,
    vars: &[(&str, &str)],
) -> String {
    let mut out = format!(
        "# Written by dashkey: gives {service_unit} the DashScope API key as a systemd credential.\n\
         # Remove with `dashkey service uninstall --systemd {service_unit}`.\n\
         [Service]\n\
         LoadCredential={CREDENTIAL_NAME}:{}\n\
         Environment=\"{}=%d/{CREDENTIAL_NAME}\"\n",
        credential_file.display().to_string().replace('%', "%%"),
        crate::vars::API_KEY_FILE_PATH,
    );
    for (name, value) in vars {
        if crate::key::is_secret_name(name) || *name == crate::vars::API_KEY_FILE_PATH {
            continue;
        }
        out.push_str(&format!("Environment=\"{}\"\n", systemd_escape(&format!("{name}={value}"))));
    }
    out
}

/// Whether a drop-in of dashkey's hands over a credential (`unset` without a record).
fn is_credential_drop_in(text: &[u8]) -> bool {
    text.split(|b| *b == b'\n').any(|line| line.starts_with(b"LoadCredential="))
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
        if !std::fs::symlink_metadata(&drop_in).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let Some(text) = fsx::read_optional(&drop_in).ok().flatten() else { continue };
        if !text.starts_with(WRITTEN_BY_DASHKEY.as_bytes()) {
            continue;
        }
        let credential = is_credential_drop_in(&text);
        if let Ok(service) = systemd_service(platform, unit, true, Path::new("/"), credential) {
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

    #[test]
    fn a_credential_drop_in_holds_no_secret_and_doubles_percent_signs() {
        let vars = [
            ("DASHSCOPE_API_KEY", "sk-0123456789abcdef0123"),
            ("OPENAI_API_KEY", "sk-0123456789abcdef0123"),
            ("DASHSCOPE_HTTP_BASE_URL", "https://h/api/v1?a=%x"),
        ];
        let text = credential_drop_in_text("app.service", Path::new("/etc/dash%key/c"), &vars);
        assert!(!text.contains("sk-0123456789abcdef0123"), "{text}");
        assert!(text.contains("LoadCredential=dashscope_api_key:/etc/dash%%key/c\n"), "{text}");
        assert!(text.contains("Environment=\"DASHSCOPE_API_KEY_FILE_PATH=%d/dashscope_api_key\""));
        assert!(text.contains("Environment=\"DASHSCOPE_HTTP_BASE_URL=https://h/api/v1?a=%%x\""));
        assert!(text.starts_with(DROP_IN_HEADER) && is_credential_drop_in(text.as_bytes()));
        assert_eq!(credential_text(&vars), "sk-0123456789abcdef0123\n");
        assert!(is_credential_text(b"sk-0123456789abcdef0123\n"));
        assert!(!is_credential_text(b"# notes\nsk-1\n") && !is_credential_text(b""));
    }
}
