//! The API key as a secret value.
//!
//! A DashScope key is a bearer credential: whoever holds it spends the owner's money. So the
//! type that carries it is built to be hard to leak by accident. It has no `Display`, its
//! `Debug` is redacted, its memory is wiped on drop, and the one way to read the bytes is
//! [`ApiKey::expose`], which is easy to grep for in review.
//!
//! Two constructors exist on purpose. [`ApiKey::parse`] is for what a *person* typed or
//! pasted: it forgives the usual accidents (surrounding spaces, a trailing CR, a pair of
//! quotes) and refuses anything that cannot be a key, with a sentence that says how to fix it.
//! [`ApiKey::verbatim`] is for what a *program* would send: a value found in the environment or
//! a file, kept byte for byte, so that dashkey can report exactly what an SDK would do with
//! it, padding and all. [`ApiKey::problems`] then explains what is wrong with such a value.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Longest input accepted as a key. Real keys are under 200 bytes; the bound exists so that a
/// mis-pasted file or a runaway pipe is refused instead of being stored.
pub const MAX_KEY_LEN: usize = 4096;

/// Characters a key may contain. Every known key format (hex, base64url, dotted workspace
/// keys) fits, and the set is small enough that every quoting dialect handles it trivially.
const EXTRA_KEY_CHARS: &[u8] = b"._~+/=:-";

/// A DashScope API key, kept secret.
///
/// Clone it freely: each clone is zeroized when dropped.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Reads a key typed or pasted by a person, forgiving harmless accidents and refusing
    /// anything that cannot be a key.
    ///
    /// What was forgiven, and warnings such as an unknown prefix, are returned in
    /// [`ParsedKey::notes`] so that the caller can tell the user.
    ///
    /// # Errors
    ///
    /// A [`KeyError`] naming the problem; its `Display` is a full sentence with the fix and
    /// never contains the key.
    pub fn parse(input: &str) -> Result<ParsedKey, KeyError> {
        if input.len() > MAX_KEY_LEN {
            return Err(KeyError::TooLong { len: input.len() });
        }
        let mut notes = Vec::new();
        let mut value = trim_paste(input);
        if input.contains('\u{feff}') && value.len() != input.len() {
            notes.push(KeyNote::ByteOrderMark);
        }
        if trim_spaces(input).len() != input.len() {
            notes.push(KeyNote::Trimmed);
        }
        if let Some(inner) = strip_matching_quotes(value) {
            notes.push(KeyNote::QuotesRemoved);
            let trimmed = trim_paste(inner);
            if trimmed.len() != inner.len() && !notes.contains(&KeyNote::Trimmed) {
                notes.push(KeyNote::Trimmed);
            }
            value = trimmed;
        }
        if value.is_empty() {
            return Err(KeyError::Empty);
        }
        if let Some(line) = pasted_assignment(value) {
            return Err(KeyError::PastedAssignment { line });
        }
        if looks_like_variable_reference(value) {
            return Err(KeyError::UnexpandedVariable);
        }
        if is_placeholder(value) {
            return Err(KeyError::Placeholder);
        }
        // Punctuation a key may contain, but never begin with; other punctuation is refused
        // below by name.
        if let Some(first) =
            value.chars().next().filter(|c| c.is_ascii() && EXTRA_KEY_CHARS.contains(&(*c as u8)))
        {
            return Err(KeyError::NotAKey { first });
        }
        for (index, c) in value.char_indices() {
            let position = index + 1;
            if c.is_whitespace() {
                return Err(KeyError::InnerWhitespace { position });
            }
            if c.is_control() {
                return Err(KeyError::ControlCharacter { position });
            }
            if !c.is_ascii() {
                return Err(KeyError::NonAscii { position });
            }
            if !(c.is_ascii_alphanumeric() || EXTRA_KEY_CHARS.contains(&(c as u8))) {
                return Err(KeyError::ForbiddenCharacter { position, character: c });
            }
        }
        let key = ApiKey::verbatim(value);
        if key.kind() == KeyKind::Unknown {
            notes.push(KeyNote::UnknownPrefix);
        }
        Ok(ParsedKey { key, notes })
    }

    /// Wraps a value exactly as a program would send it, without any check or cleanup.
    ///
    /// Use it for values read from the environment or from key files, where dashkey must
    /// reason about the bytes the SDK would really use.
    pub fn verbatim(value: impl Into<String>) -> ApiKey {
        ApiKey(SecretString::from(value.into()))
    }

    /// The key itself. This is the only way to read it; every call site is a place where the
    /// secret leaves the type, so keep them few and obvious.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.expose().len()
    }

    /// True for the empty value, which some SDKs send as if it were a key.
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }

    /// Which kind of key this looks like, from its prefix.
    pub fn kind(&self) -> KeyKind {
        KeyKind::of(self.expose())
    }

    /// A form that is safe to print: the known prefix and the last four characters
    /// (`sk-…a1b2`). A key too short to spare four characters is hidden whole. Padding and
    /// quotes around a found value stay visible (`␣"sk-…a1b2"`), because they are often the
    /// very thing that is wrong with it.
    pub fn mask(&self) -> String {
        let value = self.expose();
        let is_pad = |c: char| c.is_whitespace() || c == '\u{feff}';
        let lead = if value.starts_with(is_pad) { "␣" } else { "" };
        let trail = if value.ends_with(is_pad) && !value.trim_matches(is_pad).is_empty() {
            "␣"
        } else {
            ""
        };
        let trimmed = trim_paste(value);
        let (open, core, close) = match strip_matching_quotes(trimmed) {
            Some(inner) => {
                let open = trimmed.chars().next().map(String::from).unwrap_or_default();
                let close = trimmed.chars().next_back().map(String::from).unwrap_or_default();
                (open, inner, close)
            }
            None => (String::new(), trimmed, String::new()),
        };
        format!("{lead}{open}{}{close}{trail}", mask_core(core))
    }

    /// A short, stable digest of the exact bytes (eight hex digits of SHA-256), so that copies
    /// can be compared across files and machines without showing them.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.expose().as_bytes());
        digest[..4].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// What is wrong with a value found in the wild, in the order a user should fix them.
    /// An empty list means it would be accepted by [`ApiKey::parse`] unchanged.
    pub fn problems(&self) -> Vec<ValueProblem> {
        let value = self.expose();
        let mut problems = Vec::new();
        if value.is_empty() {
            problems.push(ValueProblem::Empty);
            return problems;
        }
        let without_bom = value.trim_start_matches('\u{feff}');
        if without_bom.len() != value.len() && trim_paste(value) == without_bom {
            problems.push(ValueProblem::ByteOrderMark);
        } else if trim_paste(value).len() != value.len() {
            problems.push(ValueProblem::SurroundingWhitespace);
        }
        if strip_matching_quotes(trim_paste(value)).is_some()
            || value.starts_with(['"', '\''])
            || value.ends_with(['"', '\''])
        {
            problems.push(ValueProblem::Quoted);
        }
        match ApiKey::parse(value) {
            Ok(parsed) => {
                if parsed.notes.contains(&KeyNote::UnknownPrefix) {
                    problems.push(ValueProblem::UnknownPrefix);
                }
            }
            Err(KeyError::Placeholder) => problems.push(ValueProblem::Placeholder),
            Err(KeyError::UnexpandedVariable) => problems.push(ValueProblem::UnexpandedVariable),
            Err(KeyError::Empty) => problems.push(ValueProblem::Empty),
            Err(error) => {
                if problems.is_empty() {
                    problems.push(ValueProblem::Malformed(error));
                }
            }
        }
        problems
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl PartialEq for ApiKey {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for ApiKey {}

/// A key accepted by [`ApiKey::parse`], with what was forgiven on the way.
#[derive(Debug, Clone)]
pub struct ParsedKey {
    /// The cleaned key.
    pub key: ApiKey,
    /// Corrections made and warnings, for the user to read.
    pub notes: Vec<KeyNote>,
}

/// Something [`ApiKey::parse`] corrected or wants the user to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyNote {
    /// Spaces, tabs or line endings around the key were removed.
    Trimmed,
    /// One pair of surrounding quotes was removed.
    QuotesRemoved,
    /// A byte-order mark (BOM) before the key was removed.
    ByteOrderMark,
    /// The key does not start with a prefix DashScope is known to issue.
    UnknownPrefix,
}

impl fmt::Display for KeyNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyNote::Trimmed => "removed spaces or line endings around the key",
            KeyNote::QuotesRemoved => "removed the quotes around the key",
            KeyNote::ByteOrderMark => {
                "removed a byte-order mark (BOM, added by some Windows editors) before the key"
            }
            KeyNote::UnknownPrefix => {
                "the key does not start with sk-, sk-sp-, sk-ws- or st-; \
                 check that you copied a Model Studio API key"
            }
        })
    }
}

/// Why an input is not a key. Messages never contain the input, and say only what is wrong:
/// what to do instead (paste, pipe, copy again) is the caller's to say.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Nothing was given.
    #[error("the key is empty")]
    Empty,
    /// More than [`MAX_KEY_LEN`] bytes.
    #[error(
        "the input is longer than an API key can be ({len} bytes or more; keys are at most 4096)"
    )]
    TooLong {
        /// Length of the input in bytes.
        len: usize,
    },
    /// The documentation's example value, not a real key.
    #[error("this is a placeholder from the documentation, not a key")]
    Placeholder,
    /// A whole line of a startup file or `.env` (`DASHSCOPE_API_KEY=sk-…`,
    /// `export DASHSCOPE_API_KEY=sk-…`) instead of the key alone.
    #[error("you pasted the whole line `{line}`")]
    PastedAssignment {
        /// The line as pasted, with the value replaced by `…`.
        line: String,
    },
    /// Starts with punctuation (`-`, `=x`, `--x`): an option or a fragment, not a key.
    #[error(
        "this cannot be a key: it starts with '{first}', and keys start with a letter or digit \
         (sk-…, sk-sp-…, sk-ws-…, st-…)"
    )]
    NotAKey {
        /// The first character (always ASCII punctuation, never part of a secret).
        first: char,
    },
    /// Something like `$DASHSCOPE_API_KEY` that a shell was supposed to expand.
    #[error("this is a variable reference, not a key: the shell did not expand it")]
    UnexpandedVariable,
    /// Whitespace inside the key, usually two values pasted together.
    #[error("the key contains a space or line break at character {position}: keys have none")]
    InnerWhitespace {
        /// 1-based byte position.
        position: usize,
    },
    /// A control character, usually from a terminal escape or a binary file.
    #[error("the key contains a control character at character {position}")]
    ControlCharacter {
        /// 1-based byte position.
        position: usize,
    },
    /// A character outside ASCII, usually a typographic quote or a look-alike letter.
    #[error(
        "the key contains a non-ASCII character at byte {position} (a typographic quote or a \
         look-alike letter?)"
    )]
    NonAscii {
        /// 1-based byte position.
        position: usize,
    },
    /// An ASCII character that no key contains.
    #[error("the key contains '{character}' at character {position}, which API keys never contain")]
    ForbiddenCharacter {
        /// 1-based byte position.
        position: usize,
        /// The offending punctuation character (never a letter or digit).
        character: char,
    },
}

/// What is wrong with a key value found in the environment or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueProblem {
    /// The value is empty.
    Empty,
    /// Leading or trailing spaces, tabs, CR or LF.
    SurroundingWhitespace,
    /// A byte-order mark before the value, and no other padding.
    ByteOrderMark,
    /// Quotes are part of the value (Windows `set X="..."`, or a quoted `.env` line).
    Quoted,
    /// The documentation's placeholder.
    Placeholder,
    /// A variable reference that was never expanded.
    UnexpandedVariable,
    /// Not a prefix DashScope issues.
    UnknownPrefix,
    /// Anything else that [`ApiKey::parse`] refuses.
    Malformed(KeyError),
}

impl ValueProblem {
    /// A stable identifier for scripts (`--json`).
    pub fn id(&self) -> &'static str {
        match self {
            ValueProblem::Empty => "empty",
            ValueProblem::SurroundingWhitespace => "whitespace",
            ValueProblem::ByteOrderMark => "bom",
            ValueProblem::Quoted => "quoted",
            ValueProblem::Placeholder => "placeholder",
            ValueProblem::UnexpandedVariable => "unexpanded-variable",
            ValueProblem::UnknownPrefix => "unknown-prefix",
            ValueProblem::Malformed(_) => "malformed",
        }
    }
}

impl fmt::Display for ValueProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueProblem::Empty => f.write_str("the value is empty"),
            ValueProblem::SurroundingWhitespace => {
                f.write_str("the value has spaces or line endings around it")
            }
            ValueProblem::ByteOrderMark => f.write_str(
                "the value starts with a byte-order mark (BOM), which is not part of a key",
            ),
            ValueProblem::Quoted => f.write_str("quotes are part of the value"),
            ValueProblem::Placeholder => f.write_str("the value is a documentation placeholder"),
            ValueProblem::UnexpandedVariable => {
                f.write_str("the value is an unexpanded variable reference")
            }
            ValueProblem::UnknownPrefix => f.write_str("the value has an unknown prefix"),
            ValueProblem::Malformed(error) => error.fmt(f),
        }
    }
}

/// The families of keys DashScope issues, told apart by prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyKind {
    /// `sk-`: pay-as-you-go key.
    PayAsYouGo,
    /// `sk-sp-`: Coding Plan / Token Plan key, valid only on the coding endpoints.
    CodingPlan,
    /// `sk-ws-`: workspace key.
    Workspace,
    /// `st-`: temporary key, valid for at most 30 minutes.
    Temporary,
    /// No known prefix.
    Unknown,
}

impl KeyKind {
    pub(crate) fn of(value: &str) -> KeyKind {
        if value.starts_with("sk-sp-") {
            KeyKind::CodingPlan
        } else if value.starts_with("sk-ws-") {
            KeyKind::Workspace
        } else if value.starts_with("sk-") {
            KeyKind::PayAsYouGo
        } else if value.starts_with("st-") {
            KeyKind::Temporary
        } else {
            KeyKind::Unknown
        }
    }

    /// The prefix that identifies this kind (empty for [`KeyKind::Unknown`]).
    pub fn prefix(self) -> &'static str {
        match self {
            KeyKind::PayAsYouGo => "sk-",
            KeyKind::CodingPlan => "sk-sp-",
            KeyKind::Workspace => "sk-ws-",
            KeyKind::Temporary => "st-",
            KeyKind::Unknown => "",
        }
    }

    /// A short human name.
    pub fn describe(self) -> &'static str {
        match self {
            KeyKind::PayAsYouGo => "pay-as-you-go key",
            KeyKind::CodingPlan => "Coding Plan key",
            KeyKind::Workspace => "workspace key",
            KeyKind::Temporary => "temporary key",
            KeyKind::Unknown => "unrecognised key",
        }
    }
}

/// Masks a value without padding or quotes.
fn mask_core(value: &str) -> String {
    let prefix = KeyKind::of(value).prefix();
    let body = &value[prefix.len()..];
    if body.chars().count() < 12 || !value.is_ascii() {
        return format!("{prefix}****");
    }
    format!("{prefix}…{}", &body[body.len() - 4..])
}

/// Trims what a paste drags along: ASCII and Unicode spaces, CR/LF, and a byte-order mark.
fn trim_paste(value: &str) -> &str {
    value.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// Trims spaces and line endings only (not a byte-order mark).
fn trim_spaces(value: &str) -> &str {
    value.trim_matches(|c: char| c.is_whitespace())
}

/// The inside of one pair of matching quotes around the whole value, if there is one.
fn strip_matching_quotes(value: &str) -> Option<&str> {
    const PAIRS: [(char, char); 4] = [('"', '"'), ('\'', '\''), ('“', '”'), ('‘', '’')];
    PAIRS.iter().find_map(|&(open, close)| {
        let inner = value.strip_prefix(open)?.strip_suffix(close)?;
        Some(inner)
    })
}

/// Whether a variable name looks like it holds a secret: it ends in `KEY` after a separator
/// (`DASHSCOPE_API_KEY`, `api-key`, `APIKEY`), or contains `TOKEN`, `SECRET` or `PASSWORD`.
/// Case does not matter. (Here, beside the secret type, so that masking and the paste
/// checks share it without depending on each other.)
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.ends_with("_KEY")
        || upper.ends_with("-KEY")
        || upper.ends_with("APIKEY")
        || upper.contains("TOKEN")
        || upper.contains("SECRET")
        || upper.contains("PASSWORD")
        || upper.contains("PASSWD")
}

/// The shape of a pasted assignment (`NAME=value`, `export NAME=value`, `set -gx NAME value`,
/// `setenv NAME value`, `$env:NAME = 'value'`, `NAME: value`) whose name is a key's, shown
/// with the value replaced by `…`.
fn pasted_assignment(value: &str) -> Option<String> {
    const COMMANDS: [&str; 8] =
        ["export ", "set -gx ", "set -Ux ", "set -x ", "setenv ", "setx ", "set ", "$env:"];
    let (command, rest) = COMMANDS
        .iter()
        .find_map(|c| value.strip_prefix(c).map(|rest| (*c, rest.trim_start())))
        .unwrap_or(("", value));
    let name_len = rest.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
    let (name, after) = rest.split_at(name_len);
    let upper = name.to_ascii_uppercase();
    let keyish = is_secret_name(name) || upper.contains("KEY");
    if !keyish || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let separator = match after.trim_start().chars().next() {
        Some('=') => "=",
        Some(':') => ": ",
        Some(_) if !command.is_empty() && after.starts_with(char::is_whitespace) => " ",
        _ => return None,
    };
    let shown_command = if command == "$env:" { command } else { command.trim_end() };
    let space = if command.is_empty() || command == "$env:" { "" } else { " " };
    Some(format!("{shown_command}{space}{name}{separator}…"))
}

fn looks_like_variable_reference(value: &str) -> bool {
    value.starts_with('$') || (value.len() > 2 && value.starts_with('%') && value.ends_with('%'))
}

/// Recognises the example values of the documentation, SDK READMEs and tutorials.
fn is_placeholder(value: &str) -> bool {
    let folded: String =
        value.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
    const WORDS: [&str; 16] = [
        "apikey",
        "dashscopeapikey",
        "key",
        "token",
        "secret",
        "changeme",
        "replaceme",
        "placeholder",
        "example",
        "test",
        "none",
        "null",
        "undefined",
        "sk",
        "skxxx",
        "xxx",
    ];
    if WORDS.contains(&folded.as_str()) {
        return true;
    }
    if folded.contains("your") && (folded.contains("key") || folded.contains("token")) {
        return true;
    }
    let bracketed = [('<', '>'), ('{', '}'), ('[', ']')]
        .iter()
        .any(|&(open, close)| value.starts_with(open) && value.ends_with(close));
    if bracketed {
        return true;
    }
    let body = &value[KeyKind::of(value).prefix().len()..];
    !body.is_empty() && body.chars().all(|c| matches!(c, 'x' | 'X' | '*' | '.' | '…' | '#'))
}

#[cfg(test)]
mod tests;
