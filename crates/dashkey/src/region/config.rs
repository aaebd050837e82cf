//! dashkey's own settings file, `$XDG_CONFIG_HOME/dashkey/config.toml`.
//!
//! Today it says one thing: where a region lives. A private gateway, a region that dashkey
//! does not know yet, or a test server on loopback can be named like this:
//!
//! ```toml
//! [regions.ap-southeast-1]
//! endpoint = "http://127.0.0.1:18080"   # scheme://host[:port]
//! ```
//!
//! The endpoint is the host root: dashkey appends `/api/v1`, `/compatible-mode/v1` and
//! `/api-ws/v1/inference` itself, so the three APIs can never point at different places. A
//! table for a built-in region overrides it; any other region id adds a region.
//!
//! The key is a bearer credential, so an endpoint that would carry it in clear text across a
//! network is refused outright, naming the file and region: plain `http` is accepted only for
//! loopback hosts, everything else must be `https`, and certificates are always verified
//! (there is deliberately no setting to turn that off).
//!
//! The workspace-dedicated hosts of a region (`{workspace}.{region}.maas.aliyuncs.com`) can be
//! moved the same way, for a gateway or a test server, which then gets the workspace in the
//! `X-DashScope-WorkSpace` header:
//!
//! ```toml
//! [workspace-hosts.eu-central-1]
//! endpoint = "http://127.0.0.1:18081"
//! ```
//!
//! A missing file is an empty configuration. Unknown top-level tables are kept aside and
//! reported by [`Config::ignored`] rather than refused, so that an older dashkey can read a
//! file written for a newer one; inside a `[regions.*]` table every key must be known, because
//! a misspelt `endpont` would otherwise silently send the key to the default host.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::workspace::{self, NoWorkspaceHosts, WorkspaceId};
use super::{EndpointError, EndpointOrigin, Region, RegionEndpoint, WORKSPACE_REGIONS};
use crate::key::KeyKind;
use crate::platform::Platform;

/// Name of the file inside [`Platform::dashkey_dir`].
pub const FILE_NAME: &str = "config.toml";

/// The settings read from `config.toml`.
#[derive(Debug, Clone, Default)]
pub struct Config {
    path: Option<PathBuf>,
    regions: Vec<RegionEndpoint>,
    workspace_hosts: Vec<RegionEndpoint>,
    ignored: Vec<String>,
}

/// Why `config.toml` cannot be used. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The file is not TOML of the expected shape.
    #[error("{} is not a valid dashkey configuration: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the TOML reader said, with the line.
        message: String,
    },
    /// A region id that is not lowercase letters, digits and dashes.
    #[error(
        "{}: [regions.{region}]: a region id is lowercase letters, digits and '-' \
         (like ap-southeast-1)",
        path.display()
    )]
    RegionId {
        /// The file.
        path: PathBuf,
        /// The id as written.
        region: String,
    },
    /// An endpoint that cannot be used, or must not be (plain http to a remote host).
    #[error("{}: [regions.{region}] endpoint: {problem}", path.display())]
    Endpoint {
        /// The file.
        path: PathBuf,
        /// The region whose endpoint is wrong.
        region: String,
        /// What is wrong with it.
        problem: EndpointError,
    },
}

#[derive(serde::Deserialize)]
struct RawConfig {
    #[serde(default)]
    regions: BTreeMap<String, RawRegion>,
    #[serde(default, rename = "workspace-hosts")]
    workspace_hosts: BTreeMap<String, RawRegion>,
    #[serde(flatten)]
    other: BTreeMap<String, toml::Value>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegion {
    endpoint: String,
}

impl Config {
    /// Where the file is for this platform (`None` when there is no home or config dir).
    pub fn default_path(platform: &Platform) -> Option<PathBuf> {
        platform.dashkey_dir().map(|dir| dir.join(FILE_NAME))
    }

    /// Reads the file at [`Config::default_path`]; a missing file is an empty configuration.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the file exists but cannot be read or used.
    pub fn load(platform: &Platform) -> Result<Config, ConfigError> {
        match Config::default_path(platform) {
            Some(path) => Config::load_from(&path),
            None => Ok(Config::default()),
        }
    }

    /// Reads a configuration file; a missing file is an empty configuration.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the file exists but cannot be read or used.
    pub fn load_from(path: &Path) -> Result<Config, ConfigError> {
        match crate::world::read::read_text(path, crate::world::read::Cap::CONFIG) {
            Ok(text) => Config::parse(path, &text),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                Ok(Config { path: None, ..Config::default() })
            }
            Err(error) => {
                Err(ConfigError::Read { path: path.to_path_buf(), source: error.into_io() })
            }
        }
    }

    /// Parses configuration text; `path` is used in messages and [`EndpointOrigin`]s.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the file and, for endpoints, the region.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: path.to_path_buf(),
            message: error.to_string().trim_end().to_string(),
        })?;
        let regions = Config::parse_regions(path, raw.regions)?;
        let workspace_hosts = Config::parse_regions(path, raw.workspace_hosts)?;
        Ok(Config {
            path: Some(path.to_path_buf()),
            regions,
            workspace_hosts,
            ignored: raw.other.into_keys().collect(),
        })
    }

    fn parse_regions(
        path: &Path,
        raw: BTreeMap<String, RawRegion>,
    ) -> Result<Vec<RegionEndpoint>, ConfigError> {
        let mut regions = Vec::new();
        for (id, region) in raw {
            if id.is_empty()
                || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(ConfigError::RegionId { path: path.to_path_buf(), region: id });
            }
            let origin = EndpointOrigin::Config {
                path: path.to_path_buf(),
                overrides_builtin: Region::find(&id).is_some(),
            };
            let name = Region::find(&id).map(|builtin| builtin.name.to_string());
            let target = RegionEndpoint::from_config(&id, name, &region.endpoint, origin).map_err(
                |problem| ConfigError::Endpoint {
                    path: path.to_path_buf(),
                    region: id.clone(),
                    problem,
                },
            )?;
            regions.push(target);
        }
        Ok(regions)
    }

    /// The file this configuration was read from; `None` when there was no file.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The regions the file names, sorted by id.
    pub fn regions(&self) -> &[RegionEndpoint] {
        &self.regions
    }

    /// Top-level keys this version of dashkey does not know and ignored.
    pub fn ignored(&self) -> &[String] {
        &self.ignored
    }

    /// Every region to probe: the built-in ones in table order (with the file's endpoint where
    /// it overrides one), then the regions the file adds, by id.
    pub fn endpoints(&self) -> Vec<RegionEndpoint> {
        let mut targets: Vec<RegionEndpoint> = Region::all()
            .iter()
            .map(|builtin| {
                self.regions
                    .iter()
                    .find(|target| target.region == builtin.id)
                    .cloned()
                    .unwrap_or_else(|| RegionEndpoint::public(builtin))
            })
            .collect();
        targets.extend(
            self.regions.iter().filter(|target| Region::find(&target.region).is_none()).cloned(),
        );
        targets
    }

    /// The workspace's dedicated host in `region` (or where the file's
    /// `[workspace-hosts.REGION]` moves it).
    ///
    /// # Errors
    ///
    /// [`NoWorkspaceHosts`] for a region that has none.
    pub fn workspace_endpoint(
        &self,
        region: &str,
        workspace: &WorkspaceId,
    ) -> Result<RegionEndpoint, NoWorkspaceHosts> {
        let moved = self.workspace_hosts.iter().find(|moved| moved.region == region);
        workspace::endpoint(region, workspace, moved)
    }

    /// The workspace's dedicated host in every region that has them, in the SDK's order.
    pub fn workspace_endpoints(&self, workspace: &WorkspaceId) -> Vec<RegionEndpoint> {
        WORKSPACE_REGIONS
            .iter()
            .filter_map(|region| self.workspace_endpoint(region, workspace).ok())
            .collect()
    }

    /// The endpoint of one region id, built-in or from the file.
    pub fn endpoint(&self, region: &str) -> Option<RegionEndpoint> {
        self.endpoints().into_iter().find(|target| target.region == region)
    }

    /// The endpoint of a region id the user gave (`--region`), or why there is none: the ids
    /// that are known, and the one asked for unless it looks like an API key pasted in the
    /// wrong place (so that an error never repeats a key).
    ///
    /// # Errors
    ///
    /// [`UnknownRegion`] for an id neither the table nor the file knows.
    pub fn find(&self, id: &str) -> Result<RegionEndpoint, UnknownRegion> {
        let endpoints = self.endpoints();
        if let Some(endpoint) = endpoints.iter().find(|target| target.region == id) {
            return Ok(endpoint.clone());
        }
        let keyish = KeyKind::of(id) != KeyKind::Unknown || id.len() > 40;
        Err(UnknownRegion {
            asked: (!keyish).then(|| id.to_string()),
            known: endpoints.into_iter().map(|endpoint| endpoint.region).collect(),
        })
    }
}

/// A region id that neither the built-in table nor `config.toml` knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRegion {
    /// The id asked for; `None` when it looks like an API key, which is never repeated.
    pub asked: Option<String>,
    /// Every known region id, in probe order.
    pub known: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::ApiShape;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/home/ana/.config/dashkey/config.toml"), text)
    }

    #[test]
    fn an_unknown_region_lists_the_known_ones_and_never_repeats_a_key() {
        let config =
            parse("[regions.eu-central-1]\nendpoint = \"https://eu.example.com\"\n").unwrap();
        assert_eq!(config.find("eu-central-1").unwrap().base, "https://eu.example.com");
        let unknown = config.find("mars-1").unwrap_err();
        assert_eq!(unknown.asked.as_deref(), Some("mars-1"));
        assert_eq!(unknown.known.first().map(String::as_str), Some(Region::all()[0].id));
        assert_eq!(unknown.known.last().map(String::as_str), Some("eu-central-1"));
        let key = "sk-0123456789abcdef0123456789abcdef";
        assert_eq!(config.find(key).unwrap_err().asked, None);
    }

    #[test]
    fn overrides_a_builtin_region_and_adds_a_new_one() {
        let config = parse(
            r#"
            [regions.ap-southeast-1]
            endpoint = "http://127.0.0.1:18080"   # a test server

            [regions.eu-central-1]
            endpoint = "https://gateway.example.com/"
            "#,
        )
        .unwrap();
        let targets = config.endpoints();
        let ids: Vec<&str> = targets.iter().map(|t| t.region.as_str()).collect();
        assert_eq!(
            ids,
            ["cn-beijing", "ap-southeast-1", "us-east-1", "cn-hongkong", "eu-central-1"]
        );
        let sg = config.endpoint("ap-southeast-1").unwrap();
        assert_eq!(sg.url(ApiShape::Native), "http://127.0.0.1:18080/api/v1");
        assert_eq!(sg.url(ApiShape::Compatible), "http://127.0.0.1:18080/compatible-mode/v1");
        assert_eq!(sg.url(ApiShape::WebSocket), "ws://127.0.0.1:18080/api-ws/v1/inference");
        assert_eq!(sg.name.as_deref(), Some("Singapore"));
        assert!(matches!(sg.origin, EndpointOrigin::Config { overrides_builtin: true, .. }));
        let eu = config.endpoint("eu-central-1").unwrap();
        assert_eq!(eu.base, "https://gateway.example.com");
        assert_eq!(eu.url(ApiShape::WebSocket), "wss://gateway.example.com/api-ws/v1/inference");
        assert_eq!(targets[0], RegionEndpoint::public(Region::default_region()));
    }

    #[test]
    fn plain_http_to_a_remote_host_is_refused_naming_file_and_region() {
        let error = parse("[regions.us-east-1]\nendpoint = \"http://dashscope-us.example.com\"\n")
            .unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, ConfigError::Endpoint { .. }), "{message}");
        assert!(message.contains("config.toml"), "{message}");
        assert!(message.contains("[regions.us-east-1]"), "{message}");
        assert!(message.contains("https"), "{message}");
        for loopback in ["http://localhost:1", "http://127.0.0.2:8080", "http://[::1]:9"] {
            parse(&format!("[regions.x]\nendpoint = \"{loopback}\"\n")).unwrap();
        }
    }

    #[test]
    fn refuses_paths_typos_and_bad_ids_but_keeps_unknown_tables_aside() {
        let path = parse("[regions.x]\nendpoint = \"https://h.example/api/v1\"\n").unwrap_err();
        assert!(path.to_string().contains("/api/v1"), "{path}");
        let typo = parse("[regions.x]\nendpont = \"https://h.example\"\n").unwrap_err();
        assert!(matches!(typo, ConfigError::Parse { .. }), "{typo}");
        let id = parse("[regions.Bad_Id]\nendpoint = \"https://h.example\"\n").unwrap_err();
        assert!(matches!(id, ConfigError::RegionId { .. }), "{id}");
        let scheme = parse("[regions.x]\nendpoint = \"ftp://h.example\"\n").unwrap_err();
        assert!(scheme.to_string().contains("ftp"), "{scheme}");
        let config = parse("[store]\nkind = \"file\"\n").unwrap();
        assert_eq!(config.ignored(), ["store"]);
        assert_eq!(config.endpoints().len(), Region::all().len());
    }

    #[test]
    fn workspace_hosts_move_per_region_and_are_checked_like_endpoints() {
        let config =
            parse("[workspace-hosts.eu-central-1]\nendpoint = \"http://127.0.0.1:9\"\n").unwrap();
        let ws = WorkspaceId::parse("ws-1").unwrap();
        assert_eq!(
            config.workspace_endpoint("eu-central-1", &ws).unwrap().base,
            "http://127.0.0.1:9"
        );
        let tokyo = config.workspace_endpoint("ap-northeast-1", &ws).unwrap();
        assert_eq!(tokyo.base, "https://ws-1.ap-northeast-1.maas.aliyuncs.com");
        assert_eq!(config.workspace_endpoints(&ws).len(), WORKSPACE_REGIONS.len());
        assert!(config.ignored().is_empty());
        let remote = parse("[workspace-hosts.eu-central-1]\nendpoint = \"http://ws.example\"\n");
        assert!(matches!(remote, Err(ConfigError::Endpoint { .. })));
    }

    #[test]
    fn a_missing_file_is_an_empty_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load_from(&dir.path().join("config.toml")).unwrap();
        assert!(config.path().is_none());
        assert!(config.regions().is_empty());
    }
}
