//! `dashkey key`: the stored key alone on one line, for programs that run a helper command to
//! get a secret (Claude Code's `apiKeyHelper`, credential-process style hooks). It hands over
//! exactly the key `run` and `env` hand over, and refuses a terminal as `env` does.

use std::io::Write;

use anyhow::anyhow;
use dashkey::Platform;
use zeroize::Zeroizing;

use crate::cli::KeyArgs;
use crate::exit::{Exit, Failure, Outcome};

pub fn run(platform: &Platform, args: &KeyArgs) -> Outcome {
    crate::shellenv::refuse_terminal(
        args.reveal,
        "run it from the program that reads it (such as Claude Code's apiKeyHelper)",
    )?;
    let key = crate::profiles::stored(platform, args.profile.as_deref())?.and_then(|s| s.key());
    let Some(key) = key else {
        return Err(Failure {
            exit: Exit::Problem,
            error: anyhow!(
                "no key is stored for this user: {}",
                crate::output::set_first(platform)
            ),
        });
    };
    let line = Zeroizing::new(format!("{}\n", key.expose()));
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.flush()?;
    Ok(Exit::Ok)
}
