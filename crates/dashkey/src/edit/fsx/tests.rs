use super::journal::{JOURNAL_MAGIC, JournalHeader, journal_path, overwrite, sha256_hex};
use super::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

#[test]
fn new_files_are_created_with_their_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    let written = write_atomic(&path, b"x", 0o600).unwrap();
    assert!(written.created);
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn existing_mode_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rc");
    fs::write(&path, "a").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    write_atomic(&path, b"b", 0o600).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
    assert_eq!(fs::read(&path).unwrap(), b"b");
}

#[test]
fn symlinks_are_followed_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("dotfiles")).unwrap();
    let target = dir.path().join("dotfiles/bashrc");
    fs::write(&target, "a\n").unwrap();
    let link = dir.path().join(".bashrc");
    symlink("dotfiles/bashrc", &link).unwrap();
    let written = write_atomic(&link, b"b\n", 0o600).unwrap();
    assert_eq!(written.real_path, target);
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(fs::read(&link).unwrap(), b"b\n");
}

#[test]
fn hard_links_are_edited_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    fs::write(&a, "1").unwrap();
    fs::hard_link(&a, &b).unwrap();
    write_atomic(&a, b"2", 0o600).unwrap();
    assert_eq!(fs::read(&b).unwrap(), b"2");
    assert_eq!(fs::metadata(&a).unwrap().ino(), fs::metadata(&b).unwrap().ino());
}

#[test]
fn a_torn_in_place_write_is_recovered_from_its_journal() {
    let dir = tempfile::tempdir().unwrap();
    let journals = dir.path().join("dashkey");
    fs::create_dir(&journals).unwrap();
    let a = dir.path().join("a");
    fs::write(&a, "old old old\n").unwrap();
    fs::hard_link(&a, dir.path().join("b")).unwrap();
    let options = WriteOptions {
        mode: 0o644,
        force_mode: false,
        follow_links: true,
        journal_dir: Some(&journals),
    };
    // Simulate a kill after the journal and half the write: journal the write, then tear it.
    let meta = fs::metadata(&a).unwrap();
    let (dev, ino) = sys::identity(&meta);
    let header = JournalHeader { path: a.clone(), dev, ino, new_sha256: sha256_hex(b"new\n") };
    let mut journal = JOURNAL_MAGIC.to_vec();
    journal.extend(serde_json::to_vec(&header).unwrap());
    journal.push(b'\n');
    journal.extend(b"old old old\n");
    write(&journal_path(&journals, dev, ino), &journal, &options).unwrap();
    overwrite(&a, b"new\n", (dev, ino), None).unwrap();
    fs::OpenOptions::new().write(true).open(&a).unwrap().set_len(8).unwrap();
    let torn = fs::read(&a).unwrap();
    assert_ne!(torn, b"old old old\n");
    assert_eq!(pending_journals(&journals).len(), 1);
    assert_eq!(recover(&journals), [Recovery::RestoredOld { path: a.clone() }]);
    assert_eq!(fs::read(dir.path().join("b")).unwrap(), b"old old old\n");
    assert!(pending_journals(&journals).is_empty());

    // A write that completed before the kill keeps its new bytes.
    write(&journal_path(&journals, dev, ino), &journal, &options).unwrap();
    overwrite(&a, b"new\n", (dev, ino), None).unwrap();
    assert_eq!(recover(&journals), [Recovery::KeptNew { path: a.clone() }]);
    assert_eq!(fs::read(&a).unwrap(), b"new\n");
    // And a normal in-place write leaves no journal.
    write(&a, b"newer\n", &options).unwrap();
    assert!(pending_journals(&journals).is_empty());
    assert_eq!(fs::read(dir.path().join("b")).unwrap(), b"newer\n");
}

#[test]
fn only_regular_files_are_written_and_own_places_refuse_links() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let error = write_atomic(&sub, b"x", 0o600).unwrap_err();
    assert!(error.to_string().contains("a directory, not a regular file"), "{error}");
    let victim = dir.path().join("victim");
    fs::write(&victim, "keep").unwrap();
    let link = dir.path().join("own");
    symlink(&victim, &link).unwrap();
    let own =
        WriteOptions { mode: 0o600, force_mode: true, follow_links: false, journal_dir: None };
    let error = write(&link, b"secret", &own).unwrap_err();
    assert!(error.to_string().contains("symbolic link"), "{error}");
    assert!(remove_own(&link).is_err());
    assert_eq!(fs::read(&victim).unwrap(), b"keep");
}

#[test]
fn a_wide_private_dir_is_narrowed_and_a_link_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dashkey");
    fs::create_dir(&path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o775)).unwrap();
    assert_eq!(secure_private_dir(&path).unwrap(), Some(0o775));
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(secure_private_dir(&path).unwrap(), None);
    let link = dir.path().join("link");
    symlink(&path, &link).unwrap();
    assert!(matches!(secure_private_dir(&link), Err(PrivateDirError::Symlink { .. })));
}

#[test]
fn private_dir_is_0700() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/dashkey");
    create_private_dir(&path).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o700);
}

#[test]
fn stale_temporaries_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join(".bashrc");
    fs::write(dir.path().join(".bashrc.dashkey-abc.tmp"), "torn").unwrap();
    fs::write(dir.path().join("keep"), "").unwrap();
    remove_stale_temporaries(&target);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}
