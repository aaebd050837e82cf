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

/// `text` wrapped in `style`, for anstream to keep or strip; plain when neither stdout nor
/// stderr shows colours, since the styles would be stripped again on the way out.
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    static PLAIN: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
        let never = anstream::ColorChoice::Never;
        anstream::AutoStream::choice(&std::io::stdout()) == never
            && anstream::AutoStream::choice(&std::io::stderr()) == never
    });
    if *PLAIN { text.to_string() } else { styled(style, text) }
}

/// `text` between `style`'s escapes.
fn styled(style: Style, text: impl std::fmt::Display) -> String {
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
    let stdout = std::io::stdout();
    let choice = anstream::AutoStream::choice(&stdout);
    let mut lock = stdout.lock();
    if choice == anstream::ColorChoice::Never {
        // anstream strips with a byte-by-byte parser, which cost `status` as much as the
        // rest of its report's formatting.
        lock.write_all(plain(text).as_bytes())?;
        lock.flush()?;
    } else {
        let mut stream = anstream::AutoStream::new(lock, choice);
        stream.write_all(text.as_bytes())?;
        stream.flush()?;
    }
    Ok(())
}

/// `text` without styles, as anstream's stripping would write it: the escapes [`paint`]
/// makes (`ESC [ digits;… m`) are cut out directly; any other escape or control character
/// (from a file name, say) sends the whole text through anstream's parser instead.
fn plain(text: &str) -> std::borrow::Cow<'_, str> {
    let parsed = || std::borrow::Cow::Owned(anstream::adapter::strip_str(text).to_string());
    // No early exit, so that the check is vectorised.
    let other_control = text.bytes().fold(false, |any, b| {
        any | (b < 0x20 && !matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | 0x1b)) | (b == 0x7f)
    });
    if other_control {
        return parsed();
    }
    let Some(first) = text.find('\x1b') else { return text.into() };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut at = Some(first);
    while let Some(escape) = at {
        out.push_str(&rest[..escape]);
        let after = rest[escape + 1..].strip_prefix('[').and_then(|params| {
            let end = params.find(|c: char| !(c.is_ascii_digit() || c == ';'))?;
            params[end..].strip_prefix('m')
        });
        match after {
            Some(after) => rest = after,
            None => return parsed(),
        }
        at = rest.find('\x1b');
    }
    out.push_str(rest);
    out.into()
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
    fn plain_text_is_what_anstream_strips_to() {
        let styled = super::styled(super::FAIL, "✗ key");
        let samples = [
            String::new(),
            "no escapes at all\n".to_string(),
            format!("{styled}  {}  from ~/.bashrc\n", super::styled(super::DIM, "(dim)")),
            format!("{}\t{}\r\n", super::styled(super::BOLD, "é"), super::styled(super::OK, "")),
            // Not `paint`'s: each goes through anstream's parser.
            "a\x1b]0;title\x07b\n".to_string(),
            "bell\x07 and del\x7f\n".to_string(),
            format!("{styled}\x1b[1;2Hmoved\x1b"),
            "\x1b[31".to_string(),
            "\x1b[".to_string(),
            "\u{9b}31m C1 as UTF-8\n".to_string(),
        ];
        for sample in samples {
            let want = anstream::adapter::strip_str(&sample).to_string();
            assert_eq!(super::plain(&sample), want, "{sample:?}");
        }
    }

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
