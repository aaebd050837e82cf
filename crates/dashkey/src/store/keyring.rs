//! The OS keyring as the key's one home (`set --store keyring`): the Secret Service on Linux,
//! the Keychain on macOS, the Credential Manager on Windows (the `keyring` crate's native
//! backends, chosen in `keyring/native.rs`). No file then holds the key: dashkey's env files
//! keep the region's URLs and a line that runs `dashkey env`, which reads the entry.
//!
//! Every call is bounded: it runs on a worker thread and is given up after
//! [`DEFAULT_TIMEOUT`] (or `DASHKEY_KEYRING_TIMEOUT_MS`), so a wedged daemon never hangs a
//! shell's start or a command. An unreachable keyring is an error naming it, never a silent
//! fall back to a file.

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use zeroize::Zeroizing;

use crate::edit::keyring::{KeyringChange, KeyringEntry, KeyringError};
use crate::edit::record::{KeyStore, Record};
use crate::store::copies::{CopyState, KeyCopy, PlaceKind};
use crate::store::plan::{PersistError, SetRun, UnsetRun};
use crate::{ApiKey, Platform};

/// What gets past an unreachable keyring, said wherever one is met.
pub const FIX: &str = "start or unlock the keyring (a Secret Service such as gnome-keyring, in a \
     D-Bus session), or keep the key in files instead:  dashkey set --store file";

/// The entry's service name in the keyring.
pub const SERVICE: &str = "dashkey";
/// The entry's account name: the variable it holds.
pub const ACCOUNT: &str = crate::vars::API_KEY;
/// Overrides [`DEFAULT_TIMEOUT`], in milliseconds (for tests of a wedged keyring).
pub const TIMEOUT_VAR: &str = "DASHKEY_KEYRING_TIMEOUT_MS";
/// How long one keyring call may take: a Secret Service answers in milliseconds, a locked
/// one refuses in under 100 ms; beyond this something is wedged.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

#[cfg(any(target_os = "linux", target_os = "macos", windows))]
#[path = "keyring/native.rs"]
mod sys;
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
#[path = "keyring/none.rs"]
mod sys;

/// The key's entry in this OS's keyring, every call bounded by the timeout.
struct OsKeyring {
    timeout: Duration,
}

/// What this process last read from the keyring: `status` and `doctor` ask several readers
/// for the stored key, and each D-Bus round trip costs milliseconds.
static CACHE: Mutex<Option<Result<Option<Zeroizing<String>>, KeyringError>>> = Mutex::new(None);

impl OsKeyring {
    fn bounded<T: Send + 'static>(
        &self,
        call: impl FnOnce() -> Result<T, KeyringError> + Send + 'static,
    ) -> Result<T, KeyringError> {
        let (send, receive) = mpsc::channel();
        // A call that never returns is left behind with its thread; the process ends anyway.
        std::thread::spawn(move || {
            let _ = send.send(call());
        });
        receive
            .recv_timeout(self.timeout)
            .unwrap_or(Err(KeyringError::Timeout(self.timeout.as_millis())))
    }

    fn forget(&self) {
        *CACHE.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

impl KeyringEntry for OsKeyring {
    fn get(&self) -> Result<Option<Zeroizing<String>>, KeyringError> {
        let mut cache = CACHE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(read) = cache.as_ref() {
            return read.clone();
        }
        let read = self.bounded(|| sys::get(SERVICE, ACCOUNT).map(|v| v.map(Zeroizing::new)));
        *cache = Some(read.clone());
        read
    }
    fn set(&self, value: &str) -> Result<(), KeyringError> {
        self.forget();
        let value = Zeroizing::new(value.to_string());
        self.bounded(move || sys::set(SERVICE, ACCOUNT, &value))
    }
    fn delete(&self) -> Result<(), KeyringError> {
        self.forget();
        self.bounded(|| sys::delete(SERVICE, ACCOUNT))
    }
    fn describe(&self) -> &'static str {
        sys::NAME
    }
}

/// The key's entry in this OS's keyring, with the timeout the platform asks for.
pub fn entry(platform: &Platform) -> Arc<dyn KeyringEntry> {
    let timeout = platform
        .var(TIMEOUT_VAR)
        .and_then(|ms| ms.trim().parse().ok())
        .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
    Arc::new(OsKeyring { timeout })
}

/// Where the keyring is, for a reader ("the Secret Service").
pub fn place() -> &'static str {
    sys::NAME
}

/// The key the keyring holds for dashkey.
///
/// # Errors
///
/// [`KeyringError`] when the keyring cannot be reached in time, is locked, or refuses.
pub fn read(platform: &Platform) -> Result<Option<ApiKey>, KeyringError> {
    Ok(entry(platform).get()?.map(|value| ApiKey::verbatim(value.as_str())))
}

/// The store the record names (the file store without a record).
pub fn recorded_store(platform: &Platform) -> KeyStore {
    platform
        .dashkey_dir()
        .and_then(|dir| Record::load(&dir).ok().flatten())
        .map_or(KeyStore::File, |record| record.store)
}

/// `set`: the entry holds the key with `--store keyring`; moving back to the file store
/// deletes it, so that no copy is left behind in the other store.
pub(super) fn plan_set(run: &mut SetRun) -> Result<(), PersistError> {
    let was = run.old_record.store;
    if run.store == KeyStore::Keyring
        && (!run.old_record.profiles.is_empty() || run.old_record.profile.is_some())
    {
        return Err(PersistError::KeyringWithProfiles);
    }
    if run.store == KeyStore::File && was == KeyStore::File {
        return Ok(());
    }
    let entry = entry(run.platform);
    let before = entry.get()?;
    if let Some(old) = &before {
        run.plan.secrets.push(ApiKey::verbatim(old.as_str()));
    }
    let after = (run.store == KeyStore::Keyring)
        .then(|| Zeroizing::new(run.settings.key.expose().to_string()));
    if before != after {
        run.plan.keyring = Some(KeyringChange { entry, before, after });
    }
    Ok(())
}

/// `unset`: the entry goes when the record (or dashkey's env file) says the key is there.
pub(super) fn plan_unset(run: &mut UnsetRun) -> Result<(), PersistError> {
    let in_keyring = run.record.store == KeyStore::Keyring
        || run
            .platform
            .dashkey_dir()
            .is_some_and(|dir| crate::store::owned::names_in_keyring(&dir).is_some());
    if !in_keyring {
        return Ok(());
    }
    let entry = entry(run.platform);
    let before = entry.get()?;
    if let Some(old) = &before {
        run.plan.secrets.push(ApiKey::verbatim(old.as_str()));
        run.plan.keyring = Some(KeyringChange { entry, before, after: None });
    }
    Ok(())
}

/// What is there now: the entry, only when the record says the key lives there (a file-store
/// user's `status` never talks to D-Bus).
pub(super) fn found(platform: &Platform, recorded: KeyStore) -> Vec<KeyCopy> {
    if recorded != KeyStore::Keyring {
        return Vec::new();
    }
    let (state, problems) = match read(platform) {
        Ok(Some(key)) => (CopyState::Present(key), Vec::new()),
        Ok(None) => (CopyState::Absent, Vec::new()),
        Err(error) => (CopyState::Absent, vec![crate::store::PlaceProblem::Keyring(error)]),
    };
    vec![KeyCopy { kind: PlaceKind::Keyring, path: None, state, mode: None, problems }]
}
