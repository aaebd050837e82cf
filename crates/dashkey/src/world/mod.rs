//! Read-only views of the machine: what the process table, the shell startup files, the
//! service managers' configurations and sudo's policy say about the key, read the way the
//! program that owns each of them reads it.
//!
//! Everything here answers "what would happen", never changes anything: no module in this
//! group writes a file or imports a writer, so `status`, `doctor` and the planning half of
//! `set` can read the world freely, and the stores (which do write) depend on these readers,
//! never the other way round. Every read goes through [`read`], the one bounded,
//! non-blocking reader of user-controlled paths.
//!
//! | module | reads |
//! |---|---|
//! | [`read`] | any file: a cap per kind, never a FIFO or a device |
//! | [`procs`] | the process table: names, start times, initial environments |
//! | [`startup`] | which startup files each shell session reads, and which line wins |
//! | [`dotfiles`] | the key's assignments in startup files, outside dashkey's blocks |
//! | [`units`] | systemd unit files, drop-ins and `EnvironmentFile=`s |
//! | [`supervisord`] | supervisord's configuration and its includes |
//! | [`sudoers`] | the `Defaults` lines that decide what `sudo` keeps |
//! | [`crontab`] | the user's crontab (through `crontab -l`, bounded) and the variables cron gives jobs |

pub mod crontab;
pub mod dotfiles;
pub mod procs;
pub mod read;
pub mod startup;
pub mod sudoers;
pub mod supervisord;
pub mod units;

/// A place in a configuration file a reader read: every value a reader reports carries one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: std::path::PathBuf,
    /// 1-based line number.
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}
