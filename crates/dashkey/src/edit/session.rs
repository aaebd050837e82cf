//! The per-user session variables a transaction can change outside of files: the Windows
//! registry, the launchd session. They sit behind [`SessionEnv`] so that a plan can be
//! applied and rolled back the same way on every OS, and tested with [`MemorySession`]
//! anywhere; the real stores are in `store::desktop`'s platform files.

/// A session failed to take a variable.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} {name} in the {store}: {detail}")]
pub struct SessionError {
    /// What was being done.
    pub op: &'static str,
    /// The variable.
    pub name: String,
    /// Which store ("Windows registry (HKCU\\Environment)", "launchd session").
    pub store: &'static str,
    /// What went wrong (never the value).
    pub detail: String,
}

/// A per-user environment outside of files: the Windows registry, the launchd session.
pub trait SessionEnv {
    /// The current value, if set.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store cannot be read.
    fn get(&self, name: &str) -> Result<Option<String>, SessionError>;
    /// Sets a value.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store refuses.
    fn set(&mut self, name: &str, value: &str) -> Result<(), SessionError>;
    /// Removes a value; absent is fine.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store refuses.
    fn remove(&mut self, name: &str) -> Result<(), SessionError>;
    /// Tells running programs that the environment changed, waiting a bounded time.
    fn announce(&mut self) {}
}

/// An in-memory session, standing in for the registry in tests on any OS, and the session
/// of an OS that has none. Its `Debug` shows names only.
#[derive(Default, Clone)]
pub struct MemorySession {
    /// The variables.
    pub vars: std::collections::BTreeMap<String, String>,
    /// How many times [`SessionEnv::announce`] was called.
    pub announcements: usize,
}

impl std::fmt::Debug for MemorySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySession")
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .field("announcements", &self.announcements)
            .finish()
    }
}

impl SessionEnv for MemorySession {
    fn get(&self, name: &str) -> Result<Option<String>, SessionError> {
        Ok(self.vars.get(name).cloned())
    }
    fn set(&mut self, name: &str, value: &str) -> Result<(), SessionError> {
        self.vars.insert(name.to_string(), value.to_string());
        Ok(())
    }
    fn remove(&mut self, name: &str) -> Result<(), SessionError> {
        self.vars.remove(name);
        Ok(())
    }
    fn announce(&mut self) {
        self.announcements += 1;
    }
}
