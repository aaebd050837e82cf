//! The text dashkey writes for shells: its owned files (one per dialect, holding the
//! variables) and the hook block that loads one from a startup file, guarded so that a
//! deleted owned file never makes a new shell print an error.

use std::path::Path;

use super::{Dialect, QuoteError, names, path_expression, quote_nuon};

/// The header every owned file starts with: what it is and how to change it.
const OWNED_HEADER: &str =
    "Written by dashkey. Change with `dashkey set`, remove with `dashkey unset`.";

/// The full text of the owned file in a dialect, holding these variables.
///
/// # Errors
///
/// [`QuoteError`] when a value cannot be represented in the dialect.
pub fn owned_file(dialect: Dialect, vars: &[(&str, &str)]) -> Result<String, QuoteError> {
    let mut out = String::new();
    if dialect == Dialect::Nu {
        // A NUON record: the hook loads it at run time with `load-env`, because nushell's
        // `source` is resolved at parse time and cannot be guarded against a missing file.
        out.push_str(&format!("# {OWNED_HEADER}\n{{\n"));
        for (name, value) in vars {
            out.push_str(&format!("  {name}: {}\n", quote_nuon(value)));
        }
        out.push_str("}\n");
        return Ok(out);
    }
    let comment = if dialect == Dialect::Cmd { "rem" } else { "#" };
    out.push_str(&format!("{comment} {OWNED_HEADER}\n"));
    for (name, value) in vars {
        out.push_str(&dialect.assignment(name, value)?);
        out.push('\n');
    }
    Ok(out)
}

/// The lines of the hook block that loads `owned` (an owned file) in `dialect`, guarded so
/// that a deleted owned file never makes a new shell print an error.
pub fn hook_lines(dialect: Dialect, owned: &Path, home: Option<&Path>) -> Vec<String> {
    let path = path_expression(dialect, owned, home);
    let comment =
        "# Loads the DashScope API key from a file dashkey owns; the key is not in this file.";
    let line = match dialect {
        Dialect::Posix => format!("if [ -f {path} ]; then . {path}; fi"),
        Dialect::Fish => format!("if test -f {path}; source {path}; end"),
        Dialect::Csh => format!("if ( -f {path} ) source {path}"),
        Dialect::Nu => {
            format!("if ({path} | path exists) {{ open --raw {path} | from nuon | load-env }}")
        }
        Dialect::PowerShell => format!("if (Test-Path {path}) {{ . {path} }}"),
        Dialect::Cmd => format!("if exist {path} call {path}"),
    };
    vec![comment.to_string(), line]
}

/// The hook block with the keyring store (`set --store keyring`). The other dialects' owned
/// files run `dashkey env` themselves, so their hook is the file store's; nushell's `env.nu`
/// is data, so its hook loads the file and then the key from dashkey (`exe`): `export
/// --format json` prints a record `load-env` takes (JSON is NUON), and `try` keeps a missing
/// or failing dashkey to the one line it says on stderr. The file store's hook stays byte for
/// byte what it was.
pub fn keyring_hook_lines(
    dialect: Dialect,
    owned: &Path,
    home: Option<&Path>,
    exe: &Path,
) -> Vec<String> {
    let mut lines = hook_lines(dialect, owned, home);
    if dialect == Dialect::Nu {
        let path = path_expression(dialect, owned, home);
        let exe = path_expression(dialect, exe, None);
        // Quoted arguments: `run-external` would read a bare `--format` as its own flag.
        lines[1] = format!(
            "if ({path} | path exists) {{ open --raw {path} | from nuon | load-env; \
             if ({exe} | path exists) {{ try {{ run-external {exe} 'export' '--format' 'json' \
             | from json | load-env }} }} }}"
        );
    }
    lines
}

/// Where a new hook block goes in a startup file: the end, except in a `.bashrc`, `.kshrc`
/// or `.mkshrc` that *starts* by returning early from non-interactive shells. Debian's and
/// Ubuntu's `.bashrc` begin that way, and `ssh host command` runs bash non-interactively
/// *through* `.bashrc`; Debian's `.kshrc` begins with `[[ -o interactive && -t 0 ]] ||
/// return`, which an interactive ksh without a terminal (`ksh -i` in a pipeline, an editor's
/// shell) takes. A hook after the guard would never run there, so it goes just before it.
/// Only the first
/// command of the file counts as a guard: the same words inside a function or an `if` later
/// on are not one, and the hook is appended as usual.
pub fn hook_offset(path: &Path, text: &str) -> usize {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if ![names::BASHRC, names::KSHRC, names::MKSHRC].contains(&name) {
        return text.len();
    }
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let code = line.trim();
        if code.is_empty() || code.starts_with('#') {
            offset += line.len();
            continue;
        }
        return if is_interactive_guard(code) { offset } else { text.len() };
    }
    text.len()
}

/// Whether a `.bashrc` command returns early from non-interactive shells (Debian's
/// `case $- in *i*) ;; *) return;; esac`, or `[ -z "$PS1" ] && return`). The reachability
/// matrix uses the same test for what `ssh host command` reads.
pub fn is_interactive_guard(code: &str) -> bool {
    code.starts_with("case $- in")
        || code.starts_with("case \"$-\" in")
        || (code.contains("return")
            && ["$-", "PS1", "-o interactive", "-t 0"].iter().any(|test| code.contains(test)))
}

/// The comment that opens the keyring part of an owned file (`set --store keyring`), followed
/// by the names whose value is the key: `dashkey env` prints them from the keyring.
pub const KEYRING_MARKER: &str = "# dashkey keyring:";

/// The line an owned file runs to load the key from the keyring, with `{}` where the
/// (quoted, absolute) path of dashkey goes, twice; `None` where the file cannot run a command
/// (nushell's is data, cmd has no hook).
fn keyring_template(dialect: Dialect) -> Option<[&'static str; 3]> {
    // Guarded by `-x`: a removed dashkey costs no error at every shell start; a keyring that
    // cannot be reached costs the one line `dashkey env` says on stderr.
    match dialect {
        Dialect::Posix => Some(["if [ -x ", " ]; then eval \"$(", " env --shell sh)\"; fi"]),
        Dialect::Fish => Some(["if test -x ", "; ", " env --shell fish | source; end"]),
        Dialect::Csh => Some(["if ( -x ", " ) eval \"`", " env --shell csh`\""]),
        Dialect::PowerShell => Some([
            "if (Test-Path ",
            ") { & ",
            " env --shell pwsh | Out-String | Invoke-Expression }",
        ]),
        Dialect::Nu | Dialect::Cmd => None,
    }
}

/// The keyring part of an owned file: the marker naming the key's variables, and the line
/// that runs `dashkey env` (`exe`) to load them. Empty where the dialect cannot run it.
pub fn keyring_lines(dialect: Dialect, exe: &Path, names: &[&str]) -> String {
    let Some([a, b, c]) = keyring_template(dialect) else { return String::new() };
    let exe = path_expression(dialect, exe, None);
    format!("{KEYRING_MARKER} {}\n{a}{exe}{b}{exe}{c}\n", names.join(" "))
}

/// Whether a line is the loader [`keyring_lines`] writes in this dialect (any dashkey path).
pub fn is_keyring_loader(dialect: Dialect, line: &str) -> bool {
    let Some([a, b, c]) = keyring_template(dialect) else { return false };
    let Some(rest) = line.strip_prefix(a).and_then(|rest| rest.strip_suffix(c)) else {
        return false;
    };
    let Some(twice) = rest
        .len()
        .checked_sub(b.len())
        .filter(|n| *n > 0 && n % 2 == 0 && rest.is_char_boundary(n / 2))
    else {
        return false;
    };
    let (first, tail) = rest.split_at(twice / 2);
    tail.strip_prefix(b).is_some_and(|second| second == first && !first.contains('\n'))
}

/// The names an owned file loads from the keyring, from its marker; `None` without one.
pub fn keyring_names(text: &str) -> Option<Vec<&str>> {
    text.lines()
        .find_map(|line| line.strip_prefix(KEYRING_MARKER))
        .map(|names| names.split_whitespace().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bashrc_hooks_go_before_the_non_interactive_guard() {
        let rc = Path::new("/h/.bashrc");
        let debian = "# comment\ncase $- in\n    *i*) ;;\n      *) return;;\nesac\nalias x=y\n";
        assert_eq!(hook_offset(rc, debian), "# comment\n".len());
        let oneliner = "[ -z \"$PS1\" ] && return\n";
        assert_eq!(hook_offset(rc, oneliner), 0);
        assert_eq!(hook_offset(rc, "alias x=y\n"), 10);
        let function = "export P=1\nf() {\n  case $- in\n    *i*) echo i;;\n  esac\n}\n";
        assert_eq!(hook_offset(rc, function), function.len(), "not a guard inside a function");
        assert_eq!(hook_offset(Path::new("/h/.profile"), debian), debian.len());
    }

    #[test]
    fn kshrc_hooks_go_before_debians_terminal_guard() {
        let skel = "# skip this setup for non-interactive shells\n[[ -o interactive && -t 0 ]] || return\n\nulimit -c 0\n";
        let first = "# skip this setup for non-interactive shells\n".len();
        assert_eq!(hook_offset(Path::new("/h/.kshrc"), skel), first);
        assert_eq!(hook_offset(Path::new("/h/.mkshrc"), skel), first);
        assert_eq!(hook_offset(Path::new("/h/.kshrc"), "alias x=y\n"), 10);
    }

    #[test]
    fn hooks_are_guarded_and_home_relative() {
        let home = Path::new("/home/ana");
        let owned = home.join(".config/dashkey/env.sh");
        let lines = hook_lines(Dialect::Posix, &owned, Some(home));
        assert_eq!(
            lines[1],
            "if [ -f \"$HOME/.config/dashkey/env.sh\" ]; then . \"$HOME/.config/dashkey/env.sh\"; fi"
        );
        let elsewhere = hook_lines(Dialect::Posix, Path::new("/etc/dk/env.sh"), Some(home));
        assert!(elsewhere[1].contains("'/etc/dk/env.sh'"));
        let ps =
            hook_lines(Dialect::PowerShell, Path::new("C:\\Users\\ana\\AppData\\env.ps1"), None);
        assert!(ps[1].starts_with("if (Test-Path 'C:\\Users\\ana\\AppData\\env.ps1')"));
    }

    #[test]
    fn with_the_keyring_store_only_nushells_hook_changes_and_it_loads_the_key_from_dashkey() {
        let home = Path::new("/home/ana");
        let exe = Path::new("/opt/my tools/dashkey");
        for dialect in Dialect::OWNED {
            let owned = home.join(".config/dashkey").join(dialect.owned_file_name());
            let file_store = hook_lines(dialect, &owned, Some(home));
            let keyring = keyring_hook_lines(dialect, &owned, Some(home), exe);
            if dialect != Dialect::Nu {
                assert_eq!(keyring, file_store, "{dialect:?}");
                continue;
            }
            assert_eq!(keyring[0], file_store[0]);
            let path = "($nu.home-path | path join \".config/dashkey/env.nu\")";
            assert_eq!(
                keyring[1],
                format!(
                    "if ({path} | path exists) {{ open --raw {path} | from nuon | load-env; \
                     if (r#'/opt/my tools/dashkey'# | path exists) {{ try {{ run-external \
                     r#'/opt/my tools/dashkey'# 'export' '--format' 'json' | from json | \
                     load-env }} }} }}"
                )
            );
            // The file store's part comes first, unchanged: a keyring that cannot be reached
            // still leaves the URLs.
            assert!(keyring[1].starts_with(file_store[1].trim_end_matches(" }")));
            for (open, close) in [('{', '}'), ('(', ')')] {
                let count = |c| keyring[1].chars().filter(|x| *x == c).count();
                assert_eq!(count(open), count(close), "{open}{close} balanced");
            }
        }
    }

    #[test]
    fn owned_files_hold_every_variable() {
        let vars = [("DASHSCOPE_API_KEY", "sk-1"), ("DASHSCOPE_HTTP_BASE_URL", "https://h/api/v1")];
        for dialect in Dialect::OWNED {
            let text = owned_file(dialect, &vars).unwrap();
            assert!(text.contains("sk-1") && text.contains("https://h/api/v1"), "{dialect}");
            assert!(text.starts_with('#'));
        }
        assert_eq!(
            owned_file(Dialect::Nu, &vars).unwrap().lines().nth(2).unwrap(),
            "  DASHSCOPE_API_KEY: \"sk-1\""
        );
    }

    #[test]
    fn the_keyring_loader_is_recognised_in_every_dialect_that_has_one() {
        let exe = Path::new("/opt/my tools/dashkey");
        for dialect in Dialect::OWNED {
            let text = keyring_lines(dialect, exe, &["DASHSCOPE_API_KEY", "OPENAI_API_KEY"]);
            let Some(loader) = text.lines().nth(1) else {
                assert!(matches!(dialect, Dialect::Nu), "{dialect:?} has no loader");
                continue;
            };
            assert!(is_keyring_loader(dialect, loader), "{dialect:?}: {loader}");
            assert_eq!(
                keyring_names(&text),
                Some(vec!["DASHSCOPE_API_KEY", "OPENAI_API_KEY"]),
                "{dialect:?}"
            );
            // Another command in the same shape is not dashkey's line.
            let other = loader.replace(" env --shell", " env; rm -rf ~; : --shell");
            assert!(!is_keyring_loader(dialect, &other), "{other}");
        }
    }
}
