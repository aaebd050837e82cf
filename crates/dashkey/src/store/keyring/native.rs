//! The `keyring` crate's native backend for this OS: the Secret Service over D-Bus (zbus, pure
//! Rust: nothing to install at build time), the macOS Keychain, the Windows Credential
//! Manager. Its errors are sorted into what the user can do about them.

use crate::edit::keyring::KeyringError;

#[cfg(target_os = "linux")]
pub(super) const NAME: &str = "the Secret Service";
#[cfg(target_os = "macos")]
pub(super) const NAME: &str = "the macOS Keychain";
#[cfg(windows)]
pub(super) const NAME: &str = "the Windows Credential Manager";

fn sorted(error: keyring::Error) -> KeyringError {
    match error {
        keyring::Error::NoStorageAccess(e) => KeyringError::Locked(e.to_string()),
        keyring::Error::PlatformFailure(e) => KeyringError::Unavailable(e.to_string()),
        other => KeyringError::Failed(other.to_string()),
    }
}

pub(super) fn get(service: &str, account: &str) -> Result<Option<String>, KeyringError> {
    let entry = keyring::Entry::new(service, account).map_err(sorted)?;
    match entry.get_password() {
        Ok(value) => Ok(Some(value)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(error) => Err(sorted(error)),
    }
}

pub(super) fn set(service: &str, account: &str, value: &str) -> Result<(), KeyringError> {
    keyring::Entry::new(service, account).and_then(|e| e.set_password(value)).map_err(sorted)
}

pub(super) fn delete(service: &str, account: &str) -> Result<(), KeyringError> {
    match keyring::Entry::new(service, account).and_then(|e| e.delete_credential()) {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(error) => Err(sorted(error)),
    }
}
