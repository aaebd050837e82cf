//! Quoting: how to write a value in each dialect so that the shell reads it back byte for
//! byte, and the one reader of a quoted POSIX word (every other place that needs a value out
//! of shell syntax calls [`unquote_word`] rather than keeping its own).

use std::path::Path;

use super::Dialect;

/// `'v'`, with each `'` written as `'"'"'`.
pub fn quote_posix(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\"'\"'"))
}

/// `value` as one POSIX shell word: bare when nothing in it is special (a plain path reads
/// as the user would type it), else single-quoted.
pub fn word_posix(value: &str) -> String {
    let plain = !value.is_empty()
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c));
    if plain { value.to_string() } else { quote_posix(value) }
}

/// `'v'`, with `\` and `'` backslash-escaped (the only escapes fish honours in single quotes).
pub fn quote_fish(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `'v'`, with `'` written as `'\''` and `!` as `\!` (history expansion happens even inside
/// single quotes in csh).
pub fn quote_csh(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''").replace('!', "\\!"))
}

/// A raw string `r#'v'#` with more `#` than any `'#…` run inside the value.
pub fn quote_nu_raw(value: &str) -> String {
    let mut longest = 0;
    for (index, _) in value.match_indices('\'') {
        let run = value[index + 1..].chars().take_while(|&c| c == '#').count();
        longest = longest.max(run);
    }
    let hashes = "#".repeat(longest + 1);
    format!("r{hashes}'{value}'{hashes}")
}

/// `'v'`, with every single-quote character doubled, including the typographic ones
/// (U+2018–U+201B) that PowerShell also treats as quotes.
pub fn quote_powershell(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if matches!(c, '\'' | '\u{2018}'..='\u{201b}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// A JSON/NUON double-quoted string.
pub fn quote_nuon(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A path as an expression in a dialect: relative to `$HOME` when it is under the home (so
/// published dotfiles carry no user name), else the absolute path, quoted.
pub fn path_expression(dialect: Dialect, path: &Path, home: Option<&Path>) -> String {
    let rest = home
        .and_then(|home| path.strip_prefix(home).ok())
        .map(|rest| rest.to_string_lossy().replace('\\', "/"))
        .filter(|rest| !rest.is_empty())
        .filter(|rest| rest.chars().all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c)));
    let absolute = path.display().to_string();
    match (dialect, rest) {
        (Dialect::Posix | Dialect::Fish | Dialect::Csh | Dialect::PowerShell, Some(rest)) => {
            format!("\"$HOME/{rest}\"")
        }
        (Dialect::Nu, Some(rest)) => format!("($nu.home-path | path join {})", quote_nuon(&rest)),
        (Dialect::Posix, None) => quote_posix(&absolute),
        (Dialect::Fish, None) => quote_fish(&absolute),
        (Dialect::Csh, None) => quote_csh(&absolute),
        (Dialect::Nu, None) => quote_nu_raw(&absolute),
        (Dialect::PowerShell, None) => quote_powershell(&absolute),
        (Dialect::Cmd, _) => format!("\"{absolute}\""),
    }
}

/// The value of one POSIX shell word, as the shell reads it when nothing in it is computed:
/// single quotes keep everything, double quotes take `\` escapes, a bare `\` escapes the next
/// character, and the word ends at whitespace or `;`. `None` when the shell would compute the
/// value (`$`, a backquote, `(`). The one reader of quoted values: it reverses
/// [`quote_posix`] and reads the literal assignments users write.
pub fn unquote_word(word: &str) -> Option<String> {
    read_word(word).map(|(value, _)| value)
}

/// Like [`unquote_word`], for text that must be exactly one word, as in the files dashkey
/// writes itself: `None` when anything follows the word.
pub fn unquote_whole(text: &str) -> Option<String> {
    read_word(text).filter(|(_, rest)| rest.is_empty()).map(|(value, _)| value)
}

/// The value of the word at the start of `text`, and what follows it.
fn read_word(text: &str) -> Option<(String, &str)> {
    let mut chars = text.char_indices();
    let mut value = String::new();
    while let Some((at, c)) = chars.next() {
        match c {
            '\'' => {
                for (_, c) in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    value.push(c);
                }
            }
            '"' => {
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => value.extend(chars.next().map(|(_, c)| c)),
                        '$' | '`' => return None,
                        c => value.push(c),
                    }
                }
            }
            '\\' => value.extend(chars.next().map(|(_, c)| c)),
            '$' | '`' | '(' => return None,
            c if c.is_whitespace() || c == ';' => return Some((value, &text[at..])),
            c => value.push(c),
        }
    }
    Some((value, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_rules_per_dialect() {
        assert_eq!(quote_posix("a'b"), "'a'\"'\"'b'");
        assert_eq!(quote_fish("a'b\\c"), "'a\\'b\\\\c'");
        assert_eq!(quote_csh("a'b!c"), "'a'\\''b\\!c'");
        assert_eq!(quote_nu_raw("a'#b"), "r##'a'#b'##");
        assert_eq!(quote_powershell("a'b\u{2019}c"), "'a''b\u{2019}\u{2019}c'");
        assert!(Dialect::Csh.assignment("X", "a\nb").is_err());
        assert!(Dialect::Posix.assignment("X", "a\0b").is_err());
    }

    #[test]
    fn unquote_reverses_quote() {
        for value in ["plain", "it's", "''", "a'b'c", "", "two words", "a\\b\"c"] {
            assert_eq!(unquote_word(&quote_posix(value)).as_deref(), Some(value));
            assert_eq!(unquote_whole(&quote_posix(value)).as_deref(), Some(value));
        }
        assert_eq!(unquote_word("'a' # old").as_deref(), Some("a"));
        assert_eq!(unquote_whole("'a' # old"), None);
        assert_eq!(unquote_whole("\"$KEY\""), None);
    }
}
