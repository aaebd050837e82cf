//! The official SDKs' lookups, replayed step by step: Python 1.x and 2.0, Java, Node.
//!
//! Each function is a transcription of the SDK's own code (quoted where it decides), run
//! against a [`Platform`] rather than the real process, so that the answer for a systemd
//! unit or another user's shell is as exact as for this one. The Python 2.0 surface reads the
//! same variables and files as 1.x; where a later SDK version decides differently it gets its
//! own step here, beside the one it replaces. The SDK parity test (`dashkey-cli/tests`) runs the
//! real Python SDK against the same files and compares.

use std::io;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{
    BaseUrl, BaseUrls, Candidate, CandidateVerdict, Lookup, ReadFailure, Resolution, Sdk, Skip,
    Source, UrlOrigin,
};
use crate::key::ApiKey;
use crate::platform::{Os, Platform};
use crate::region::{Region, WORKSPACE_REGIONS};
use crate::vars;

/// Resolves the key exactly as the Python SDK would in a process started with this
/// platform's environment, home and working directory.
///
/// ```no_run
/// let platform = dashkey::Platform::current();
/// match dashkey::resolve::resolve(dashkey::Sdk::Python, &platform).into_result() {
///     Ok(found) => println!("key {} from {}", found.key.mask(), found.source),
///     Err(error) => eprintln!("{error}"),
/// }
/// ```
pub fn python(platform: &Platform) -> Resolution {
    let mut steps = Steps::default();
    // `dashscope.api_key = os.environ.get("DASHSCOPE_API_KEY")`: any value, even empty.
    steps.variable_verbatim(platform);
    // `elif dashscope.api_key_file_path:` an empty path is falsy and skipped.
    match platform.var(vars::API_KEY_FILE_PATH) {
        Some(path) if !path.is_empty() => {
            let source = Source::FilePathVariable { path: Some(platform.resolve_path(path)) };
            steps.read_whole(source, true);
        }
        _ => steps.skip(Source::FilePathVariable { path: None }, Skip::Unset),
    }
    // `Path.home()` is `$HOME` when set, even to an empty string, else the account home.
    let home = match platform.os() {
        Os::Windows => platform.home(),
        Os::Linux | Os::MacOs => match platform.var("HOME") {
            // `expanduser` returns `(home + rest) or "/"`: an empty HOME means the root.
            Some("") => Some(PathBuf::from("/")),
            Some(home) => Some(platform.resolve_path(home)),
            None => platform.account_home().map(Path::to_path_buf),
        },
    };
    if let Some(home) = home {
        let path = home.join(".dashscope").join("api_key");
        steps.read_whole(Source::DefaultFile { path }, false);
    }
    steps.finish(Sdk::Python, python_urls(platform))
}

/// Replays the Java SDK's lookup (`ApiKey.getApiKey`).
pub fn java(platform: &Platform) -> Resolution {
    let mut steps = Steps::default();
    // `System.getenv("DASHSCOPE_API_KEY")`: any value, even empty.
    steps.variable_verbatim(platform);
    // A path variable naming a missing file silently falls back to the default file.
    match platform.var(vars::API_KEY_FILE_PATH) {
        Some(path) => {
            let path = platform.resolve_path(path);
            let exists = exists_for_java(&path);
            let source = Source::FilePathVariable { path: Some(path) };
            if exists {
                steps.read_first_line(source);
            } else {
                steps.skip(source, Skip::NoFile);
            }
        }
        None => steps.skip(Source::FilePathVariable { path: None }, Skip::Unset),
    }
    if let Some(home) = java_user_home(platform) {
        let path = home.join(".dashscope").join("api_key");
        if exists_for_java(&path) {
            steps.read_first_line(Source::DefaultFile { path });
        } else {
            steps.skip(Source::DefaultFile { path }, Skip::NoFile);
        }
    }
    steps.finish(Sdk::Java, native_urls(platform, false))
}

/// Replays the Node SDK's lookup: the variable, trimmed; empty means missing.
pub fn node(platform: &Platform) -> Resolution {
    let mut steps = Steps::default();
    match platform.var(vars::API_KEY) {
        None => steps.skip(Source::Variable, Skip::Unset),
        Some(value) => {
            let trimmed = value.trim_matches(is_js_whitespace);
            if trimmed.is_empty() {
                steps.skip(Source::Variable, Skip::Empty);
            } else {
                steps.choose(Source::Variable, ApiKey::verbatim(trimmed));
            }
        }
    }
    steps.finish(Sdk::Node, native_urls(platform, true))
}

/// The JVM's `user.home`: the last `-Duser.home=` in the option variables the JVM and its
/// launcher read, else the account database's home (Unix) or the profile folder (Windows).
pub fn java_user_home(platform: &Platform) -> Option<PathBuf> {
    let from_options = ["JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"]
        .iter()
        .filter_map(|name| platform.var(name))
        .flat_map(str::split_whitespace)
        .filter_map(|option| option.strip_prefix("-Duser.home="))
        .next_back();
    if let Some(home) = from_options {
        return Some(PathBuf::from(home));
    }
    match platform.os() {
        Os::Windows => platform.home(),
        Os::Linux | Os::MacOs => {
            platform.account_home().map(Path::to_path_buf).or_else(|| platform.home())
        }
    }
}

/// `Files.notExists` is false when existence cannot be determined, so only a definite
/// "not found" counts as missing.
fn exists_for_java(path: &Path) -> bool {
    !matches!(std::fs::metadata(path), Err(e) if e.kind() == io::ErrorKind::NotFound)
}

/// A base URL from its variable (`Some` when the SDK takes it), else the SDK's default.
fn base_url(value: Option<&str>, name: &'static str, default: String) -> BaseUrl {
    match value {
        Some(url) => BaseUrl { url: url.to_string(), origin: UrlOrigin::Variable(name) },
        None => BaseUrl { url: default, origin: UrlOrigin::Default },
    }
}

fn python_urls(platform: &Platform) -> BaseUrls {
    let version = platform.var(vars::API_VERSION).unwrap_or("v1");
    let region = platform.var(vars::API_REGION).unwrap_or(crate::region::DEFAULT_REGION);
    // Recent SDKs route non-Beijing workspace regions to `{workspace}.{region}.maas...`.
    let host = if region != crate::region::DEFAULT_REGION && WORKSPACE_REGIONS.contains(&region) {
        let workspace = platform.var_non_empty(vars::WORKSPACE_ID).unwrap_or("{workspace_id}");
        format!("{workspace}.{region}.maas.aliyuncs.com")
    } else {
        Region::default_region().host.to_string()
    };
    let pick = |name: &'static str, default: String| base_url(platform.var(name), name, default);
    BaseUrls {
        http: pick(vars::HTTP_BASE_URL, format!("https://{host}/api/{version}")),
        websocket: pick(
            vars::WEBSOCKET_BASE_URL,
            format!("wss://{host}/api-ws/{version}/inference"),
        ),
        compatible: Some(pick(
            vars::COMPATIBLE_BASE_URL,
            format!("https://{host}/compatible-mode/{version}"),
        )),
    }
}

/// The Java and Node SDKs: the two variables over Beijing's public host, no compatible API.
/// `non_empty`: Node's `process.env.X || default`, where an empty value falls back.
fn native_urls(platform: &Platform, non_empty: bool) -> BaseUrls {
    let default = Region::default_region();
    let pick = |name: &'static str, default: String| {
        let value = if non_empty { platform.var_non_empty(name) } else { platform.var(name) };
        base_url(value, name, default)
    };
    BaseUrls {
        http: pick(vars::HTTP_BASE_URL, default.native_url()),
        websocket: pick(vars::WEBSOCKET_BASE_URL, default.websocket_url()),
        compatible: None,
    }
}

/// Accumulates candidates until one decides; the rest are recorded as not reached.
#[derive(Default)]
struct Steps {
    candidates: Vec<Candidate>,
    outcome: Option<Lookup>,
}

impl Steps {
    fn decided(&self) -> bool {
        self.outcome.is_some()
    }

    fn push(&mut self, source: Source, verdict: CandidateVerdict) {
        self.candidates.push(Candidate { source, verdict });
    }

    fn choose(&mut self, source: Source, key: ApiKey) {
        if self.decided() {
            return self.push(source, CandidateVerdict::NotReached);
        }
        self.push(source.clone(), CandidateVerdict::Chosen);
        self.outcome = Some(Lookup::Found { key, source });
    }

    /// The key variable taken as it is, empty included (Python and Java).
    fn variable_verbatim(&mut self, platform: &Platform) {
        match platform.var(vars::API_KEY) {
            Some(value) => self.choose(Source::Variable, ApiKey::verbatim(value)),
            None => self.skip(Source::Variable, Skip::Unset),
        }
    }

    fn skip(&mut self, source: Source, skip: Skip) {
        let verdict = if self.decided() {
            CandidateVerdict::NotReached
        } else {
            CandidateVerdict::Skipped(skip)
        };
        self.push(source, verdict);
    }

    fn fail(&mut self, source: Source, failure: ReadFailure) {
        self.push(source.clone(), CandidateVerdict::Failed(failure));
        self.outcome = Some(Lookup::Failed { source, failure });
    }

    /// Python's read: whole file as UTF-8 text with universal newlines, then `str.strip()`.
    /// For the default file, a missing file is skipped; for the named file it is an error.
    fn read_whole(&mut self, source: Source, missing_is_error: bool) {
        if self.decided() {
            return self.push(source, CandidateVerdict::NotReached);
        }
        let path = source.path().expect("file source").to_path_buf();
        match crate::world::read::read(&path, crate::world::read::Cap::KEY).map(Zeroizing::new) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && !missing_is_error => {
                self.push(source, CandidateVerdict::Skipped(Skip::NoFile));
            }
            Err(e) => self.fail(source, classify_read(&e)),
            Ok(bytes) => match std::str::from_utf8(&bytes) {
                Err(_) => self.fail(source, ReadFailure::NotUtf8),
                Ok(text) => {
                    let text = Zeroizing::new(text.replace("\r\n", "\n").replace('\r', "\n"));
                    let key = ApiKey::verbatim(text.trim_matches(is_python_whitespace));
                    self.choose(source, key);
                }
            },
        }
    }

    /// Java's read: the first line (ended by LF, CR or CRLF), then `String.trim()`.
    fn read_first_line(&mut self, source: Source) {
        if self.decided() {
            return self.push(source, CandidateVerdict::NotReached);
        }
        let path = source.path().expect("file source").to_path_buf();
        match crate::world::read::read(&path, crate::world::read::Cap::KEY).map(Zeroizing::new) {
            Err(e) => self.fail(source, classify_read(&e)),
            Ok(bytes) if bytes.is_empty() => self.fail(source, ReadFailure::NoFirstLine),
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let line = text.split(['\n', '\r']).next().unwrap_or_default();
                self.choose(source, ApiKey::verbatim(line.trim_matches(|c| c <= ' ')));
            }
        }
    }

    fn finish(self, sdk: Sdk, urls: BaseUrls) -> Resolution {
        Resolution {
            sdk,
            candidates: self.candidates,
            outcome: self.outcome.unwrap_or(Lookup::Missing),
            urls,
        }
    }
}

/// How an SDK experiences an I/O error on a key file.
/// How an SDK would experience a failed [`crate::world::read`] of a key file.
pub(crate) fn classify_read(error: &crate::world::read::ReadError) -> ReadFailure {
    use crate::world::read::{NotRegular, Problem, Refusal};
    match &error.problem {
        Problem::Refused(Refusal::NotRegular(NotRegular::Directory)) => ReadFailure::IsDirectory,
        Problem::Refused(Refusal::NotRegular(kind)) => ReadFailure::NotRegular(*kind),
        Problem::Refused(Refusal::TooLarge(_)) => ReadFailure::TooLarge,
        Problem::NotUtf8 => ReadFailure::NotUtf8,
        Problem::Io(e) => classify_io(e, &error.path),
    }
}

pub(crate) fn classify_io(error: &io::Error, path: &Path) -> ReadFailure {
    match error.kind() {
        io::ErrorKind::NotFound => ReadFailure::NotFound,
        io::ErrorKind::PermissionDenied => ReadFailure::PermissionDenied,
        io::ErrorKind::IsADirectory => ReadFailure::IsDirectory,
        _ if path.is_dir() => ReadFailure::IsDirectory,
        _ => ReadFailure::Other,
    }
}

/// Python's `str.isspace`: Unicode whitespace plus the ASCII file, group, record and unit
/// separators.
fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// JavaScript's `String.prototype.trim` set: Unicode whitespace plus the byte-order mark.
fn is_js_whitespace(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}
