//! The leaves every store writes through, depending on nothing above them.
//!
//! A store decides *what* a place should hold; these modules decide *how* a change reaches
//! the disk so that it can never leave a half-written secret or a half-edited dotfile
//! (what goes inside a startup file's marker block is edited by the pure
//! [`crate::shell::block`], which the readers in `world` use too):
//!
//! - [`fsx`]: atomic, link-safe writes of regular files, modes, journals, the lock;
//! - [`transaction`]: a [`transaction::Plan`] of file and session changes, applied all
//!   together or rolled back with every failure reported;
//! - [`session`]: the session variables (registry, launchd) a transaction may change;
//! - [`keyring`]: the key's entry in the OS keyring, the one secret kept outside files;
//! - [`crontab`]: the user's crontab, replaced through the real `crontab` program;
//! - [`lock`]: dashkey's lock and what taking it repairs;
//! - [`record`]: what dashkey wrote, a hint for `unset`, never an authority.

pub mod crontab;
pub mod fsx;
pub mod keyring;
pub mod lock;
pub mod record;
pub mod session;
pub mod transaction;
