//! Exit statuses, as documented in `--help` and DESIGN.md, and the error type that carries one.

use std::process::ExitCode;

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
    /// The status of a command dashkey ran for the user (`run`, `sudo`), passed through.
    Child(u8),
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(match exit {
            Exit::Ok => 0,
            Exit::Problem => 1,
            Exit::Usage => 2,
            Exit::Io => 3,
            Exit::Child(code) => code,
        })
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
                | PersistError::PrivateDir(
                    dashkey::edit::fsx::PrivateDirError::Symlink { .. }
                    | dashkey::edit::fsx::PrivateDirError::NotADirectory { .. }
                    | dashkey::edit::fsx::PrivateDirError::ForeignOwner { .. },
                ),
            ) => Exit::Problem,
            Some(PersistError::UnknownRegion(_) | PersistError::Quote(_)) => Exit::Usage,
            _ => Exit::Io,
        };
        Failure { exit, error }
    }
}

pub type Outcome = Result<Exit, Failure>;
