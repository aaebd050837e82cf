use std::time::Instant;

use super::*;
use crate::key::ApiKey;
use crate::platform::Os;
use crate::region::EndpointOrigin;
use fake_dashscope::{FakeDashScope, Fault, KeyBehaviour, Running};

const KEY: &str = "sk-3f9a1c0b7d2e4f6a8b0c1d2e3f4a5b6c";

fn fast() -> Prober {
    Prober::new(HttpSettings::with_timeout(Duration::from_millis(500)))
}

fn target(server: &Running, region: &str) -> RegionEndpoint {
    RegionEndpoint::from_config(region, None, &server.url(), EndpointOrigin::BaseUrl).unwrap()
}

fn check(server: &Running) -> Probe {
    fast().probe(&ApiKey::verbatim(KEY), &target(server, "x")).unwrap()
}

#[test]
fn valid_rejected_and_each_valid_but_refused_state() {
    let server = FakeDashScope::builder()
        .valid_key(KEY)
        .key("sk-restricted", KeyBehaviour::Restricted)
        .key("sk-arrears", KeyBehaviour::Arrears)
        .key("sk-throttled", KeyBehaviour::Throttled)
        .start()
        .unwrap();
    let prober = fast();
    let target = target(&server, "x");
    let probe = |key: &str| prober.probe(&ApiKey::verbatim(key), &target).unwrap();
    let accepted = probe(KEY);
    assert_eq!(accepted.classification, Classification::Accepted);
    assert_eq!(accepted.api, ApiShape::Compatible);
    let rejected = probe("sk-unknown").classification;
    assert!(rejected.is_rejected(), "{rejected:?}");
    assert_eq!(rejected.answer().unwrap().code, "invalid_api_key");
    assert_eq!(probe("sk-restricted").classification.id(), "accepted-restricted");
    assert_eq!(probe("sk-arrears").classification.id(), "accepted-arrears");
    let throttled = probe("sk-throttled").classification;
    assert_eq!(throttled.id(), "accepted-throttled");
    assert!(throttled.is_accepted());
}

#[test]
fn falls_back_to_the_native_list_when_the_compatible_one_is_missing() {
    let server =
        FakeDashScope::builder().valid_key(KEY).without_compatible_models().start().unwrap();
    let probe = check(&server);
    assert_eq!(probe.classification, Classification::Accepted);
    assert_eq!(probe.api, ApiShape::Native);
    assert!(probe.url.ends_with("/api/v1/models?page_no=1&page_size=1"), "{}", probe.url);
    let rejected = fast().probe(&ApiKey::verbatim("sk-other"), &target(&server, "x")).unwrap();
    assert_eq!(rejected.classification.answer().unwrap().code, "InvalidApiKey");
    assert_eq!(rejected.classification.answer().unwrap().message, "Invalid API-key provided.");
}

#[test]
fn faults_are_classified_and_never_called_rejected() {
    let cases: [(Fault, &str, Option<UnreachableKind>); 6] = [
        (Fault::ServerError(503), "server-error", None),
        (Fault::MalformedJson, "unexpected", None),
        (Fault::Reset, "unreachable", Some(UnreachableKind::Connect)),
        (Fault::Stall, "unreachable", Some(UnreachableKind::Timeout)),
        (Fault::StallAfterHeaders, "unreachable", Some(UnreachableKind::Timeout)),
        (Fault::Redirect("https://elsewhere.example/x".into()), "unexpected", None),
    ];
    for (fault, id, kind) in cases {
        let server = FakeDashScope::builder().valid_key(KEY).fault(fault.clone()).start().unwrap();
        let classification = check(&server).classification;
        assert_eq!(classification.id(), id, "{fault:?}: {classification:?}");
        if let Some(kind) = kind {
            assert!(
                matches!(classification, Classification::Unreachable { kind: k, .. } if k == kind),
                "{fault:?}: {classification:?}"
            );
        }
        if let Fault::Redirect(_) = fault {
            let Classification::Unexpected { detail, .. } = &classification else { panic!() };
            assert!(detail.contains("elsewhere.example"), "{detail}");
            assert_eq!(server.requests().len(), 1, "the redirect must not be followed");
        }
    }
}

#[test]
fn latency_within_the_timeout_is_fine() {
    let server = FakeDashScope::builder()
        .valid_key(KEY)
        .fault(Fault::Latency(Duration::from_millis(150)))
        .start()
        .unwrap();
    assert_eq!(check(&server).classification, Classification::Accepted);
}

#[test]
fn a_closed_port_is_a_connection_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let target = RegionEndpoint::from_config(
        "x",
        None,
        &format!("http://127.0.0.1:{port}"),
        EndpointOrigin::BaseUrl,
    )
    .unwrap();
    let probe = fast().probe(&ApiKey::verbatim(KEY), &target).unwrap();
    assert!(
        matches!(
            probe.classification,
            Classification::Unreachable { kind: UnreachableKind::Connect, .. }
        ),
        "{:?}",
        probe.classification
    );
    assert_eq!(OnlineVerdict::of(&[probe]), OnlineVerdict::Unknown);
}

#[test]
fn probes_all_regions_concurrently_and_in_order() {
    // Every region answers only after 3 s. If all four requests arrive while the probe
    // is still waiting, they were in flight at the same time: probing is concurrent.
    // (How long it takes is measured by `scripts/bench online`, not asserted here.)
    let latency = Fault::Latency(Duration::from_secs(3));
    let servers: Vec<Running> = (0..4)
        .map(|i| {
            let builder = FakeDashScope::builder().fault(latency.clone());
            if i == 2 { builder.valid_key(KEY) } else { builder }.start().unwrap()
        })
        .collect();
    let targets: Vec<RegionEndpoint> =
        servers.iter().enumerate().map(|(i, s)| target(s, &format!("r{i}"))).collect();
    let probing = std::thread::spawn(move || {
        Prober::new(HttpSettings::with_timeout(Duration::from_secs(30)))
            .probe_all(&ApiKey::verbatim(KEY), &targets)
            .unwrap()
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while servers.iter().any(|s| s.requests().is_empty()) {
        assert!(Instant::now() < deadline, "not every region was asked");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!probing.is_finished(), "all four requests were sent before any answer came back");
    let probes = probing.join().unwrap();
    let ids: Vec<&str> = probes.iter().map(|p| p.classification.id()).collect();
    assert_eq!(ids, ["rejected", "rejected", "accepted", "rejected"]);
    assert_eq!(probes[2].endpoint.region, "r2");
    assert_eq!(OnlineVerdict::of(&probes), OnlineVerdict::Accepted);
}

#[test]
fn the_key_travels_only_in_the_authorization_header() {
    let server = FakeDashScope::builder().without_compatible_models().start().unwrap();
    check(&server);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert!(request.occurrences_outside_authorization(KEY).is_empty(), "{request:?}");
        assert_eq!(request.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    }
}

#[test]
fn keys_that_cannot_be_sent_are_refused_before_any_request() {
    let server = FakeDashScope::builder().start().unwrap();
    let target = target(&server, "x");
    for (value, error) in [
        ("", VerifyError::EmptyKey),
        (" sk-abc", VerifyError::UnsendableKey),
        ("sk-abc\r", VerifyError::UnsendableKey),
        ("sk-é", VerifyError::UnsendableKey),
    ] {
        assert_eq!(fast().probe(&ApiKey::verbatim(value), &target).unwrap_err(), error);
    }
    assert!(server.requests().is_empty());
}

#[test]
fn timeout_comes_from_the_environment_and_bad_values_are_refused() {
    let platform = Platform::simulated(Os::Linux, [(TIMEOUT_VAR, "250")]);
    let settings = HttpSettings::from_platform(&platform).unwrap();
    assert_eq!(settings.timeout, Duration::from_millis(250));
    assert_eq!(settings.connect_timeout, Duration::from_millis(250));
    for bad in ["0", "-1", "1.5", "fast", "600001"] {
        let platform = Platform::simulated(Os::Linux, [(TIMEOUT_VAR, bad)]);
        assert!(HttpSettings::from_platform(&platform).is_err(), "{bad}");
    }
    let none = Platform::simulated(Os::Linux, [("HOME", "/h")]);
    assert_eq!(HttpSettings::from_platform(&none).unwrap(), HttpSettings::default());
}

#[test]
fn probe_until_ends_after_the_grace_once_a_region_accepted() {
    // A 30 s timeout against a stall: only the grace can end this check while the stalled
    // region's request is still open (the thread below is a hang guard, not a timer).
    let stalled = FakeDashScope::builder().fault(Fault::Stall).start().unwrap();
    let accepting = FakeDashScope::builder().valid_key(KEY).start().unwrap();
    let rejecting = FakeDashScope::builder().start().unwrap();
    let targets = vec![target(&stalled, "a"), target(&accepting, "b"), target(&rejecting, "c")];
    let probing = std::thread::spawn(move || {
        Prober::new(HttpSettings::with_timeout(Duration::from_secs(30)))
            .probe_until(&ApiKey::verbatim(KEY), &targets, Wait::Grace(Duration::from_millis(300)))
            .unwrap()
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    while !probing.is_finished() {
        assert!(Instant::now() < deadline, "the check waited for the stalled region");
        std::thread::sleep(Duration::from_millis(20));
    }
    let probes = probing.join().unwrap();
    let ids: Vec<&str> = probes.iter().map(|p| p.classification.id()).collect();
    assert_eq!(ids, ["pending", "accepted", "rejected"]);
    assert_eq!(probes[0].endpoint.region, "a");
    assert_eq!(probes[0].classification.status(), None);
    assert!(!probes[0].classification.is_rejected() && !probes[0].classification.is_accepted());
    assert_eq!(OnlineVerdict::of(&probes), OnlineVerdict::Accepted);
}

// ---- scope "clients2": Coding Plan hosts ----

const CODING_KEY: &str = "sk-sp-3f9a1c0b7d2e4f6a8b0c1d2e3f4a5b6c";

#[test]
fn a_coding_plan_host_is_asked_at_v1_and_never_falls_back_to_the_native_api() {
    let coding = FakeDashScope::builder().coding_plan().valid_key(CODING_KEY).start().unwrap();
    let host = target(&coding, "coding-intl");
    assert!(is_coding(&host));
    let probe = fast().probe(&ApiKey::verbatim(CODING_KEY), &host).unwrap();
    assert_eq!(probe.classification, Classification::Accepted);
    assert!(probe.url.ends_with("/v1/models") && !probe.url.contains("compatible-mode"));
    // A standard key there is refused like a wrong key, as on the real service.
    let standard = fast().probe(&ApiKey::verbatim(KEY), &host).unwrap();
    assert_eq!(standard.classification.answer().unwrap().code, "invalid_api_key");
    // A host that has no model list at /v1 is "unexpected", not "rejected".
    let plain = FakeDashScope::builder().valid_key(KEY).start().unwrap();
    let probe = fast().probe(&ApiKey::verbatim(CODING_KEY), &target(&plain, "coding")).unwrap();
    assert_eq!(probe.classification.id(), "unexpected", "{:?}", probe.classification);
    assert_eq!(coding.requests().iter().filter(|r| r.path() == "/v1/models").count(), 2);
}

#[test]
fn plan_endpoints_are_the_four_public_hosts_unless_config_moves_one() {
    let public = plan_endpoints(&[]);
    let bases: Vec<&str> = public.iter().map(|t| t.base.as_str()).collect();
    assert_eq!(
        bases,
        [
            "https://coding.dashscope.aliyuncs.com",
            "https://coding-intl.dashscope.aliyuncs.com",
            "https://token-plan.cn-beijing.maas.aliyuncs.com",
            "https://token-plan.ap-southeast-1.maas.aliyuncs.com",
        ]
    );
    let plans: Vec<Option<Plan>> = public.iter().map(plan_of).collect();
    let (coding, token) = (Some(Plan::Coding), Some(Plan::Token));
    assert_eq!(plans, [coding, coding, token, token]);
    // A Token Plan host is checked on its compatible-mode list, like a standard host.
    assert_eq!(
        check_url(&public[3]),
        "https://token-plan.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1/models"
    );
    assert_eq!(check_url(&public[0]), "https://coding.dashscope.aliyuncs.com/v1/models");
    let moved = RegionEndpoint::from_config(
        "coding-intl",
        None,
        "http://127.0.0.1:9",
        EndpointOrigin::BaseUrl,
    )
    .unwrap();
    let targets = plan_endpoints(std::slice::from_ref(&moved));
    assert_eq!(targets[1], moved);
    assert!(!is_coding(&RegionEndpoint::builtin("ap-southeast-1").unwrap()));
    assert_eq!(plan_of(&RegionEndpoint::builtin("ap-southeast-1").unwrap()), None);
}
