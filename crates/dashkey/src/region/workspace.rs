//! Workspace-dedicated hosts: `https://{workspace}.{region}.maas.aliyuncs.com`, which accept
//! only that workspace's keys.
//!
//! The workspace id becomes a DNS label of the host the key is sent to, so it is checked
//! exactly as the Python SDK checks it (`dashscope/common/env.py`, `validate_workspace_id`,
//! dashscope 2.0.2: `\A[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z`): an id the SDK would refuse at
//! import would otherwise be stored and break every program, and anything wider could move
//! the key to another host (`evil.com/x`).

use std::fmt;

use super::{EndpointOrigin, Region, RegionEndpoint, WORKSPACE_REGIONS};

/// A workspace id the SDK accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceId(String);

/// A workspace id the SDK would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a workspace id: the SDK takes 1 to 64 letters, digits, '_' or '-', starting \
     with a letter or digit (the id on the Model Studio workspace page, like ws-1a2b3c)"
)]
pub struct BadWorkspaceId(pub String);

impl WorkspaceId {
    /// Checks the id as `validate_workspace_id` does.
    ///
    /// # Errors
    ///
    /// [`BadWorkspaceId`] for anything else; a value that looks like a key is not repeated.
    pub fn parse(id: &str) -> Result<WorkspaceId, BadWorkspaceId> {
        let mut chars = id.chars();
        let first = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if first && rest && id.len() <= 64 {
            return Ok(WorkspaceId(id.to_string()));
        }
        let shown = if crate::key::KeyKind::of(id) == crate::key::KeyKind::Unknown {
            id.to_string()
        } else {
            "(that looks like a key)".to_string()
        };
        Err(BadWorkspaceId(shown))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A region with no workspace-dedicated hosts (a gateway named in `config.toml`, a typo).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the region '{region}' has no workspace hosts: use one of {}", WORKSPACE_REGIONS.join(", "))]
pub struct NoWorkspaceHosts {
    /// The region asked for.
    pub region: String,
}

/// The human names of the workspace regions that have no public host in [`Region::all`].
const WORKSPACE_ONLY_NAMES: [(&str, &str); 2] =
    [("ap-northeast-1", "Japan (Tokyo)"), ("eu-central-1", "Germany (Frankfurt)")];

/// The host of a workspace in a region (without scheme).
pub fn workspace_host(region: &str, workspace: &WorkspaceId) -> String {
    format!("{workspace}.{region}.maas.aliyuncs.com")
}

/// The endpoint of `workspace` in `region`: its dedicated host, or `moved` (the root
/// `config.toml` gives that region's workspace hosts: a gateway, a test server).
///
/// # Errors
///
/// [`NoWorkspaceHosts`] for a region outside [`WORKSPACE_REGIONS`].
pub fn endpoint(
    region: &str,
    workspace: &WorkspaceId,
    moved: Option<&RegionEndpoint>,
) -> Result<RegionEndpoint, NoWorkspaceHosts> {
    if !WORKSPACE_REGIONS.contains(&region) {
        return Err(NoWorkspaceHosts { region: region.to_string() });
    }
    let name = Region::find(region).map(|r| r.name).or_else(|| {
        WORKSPACE_ONLY_NAMES.iter().find(|(id, _)| *id == region).map(|(_, name)| *name)
    });
    let (base, origin) = match moved {
        Some(moved) => (moved.base.clone(), moved.origin.clone()),
        None => (format!("https://{}", workspace_host(region, workspace)), EndpointOrigin::Builtin),
    };
    Ok(RegionEndpoint {
        region: region.to_string(),
        name: name.map(str::to_string),
        base,
        origin,
        workspace: Some(workspace.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_as_the_sdk_checks_them() {
        for good in ["ws-1a2b3c", "A", "llm-xyz_9", &"a".repeat(64)] {
            assert_eq!(WorkspaceId::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "-ws", "_ws", "ws.x", "ws/x", "evil.com#", "ws x", "ws\n", &"a".repeat(65)]
        {
            assert!(WorkspaceId::parse(bad).is_err(), "{bad:?}");
        }
        let key = "sk-0123456789abcdef0123456789abcdef";
        assert!(!WorkspaceId::parse(&format!("{key}/")).unwrap_err().to_string().contains(key));
    }

    #[test]
    fn the_endpoint_is_the_workspace_host_of_the_region_or_where_config_moves_it() {
        let ws = WorkspaceId::parse("ws-1").unwrap();
        let eu = endpoint("eu-central-1", &ws, None).unwrap();
        assert_eq!(eu.native(), "https://ws-1.eu-central-1.maas.aliyuncs.com/api/v1");
        assert_eq!(eu.websocket(), "wss://ws-1.eu-central-1.maas.aliyuncs.com/api-ws/v1/inference");
        assert_eq!(eu.name.as_deref(), Some("Germany (Frankfurt)"));
        assert_eq!(eu.workspace.as_deref(), Some("ws-1"));
        let moved = RegionEndpoint::from_config(
            "ap-southeast-1",
            None,
            "http://127.0.0.1:9",
            EndpointOrigin::BaseUrl,
        )
        .unwrap();
        let sg = endpoint("ap-southeast-1", &ws, Some(&moved)).unwrap();
        assert_eq!(sg.base, "http://127.0.0.1:9");
        assert_eq!(sg.name.as_deref(), Some("Singapore"));
        assert_eq!(endpoint("my-gateway", &ws, None).unwrap_err().region, "my-gateway");
    }
}
