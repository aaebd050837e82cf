//! The reachability matrix: for each place a program can be started from, does it get the
//! key, and does each SDK surface in it call the region the key works in?
//!
//! "A key is found" is not the promise; "the call works" is. A program started by a login
//! shell, a terminal window, `ssh host cmd`, the desktop (and the IDEs it starts), a systemd
//! user service, cron or `sudo` each gets its environment from other files, and the SDK
//! surfaces read different names from it: the 1.x Python surface takes its region only from
//! `DASHSCOPE_HTTP_BASE_URL`, `dashscope.Client()` also from `~/.dashscope/config.toml`, Java
//! and Node only from the variables. So a Singapore key can work in a terminal and, in the
//! same user's cron job, reach Beijing and answer 401.
//!
//! Nothing here runs the programs. Each context's environment is rebuilt from the files that
//! give it (the startup replay of `world::startup`, environment.d, the crontab, sudo's
//! policy, dashkey's stores), put in a simulated [`Platform`] with the user's home, and the
//! official lookups of [`crate::resolve`] are replayed against it: the answer for cron is the
//! answer for "this process" computed on cron's environment, by the same code.
//!
//! The region a surface should call is the one dashkey knows the key works in: the stored
//! region (dashkey found or was told it), or the one an online check found. With neither,
//! the region column says "unknown" and no verdict is given on it.

mod contexts;
mod crontab;

use std::path::PathBuf;

use crate::platform::{Os, Platform};
use crate::region::RegionEndpoint;
use crate::resolve::{self, ClientUrl, Lookup, Source};
use crate::vars;

pub use contexts::environment_d_vars;
pub use crontab::{crontab_applies, read_crontab, variables as crontab_variables};

/// A place programs are started from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LaunchContext {
    /// The process dashkey runs in (and what it starts).
    ThisProcess,
    /// A login shell (ssh with a terminal, `bash -l`, a macOS Terminal window).
    LoginShell,
    /// An interactive shell that is not a login shell (a Linux terminal window).
    InteractiveShell,
    /// `ssh host command`: a non-interactive shell started by sshd.
    SshCommand,
    /// Apps started from the desktop (launcher, dock, Start menu), IDEs among them.
    Desktop,
    /// A systemd user service.
    UserService,
    /// A cron job of this user.
    Cron,
    /// `sudo command` from this user's terminal.
    Sudo,
}

impl LaunchContext {
    /// Every context, in report order.
    pub const ALL: [LaunchContext; 8] = [
        LaunchContext::ThisProcess,
        LaunchContext::LoginShell,
        LaunchContext::InteractiveShell,
        LaunchContext::SshCommand,
        LaunchContext::Desktop,
        LaunchContext::UserService,
        LaunchContext::Cron,
        LaunchContext::Sudo,
    ];

    /// The stable id (`login-shell`).
    pub fn id(self) -> &'static str {
        match self {
            LaunchContext::ThisProcess => "this-process",
            LaunchContext::LoginShell => "login-shell",
            LaunchContext::InteractiveShell => "interactive-shell",
            LaunchContext::SshCommand => "ssh-command",
            LaunchContext::Desktop => "desktop",
            LaunchContext::UserService => "user-service",
            LaunchContext::Cron => "cron",
            LaunchContext::Sudo => "sudo",
        }
    }

    /// How a sentence names the programs of this context ("programs started from a login
    /// shell").
    pub fn programs(self) -> &'static str {
        match self {
            LaunchContext::ThisProcess => "this process",
            LaunchContext::LoginShell => "programs started from a login shell",
            LaunchContext::InteractiveShell => "programs started from a terminal window",
            LaunchContext::SshCommand => "commands run as ssh host cmd",
            LaunchContext::Desktop => "apps started from the desktop (IDEs among them)",
            LaunchContext::UserService => "systemd user services",
            LaunchContext::Cron => "cron jobs",
            LaunchContext::Sudo => "commands run with sudo",
        }
    }

    /// A short label for reports.
    pub fn label(self) -> &'static str {
        match self {
            LaunchContext::ThisProcess => "this process",
            LaunchContext::LoginShell => "login shell",
            LaunchContext::InteractiveShell => "terminal window",
            LaunchContext::SshCommand => "ssh host cmd",
            LaunchContext::Desktop => "desktop apps, IDEs",
            LaunchContext::UserService => "systemd user service",
            LaunchContext::Cron => "cron job",
            LaunchContext::Sudo => "sudo cmd",
        }
    }
}

/// One way a program talks to DashScope, each with its own lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Surface {
    /// The Python SDK's 1.x calls (`Generation.call`…; LangChain, LlamaIndex use these).
    #[serde(rename = "python-1x")]
    Python1,
    /// The Python SDK's 2.0 `dashscope.Client()`.
    #[serde(rename = "python-client")]
    Python2,
    /// The Java SDK.
    #[serde(rename = "java")]
    Java,
    /// The Node SDK.
    #[serde(rename = "node")]
    Node,
}

impl Surface {
    /// Every surface, in report order.
    pub const ALL: [Surface; 4] =
        [Surface::Python1, Surface::Python2, Surface::Java, Surface::Node];

    /// The stable id (`python-1x`).
    pub fn id(self) -> &'static str {
        match self {
            Surface::Python1 => "python-1x",
            Surface::Python2 => "python-client",
            Surface::Java => "java",
            Surface::Node => "node",
        }
    }

    /// A short label (`Python 1.x`).
    pub fn label(self) -> &'static str {
        match self {
            Surface::Python1 => "Python 1.x",
            Surface::Python2 => "Python Client()",
            Surface::Java => "Java",
            Surface::Node => "Node",
        }
    }
}

/// Where dashkey learned the key's region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegionKnown {
    /// The region dashkey stored (`set` found it online or was told it).
    Stored,
    /// The region an online check found accepting the key.
    Probed,
}

/// What one surface gets in one context.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SurfaceReach {
    /// Which surface.
    pub surface: Surface,
    /// Where its key comes from; `None` when it finds none (or an empty one).
    pub key_from: Option<Source>,
    /// The native base URL it calls; `None` when it fails before calling.
    pub url: Option<String>,
    /// The region that URL is; `None` for a host that names none.
    pub region: Option<String>,
    /// Whether that is the key's region; `None` when the key's region is not known.
    pub region_ok: Option<bool>,
    /// The fingerprint of the key it gets (the 1.x surface only: the others get the same
    /// variable or file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

impl SurfaceReach {
    /// The surface gets a key.
    pub fn key_ok(&self) -> bool {
        self.key_from.is_some()
    }
}

/// Whether a context exists on this platform, and how sure the answer is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "kebab-case")]
pub enum Coverage {
    /// Computed from the files.
    Computed,
    /// Computed, but part of its input could not be read (the reason says which).
    Partial(String),
    /// This platform has no such context.
    NotHere,
}

/// One row of the matrix.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ContextReach {
    /// Which context.
    pub context: LaunchContext,
    /// How it was computed.
    pub coverage: Coverage,
    /// The files that give this context its DashScope variables, in the order they apply
    /// (`~/.bashrc → ~/.config/dashkey/env.sh`); empty when none does.
    pub given_by: Vec<String>,
    /// Each surface.
    pub surfaces: Vec<SurfaceReach>,
    /// The keys a program started here gets, by fingerprint: the one the Python SDK finds,
    /// and a Coding Plan key in `BAILIAN_CODING_PLAN_API_KEY` (what `profiles` matches to
    /// the stored profiles).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub holds: Vec<Held>,
}

/// A key one context holds, by fingerprint (never the key).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Held {
    /// `DASHSCOPE_API_KEY` (as the Python SDK finds it, variable or key file) or
    /// `BAILIAN_CODING_PLAN_API_KEY`.
    pub variable: &'static str,
    /// The key's fingerprint.
    pub fingerprint: String,
}

/// The keys a process with this environment gets (the Python SDK's from its surface).
fn holds(platform: &Platform, surfaces: &[SurfaceReach]) -> Vec<Held> {
    let mut out = Vec::new();
    let python = surfaces.iter().find(|s| s.surface == Surface::Python1);
    if let Some(fingerprint) = python.and_then(|s| s.fingerprint.clone()) {
        out.push(Held { variable: vars::API_KEY, fingerprint });
    }
    if let Some(coding) = platform.var_non_empty(vars::CODING_PLAN_API_KEY) {
        let fingerprint = crate::ApiKey::verbatim(coding).fingerprint();
        out.push(Held { variable: vars::CODING_PLAN_API_KEY, fingerprint });
    }
    out
}

impl ContextReach {
    /// Every surface gets a key.
    pub fn key_ok(&self) -> bool {
        self.surfaces.iter().all(SurfaceReach::key_ok)
    }

    /// The surfaces that get a key but call another region than the key's.
    pub fn wrong_region(&self) -> Vec<&SurfaceReach> {
        self.surfaces.iter().filter(|s| s.key_ok() && s.region_ok == Some(false)).collect()
    }

    /// The surfaces that get no key.
    pub fn keyless(&self) -> Vec<&SurfaceReach> {
        self.surfaces.iter().filter(|s| !s.key_ok()).collect()
    }
}

/// The whole matrix.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Matrix {
    /// The region the key works in, when dashkey knows it.
    pub key_region: Option<String>,
    /// How it knows.
    pub key_region_from: Option<RegionKnown>,
    /// The region dashkey stored for new shells and programs (its native base URL's).
    pub stored_region: Option<String>,
    /// One row per context that exists on this platform.
    pub contexts: Vec<ContextReach>,
}

impl Matrix {
    /// The row of one context.
    pub fn context(&self, context: LaunchContext) -> Option<&ContextReach> {
        self.contexts.iter().find(|row| row.context == context)
    }
}

/// What the matrix needs besides the platform: inputs read by other modules (or by the
/// caller), so tests can give any.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The user's crontab, as `crontab -l` prints it (`None`: not read).
    pub crontab: Option<String>,
    /// sudo's policy file (`None`: `/etc/sudoers`).
    pub sudoers: Option<PathBuf>,
    /// The region an online check found accepting the key.
    pub probed_region: Option<String>,
}

/// Computes every row.
pub fn matrix(platform: &Platform, inputs: &Inputs) -> Matrix {
    let endpoints = crate::region::config::Config::load(platform).unwrap_or_default().endpoints();
    let stored = crate::store::load_stored(platform).ok().flatten();
    let stored_region = stored
        .as_ref()
        .and_then(|s| s.get(vars::HTTP_BASE_URL))
        .and_then(|url| resolve::region_of_native(url, &endpoints));
    let (key_region, key_region_from) = match (&inputs.probed_region, &stored_region) {
        (Some(probed), _) => (Some(probed.clone()), Some(RegionKnown::Probed)),
        (None, Some(stored)) => (Some(stored.clone()), Some(RegionKnown::Stored)),
        (None, None) => (None, None),
    };
    let world = contexts::World::read(platform, stored.as_ref(), inputs);
    // Most contexts of a user get the same environment (the login shell, the terminal and
    // ssh often read the same lines): the lookups run once per distinct environment.
    let mut done: Vec<(Platform, Vec<SurfaceReach>)> = Vec::new();
    let contexts = LaunchContext::ALL
        .iter()
        .filter_map(|&context| {
            let built = world.environment(context)?;
            let seen = done.iter().find(|(seen, _)| same_process(seen, &built.platform));
            let surfaces = match seen {
                Some((_, surfaces)) => surfaces.clone(),
                None => surfaces(&built.platform, &endpoints, key_region.as_deref()),
            };
            let holds = holds(&built.platform, &surfaces);
            if seen.is_none() {
                done.push((built.platform, surfaces.clone()));
            }
            Some(ContextReach {
                context,
                coverage: built.coverage,
                given_by: built.given_by,
                holds,
                surfaces,
            })
        })
        .collect();
    Matrix { key_region, key_region_from, stored_region, contexts }
}

/// Two contexts' processes look the same to every lookup: one environment, one account home,
/// one working directory.
fn same_process(a: &Platform, b: &Platform) -> bool {
    a.os() == b.os()
        && a.account_home() == b.account_home()
        && a.cwd() == b.cwd()
        && a.vars().eq(b.vars())
}

/// What each surface does in a process with this environment.
fn surfaces(
    platform: &Platform,
    endpoints: &[RegionEndpoint],
    key_region: Option<&str>,
) -> Vec<SurfaceReach> {
    let python = resolve::python(platform);
    let key_of = |r: &resolve::Resolution| match &r.outcome {
        Lookup::Found { key, source } if !key.is_empty() => Some(source.clone()),
        _ => None,
    };
    let judge = |url: Option<String>, key_from: Option<Source>, surface| {
        let region = url.as_deref().and_then(|url| resolve::region_of_native(url, endpoints));
        let region_ok = key_region.map(|want| region.as_deref() == Some(want));
        SurfaceReach { surface, key_from, url, region, region_ok, fingerprint: None }
    };
    let client = match resolve::python_client(platform) {
        ClientUrl::Url { url, .. } => Some(url),
        ClientUrl::Fails(_) => None,
    };
    let java = resolve::java(platform);
    let node = resolve::node(platform);
    let mut python1 = judge(Some(python.urls.http.url.clone()), key_of(&python), Surface::Python1);
    if let Lookup::Found { key, .. } = &python.outcome
        && !key.is_empty()
    {
        python1.fingerprint = Some(key.fingerprint());
    }
    vec![
        python1,
        // `Client()` takes the key like 1.x, except that an empty variable counts as unset.
        judge(client, client_key(platform, &python), Surface::Python2),
        judge(Some(java.urls.http.url.clone()), key_of(&java), Surface::Java),
        judge(Some(node.urls.http.url.clone()), key_of(&node), Surface::Node),
    ]
}

/// The 2.0 surface's key: a non-empty variable, else the 1.x files (its `config.toml`
/// `api_key`, which dashkey never writes, is not modelled).
fn client_key(platform: &Platform, python: &resolve::Resolution) -> Option<Source> {
    if platform.var_non_empty(vars::API_KEY).is_some() {
        return Some(Source::Variable);
    }
    if platform.var(vars::API_KEY) == Some("") {
        let without = contexts::without_var(platform, vars::API_KEY);
        return match resolve::python(&without).outcome {
            Lookup::Found { key, source } if !key.is_empty() => Some(source),
            _ => None,
        };
    }
    match &python.outcome {
        Lookup::Found { key, source } if !key.is_empty() => Some(source.clone()),
        _ => None,
    }
}

/// Whether a context can exist on an OS.
fn exists_on(context: LaunchContext, os: Os) -> bool {
    match context {
        LaunchContext::UserService => os == Os::Linux,
        LaunchContext::Cron | LaunchContext::Sudo | LaunchContext::SshCommand => os != Os::Windows,
        LaunchContext::LoginShell | LaunchContext::InteractiveShell => os != Os::Windows,
        LaunchContext::ThisProcess | LaunchContext::Desktop => true,
    }
}

#[cfg(test)]
mod tests;
