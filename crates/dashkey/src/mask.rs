//! Masking secrets in text that a person will read: diffs, error messages, anything quoted.
//!
//! Masking by a list of known keys is not enough: a diff shows the lines around a change, and
//! those lines hold other people's secrets too (`QWEN_API_KEY=…`, `AWS_SECRET_ACCESS_KEY=…`),
//! and a message may quote an argument nobody knew was a key. So [`mask_secrets`] masks by
//! shape, with no list at all:
//!
//! - the value of every variable whose name looks secret ([`is_secret_name`]: `*_KEY`,
//!   `*TOKEN*`, `*SECRET*`, `*PASSWORD*`, any case), in every syntax dashkey writes or shows:
//!   `export NAME=value`, `NAME=value` (env files, `Environment=` of systemd, supervisord's
//!   `environment=`), `set -gx NAME value` (fish), `setenv NAME value` (csh), `setx`,
//!   `NAME: value` (NUON, YAML), `"NAME": "value"` (JSON), `$env:NAME = 'value'` and
//!   `SetEnvironmentVariable('NAME', 'value')` (PowerShell), and a plist's
//!   `<key>NAME</key><string>value</string>`;
//! - anything shaped like a DashScope key ([`key_like_spans`]), wherever it is.
//!
//! The function is pure and total: it never fails and never grows a secret back.

use std::ops::Range;

use crate::ApiKey;
pub use crate::key::is_secret_name;

/// Prefixes of DashScope keys (`sk-sp-` and `sk-ws-` start with `sk-`).
const KEY_PREFIXES: [&str; 2] = ["sk-", "st-"];

/// Shortest body after the prefix that counts as a key: real keys have 32 characters or more,
/// and words such as `sk-learn` stay readable.
const MIN_KEY_BODY: usize = 16;

/// The byte ranges of everything in `text` shaped like a DashScope key: `sk-` or `st-`
/// (and `sk-sp-`, `sk-ws-`) followed by at least 16 letters and digits. With `anywhere`, the prefix may follow a letter
/// or digit (`xsk-…`, `-fsk-…`); without, it must start a word.
pub fn key_like_spans(text: &str, anywhere: bool) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i + 3 <= bytes.len() {
        let starts = KEY_PREFIXES.iter().any(|p| bytes[i..].starts_with(p.as_bytes()));
        let boundary = anywhere || i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if starts && boundary {
            // Real keys are letters and digits after the prefix (`sk-sp-` too), and a
            // workspace key `sk-ws-H.XXXXXXX.XXXX.<base64url>` adds dots, `_` and `-`; a
            // slash always ends the shape, so a path such as `/tmp/test-Ab12/null-device`
            // is never taken for one.
            let mut end = i + 3;
            let workspace = bytes[end..].starts_with(b"ws-");
            if workspace || bytes[end..].starts_with(b"sp-") {
                end += 3;
            }
            let body = |b: u8| b.is_ascii_alphanumeric() || (workspace && b"._-".contains(&b));
            while end < bytes.len() && body(bytes[end]) {
                end += 1;
            }
            // A sentence's full stop is not part of a workspace key.
            while end > i + 6 && bytes[end - 1] == b'.' {
                end -= 1;
            }
            if end - (i + 3) >= MIN_KEY_BODY {
                spans.push(i..end);
                i = end;
                continue;
            }
        }
        i += 1;
    }
    spans
}

/// Whether `text` holds something shaped like a DashScope key that looks random (it has a
/// digit), so that an argument such as `my-task-scheduler-service` is not mistaken for one.
pub fn contains_key(text: &str, anywhere: bool) -> bool {
    key_like_spans(text, anywhere)
        .into_iter()
        .any(|span| text[span].bytes().skip(3).any(|b| b.is_ascii_digit()))
}

/// `text` with every secret value and every key-shaped string replaced by its mask
/// (`sk-…a1b2`, `****`).
pub fn mask_secrets(text: &str) -> String {
    let mut spans = named_value_spans(text);
    spans.extend(key_like_spans(text, false));
    replace_spans(text, spans)
}

/// `text` with every range replaced by the mask of what it covers; overlapping ranges merge.
pub fn replace_spans(text: &str, mut spans: Vec<Range<usize>>) -> String {
    spans.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut i = 0;
    while i < spans.len() {
        let start = spans[i].start.max(at);
        let mut end = spans[i].end;
        while i + 1 < spans.len() && spans[i + 1].start < end {
            end = end.max(spans[i + 1].end);
            i += 1;
        }
        i += 1;
        if end <= start {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(&ApiKey::verbatim(&text[start..end]).mask());
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The ranges of the values assigned to secret-looking names.
fn named_value_spans(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_alphabetic() || b == b'_') || (i > 0 && is_ident_byte(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && (is_ident_byte(bytes[i]) || bytes[i] == b'-') {
            i += 1;
        }
        let name = &text[start..i];
        // A file name in a path (`~/.dashscope/api_key: …`) is not a variable.
        let in_path = start > 0 && matches!(bytes[start - 1], b'/' | b'\\' | b'.');
        if !in_path
            && is_secret_name(name)
            && let Some(span) = value_after(text, start, i)
        {
            i = span.end;
            spans.push(span);
        }
    }
    spans
}

/// The value assigned to the name at `start..end`, if the text assigns one there.
fn value_after(text: &str, start: usize, end: usize) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let mut j = end;
    let skip_blanks = |mut j: usize| {
        while j < bytes.len() && matches!(bytes[j], b' ' | b'\t') {
            j += 1;
        }
        j
    };
    // A plist: <key>NAME</key> (or launchctl's <string>NAME</string>) then <string>value</string>,
    // possibly on the next line of a diff.
    for close in ["</key>", "</string>"] {
        if text[j..].starts_with(close) {
            let mut k = j + close.len();
            while k < bytes.len() && bytes[k].is_ascii_whitespace() {
                k += 1;
            }
            // A diff line's marker.
            if k > 0 && bytes[k - 1] == b'\n' && k < bytes.len() && matches!(bytes[k], b'+' | b'-')
            {
                k = skip_blanks(k + 1);
            }
            let open = "<string>";
            if !text[k..].starts_with(open) {
                return None;
            }
            let from = k + open.len();
            let to = text[from..].find(['<', '\n']).map_or(text.len(), |n| from + n);
            return checked(text, from..to);
        }
    }
    // The quotes around a JSON key or a PowerShell argument.
    if j < bytes.len() && matches!(bytes[j], b'"' | b'\'') {
        j += 1;
    }
    let after_name = j;
    j = skip_blanks(j);
    let mut colon = false;
    match bytes.get(j) {
        Some(b'=') if bytes.get(j + 1) != Some(&b'=') => j += 1,
        Some(b':') if bytes.get(j + 1) != Some(&b':') => {
            colon = true;
            j += 1;
        }
        Some(b',') if after_name > end => j += 1,
        Some(_) if j > after_name && after_set_command(text, start) => {}
        _ => return None,
    }
    j = skip_blanks(j);
    let quote = match bytes.get(j) {
        Some(&q @ (b'"' | b'\'')) => {
            j += 1;
            Some(q)
        }
        _ => None,
    };
    let to = match quote {
        Some(q) => text[j..].find([q as char, '\n']).map_or(text.len(), |n| j + n),
        None => text[j..]
            .find(|c: char| c.is_whitespace() || "\"',;})<>`".contains(c))
            .map_or(text.len(), |n| j + n),
    };
    // `NAME: word` in a sentence is prose; an unquoted YAML or NUON value is a long token.
    if colon && quote.is_none() && to - j < MIN_KEY_BODY {
        return None;
    }
    checked(text, j..to)
}

/// Keeps a value worth masking: not empty, not a variable reference, not already masked.
fn checked(text: &str, span: Range<usize>) -> Option<Range<usize>> {
    let value = &text[span.clone()];
    let reference = value.starts_with('$') || value.starts_with('%');
    let masked = value.contains('…') || value.contains("****");
    (!value.is_empty() && !reference && !masked).then_some(span)
}

/// Whether the words before `start` on its line are a command that takes a name and a value
/// separated by blanks: fish's `set [-flags]`, csh's `setenv`, Windows' `setx`,
/// `launchctl setenv`.
fn after_set_command(text: &str, start: usize) -> bool {
    let line_start = text[..start].rfind('\n').map_or(0, |n| n + 1);
    let words: Vec<&str> = text[line_start..start].split_whitespace().collect();
    let mut words = words.iter().rev().skip_while(|w| w.starts_with('-'));
    matches!(words.next(), Some(&("set" | "setenv" | "setx")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-0123456789abcdef0123456789abcdef";

    fn masked(text: &str) -> String {
        let out = mask_secrets(text);
        assert!(!out.contains("0123456789abc"), "{text:?} gave {out:?}");
        out
    }

    #[test]
    fn secret_names() {
        for name in [
            "DASHSCOPE_API_KEY",
            "qwen_api_key",
            "OPENAI_API_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "GITHUB_TOKEN",
            "DB_PASSWORD",
            "api-key",
            "apikey",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["DASHSCOPE_BASE_URL", "DASHSCOPE_API_KEY_FILE_PATH", "KEYBOARD", "HOME"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn masks_every_syntax_of_an_assignment() {
        let value = "wJalrXUtnFEMI0K7MDENG0bPxRfiCYEXAMPLEKEY0123456789abc";
        for line in [
            format!("export QWEN_API_KEY={value}"),
            format!("export QWEN_API_KEY=\"{value}\""),
            format!("QWEN_API_KEY='{value}'"),
            format!("set -gx QWEN_API_KEY '{value}'"),
            format!("set -x QWEN_API_KEY {value}"),
            format!("setenv QWEN_API_KEY \"{value}\""),
            format!("setx QWEN_API_KEY {value}"),
            format!("Environment=QWEN_API_KEY={value}"),
            format!("Environment=\"QWEN_API_KEY={value}\" \"B=1\""),
            format!("environment=A=\"1\",QWEN_API_KEY=\"{value}\",B=\"2\""),
            format!("  QWEN_API_KEY: \"{value}\""),
            format!("{{\"QWEN_API_KEY\": \"{value}\"}}"),
            format!("$env:QWEN_API_KEY = '{value}'"),
            format!("[Environment]::SetEnvironmentVariable('QWEN_API_KEY', '{value}', 'User')"),
            format!("<key>QWEN_API_KEY</key><string>{value}</string>"),
            format!("+    <key>QWEN_API_KEY</key>\n+    <string>{value}</string>"),
            format!("aws_secret_access_key = {value}"),
        ] {
            let out = mask_secrets(&line);
            assert!(!out.contains("EXAMPLEKEY"), "{line:?} gave {out:?}");
            assert!(out.contains("QWEN_API_KEY") || out.contains("aws_secret"), "{out}");
        }
    }

    #[test]
    fn masks_key_shapes_anywhere_and_keeps_the_rest() {
        assert_eq!(masked(&format!("error: '{KEY}' found")), "error: 'sk-…cdef' found");
        assert_eq!(masked(&format!("see {KEY}.")), "see sk-…cdef.");
        masked(&format!("--region=sk-sp-{}", &KEY[3..]));
        masked(&format!("sk-ws-H.abcdefg.0123.{}", &KEY[3..]));
        let plain = "export DASHSCOPE_BASE_URL=https://x\n. ~/.config/dashkey/env.sh\nsk-learn task-0123456789abcdef0123";
        assert_eq!(mask_secrets(plain), plain);
        let reference = "export OPENAI_API_KEY=\"$DASHSCOPE_API_KEY\"";
        assert_eq!(mask_secrets(reference), reference);
        for prose in [
            "# the DASHSCOPE_API_KEY is read by every shell",
            "cannot read /home/a/.dashscope/api_key: Is a directory (os error 21)",
            "kept ~/.config/dashkey/api_key.before-dashkey: the backup",
            "DASHSCOPE_API_KEY: not set",
        ] {
            assert_eq!(mask_secrets(prose), prose);
        }
    }

    #[test]
    fn masking_twice_changes_nothing_more() {
        let once = mask_secrets(&format!("DASHSCOPE_API_KEY={KEY}"));
        assert_eq!(mask_secrets(&once), once);
    }

    #[test]
    fn argument_shapes() {
        assert!(contains_key(KEY, false));
        assert!(contains_key(&format!("DASHSCOPE_API_KEY={KEY}"), false));
        assert!(contains_key(&format!("-f{KEY}"), true));
        assert!(!contains_key(&format!("-f{KEY}"), false));
        assert!(!contains_key("my-task-scheduler-service", true));
        assert!(!contains_key("sk-abc", true));
    }

    proptest::proptest! {
        #[test]
        fn no_key_survives_in_any_context(
            before in "[ -~\n]{0,40}",
            body in "[a-f0-9]{32}",
            after in "[ -~\n]{0,40}",
            prefix in proptest::sample::select(vec!["sk-", "sk-sp-", "sk-ws-", "st-"]),
        ) {
            let key = format!("{prefix}{body}");
            let text = format!("{before} {key}\n{after}");
            let out = mask_secrets(&text);
            proptest::prop_assert!(!out.contains(&body[..24]), "{text:?} gave {out:?}");
        }

        #[test]
        fn named_values_never_survive(value in "[A-Za-z0-9/+]{20,40}", name in "[A-Z]{1,8}_(API_KEY|TOKEN|SECRET)") {
            for line in [format!("export {name}={value}"), format!("{name}=\"{value}\""), format!("\"{name}\": \"{value}\"")] {
                let out = mask_secrets(&line);
                proptest::prop_assert!(!out.contains(&value), "{line:?} gave {out:?}");
            }
        }
    }
}
