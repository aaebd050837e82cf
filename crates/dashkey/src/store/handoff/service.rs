//! What a hand-off is: the [`Service`] the record keeps (its data lives in
//! [`crate::edit::record`]), how it is named and restarted, and why handing it the key can
//! fail ([`HandoffError`]). Both writers, [`super::systemd`] and [`super::supervisord`],
//! depend on this file and on nothing else of the hand-offs.

use std::path::PathBuf;

use crate::edit::fsx;
use crate::store::plan::PersistError;
use crate::world::supervisord;

pub use crate::edit::record::Service;

impl Service {
    /// A short human name (`systemd unit app.service`).
    pub fn describe(&self) -> String {
        match self {
            Service::Systemd { unit, user: true, .. } => format!("systemd user unit {unit}"),
            Service::Systemd { unit, .. } => format!("systemd unit {unit}"),
            Service::Supervisord { program, .. } => format!("supervisord program {program}"),
            Service::Cron { .. } => "crontab".to_string(),
        }
    }

    /// Whether two are the same place (one crontab, whatever was asked for it; one unit's
    /// drop-in, with or without `--credential`).
    pub fn same_place(&self, other: &Service) -> bool {
        match (self, other) {
            (Service::Cron { .. }, Service::Cron { .. }) => true,
            // One drop-in per unit, whether it hands over the environment or a credential.
            (
                Service::Systemd { unit, user, drop_in, .. },
                Service::Systemd {
                    unit: other_unit, user: other_user, drop_in: other_drop_in, ..
                },
            ) => unit == other_unit && user == other_user && drop_in == other_drop_in,
            _ => self == other,
        }
    }

    /// The command that makes the running service pick up a change.
    pub fn restart_command(&self) -> String {
        match self {
            Service::Systemd { unit, user: true, .. } => {
                format!("systemctl --user daemon-reload && systemctl --user restart {unit}")
            }
            Service::Systemd { unit, .. } => {
                format!("systemctl daemon-reload && systemctl restart {unit}")
            }
            Service::Supervisord { config, .. } => {
                format!(
                    "supervisorctl -c {} update",
                    crate::shell::quote_posix(&config.display().to_string())
                )
            }
            // cron reads a changed crontab before the next minute's jobs by itself.
            Service::Cron { .. } => String::new(),
        }
    }
}

/// Why a service cannot be handed the key.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    /// Not a unit name systemd accepts.
    #[error("'{0}' is not a valid systemd unit name")]
    BadUnit(String),
    /// System units need root (the unit).
    #[error("writing the files of the system unit {0} needs root")]
    NeedsRoot(String),
    /// No supervisord configuration was found (where dashkey looked).
    #[error("no supervisord configuration found (looked in {0})")]
    NoConfig(String),
    /// A file the plan changes cannot be written by this process: nothing was changed.
    #[error("cannot write {}: permission denied", path.display())]
    NotWritable {
        /// The file (where it really is, through links).
        path: PathBuf,
    },
    /// The program has no section.
    #[error("no [program:{program}] section in {config} or the files it includes")]
    NoProgram {
        /// The program.
        program: String,
        /// The main configuration.
        config: String,
    },
    /// An `environment=` value continued on the next line: dashkey does not guess.
    #[error("{0}: the program's environment= continues on the next line")]
    MultiLineEnvironment(String),
    /// The configuration cannot be read as its manager reads it.
    #[error(transparent)]
    Config(#[from] supervisord::SupervisorConfigError),
    /// Something else in the plan.
    #[error(transparent)]
    Persist(#[from] PersistError),
    /// A file operation.
    #[error(transparent)]
    Fs(#[from] fsx::FsError),
    /// The crontab cannot be read or written through `crontab`.
    #[error(transparent)]
    Crontab(#[from] crate::world::crontab::CrontabError),
    /// dashkey's block in the crontab holds a line dashkey did not write (shown, keys
    /// masked), or has no end, or there are two.
    #[error(
        "crontab line {line}: {}; edit it with `crontab -e` and run again",
        if text.is_empty() {
            "dashkey's block there is not whole (no end marker, or a second block)".to_string()
        } else {
            format!("`{text}` is inside dashkey's block but dashkey did not write it, so \
                     dashkey would drop it: move it out of the block")
        }
    )]
    CronBlock {
        /// 1-based line number in `crontab -l`.
        line: usize,
        /// The line, keys masked (empty: the block itself is broken).
        text: String,
    },
    /// A value cron cannot carry (a line break).
    #[error("{0} holds a line break, which a crontab cannot carry")]
    CronValue(String),
}
