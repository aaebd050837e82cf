//! The value itself, and the files that hold it: the documentation's placeholder, quotes
//! (Windows `set X="..."`), spaces or a CR around the key, an empty variable that hides the key
//! file from the Python and Java SDKs, a `DASHSCOPE_API_KEY_FILE_PATH` with a `~` no SDK
//! expands, a key file other users can read, and one with several lines (Java reads only the
//! first). A wrong value is a `fail` where an SDK would send it, a `warn` where it only waits.

use std::path::Path;

use crate::key::{ApiKey, ValueProblem};
use crate::resolve::{Lookup, Sdk, Source};
use crate::store::{PlaceKind, PlaceProblem};
use crate::vars;

use super::{Context, Finding, Severity, id};

/// Where a value was found, for the wording of its fix.
enum Place<'a> {
    /// The `DASHSCOPE_API_KEY` variable.
    Variable,
    /// A key file.
    File(&'a str),
    /// A line of a startup file (`~/.bashrc:3`).
    Line(&'a str),
}

impl Context<'_> {
    pub(super) fn check_values(&self, out: &mut Vec<Finding>) {
        for copy in &self.copies {
            let Some(key) = copy.value() else { continue };
            let used = self.resolutions.iter().any(
                |r| matches!(&r.outcome, Lookup::Found { source, .. } if copy.is_source(source)),
            );
            let shown = copy.path.as_deref().map(|p| self.show(p));
            let place = match (&copy.kind, &shown) {
                (PlaceKind::Variable, _) => Place::Variable,
                (_, Some(shown)) => Place::File(shown),
                (_, None) => continue,
            };
            for problem in &copy.problems {
                if let PlaceProblem::Value(problem) = problem {
                    out.extend(value_finding(problem, key, &place, used));
                }
            }
        }
        for (path, assignment) in self.key_assignments() {
            let Some(key) = &assignment.value else { continue };
            let wins = self.sessions.iter().any(|&session| {
                let events = self.startup.events(session, vars::API_KEY);
                events.last().is_some_and(|event| event.location() == (path, assignment.line))
            });
            let label = format!("{}:{}", self.show(path), assignment.line);
            for problem in key.problems() {
                out.extend(value_finding(&problem, key, &Place::Line(&label), wins));
            }
        }
    }

    pub(super) fn check_key_files(&self, out: &mut Vec<Finding>) {
        let python_fails_on_path = matches!(
            self.resolution(Sdk::Python).outcome,
            Lookup::Failed { source: Source::FilePathVariable { .. }, .. }
        );
        let path_severity = if python_fails_on_path { Severity::Fail } else { Severity::Warn };
        for copy in &self.copies {
            let shown = copy.path.as_deref().map(|p| self.show(p)).unwrap_or_default();
            for problem in &copy.problems {
                let finding = match problem {
                    PlaceProblem::EmptyShadowsFiles => self.empty_variable(),
                    PlaceProblem::UnexpandedTilde => Finding::new(
                        id::KEY_FILE_PATH,
                        path_severity,
                        "DASHSCOPE_API_KEY_FILE_PATH starts with ~",
                    )
                    .detail(
                        "No SDK expands ~: the Python SDK fails with \"file not found\" (no \
                         fallback), the Java SDK silently falls back to ~/.dashscope/api_key.",
                    )
                    .fix("export DASHSCOPE_API_KEY_FILE_PATH=\"$HOME/...\"   (an absolute path)"),
                    PlaceProblem::MissingFile
                        if !copy.problems.contains(&PlaceProblem::UnexpandedTilde) =>
                    {
                        Finding::new(
                            id::KEY_FILE_PATH,
                            path_severity,
                            format!("DASHSCOPE_API_KEY_FILE_PATH names a missing file ({shown})"),
                        )
                        .detail(
                            "The Python SDK fails with \"file not found\" (no fallback); the \
                             Java SDK silently falls back to ~/.dashscope/api_key.",
                        )
                        .fix(
                            "unset DASHSCOPE_API_KEY_FILE_PATH   (or point it at the file that \
                             holds the key)",
                        )
                    }
                    PlaceProblem::ReadableByOthers { mode } => Finding::new(
                        id::KEY_FILE_PERMS,
                        Severity::Warn,
                        format!("other users can read {shown} (mode {mode:04o})"),
                    )
                    .detail(
                        "It holds the key; anyone with an account on this machine can copy it \
                         (dashscope auth login and save_api_key() create it with the default \
                         umask).",
                    )
                    .fix(format!("chmod 600 {shown}")),
                    PlaceProblem::SeveralLines => Finding::new(
                        id::KEY_FILE_LINES,
                        Severity::Warn,
                        format!("{shown} has several lines"),
                    )
                    .detail(
                        "The Java SDK reads only the first line; the Python SDK reads the whole \
                         file, so the two send different keys.",
                    )
                    .fix("keep only the key in it: dashkey set (rewrites it)"),
                    _ => continue,
                };
                out.push(finding);
            }
        }
    }

    /// `DASHSCOPE_API_KEY=""`: set, so Python and Java never read the key file.
    fn empty_variable(&self) -> Finding {
        let hidden = self
            .copies
            .iter()
            .filter(|c| matches!(c.kind, PlaceKind::FilePathVariable | PlaceKind::SdkKeyFile))
            .find(|c| c.value().is_some_and(|k| !k.is_empty()))
            .and_then(|c| c.path.as_deref())
            .map(|p: &Path| format!(" instead of reading {}", self.show(p)))
            .unwrap_or_default();
        Finding::new(id::EMPTY_SHADOWS_FILE, Severity::Fail, "DASHSCOPE_API_KEY is set but empty")
            .detail(format!(
                "The Python and Java SDKs count an empty variable as set and send an empty key \
                 (401){hidden}; the Node SDK reports it missing."
            ))
            .fix(
                "unset DASHSCOPE_API_KEY   (and remove the empty assignment where it comes \
                 from: a .env file, docker compose environment:, a startup file)",
            )
    }
}

/// The finding for one problem with a value found at `place`; `used` when an SDK would send
/// that very value.
fn value_finding(
    problem: &ValueProblem,
    key: &ApiKey,
    place: &Place<'_>,
    used: bool,
) -> Option<Finding> {
    let label = match place {
        Place::Variable => vars::API_KEY,
        Place::File(label) | Place::Line(label) => label,
    };
    let bad = if used { Severity::Fail } else { Severity::Warn };
    let (id, severity, title) = match problem {
        // Empty values have findings of their own (empty-shadows-file, sdk-disagree).
        ValueProblem::Empty => return None,
        ValueProblem::Placeholder => {
            (id::PLACEHOLDER, bad, format!("{label} is the documentation's placeholder, not a key"))
        }
        ValueProblem::Quoted => (id::QUOTED, bad, format!("quotes are part of the key in {label}")),
        ValueProblem::ByteOrderMark => {
            (id::WHITESPACE, bad, format!("the key in {label} starts with a byte-order mark (BOM)"))
        }
        ValueProblem::SurroundingWhitespace => {
            let cr = key.expose().contains('\r');
            let what = if cr { "a Windows line ending (CR)" } else { "spaces or line endings" };
            (id::WHITESPACE, bad, format!("the key in {label} has {what} around it"))
        }
        ValueProblem::UnexpandedVariable => {
            (id::UNEXPANDED_VARIABLE, bad, format!("{label} holds a variable name, not a key"))
        }
        ValueProblem::UnknownPrefix => (
            id::UNKNOWN_PREFIX,
            if used { Severity::Warn } else { Severity::Info },
            format!("the key in {label} does not start with sk-, sk-sp-, sk-ws- or st-"),
        ),
        ValueProblem::Malformed(_) => (id::MALFORMED, bad, format!("{label} cannot be a key")),
    };
    let consequence = if used {
        "An SDK sends this value as it is, and the service answers 401 Invalid API-key provided."
    } else {
        "No SDK uses this copy right now, but it is wrong."
    };
    let detail = match problem {
        ValueProblem::UnknownPrefix => {
            "Check that it is a Model Studio API key (API-KEY page), not another service's."
                .to_string()
        }
        other => format!("{} ({other}). {consequence}", key.mask()),
    };
    let fix = match (place, problem) {
        (Place::Variable, ValueProblem::Quoted) => {
            "set it without quotes (Windows: set DASHSCOPE_API_KEY=sk-... has no quotes; docker \
             --env-file keeps them literally), or store it cleanly: dashkey set"
                .to_string()
        }
        (Place::Variable, ValueProblem::SurroundingWhitespace | ValueProblem::ByteOrderMark) => {
            "set it without the spaces, CR or BOM (a file saved by a Windows editor?), or store \
             it cleanly: dashkey set"
                .to_string()
        }
        (Place::Variable, _) => {
            "store your real key: dashkey set (then open a new terminal)".to_string()
        }
        (Place::File(_), _) => "write just the key into the file: dashkey set".to_string(),
        (Place::Line(label), _) => {
            format!("fix {label}, or move the key out of it: dashkey set --migrate")
        }
    };
    Some(Finding::new(id, severity, title).detail(detail).fix(fix))
}
