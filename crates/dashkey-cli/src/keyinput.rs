//! Reading the key from a person: a hidden prompt on the terminal, or standard input.
//! Never from the command line, where other users' `ps` and the shell history would see it.

use std::io::{IsTerminal, Read};

use anyhow::anyhow;
use dashkey::key::{KeyNote, MAX_KEY_LEN};
use dashkey::{ApiKey, KeyError, ParsedKey};
use zeroize::Zeroizing;

use crate::exit::{Exit, Failure};
use crate::output::{WARN, paint};

/// How many times the prompt asks again after an input that cannot be a key.
const ATTEMPTS: usize = 3;

/// The refusal shown when a key is given as an argument. It never repeats the argument.
pub fn refuse_argv() -> Failure {
    Failure {
        exit: Exit::Usage,
        error: anyhow!(
            "refusing to take the key from the command line: other users can see it in the process \
             list and your shell saves it in its history.\n  Paste it at the prompt:  dashkey set\n  \
             or pipe it:              printf '%s' \"$KEY\" | dashkey set --stdin"
        ),
    }
}

/// Reads and validates a key from stdin (`--stdin`) or a hidden prompt.
pub fn read_key(from_stdin: bool, prompt: &str) -> Result<ParsedKey, Failure> {
    if from_stdin {
        let mut input = Zeroizing::new(Vec::new());
        std::io::stdin().lock().take(MAX_KEY_LEN as u64 + 1).read_to_end(&mut input).map_err(
            |e| Failure { exit: Exit::Io, error: anyhow!("cannot read standard input: {e}") },
        )?;
        if input.len() > MAX_KEY_LEN {
            return Err(usage(KeyError::TooLong { len: input.len() }));
        }
        let text = std::str::from_utf8(&input)
            .map_err(|_| usage(anyhow!("standard input is not text: pipe only the key itself")))?;
        return ApiKey::parse(text).map_err(usage);
    }
    if !std::io::stdin().is_terminal() {
        return Err(usage(anyhow!(
            "standard input is not a terminal, so there is no one to ask for the key: \
             to read it from standard input, add --stdin, for example\n  \
             printf '%s' \"$KEY\" | dashkey set --stdin"
        )));
    }
    for attempt in 1..=ATTEMPTS {
        let input = Zeroizing::new(rpassword::prompt_password(prompt).map_err(|e| Failure {
            exit: Exit::Io,
            error: anyhow!("cannot read from the terminal: {e}"),
        })?);
        match ApiKey::parse(&input) {
            Ok(parsed) => return Ok(parsed),
            Err(error) if attempt < ATTEMPTS => {
                anstream::eprintln!("{} {error}", paint(WARN, "!"));
            }
            Err(error) => return Err(usage(error)),
        }
    }
    unreachable!("the loop returns on its last attempt")
}

/// Tells the user what parsing forgave, on stderr.
pub fn show_notes(parsed: &ParsedKey) {
    for note in &parsed.notes {
        let mark = if *note == KeyNote::UnknownPrefix {
            paint(WARN, "warning:")
        } else {
            "note:".to_string()
        };
        anstream::eprintln!("{mark} {note}");
    }
}

fn usage(error: impl Into<anyhow::Error>) -> Failure {
    Failure { exit: Exit::Usage, error: error.into() }
}
