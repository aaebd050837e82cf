//! `WSLENV`: the list of variables Windows hands to the WSL shells it starts. A variable in
//! `HKCU\Environment` alone stops at the WSL boundary, so a `bash` in WSL opened from the
//! Start menu or Windows Terminal lacks the key and the region the Windows side has.
//!
//! Each entry is `NAME` with flags: `/u` passes it from Windows into WSL only (not back, where
//! the Linux side has its own store), `/p` also translates a path (`C:\…` to `/mnt/c/…`), which
//! the key-file path needs and the URLs must not get. Entries are `:`-separated.
//!
//! Plain text in, text out, on every OS: the registry is only the [`super::SessionEnv`] that
//! stores the result, so this is unit-tested on Linux through `MemorySession`.

use crate::vars;

/// The variable itself.
pub const WSLENV: &str = "WSLENV";

/// dashkey's entry for a variable: paths translated, the rest as they are.
pub fn entry(name: &str) -> String {
    let flags = if name == vars::API_KEY_FILE_PATH { "/up" } else { "/u" };
    format!("{name}{flags}")
}

/// The name an entry passes (`NAME/flags` → `NAME`).
fn entry_name(entry: &str) -> &str {
    entry.split('/').next().unwrap_or(entry)
}

/// `WSLENV` with every one of `names` in it, and the entries that are dashkey's now.
///
/// A name the user already passes (with any flags) is left to the user's entry; dashkey's
/// entries from before (`ours`) whose variable is no longer written are taken out; the user's
/// entries keep their order and spelling. `None`: the variable is to be removed (empty).
pub fn merged(
    current: Option<&str>,
    names: &[&str],
    ours: &[String],
) -> (Option<String>, Vec<String>) {
    let mut entries: Vec<String> = split(current.unwrap_or(""))
        .into_iter()
        .filter(|e| !ours.contains(e) || names.contains(&entry_name(e)))
        .collect();
    let mut now_ours = Vec::new();
    for name in names {
        match entries.iter().find(|e| entry_name(e) == *name) {
            Some(existing) if ours.contains(existing) => now_ours.push(existing.clone()),
            Some(_) => {}
            None => {
                let added = entry(name);
                entries.push(added.clone());
                now_ours.push(added);
            }
        }
    }
    (join(&entries), now_ours)
}

/// `WSLENV` without dashkey's entries (`ours`, exactly as written); the user's stay as they are.
pub fn unmerged(current: &str, ours: &[String]) -> Option<String> {
    let entries: Vec<String> = split(current).into_iter().filter(|e| !ours.contains(e)).collect();
    join(&entries)
}

fn split(value: &str) -> Vec<String> {
    value.split(':').filter(|e| !e.is_empty()).map(str::to_string).collect()
}

fn join(entries: &[String]) -> Option<String> {
    (!entries.is_empty()).then(|| entries.join(":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 2] = [vars::API_KEY, vars::HTTP_BASE_URL];

    #[test]
    fn entries_are_added_after_the_users_once_and_taken_out_exactly() {
        let (value, ours) = merged(Some("USERPROFILE/p:GOPATH/l"), &NAMES, &[]);
        let value = value.unwrap();
        assert_eq!(value, "USERPROFILE/p:GOPATH/l:DASHSCOPE_API_KEY/u:DASHSCOPE_HTTP_BASE_URL/u");
        assert_eq!(ours, ["DASHSCOPE_API_KEY/u", "DASHSCOPE_HTTP_BASE_URL/u"]);
        // Again: no duplicate, the same entries are dashkey's.
        let (again, ours_again) = merged(Some(&value), &NAMES, &ours);
        assert_eq!(again.as_deref(), Some(value.as_str()));
        assert_eq!(ours_again, ours);
        assert_eq!(unmerged(&value, &ours).as_deref(), Some("USERPROFILE/p:GOPATH/l"));
    }

    #[test]
    fn a_name_the_user_passes_already_stays_the_users() {
        let (value, ours) = merged(Some("DASHSCOPE_API_KEY"), &NAMES, &[]);
        assert_eq!(value.as_deref(), Some("DASHSCOPE_API_KEY:DASHSCOPE_HTTP_BASE_URL/u"));
        assert_eq!(ours, ["DASHSCOPE_HTTP_BASE_URL/u"]);
        assert_eq!(
            unmerged(value.as_deref().unwrap(), &ours).as_deref(),
            Some("DASHSCOPE_API_KEY")
        );
    }

    #[test]
    fn nothing_before_means_nothing_after() {
        let (value, ours) = merged(None, &NAMES, &[]);
        assert_eq!(unmerged(value.as_deref().unwrap(), &ours), None);
    }

    #[test]
    fn a_variable_no_longer_written_loses_its_entry() {
        let ours = vec!["DASHSCOPE_API_KEY/u".to_string(), "OPENAI_API_KEY/u".to_string()];
        let (value, now) =
            merged(Some("A:DASHSCOPE_API_KEY/u:OPENAI_API_KEY/u"), &[vars::API_KEY], &ours);
        assert_eq!(value.as_deref(), Some("A:DASHSCOPE_API_KEY/u"));
        assert_eq!(now, ["DASHSCOPE_API_KEY/u"]);
    }

    #[test]
    fn only_the_key_file_path_is_translated() {
        assert_eq!(entry(vars::API_KEY_FILE_PATH), "DASHSCOPE_API_KEY_FILE_PATH/up");
        assert_eq!(entry(vars::HTTP_BASE_URL), "DASHSCOPE_HTTP_BASE_URL/u");
    }
}
