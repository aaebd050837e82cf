//! Which region `set` writes beside a key: a decision over the online check, the region
//! asked for and the region stored before.
//!
//! The check says where the key works; the user may have asked for a region, and a rotation
//! has the region chosen last time. The rules, in order: a region that accepted the key wins,
//! preferring the one asked for, then the stored one; a region asked for that rejects the key
//! while another accepts it is a mistake to refuse (writing it would break every program); a
//! key rejected everywhere that answered is not stored; and with no answer (offline, or the
//! network silent) the region asked for, else the stored one, is kept unchecked. The decision
//! is pure so that it can be tested without a network; the binary phrases each case.

use super::{OnlineVerdict, Probe};
use crate::region::RegionEndpoint;

/// What `set` does with the region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionChoice {
    /// DashScope accepted the key here: write this region.
    Accepted(RegionEndpoint),
    /// The region asked for rejects the key, and another accepts it: store nothing.
    Mismatch {
        /// The region asked for.
        asked: String,
        /// The (first) region that accepted the key.
        accepted: String,
    },
    /// Every region that answered rejected the key: store nothing.
    Rejected,
    /// Not checked: the region asked for, else the one stored before (none: the SDK default).
    Unchecked {
        /// The region to write.
        region: Option<RegionEndpoint>,
        /// True when the check ran but no region said anything about the key.
        unheard: bool,
    },
}

/// Decides the region to write. `probes` is `None` when the key was not checked (offline, or
/// a key the check cannot judge); `stored` is the region id recorded by the last `set`.
pub fn choose_region(
    probes: Option<&[Probe]>,
    endpoints: &[RegionEndpoint],
    explicit: Option<&RegionEndpoint>,
    stored: Option<&str>,
) -> RegionChoice {
    let kept = || {
        explicit.cloned().or_else(|| {
            let id = stored?;
            endpoints.iter().find(|endpoint| endpoint.region == id).cloned()
        })
    };
    let Some(probes) = probes else {
        return RegionChoice::Unchecked { region: kept(), unheard: false };
    };
    let accepted: Vec<&RegionEndpoint> = probes
        .iter()
        .filter(|probe| probe.classification.is_accepted())
        .map(|probe| &probe.endpoint)
        .collect();
    match OnlineVerdict::of(probes) {
        OnlineVerdict::Accepted => {
            let preferred = explicit.map(|e| e.region.as_str()).or(stored);
            if let Some(explicit) = explicit
                && !accepted.iter().any(|endpoint| endpoint.region == explicit.region)
            {
                return RegionChoice::Mismatch {
                    asked: explicit.region.clone(),
                    accepted: accepted[0].region.clone(),
                };
            }
            let chosen = accepted
                .iter()
                .find(|endpoint| Some(endpoint.region.as_str()) == preferred)
                .unwrap_or(&accepted[0]);
            RegionChoice::Accepted((*chosen).clone())
        }
        OnlineVerdict::Rejected => RegionChoice::Rejected,
        OnlineVerdict::Unknown => RegionChoice::Unchecked { region: kept(), unheard: true },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::region::ApiShape;
    use crate::verify::{Classification, ServiceAnswer, UnreachableKind};

    fn endpoint(id: &str) -> RegionEndpoint {
        RegionEndpoint::builtin(id).unwrap()
    }

    fn probe(id: &str, classification: Classification) -> Probe {
        Probe {
            endpoint: endpoint(id),
            classification,
            url: String::new(),
            api: ApiShape::Compatible,
            elapsed: Duration::ZERO,
        }
    }

    fn rejected() -> Classification {
        Classification::Rejected(ServiceAnswer {
            status: 401,
            code: "InvalidApiKey".into(),
            message: String::new(),
            request_id: None,
        })
    }

    fn unreachable() -> Classification {
        Classification::Unreachable { kind: UnreachableKind::Timeout, detail: String::new() }
    }

    fn all() -> Vec<RegionEndpoint> {
        ["cn-beijing", "ap-southeast-1", "us-east-1"].map(endpoint).to_vec()
    }

    #[test]
    fn the_accepting_region_is_written_preferring_the_one_asked_for_then_the_stored_one() {
        let probes = [
            probe("cn-beijing", Classification::Accepted),
            probe("ap-southeast-1", Classification::Accepted),
            probe("us-east-1", rejected()),
        ];
        let choose = |explicit: Option<&str>, stored| {
            let explicit = explicit.map(endpoint);
            choose_region(Some(&probes), &all(), explicit.as_ref(), stored)
        };
        assert_eq!(choose(None, None), RegionChoice::Accepted(endpoint("cn-beijing")));
        assert_eq!(
            choose(None, Some("ap-southeast-1")),
            RegionChoice::Accepted(endpoint("ap-southeast-1"))
        );
        assert_eq!(
            choose(Some("ap-southeast-1"), Some("cn-beijing")),
            RegionChoice::Accepted(endpoint("ap-southeast-1"))
        );
        assert_eq!(
            choose(Some("us-east-1"), None),
            RegionChoice::Mismatch { asked: "us-east-1".into(), accepted: "cn-beijing".into() }
        );
    }

    #[test]
    fn a_rejected_key_is_refused_and_silence_keeps_the_region_asked_for_or_stored() {
        let rejected = [probe("cn-beijing", rejected()), probe("us-east-1", unreachable())];
        assert_eq!(choose_region(Some(&rejected), &all(), None, None), RegionChoice::Rejected);
        let silent = [probe("cn-beijing", unreachable())];
        let sg = endpoint("ap-southeast-1");
        assert_eq!(
            choose_region(Some(&silent), &all(), Some(&sg), Some("us-east-1")),
            RegionChoice::Unchecked { region: Some(sg.clone()), unheard: true }
        );
        assert_eq!(
            choose_region(None, &all(), None, Some("us-east-1")),
            RegionChoice::Unchecked { region: Some(endpoint("us-east-1")), unheard: false }
        );
        // A stored region that no endpoint knows any more falls back to the SDK default.
        assert_eq!(
            choose_region(None, &all(), None, Some("mars-north-1")),
            RegionChoice::Unchecked { region: None, unheard: false }
        );
    }
}
