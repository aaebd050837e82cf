use super::*;
use crate::edit::session::SessionError;
use crate::shell::Shell;
use crate::store::desktop::MemorySession;
use crate::store::owned::parse_owned_posix;
use crate::{ApiKey, Os, vars};

const KEY: &str = "sk-0123456789abcdef0123456789abcdef";

fn settings(region: Option<&str>) -> Settings {
    Settings {
        key: ApiKey::verbatim(KEY),
        region: region.map(|id| crate::region::RegionEndpoint::builtin(id).unwrap()),
        openai_compatible: false,
        client_vars: Vec::new(),
        plan: None,
    }
}

#[test]
fn debug_of_plans_and_stored_values_never_shows_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let platform = Platform::simulated(Os::Linux, [("HOME", dir.path().to_str().unwrap())]);
    let options = SetOptions { no_modify_rc: true, ..SetOptions::default() };
    let plan = plan_set(&platform, &settings(None), &options, &Probes::default(), None).unwrap();
    assert!(!format!("{plan:?}").contains(KEY));
    apply(&plan, None).unwrap();
    let stored = load_stored(&platform).unwrap().unwrap();
    assert!(!format!("{stored:?}").contains(KEY));
    assert_eq!(stored.key().unwrap().expose(), KEY);
}

#[test]
fn env_sh_is_read_back_only_as_dashkey_writes_it() {
    for value in ["plain", "it's", "''", "a'b'c", "", "two words", "a\\b\"c$d"] {
        let text = format!("# Written by dashkey\nexport X={}\n", shell::quote_posix(value));
        let vars = parse_owned_posix(&text).unwrap();
        assert_eq!(vars[0].1.as_str(), value, "{text}");
    }
    // The same value spelt another way, or followed by anything, is not dashkey's line.
    for line in ["export X=plain", "export X=\"plain\"", "export X='a' # old", "export X='a';"] {
        assert_eq!(parse_owned_posix(&format!("# Written by dashkey\n{line}\n")), Err(2), "{line}");
    }
}

/// A Windows user `ana` under `dir`, and her roaming application data.
fn windows(dir: &std::path::Path) -> (Platform, std::path::PathBuf) {
    let home = dir.join("ana");
    let appdata = home.join("AppData/Roaming");
    let platform = Platform::simulated(
        Os::Windows,
        [("USERPROFILE", home.to_str().unwrap()), ("APPDATA", appdata.to_str().unwrap())],
    );
    (platform, appdata)
}

#[test]
fn windows_set_writes_the_registry_through_the_session_abstraction() {
    let dir = tempfile::tempdir().unwrap();
    let (platform, appdata) = windows(dir.path());
    let mut session = MemorySession::default();
    let options = SetOptions { no_modify_rc: true, ..SetOptions::default() };
    let plan_for = |session: &MemorySession| {
        plan_set(
            &platform,
            &settings(Some("ap-southeast-1")),
            &options,
            &Probes::default(),
            Some(session),
        )
        .unwrap()
    };
    let plan = plan_for(&session);
    let names: Vec<&str> = plan.session.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            vars::API_KEY,
            vars::HTTP_BASE_URL,
            vars::WEBSOCKET_BASE_URL,
            vars::COMPATIBLE_BASE_URL,
            vars::API_BASE,
            "WSLENV"
        ]
    );
    apply(&plan, Some(&mut session)).unwrap();
    assert_eq!(session.vars.get(vars::API_KEY).map(String::as_str), Some(KEY));
    assert_eq!(session.announcements, 1);
    assert!(appdata.join("dashkey/env.ps1").is_file());

    // A second identical set changes nothing; unset removes every variable it wrote.
    let again = plan_for(&session);
    assert!(again.is_empty(), "{:?}", again.changes.iter().map(|c| &c.path).collect::<Vec<_>>());
    let unset = plan_unset(&platform, &Probes::default(), Some(&session)).unwrap();
    apply(&unset, Some(&mut session)).unwrap();
    assert!(session.vars.is_empty());
    assert!(!appdata.join("dashkey").exists());
}

#[test]
fn windows_set_passes_the_variables_to_wsl_beside_the_users_entries_and_unset_takes_only_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (platform, _) = windows(dir.path());
    let mut session = MemorySession::default();
    let users = "USERPROFILE/p:DASHSCOPE_API_KEY/w";
    session.vars.insert("WSLENV".to_string(), users.to_string());
    let options = SetOptions { no_modify_rc: true, ..SetOptions::default() };
    let plan_for = |session: &MemorySession, openai: bool| {
        let mut settings = settings(Some("ap-southeast-1"));
        settings.openai_compatible = openai;
        plan_set(&platform, &settings, &options, &Probes::default(), Some(session)).unwrap()
    };
    apply(&plan_for(&session, true), Some(&mut session)).unwrap();
    // The user's own entry for the key stays the user's (and is not doubled).
    let expected = format!(
        "{users}:DASHSCOPE_HTTP_BASE_URL/u:DASHSCOPE_WEBSOCKET_BASE_URL/u:\
         DASHSCOPE_COMPATIBLE_BASE_URL/u:DASHSCOPE_API_BASE/u:OPENAI_API_KEY/u:OPENAI_BASE_URL/u"
    );
    assert_eq!(session.vars["WSLENV"], expected);
    assert!(plan_for(&session, true).is_empty());
    // Dropping the OpenAI variables drops their entries.
    apply(&plan_for(&session, false), Some(&mut session)).unwrap();
    assert_eq!(session.vars["WSLENV"], expected.replace(":OPENAI_API_KEY/u:OPENAI_BASE_URL/u", ""));
    // The user adds an entry after dashkey's; unset keeps it and the user's others.
    let edited = format!("{}:GOPATH/l", session.vars["WSLENV"]);
    session.vars.insert("WSLENV".to_string(), edited);
    let unset = plan_unset(&platform, &Probes::default(), Some(&session)).unwrap();
    apply(&unset, Some(&mut session)).unwrap();
    assert_eq!(session.vars["WSLENV"], format!("{users}:GOPATH/l"));
    assert_eq!(session.vars.len(), 1);
}

#[test]
fn windows_wslenv_that_dashkey_created_is_removed_by_unset_and_by_no_desktop() {
    let dir = tempfile::tempdir().unwrap();
    let (platform, _) = windows(dir.path());
    let mut session = MemorySession::default();
    let options = SetOptions { no_modify_rc: true, ..SetOptions::default() };
    let plan =
        plan_set(&platform, &settings(None), &options, &Probes::default(), Some(&session)).unwrap();
    apply(&plan, Some(&mut session)).unwrap();
    assert_eq!(session.vars["WSLENV"], "DASHSCOPE_API_KEY/u");
    let opt_out = SetOptions { no_desktop: true, ..options.clone() };
    let plan =
        plan_set(&platform, &settings(None), &opt_out, &Probes::default(), Some(&session)).unwrap();
    apply(&plan, Some(&mut session)).unwrap();
    assert!(session.vars.is_empty(), "{:?}", session.vars.keys());
    let plan =
        plan_set(&platform, &settings(None), &options, &Probes::default(), Some(&session)).unwrap();
    assert!(plan.session.is_empty(), "the opt-out is remembered");
    let gui = SetOptions { gui: true, ..options.clone() };
    let plan =
        plan_set(&platform, &settings(None), &gui, &Probes::default(), Some(&session)).unwrap();
    apply(&plan, Some(&mut session)).unwrap();
    assert_eq!(session.vars["WSLENV"], "DASHSCOPE_API_KEY/u");
    let unset = plan_unset(&platform, &Probes::default(), Some(&session)).unwrap();
    apply(&unset, Some(&mut session)).unwrap();
    assert!(session.vars.is_empty(), "{:?}", session.vars.keys());
}

#[test]
fn macos_set_writes_a_launch_agent_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let platform = Platform::simulated(Os::MacOs, [("HOME", dir.path().to_str().unwrap())]);
    let options = SetOptions { no_modify_rc: true, ..SetOptions::default() };
    let session = MemorySession::default();
    let plan =
        plan_set(&platform, &settings(None), &options, &Probes::default(), Some(&session)).unwrap();
    let agent = plan.changes.iter().find(|c| c.role == Role::Desktop).unwrap();
    assert!(agent.path.ends_with("Library/LaunchAgents/io.dashkey.environment.plist"));
    let text = String::from_utf8(agent.after.as_deref().unwrap().to_vec()).unwrap();
    assert!(!text.contains(KEY));
    assert_eq!(agent.mode, 0o600);
}

/// A session that refuses to set one variable, standing in for a registry that fails.
struct FailingSession {
    inner: MemorySession,
    refuse: &'static str,
}

impl SessionEnv for FailingSession {
    fn get(&self, name: &str) -> Result<Option<String>, SessionError> {
        self.inner.get(name)
    }
    fn set(&mut self, name: &str, value: &str) -> Result<(), SessionError> {
        if name == self.refuse {
            return Err(SessionError {
                op: "set",
                name: name.to_string(),
                store: "test session",
                detail: "refused".to_string(),
            });
        }
        self.inner.set(name, value)
    }
    fn remove(&mut self, name: &str) -> Result<(), SessionError> {
        self.inner.remove(name)
    }
}

#[test]
fn a_failed_session_change_puts_back_the_session_and_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let (platform, appdata) = windows(dir.path());
    let mut inner = MemorySession::default();
    inner.set(vars::API_KEY, "sk-the-old-one-0123456789abcdef").unwrap();
    let mut session = FailingSession { inner, refuse: vars::COMPATIBLE_BASE_URL };
    let options = SetOptions { no_modify_rc: true, ..SetOptions::default() };
    let plan = plan_set(
        &platform,
        &settings(Some("ap-southeast-1")),
        &options,
        &Probes::default(),
        Some(&session),
    )
    .unwrap();
    let error = apply(&plan, Some(&mut session)).unwrap_err();
    assert!(matches!(error, ApplyError::Applied { .. }), "{error}");
    assert!(error.to_string().contains("nothing changed"), "{error}");
    // The key set before the failure is back to the old one; the new base URLs are gone.
    assert_eq!(
        session.inner.vars.get(vars::API_KEY).map(String::as_str),
        Some("sk-the-old-one-0123456789abcdef")
    );
    assert_eq!(session.inner.vars.len(), 1, "{:?}", session.inner);
    assert!(!appdata.join("dashkey").exists());
}

#[test]
fn a_failed_write_restores_everything() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    std::fs::write(home.join(".bashrc"), "original\n").unwrap();
    // ~/.dashscope is a file, so the SDK key file cannot be written: apply fails mid-way.
    std::fs::write(home.join(".dashscope"), "not a directory").unwrap();
    let platform = Platform::simulated(Os::Linux, [("HOME", home.to_str().unwrap())]);
    let options = SetOptions { shells: Some(vec![Shell::Bash]), ..SetOptions::default() };
    let plan = plan_set(&platform, &settings(None), &options, &Probes::default(), None).unwrap();
    let error = apply(&plan, None).unwrap_err();
    assert!(error.to_string().contains("api_key"), "{error}");
    assert_eq!(std::fs::read_to_string(home.join(".bashrc")).unwrap(), "original\n");
    assert!(!home.join(".config/dashkey").exists());
}

#[test]
fn status_reads_env_sh_with_the_parser_that_set_and_unset_trust() {
    let dir = tempfile::tempdir().unwrap();
    let platform = Platform::simulated(Os::Linux, [("HOME", dir.path().to_str().unwrap())]);
    let options = SetOptions { no_modify_rc: true, ..SetOptions::default() };
    let plan = plan_set(&platform, &settings(None), &options, &Probes::default(), None).unwrap();
    apply(&plan, None).unwrap();
    let dashkey = |platform: &Platform| {
        scan(platform).into_iter().find(|c| c.kind == PlaceKind::Dashkey).unwrap()
    };
    assert_eq!(dashkey(&platform).value().unwrap().expose(), KEY);
    assert_eq!(load_stored(&platform).unwrap().unwrap().key().unwrap().expose(), KEY);

    // A hand-edited line: status shows what a shell would load; set and unset refuse it.
    let env_sh = owned_path(&platform.dashkey_dir().unwrap(), shell::Dialect::Posix);
    std::fs::write(&env_sh, "# Written by dashkey\nexport DASHSCOPE_API_KEY=sk-plain\n").unwrap();
    assert_eq!(dashkey(&platform).value().unwrap().expose(), "sk-plain");
    assert!(matches!(load_stored(&platform), Err(PersistError::ForeignOwnedFile { line: 2, .. })));
}

#[test]
fn a_set_without_a_region_takes_dashkeys_base_url_out_of_config_toml() {
    let dir = tempfile::tempdir().unwrap();
    let platform = Platform::simulated(Os::Linux, [("HOME", dir.path().to_str().unwrap())]);
    let options = SetOptions { no_modify_rc: true, ..SetOptions::default() };
    let config = dir.path().join(".dashscope/config.toml");
    let users = "# mine\ntimeout = 30\n";
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, users).unwrap();
    let with = settings(Some("ap-southeast-1"));
    apply(&plan_set(&platform, &with, &options, &Probes::default(), None).unwrap(), None).unwrap();
    let merged = std::fs::read_to_string(&config).unwrap();
    assert!(merged.starts_with(users) && merged.contains("dashscope-intl"), "{merged}");
    // The region dropped: the file is the user's again, byte for byte, and the backup goes.
    let plan = plan_set(&platform, &settings(None), &options, &Probes::default(), None).unwrap();
    apply(&plan, None).unwrap();
    assert_eq!(std::fs::read_to_string(&config).unwrap(), users);
    let backup = platform.dashkey_dir().unwrap().join(SDK_CONFIG_BACKUP);
    assert!(!backup.exists());
    // A file dashkey created goes entirely.
    std::fs::remove_file(&config).unwrap();
    apply(&plan_set(&platform, &with, &options, &Probes::default(), None).unwrap(), None).unwrap();
    assert!(config.exists());
    let plan = plan_set(&platform, &settings(None), &options, &Probes::default(), None).unwrap();
    apply(&plan, None).unwrap();
    assert!(!config.exists());
}

#[test]
fn a_session_value_written_over_with_force_is_put_back_by_unset_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (platform, _) = windows(dir.path());
    let mut session = MemorySession::default();
    let users = "sk-openai users own\tvalue ";
    session.vars.insert(vars::OPENAI_API_KEY.to_string(), users.to_string());
    session.vars.insert("PATH".to_string(), "C:\\bin".to_string());
    let options = SetOptions { no_modify_rc: true, ..SetOptions::default() };
    let mut settings = settings(Some("ap-southeast-1"));
    settings.openai_compatible = true;
    let plan =
        plan_set(&platform, &settings, &options, &Probes::default(), Some(&session)).unwrap();
    apply(&plan, Some(&mut session)).unwrap();
    assert_eq!(session.vars[vars::OPENAI_API_KEY], KEY);
    // A second set (rotation) keeps the user's value displaced, not dashkey's own.
    let again =
        plan_set(&platform, &settings, &options, &Probes::default(), Some(&session)).unwrap();
    apply(&again, Some(&mut session)).unwrap();
    let unset = plan_unset(&platform, &Probes::default(), Some(&session)).unwrap();
    apply(&unset, Some(&mut session)).unwrap();
    assert_eq!(session.vars[vars::OPENAI_API_KEY], users);
    assert_eq!(session.vars.len(), 2, "{:?}", session.vars.keys().collect::<Vec<_>>());
}

#[test]
fn a_profile_name_is_a_plain_word_and_nothing_else() {
    use crate::store::ProfileName;
    for good in ["default", "work", "a", "0", "cn-prod_2", &"a".repeat(32)] {
        assert_eq!(ProfileName::parse(good).map(|n| n.to_string()), Ok(good.to_string()));
    }
    for bad in ["", "Work", "-x", "_x", "a/b", "..", ".", "a b", "é", "a\n", &"a".repeat(33)] {
        assert!(ProfileName::parse(bad).is_err(), "{bad:?} was accepted");
    }
    assert!(ProfileName::default_profile().is_default());
}
