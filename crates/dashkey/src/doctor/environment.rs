//! FAQ scenarios 1 and 2 seen from here: is the key in this environment, is it stored, are
//! the two the same key, do the stores agree with each other, and what does each SDK end up
//! using. A key set with `export` in one terminal, a terminal opened before the key was
//! rotated, and a key file rewritten by another tool all show up here first.

use crate::key::{ApiKey, ValueProblem};
use crate::region::Endpoint;
use crate::resolve::{Lookup, Resolution, Sdk, Source};
use crate::store::{KeyCopy, PlaceKind};
use crate::vars;

use super::{Context, Finding, Severity, id, utc};

impl Context<'_> {
    pub(super) fn check_persistence(&self, out: &mut Vec<Finding>) {
        if self.under_sudo() {
            // This environment came from another user's: their setup is checked without sudo.
            return;
        }
        let persisted = self.persisted_in();
        let env_key = self.env_key.as_ref().filter(|key| !key.is_empty());
        if let Some(manager) = self.service_manager() {
            // A service's environment is its manager's configuration, which persists; it
            // never reads startup files, so "open a new terminal" would be wrong advice.
            if let (Some(key), true) = (env_key, persisted.is_empty()) {
                out.push(
                    Finding::new(
                        id::TEMPORARY,
                        Severity::Info,
                        format!("DASHSCOPE_API_KEY comes from {manager}"),
                    )
                    .detail(format!(
                        "This runs under {manager}, whose configuration sets {}; it is stored \
                         there, not for the user's shells.",
                        Self::describe_key(key)
                    )),
                );
            }
            return self.check_stale_env(out);
        }
        match (env_key, persisted.is_empty()) {
            (Some(key), true) => {
                let in_sdk_file = self
                    .copy(PlaceKind::SdkKeyFile)
                    .and_then(KeyCopy::value)
                    .is_some_and(|file| file.fingerprint() == key.fingerprint());
                let (severity, also) = if in_sdk_file {
                    (
                        Severity::Warn,
                        " Only the SDK key file ~/.dashscope/api_key has it too, which the \
                         Python and Java SDKs read, but not the Node SDK or other tools.",
                    )
                } else {
                    (Severity::Fail, "")
                };
                out.push(
                    Finding::new(
                        id::TEMPORARY,
                        severity,
                        "DASHSCOPE_API_KEY is set only in this environment",
                    )
                    .detail(format!(
                        "The key {} is in this terminal's environment but stored nowhere, so new \
                         terminals, IDEs and services will not have it (FAQ scenario 1).{also}",
                        Self::describe_key(key)
                    ))
                    .fix("dashkey set --from-env"),
                );
            }
            (Some(_), false) => {}
            (None, false) if self.env_key.is_none() => {
                out.push(
                    Finding::new(
                        id::NOT_LOADED,
                        Severity::Warn,
                        "this environment has not loaded the stored key",
                    )
                    .detail(format!(
                        "The key is stored ({}), but DASHSCOPE_API_KEY is not set here: this \
                         terminal was opened before it was stored, or never reads that file, so \
                         programs started from it do not get the variable.",
                        persisted.join(", ")
                    ))
                    .fix(self.reload_fix()),
                );
            }
            _ => {}
        }
        self.check_stale_env(out);
    }

    fn check_stale_env(&self, out: &mut Vec<Finding>) {
        let Some(env_key) = self.env_key.as_ref().filter(|key| !key.is_empty()) else { return };
        let Some(expected) = &self.persisted_key else { return };
        let stored_by_dashkey = self.stored_key.is_some();
        let same = |a: &ApiKey, b: &ApiKey| a.expose().trim() == b.expose().trim();
        if !same(env_key, expected) {
            let from = if stored_by_dashkey {
                "dashkey stored".to_string()
            } else {
                "the startup files set".to_string()
            };
            let when = self.written_at.map(|t| format!(" at {}", utc(t))).unwrap_or_default();
            out.push(
                Finding::new(
                    id::STALE_ENV,
                    Severity::Fail,
                    "this environment holds a different key than the one stored",
                )
                .detail(format!(
                    "DASHSCOPE_API_KEY here is {}, but {from} {}{when}: this terminal (or \
                     whatever started this program) was opened before the key was changed.",
                    Self::describe_key(env_key),
                    Self::describe_key(expected),
                ))
                .fix(self.reload_fix()),
            );
            return;
        }
        let mut stale_urls = Vec::new();
        if let Some(stored) = &self.stored {
            for name in [vars::HTTP_BASE_URL, vars::WEBSOCKET_BASE_URL, vars::COMPATIBLE_BASE_URL] {
                if let Some(value) = stored.get(name)
                    && self.platform.var(name) != Some(value)
                {
                    stale_urls.push(name);
                }
            }
        }
        if stale_urls.is_empty() {
            out.push(
                Finding::new(
                    id::STALE_ENV,
                    Severity::Ok,
                    if stored_by_dashkey {
                        "this environment has the stored key"
                    } else {
                        "this environment has the key your startup files set"
                    },
                )
                .detail(format!("DASHSCOPE_API_KEY is {}.", Self::describe_key(env_key))),
            );
            return;
        }
        let region = self
            .stored
            .as_ref()
            .and_then(|s| s.get(vars::HTTP_BASE_URL))
            .and_then(|url| Endpoint::parse(url).ok())
            .and_then(|e| e.region.region_id().map(str::to_string))
            .unwrap_or_else(|| "another region".to_string());
        out.push(
            Finding::new(
                id::STALE_ENV,
                Severity::Warn,
                format!("this environment lacks the stored base URLs ({region})"),
            )
            .detail(format!(
                "The key here is the stored one, but {} here {} not what dashkey stored for \
                 {region}: the SDKs would send the key to the wrong region (401 Invalid \
                 API-key provided).",
                stale_urls.join(", "),
                if stale_urls.len() == 1 { "is" } else { "are" }
            ))
            .fix(self.reload_fix()),
        );
    }

    /// How this environment gets the stored values again: the load line for a terminal, a
    /// new configuration and a restart for a service.
    pub(super) fn reload_fix(&self) -> String {
        match self.service_manager() {
            Some(manager) => format!(
                "update the key in the configuration of {manager} (dashkey service install), \
                 then restart the service"
            ),
            None => format!("{}   (or open a new terminal)", self.load_line()),
        }
    }

    /// The service manager this process runs under, from the variables each sets in the
    /// environment of what it starts.
    pub(super) fn service_manager(&self) -> Option<&'static str> {
        if self.platform.var_non_empty("SUPERVISOR_ENABLED").is_some() {
            Some("supervisord")
        } else if self.platform.var_non_empty("INVOCATION_ID").is_some() {
            Some("a systemd unit")
        } else {
            None
        }
    }

    pub(super) fn check_stores(&self, out: &mut Vec<Finding>) {
        let Some(stored) = &self.stored_key else { return };
        for kind in [PlaceKind::SdkKeyFile, PlaceKind::JavaKeyFile, PlaceKind::DesktopSession] {
            let Some(copy) = self.copy(kind) else { continue };
            let (Some(value), Some(path)) = (copy.value(), &copy.path) else { continue };
            if value.is_empty() || value.fingerprint() == stored.fingerprint() {
                continue;
            }
            let who = match kind {
                PlaceKind::DesktopSession => {
                    "desktop apps and IDEs started after the next login get it"
                }
                _ => {
                    "the Python and Java SDKs use it in every program without DASHSCOPE_API_KEY \
                     (IDE run configurations, cron, services)"
                }
            };
            out.push(
                Finding::new(
                    id::STORES_DISAGREE,
                    Severity::Warn,
                    format!("{} holds another key than dashkey's file", self.show(path)),
                )
                .detail(format!(
                    "It holds {}, dashkey's file {}: {who}.",
                    Self::describe_key(value),
                    Self::describe_key(stored)
                ))
                .fix("store one key everywhere: printf '%s' \"$KEY\" | dashkey set --stdin"),
            );
        }
    }

    pub(super) fn check_sdks(&self, out: &mut Vec<Finding>) {
        let picks: Vec<(Sdk, Option<&ApiKey>)> =
            self.resolutions.iter().map(|r| (r.sdk, r.key().filter(|k| !k.is_empty()))).collect();
        let describe = |r: &Resolution| -> String {
            match &r.outcome {
                Lookup::Found { key, source } if !key.is_empty() => {
                    format!("{} from {}", Self::describe_key(key), self.describe_source(source))
                }
                Lookup::Found { source, .. } => {
                    format!("an empty key from {}", self.describe_source(source))
                }
                Lookup::Missing => match r.sdk {
                    Sdk::Node => "no key (it reads only DASHSCOPE_API_KEY)".to_string(),
                    _ => "no key".to_string(),
                },
                Lookup::Failed { source, failure } => {
                    format!("an error reading {} ({failure})", self.describe_source(source))
                }
            }
        };
        let all: Vec<String> = self
            .resolutions
            .iter()
            .map(|r| format!("{}: {}", r.sdk.name().trim_end_matches(" SDK"), describe(r)))
            .collect();
        let fix_missing =
            if self.env_key.is_none() && !self.persisted_in().is_empty() && !self.under_sudo() {
                self.reload_fix()
            } else if self.stored_key.is_none()
                && self.env_key.as_ref().is_some_and(|k| !k.is_empty())
            {
                "dashkey set --from-env".to_string()
            } else {
                "dashkey set".to_string()
            };
        if picks.iter().all(|(_, key)| key.is_none()) {
            out.push(
                Finding::new(id::NO_KEY, Severity::Fail, "no SDK finds a key here")
                    .detail(format!("{}.", all.join("; ")))
                    .fix(fix_missing),
            );
            return;
        }
        let mut fingerprints: Vec<Option<String>> =
            picks.iter().map(|(_, k)| k.map(ApiKey::fingerprint)).collect();
        fingerprints.dedup();
        if fingerprints.len() == 1 {
            let key = picks[0].1.expect("all found");
            // Agreeing on a value that is not a key (the placeholder, quotes) is no good news:
            // the value checks fail it, and this line must not say ✓ beside them.
            let problems: Vec<&'static str> = key
                .problems()
                .iter()
                .filter(|p| !matches!(p, ValueProblem::UnknownPrefix))
                .map(ValueProblem::id)
                .collect();
            let finding = if problems.is_empty() {
                Finding::new(
                    id::SDK_DISAGREE,
                    Severity::Ok,
                    format!("the Python, Java and Node SDKs all use {}", Self::describe_key(key)),
                )
            } else {
                Finding::new(
                    id::SDK_DISAGREE,
                    Severity::Info,
                    format!(
                        "the Python, Java and Node SDKs all read the same value, which is not a \
                         usable key ({})",
                        problems.join(", ")
                    ),
                )
            };
            out.push(finding.detail(format!("{}.", all.join("; "))));
            return;
        }
        let missing = picks.iter().any(|(_, k)| k.is_none());
        out.push(
            Finding::new(
                id::SDK_DISAGREE,
                Severity::Fail,
                if missing {
                    "not every SDK finds a key here"
                } else {
                    "the SDKs would use different keys"
                },
            )
            .detail(format!("{}.", all.join("; ")))
            .fix(if missing {
                fix_missing
            } else {
                "store one key everywhere: printf '%s' \"$KEY\" | dashkey set --stdin".to_string()
            }),
        );
    }

    fn describe_source(&self, source: &Source) -> String {
        match source.path() {
            Some(path) => self.show(path),
            None => source.to_string(),
        }
    }
}
