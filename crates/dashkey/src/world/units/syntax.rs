//! The syntax of unit files, as systemd reads it: `[Section]` entries with continuation lines,
//! the words of `Environment=`, the `NAME=value` lines of an `EnvironmentFile=` (systemd's
//! own rules, not a shell's: an unquoted value keeps its spaces), and the specifiers.
//!
//! Kept apart from [`super`], which knows where units are and what they mean, so that each
//! reads as one set of rules.

/// `(section, key, value, line)` for each setting, with continuation lines joined.
pub(super) fn unit_entries(text: &str) -> Vec<(String, String, String, usize)> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut pending: Option<(String, String, usize)> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some((key, mut value, at)) = pending.take() {
            // Comment lines inside a continuation are skipped.
            if line.starts_with(['#', ';']) {
                pending = Some((key, value, at));
                continue;
            }
            match line.strip_suffix('\\') {
                Some(part) => {
                    value.push(' ');
                    value.push_str(part);
                    pending = Some((key, value, at));
                }
                None => {
                    value.push(' ');
                    value.push_str(line);
                    out.push((section.clone(), key, value, at));
                }
            }
            continue;
        }
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        let (key, value) = (key.trim().to_string(), value.trim_start().to_string());
        match value.strip_suffix('\\') {
            Some(part) => pending = Some((key, part.to_string(), index + 1)),
            None => out.push((section.clone(), key, value, index + 1)),
        }
    }
    if let Some((key, value, at)) = pending {
        out.push((section, key, value, at));
    }
    out
}

/// Splits a value into words the way systemd does for `Environment=`: whitespace separates,
/// double or single quotes group, a backslash escapes (with the C escapes `\n`, `\t`).
pub(super) fn split_words(value: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return words;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (quote, c) {
                (None, c) if c.is_whitespace() => break,
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (_, '\\') => match chars.next() {
                    Some('n') => word.push('\n'),
                    Some('t') => word.push('\t'),
                    Some(other) => word.push(other),
                    None => {}
                },
                (_, c) => word.push(c),
            }
        }
        words.push(word);
    }
}

pub(super) fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `NAME=value` lines of a systemd environment file: `#`/`;` comments, optional quotes
/// (backslash escapes inside double quotes), `\` continuing a line. Returns name, value and
/// 1-based line.
pub fn parse_env_file(text: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, raw)) = lines.next() {
        let mut line = raw.trim().to_string();
        while line.ends_with('\\') && !line.ends_with("\\\\") {
            line.pop();
            match lines.next() {
                Some((_, next)) => line.push_str(next.trim()),
                None => break,
            }
        }
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else { continue };
        let name = name.trim();
        if !is_variable_name(name) {
            continue;
        }
        let value = value.trim();
        let value = if let Some(inner) =
            value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).filter(|_| value.len() > 1)
        {
            let mut out = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    out.extend(chars.next());
                } else {
                    out.push(c);
                }
            }
            out
        } else if let Some(inner) =
            value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')).filter(|_| value.len() > 1)
        {
            inner.to_string()
        } else {
            value.to_string()
        };
        out.push((name.to_string(), value, index + 1));
    }
    out
}

/// What the specifiers of one unit expand to.
pub(super) struct Specifiers {
    pub(super) name: String,
    pub(super) instance: Option<String>,
    pub(super) user: bool,
    pub(super) home: Option<String>,
    pub(super) runtime: Option<String>,
    pub(super) config: Option<String>,
}

impl Specifiers {
    /// Expands `%%` and the specifiers that name paths and the unit; others stay as written.
    pub(super) fn expand(&self, text: &str) -> String {
        let prefix = self.name.split(['@', '.']).next().unwrap_or(&self.name).to_string();
        let without_type = self.name.rsplit_once('.').map_or(&*self.name, |(n, _)| n).to_string();
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let Some(spec) = chars.next() else {
                out.push('%');
                break;
            };
            let value = match spec {
                '%' => Some("%".to_string()),
                'n' => Some(self.name.clone()),
                'N' => Some(without_type.clone()),
                'p' => Some(prefix.clone()),
                'i' | 'I' => Some(self.instance.clone().unwrap_or_default()),
                'h' => self.home.clone(),
                't' => self.runtime.clone(),
                'E' => self.config.clone(),
                'S' if !self.user => Some("/var/lib".to_string()),
                'C' if !self.user => Some("/var/cache".to_string()),
                'L' if !self.user => Some("/var/log".to_string()),
                _ => None,
            };
            match value {
                Some(value) => out.push_str(&value),
                None => {
                    out.push('%');
                    out.push(spec);
                }
            }
        }
        out
    }
}
