//! The running launchd session, through `launchctl`.
use crate::edit::session::{SessionEnv, SessionError};
use std::process::Command;

const STORE: &str = "launchd session";

struct Launchd;

fn run(op: &'static str, name: &str, args: &[&str]) -> Result<String, SessionError> {
    let output = Command::new("/bin/launchctl").args(args).output().map_err(|e| SessionError {
        op,
        name: name.to_string(),
        store: STORE,
        detail: e.to_string(),
    })?;
    if !output.status.success() {
        return Err(SessionError {
            op,
            name: name.to_string(),
            store: STORE,
            detail: format!("launchctl exited with {}", output.status),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim_end().to_string())
}

impl SessionEnv for Launchd {
    fn get(&self, name: &str) -> Result<Option<String>, SessionError> {
        let value = run("read", name, &["getenv", name])?;
        Ok((!value.is_empty()).then_some(value))
    }
    fn set(&mut self, name: &str, value: &str) -> Result<(), SessionError> {
        run("set", name, &["setenv", name, value]).map(|_| ())
    }
    fn remove(&mut self, name: &str) -> Result<(), SessionError> {
        run("remove", name, &["unsetenv", name]).map(|_| ())
    }
}

pub fn native_session() -> Option<Box<dyn SessionEnv>> {
    Some(Box::new(Launchd))
}
