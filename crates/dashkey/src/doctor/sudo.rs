//! FAQ scenario 4: `sudo python app.py` starts the program with a reset environment, so the
//! key the user's shell had is gone. When this runs under sudo (`SUDO_USER` is set), the
//! finding says why from sudo's own policy (`env_reset`, `env_keep`, when the policy can be
//! read), and whether `HOME` still points at the caller's home, where the SDKs would then read
//! and programs write.

use crate::resolve::Sdk;
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
            out.push(
                Finding::new(id::SUDO, Severity::Ok, "sudo kept DASHSCOPE_API_KEY")
                    .detail(format!("Running as {user} under sudo (from {invoker}) with the key.")),
            );
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
                .fix(
                    "sudo --preserve-env=DASHSCOPE_API_KEY <command>   \
                     (or: dashkey sudo -- <command>)",
                ),
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
                .fix(
                    "sudo -H --preserve-env=DASHSCOPE_API_KEY <command>   \
                     (-H sets HOME to the target user's)",
                ),
            );
        }
    }
}
