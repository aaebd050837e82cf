//! The keyring store (`set --store keyring`) as findings: a keyring this process cannot
//! reach (new shells get no key), and the launch contexts that run outside the user's
//! session and so can never reach it, whatever the matrix says about their files.

use crate::edit::record::KeyStore;
use crate::store::keyring;

use super::{Context, Finding, Severity, id};

impl Context<'_> {
    pub(super) fn check_keyring(&self, out: &mut Vec<Finding>) {
        if keyring::recorded_store(self.platform) != KeyStore::Keyring {
            return;
        }
        let place = keyring::place();
        match keyring::read(self.platform) {
            Err(error) => out.push(
                Finding::new(
                    id::KEYRING_UNREACHABLE,
                    Severity::Fail,
                    format!("{place}, which holds the key, cannot be reached: {error}"),
                )
                .detail("new shells load the key from it through `dashkey env`, and get none")
                .fix(keyring::FIX),
            ),
            Ok(_) => out.push(
                Finding::new(
                    id::KEYRING_CONTEXTS,
                    Severity::Warn,
                    format!(
                        "the key is in {place}: desktop apps, systemd services, cron jobs and \
                         sudo get it from no file"
                    ),
                )
                .detail(
                    "only shells run `dashkey env`; the rest read files (environment.d, the SDK \
                     key file), which hold no key with this store, and cron, system services \
                     and another user cannot reach your keyring at all",
                )
                .fix(
                    "dashkey set --keep-key --store file   (or give one program the key: \
                     dashkey service install)",
                ),
            ),
        }
    }
}
