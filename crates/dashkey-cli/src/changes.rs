//! Showing a plan: a unified diff for `--dry-run`, one line per file once applied, and the
//! notes. Shared by `set`, `unset` and everything else that writes through a plan.

use dashkey::Platform;
use dashkey::edit::record::Role;
use dashkey::store::{Applied, NotRemovedReason, NotUpdated, Note, Plan};
use serde::Serialize;

use crate::output::{BOLD, DIM, OK, WARN, paint, show_path};

/// Masks the diff: every secret the plan knows about, then by shape (every value of a
/// secret-looking variable, in any syntax, and anything shaped like a key), so that no caller
/// can forget one and other people's secrets in the context lines are hidden too.
fn mask(plan: &Plan, text: &str) -> String {
    // Keys shaped like DashScope keys are masked by shape below, wherever they are; only the
    // odd ones need a search of their own (once each: a big startup file may repeat a key
    // thousands of times, and one search per copy would make a dry run quadratic).
    let mut secrets: Vec<_> = plan
        .secrets
        .iter()
        .filter(|k| k.len() >= 8)
        .filter(|k| {
            let whole = dashkey::mask::key_like_spans(k.expose(), false);
            !(whole.len() == 1 && whole[0] == (0..k.len()))
        })
        .collect();
    // Longest first, so a key that contains another is masked whole.
    secrets.sort_by_key(|k| std::cmp::Reverse(k.len()));
    secrets.dedup_by(|a, b| a.expose() == b.expose());
    let known =
        secrets.iter().fold(text.to_string(), |text, key| text.replace(key.expose(), &key.mask()));
    dashkey::mask::mask_secrets(&known)
}

/// The unified diff of every change, keys masked.
pub fn diff(platform: &Platform, plan: &Plan) -> String {
    let mut out = String::new();
    for change in plan.changes.iter().filter(|c| c.role != Role::Record) {
        let before = change.before.as_deref().map(|b| String::from_utf8_lossy(b).into_owned());
        let after = change.after.as_deref().map(|b| String::from_utf8_lossy(b).into_owned());
        let name = show_path(platform, &change.real_path);
        // An absolute path (outside home) keeps one slash: `a/etc/…`, not `a//etc/…`.
        let name = name.trim_start_matches('/');
        let old_name = if before.is_some() { format!("a/{name}") } else { "/dev/null".to_string() };
        let new_name = if after.is_some() { format!("b/{name}") } else { "/dev/null".to_string() };
        let before = before.unwrap_or_default();
        let after = after.unwrap_or_default();
        let text = similar::TextDiff::from_lines(&before, &after)
            .unified_diff()
            .context_radius(3)
            .header(&old_name, &new_name)
            .to_string();
        out.push_str(&text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    for change in &plan.session {
        match &change.after {
            Some(_) => out.push_str(&format!("session: set {}\n", change.name)),
            None => out.push_str(&format!("session: remove {}\n", change.name)),
        }
    }
    if let Some(change) = &plan.keyring {
        out.push_str(&format!(
            "keyring: {} the key's entry in {}\n",
            keyring_verb(change),
            change.entry.describe()
        ));
    }
    if let Some(change) = &plan.crontab {
        let before = change.before.as_deref().map_or("", String::as_str);
        let after = change.after.as_deref().map_or("", String::as_str);
        let old_name = if change.before.is_some() { "a/crontab" } else { "/dev/null" };
        let new_name = if change.after.is_some() { "b/crontab" } else { "/dev/null" };
        let text = similar::TextDiff::from_lines(before, after)
            .unified_diff()
            .context_radius(3)
            .header(old_name, new_name)
            .to_string();
        out.push_str(&text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    mask(plan, &out)
}

/// What a change does to a thing that was (`before`) or will be (`after`) there: `create`,
/// `update` or `remove`, and in the past tense for the lines of what was done.
fn verbs(before: bool, after: bool) -> (&'static str, &'static str) {
    match (before, after) {
        (_, false) => ("remove", "removed"),
        (false, true) => ("create", "created"),
        (true, true) => ("update", "updated"),
    }
}

fn keyring_verb(change: &dashkey::edit::keyring::KeyringChange) -> &'static str {
    verbs(change.before.is_some(), change.after.is_some()).1
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Owned => "dashkey's file",
        Role::SdkKeyFile => "SDK key file",
        Role::SdkConfig => "SDK configuration",
        Role::Hook => "startup file",
        Role::Desktop => "desktop session",
        Role::Backup => "backup",
        Role::Record => "record",
        Role::ServiceEnv => "service environment file",
        Role::ServiceConfig => "service configuration",
        Role::Profile => "profile",
    }
}

/// One line per changed file (the record is bookkeeping and not listed).
pub fn print_applied(platform: &Platform, plan: &Plan, applied: &Applied) {
    if let Some(change) = plan.keyring.as_ref().filter(|_| applied.keyring) {
        anstream::println!(
            "  {} {}  {}",
            paint(OK, format!("{:<8}", keyring_verb(change))),
            change.entry.describe(),
            paint(DIM, "keyring entry (the key itself)")
        );
    }
    for (path, real, role, removed) in &applied.files {
        if *role == Role::Record {
            continue;
        }
        let created = plan.changes.iter().any(|c| &c.path == path && c.before.is_none());
        let verb = match (removed, created) {
            (true, _) => "removed",
            (false, true) => "created",
            (false, false) => "updated",
        };
        let shown = if path == real {
            show_path(platform, path)
        } else {
            format!("{} → {}", show_path(platform, path), show_path(platform, real))
        };
        anstream::println!(
            "  {} {shown}  {}",
            paint(OK, format!("{verb:<8}")),
            paint(DIM, role_name(*role))
        );
    }
    for name in &applied.session {
        anstream::println!("  {} {name}  {}", paint(OK, "session "), paint(DIM, "desktop session"));
    }
    if let Some(change) = plan.crontab.as_ref().filter(|_| applied.crontab) {
        let verb = verbs(change.before.is_some(), change.after.is_some()).1;
        anstream::println!(
            "  {} crontab  {}",
            paint(OK, format!("{verb:<8}")),
            paint(DIM, "cron jobs")
        );
    }
}

/// The notes, as sentences with their fix.
pub fn print_notes(platform: &Platform, plan: &Plan) {
    print_note_list(platform, &plan.notes);
}

/// Notes that do not come with a plan (what taking the lock fixed or recovered).
pub fn print_note_list(platform: &Platform, notes: &[Note]) {
    for note in notes {
        let text = match note {
            Note::ReplacedSdkKey { old, new } => format!(
                "~/.dashscope/api_key held a different key (fingerprint {old}); it now holds this one ({new})"
            ),
            Note::KeptSdkKeyFile { path } => {
                format!("kept {}: it holds a key dashkey did not write", show_path(platform, path))
            }
            Note::Assignment { assignment: a, overrides_dashkey: true } => format!(
                "{}:{} sets {} itself and is read after dashkey's hook, so its value wins; \
                 remove it with `dashkey set --keep-key --migrate`",
                show_path(platform, &a.path),
                a.line,
                a.name
            ),
            Note::Assignment { assignment: a, overrides_dashkey: false } => format!(
                "{}:{} also sets {} (dashkey's value is read later and wins); \
                 `dashkey set --keep-key --migrate` removes it",
                show_path(platform, &a.path),
                a.line,
                a.name
            ),
            Note::Migrated { path, backup, lines } => format!(
                "removed line(s) {} from {} (original saved in {}, readable only by you)",
                line_ranges(lines),
                show_path(platform, path),
                show_path(platform, backup)
            ),
            Note::KeptBackup { path } => {
                let named =
                    |name| platform.dashkey_dir().is_some_and(|dir| *path == dir.join(name));
                let what = if named(dashkey::store::SDK_KEY_BACKUP) {
                    "the copy of the ~/.dashscope/api_key that was there before dashkey"
                } else if named(dashkey::store::SDK_CONFIG_BACKUP) {
                    "the copy of the ~/.dashscope/config.toml that was there before dashkey; \
                     the file was changed since, so it was not put back"
                } else {
                    "the backup from `set --migrate`"
                };
                format!(
                    "kept {}: {what} (it may hold your old key; delete it when done)",
                    show_path(platform, path)
                )
            }
            Note::ServiceUpdated { service, restart } => {
                format!("{service} sees the change once restarted: {restart}")
            }
            Note::ServiceNotUpdated { service, reason } => {
                let reason = match reason {
                    NotUpdated::NeedsRoot { install: true } => format!(
                        "its files need root: run `{} service install` for it again",
                        crate::sudo_dashkey()
                    ),
                    NotUpdated::NeedsRoot { install: false } => format!(
                        "its files need root: run `{} service uninstall` for it",
                        crate::sudo_dashkey()
                    ),
                    NotUpdated::Failed(error) => error.clone(),
                };
                format!("{service} was not changed: {reason}")
            }
            Note::CrlfStartupFile { path } => {
                let target = path.canonicalize().unwrap_or_else(|_| path.clone());
                let home = platform.home();
                format!(
                    "{} has Windows (CRLF) line endings: dashkey's block in it is LF, so that the \
                     shells reading it can parse it, but its own lines still end in a CR, which \
                     breaks `then`/`fi` and adds a CR to values. Convert it:  sed -i 's/\\r$//' {}",
                    show_path(platform, path),
                    dashkey::shell::path_expression(
                        dashkey::shell::Dialect::Posix,
                        &target,
                        home.as_deref()
                    )
                )
            }
            Note::NoStartupFile { shell } => {
                format!("{shell}: no startup file to hook here (is it installed?)")
            }
            Note::UntrustedRecord { problem } => format!(
                "{}: {}, so dashkey does not use it; `dashkey unset` finds dashkey's files \
                 without it, and `dashkey set` writes a new one",
                show_path(platform, &problem.path),
                problem.kind
            ),
            Note::IgnoredRecordEntry { path } => format!(
                "ignored {} listed in dashkey's record: dashkey never writes there",
                show_path(platform, path)
            ),
            Note::NotRemoved { path, reason } => {
                let why = match reason {
                    NotRemovedReason::Foreign => "it holds something dashkey did not write",
                    NotRemovedReason::Link => {
                        "it is a symbolic link, and dashkey never deletes through links"
                    }
                    NotRemovedReason::NotAFile => "it is not a regular file",
                };
                format!(
                    "kept {}: {why}; look at it and remove it yourself if it is not yours",
                    show_path(platform, path)
                )
            }
            Note::ReplacedSdkBaseUrl { path, old, backup } => format!(
                "{} set base_url = {old}, which dashkey did not write; it now holds the region's \
                 URL, and the file as it was is saved in {} (`dashkey unset` puts it back)",
                show_path(platform, path),
                show_path(platform, backup)
            ),
            Note::KeptSdkConfigChanges { path } => format!(
                "{} was changed since dashkey wrote it: only dashkey's base_url was taken out, \
                 your changes are kept",
                show_path(platform, path)
            ),
            Note::KeptSdkConfig { path } => format!(
                "kept {}: its base_url is not the one dashkey wrote (it was changed since), so it \
                 was left as it is",
                show_path(platform, path)
            ),
            Note::KeptSdkKeyBackup { path } => format!(
                "kept {}: the SDK key file dashkey replaced; ~/.dashscope/api_key holds another \
                 key now, so it was not put back (it may hold your old key; delete it when done)",
                show_path(platform, path)
            ),
            Note::MigratedNotRestored { path, backup } => format!(
                "{} changed since `set --migrate` removed lines from it, so your changes stay and \
                 the removed lines were not put back: they are in {}",
                show_path(platform, path),
                show_path(platform, backup)
            ),
            Note::MadePrivate { path, was } => format!(
                "{} was open to other users (mode {was:o}); dashkey made it private (0700)",
                show_path(platform, path)
            ),
            Note::Recovered(recovery) => recovery_text(platform, recovery),
        };
        // Replacing the old key is what a rotation is for: a plain line, not a warning.
        if matches!(note, Note::ReplacedSdkKey { .. }) {
            anstream::eprintln!("  {text}");
        } else {
            anstream::eprintln!("{} {text}", paint(WARN, "!"));
        }
    }
}

/// A sentence for what recovery did with a write a killed dashkey left half-done.
pub fn recovery_text(platform: &Platform, recovery: &dashkey::edit::fsx::Recovery) -> String {
    use dashkey::edit::fsx::Recovery;
    match recovery {
        Recovery::RestoredOld { path } => format!(
            "{} was left half-written by a dashkey that was stopped; its old content is back",
            show_path(platform, path)
        ),
        Recovery::KeptNew { path } | Recovery::Untouched { path } => format!(
            "{} was being written by a dashkey that was stopped; it is whole",
            show_path(platform, path)
        ),
        Recovery::Stuck { path, journal, reason } => format!(
            "could not finish the recovery of {} ({reason}); its old content is kept in {}",
            path.as_deref().map_or_else(|| "a file".to_string(), |p| show_path(platform, p)),
            show_path(platform, journal)
        ),
    }
}

/// The change list for `--json`.
#[derive(Serialize)]
pub struct ChangeReport {
    path: String,
    real_path: String,
    role: Role,
    action: &'static str,
}

/// Every file change of an applied or planned plan, for `--json`.
pub fn report(plan: &Plan) -> Vec<ChangeReport> {
    plan.changes
        .iter()
        .map(|c| ChangeReport {
            path: c.path.display().to_string(),
            real_path: c.real_path.display().to_string(),
            role: c.role,
            action: match (&c.before, &c.after) {
                (None, Some(_)) => "create",
                (Some(_), None) => "remove",
                _ => "update",
            },
        })
        .collect()
}

/// A heading line.
pub fn heading(text: impl std::fmt::Display) {
    anstream::println!("{}", paint(BOLD, text));
}

#[derive(Serialize)]
struct Report {
    dry_run: bool,
    changes: Vec<ChangeReport>,
    /// What happens to the crontab (`create`, `update`, `remove`), when anything does.
    #[serde(skip_serializing_if = "Option::is_none")]
    crontab: Option<&'static str>,
    /// What happens to the key's keyring entry, likewise.
    #[serde(skip_serializing_if = "Option::is_none")]
    keyring: Option<&'static str>,
}

/// The `--json` document of a command that writes through a plan.
pub fn print_report(plan: &Plan, dry_run: bool) -> anyhow::Result<()> {
    let crontab = plan.crontab.as_ref().map(|c| verbs(c.before.is_some(), c.after.is_some()).0);
    let keyring = plan.keyring.as_ref().map(|c| verbs(c.before.is_some(), c.after.is_some()).0);
    crate::output::print_json(&Report { dry_run, changes: report(plan), crontab, keyring })
}

/// `--dry-run`: the diff (or the JSON list) and the notes; nothing is written.
pub fn print_dry_run(platform: &Platform, plan: &Plan, json: bool) -> anyhow::Result<()> {
    if json {
        return print_report(plan, true);
    }
    anstream::print!("{}", diff(platform, plan));
    print_notes(platform, plan);
    anstream::eprintln!("{}", paint(DIM, "dry run: nothing was changed"));
    Ok(())
}

/// Line numbers as runs (`3, 7-9, 12`), so thousands of removed lines stay one short line.
fn line_ranges(lines: &[usize]) -> String {
    let mut sorted = lines.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut runs: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        while i + 1 < sorted.len() && sorted[i + 1] == sorted[i] + 1 {
            i += 1;
        }
        runs.push(if sorted[i] == start {
            start.to_string()
        } else {
            format!("{start}-{}", sorted[i])
        });
        i += 1;
    }
    runs.join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn line_numbers_are_shown_as_runs() {
        assert_eq!(super::line_ranges(&[12, 3, 7, 8, 9]), "3, 7-9, 12");
        assert_eq!(super::line_ranges(&(1..=20_000).collect::<Vec<_>>()), "1-20000");
        assert_eq!(super::line_ranges(&[]), "");
    }
}
