//! The user's crontab, read the way cron reads it: through the real `crontab -l` (the spool
//! is not readable by the user, and its format is the cron implementation's), and the
//! `NAME=value` lines cron hands to the jobs below them.
//!
//! The program is `crontab` on PATH, or the one `DASHKEY_CRONTAB` names. Every run is
//! bounded: a `crontab` that hangs (a stuck NFS spool, a PAM prompt) costs at most
//! [`TIMEOUT`], and its output at most [`MAX_BYTES`]; both are errors, never a wait.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Platform;

/// How long one `crontab` run may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest crontab dashkey reads (cron's own limit is far below this).
pub const MAX_BYTES: usize = 1 << 20;
/// The variable that names another `crontab` program.
pub const PROGRAM_VAR: &str = "DASHKEY_CRONTAB";

/// Why the crontab cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CrontabError {
    /// The program cannot be started (cron is not installed).
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It did not finish in time and was killed.
    #[error("{program} did not finish within {} seconds", TIMEOUT.as_secs())]
    TimedOut {
        /// The program.
        program: String,
    },
    /// It failed (other than "no crontab for user").
    #[error("{program} {args} failed ({status}): {stderr}")]
    Failed {
        /// The program.
        program: String,
        /// Its arguments.
        args: String,
        /// Exit status.
        status: String,
        /// What it said, key-shaped strings masked.
        stderr: String,
    },
    /// More than [`MAX_BYTES`].
    #[error("the crontab is larger than {MAX_BYTES} bytes")]
    TooLarge,
    /// Not UTF-8: dashkey does not edit what it cannot read.
    #[error("the crontab is not UTF-8 text, so dashkey will not edit it")]
    NotUtf8,
    /// It changed between planning and writing (a `crontab -e` meanwhile).
    #[error("the crontab changed while dashkey was working; nothing was written to it")]
    Changed,
}

/// The `crontab` program this platform uses.
pub fn program(platform: &Platform) -> String {
    platform.var_non_empty(PROGRAM_VAR).unwrap_or("crontab").to_string()
}

/// Whether this home has a crontab to read. A crontab belongs to the account, not to
/// `$HOME`: only the account's home has one, unless `DASHKEY_CRONTAB` names the program to
/// ask. Callers that will not run `crontab` (status, which must start no process) use it to
/// say which of the two reasons left the row unread; `unset` uses it before looking for a
/// block its record does not list.
pub fn applies(platform: &Platform) -> bool {
    if platform.os() == crate::platform::Os::Windows {
        return false;
    }
    let named = platform.var_non_empty(PROGRAM_VAR).is_some();
    named || platform.home().as_deref() == platform.account_home()
}

/// The user's crontab as `crontab -l` prints it, or `None` when the user has none.
///
/// # Errors
///
/// [`CrontabError`] when `crontab` is missing, fails, hangs, or prints too much.
pub fn read(platform: &Platform) -> Result<Option<String>, CrontabError> {
    read_with(&program(platform))
}

/// [`read`] with a given program (the writer checks the crontab again just before writing).
///
/// # Errors
///
/// As [`read`].
pub fn read_with(program: &str) -> Result<Option<String>, CrontabError> {
    let (status, stdout, stderr) = run(program, &["-l"], None)?;
    if status == Some(0) {
        return String::from_utf8(stdout).map(Some).map_err(|_| CrontabError::NotUtf8);
    }
    // Vixie cron, cronie and busybox all say this, and exit 1.
    if status == Some(1) && String::from_utf8_lossy(&stderr).contains("no crontab for") {
        return Ok(None);
    }
    Err(failed(program, &["-l"], status, &stderr))
}

/// The failure of a run, phrased without any key it may have echoed.
pub fn failed(program: &str, args: &[&str], status: Option<i32>, stderr: &[u8]) -> CrontabError {
    let text = String::from_utf8_lossy(stderr);
    let first = text.lines().next().unwrap_or("").trim();
    CrontabError::Failed {
        program: program.to_string(),
        args: args.join(" "),
        status: status.map_or_else(|| "killed by a signal".to_string(), |c| format!("exit {c}")),
        stderr: crate::mask::mask_secrets(first),
    }
}

/// A finished run: exit code (`None`: killed by a signal), stdout, stderr.
pub type Finished = (Option<i32>, Vec<u8>, Vec<u8>);

/// Runs `program args` with `stdin` (or none), bounded in time and size: (exit code, stdout,
/// stderr). The output is drained by threads so that a full pipe never stalls the wait.
///
/// # Errors
///
/// [`CrontabError::Spawn`], [`CrontabError::TimedOut`], [`CrontabError::TooLarge`].
pub fn run(program: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<Finished, CrontabError> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| CrontabError::Spawn { program: program.to_string(), source })?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(pipe) = pipe {
                let _ = pipe.take(MAX_BYTES as u64 + 1).read_to_end(&mut out);
            }
            out
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let input = input.to_vec();
        // Written by a thread too: a program that does not read must not block dashkey.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(CrontabError::TimedOut { program: program.to_string() });
            }
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if stdout.len() > MAX_BYTES {
        return Err(CrontabError::TooLarge);
    }
    Ok((status.code(), stdout, stderr))
}

/// The variables cron hands to jobs: every `NAME=value` line, in order (a later one wins),
/// parsed as cron's `load_env` does: blanks around the name, the `=` and the value are
/// dropped; a name may be quoted; a value wrapped in one matching pair of `'` or `"` loses
/// them, with nothing inside unescaped and nothing expanded. Comments, blank lines and job
/// lines (whose first word is not followed by `=`) are not variables.
pub fn variables(text: &str) -> Vec<(String, String)> {
    text.lines().filter_map(variable).collect()
}

/// One line as cron reads it, when it is a variable.
fn variable(line: &str) -> Option<(String, String)> {
    let line = line.trim_start_matches([' ', '\t']);
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (name, rest) = match line.chars().next() {
        Some(quote @ ('\'' | '"')) => {
            let end = line[1..].find(quote)? + 1;
            (&line[1..end], &line[end + 1..])
        }
        _ => {
            let end = line.find(['=', ' ', '\t'])?;
            (&line[..end], &line[end..])
        }
    };
    let rest = rest.trim_start_matches([' ', '\t']).strip_prefix('=')?;
    if name.is_empty() {
        return None;
    }
    let value = rest.trim_matches([' ', '\t', '\r']);
    let unquoted = match value.as_bytes() {
        [first @ (b'\'' | b'"'), .., last] if first == last && value.len() >= 2 => {
            &value[1..value.len() - 1]
        }
        _ => value,
    };
    Some((name.to_string(), unquoted.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        variables(text)
    }

    fn pair(name: &str, value: &str) -> (String, String) {
        (name.to_string(), value.to_string())
    }

    #[test]
    fn variables_are_read_as_cron_reads_them() {
        let text = "# comment\n\
                    \n\
                    A=1\n\
                    \x20 B = two words  \n\
                    C=\"quoted # not a comment\"\n\
                    D='single'\n\
                    E=\"unbalanced'\n\
                    F=$HOME/x\n\
                    \"G H\"=spaced name\n\
                    * * * * * I=not-a-variable cmd\n\
                    @reboot J=no\n\
                    0 5 * * 1 run\n\
                    K=\n";
        assert_eq!(
            pairs(text),
            [
                pair("A", "1"),
                pair("B", "two words"),
                pair("C", "quoted # not a comment"),
                pair("D", "single"),
                pair("E", "\"unbalanced'"),
                pair("F", "$HOME/x"),
                pair("G H", "spaced name"),
                pair("K", ""),
            ]
        );
    }

    #[test]
    fn a_missing_program_is_an_error_naming_it() {
        let error = read_with("/nonexistent/crontab").unwrap_err();
        assert!(error.to_string().contains("/nonexistent/crontab"), "{error}");
    }
}
