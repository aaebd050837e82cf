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
    let text = serde_json::to_string_pretty(value)?;
    anstream::println!("{text}");
    Ok(())
}

/// A [`dashkey::KeyError`] in the binary's words: the library says what is wrong, the binary
/// adds the command that gives the key properly.
pub fn key_error(error: dashkey::KeyError) -> anyhow::Error {
    match error {
        dashkey::KeyError::UnexpandedVariable => anyhow::anyhow!(
            "{error} (for example: printf %s \"$DASHSCOPE_API_KEY\" | dashkey set --stdin)"
        ),
        other => other.into(),
    }
}
