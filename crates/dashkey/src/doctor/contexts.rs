//! The reachability matrix as findings: each launch context where a program would get no
//! key, or would send it to another region than the key's, is one finding with its fix.
//!
//! This process is judged by the other checks (`base-url`, `no-key`, `sdk-disagree`); the
//! rows here are the places programs are started from. A row is `warn` where the user
//! demonstrably starts programs (their shells, a desktop session, a crontab with jobs) and
//! `info` elsewhere, so that a healthy server without a desktop raises no alarm. Every fix is
//! a command that changes the finding when run, or none: the cron and sudo rows name
//! `dashkey run` / `dashkey sudo` in their why, since the command they need is the user's.

use crate::reach::{ContextReach, Coverage, LaunchContext, Matrix, SurfaceReach};
use crate::region::Region;
use crate::vars;

use super::{Context, Finding, Severity, id};

impl Context<'_> {
    pub(super) fn check_contexts(
        &self,
        matrix: &Matrix,
        crontab_jobs: bool,
        out: &mut Vec<Finding>,
    ) {
        // Nothing kept for new programs is `temporary`'s and `no-key`'s finding; a service's
        // or sudo's environment is not the user's launch contexts.
        if self.persisted_key.is_none() || self.under_sudo() || self.service_manager().is_some() {
            return;
        }
        // With the keyring store, the desktop's and user services' files hold no key by design:
        // `keyring-contexts` says so with the fix that works (`--gui` would give them none).
        let keyring = crate::store::keyring::recorded_store(self.platform)
            == crate::edit::record::KeyStore::Keyring;
        for row in &matrix.contexts {
            if row.context == LaunchContext::ThisProcess || row.coverage == Coverage::NotHere {
                continue;
            }
            let keyless = row.keyless();
            let wrong = row.wrong_region();
            if keyless.is_empty() && wrong.is_empty() {
                continue;
            }
            let severity = if self.context_in_use(row.context, crontab_jobs) {
                Severity::Warn
            } else {
                Severity::Info
            };
            let label = row.context.label();
            let given = if row.given_by.is_empty() {
                "no file gives them any DashScope variable".to_string()
            } else {
                format!("their DashScope variables come from {}", row.given_by.join(", "))
            };
            let partial = match &row.coverage {
                Coverage::Partial(reason) => format!(" ({reason})"),
                _ => String::new(),
            };
            let by_keyring = keyring
                && matches!(row.context, LaunchContext::Desktop | LaunchContext::UserService);
            if !keyless.is_empty() && !by_keyring {
                let who = if keyless.len() == row.surfaces.len() {
                    "no SDK gets a key".to_string()
                } else {
                    format!(
                        "{} {} no key",
                        names(&keyless),
                        if keyless.len() == 1 { "gets" } else { "get" }
                    )
                };
                let mut finding =
                    Finding::new(id::CONTEXT_KEY, severity, format!("{label}: {who}")).detail(
                        format!(
                            "{} find no DASHSCOPE_API_KEY and no key file they read: {given}\
                         {partial}.{}",
                            capitalized(row.context.programs()),
                            self.context_hint(row.context)
                        ),
                    );
                if let Some(fix) = self.context_fix(row, true) {
                    finding = finding.fix(fix);
                }
                out.push(finding);
            }
            if !wrong.is_empty() {
                let key_region = matrix.key_region.as_deref().unwrap_or_default();
                let calls: Vec<String> = {
                    let mut regions: Vec<String> = wrong
                        .iter()
                        .map(|s| s.region.clone().unwrap_or_else(|| "a custom endpoint".into()))
                        .collect();
                    regions.dedup();
                    regions
                };
                let mut finding = Finding::new(
                    id::CONTEXT_REGION,
                    severity,
                    format!(
                        "{label}: {} {}, but the key works in {}",
                        if wrong.len() == row.surfaces.len() {
                            "every SDK calls".to_string()
                        } else {
                            format!(
                                "{} {}",
                                names(&wrong),
                                if wrong.len() == 1 { "calls" } else { "call" }
                            )
                        },
                        calls.join(", "),
                        region_name(key_region)
                    ),
                )
                .detail(format!(
                    "For {}, {given}{partial}; no {} there names the key's region, so those \
                     SDKs send the key to their default and get 401 Invalid API-key provided \
                     (FAQ scenario 5).{}",
                    row.context.programs(),
                    vars::HTTP_BASE_URL,
                    self.context_hint(row.context)
                ));
                let fix = match (&matrix.key_region, &matrix.stored_region) {
                    // Stored for another region than the one that accepted the key online.
                    (Some(key), stored)
                        if stored.as_ref() != Some(key) && self.stored_key.is_some() =>
                    {
                        Some(format!("dashkey region {key}"))
                    }
                    _ => self.context_fix(row, false),
                };
                if let Some(fix) = fix {
                    finding = finding.fix(fix);
                }
                out.push(finding);
            }
        }
    }

    /// Whether the user evidently starts programs from this context.
    fn context_in_use(&self, context: LaunchContext, crontab_jobs: bool) -> bool {
        match context {
            LaunchContext::LoginShell | LaunchContext::InteractiveShell => true,
            LaunchContext::Desktop | LaunchContext::UserService => {
                self.platform.os() != crate::platform::Os::Linux
                    || crate::store::desktop::linux_session_present(self.platform)
            }
            LaunchContext::Cron => crontab_jobs,
            LaunchContext::SshCommand | LaunchContext::Sudo | LaunchContext::ThisProcess => false,
        }
    }

    /// The command that makes this context get dashkey's stored variables, when dashkey has
    /// one: `set --keep-key` (the stored key again, no prompt, never through argv), or
    /// `set --from-env` when nothing is stored and the variable is here; for cron,
    /// the crontab hand-off (the region's variables, and with `--with-key` the key itself,
    /// which only the key finding asks for).
    fn context_fix(&self, row: &ContextReach, for_key: bool) -> Option<String> {
        let again = |flags: &str| {
            if self.stored_key.is_some() {
                Some(format!("dashkey set --keep-key{flags}"))
            } else if self.env_key.as_ref().is_some_and(|k| !k.is_empty()) {
                Some(format!("dashkey set --from-env{flags}"))
            } else {
                Some("dashkey set".to_string())
            }
        };
        if self.under_sudo() {
            return None;
        }
        match row.context {
            LaunchContext::LoginShell
            | LaunchContext::InteractiveShell
            | LaunchContext::SshCommand => {
                let literal = !self.key_assignments().is_empty();
                again(if literal { " --migrate" } else { "" })
            }
            LaunchContext::Desktop | LaunchContext::UserService => again(" --gui"),
            LaunchContext::Cron if self.stored_key.is_none() => again(""),
            LaunchContext::Cron if for_key => Some(
                "dashkey service install --cron --with-key   (puts the key itself in the crontab)"
                    .to_string(),
            ),
            LaunchContext::Cron => Some("dashkey service install --cron".to_string()),
            LaunchContext::Sudo | LaunchContext::ThisProcess => None,
        }
    }

    fn context_hint(&self, context: LaunchContext) -> &'static str {
        match context {
            LaunchContext::Cron => {
                " Or start each job line with dashkey run -- <command>, which gives it the stored \
                 key and base URLs."
            }
            LaunchContext::Sudo => {
                " dashkey sudo -- <command> keeps exactly the DashScope variables."
            }
            LaunchContext::SshCommand => {
                " sshd runs the login shell with -c: bash reads ~/.bashrc up to its \
                 non-interactive guard, zsh only ~/.zshenv."
            }
            _ => "",
        }
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

fn names(surfaces: &[&SurfaceReach]) -> String {
    surfaces.iter().map(|s| s.surface.label()).collect::<Vec<_>>().join(", ")
}

fn region_name(id: &str) -> String {
    Region::find(id).map_or_else(|| id.to_string(), |r| format!("{} ({id})", r.name))
}
