//! Which key, and which base URLs, each official SDK would use.
//!
//! The SDKs disagree in ways that decide whether a program works:
//!
//! - **Python** reads `DASHSCOPE_API_KEY` once, at import, and takes it verbatim: an empty or
//!   space-padded value is sent as the key. Otherwise it reads the whole file named by
//!   `DASHSCOPE_API_KEY_FILE_PATH` (a missing file is an error, with no fallback), else
//!   `~/.dashscope/api_key` under `$HOME`, stripping surrounding whitespace.
//! - **Java** also takes an empty variable as the key, but a `DASHSCOPE_API_KEY_FILE_PATH`
//!   naming a missing file silently falls back to the default file, only the *first line* of a
//!   file is read, and "home" is the JVM's `user.home`, which comes from the account database,
//!   not from `$HOME`.
//! - **Node** reads only the variable, trims it, and treats empty as missing. No key file.
//!
//! Each function here replays one SDK's lookup step by step against a [`Platform`], recording
//! every candidate it looked at and why it moved on, so that `dashkey status` can show the
//! answer *and* the reasoning, and Rust programs can resolve a key exactly like the Python SDK.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::key::ApiKey;
use crate::platform::{Os, Platform};
use crate::region::{Endpoint, HostRegion, Region, WORKSPACE_REGIONS};
use crate::vars;
use zeroize::Zeroizing;

/// The official SDKs whose lookup dashkey models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sdk {
    /// `dashscope` on PyPI.
    Python,
    /// `com.alibaba:dashscope-sdk-java`.
    Java,
    /// The Node.js SDK.
    Node,
}

impl Sdk {
    /// All modelled SDKs, in report order.
    pub const ALL: [Sdk; 3] = [Sdk::Python, Sdk::Java, Sdk::Node];

    /// Short lowercase identifier (`python`).
    pub fn id(self) -> &'static str {
        match self {
            Sdk::Python => "python",
            Sdk::Java => "java",
            Sdk::Node => "node",
        }
    }

    /// Human name (`Python SDK`).
    pub fn name(self) -> &'static str {
        match self {
            Sdk::Python => "Python SDK",
            Sdk::Java => "Java SDK",
            Sdk::Node => "Node SDK",
        }
    }
}

/// A place an SDK can take the key from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Source {
    /// The `DASHSCOPE_API_KEY` variable.
    Variable,
    /// The file named by `DASHSCOPE_API_KEY_FILE_PATH` (no path when the variable is unset).
    FilePathVariable {
        /// The path as the SDK would open it.
        path: Option<PathBuf>,
    },
    /// The SDK's default key file, `~/.dashscope/api_key`.
    DefaultFile {
        /// The path as the SDK would open it.
        path: PathBuf,
    },
}

impl Source {
    /// The file behind this source, if it is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::Variable => None,
            Source::FilePathVariable { path } => path.as_deref(),
            Source::DefaultFile { path } => Some(path),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Variable => f.write_str(vars::API_KEY),
            Source::FilePathVariable { path: None } => f.write_str(vars::API_KEY_FILE_PATH),
            Source::FilePathVariable { path: Some(path) } => {
                write!(f, "{} (named by {})", path.display(), vars::API_KEY_FILE_PATH)
            }
            Source::DefaultFile { path } => write!(f, "{}", path.display()),
        }
    }
}

/// What an SDK concluded about one candidate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "kebab-case")]
pub enum Verdict {
    /// This candidate supplied the key.
    Chosen,
    /// The SDK moved on to the next candidate.
    Skipped(Skip),
    /// The SDK stopped here with an error.
    Failed(ReadFailure),
    /// An earlier candidate decided; this one was never looked at.
    NotReached,
}

/// Why an SDK moved past a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Skip {
    /// The variable is not set.
    Unset,
    /// The variable is set but empty (or only whitespace, for the Node SDK).
    Empty,
    /// The file does not exist.
    NoFile,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Skip::Unset => "not set",
            Skip::Empty => "empty",
            Skip::NoFile => "no such file",
        })
    }
}

/// Why reading a key file failed, as the SDK would experience it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadFailure {
    /// The file does not exist.
    NotFound,
    /// The path is a directory.
    IsDirectory,
    /// The file cannot be read by this user.
    PermissionDenied,
    /// The file is not UTF-8 (Python reads key files as UTF-8 text).
    NotUtf8,
    /// The file has no first line (Java reads only the first line, and fails on an empty file).
    NoFirstLine,
    /// The path is not a regular file (a FIFO, a device, a socket): not read, since a FIFO
    /// blocks a reader forever and a device may never end.
    NotRegular(crate::world::read::NotRegular),
    /// The file is far larger than a key file can be: not read.
    TooLarge,
    /// Any other I/O error.
    Other,
}

impl fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReadFailure::NotFound => "no such file",
            ReadFailure::IsDirectory => "is a directory",
            ReadFailure::PermissionDenied => "permission denied",
            ReadFailure::NotUtf8 => "not UTF-8 text",
            ReadFailure::NoFirstLine => "empty file (no first line)",
            ReadFailure::NotRegular(kind) => {
                return write!(f, "{}, not a regular file; not read", kind.describe());
            }
            ReadFailure::TooLarge => "too large for a key file; not read",
            ReadFailure::Other => "cannot be read",
        })
    }
}

/// One step of an SDK's lookup.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Candidate {
    /// Where the SDK looked.
    pub source: Source,
    /// What it concluded.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// The end of an SDK's lookup.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The SDK would send this value as the key (possibly empty or malformed: check
    /// [`ApiKey::problems`]).
    Found {
        /// The value, byte for byte as the SDK would send it.
        key: ApiKey,
        /// Where it came from.
        source: Source,
    },
    /// The SDK would raise its "no api key" error.
    Missing,
    /// The SDK would fail reading a file.
    Failed {
        /// The file it failed on.
        source: Source,
        /// How it failed.
        failure: ReadFailure,
    },
}

/// Where a base URL comes from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", content = "name", rename_all = "kebab-case")]
pub enum UrlOrigin {
    /// An environment variable.
    Variable(&'static str),
    /// The SDK's built-in default (Beijing, or the workspace host that
    /// `DASHSCOPE_API_REGION` selects).
    Default,
}

/// One base URL an SDK would use.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BaseUrl {
    /// The URL, exactly as the SDK would use it.
    pub url: String,
    /// Where it came from.
    pub origin: UrlOrigin,
}

impl BaseUrl {
    /// The URL taken apart, if it parses.
    pub fn endpoint(&self) -> Option<Endpoint> {
        Endpoint::parse(&self.url).ok()
    }

    /// The region the URL points at, if it names one.
    pub fn region_id(&self) -> Option<String> {
        self.endpoint().and_then(|e| e.region.region_id().map(str::to_string))
    }
}

/// The base URLs an SDK would use.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BaseUrls {
    /// Native API (`DASHSCOPE_HTTP_BASE_URL`).
    pub http: BaseUrl,
    /// Streaming API (`DASHSCOPE_WEBSOCKET_BASE_URL`).
    pub websocket: BaseUrl,
    /// OpenAI-compatible API, for SDKs that have a setting for it.
    pub compatible: Option<BaseUrl>,
}

/// Everything one SDK would do to find its key and endpoints.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// Which SDK.
    pub sdk: Sdk,
    /// Every candidate in lookup order, including the ones never reached.
    pub candidates: Vec<Candidate>,
    /// The result.
    pub outcome: Outcome,
    /// The endpoints it would call.
    pub urls: BaseUrls,
}

/// A key an SDK would find, with where it found it.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The key, byte for byte as the SDK would send it.
    pub key: ApiKey,
    /// Where it came from.
    pub source: Source,
    /// The endpoints the SDK would call.
    pub urls: BaseUrls,
}

/// An SDK would not find a usable key. The message lists every place that was checked and
/// never contains a key.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", describe_failure(*sdk, candidates, failure.as_ref()))]
pub struct ResolveError {
    /// Which SDK.
    pub sdk: Sdk,
    /// What it checked.
    pub candidates: Vec<Candidate>,
    /// The file error that stopped it, if one did.
    pub failure: Option<(Source, ReadFailure)>,
}

fn describe_failure(
    sdk: Sdk,
    candidates: &[Candidate],
    failure: Option<&(Source, ReadFailure)>,
) -> String {
    let checked: Vec<String> = candidates
        .iter()
        .filter(|c| c.verdict != Verdict::NotReached)
        .map(|c| match &c.verdict {
            Verdict::Skipped(skip) => format!("{} ({skip})", c.source),
            Verdict::Failed(failure) => format!("{} ({failure})", c.source),
            Verdict::Chosen | Verdict::NotReached => c.source.to_string(),
        })
        .collect();
    match failure {
        Some((source, failure)) => format!(
            "the {} would fail reading {source}: {failure}; checked: {}",
            sdk.name(),
            checked.join(", ")
        ),
        None => {
            format!("the {} would find no API key; checked: {}", sdk.name(), checked.join(", "))
        }
    }
}

impl Resolution {
    /// The key and endpoints, or an error that lists what was checked.
    ///
    /// # Errors
    ///
    /// [`ResolveError`] when the SDK would raise its "no api key" error or fail on a file.
    pub fn into_result(self) -> Result<Resolved, ResolveError> {
        match self.outcome {
            Outcome::Found { key, source } => Ok(Resolved { key, source, urls: self.urls }),
            Outcome::Missing => {
                Err(ResolveError { sdk: self.sdk, candidates: self.candidates, failure: None })
            }
            Outcome::Failed { source, failure } => Err(ResolveError {
                sdk: self.sdk,
                candidates: self.candidates,
                failure: Some((source, failure)),
            }),
        }
    }

    /// The key the SDK would send, if any.
    pub fn key(&self) -> Option<&ApiKey> {
        match &self.outcome {
            Outcome::Found { key, .. } => Some(key),
            Outcome::Missing | Outcome::Failed { .. } => None,
        }
    }
}

/// Replays one SDK's lookup.
pub fn resolve(sdk: Sdk, platform: &Platform) -> Resolution {
    match sdk {
        Sdk::Python => python(platform),
        Sdk::Java => java(platform),
        Sdk::Node => node(platform),
    }
}

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
    if let Some(value) = platform.var(vars::API_KEY) {
        steps.choose(Source::Variable, ApiKey::verbatim(value));
    } else {
        steps.skip(Source::Variable, Skip::Unset);
    }
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
    if let Some(value) = platform.var(vars::API_KEY) {
        steps.choose(Source::Variable, ApiKey::verbatim(value));
    } else {
        steps.skip(Source::Variable, Skip::Unset);
    }
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
    steps.finish(Sdk::Java, java_urls(platform))
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
    steps.finish(Sdk::Node, node_urls(platform))
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
    let pick = |name: &'static str, default: String| match platform.var(name) {
        Some(url) => BaseUrl { url: url.to_string(), origin: UrlOrigin::Variable(name) },
        None => BaseUrl { url: default, origin: UrlOrigin::Default },
    };
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

fn java_urls(platform: &Platform) -> BaseUrls {
    let default = Region::default_region();
    let pick = |name: &'static str, default: String| match platform.var(name) {
        Some(url) => BaseUrl { url: url.to_string(), origin: UrlOrigin::Variable(name) },
        None => BaseUrl { url: default, origin: UrlOrigin::Default },
    };
    BaseUrls {
        http: pick(vars::HTTP_BASE_URL, default.native_url()),
        websocket: pick(vars::WEBSOCKET_BASE_URL, default.websocket_url()),
        compatible: None,
    }
}

fn node_urls(platform: &Platform) -> BaseUrls {
    let default = Region::default_region();
    // `process.env.X || default`: an empty value falls back.
    let pick = |name: &'static str, default: String| match platform.var_non_empty(name) {
        Some(url) => BaseUrl { url: url.to_string(), origin: UrlOrigin::Variable(name) },
        None => BaseUrl { url: default, origin: UrlOrigin::Default },
    };
    BaseUrls {
        http: pick(vars::HTTP_BASE_URL, default.native_url()),
        websocket: pick(vars::WEBSOCKET_BASE_URL, default.websocket_url()),
        compatible: None,
    }
}

/// The region the SDK's native base URL points at, or `None` for a custom host.
pub fn region_of(urls: &BaseUrls) -> Option<String> {
    urls.http.endpoint().and_then(|endpoint| match endpoint.region {
        HostRegion::Custom | HostRegion::Coding { .. } => None,
        region => region.region_id().map(str::to_string),
    })
}

/// Accumulates candidates until one decides; the rest are recorded as not reached.
#[derive(Default)]
struct Steps {
    candidates: Vec<Candidate>,
    outcome: Option<Outcome>,
}

impl Steps {
    fn decided(&self) -> bool {
        self.outcome.is_some()
    }

    fn push(&mut self, source: Source, verdict: Verdict) {
        self.candidates.push(Candidate { source, verdict });
    }

    fn choose(&mut self, source: Source, key: ApiKey) {
        if self.decided() {
            return self.push(source, Verdict::NotReached);
        }
        self.push(source.clone(), Verdict::Chosen);
        self.outcome = Some(Outcome::Found { key, source });
    }

    fn skip(&mut self, source: Source, skip: Skip) {
        let verdict = if self.decided() { Verdict::NotReached } else { Verdict::Skipped(skip) };
        self.push(source, verdict);
    }

    fn fail(&mut self, source: Source, failure: ReadFailure) {
        self.push(source.clone(), Verdict::Failed(failure));
        self.outcome = Some(Outcome::Failed { source, failure });
    }

    /// Python's read: whole file as UTF-8 text with universal newlines, then `str.strip()`.
    /// For the default file, a missing file is skipped; for the named file it is an error.
    fn read_whole(&mut self, source: Source, missing_is_error: bool) {
        if self.decided() {
            return self.push(source, Verdict::NotReached);
        }
        let path = source.path().expect("file source").to_path_buf();
        match crate::world::read::read(&path, crate::world::read::Cap::KEY).map(Zeroizing::new) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && !missing_is_error => {
                self.push(source, Verdict::Skipped(Skip::NoFile));
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
            return self.push(source, Verdict::NotReached);
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
            outcome: self.outcome.unwrap_or(Outcome::Missing),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const KEY: &str = "sk-0123456789abcdef0123456789abcdef";

    fn home_with_file(content: Option<&[u8]>) -> (tempfile::TempDir, Platform) {
        let dir = tempfile::tempdir().unwrap();
        if let Some(content) = content {
            fs::create_dir_all(dir.path().join(".dashscope")).unwrap();
            fs::write(dir.path().join(".dashscope/api_key"), content).unwrap();
        }
        let home = dir.path().to_str().unwrap().to_string();
        let platform = Platform::simulated(Os::Linux, [("HOME", home)]);
        (dir, platform)
    }

    fn found(resolution: &Resolution) -> Option<String> {
        resolution.key().map(|key| key.expose().to_string())
    }

    #[test]
    fn nothing_anywhere_is_missing_for_every_sdk_with_a_full_list() {
        let (_dir, platform) = home_with_file(None);
        for sdk in Sdk::ALL {
            let resolution = resolve(sdk, &platform);
            assert!(matches!(resolution.outcome, Outcome::Missing), "{sdk:?}");
            let message = resolution.into_result().unwrap_err().to_string();
            assert!(message.contains("DASHSCOPE_API_KEY (not set)"), "{message}");
        }
    }

    #[test]
    fn empty_variable_is_a_key_for_python_and_java_but_missing_for_node() {
        let (dir, platform) = home_with_file(Some(KEY.as_bytes()));
        let platform = platform.with_vars([
            ("HOME".to_string(), dir.path().to_str().unwrap().to_string()),
            (vars::API_KEY.to_string(), String::new()),
        ]);
        assert_eq!(found(&python(&platform)).as_deref(), Some(""));
        assert_eq!(found(&java(&platform)).as_deref(), Some(""));
        assert!(matches!(node(&platform).outcome, Outcome::Missing));
    }

    #[test]
    fn file_reads_differ_python_whole_file_java_first_line() {
        let (_dir, platform) = home_with_file(Some(b"  sk-first\r\nsk-second\n"));
        assert_eq!(found(&python(&platform)).as_deref(), Some("sk-first\nsk-second"));
        let java_platform = platform.clone().with_account_home(platform.home());
        assert_eq!(found(&java(&java_platform)).as_deref(), Some("sk-first"));
    }

    #[test]
    fn missing_named_file_fails_python_but_java_falls_back() {
        let (dir, platform) = home_with_file(Some(KEY.as_bytes()));
        let home = dir.path().to_str().unwrap().to_string();
        let platform = platform.with_vars([
            ("HOME".to_string(), home),
            (vars::API_KEY_FILE_PATH.to_string(), "/nonexistent/key".to_string()),
        ]);
        let py = python(&platform);
        assert!(matches!(py.outcome, Outcome::Failed { failure: ReadFailure::NotFound, .. }));
        assert_eq!(py.candidates[2].verdict, Verdict::NotReached);
        assert_eq!(found(&java(&platform)).as_deref(), Some(KEY));
    }

    #[test]
    fn java_home_comes_from_the_account_database_or_jvm_options() {
        let (dir, platform) = home_with_file(Some(KEY.as_bytes()));
        let elsewhere = platform.clone().with_account_home(Some(PathBuf::from("/nonexistent")));
        assert!(matches!(java(&elsewhere).outcome, Outcome::Missing));
        let home = dir.path().to_str().unwrap();
        let with_option = elsewhere.with_vars([
            ("HOME".to_string(), home.to_string()),
            ("JAVA_TOOL_OPTIONS".to_string(), format!("-Xmx1g -Duser.home={home}")),
        ]);
        assert_eq!(found(&java(&with_option)).as_deref(), Some(KEY));
    }

    #[test]
    fn node_trims_the_variable() {
        let platform = Platform::simulated(Os::Linux, [(vars::API_KEY, format!(" {KEY}\r\n"))]);
        assert_eq!(found(&node(&platform)).as_deref(), Some(KEY));
        assert_eq!(found(&python(&platform)).as_deref(), Some(format!(" {KEY}\r\n").as_str()));
    }

    #[test]
    fn python_urls_follow_region_and_workspace() {
        let platform = Platform::simulated(
            Os::Linux,
            [(vars::API_REGION, "ap-southeast-1"), (vars::WORKSPACE_ID, "ws-1")],
        );
        let urls = python(&platform).urls;
        assert_eq!(urls.http.url, "https://ws-1.ap-southeast-1.maas.aliyuncs.com/api/v1");
        assert_eq!(region_of(&urls).as_deref(), Some("ap-southeast-1"));
        let platform = Platform::simulated(Os::Linux, [(vars::HTTP_BASE_URL, "")]);
        assert_eq!(python(&platform).urls.http.url, "");
        assert_eq!(node(&platform).urls.http.url, Region::default_region().native_url());
    }
}
