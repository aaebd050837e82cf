//! Exit statuses, as documented in `--help` and DESIGN.md, and the error type that carries one.

/// What the process tells its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything is fine.
    Ok,
    /// A problem was found, or the key was rejected.
    Problem,
    /// Bad usage or bad input; nothing was changed.
    Usage,
    /// An I/O failure (file, network, another program).
    Io,
    /// The person cancelled at a prompt (Ctrl-D); nothing was changed. 130, the status
    /// shells give a command stopped by Ctrl-C, so scripts treat both alike.
    Cancelled,
    /// The status of a command dashkey ran for the user (`run`, `sudo`), passed through.
    Child(u8),
}

impl From<Exit> for u8 {
    fn from(exit: Exit) -> u8 {
        match exit {
            Exit::Ok => 0,
            Exit::Problem => 1,
            Exit::Usage => 2,
            Exit::Io => 3,
            Exit::Cancelled => 130,
            Exit::Child(code) => code,
        }
    }
}

/// An error on its way to the user, with the exit status it deserves.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub error: anyhow::Error,
}

/// Refusals to edit a file that needs fixing by hand first are problems found (exit 1);
/// anything not classified otherwise is an I/O failure (exit 3): the safe default, because
/// it never claims that the user's key or input is wrong.
impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Failure {
        use dashkey::store::PersistError;
        let error = error.into();
        let exit = match error.downcast_ref::<PersistError>() {
            Some(
                PersistError::Block { .. }
                | PersistError::NotUtf8 { .. }
                | PersistError::ReadOnly { .. }
                | PersistError::ForeignOwnedFile { .. }
                | PersistError::ForeignLineInBlock { .. }
                | PersistError::InvalidToml { .. }
                | PersistError::PrivateDir(
                    dashkey::edit::fsx::PrivateDirError::Symlink { .. }
                    | dashkey::edit::fsx::PrivateDirError::NotADirectory { .. }
                    | dashkey::edit::fsx::PrivateDirError::ForeignOwner { .. },
                ),
            ) => Exit::Problem,
            Some(
                PersistError::Quote(_)
                | PersistError::UnknownProfile { .. }
                | PersistError::ProfileInUse { .. }
                | PersistError::KeyringWithProfiles
                | PersistError::ProfileWithKeyring,
            ) => Exit::Usage,
            _ => Exit::Io,
        };
        Failure { exit, error: sentence(error) }
    }
}

/// The library's errors carry data (the file, the unit); the commands and flags that get
/// past them are the binary's, added here.
pub fn sentence(error: anyhow::Error) -> anyhow::Error {
    use dashkey::store::PersistError;
    use dashkey::store::handoff::HandoffError;
    let text = match (error.downcast_ref::<PersistError>(), error.downcast_ref::<HandoffError>()) {
        (Some(persist), _) => persist_sentence(persist),
        (None, Some(HandoffError::Persist(persist))) => persist_sentence(persist),
        (None, Some(HandoffError::NeedsRoot(unit))) => Some(format!(
            "writing a system unit's files needs root: run `{} service install --systemd {unit}` \
             (dashkey reads the key of the user who ran sudo), or use --user for a user unit",
            crate::sudo_dashkey()
        )),
        (None, Some(HandoffError::NoConfig(looked))) => Some(format!(
            "no supervisord configuration found (looked in {looked}); give it with -c"
        )),
        (None, Some(HandoffError::NotWritable { path })) => Some(format!(
            "cannot write {}: permission denied; nothing was changed (run with sudo?)",
            path.display()
        )),
        _ => None,
    };
    match (text, advice(&error)) {
        (Some(text), _) => anyhow::anyhow!(text),
        (None, Some(advice)) => anyhow::anyhow!("{error}{advice}"),
        (None, None) => error,
    }
}

/// What to do about a file or directory dashkey refuses to touch: the library says what is
/// wrong with it, the binary how to get past it.
fn advice(error: &anyhow::Error) -> Option<&'static str> {
    use dashkey::edit::fsx::{LinkRefused, PrivateDirError};
    use dashkey::shell::block::BlockError;
    use dashkey::store::PersistError;
    use dashkey::store::handoff::HandoffError;
    let dir = |error: &PrivateDirError| match error {
        PrivateDirError::Symlink { .. } => Some(": remove the link and run dashkey again"),
        PrivateDirError::NotADirectory { .. } => Some(": move it away and run dashkey again"),
        PrivateDirError::ForeignOwner { .. } => {
            Some(": remove it (or `chown` it to yourself) and run dashkey again")
        }
        PrivateDirError::Fs(_) => None,
    };
    error.chain().find_map(|cause| {
        let persist = cause.downcast_ref::<PersistError>().or(match cause.downcast_ref() {
            Some(HandoffError::Persist(persist)) => Some(persist),
            _ => None,
        });
        match persist {
            Some(PersistError::ForeignOwnedFile { .. }) => {
                return Some("; move it away and run dashkey again");
            }
            Some(PersistError::ForeignLineInBlock { .. }) => {
                return Some("; move it above or below the block, then run dashkey again");
            }
            Some(PersistError::InvalidToml { .. }) => {
                return Some("; fix that line (or move the file away) and run dashkey again");
            }
            Some(PersistError::PrivateDir(error)) => return dir(error),
            _ => {}
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.get_ref().is_some_and(|inner| inner.is::<LinkRefused>())
        {
            return Some(": remove the link and run dashkey again");
        }
        if let Some(HandoffError::MultiLineEnvironment(_)) = cause.downcast_ref() {
            return Some("; put it on one line, then run dashkey again");
        }
        if let Some(error) = cause.downcast_ref::<PrivateDirError>() {
            return dir(error);
        }
        match cause.downcast_ref::<BlockError>()? {
            BlockError::Duplicated { .. } => {
                Some(": remove the extra copies by hand, then run dashkey again")
            }
            BlockError::Unbalanced { .. } => {
                Some(": restore or remove both marker lines by hand, then run dashkey again")
            }
        }
    })
}

fn persist_sentence(error: &dashkey::store::PersistError) -> Option<String> {
    use dashkey::store::PersistError;
    match error {
        PersistError::NotUtf8 { path, hint } => Some(format!(
            "{} is not UTF-8 text, so dashkey will not edit it; skip it with --shell or \
             --no-modify-rc, or add the line yourself: {hint}",
            path.display()
        )),
        // A new shell prints this at every start while the keyring is away: keep it to lines a
        // terminal does not wrap (the fix is long, so it goes on two indented lines of its own).
        PersistError::Keyring(_) => Some(format!(
            "{error};\n  {}",
            dashkey::store::keyring::FIX.replacen(", or ", ",\n  or ", 1)
        )),
        PersistError::KeyringWithProfiles => Some(format!(
            "{error}: the keyring holds the key of the default profile only; remove the others \
             first (`dashkey profiles` lists them, `dashkey unset --profile NAME` removes one) \
             or keep the file store"
        )),
        PersistError::ProfileWithKeyring => Some(format!(
            "{error}: the keyring holds the key of the default profile only, so no other \
             profile can be stored beside it; to keep several keys, move the key back to files \
             first (dashkey set --store file --keep-key), then store the profile"
        )),
        PersistError::ReadOnly { path } => Some(format!(
            "{} is read-only, so dashkey will not edit it; make it writable (chmod u+w) or skip it \
             with --shell or --no-modify-rc",
            path.display()
        )),
        _ => None,
    }
}

pub type Outcome = Result<Exit, Failure>;

#[cfg(test)]
mod tests {
    use super::*;
    use dashkey::edit::fsx::PrivateDirError;
    use dashkey::shell::block::BlockError;
    use dashkey::store::PersistError;
    use std::path::PathBuf;

    fn said(error: PersistError) -> String {
        Failure::from(error).error.to_string()
    }

    #[test]
    fn refusals_keep_their_advice_in_the_binary() {
        let path = PathBuf::from("/h/.bashrc");
        let block = said(PersistError::Block {
            path: path.clone(),
            source: BlockError::Duplicated { lines: vec![3, 9] },
        });
        assert_eq!(
            block,
            "/h/.bashrc: dashkey's markers appear more than once (lines 3, 9): remove the extra \
             copies by hand, then run dashkey again"
        );
        let foreign = said(PersistError::ForeignOwnedFile { path: path.clone(), line: 2 });
        assert!(foreign.ends_with("(line 2); move it away and run dashkey again"), "{foreign}");
        let line = said(PersistError::ForeignLineInBlock { path: path.clone(), line: 4 });
        assert!(
            line.ends_with("drop it; move it above or below the block, then run dashkey again")
        );
        let link = said(PersistError::Fs(dashkey::edit::fsx::FsError::new(
            "write",
            &path,
            std::io::Error::other(dashkey::edit::fsx::LinkRefused),
        )));
        assert!(link.ends_with("own places: remove the link and run dashkey again"), "{link}");
        let dir = said(PersistError::PrivateDir(PrivateDirError::NotADirectory { path }));
        assert_eq!(dir, "/h/.bashrc is not a directory: move it away and run dashkey again");
    }
}
