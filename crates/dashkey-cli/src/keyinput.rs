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
pub fn refuse_argv(command: &str) -> Failure {
    let (prompt, pipe) = match command {
        "verify" => ("", "dashkey verify --stdin"),
        _ => ("\n  Paste it at the prompt:  dashkey set", "dashkey set --stdin"),
    };
    Failure {
        exit: Exit::Usage,
        error: anyhow!(
            "refusing to take the key from the command line: other users can see it in the process \
             list and your shell saves it in its history.{prompt}\n  \
             Pipe it instead:         printf '%s' \"$KEY\" | {pipe}"
        ),
    }
}

/// Whether any argument looks like an API key (anything shaped like a DashScope key, alone,
/// inside `--opt=value`, attached to a short option such as `-fsk-…`, or inside a longer
/// argument). Checked before the arguments are parsed, so that no "unexpected argument '…'"
/// message ever repeats a key typed in the wrong place. Only `run` and `sudo` stop at `--`:
/// what follows is the command they start, not dashkey's arguments.
pub fn key_in_arguments(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    let args: Vec<String> = args.skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    let command = args.iter().find(|a| !a.starts_with('-')).map(String::as_str);
    let stop_at_dashes = matches!(command, Some("run" | "sudo"));
    args.iter().take_while(|arg| !(stop_at_dashes && arg.as_str() == "--")).any(|arg| {
        let short_option = arg.starts_with('-') && !arg.starts_with("--");
        dashkey::mask::contains_key(arg, short_option)
    })
}

/// `text` (an error message about to be shown) with every argument of this process that
/// holds anything key-shaped replaced by its mask, and then masked by shape: no message
/// repeats a key-like argument, whoever wrote the message (clap or dashkey).
pub fn scrub(text: &str) -> String {
    let mut text = text.to_string();
    let mut args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| !dashkey::mask::key_like_spans(a, true).is_empty())
        .collect();
    args.sort_by_key(|a| std::cmp::Reverse(a.len()));
    for arg in &args {
        text = text.replace(arg.as_str(), &ApiKey::verbatim(arg.as_str()).mask());
        // Also the value of `--opt=value`, which clap quotes alone.
        if let Some((_, value)) = arg.split_once('=')
            && !dashkey::mask::key_like_spans(value, true).is_empty()
        {
            text = text.replace(value, &ApiKey::verbatim(value).mask());
        }
    }
    dashkey::mask::mask_secrets(&text)
}

/// The subcommand named on a command line (the first argument that is not an option).
pub fn subcommand(args: impl Iterator<Item = std::ffi::OsString>) -> String {
    args.skip(1)
        .filter_map(|arg| arg.into_string().ok())
        .find(|arg| !arg.starts_with('-'))
        .unwrap_or_default()
}

/// Reads and validates a key from stdin (`--stdin`) or a hidden prompt.
pub fn read_key(from_stdin: bool, prompt: &str) -> Result<ParsedKey, Failure> {
    if from_stdin {
        let mut input = Zeroizing::new(Vec::new());
        std::io::stdin().lock().take(MAX_KEY_LEN as u64 + 1).read_to_end(&mut input).map_err(
            |e| Failure { exit: Exit::Io, error: anyhow!("cannot read standard input: {e}") },
        )?;
        if input.len() > MAX_KEY_LEN {
            return Err(usage(crate::output::key_error(KeyError::TooLong { len: input.len() })));
        }
        let text = std::str::from_utf8(&input)
            .map_err(|_| usage(anyhow!("standard input is not text: pipe only the key itself")))?;
        return ApiKey::parse(text).map_err(|e| usage(crate::output::key_error(e)));
    }
    if !std::io::stdin().is_terminal() {
        return Err(usage(anyhow!(
            "standard input is not a terminal, so there is no one to ask for the key: \
             to read it from standard input, add --stdin, for example\n  \
             printf '%s' \"$KEY\" | dashkey set --stdin"
        )));
    }
    for attempt in 1..=ATTEMPTS {
        let input = Zeroizing::new(rpassword::prompt_password(prompt).map_err(|e| {
            // Ctrl-D at the prompt ends the input before a line: the person chose not to
            // answer, which is a cancel, not a broken terminal.
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Failure {
                    exit: Exit::Cancelled,
                    error: anyhow!("cancelled at the prompt (Ctrl-D); nothing was changed"),
                }
            } else {
                Failure { exit: Exit::Io, error: anyhow!("cannot read from the terminal: {e}") }
            }
        })?);
        match ApiKey::parse(&input) {
            Ok(parsed) => return Ok(parsed),
            Err(error) if attempt < ATTEMPTS => {
                anstream::eprintln!("{} {}", paint(WARN, "!"), crate::output::key_error(error));
            }
            Err(error) => return Err(usage(crate::output::key_error(error))),
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
