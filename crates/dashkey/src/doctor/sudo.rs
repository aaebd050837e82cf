//! FAQ scenario 4: `sudo python app.py` starts the program with a reset environment, so the
//! key the user's shell had is gone. When this runs under sudo (`SUDO_USER` is set), the
//! finding says why from sudo's own policy (`env_reset`, `env_keep`, when the policy can be
//! read), and whether `HOME` still points at the caller's home, where the SDKs would then read
//! and programs write.
//!
//! The fixes keep every variable dashkey writes ([`DASHSCOPE_VARS`], the list `dashkey sudo`
//! keeps), not only the key: without the base URLs a key from outside Beijing calls Beijing.
//! Under sudo no fix says `dashkey set`, which refuses there (it would store the key in the
//! target user's home): the caller runs `dashkey sudo -- <command>` from their own shell.

use crate::resolve::Sdk;
use crate::store::DASHSCOPE_VARS;
use crate::vars;
use crate::world::sudoers::EnvPolicy;

use super::{Context, Finding, Severity, id};

impl Context<'_> {
    pub(super) fn check_sudo(&self, out: &mut Vec<Finding>) {
        let Some(invoker) = &self.sudo_user else { return };
        let user = self
            .platform
            .var_non_empty("USER")
            .or_else(|| self.platform.var_non_empty("LOGNAME"))
            .unwrap_or("the target user")
            .to_string();
        let has_key = self.env_key.as_ref().is_some_and(|key| !key.is_empty());
        if has_key {
            out.push(match self.sudo_region_lost() {
                Some((calls, stored)) => Finding::new(
                    id::SUDO,
                    Severity::Fail,
                    format!(
                        "sudo kept DASHSCOPE_API_KEY but not its region's URLs (running as \
                         {user}, from {invoker})"
                    ),
                )
                .detail(format!(
                    "{invoker}'s stored key is for {stored}, but the Python SDK here calls \
                     {calls}: the base URLs were not kept, so the key goes to another region, \
                     which answers 401 Invalid API-key provided (FAQ scenario 5)."
                ))
                .fix(format!(
                    "as {invoker}, without sudo: {} sudo{} -- <command>   (passes the stored key \
                     and its region's URLs; or sudo --preserve-env={} <command>)",
                    self.program(),
                    self.sudo_target(),
                    preserve_list()
                )),
                None => Finding::new(id::SUDO, Severity::Ok, "sudo kept DASHSCOPE_API_KEY")
                    .detail(format!("Running as {user} under sudo (from {invoker}) with the key.")),
            });
        } else {
            let sudoers = self.host.sudoers.display();
            let why = match EnvPolicy::read(&self.host.sudoers) {
                Ok(policy) if !policy.env_reset => format!(
                    "{sudoers} turns env_reset off, so sudo passes the environment on: the shell \
                     that ran sudo did not have the key either."
                ),
                Ok(policy) if policy.keeps(vars::API_KEY) => format!(
                    "{sudoers} keeps it (env_keep{}), so the shell that ran sudo did not have it \
                     either.",
                    if policy.qualified { ", for some users" } else { "" }
                ),
                Ok(_) => format!(
                    "sudo resets the environment (env_reset) and keeps only the variables in \
                     env_keep; {sudoers} does not list DASHSCOPE_API_KEY."
                ),
                Err(error) => format!(
                    "sudo resets the environment (env_reset, on by default) and keeps only the \
                     variables in env_keep (cannot read {sudoers}: {error})."
                ),
            };
            let python = self.resolution(Sdk::Python);
            let (severity, also) = match python.key().filter(|k| !k.is_empty()) {
                Some(_) => (
                    Severity::Warn,
                    format!(" Only the Python and Java SDKs still find {user}'s own key file."),
                ),
                None => (Severity::Fail, String::new()),
            };
            out.push(
                Finding::new(
                    id::SUDO,
                    severity,
                    format!("sudo dropped DASHSCOPE_API_KEY (running as {user}, from {invoker})"),
                )
                .detail(format!("{why}{also} (FAQ scenario 4)"))
                .fix(format!(
                    "as {invoker}, without sudo: {} sudo{} -- <command>   (passes the stored key \
                     and its region's URLs; or, from a shell that has them: sudo \
                     --preserve-env={} <command>)",
                    self.program(),
                    self.sudo_target(),
                    preserve_list()
                )),
            );
        }
        if let (Some(home), Some(account)) = (self.platform.home(), self.platform.account_home())
            && home != account
        {
            let (home, account) = (home.display(), account.display());
            out.push(
                Finding::new(
                    id::SUDO,
                    Severity::Warn,
                    format!("HOME is not {user}'s home under sudo"),
                )
                .detail(format!(
                    "HOME is {home} but {user}'s home is {account}: the Python SDK reads \
                     {home}/.dashscope/api_key, the Java SDK {account}/.dashscope/api_key, and \
                     files the program writes land in another user's home."
                ))
                .fix(format!(
                    "sudo -H --preserve-env={} <command>   (-H sets HOME to the target user's)",
                    preserve_list()
                )),
            );
        }
    }

    /// Under sudo with the key kept: the region this process's Python SDK calls and the one
    /// the invoking user stored, when they differ (`--preserve-env=DASHSCOPE_API_KEY` alone
    /// drops the base URLs). `None` when they agree or the invoker stored no region.
    fn sudo_region_lost(&self) -> Option<(String, String)> {
        let invoker = self.platform.sudo_invoker()?;
        let endpoints =
            crate::region::config::Config::load(&invoker).unwrap_or_default().endpoints();
        let stored = crate::store::load_stored(&invoker).ok().flatten()?;
        let stored_url = stored.get(vars::HTTP_BASE_URL)?;
        let stored_region = crate::resolve::region_of_native(stored_url, &endpoints)
            .unwrap_or_else(|| stored_url.to_string());
        let calls_url = &self.resolution(Sdk::Python).urls.http.url;
        if calls_url.trim_end_matches('/') == stored_url.trim_end_matches('/') {
            return None;
        }
        let calls = crate::resolve::region_of_native(calls_url, &endpoints)
            .unwrap_or_else(|| calls_url.clone());
        (calls != stored_region).then_some((calls, stored_region))
    }

    /// How a fix names dashkey: the running binary's absolute path when the caller gave it.
    pub(super) fn program(&self) -> String {
        match &self.options.program {
            Some(path) => crate::shell::word_posix(&path.display().to_string()),
            None => "dashkey".to_string(),
        }
    }

    /// ` -u USER` for the user sudo runs as, when that is not root (sudo's default).
    fn sudo_target(&self) -> String {
        match self.platform.var_non_empty("USER").or_else(|| self.platform.var_non_empty("LOGNAME"))
        {
            Some(user) if user != "root" => format!(" -u {}", crate::shell::word_posix(user)),
            _ => String::new(),
        }
    }

    /// Under sudo, a fix that says `dashkey set` becomes the one that works there: `set`
    /// refuses under sudo (it would write into the target user's home), so the caller keeps
    /// the key in their own account and hands it over with `dashkey sudo`.
    pub(super) fn no_set_under_sudo(&self, out: &mut [Finding]) {
        let Some(invoker) = &self.sudo_user else { return };
        let instead = format!(
            "as {invoker}, without sudo (set refuses to run under it): {} sudo{} -- <command>   \
             (passes {invoker}'s stored key and its region's URLs)",
            self.program(),
            self.sudo_target()
        );
        for finding in out.iter_mut() {
            if finding.fix.as_deref().is_some_and(|fix| fix.contains("dashkey set")) {
                finding.fix = Some(instead.clone());
            }
        }
    }
}

/// `--preserve-env=` for sudo: every DashScope variable dashkey writes.
fn preserve_list() -> String {
    DASHSCOPE_VARS.join(",")
}
