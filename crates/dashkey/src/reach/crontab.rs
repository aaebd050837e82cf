//! The user's crontab, read for the cron row of the matrix.
//!
//! replaced by world::crontab at merge: the launch work adds `world/crontab.rs`
//! (`read(platform)`, `variables(text)`), which this stand-in mirrors so the matrix takes
//! the crontab *text* as an input and only this file changes then.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::platform::{Os, Platform};

/// How long `crontab -l` may take before the crontab counts as unreadable.
const LIMIT: Duration = Duration::from_secs(3);

/// `crontab -l` of this user: `Some("")` when the user has no crontab, `None` when there is
/// no `crontab` program or it failed otherwise. Bounded in time and size.
///
/// A crontab belongs to the account, not to `$HOME`: when `$HOME` is not the account's home
/// (another user's files, a scratch home), the account's crontab says nothing about the
/// programs of that home, and it is not read.
// replaced by world::crontab at merge
pub fn read_crontab(platform: &Platform) -> Option<String> {
    if platform.os() == Os::Windows || platform.home().as_deref() != platform.account_home() {
        return None;
    }
    let program = platform.find_program("crontab")?;
    let mut child = Command::new(program)
        .arg("-l")
        .env_clear()
        .envs(platform.var("PATH").map(|p| ("PATH", p)))
        .envs(platform.var("USER").map(|u| ("USER", u)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < LIMIT => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let mut out = String::new();
    child.stdout.take()?.take(1 << 20).read_to_string(&mut out).ok()?;
    let mut err = String::new();
    if let Some(stderr) = child.stderr.take() {
        let _ = stderr.take(4096).read_to_string(&mut err);
    }
    if status.success() {
        Some(out)
    } else if err.contains("no crontab for") {
        Some(String::new())
    } else {
        None
    }
}

/// The `NAME=value` lines of a crontab, in order (cron's rules: optional spaces around `=`,
/// a value in matching single or double quotes is unquoted, no expansion).
// replaced by world::crontab at merge
pub fn variables(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let (name, value) = line.split_once('=')?;
            let name = name.trim();
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return None;
            }
            let value = value.trim();
            let unquoted = ['"', '\'']
                .iter()
                .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
                .unwrap_or(value);
            Some((name.to_string(), unquoted.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn variables_are_cron_assignments_not_job_lines() {
        let text = "# m h dom mon dow command\nDASHSCOPE_HTTP_BASE_URL = \"https://dashscope-intl.aliyuncs.com/api/v1\"\nMAILTO=''\n*/5 * * * * A=1 run\n";
        assert_eq!(
            super::variables(text),
            vec![
                (
                    "DASHSCOPE_HTTP_BASE_URL".to_string(),
                    "https://dashscope-intl.aliyuncs.com/api/v1".to_string()
                ),
                ("MAILTO".to_string(), String::new()),
            ]
        );
    }
}
