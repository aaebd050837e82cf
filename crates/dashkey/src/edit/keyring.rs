//! The one secret a transaction can keep outside of files: the key's entry in the OS keyring
//! (`set --store keyring`). It sits behind [`KeyringEntry`] so that a plan is applied and
//! rolled back the same way whatever serves the entry, and tested with [`MemoryKeyring`];
//! the real entry, bounded by a timeout, is `store::keyring`'s.
//!
//! A transaction changes the entry first and puts it back last: when the keyring refuses,
//! no file has been touched yet; when a file fails afterwards, the entry goes back to what
//! it held (or is deleted) after the files are restored.

use std::sync::{Arc, Mutex};

use zeroize::Zeroizing;

/// Why the keyring could not be used. It never carries the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    /// No keyring service can be reached (no D-Bus session, no Secret Service on it, or an
    /// OS without one).
    #[error("no keyring service can be reached ({0})")]
    Unavailable(String),
    /// The keyring is there but locked, or refused access.
    #[error("the keyring is locked or refused access ({0})")]
    Locked(String),
    /// The keyring did not answer within the time allowed.
    #[error("the keyring did not answer within {0} ms")]
    Timeout(u128),
    /// Anything else the keyring said.
    #[error("the keyring failed ({0})")]
    Failed(String),
}

/// The key's entry in a keyring.
pub trait KeyringEntry: Send + Sync {
    /// The value stored, if any.
    ///
    /// # Errors
    ///
    /// [`KeyringError`] when the keyring cannot be read.
    fn get(&self) -> Result<Option<Zeroizing<String>>, KeyringError>;
    /// Stores a value, replacing any.
    ///
    /// # Errors
    ///
    /// [`KeyringError`] when the keyring refuses.
    fn set(&self, value: &str) -> Result<(), KeyringError>;
    /// Deletes the entry; absent is fine.
    ///
    /// # Errors
    ///
    /// [`KeyringError`] when the keyring refuses.
    fn delete(&self) -> Result<(), KeyringError>;
    /// Where it lives, for a reader ("the Secret Service", "the macOS Keychain").
    fn describe(&self) -> &'static str;
}

/// The entry a plan changes, with what it held when the plan was made. Its `Debug` shows
/// whether each side is set, never a value.
#[derive(Clone)]
pub struct KeyringChange {
    /// The entry.
    pub entry: Arc<dyn KeyringEntry>,
    /// What it holds now (`None`: no entry).
    pub before: Option<Zeroizing<String>>,
    /// What it holds after (`None`: deleted).
    pub after: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for KeyringChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringChange")
            .field("entry", &self.entry.describe())
            .field("before", &self.before.is_some())
            .field("after", &self.after.is_some())
            .finish()
    }
}

impl KeyringChange {
    /// Makes the entry hold `after`.
    pub(crate) fn apply(&self) -> Result<(), KeyringError> {
        put(self.entry.as_ref(), self.after.as_deref().map(String::as_str))
    }

    /// Puts back what the entry held, and checks it.
    pub(crate) fn restore(&self) -> Result<(), KeyringError> {
        let before = self.before.as_deref().map(String::as_str);
        put(self.entry.as_ref(), before)?;
        let now = self.entry.get()?;
        if now.as_deref().map(String::as_str) == before {
            Ok(())
        } else {
            Err(KeyringError::Failed("it holds another value than before".to_string()))
        }
    }
}

fn put(entry: &dyn KeyringEntry, value: Option<&str>) -> Result<(), KeyringError> {
    match value {
        Some(value) => entry.set(value),
        None => entry.delete(),
    }
}

/// A keyring in memory, for tests on any machine; `fail_set` makes the next writes fail.
#[derive(Default)]
pub struct MemoryKeyring {
    /// The value.
    pub value: Mutex<Option<String>>,
    /// Refuse writes.
    pub fail_set: Mutex<bool>,
}

impl KeyringEntry for MemoryKeyring {
    fn get(&self) -> Result<Option<Zeroizing<String>>, KeyringError> {
        Ok(self.value.lock().expect("keyring lock").clone().map(Zeroizing::new))
    }
    fn set(&self, value: &str) -> Result<(), KeyringError> {
        if *self.fail_set.lock().expect("keyring lock") {
            return Err(KeyringError::Locked("refused by the test".to_string()));
        }
        *self.value.lock().expect("keyring lock") = Some(value.to_string());
        Ok(())
    }
    fn delete(&self) -> Result<(), KeyringError> {
        *self.value.lock().expect("keyring lock") = None;
        Ok(())
    }
    fn describe(&self) -> &'static str {
        "a keyring in memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::record::Role;
    use crate::edit::transaction::{ApplyError, FileChange, Plan, apply};

    fn plan(path: std::path::PathBuf, entry: Arc<MemoryKeyring>, before: Option<&str>) -> Plan<()> {
        let change = FileChange::new(path, Role::Owned, None, Some(b"# new\n".to_vec()), 0o600);
        Plan {
            changes: change.unwrap().into_iter().collect(),
            keyring: Some(KeyringChange {
                entry,
                before: before.map(|v| Zeroizing::new(v.to_string())),
                after: Some(Zeroizing::new("sk-new-0123456789abcdef".to_string())),
            }),
            ..Plan::default()
        }
    }

    #[test]
    fn a_keyring_that_refuses_stops_the_plan_before_any_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env.sh");
        let entry = Arc::new(MemoryKeyring::default());
        *entry.fail_set.lock().unwrap() = true;
        let error = apply(&plan(path.clone(), entry.clone(), None), None).unwrap_err();
        assert!(matches!(error, ApplyError::Applied { restored: 0, .. }), "{error}");
        assert!(!path.exists(), "no file was written");
        assert_eq!(*entry.value.lock().unwrap(), None);
    }

    #[test]
    fn a_file_that_fails_after_the_entry_puts_the_entry_back() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the directory should be: the write fails after the keyring's.
        std::fs::write(dir.path().join("not-a-dir"), "").unwrap();
        let path = dir.path().join("not-a-dir/env.sh");
        for before in [None, Some("sk-old-0123456789abcdef")] {
            let entry = Arc::new(MemoryKeyring::default());
            *entry.value.lock().unwrap() = before.map(str::to_string);
            let error = apply(&plan(path.clone(), entry.clone(), before), None).unwrap_err();
            assert!(matches!(error, ApplyError::Applied { restored: 1, .. }), "{error}");
            assert_eq!(entry.value.lock().unwrap().as_deref(), before);
        }
    }

    #[test]
    fn debug_of_a_change_shows_no_value() {
        let change = KeyringChange {
            entry: Arc::new(MemoryKeyring::default()),
            before: None,
            after: Some(Zeroizing::new("sk-new-0123456789abcdef".to_string())),
        };
        assert!(!format!("{change:?}").contains("sk-new"));
    }
}
