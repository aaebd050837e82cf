//! `dashkey env`: the stored key as assignments for one shell, for
//! `eval "$(dashkey env)"` — the temporary, this-terminal-only variant of the documentation.

use std::io::IsTerminal;

use anyhow::anyhow;
use dashkey::Platform;
use dashkey::shell::Dialect;
use dashkey::store;

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
    if std::io::stdout().is_terminal() && !args.reveal {
        return Err(Failure {
            exit: Exit::Usage,
            error: anyhow!(
                "this prints your key: load it with  eval \"$(dashkey env)\"  \
                 or add --reveal to show it on the screen"
            ),
        });
    }
    let Some(stored) = store::load_stored(platform)? else {
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
