//! cron: the region's variables go into the user's crontab, in a marker block at its top so
//! that every job below gets them. No key unless asked (`--with-key`): the SDK key file
//! (`~/.dashscope/api_key`, found through the `HOME` cron sets) already gives the Python and
//! Java SDKs the key, and a crontab is a file users paste into bug reports.
//!
//! Pure text in and out: the crontab itself is read and written through the real `crontab`
//! ([`crate::world::crontab`], [`crate::edit::crontab`]). The user's lines stay byte for
//! byte: the block is put before them and taken out exactly, so a crontab comes back as it
//! was; one that did not exist before goes again (`crontab -r`).

use crate::key::is_secret_name;
use crate::store::plan::vars_static;

use super::service::HandoffError;

/// The first line of dashkey's block.
pub const BEGIN: &str = "# >>> dashkey: DashScope for cron jobs >>>";
/// The last line of dashkey's block.
pub const END: &str = "# <<< dashkey <<<";
/// The comment inside, saying how it goes away.
const HEADER: &str = "# Written by dashkey; remove with `dashkey service uninstall --cron`.";

/// dashkey's block for these variables: the key's variables only `with_key`.
///
/// # Errors
///
/// [`HandoffError::CronValue`] for a value cron cannot carry (a line break).
pub fn block(vars: &[(&str, &str)], with_key: bool) -> Result<String, HandoffError> {
    let mut out = format!("{BEGIN}\n{HEADER}\n");
    for (name, value) in vars {
        if is_secret_name(name) && !with_key {
            continue;
        }
        if value.contains(['\n', '\r']) {
            return Err(HandoffError::CronValue((*name).to_string()));
        }
        // cron strips one matching pair of quotes and nothing else: a value in double
        // quotes is taken as it is, whatever it holds.
        out.push_str(&format!("{name}=\"{value}\"\n"));
    }
    out.push_str(END);
    out.push('\n');
    Ok(out)
}

/// Whether a line inside the block is one dashkey writes.
fn ours(line: &str) -> bool {
    line == HEADER
        || line.split_once('=').is_some_and(|(name, value)| {
            vars_static(name).is_some()
                && value.len() >= 2
                && value.starts_with('"')
                && value.ends_with('"')
        })
}

/// The byte range of dashkey's block (its lines with their line ends), if there is one.
///
/// # Errors
///
/// [`HandoffError::CronBlock`] for a block without its end, a second block, or a line in
/// it that dashkey did not write (rewriting or removing the block would lose it).
fn find(text: &str) -> Result<Option<std::ops::Range<usize>>, HandoffError> {
    let mut offset = 0;
    let mut start: Option<(usize, usize)> = None;
    let mut found = None;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let line = raw.trim_end_matches(['\n', '\r']);
        let number = index + 1;
        match start {
            None if line == BEGIN => {
                if found.is_some() {
                    return Err(HandoffError::CronBlock { line: number, text: String::new() });
                }
                start = Some((offset, number));
            }
            Some((begin, _)) if line == END => {
                found = Some(begin..offset + raw.len());
                start = None;
            }
            Some(_) if !ours(line) => {
                return Err(HandoffError::CronBlock {
                    line: number,
                    text: crate::mask::mask_secrets(line),
                });
            }
            _ => {}
        }
        offset += raw.len();
    }
    if let Some((_, number)) = start {
        return Err(HandoffError::CronBlock { line: number, text: String::new() });
    }
    Ok(found)
}

/// The crontab with dashkey's block in it: replaced where it is, or put first.
///
/// # Errors
///
/// As [`find`].
pub fn with_block(current: Option<&str>, block: &str) -> Result<String, HandoffError> {
    let current = current.unwrap_or("");
    Ok(match find(current)? {
        Some(range) => format!("{}{block}{}", &current[..range.start], &current[range.end..]),
        None => format!("{block}{current}"),
    })
}

/// The crontab without dashkey's block, or `None` when it has none.
///
/// # Errors
///
/// As [`find`].
pub fn without_block(current: &str) -> Result<Option<String>, HandoffError> {
    Ok(find(current)?.map(|range| format!("{}{}", &current[..range.start], &current[range.end..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://dashscope-intl.aliyuncs.com/api/v1";
    const KEY: &str = "sk-0123456789abcdef0123456789abcdef";
    const VARS: [(&str, &str); 2] = [("DASHSCOPE_API_KEY", KEY), ("DASHSCOPE_HTTP_BASE_URL", URL)];

    #[test]
    fn the_key_is_left_out_unless_asked() {
        let without = block(&VARS, false).unwrap();
        assert!(!without.contains(KEY));
        assert!(without.contains(&format!("DASHSCOPE_HTTP_BASE_URL=\"{URL}\"\n")));
        assert!(block(&VARS, true).unwrap().contains(&format!("DASHSCOPE_API_KEY=\"{KEY}\"\n")));
    }

    #[test]
    fn the_users_lines_come_back_byte_for_byte() {
        let users = "MAILTO=me@example.com\n# nightly\r\n0 3 * * * /usr/bin/backup  --all\n";
        let block = block(&VARS, false).unwrap();
        let with = with_block(Some(users), &block).unwrap();
        assert!(with.starts_with(BEGIN));
        assert!(with.ends_with(users));
        // Rewritten in place, once.
        let other =
            super::block(&[("DASHSCOPE_HTTP_BASE_URL", "https://x/api/v1")], false).unwrap();
        let rewritten = with_block(Some(&with), &other).unwrap();
        assert_eq!(rewritten, format!("{other}{users}"));
        assert_eq!(without_block(&rewritten).unwrap().as_deref(), Some(users));
        assert_eq!(without_block(users).unwrap(), None);
        assert_eq!(without_block(&block).unwrap().as_deref(), Some(""));
    }

    #[test]
    fn a_line_the_user_put_in_the_block_is_refused_with_its_number() {
        let block = block(&VARS, false).unwrap();
        let edited = format!("A=1\n{}", block.replace(END, &format!("* * * * * job\n{END}")));
        let error = without_block(&edited).unwrap_err();
        assert!(matches!(error, HandoffError::CronBlock { line: 5, .. }), "{error}");
        assert!(error.to_string().contains("* * * * * job"), "{error}");
        let unclosed = format!("A=1\n{BEGIN}\n");
        assert!(matches!(
            with_block(Some(&unclosed), &block).unwrap_err(),
            HandoffError::CronBlock { line: 2, .. }
        ));
    }

    #[test]
    fn a_value_with_a_line_break_is_refused() {
        assert!(block(&[("DASHSCOPE_HTTP_BASE_URL", "a\nb")], false).is_err());
    }
}
