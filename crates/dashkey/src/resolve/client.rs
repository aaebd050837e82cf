//! The base URL of the Python SDK's 2.0 surface (`dashscope.Client()`), replayed from
//! `dashscope/v2/_config.py` (`resolve_config`, dashscope 2.0.2).
//!
//! It reads other names than the 1.x surface (`DASHSCOPE_BASE_URL` first, and its own
//! `~/.dashscope/config.toml`), so one process can call two regions: a program started
//! outside any shell gets Singapore through `Client()` from `config.toml` while
//! `Generation.call` in the same process still calls Beijing. The reachability matrix and
//! the verdicts judge each surface on its own.

use std::path::PathBuf;

use crate::platform::Platform;

/// Where the 2.0 surface's native base URL came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", content = "name", rename_all = "kebab-case")]
pub enum ClientOrigin {
    /// `DASHSCOPE_BASE_URL` or, when that is unset or empty, `DASHSCOPE_HTTP_BASE_URL`.
    Variable(&'static str),
    /// `base_url` in the SDK's `config.toml`.
    ConfigFile(PathBuf),
    /// Built from a region (`DASHSCOPE_REGION` or `config.toml` `region`) and, when set, a
    /// workspace.
    Region(String),
    /// Nothing set: Beijing's shared host.
    Default,
}

/// The 2.0 surface's native base URL, or why it has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientUrl {
    /// `Client()` sends requests here.
    Url {
        /// The URL as the SDK uses it.
        url: String,
        /// Where it came from.
        origin: ClientOrigin,
    },
    /// `Client()` raises before any request: an unknown region, or a `config.toml` that is
    /// not TOML.
    Fails(String),
}

impl ClientUrl {
    /// The URL, when the surface gets one.
    pub fn url(&self) -> Option<&str> {
        match self {
            ClientUrl::Url { url, .. } => Some(url),
            ClientUrl::Fails(_) => None,
        }
    }
}

/// The regions `resolve_config` accepts, with the legacy shared host it falls back to
/// without a workspace (`LEGACY_GATEWAY_HOSTS`).
const LEGACY_HOSTS: [(&str, &str); 6] = [
    ("cn-beijing", "https://dashscope.aliyuncs.com"),
    ("ap-southeast-1", "https://dashscope-intl.aliyuncs.com"),
    ("cn-hongkong", "https://cn-hongkong.dashscope.aliyuncs.com"),
    ("us-east-1", "https://dashscope-intl.aliyuncs.com"),
    ("eu-central-1", "https://dashscope-intl.aliyuncs.com"),
    ("ap-northeast-1", "https://dashscope-intl.aliyuncs.com"),
];

/// The native base URL `dashscope.Client()` would use in a process with this platform's
/// environment and home.
pub fn python_client(platform: &Platform) -> ClientUrl {
    // `os.environ.get("DASHSCOPE_BASE_URL") or os.environ.get("DASHSCOPE_HTTP_BASE_URL")`.
    let variable = match platform.var_non_empty("DASHSCOPE_BASE_URL") {
        Some(url) => Some(("DASHSCOPE_BASE_URL", url)),
        None => {
            platform.var(crate::vars::HTTP_BASE_URL).map(|url| (crate::vars::HTTP_BASE_URL, url))
        }
    };
    let file = config_path(platform);
    let table = match file.as_ref().map(|path| (path, read_table(path))) {
        Some((path, Err(()))) => {
            return ClientUrl::Fails(format!("{} is not valid TOML", platform.show_path(path)));
        }
        Some((_, Ok(table))) => table,
        None => None,
    };
    let get =
        |key: &str| -> Option<String> { table.as_ref()?.get(key)?.as_str().map(str::to_string) };
    let region = platform
        .var("DASHSCOPE_REGION")
        .map(str::to_string)
        .or_else(|| get("region"))
        .unwrap_or_else(|| crate::region::DEFAULT_REGION.to_string());
    let Some(&(_, legacy)) = LEGACY_HOSTS.iter().find(|(id, _)| *id == region) else {
        return ClientUrl::Fails(format!("invalid region {region:?}"));
    };
    if let Some((name, url)) = variable {
        return ClientUrl::Url { url: url.to_string(), origin: ClientOrigin::Variable(name) };
    }
    if let (Some(url), Some(path)) = (get("base_url"), file) {
        return ClientUrl::Url { url, origin: ClientOrigin::ConfigFile(path) };
    }
    let workspace =
        platform.var("DASHSCOPE_WORKSPACE").map(str::to_string).or_else(|| get("workspace"));
    let explicit = platform.var("DASHSCOPE_REGION").is_some() || get("region").is_some();
    let url = match workspace {
        Some(workspace) => format!("https://{workspace}.{region}.maas.aliyuncs.com/api/v1"),
        None => format!("{legacy}/api/v1"),
    };
    let origin = if explicit { ClientOrigin::Region(region) } else { ClientOrigin::Default };
    ClientUrl::Url { url, origin }
}

/// `DASHSCOPE_CONFIG` (with `~` expanded), else `~/.dashscope/config.toml`; `None` when the
/// file is not there (`_load_config_file` returns `{}` for anything but a file).
fn config_path(platform: &Platform) -> Option<PathBuf> {
    let path = match platform.var("DASHSCOPE_CONFIG") {
        Some(path) => match path.strip_prefix("~/") {
            Some(rest) => platform.home()?.join(rest),
            None => platform.resolve_path(path),
        },
        None => platform.home()?.join(".dashscope").join("config.toml"),
    };
    path.is_file().then_some(path)
}

/// The file's top-level table; `Err` when it is not TOML (the SDK raises on it).
fn read_table(path: &std::path::Path) -> Result<Option<toml_edit::DocumentMut>, ()> {
    let Ok(bytes) = crate::world::read::read(path, crate::world::read::Cap::CONFIG) else {
        return Ok(None);
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| ())?;
    text.parse::<toml_edit::DocumentMut>().map(Some).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Os;

    fn home_with(config: Option<&str>) -> (tempfile::TempDir, Platform) {
        let dir = tempfile::tempdir().unwrap();
        if let Some(text) = config {
            std::fs::create_dir_all(dir.path().join(".dashscope")).unwrap();
            std::fs::write(dir.path().join(".dashscope/config.toml"), text).unwrap();
        }
        let home = dir.path().to_str().unwrap().to_string();
        let platform = Platform::simulated(Os::Linux, [("HOME", home)]);
        (dir, platform)
    }

    #[test]
    fn config_toml_base_url_is_used_without_variables_and_loses_to_them() {
        let (_dir, platform) =
            home_with(Some("# mine\nbase_url = \"https://dashscope-intl.aliyuncs.com/api/v1\"\n"));
        match python_client(&platform) {
            ClientUrl::Url { url, origin: ClientOrigin::ConfigFile(_) } => {
                assert_eq!(url, "https://dashscope-intl.aliyuncs.com/api/v1");
            }
            other => panic!("{other:?}"),
        }
        let us = platform
            .with_vars([(crate::vars::HTTP_BASE_URL, "https://dashscope-us.aliyuncs.com/api/v1")]);
        assert_eq!(
            python_client(&us),
            ClientUrl::Url {
                url: "https://dashscope-us.aliyuncs.com/api/v1".into(),
                origin: ClientOrigin::Variable(crate::vars::HTTP_BASE_URL)
            }
        );
    }

    #[test]
    fn regions_map_to_the_legacy_hosts_and_unknown_ones_fail() {
        let (_dir, platform) = home_with(None);
        assert_eq!(python_client(&platform).url(), Some("https://dashscope.aliyuncs.com/api/v1"));
        let us = platform.clone().with_vars([("DASHSCOPE_REGION", "us-east-1")]);
        assert_eq!(python_client(&us).url(), Some("https://dashscope-intl.aliyuncs.com/api/v1"));
        let bad = platform.clone().with_vars([("DASHSCOPE_REGION", "singapore")]);
        assert!(matches!(python_client(&bad), ClientUrl::Fails(_)));
        let (_d, broken) = home_with(Some("base_url = \n"));
        assert!(matches!(python_client(&broken), ClientUrl::Fails(_)));
    }
}
