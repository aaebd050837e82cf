//! Workspace profiles: `set --workspace ID` writes the workspace's dedicated host
//! (`{ws}.{region}.maas.aliyuncs.com`) and the variables both surfaces of the real Python SDK
//! read, so that a new login shell's SDK resolves that host on its own; the id is checked as
//! the SDK checks it; `profiles`, `use`, rotation and `unset` carry it; `verify` asks the
//! workspace hosts (fake-dashscope playing them), where only that workspace's keys work.

#![cfg(unix)]

mod common;

use common::{KEY, OTHER_KEY, Sandbox, snapshot, tool};
use dashkey::region::WORKSPACE_REGIONS;
use fake_dashscope::{FakeDashScope, Running};

/// `set` without the online check, the key on stdin.
fn set(sandbox: &Sandbox, key: &str, extra: &[&str]) -> common::Run {
    let mut args = vec!["set", "--stdin", "--offline"];
    args.extend_from_slice(extra);
    sandbox.run_bounded(&args, Some(key))
}

/// What the real SDK resolves in a new bash login shell: the 1.x surface's three URLs, then
/// `Client()`'s base URL, workspace and region.
fn sdk_in_login_shell(sandbox: &Sandbox, python: &std::path::Path) -> Vec<String> {
    let bash = tool("bash").expect("bash");
    let script = sandbox.root().join("probe.py");
    std::fs::write(
        &script,
        "import dashscope\n\
         print(dashscope.base_http_api_url)\n\
         print(dashscope.base_compatible_api_url)\n\
         print(dashscope.base_websocket_api_url)\n\
         c = dashscope.Client()\n\
         print(c._config.base_url)\n\
         print(c._config.workspace)\n\
         print(c._config.region)\n",
    )
    .unwrap();
    let run = common::login_shell(
        sandbox,
        &bash,
        &format!("'{}' -W error::UserWarning '{}'", python.display(), script.display()),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout.lines().map(str::to_string).collect()
}

fn expected(workspace: &str, region: &str) -> Vec<String> {
    let host = format!("{workspace}.{region}.maas.aliyuncs.com");
    vec![
        format!("https://{host}/api/v1"),
        format!("https://{host}/compatible-mode/v1"),
        format!("wss://{host}/api-ws/v1/inference"),
        format!("https://{host}/api/v1"),
        workspace.to_string(),
        region.to_string(),
    ]
}

#[test]
fn the_real_sdk_in_a_new_login_shell_resolves_the_workspace_host_on_both_surfaces() {
    let Some(python) = common::python_sdk() else { return };
    let sandbox = Sandbox::new();
    sandbox.write(".bashrc", "# bashrc\n");
    let pristine = snapshot(&sandbox.home);
    // Frankfurt has no public host: only workspace hosts.
    set(
        &sandbox,
        KEY,
        &["--shell", "bash", "--workspace", "ws-frank1", "--region", "eu-central-1"],
    )
    .expect_code(0);
    assert_eq!(sdk_in_login_shell(&sandbox, &python), expected("ws-frank1", "eu-central-1"));
    // The SDK's own resolution, from the region and workspace alone, lands there too.
    let env = String::from_utf8(sandbox.read(".config/dashkey/env.sh")).unwrap();
    for line in [
        "export DASHSCOPE_API_REGION='eu-central-1'",
        "export DASHSCOPE_WORKSPACE_ID='ws-frank1'",
        "export DASHSCOPE_REGION='eu-central-1'",
        "export DASHSCOPE_WORKSPACE='ws-frank1'",
    ] {
        assert!(env.contains(line), "{env}");
    }
    let without_urls: Vec<(String, String)> = env
        .lines()
        .filter_map(|line| line.strip_prefix("export ")?.split_once('='))
        .filter(|(name, _)| !name.ends_with("_URL") && *name != "DASHSCOPE_API_BASE")
        .map(|(name, value)| (name.to_string(), value.trim_matches('\'').to_string()))
        .collect();
    let (v1, v2, keyed) = common::launch_sdk_urls(&python, &without_urls);
    let host = "https://ws-frank1.eu-central-1.maas.aliyuncs.com/api/v1";
    assert_eq!((v1.as_str(), v2.as_str(), keyed), (host, host, true));

    // A public region, as a named profile, then in use.
    set(
        &sandbox,
        OTHER_KEY,
        &["--profile", "sg", "--workspace", "ws-sg2", "--region", "ap-southeast-1"],
    )
    .expect_code(0);
    assert_eq!(sdk_in_login_shell(&sandbox, &python), expected("ws-frank1", "eu-central-1"));
    sandbox.run_bounded(&["use", "sg"], None).expect_code(0);
    assert_eq!(sdk_in_login_shell(&sandbox, &python), expected("ws-sg2", "ap-southeast-1"));
    let listed = sandbox.run_bounded(&["profiles", "--json"], None).expect_code(0).json();
    let rows = listed["profiles"].as_array().unwrap();
    let row = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap().clone();
    assert_eq!(row("sg")["workspace"], "ws-sg2", "{listed}");
    assert_eq!(row("default")["workspace"], "ws-frank1", "{listed}");
    assert_eq!(row("default")["region"], "eu-central-1", "{listed}");
    let text = sandbox.run_bounded(&["profiles"], None).expect_code(0).stdout.clone();
    assert!(text.contains("ws-sg2") && text.contains("ws-frank1"), "{text}");

    // Rotation keeps the workspace; `use default` brings Frankfurt back.
    const NEW: &str = "sk-99999999999999999999999999999999";
    let mut sandbox = sandbox;
    sandbox.secret(NEW);
    set(&sandbox, NEW, &["--profile", "sg"]).expect_code(0);
    assert_eq!(sdk_in_login_shell(&sandbox, &python), expected("ws-sg2", "ap-southeast-1"));
    sandbox.run_bounded(&["use", "default"], None).expect_code(0);
    assert_eq!(sdk_in_login_shell(&sandbox, &python), expected("ws-frank1", "eu-central-1"));
    sandbox.run_bounded(&["unset"], None).expect_code(0);
    assert_eq!(snapshot(&sandbox.home), pristine);
}

#[test]
fn a_bad_workspace_id_or_a_region_without_workspace_hosts_changes_nothing() {
    let sandbox = Sandbox::new();
    sandbox
        .write(".config/dashkey/config.toml", "[regions.gw]\nendpoint = \"https://gw.example\"\n");
    set(&sandbox, KEY, &["--no-modify-rc", "--region", "cn-beijing"]).expect_code(0);
    let before = snapshot(&sandbox.home);
    for (args, says) in [
        (vec!["--workspace", "ws.evil.com"], "'ws.evil.com' is not a workspace id"),
        (vec!["--workspace=_ws"], "'_ws' is not a workspace id"),
        (vec!["--workspace", &"w".repeat(65)], "is not a workspace id"),
        (vec!["--workspace", "ws-1", "--region", "gw"], "the region 'gw' has no workspace hosts"),
        (vec!["--workspace", "ws-1", "--profile", "x", "--region", "gw"], "no workspace hosts"),
        (vec!["--region", "eu-central-1"], "has workspace hosts only: add --workspace ID"),
    ] {
        let run = set(&sandbox, OTHER_KEY, &args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains(OTHER_KEY));
        assert_eq!(snapshot(&sandbox.home), before, "{args:?} changed files");
    }
    // Offline, with no region to build the host from.
    let run = set(&sandbox, OTHER_KEY, &["--workspace", "ws-1", "--profile", "y"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("needs its region"), "{}", run.stderr);
    assert_eq!(snapshot(&sandbox.home), before);
}

/// The four public regions (accepting `KEY` in Singapore) and a workspace host per workspace
/// region (the one of `ws-sg` in Singapore accepting `WS_KEY`), all on loopback.
fn world(sandbox: &mut Sandbox) -> (Vec<Running>, Vec<Running>) {
    let public: Vec<Running> = common::fake_regions(sandbox, Some("ap-southeast-1"))
        .into_iter()
        .map(|(_, server)| server)
        .collect();
    let hosts: Vec<Running> = WORKSPACE_REGIONS
        .iter()
        .map(|region| {
            let builder = FakeDashScope::builder().region(*region).workspace("ws-sg");
            let builder =
                if *region == "ap-southeast-1" { builder.valid_key(WS_KEY) } else { builder };
            builder.start().unwrap()
        })
        .collect();
    let mut config = String::from_utf8(sandbox.read(".config/dashkey/config.toml")).unwrap();
    for (region, server) in WORKSPACE_REGIONS.iter().zip(&hosts) {
        config
            .push_str(&format!("[workspace-hosts.{region}]\nendpoint = \"{}\"\n\n", server.url()));
    }
    sandbox.write(".config/dashkey/config.toml", config);
    (public, hosts)
}

const WS_KEY: &str = "sk-5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

#[test]
fn set_and_verify_check_a_workspace_key_on_its_workspace_hosts() {
    let mut sandbox = Sandbox::new();
    sandbox.secret(WS_KEY);
    let (public, hosts) = world(&mut sandbox);
    // Found online: the workspace host of Singapore accepts it.
    let run = sandbox
        .run_bounded(&["set", "--stdin", "--no-modify-rc", "--workspace", "ws-sg"], Some(WS_KEY));
    run.expect_code(0);
    assert!(run.stderr.contains("accepts the key in ap-southeast-1"), "{}", run.stderr);
    for server in &public {
        assert!(server.requests().is_empty(), "{} was asked", server.region());
    }
    let asked = hosts[1].requests();
    assert!(
        asked.iter().all(|r| r.header("X-DashScope-WorkSpace") == Some("ws-sg")),
        "the workspace was not named"
    );
    let env = String::from_utf8(sandbox.read(".config/dashkey/env.sh")).unwrap();
    assert!(env.contains(&format!("DASHSCOPE_HTTP_BASE_URL='{}/api/v1'", hosts[1].url())), "{env}");

    // `verify` in a shell that loaded it asks the workspace hosts, not the public ones.
    let load = format!(
        ". \"$HOME/.config/dashkey/env.sh\" && exec '{}' verify --wait-all --json",
        common::dashkey_bin().display()
    );
    let out = sandbox.program("sh").args(["-c", &load]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{json}");
    assert_eq!(json["accepted_in"], serde_json::json!(["ap-southeast-1"]), "{json}");
    let checked: Vec<&str> = json["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["endpoint"].as_str().unwrap())
        .collect();
    let urls: Vec<String> = hosts.iter().map(Running::url).collect();
    assert_eq!(checked, urls, "{json}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(WS_KEY));

    // A standard key on the workspace hosts, and the workspace key on the public hosts: 401.
    let run = sandbox.run_bounded(
        &["set", "--stdin", "--no-modify-rc", "--workspace", "ws-sg", "--profile", "std"],
        Some(KEY),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("rejected this key"), "{}", run.stderr);
    let run = sandbox
        .run_bounded(&["verify", "--stdin", "--region", "ap-southeast-1", "--json"], Some(WS_KEY));
    assert_eq!(run.json()["verdict"], "rejected", "{}", run.stdout);
    // Another workspace's id: its hosts refuse the key like a wrong key.
    let run = sandbox.run_bounded(
        &["set", "--stdin", "--no-modify-rc", "--workspace", "ws-other", "--profile", "other"],
        Some(WS_KEY),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
}

/// `verify --stdin --workspace ID` checks a pasted workspace key on that workspace's hosts
/// (naming it in `X-DashScope-WorkSpace`), only the one of `--region` with it; a bad id is
/// refused as `set` refuses it, before any host is asked.
#[test]
fn verify_stdin_with_a_workspace_checks_the_pasted_key_on_its_hosts() {
    let mut sandbox = Sandbox::new();
    sandbox.secret(WS_KEY);
    let (public, hosts) = world(&mut sandbox);
    let asked = |servers: &[Running]| servers.iter().map(|s| s.requests().len()).sum::<usize>();
    let run =
        sandbox.run_bounded(&["verify", "--stdin", "--workspace", "ws.evil.com"], Some(WS_KEY));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("'ws.evil.com' is not a workspace id"), "{}", run.stderr);
    assert_eq!((asked(&public), asked(&hosts)), (0, 0));

    let args = ["verify", "--stdin", "--workspace", "ws-sg", "--wait-all", "--json"];
    let run = sandbox.run_bounded(&args, Some(WS_KEY));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let json = run.json();
    assert_eq!(json["accepted_in"], serde_json::json!(["ap-southeast-1"]), "{json}");
    let checked: Vec<&str> = json["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["endpoint"].as_str().unwrap())
        .collect();
    assert_eq!(checked, hosts.iter().map(Running::url).collect::<Vec<_>>(), "{json}");
    assert_eq!(asked(&public), 0, "no public host is asked");
    let requests = hosts[1].requests();
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| r.header("X-DashScope-WorkSpace") == Some("ws-sg")));
    assert!(!run.stdout.contains(WS_KEY) && !run.stderr.contains(WS_KEY));

    let args =
        ["verify", "--stdin", "--workspace", "ws-sg", "--region", "ap-southeast-1", "--json"];
    let json = sandbox.run_bounded(&args, Some(WS_KEY)).json();
    assert_eq!(json["regions"].as_array().unwrap().len(), 1, "{json}");
    assert_eq!(json["regions"][0]["endpoint"], hosts[1].url().as_str(), "{json}");
    assert_eq!(json["verdict"], "accepted", "{json}");
}

/// `run --region X` on a workspace profile hands over X's public URLs without the stored
/// workspace (its host serves its own region only), and says so.
#[test]
fn run_with_another_region_drops_the_workspace_of_a_workspace_profile() {
    let sandbox = Sandbox::new();
    sandbox.write(".bashrc", "# bashrc\n");
    set(
        &sandbox,
        KEY,
        &["--shell", "bash", "--workspace", "ws-frank1", "--region", "eu-central-1"],
    )
    .expect_code(0);
    let print = "printf '%s|%s|%s|%s|%s' \"$DASHSCOPE_WORKSPACE_ID\" \"$DASHSCOPE_WORKSPACE\" \
                 \"$DASHSCOPE_API_REGION\" \"$DASHSCOPE_REGION\" \"$DASHSCOPE_HTTP_BASE_URL\"";
    let run = sandbox.run_bounded(&["run", "--", "sh", "-c", print], None);
    run.expect_code(0);
    assert!(run.stdout.starts_with("ws-frank1|ws-frank1|"), "{}", run.stdout);
    let run =
        sandbox.run_bounded(&["run", "--region", "ap-southeast-1", "--", "sh", "-c", print], None);
    run.expect_code(0);
    assert_eq!(run.stdout, "||||https://dashscope-intl.aliyuncs.com/api/v1");
    assert!(run.stderr.contains("the workspace ws-frank1 is left out"), "{}", run.stderr);
}

#[test]
fn region_of_a_workspace_profile_not_in_use_moves_it_with_its_workspace() {
    let sandbox = Sandbox::new();
    sandbox.write(".bashrc", "# bashrc\n");
    set(&sandbox, KEY, &["--shell", "bash", "--region", "cn-beijing"]).expect_code(0);
    set(
        &sandbox,
        OTHER_KEY,
        &["--profile", "ws", "--workspace", "ws-frank1", "--region", "eu-central-1"],
    )
    .expect_code(0);
    // Tokyo has only workspace hosts: the profile moves there with its workspace, as
    // `region` moves the profile in use.
    sandbox.run_bounded(&["region", "--profile", "ws", "ap-northeast-1"], None).expect_code(0);
    let env = String::from_utf8(sandbox.read(".config/dashkey/profiles/ws/env.sh")).unwrap();
    for line in [
        "export DASHSCOPE_WORKSPACE_ID='ws-frank1'",
        "export DASHSCOPE_API_REGION='ap-northeast-1'",
        "export DASHSCOPE_HTTP_BASE_URL='https://ws-frank1.ap-northeast-1.maas.aliyuncs.com/api/v1'",
    ] {
        assert!(env.contains(line), "{env}");
    }
}
