use super::locate::is_dashscope;
use super::*;
use crate::key::ApiKey;
use crate::platform::Os;
use crate::platform::Platform;
use crate::region::{Plan, Region};
use crate::resolve::{CandidateVerdict, Skip};

const SG_KEY: &str = "sk-0123456789abcdef0123456789abcdef";

fn endpoints() -> Vec<RegionEndpoint> {
    Region::all().iter().map(RegionEndpoint::public).collect()
}

fn run(id: &str, env: &[(&str, &str)], key_region: Option<&str>) -> ClientResolution {
    let platform =
        Platform::simulated(Os::Linux, env.iter().copied().chain([("HOME", "/nonexistent-home")]));
    resolve(Client::find(id).unwrap(), &platform, &endpoints(), key_region)
}

#[test]
fn ids_are_unique_and_every_default_url_locates() {
    let ids: Vec<&str> = Client::ids().collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len());
    for client in &CATALOGUE {
        if let Some(url) = client.default_url
            && is_dashscope(url)
        {
            let (region, style, _) = locate(url, &endpoints());
            assert!(region.is_some(), "{}", client.id);
            assert_eq!(style, Some(client.style), "{}", client.id);
        }
    }
}

#[test]
fn litellm_without_its_base_calls_beijing_with_a_singapore_key() {
    let bare = run("litellm", &[("DASHSCOPE_API_KEY", SG_KEY)], Some("ap-southeast-1"));
    assert_eq!(bare.base.region.as_deref(), Some("cn-beijing"));
    assert_eq!(
        bare.problems,
        vec![Problem::WrongRegion {
            calls: "cn-beijing".into(),
            key_region: "ap-southeast-1".into()
        }]
    );
    let served = run(
        "litellm",
        &[
            ("DASHSCOPE_API_KEY", SG_KEY),
            (API_BASE, "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"),
        ],
        Some("ap-southeast-1"),
    );
    assert!(served.works(), "{:?}", served.problems);
    assert_eq!(served.base.source, UrlSource::Variable(API_BASE));
}

#[test]
fn litellm_rewrites_a_native_host_but_not_hong_kong() {
    let native = run(
        "litellm",
        &[("DASHSCOPE_API_KEY", SG_KEY), (API_BASE, "https://dashscope-intl.aliyuncs.com/api/v1")],
        None,
    );
    assert_eq!(
        native.base.url.as_deref(),
        Some("https://dashscope-intl.aliyuncs.com/compatible-mode/v1")
    );
    assert!(native.works());
    let hk = run(
        "litellm",
        &[("DASHSCOPE_API_KEY", SG_KEY), (API_BASE, "https://cn-hongkong.dashscope.aliyuncs.com")],
        None,
    );
    assert_eq!(hk.base.style, Some(Style::HostRoot));
    assert_eq!(
        hk.problems,
        vec![Problem::WrongStyle { got: Some(Style::HostRoot), want: Style::Compatible }]
    );
}

#[test]
fn openai_names_the_wrong_variable_the_native_url_and_the_whitespace_key() {
    let wrong_var = run("openai", &[("DASHSCOPE_API_KEY", SG_KEY)], None);
    assert_eq!(
        wrong_var.problems[0],
        Problem::NoKey { reads: vec!["OPENAI_API_KEY"], elsewhere: Some("DASHSCOPE_API_KEY") }
    );
    assert!(matches!(wrong_var.problems[1], Problem::NotDashScope { .. }));
    let native = run(
        "openai",
        &[
            ("OPENAI_API_KEY", SG_KEY),
            ("OPENAI_BASE_URL", "https://dashscope-intl.aliyuncs.com/api/v1"),
        ],
        Some("ap-southeast-1"),
    );
    assert_eq!(
        native.problems,
        vec![Problem::WrongStyle { got: Some(Style::Native), want: Style::Compatible }]
    );
    let padded = format!("{SG_KEY}\n");
    let spaced = run(
        "openai",
        &[
            ("OPENAI_API_KEY", padded.as_str()),
            ("OPENAI_BASE_URL", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"),
        ],
        Some("ap-southeast-1"),
    );
    assert!(matches!(
        &spaced.problems[..],
        [Problem::BadKey { problem: "whitespace", connection_error: true, .. }]
    ));
    // The Node client trims: the same value works there.
    let node = run(
        "openai-node",
        &[
            ("OPENAI_API_KEY", padded.as_str()),
            ("OPENAI_BASE_URL", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"),
        ],
        Some("ap-southeast-1"),
    );
    assert!(node.works(), "{:?}", node.problems);
    let empty_url = run("openai", &[("OPENAI_API_KEY", SG_KEY), ("OPENAI_BASE_URL", "")], None);
    assert!(matches!(&empty_url.problems[..], [Problem::BrokenUrl { .. }]));
}

#[test]
fn empty_values_count_as_set_where_the_client_says_so() {
    let qwq = run("langchain-qwq", &[("DASHSCOPE_API_KEY", "")], None);
    assert_eq!(qwq.problems, vec![Problem::EmptyKeySent { variable: "DASHSCOPE_API_KEY" }]);
    assert_eq!(qwq.base.region.as_deref(), Some("ap-southeast-1"));
    let community = run("langchain", &[("DASHSCOPE_API_KEY", "")], None);
    assert!(matches!(community.problems[0], Problem::NoKey { .. }));
    assert_eq!(community.candidates[0].verdict, CandidateVerdict::Skipped(Skip::Empty));
    let sdk = run("dashscope", &[("DASHSCOPE_API_KEY", "")], None);
    assert_eq!(sdk.problems, vec![Problem::EmptyKeySent { variable: "DASHSCOPE_API_KEY" }]);
}

#[test]
fn the_2_0_surface_skips_an_empty_variable_for_the_key_file() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".dashscope")).unwrap();
    std::fs::write(home.path().join(".dashscope/api_key"), format!("{SG_KEY}\n")).unwrap();
    let platform = Platform::simulated(
        Os::Linux,
        [("HOME", home.path().to_str().unwrap()), ("DASHSCOPE_API_KEY", "")],
    );
    let client = resolve(Client::find("dashscope-client").unwrap(), &platform, &endpoints(), None);
    assert!(client.works(), "{:?}", client.problems);
    assert!(matches!(client.key, Some((_, KeySource::File(_)))));
    let old = resolve(Client::find("dashscope").unwrap(), &platform, &endpoints(), None);
    assert!(matches!(&old.problems[..], [Problem::EmptyKeySent { .. }]));
    // qwen-agent: an empty variable moves on to the SDK's key file.
    let agent = resolve(Client::find("qwen-agent").unwrap(), &platform, &endpoints(), None);
    assert!(matches!(agent.key, Some((_, KeySource::File(_)))), "{:?}", agent.candidates);
}

#[test]
fn langchain_js_region_words_and_a_broken_one() {
    let sg = run(
        "langchain-js",
        &[("ALIBABA_API_KEY", SG_KEY), ("ALIBABA_REGION", "singapore")],
        Some("ap-southeast-1"),
    );
    assert!(sg.works(), "{:?}", sg.problems);
    let bad = run("langchain-js", &[("ALIBABA_API_KEY", SG_KEY), ("ALIBABA_REGION", "")], None);
    assert!(matches!(&bad.problems[..], [Problem::BrokenUrl { .. }]));
}

#[test]
fn a_configured_loopback_endpoint_counts_as_its_region_in_every_style() {
    let mut all = endpoints();
    let local = RegionEndpoint::from_base_url("http://127.0.0.1:18080").unwrap();
    all.push(RegionEndpoint { region: "ap-southeast-1".into(), ..local });
    for (path, style) in [
        ("/api/v1", Style::Native),
        ("/compatible-mode/v1/", Style::Compatible),
        ("/apps/anthropic", Style::Anthropic),
    ] {
        let url = format!("http://127.0.0.1:18080{path}");
        assert_eq!(locate(&url, &all), (Some("ap-southeast-1".into()), Some(style), None));
    }
}

#[test]
fn coding_plan_keys_and_hosts() {
    let coding_key = "sk-sp-0123456789abcdef0123456789abcdef";
    let standard = run(
        "claude-code",
        &[
            ("ANTHROPIC_AUTH_TOKEN", coding_key),
            ("ANTHROPIC_BASE_URL", "https://dashscope.aliyuncs.com/apps/anthropic"),
        ],
        None,
    );
    assert_eq!(standard.problems, vec![Problem::CodingKeyOnStandardHost]);
    let coding = run(
        "qwen-code",
        &[
            ("OPENAI_API_KEY", SG_KEY),
            ("OPENAI_BASE_URL", "https://coding-intl.dashscope.aliyuncs.com/v1"),
        ],
        None,
    );
    assert_eq!(coding.problems, vec![Problem::StandardKeyOnCodingHost]);
    let llama = run("llama-index", &[("DASHSCOPE_API_KEY", SG_KEY)], None);
    assert_eq!(llama.problems, vec![Problem::KeyInCode]);
}

#[test]
fn token_plan_keys_and_hosts_are_told_apart_by_the_host_that_accepted_the_key() {
    let plan_key = "sk-sp-0123456789abcdef0123456789abcdef";
    let token_host = "https://token-plan.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1";
    let openai = |key: &str, url: &str, key_host: Option<&str>| {
        run("openai", &[("OPENAI_API_KEY", key), ("OPENAI_BASE_URL", url)], key_host).problems
    };
    // A standard key on a Token Plan host, whatever its region.
    assert_eq!(
        openai(SG_KEY, token_host, Some("ap-southeast-1")),
        [Problem::StandardKeyOnTokenHost]
    );
    // A Token Plan key (set found it on `token-plan-intl`) on a standard host or a coding host.
    let standard = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1";
    assert_eq!(
        openai(plan_key, standard, Some("token-plan-intl")),
        [Problem::TokenKeyOnStandardHost]
    );
    let coding = run(
        "qwen-code",
        &[
            ("OPENAI_API_KEY", plan_key),
            ("OPENAI_BASE_URL", "https://coding-intl.dashscope.aliyuncs.com/v1"),
            ("OPENAI_MODEL", "qwen3-coder-plus"),
        ],
        Some("token-plan-intl"),
    );
    assert_eq!(coding.problems, [Problem::OtherPlanHost { key: Plan::Token, host: Plan::Coding }]);
    // The right host for its plan: nothing to say; an unknown plan on a plan host: nothing known.
    assert_eq!(openai(plan_key, token_host, Some("token-plan-intl")), []);
    assert_eq!(openai(plan_key, token_host, None), []);
    assert_eq!(
        openai(plan_key, token_host, Some("coding")),
        [Problem::OtherPlanHost { key: Plan::Coding, host: Plan::Token }]
    );
}

#[test]
fn every_variable_set_writes_for_a_client_has_a_value_and_is_one_dashkey_tracks() {
    let region = RegionEndpoint::builtin("ap-southeast-1").unwrap();
    let key = ApiKey::verbatim(SG_KEY);
    for client in &CATALOGUE {
        for name in client.set_vars {
            let openai = [vars::OPENAI_API_KEY, vars::OPENAI_BASE_URL].contains(name);
            assert!(openai || crate::store::CLIENT_VARS.contains(name), "{}: {name}", client.id);
            if !openai {
                assert!(crate::store::client_value(name, &key, &region).is_some(), "{name}");
            }
        }
    }
}
