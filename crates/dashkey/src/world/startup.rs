//! Which startup files each kind of shell session reads, in which order, and so which
//! assignment of a variable it ends up with.
//!
//! "Which of my five `export DASHSCOPE_API_KEY=` lines wins?" has a different answer per
//! session: a bash *login* shell (ssh, `bash -l`, macOS Terminal) reads only the first of
//! `.bash_profile`, `.bash_login`, `.profile`, and sees `.bashrc` only when that file sources
//! it; an interactive bash reads `.bashrc` only; zsh reads `.zshenv` always, `.zshrc` only
//! when interactive, so a zsh *script* misses whatever is in `.zshrc`; fish reads its
//! `conf.d` before `config.fish`. This module models those rules ([`Session`]), reads a
//! user's startup files once ([`Startup::read`]), and replays a session: every assignment of
//! a variable and every dashkey hook, in the order the shell meets them, following `.` and
//! `source` lines into other startup files. The last one met is the one that wins.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use memchr::memmem::Finder;

use crate::key::ApiKey;
use crate::platform::Platform;
use crate::shell::block;
use crate::shell::names::{
    BASH_LOGIN_FILES, BASHRC, FISH_CONFIG, FISH_HOOK, KSHRC, LOGIN, MKSHRC, PROFILE, TCSH_FILES,
    ZSH_FILES, ZSHENV, ZSHRC,
};
use crate::shell::{self, Probes, Shell};
use crate::world::dotfiles;
use crate::world::read::{self, Cap, ReadError};

/// One kind of shell session, which reads its own set of startup files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Session {
    /// bash as a login shell (ssh, `bash -l`, a macOS terminal).
    BashLogin,
    /// bash as an interactive, non-login shell (a terminal window on Linux).
    BashInteractive,
    /// zsh running a script or `zsh -c` (reads only `.zshenv`).
    ZshScript,
    /// zsh as an interactive, non-login shell.
    ZshInteractive,
    /// zsh as an interactive login shell (macOS Terminal).
    ZshLogin,
    /// sh or dash as a login shell.
    ShLogin,
    /// ksh as a login shell.
    KshLogin,
    /// ksh as an interactive shell (reads `$ENV`).
    KshInteractive,
    /// mksh as a login shell.
    MkshLogin,
    /// mksh as an interactive shell (reads `$ENV` or `~/.mkshrc`).
    MkshInteractive,
    /// Any fish (every fish reads the same files).
    Fish,
    /// tcsh that is not a login shell.
    Tcsh,
    /// tcsh as a login shell (also reads `.login`).
    TcshLogin,
}

impl Session {
    /// The sessions of one shell.
    pub fn of(shell: Shell) -> &'static [Session] {
        match shell {
            Shell::Bash => &[Session::BashLogin, Session::BashInteractive],
            Shell::Zsh => &[Session::ZshLogin, Session::ZshInteractive, Session::ZshScript],
            Shell::Sh => &[Session::ShLogin],
            Shell::Ksh => &[Session::KshLogin, Session::KshInteractive],
            Shell::Mksh => &[Session::MkshLogin, Session::MkshInteractive],
            Shell::Fish => &[Session::Fish],
            Shell::Tcsh => &[Session::TcshLogin, Session::Tcsh],
            Shell::Nu | Shell::PowerShell => &[],
        }
    }

    /// Which shell this is a session of.
    pub fn shell(self) -> Shell {
        match self {
            Session::BashLogin | Session::BashInteractive => Shell::Bash,
            Session::ZshScript | Session::ZshInteractive | Session::ZshLogin => Shell::Zsh,
            Session::ShLogin => Shell::Sh,
            Session::KshLogin | Session::KshInteractive => Shell::Ksh,
            Session::MkshLogin | Session::MkshInteractive => Shell::Mksh,
            Session::Fish => Shell::Fish,
            Session::Tcsh | Session::TcshLogin => Shell::Tcsh,
        }
    }

    /// A short description for reports (`bash login shells (ssh, bash -l)`).
    pub fn describe(self) -> &'static str {
        match self {
            Session::BashLogin => "bash login shells (ssh, bash -l, macOS Terminal)",
            Session::BashInteractive => "interactive bash (a new terminal window)",
            Session::ZshScript => "zsh scripts and zsh -c",
            Session::ZshInteractive => "interactive zsh",
            Session::ZshLogin => "zsh login shells (macOS Terminal, ssh)",
            Session::ShLogin => "sh/dash login shells",
            Session::KshLogin => "ksh login shells",
            Session::KshInteractive => "interactive ksh",
            Session::MkshLogin => "mksh login shells",
            Session::MkshInteractive => "interactive mksh",
            Session::Fish => "fish",
            Session::Tcsh => "tcsh",
            Session::TcshLogin => "tcsh login shells",
        }
    }
}

/// A line of a startup file, outside dashkey's block, that gives one of the watched
/// variables a value, and that value when it is literal. (`dotfiles::Assignment` is the same
/// line as a report names it, without the value.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueLine {
    /// 1-based line number.
    pub line: usize,
    /// The variable.
    pub name: &'static str,
    /// Whether the value is literal (not computed by the shell).
    pub literal: bool,
    /// The literal value, unquoted (a secret for the key).
    pub value: Option<ApiKey>,
}

/// One startup file that exists and could be read.
#[derive(Debug, Clone)]
pub struct StartupFile {
    /// The path as the shell opens it.
    pub path: PathBuf,
    /// The line of dashkey's begin marker, when the file has a hook.
    pub hook_line: Option<usize>,
    /// Assignments outside the block.
    pub assignments: Vec<ValueLine>,
    /// Some line ends in CRLF (a POSIX shell reads the CR as part of the line).
    pub crlf: bool,
    /// Lines that source another file: (line, path as the shell would resolve it).
    sources: Vec<(usize, PathBuf)>,
}

/// Something a session meets that sets a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An assignment line.
    Assignment {
        /// The file.
        path: PathBuf,
        /// The assignment.
        assignment: ValueLine,
    },
    /// dashkey's hook, which loads dashkey's own file.
    Hook {
        /// The file.
        path: PathBuf,
        /// The line of the block's begin marker.
        line: usize,
    },
}

impl Event {
    /// The file and line of the event.
    pub fn location(&self) -> (&Path, usize) {
        match self {
            Event::Assignment { path, assignment } => (path, assignment.line),
            Event::Hook { path, line } => (path, *line),
        }
    }
}

/// A user's startup files, read once.
#[derive(Debug, Clone, Default)]
pub struct Startup {
    files: Vec<StartupFile>,
    home: Option<PathBuf>,
    zdotdir: Option<PathBuf>,
    /// The files interactive ksh and mksh read.
    env_files: Option<(PathBuf, PathBuf)>,
    config: Option<PathBuf>,
    /// Files a shell may read that were refused (not regular files, too large).
    unread: Vec<ReadError>,
    /// Replays already computed, by session and variable.
    replays: RefCell<HashMap<(Session, String), Arc<Replay>>>,
    /// The files each session opens itself, once per session (a replay per variable asks).
    tops: RefCell<Vec<(Session, Arc<[PathBuf]>)>>,
}

impl Startup {
    /// Reads every startup file a shell of this user may read (missing, unreadable and
    /// non-UTF-8 files are left out; files that are not regular or too large are left out
    /// and listed by [`Startup::unread`]). Each file is read at most once, through
    /// [`crate::world::read`], so a FIFO or a device never blocks or floods the read.
    pub fn read(platform: &Platform) -> Startup {
        Startup::read_planned(platform, &[])
    }

    /// Like [`Startup::read`], with some files as they will be after an edit (`set` judges
    /// "which line wins" on the result, not on the past).
    pub fn read_planned(platform: &Platform, planned: &[(PathBuf, String)]) -> Startup {
        let home = platform.home();
        let zdotdir = platform.var_non_empty("ZDOTDIR").map(PathBuf::from).or_else(|| home.clone());
        // What interactive ksh and mksh read: `$ENV`, else their own default.
        let env_files = home.as_ref().map(|home| {
            (shell::env_file(platform, home, KSHRC), shell::env_file(platform, home, MKSHRC))
        });
        let mut candidates = dotfiles::candidate_files(platform, &Probes::default());
        if let Some(zdot) = &zdotdir {
            for name in ZSH_FILES {
                candidates.push(zdot.join(name));
            }
        }
        candidates.extend(env_files.iter().flat_map(|(ksh, mksh)| [ksh.clone(), mksh.clone()]));
        candidates.extend(planned.iter().map(|(path, _)| path.clone()));
        let mut files = Vec::new();
        let mut unread = Vec::new();
        for path in shell::dedup(candidates) {
            let text = match planned.iter().find(|(p, _)| *p == path) {
                Some((_, text)) => text.clone(),
                None => match read::read_text(&path, Cap::STARTUP) {
                    Ok(text) => text,
                    Err(error) => {
                        if error.refusal().is_some() {
                            unread.push(error);
                        }
                        continue;
                    }
                },
            };
            files.push(parse_file(path, &text, home.as_deref()));
        }
        Startup {
            files,
            home,
            zdotdir,
            env_files,
            config: platform.config_dir(),
            unread,
            replays: RefCell::default(),
            tops: RefCell::default(),
        }
    }

    /// The startup files that were not read because they are not regular files (a FIFO, a
    /// device) or are too large; a report says so instead of hanging on them.
    pub fn unread(&self) -> &[ReadError] {
        &self.unread
    }

    /// The files that exist.
    pub fn files(&self) -> &[StartupFile] {
        &self.files
    }

    /// One file, when it exists.
    pub fn file(&self, path: &Path) -> Option<&StartupFile> {
        self.files.iter().find(|file| file.path == path)
    }

    /// The files a session opens itself, in order (before following `source` lines).
    pub fn top_level(&self, session: Session) -> Vec<PathBuf> {
        let Some(home) = &self.home else { return Vec::new() };
        let zdot = self.zdotdir.clone().unwrap_or_else(|| home.clone());
        let (ksh_env, mksh_env) =
            self.env_files.clone().unwrap_or_else(|| (home.join(KSHRC), home.join(MKSHRC)));
        let first_existing = |names: &[&str]| -> Vec<PathBuf> {
            names.iter().map(|name| home.join(name)).find(|p| p.exists()).into_iter().collect()
        };
        match session {
            Session::BashLogin => first_existing(&BASH_LOGIN_FILES),
            Session::BashInteractive => vec![home.join(BASHRC)],
            Session::ZshScript => vec![zdot.join(ZSHENV)],
            Session::ZshInteractive => vec![zdot.join(ZSHENV), zdot.join(ZSHRC)],
            Session::ZshLogin => ZSH_FILES.iter().map(|name| zdot.join(name)).collect(),
            Session::ShLogin => vec![home.join(PROFILE)],
            Session::KshLogin => vec![home.join(PROFILE), ksh_env],
            Session::KshInteractive => vec![ksh_env],
            Session::MkshLogin => vec![home.join(PROFILE), mksh_env],
            Session::MkshInteractive => vec![mksh_env],
            Session::Fish => match &self.config {
                Some(config) => {
                    vec![config.join(FISH_HOOK), config.join(FISH_CONFIG)]
                }
                None => Vec::new(),
            },
            Session::Tcsh | Session::TcshLogin => {
                let mut files = first_existing(&TCSH_FILES);
                if session == Session::TcshLogin {
                    files.push(home.join(LOGIN));
                }
                files
            }
        }
    }

    /// [`Startup::top_level`], computed once per session.
    fn top_level_once(&self, session: Session) -> Arc<[PathBuf]> {
        if let Some((_, files)) = self.tops.borrow().iter().find(|(s, _)| *s == session) {
            return Arc::clone(files);
        }
        let files: Arc<[PathBuf]> = self.top_level(session).into();
        self.tops.borrow_mut().push((session, Arc::clone(&files)));
        files
    }

    /// Whether the assignment at `path:line` is met after a dashkey hook in some session of
    /// some shell, so that its value replaces dashkey's there.
    pub fn overrides_hook(&self, path: &Path, line: usize, name: &str) -> bool {
        Shell::ALL.iter().flat_map(|shell| Session::of(*shell)).any(|session| {
            let replay = self.replay(*session, name);
            let this = replay.position.get(&(path.to_path_buf(), line));
            matches!((replay.first_hook, this), (Some(hook), Some(&this)) if this > hook)
        })
    }

    /// Every assignment of `name` and every dashkey hook a session meets, in order. The last
    /// one is what the session ends up with.
    ///
    /// A file sourced several times counts where it is sourced last (what it sets then is
    /// what stays), so each event appears once, at its last place. This keeps the replay
    /// linear in the size of the files: 1,000 `. ~/.profile` lines walk `.profile` once,
    /// not 1,000 times (and a thousand times more for each file it sources in turn).
    pub fn events(&self, session: Session, name: &str) -> Events {
        Events(self.replay(session, name))
    }

    /// The replay of one session for one variable, computed once and remembered.
    fn replay(&self, session: Session, name: &str) -> Arc<Replay> {
        let key = (session, name.to_string());
        if let Some(replay) = self.replays.borrow().get(&key) {
            return Arc::clone(replay);
        }
        // Walked backwards: the first time a file is met is its last sourcing, and a file
        // already walked (or being walked: a loop) is not walked again.
        let mut events = Vec::new();
        let mut walked = HashSet::new();
        for path in self.top_level_once(session).iter().rev() {
            self.walk_back(path, name, &mut events, &mut walked, 0);
        }
        events.reverse();
        let first_hook = events.iter().position(|e| matches!(e, Event::Hook { .. }));
        let position = events
            .iter()
            .enumerate()
            .map(|(index, event)| {
                let (path, line) = event.location();
                ((path.to_path_buf(), line), index)
            })
            .collect();
        let replay = Arc::new(Replay { events, first_hook, position });
        self.replays.borrow_mut().insert(key, Arc::clone(&replay));
        replay
    }

    /// Pushes the events of `path` in reverse order, following `source` lines at most five
    /// files deep.
    fn walk_back(
        &self,
        path: &Path,
        name: &str,
        events: &mut Vec<Event>,
        walked: &mut HashSet<PathBuf>,
        depth: usize,
    ) {
        if depth > 4 || walked.contains(path) {
            return;
        }
        let Some(file) = self.file(path) else { return };
        walked.insert(path.to_path_buf());
        let mut items: Vec<(usize, Option<&ValueLine>, Option<&Path>)> = file
            .assignments
            .iter()
            .filter(|a| a.name == name)
            .map(|a| (a.line, Some(a), None))
            .chain(file.sources.iter().map(|(line, target)| (*line, None, Some(target.as_path()))))
            .chain(file.hook_line.map(|line| (line, None, None)))
            .collect();
        items.sort_by_key(|item| item.0);
        for (line, assignment, source) in items.into_iter().rev() {
            match (assignment, source) {
                (Some(assignment), _) => events.push(Event::Assignment {
                    path: path.to_path_buf(),
                    assignment: assignment.clone(),
                }),
                (None, Some(target)) => self.walk_back(target, name, events, walked, depth + 1),
                (None, None) => events.push(Event::Hook { path: path.to_path_buf(), line }),
            }
        }
    }
}

/// The events of [`Startup::events`], in order (a shared, remembered list).
#[derive(Debug, Clone)]
pub struct Events(Arc<Replay>);

impl std::ops::Deref for Events {
    type Target = [Event];

    fn deref(&self) -> &[Event] {
        &self.0.events
    }
}

/// One session's events for one variable, with what the questions about them need.
#[derive(Debug)]
struct Replay {
    events: Vec<Event>,
    /// The index of the first dashkey hook.
    first_hook: Option<usize>,
    /// The index of each event, by file and line.
    position: HashMap<(PathBuf, usize), usize>,
}

fn parse_file(path: PathBuf, text: &str, home: Option<&Path>) -> StartupFile {
    // One search for the block, then only the lines that can matter are looked at.
    let span = block::find(text).ok().flatten();
    let mut assignments = Vec::new();
    let mut sources = Vec::new();
    let mut number = 1;
    let mut counted = 0;
    for start in candidate_lines(text) {
        number += memchr::memchr_iter(b'\n', &text.as_bytes()[counted..start]).count();
        counted = start;
        if span.is_some_and(|s| start >= s.start && start < s.end) {
            continue;
        }
        let line = match memchr::memchr(b'\n', &text.as_bytes()[start..]) {
            Some(end) => &text[start..=start + end],
            None => &text[start..],
        };
        if let Some((name, literal)) = dotfiles::parse_assignment(line) {
            let value =
                if literal { dotfiles::literal_value(line).map(ApiKey::verbatim) } else { None };
            assignments.push(ValueLine { line: number, name, literal, value });
        } else if let Some(target) = sourced_file(line, home) {
            sources.push((number, target));
        }
    }
    let crlf = crate::shell::block::has_crlf(text);
    StartupFile { path, hook_line: span.map(|s| s.line), assignments, crlf, sources }
}

/// The offsets of the lines that may assign a watched variable (they contain what every
/// watched name contains) or source a file (they contain `source`, or `.` as a word), in
/// order: found by searching the whole text, so that the cost of a big file is a few
/// passes of a fast substring search rather than work on each of its lines. Every line
/// [`dotfiles::parse_assignment`] or [`sourced_file`] accepts is among them.
fn candidate_lines(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let boundary = |c: Option<char>| c.is_none_or(|c| c.is_whitespace() || c == ';');
    // Built once: a finder's setup costs more than searching a small file.
    static WATCHED: LazyLock<Finder<'static>> =
        LazyLock::new(|| Finder::new(dotfiles::WATCHED_PART));
    static SOURCE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("source"));
    let mut hits: Vec<usize> = WATCHED
        .find_iter(bytes)
        .chain(SOURCE.find_iter(bytes))
        .chain(memchr::memchr_iter(b'.', bytes).filter(|&at| {
            boundary(text[..at].chars().next_back()) && boundary(text[at + 1..].chars().next())
        }))
        .collect();
    hits.sort_unstable();
    // Each hit's line start, searching back only as far as the previous hit: linear even in
    // one huge line.
    let mut starts: Vec<usize> = Vec::new();
    let (mut searched, mut start) = (0, 0);
    for at in hits {
        if let Some(newline) = memchr::memrchr(b'\n', &bytes[searched..at]) {
            start = searched + newline + 1;
        }
        searched = at;
        if starts.last() != Some(&start) {
            starts.push(start);
        }
    }
    starts
}

/// The file a `. FILE` or `source FILE` line loads, with `~` and `$HOME` expanded.
fn sourced_file(line: &str, home: Option<&Path>) -> Option<PathBuf> {
    let text = line.trim();
    if text.starts_with('#') {
        return None;
    }
    let mut words = words(text);
    words.find(|w| *w == "." || *w == "source")?;
    let word = words.next()?.trim_matches(['"', '\'']);
    let home = home?.display().to_string();
    let expanded = if let Some(rest) = word.strip_prefix("~/") {
        format!("{home}/{rest}")
    } else {
        word.replace("${HOME}", &home).replace("$HOME", &home)
    };
    let path = PathBuf::from(expanded);
    path.is_absolute().then_some(path)
}

/// The words of a line split at white space, with each `;` a word of its own.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace()
        .flat_map(|word| word.split_inclusive(';'))
        .flat_map(|piece| match piece.strip_suffix(';') {
            Some(before) => [before, ";"],
            None => [piece, ""],
        })
        .filter(|word| !word.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Os;
    use crate::vars;
    use std::fs;

    fn platform(home: &Path) -> Platform {
        Platform::simulated(Os::Linux, [("HOME", home.to_str().unwrap())])
    }

    fn lines(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| {
                let (path, line) = e.location();
                let kind = if matches!(e, Event::Hook { .. }) { "hook" } else { "set" };
                format!("{kind} {}:{line}", path.file_name().unwrap().to_string_lossy())
            })
            .collect()
    }

    #[test]
    fn a_profile_that_sources_bashrc_makes_login_shells_read_it_there() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        fs::write(
            home.join(".profile"),
            "export DASHSCOPE_API_KEY=sk-first\nif [ -f \"$HOME/.bashrc\" ]; then\n  . \"$HOME/.bashrc\"\nfi\n",
        )
        .unwrap();
        let hook = block::upsert("export DASHSCOPE_API_KEY='sk-bashrc'\n", &["x".into()]).unwrap();
        fs::write(home.join(".bashrc"), hook).unwrap();
        let startup = Startup::read(&platform(home));
        let login = startup.events(Session::BashLogin, vars::API_KEY);
        assert_eq!(lines(&login), ["set .profile:1", "set .bashrc:1", "hook .bashrc:2"]);
        let interactive = startup.events(Session::BashInteractive, vars::API_KEY);
        assert_eq!(lines(&interactive), ["set .bashrc:1", "hook .bashrc:2"]);
        let Event::Assignment { assignment, .. } = &login[0] else { panic!() };
        assert_eq!(assignment.value.as_ref().unwrap().expose(), "sk-first");
    }

    #[test]
    fn bash_profile_hides_profile_and_zsh_scripts_miss_zshrc() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        fs::write(home.join(".profile"), "export DASHSCOPE_API_KEY=sk-1\n").unwrap();
        fs::write(home.join(".bash_profile"), "# nothing\n").unwrap();
        fs::write(home.join(".zshrc"), "export DASHSCOPE_API_KEY=sk-1\n").unwrap();
        let startup = Startup::read(&platform(home));
        assert!(startup.events(Session::BashLogin, vars::API_KEY).is_empty());
        assert!(startup.events(Session::ZshScript, vars::API_KEY).is_empty());
        assert_eq!(
            lines(&startup.events(Session::ZshInteractive, vars::API_KEY)),
            ["set .zshrc:1"]
        );
        assert_eq!(lines(&startup.events(Session::ShLogin, vars::API_KEY)), ["set .profile:1"]);
    }

    #[test]
    fn source_lines_are_split_like_the_shell_splits_them() {
        let home = Path::new("/h");
        let sourced = |line: &str| sourced_file(line, Some(home));
        assert_eq!(sourced(". ~/.profile"), Some(PathBuf::from("/h/.profile")));
        assert_eq!(sourced("[ -f x ] && source \"$HOME/.b\";"), Some(PathBuf::from("/h/.b")));
        assert_eq!(sourced("true;. ~/.p;x"), Some(PathBuf::from("/h/.p")));
        assert_eq!(sourced(". ;"), None);
        assert_eq!(sourced("# . ~/.profile"), None);
        assert_eq!(sourced("alias ll='ls -alF'"), None);
        assert_eq!(words("a;;b ; c").collect::<Vec<_>>(), ["a", ";", ";", "b", ";", "c"]);
    }

    #[test]
    fn only_candidate_lines_are_skipped_and_none_that_matters() {
        let home = Path::new("/h");
        let text = "a\n. ~/.p\nx=1;source ~/.q\n  DASHSCOPE_API_KEY=sk-1\nls ~/.cache\n\
                    echo a.b\n\t.\t~/.r\n# . ~/.s\nlast . ~/.t";
        // Line by line, as a shell would read the file.
        let mut expected = (Vec::new(), Vec::new());
        for (index, line) in text.split_inclusive('\n').enumerate() {
            if let Some((name, _)) = dotfiles::parse_assignment(line) {
                expected.0.push((index + 1, name));
            } else if let Some(target) = sourced_file(line, Some(home)) {
                expected.1.push((index + 1, target));
            }
        }
        let file = parse_file(PathBuf::from("/h/.bashrc"), text, Some(home));
        let found: Vec<_> = file.assignments.iter().map(|a| (a.line, a.name)).collect();
        assert_eq!((found, file.sources.clone()), expected);
        assert_eq!(file.sources.len(), 4, "{:?}", file.sources);
        assert_eq!(candidate_lines("ls ~/.cache\necho a.b\n"), Vec::<usize>::new());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        #[test]
        fn the_search_finds_what_reading_every_line_finds(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                ".", " ", ";", "\n", "\r\n", "\t", "#", "source", "~/.p", "x",
                "DASHSCOPE_API_KEY=", "é", "# >>> dashkey >>>", "# <<< dashkey <<<",
            ]), 0..40)
        ) {
            let text: String = pieces.concat();
            let home = Path::new("/h");
            let span = block::find(&text).ok().flatten();
            let mut expected = (Vec::new(), Vec::new());
            for (number, line) in block::lines_outside(&text) {
                if let Some((name, _)) = dotfiles::parse_assignment(line) {
                    expected.0.push((number, name));
                } else if let Some(target) = sourced_file(line, Some(home)) {
                    expected.1.push((number, target));
                }
            }
            let file = parse_file(PathBuf::from("/h/.bashrc"), &text, Some(home));
            let found: Vec<_> = file.assignments.iter().map(|a| (a.line, a.name)).collect();
            proptest::prop_assert_eq!((found, file.sources.clone()), expected);
            proptest::prop_assert_eq!(file.hook_line, span.map(|s| s.line));
        }
    }

    #[test]
    fn sourcing_loops_end() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        fs::write(home.join(".bashrc"), "source ~/.bashrc\nDASHSCOPE_API_KEY=sk-1\n").unwrap();
        let startup = Startup::read(&platform(home));
        assert_eq!(
            lines(&startup.events(Session::BashInteractive, vars::API_KEY)),
            ["set .bashrc:2"]
        );
    }

    #[test]
    fn a_file_sourced_twice_counts_where_it_is_sourced_last() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        fs::write(
            home.join(".bashrc"),
            ". ~/.profile\nDASHSCOPE_API_KEY=sk-2\n. ~/.profile\nDASHSCOPE_API_KEY=sk-4\n",
        )
        .unwrap();
        fs::write(home.join(".profile"), "DASHSCOPE_API_KEY=sk-1\n").unwrap();
        let startup = Startup::read(&platform(home));
        assert_eq!(
            lines(&startup.events(Session::BashInteractive, vars::API_KEY)),
            ["set .bashrc:2", "set .profile:1", "set .bashrc:4"]
        );
    }
}
