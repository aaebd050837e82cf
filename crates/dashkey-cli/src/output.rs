//! How results look: colours only on a terminal and never with `NO_COLOR` (anstream decides
//! per stream), paths shortened to `~`, and one place for the styles.

use std::path::Path;

use anstyle::{AnsiColor, Style};
use dashkey::Platform;

pub const OK: Style = AnsiColor::Green.on_default();
pub const WARN: Style = AnsiColor::Yellow.on_default();
pub const FAIL: Style = AnsiColor::Red.on_default().bold();
pub const DIM: Style = Style::new().dimmed();
pub const BOLD: Style = Style::new().bold();

/// `text` wrapped in `style`, for anstream to keep or strip.
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// A path as the user would type it: `~/…` under their home.
pub fn show_path(platform: &Platform, path: &Path) -> String {
    platform.show_path(path)
}

/// Prints a JSON document on stdout, pretty and newline-terminated.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    print(&text)
}

/// Writes a whole report to stdout in one write (colours taken out when stdout is not a
/// terminal or `NO_COLOR` is set, as `anstream` decides).
pub fn print(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = anstream::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// A [`dashkey::KeyError`] in the binary's words: the library says what is wrong, the binary
/// adds what to do instead.
pub fn key_error(error: dashkey::KeyError) -> anyhow::Error {
    use dashkey::KeyError;
    let fix = match &error {
        KeyError::Empty => ": paste the API key from the Model Studio console (API-KEY page)",
        KeyError::TooLong { .. } => ": pipe only the key itself, not a file that contains it",
        KeyError::Placeholder => {
            ": create or copy a real key on the Model Studio console's API-KEY page"
        }
        KeyError::PastedAssignment { .. } => "; paste only the key",
        KeyError::NotAKey { .. } => "; copy the key again from the Model Studio console",
        KeyError::UnexpandedVariable => {
            "; give the key itself (for example: printf %s \"$DASHSCOPE_API_KEY\" | dashkey set --stdin)"
        }
        KeyError::InnerWhitespace { .. } => "; copy the key again as one piece",
        KeyError::ControlCharacter { .. } | KeyError::NonAscii { .. } => {
            ": copy it again from the console as plain text"
        }
        KeyError::ForbiddenCharacter { .. } => ": copy the key again, without anything around it",
    };
    anyhow::anyhow!("{error}{fix}")
}

/// "run `dashkey set` first", or `dashkey set --from-env` when this environment already has
/// the key (an old `export` line): the user then needs no paste at all.
pub fn set_first(platform: &dashkey::Platform) -> String {
    if platform.var(dashkey::vars::API_KEY).is_some_and(|v| !v.trim().is_empty()) {
        "run `dashkey set --from-env` first (it stores the DASHSCOPE_API_KEY this terminal has)"
            .to_string()
    } else {
        "run `dashkey set` first".to_string()
    }
}

#[cfg(test)]
mod tests {
    use dashkey::KeyError;

    #[test]
    fn key_errors_keep_their_advice_in_the_binary() {
        assert_eq!(
            super::key_error(KeyError::UnexpandedVariable).to_string(),
            "this is a variable reference, not a key: the shell did not expand it; give the key \
             itself (for example: printf %s \"$DASHSCOPE_API_KEY\" | dashkey set --stdin)"
        );
        assert_eq!(
            super::key_error(KeyError::Empty).to_string(),
            "the key is empty: paste the API key from the Model Studio console (API-KEY page)"
        );
        assert!(!KeyError::TooLong { len: 5000 }.to_string().contains("pipe"));
    }
}
