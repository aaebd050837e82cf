//! Per-project profiles seen from here: which profile a link file (`dashkey link`) or
//! `--profile` makes the one this directory should have, and a link that names a profile
//! that is not stored (harmless in the shells, which keep the profile in use, but `dashkey
//! run` refuses it and the user meant another key).

use crate::store::link::{Choice, ChoiceError, LINK_FILE, Why};

use super::{Context, Finding, Severity, id};

impl Context<'_> {
    pub(super) fn check_profile(&self, out: &mut Vec<Finding>) {
        let broken = |path: &std::path::Path, title: String, detail: String| {
            Finding::new(id::PROFILE_LINK, Severity::Warn, title)
                .detail(detail)
                .fix(self.unlink_fix(path))
        };
        match &self.profile {
            Ok(Choice { why: Why::InUse, .. }) => {}
            Ok(Choice { why: Why::Flag, name, profile: None }) => out.push(
                Finding::new(
                    id::PROFILE_LINK,
                    Severity::Fail,
                    format!("no profile '{name}' is stored"),
                )
                .detail("--profile names a profile dashkey does not store (`dashkey profiles`)."),
            ),
            Ok(Choice { why: Why::Link(path), name, profile: None }) => out.push(broken(
                path,
                format!(
                    "{} links this directory to '{name}', which is not stored",
                    self.show(path)
                ),
                format!(
                    "Shells here keep the profile in use and `dashkey run` refuses: store the \
                     profile (dashkey set --profile {name}) or remove the link."
                ),
            )),
            Ok(Choice { why, name, profile: Some(_) }) => {
                let how = match why {
                    Why::Link(path) => format!("the link {}", self.show(path)),
                    _ => "--profile".to_string(),
                };
                out.push(
                    Finding::new(
                        id::PROFILE_LINK,
                        Severity::Ok,
                        format!("this directory uses the profile '{name}'"),
                    )
                    .detail(format!(
                        "Chosen by {how}: the key here is checked against that profile's. \
                         Interactive bash, zsh and fish switch to it on cd; other programs get \
                         it through `dashkey run`."
                    )),
                );
            }
            Err(ChoiceError::BadLink { path, text }) => out.push(broken(
                path,
                format!("{} does not name a profile", self.show(path)),
                format!("It holds '{text}', which is not a profile name; shells here ignore it."),
            )),
            Err(ChoiceError::BadName(bad)) => out.push(
                Finding::new(id::PROFILE_LINK, Severity::Fail, bad.to_string())
                    .detail("--profile takes a stored profile's name (`dashkey profiles`)."),
            ),
            Err(ChoiceError::Persist(_)) => {}
        }
    }

    /// `dashkey unlink`, run where the link is.
    fn unlink_fix(&self, link: &std::path::Path) -> String {
        let program = "dashkey";
        match link.parent() {
            Some(dir) if dir == self.platform.cwd() => format!("{program} unlink"),
            Some(dir) => format!(
                "cd {} && {program} unlink",
                crate::shell::word_posix(&dir.display().to_string())
            ),
            None => format!("rm {LINK_FILE}"),
        }
    }

    /// The line that loads the profile chosen here into a shell, when a link or `--profile`
    /// chose one: `dashkey env` makes the same choice.
    pub(super) fn profile_load_line(&self) -> Option<String> {
        let choice = self.profile.as_ref().ok().filter(|c| c.profile.is_some())?;
        let program = "dashkey";
        match &choice.why {
            Why::InUse => None,
            Why::Link(_) => Some(format!("eval \"$({program} env)\"")),
            Why::Flag => Some(format!("eval \"$({program} env --profile {})\"", choice.name)),
        }
    }
}
