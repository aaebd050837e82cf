//! `dashkey run` and `dashkey sudo`: start a program with the stored key in its environment,
//! from places no shell startup file reaches (cron, an IDE, a service, `sudo`).
//!
//! The key travels only in the environment of the child, never in its arguments. `run`
//! replaces dashkey with the program on Unix, so signals and the exit status are the
//! program's own. `sudo` asks sudo to preserve exactly the DashScope variables
//! (`--preserve-env=LIST`), instead of `sudo -E`, which hands over the whole environment.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use anyhow::anyhow;
use dashkey::Config;
use dashkey::Platform;
use dashkey::store;
use dashkey::vars;
use zeroize::Zeroizing;

use crate::cli::{RunArgs, SudoArgs};
use crate::exit::{Exit, Failure, Outcome};

/// The stored variables, with the region replaced when asked.
fn stored_vars(
    platform: &Platform,
    profile: Option<&str>,
    region: Option<&str>,
) -> Result<Vec<(String, Zeroizing<String>)>, Failure> {
    let Some(stored) = crate::profiles::stored(platform, profile)? else {
        return Err(Failure {
            exit: Exit::Problem,
            error: anyhow!(
                "no key is stored for this user: {}",
                crate::output::set_first(platform)
            ),
        });
    };
    let mut vars = stored.vars;
    if let Some(id) = region {
        let config =
            Config::load(platform).map_err(|e| Failure { exit: Exit::Usage, error: e.into() })?;
        let target = config.find(id).map_err(crate::set::unknown_region)?;
        // A workspace belongs to its region, and its host takes only its keys: region X's
        // public URLs go without the stored workspace (and the region both SDK surfaces would
        // build its host from), which the note names.
        if let Some((_, workspace)) = vars.iter().find(|(n, _)| n == vars::WORKSPACE_ID) {
            anstream::eprintln!(
                "dashkey: --region {id}: the workspace {} is left out (a workspace host serves \
                 its own region only); the program gets {id}'s public URLs",
                workspace.as_str()
            );
        }
        vars.retain(|(name, _)| {
            ![
                vars::HTTP_BASE_URL,
                vars::WEBSOCKET_BASE_URL,
                vars::COMPATIBLE_BASE_URL,
                vars::API_BASE,
                vars::API_REGION,
                vars::WORKSPACE_ID,
                vars::REGION,
                vars::WORKSPACE,
            ]
            .contains(&name.as_str())
        });
        if let Some((_, base)) = vars.iter_mut().find(|(n, _)| n == vars::OPENAI_BASE_URL) {
            *base = Zeroizing::new(target.compatible());
        }
        vars.push((vars::HTTP_BASE_URL.into(), Zeroizing::new(target.native())));
        vars.push((vars::WEBSOCKET_BASE_URL.into(), Zeroizing::new(target.websocket())));
        vars.push((vars::COMPATIBLE_BASE_URL.into(), Zeroizing::new(target.compatible())));
        vars.push((vars::API_BASE.into(), Zeroizing::new(target.compatible())));
    }
    Ok(vars)
}

pub fn run(platform: &Platform, args: &RunArgs) -> Outcome {
    let vars = stored_vars(platform, args.profile.as_deref(), args.region.as_deref())?;
    let (program, rest) = args.command.split_first().expect("clap requires a command");
    let mut command = Command::new(program);
    command.args(rest);
    for (name, value) in &vars {
        command.env(name, value.as_str());
    }
    Err(launch_failure(program, process::replace(command)))
}

/// The sudo option among `options` that would keep the whole environment: `-E` (alone or
/// in a cluster such as `-HE`), or `--preserve-env` (or an abbreviation) without a list.
/// The value of an option that takes one (`-u Eve`, `-uEve`) is not an option.
fn whole_environment_option(options: &[String]) -> Option<&'static str> {
    const TAKES_VALUE: &str = "CDgpRrtTUu";
    let mut options = options.iter();
    while let Some(option) = options.next() {
        if let Some(long) = option.strip_prefix("--") {
            let preserve = long.len() >= "preserve-e".len() && "preserve-env".starts_with(long);
            let empty_list = long.strip_suffix('=').is_some_and(|l| "preserve-env".starts_with(l))
                && long.len() > "preserve-e".len();
            if preserve || empty_list {
                return Some("--preserve-env without a list of names");
            }
        } else if let Some(cluster) = option.strip_prefix('-') {
            for (at, letter) in cluster.char_indices() {
                if letter == 'E' {
                    return Some("-E");
                }
                if TAKES_VALUE.contains(letter) {
                    if at + 1 == cluster.len() {
                        options.next();
                    }
                    break;
                }
            }
        }
    }
    None
}

/// A command that could not be started: 127 when it is not found, 126 when it cannot be run,
/// as shells do.
fn launch_failure(program: &str, error: std::io::Error) -> Failure {
    let (code, what) = match error.kind() {
        std::io::ErrorKind::NotFound => (127, "command not found"),
        std::io::ErrorKind::PermissionDenied => (126, "permission denied"),
        _ => (126, "cannot run it"),
    };
    Failure { exit: Exit::Child(code), error: anyhow!("{program}: {what} ({error})") }
}

pub fn sudo(platform: &Platform, args: &SudoArgs) -> Outcome {
    let (options, command) = match args.args.iter().position(|a| a == "--") {
        Some(at) => (&args.args[..at], &args.args[at + 1..]),
        None if args.args.first().is_some_and(|a| a.starts_with('-')) => {
            return Err(Failure {
                exit: Exit::Usage,
                error: anyhow!(
                    "put -- between sudo's options and the command: dashkey sudo -u USER -- COMMAND"
                ),
            });
        }
        None => (&args.args[..0], &args.args[..]),
    };
    if command.is_empty() {
        return Err(Failure {
            exit: Exit::Usage,
            error: anyhow!("no command given: dashkey sudo [OPTIONS] -- COMMAND"),
        });
    }
    if let Some(option) = whole_environment_option(options) {
        return Err(Failure {
            exit: Exit::Usage,
            error: anyhow!(
                "refusing sudo's {option}: it hands the command your whole environment (every \
                 token and password in it), which `dashkey sudo` exists to prevent. dashkey \
                 already keeps the DashScope variables; to keep another one too, name it:\n  \
                 dashkey sudo --preserve-env=NAME -- COMMAND"
            ),
        });
    }
    let vars = stored_vars(platform, None, None)?;
    let sudo = platform.find_program("sudo").ok_or_else(|| Failure {
        exit: Exit::Io,
        error: anyhow!(
            "sudo is not installed; use `dashkey run -- COMMAND` as the user that needs the key"
        ),
    })?;
    // The DashScope variables dashkey writes (the list `doctor` prints too) and the `--client`
    // names it stores; the DashScope ones not stored are removed, so no stale value from this
    // shell crosses over. A generic name dashkey does not store (a real OPENAI_API_KEY) is
    // neither kept nor touched: sudo's own policy decides.
    let mut names: Vec<&str> = store::DASHSCOPE_VARS.to_vec();
    for (name, _) in &vars {
        if let Some(known) = store::WRITTEN_VARS.iter().find(|n| **n == name.as_str())
            && !names.contains(known)
        {
            names.push(known);
        }
    }
    let mut child = Command::new(&sudo);
    child.arg(format!("--preserve-env={}", names.join(","))).args(options).arg("--").args(command);
    for name in &names {
        child.env_remove(name);
    }
    for (name, value) in &vars {
        child.env(name, value.as_str());
    }
    // sudo's own complaints go through dashkey, to explain the one about preserving.
    child.stderr(Stdio::piped());
    let mut child = child.spawn().map_err(|e| launch_failure("sudo", e))?;
    let mut refused = false;
    if let Some(stderr) = child.stderr.take() {
        let mut out = std::io::stderr();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            refused |= line.contains("preserve the environment");
            // sudo quotes the command it cannot find: never repeat a key-like argument.
            let _ = writeln!(out, "{}", crate::keyinput::scrub(&line));
        }
    }
    let status = child.wait().map_err(|e| Failure { exit: Exit::Io, error: e.into() })?;
    if refused {
        anstream::eprintln!(
            "dashkey: the sudoers policy does not let you keep environment variables. Ask for \
             `Defaults env_keep += \"{}\"` (or SETENV on the command), or run the program as \
             that user with `dashkey run`",
            names.join(" ")
        );
    }
    Ok(Exit::Child(process::status_code(status)))
}

#[cfg(unix)]
mod process {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{Command, ExitStatus};

    /// Replaces this process with the command; returns only if that failed.
    pub fn replace(mut command: Command) -> std::io::Error {
        command.exec()
    }

    /// An exit status as a shell reports it: the code, or 128 + the signal.
    pub fn status_code(status: ExitStatus) -> u8 {
        match (status.code(), status.signal()) {
            (Some(code), _) => u8::try_from(code & 0xff).unwrap_or(1),
            (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(1),
            (None, None) => 1,
        }
    }
}

#[cfg(windows)]
mod process {
    use std::process::{Command, ExitStatus};

    /// Windows cannot replace a process: run the command and leave with its status.
    pub fn replace(mut command: Command) -> std::io::Error {
        match command.status() {
            Ok(status) => std::process::exit(status.code().unwrap_or(1)),
            Err(error) => error,
        }
    }

    /// The exit code, truncated to what a process may return here.
    pub fn status_code(status: ExitStatus) -> u8 {
        u8::try_from(status.code().unwrap_or(1) & 0xff).unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::whole_environment_option;

    fn check(options: &[&str]) -> Option<&'static str> {
        whole_environment_option(&options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn keeping_the_whole_environment_is_found_in_every_spelling() {
        for options in [
            &["-E"][..],
            &["-HE"],
            &["-u", "svc", "-E"],
            &["--preserve-env"],
            &["--preserve-e"],
            &["--preserve-env="],
        ] {
            assert!(check(options).is_some(), "{options:?}");
        }
        for options in [
            &["-u", "Eve"][..],
            &["-uEve"],
            &["-u", "-E"],
            &["--preserve-env=FOO"],
            &["-H"],
            &["--preserve-groups"],
        ] {
            assert_eq!(check(options), None, "{options:?}");
        }
    }
}
