use super::*;
use crate::shell::Probes;
use crate::store::{SetOptions, Settings, apply, plan_set};
use crate::{ApiKey, Os};

const KEY: &str = "sk-0123456789abcdef0123456789abcdef";
const INTL: &str = "https://dashscope-intl.aliyuncs.com/api/v1";

/// A home where `set --region ap-southeast-1` stored the key and hooked bash only.
fn stored_singapore() -> (tempfile::TempDir, Platform) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_str().unwrap().to_string();
    std::fs::write(
        dir.path().join(".bashrc"),
        "# ~/.bashrc\ncase $- in\n    *i*) ;;\n      *) return;;\nesac\nalias ll='ls -l'\n",
    )
    .unwrap();
    let platform =
        Platform::simulated(Os::Linux, [("HOME", home.as_str()), ("SHELL", "/bin/bash")]);
    let settings = Settings {
        key: ApiKey::verbatim(KEY),
        region: crate::region::RegionEndpoint::builtin("ap-southeast-1"),
        openai_compatible: false,
        client_vars: Vec::new(),
        plan: None,
    };
    let options =
        SetOptions { shells: Some(vec![crate::shell::Shell::Bash]), ..SetOptions::default() };
    let plan = plan_set(&platform, &settings, &options, &Probes::default(), None).unwrap();
    apply(&plan, None).unwrap();
    (dir, platform)
}

fn surface(row: &ContextReach, surface: Surface) -> &SurfaceReach {
    row.surfaces.iter().find(|s| s.surface == surface).unwrap()
}

#[test]
fn a_shell_less_process_gets_the_region_only_through_client_and_config_toml() {
    let (_dir, platform) = stored_singapore();
    let matrix = matrix(&platform, &Inputs::default());
    assert_eq!(matrix.key_region.as_deref(), Some("ap-southeast-1"));
    assert_eq!(matrix.key_region_from, Some(RegionKnown::Stored));
    let here = matrix.context(LaunchContext::ThisProcess).unwrap();
    let python = surface(here, Surface::Python1);
    assert!(python.key_ok(), "the SDK key file gives the key");
    assert_eq!(python.region.as_deref(), Some("cn-beijing"));
    assert_eq!(python.region_ok, Some(false));
    let client = surface(here, Surface::Python2);
    assert_eq!(client.url.as_deref(), Some(INTL));
    assert_eq!(client.region_ok, Some(true));
    assert!(!surface(here, Surface::Node).key_ok(), "Node reads only the variable");
}

#[test]
fn shells_that_read_the_hook_get_key_and_region_and_ssh_reads_bashrc_before_its_guard() {
    let (dir, platform) = stored_singapore();
    let matrix = matrix(&platform, &Inputs::default());
    for context in [LaunchContext::InteractiveShell, LaunchContext::SshCommand] {
        let row = matrix.context(context).unwrap();
        assert!(row.key_ok(), "{context:?}: {row:?}");
        assert!(row.wrong_region().is_empty(), "{context:?}: {row:?}");
    }
    // An export after the guard reaches terminal windows, never `ssh host cmd`.
    let bashrc = dir.path().join(".bashrc");
    let mut text = std::fs::read_to_string(&bashrc).unwrap();
    text.push_str("export DASHSCOPE_HTTP_BASE_URL='https://dashscope-us.aliyuncs.com/api/v1'\n");
    std::fs::write(&bashrc, text).unwrap();
    let matrix = super::matrix(&platform, &Inputs::default());
    let terminal = matrix.context(LaunchContext::InteractiveShell).unwrap();
    assert_eq!(surface(terminal, Surface::Python1).region.as_deref(), Some("us-east-1"));
    let ssh = matrix.context(LaunchContext::SshCommand).unwrap();
    assert_eq!(surface(ssh, Surface::Python1).region_ok, Some(true), "{ssh:?}");
}

#[test]
fn cron_takes_the_crontab_variables_and_sudo_keeps_only_what_the_policy_keeps() {
    let (dir, platform) = stored_singapore();
    let sudoers = dir.path().join("sudoers");
    std::fs::write(&sudoers, "Defaults env_reset\nDefaults env_keep += \"DASHSCOPE_*\"\n").unwrap();
    let inputs = Inputs {
        crontab: Some(format!("DASHSCOPE_HTTP_BASE_URL={INTL}\n* * * * * true\n")),
        sudoers: Some(sudoers.clone()),
        probed_region: None,
    };
    let matrix = matrix(&platform, &inputs);
    let cron = matrix.context(LaunchContext::Cron).unwrap();
    assert_eq!(surface(cron, Surface::Python1).region_ok, Some(true));
    assert_eq!(cron.given_by, vec!["the crontab".to_string()]);
    let sudo = matrix.context(LaunchContext::Sudo).unwrap();
    assert!(sudo.key_ok(), "the terminal's variables are kept: {sudo:?}");
    std::fs::write(&sudoers, "Defaults env_reset\n").unwrap();
    let matrix = super::matrix(&platform, &inputs);
    let sudo = matrix.context(LaunchContext::Sudo).unwrap();
    assert!(!surface(sudo, Surface::Python1).key_ok(), "{sudo:?}");
}

#[test]
fn with_no_known_region_nothing_is_judged_and_environment_d_feeds_the_desktop() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_str().unwrap().to_string();
    let conf = dir.path().join(".config/environment.d");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("60-dashkey.conf"),
        format!("DASHSCOPE_API_KEY={KEY}\nDASHSCOPE_HTTP_BASE_URL={INTL}\n"),
    )
    .unwrap();
    let platform = Platform::simulated(Os::Linux, [("HOME", home.as_str())]);
    let matrix = matrix(&platform, &Inputs::default());
    assert_eq!(matrix.key_region, None);
    let desktop = matrix.context(LaunchContext::Desktop).unwrap();
    assert!(desktop.key_ok());
    assert_eq!(surface(desktop, Surface::Python1).region.as_deref(), Some("ap-southeast-1"));
    assert!(desktop.surfaces.iter().all(|s| s.region_ok.is_none()));
    assert!(!format!("{matrix:?}").contains(KEY), "Debug never shows the key");
    let probed = Inputs { probed_region: Some("ap-southeast-1".into()), ..Inputs::default() };
    let matrix = super::matrix(&platform, &probed);
    assert_eq!(matrix.key_region_from, Some(RegionKnown::Probed));
    let desktop = matrix.context(LaunchContext::Desktop).unwrap();
    assert_eq!(surface(desktop, Surface::Python1).region_ok, Some(true));
}

#[test]
fn each_platform_has_its_own_rows() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_str().unwrap().to_string();
    let ids = |os| {
        let platform =
            Platform::simulated(os, [("HOME", home.as_str()), ("USERPROFILE", home.as_str())]);
        matrix(&platform, &Inputs::default()).contexts.iter().map(|r| r.context).collect::<Vec<_>>()
    };
    assert_eq!(ids(Os::Linux), LaunchContext::ALL.to_vec());
    assert!(!ids(Os::MacOs).contains(&LaunchContext::UserService));
    assert_eq!(ids(Os::Windows), vec![LaunchContext::ThisProcess, LaunchContext::Desktop]);
}

/// sudoers keeping the key alone (the `--preserve-env=DASHSCOPE_API_KEY` of a policy): the
/// sudo row has the key and calls Beijing, a ✗ for a Singapore key, not a ✓.
#[test]
fn sudo_keeping_only_the_key_is_the_wrong_region_for_a_singapore_key() {
    let (dir, platform) = stored_singapore();
    let sudoers = dir.path().join("sudoers");
    std::fs::write(&sudoers, "Defaults env_reset\nDefaults env_keep += \"DASHSCOPE_API_KEY\"\n")
        .unwrap();
    let inputs = Inputs { sudoers: Some(sudoers), ..Inputs::default() };
    let matrix = matrix(&platform, &inputs);
    let sudo = matrix.context(LaunchContext::Sudo).unwrap();
    let python = surface(sudo, Surface::Python1);
    assert!(python.key_ok(), "{sudo:?}");
    assert_eq!((python.region.as_deref(), python.region_ok), (Some("cn-beijing"), Some(false)));
    assert!(!sudo.wrong_region().is_empty());
}

/// With nothing for sudo to keep, its policy is not parsed, but whether it can be read still
/// decides the reason shown.
#[test]
fn sudo_with_nothing_to_keep_still_says_whether_the_policy_was_readable() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_str().unwrap().to_string();
    let platform = Platform::simulated(Os::Linux, [("HOME", home.as_str())]);
    let reason = |sudoers: &std::path::Path| {
        let inputs = Inputs { sudoers: Some(sudoers.to_path_buf()), ..Inputs::default() };
        let matrix = matrix(&platform, &inputs);
        let sudo = matrix.context(LaunchContext::Sudo).unwrap();
        assert!(!sudo.key_ok(), "{sudo:?}");
        match &sudo.coverage {
            Coverage::Partial(reason) => reason.clone(),
            other => panic!("sudo's row is always partial: {other:?}"),
        }
    };
    let sudoers = dir.path().join("sudoers");
    assert!(reason(&sudoers).contains("could not be read"), "a missing policy is said");
    std::fs::write(&sudoers, "Defaults env_reset\n@includedir /nonexistent\n").unwrap();
    assert_eq!(reason(&sudoers), "root's own key files are not read");
}
