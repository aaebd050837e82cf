//! The unit-file reader against made-up unit trees.

use super::*;
use crate::platform::Os;
use std::fs;

fn platform(home: &Path, unit_path: &Path) -> Platform {
    Platform::simulated(
        Os::Linux,
        [
            ("HOME", home.to_str().unwrap().to_string()),
            ("SYSTEMD_UNIT_PATH", unit_path.to_str().unwrap().to_string()),
        ],
    )
}

#[test]
fn unit_names_get_their_type() {
    assert_eq!(unit_name("app"), "app.service");
    assert_eq!(unit_name("app.socket"), "app.socket");
    assert_eq!(unit_name("my.app"), "my.app.service");
    assert_eq!(template_of("web@8080.service"), Some(("web@.service".into(), "8080".into())));
}

#[test]
fn search_path_honours_systemd_unit_path_and_its_trailing_colon() {
    let p = Platform::simulated(Os::Linux, [("SYSTEMD_UNIT_PATH", "/a:/b")]);
    assert_eq!(unit_search_path(&p, false), [PathBuf::from("/a"), PathBuf::from("/b")]);
    let p = Platform::simulated(Os::Linux, [("SYSTEMD_UNIT_PATH", "/a:")]);
    let dirs = unit_search_path(&p, false);
    assert_eq!(dirs[0], PathBuf::from("/a"));
    assert!(dirs.contains(&PathBuf::from("/etc/systemd/system")));
    let p = Platform::simulated(Os::Linux, [("HOME", "/home/ana")]);
    assert!(unit_search_path(&p, true).contains(&PathBuf::from("/home/ana/.config/systemd/user")));
}

#[test]
fn environment_words_quotes_escapes_and_continuations() {
    assert_eq!(
        split_words(r#""A=one two" B='x y' C=plain D=a\"b"#),
        ["A=one two", "B=x y", "C=plain", "D=a\"b"]
    );
    let entries = unit_entries("[Service]\nEnvironment=A=1 \\\n  B=2\n# c\nUser=ana\n");
    assert_eq!(entries[0], ("Service".into(), "Environment".into(), "A=1  B=2".into(), 2));
    assert_eq!(entries[1].1, "User");
}

#[test]
fn dropins_override_the_unit_files_are_read_and_resets_apply() {
    let dir = tempfile::tempdir().unwrap();
    let units = dir.path().join("units");
    fs::create_dir_all(units.join("app.service.d")).unwrap();
    fs::create_dir_all(units.join("service.d")).unwrap();
    fs::write(
        units.join("app.service"),
        "[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\nEnvironment=DASHSCOPE_API_KEY=sk-unit OTHER=1\n",
    )
    .unwrap();
    let env_file = dir.path().join("key.env");
    fs::write(&env_file, "# key\nDASHSCOPE_API_KEY=\"sk-file\"\n").unwrap();
    fs::write(
        units.join("app.service.d/20-file.conf"),
        format!(
            "[Service]\nEnvironmentFile=-{}\nEnvironmentFile=-/nonexistent\n",
            env_file.display()
        ),
    )
    .unwrap();
    fs::write(units.join("service.d/10-pass.conf"), "[Service]\nPassEnvironment=LANG\n").unwrap();
    let p = platform(dir.path(), &units);
    let unit = find_unit(&p, "app", None).unwrap().unwrap();
    assert!(!unit.user && !unit.masked);
    assert_eq!(unit.dropins.len(), 2);
    assert!(unit.dropins[0].ends_with("service.d/10-pass.conf"));
    let var = unit.variable("DASHSCOPE_API_KEY");
    let (value, origin) = var.value.clone().unwrap();
    assert_eq!(value, "sk-file");
    assert_eq!(origin, UnitOrigin::EnvironmentFile(Location { file: env_file, line: 2 }));
    assert_eq!(var.files.len(), 2);
    assert_eq!(var.files[1].state, EnvFileState::Missing);

    // A later empty EnvironmentFile= forgets the file; Environment= still holds.
    fs::write(units.join("app.service.d/30-reset.conf"), "[Service]\nEnvironmentFile=\n").unwrap();
    let unit = find_unit(&p, "app.service", None).unwrap().unwrap();
    let var = unit.variable("DASHSCOPE_API_KEY");
    assert_eq!(var.value.unwrap().0, "sk-unit");
    assert!(var.files.is_empty());
    fs::write(
        units.join("app.service.d/40-unset.conf"),
        "[Service]\nUnsetEnvironment=DASHSCOPE_API_KEY\n",
    )
    .unwrap();
    let var = find_unit(&p, "app", None).unwrap().unwrap().variable("DASHSCOPE_API_KEY");
    assert!(var.unset && var.value.is_none());
}

#[test]
fn templates_and_specifiers() {
    let dir = tempfile::tempdir().unwrap();
    let units = dir.path().join("units");
    fs::create_dir_all(&units).unwrap();
    fs::write(
        units.join("web@.service"),
        "[Service]\nEnvironmentFile=%h/.config/%p/%i.env\nEnvironment=\"PCT=100%%\"\n",
    )
    .unwrap();
    let p = platform(dir.path(), &units);
    let unit = find_unit(&p, "web@blue", Some(true)).unwrap().unwrap();
    assert!(unit.user);
    let expected = dir.path().join(".config/web/blue.env");
    assert!(matches!(&unit.settings[0], EnvSetting::File { path, .. } if *path == expected));
    assert_eq!(unit.variable("PCT").value.unwrap().0, "100%");
    assert!(find_unit(&p, "absent", None).unwrap().is_none());
}

/// Masking is a link to `/dev/null`, which only a unix test can make.
#[cfg(unix)]
mod unix {
    use super::*;

    #[test]
    fn a_unit_linked_to_dev_null_is_masked() {
        let dir = tempfile::tempdir().unwrap();
        let units = dir.path().join("units");
        fs::create_dir_all(&units).unwrap();
        let p = platform(dir.path(), &units);
        std::os::unix::fs::symlink("/dev/null", units.join("gone.service")).unwrap();
        assert!(find_unit(&p, "gone", None).unwrap().unwrap().masked);
    }
}

#[test]
fn env_files_parse_quotes_comments_and_continuations() {
    let parsed = parse_env_file(
        "# c\n; c\nA=1\nB='two words'\nC=\"x\\\"y\"\nD=a\\\nb\n  E = e \nbad line\n",
    );
    let pairs: Vec<(&str, &str)> =
        parsed.iter().map(|(n, v, _)| (n.as_str(), v.as_str())).collect();
    assert_eq!(pairs, [("A", "1"), ("B", "two words"), ("C", "x\"y"), ("D", "ab"), ("E", "e")]);
}
