//! `dashkey env`: the stored key as assignments for one shell, for
//! `eval "$(dashkey env)"` — the temporary, this-terminal-only variant of the documentation.

use std::io::IsTerminal;

use anyhow::anyhow;
use dashkey::Platform;
use dashkey::shell::Dialect;

use crate::cli::EnvArgs;
use crate::exit::{Exit, Failure, Outcome};

pub fn run(platform: &Platform, args: &EnvArgs) -> Outcome {
    let dialect = match &args.shell {
        Some(name) => Dialect::from_name(name).ok_or_else(|| Failure {
            exit: Exit::Usage,
            error: anyhow!(
                "unknown shell '{name}': use sh, bash, zsh, fish, csh, tcsh, nu, pwsh or cmd"
            ),
        })?,
        None => crate::set::current_dialect(platform),
    };
    refuse_terminal(args.reveal, "load it with  eval \"$(dashkey env)\"")?;
    let Some(stored) = crate::profiles::stored(platform, args.profile.as_deref())? else {
        anstream::eprintln!("no key is stored: {}", crate::output::set_first(platform));
        return Ok(Exit::Problem);
    };
    let mut out = zeroize::Zeroizing::new(String::new());
    for (name, value) in &stored.vars {
        out.push_str(&dialect.assignment(name, value)?);
        out.push('\n');
    }
    print!("{}", out.as_str());
    Ok(Exit::Ok)
}

/// Refuses to print the key to a terminal unless `--reveal` was given: a key on the screen
/// ends up in scrollback, screen shares and recordings. `instead` says how the output is
/// meant to be consumed. Shared by `env` and `key`, so both refuse the same way.
pub fn refuse_terminal(reveal: bool, instead: &str) -> Result<(), Failure> {
    if std::io::stdout().is_terminal() && !reveal {
        return Err(Failure {
            exit: Exit::Usage,
            error: anyhow!(
                "this prints your key: {instead}, or add --reveal to show it on the screen"
            ),
        });
    }
    Ok(())
}
