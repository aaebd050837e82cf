//! FAQ scenario 2: a program keeps the environment it was started with, so an IDE opened
//! before the key was stored never sees it. Running IDEs of this user, and the processes named
//! with `--pid`, are judged by their initial environment when it can be read, and by their
//! start time against the time the key was written when it cannot.

use std::collections::BTreeMap;

use crate::key::ApiKey;
use crate::vars;
use crate::world::procs::{EnvironError, Process};

use super::{Context, Finding, Severity, id, span, utc};

impl Context<'_> {
    pub(super) fn check_processes(&self, out: &mut Vec<Finding>) {
        let procs = &self.host.procs;
        let mut targets: Vec<(Process, String, bool)> =
            self.running_ides().into_iter().map(|(process, name)| (process, name, false)).collect();
        for &pid in &self.options.pids {
            targets.retain(|(p, _, _)| p.pid != pid);
            if let Some(process) = procs.process(pid) {
                let name = process.name.clone();
                targets.push((process, name, true));
            }
        }
        for (process, name, named) in targets {
            out.push(self.process_finding(&process, &name, named));
        }
    }

    /// Running IDEs of this user (same user id and, when readable, same HOME), one per IDE
    /// process tree.
    fn running_ides(&self) -> Vec<(Process, String)> {
        let procs = &self.host.procs;
        let all = procs.list();
        let by_pid: BTreeMap<u32, &Process> = all.iter().map(|p| (p.pid, p)).collect();
        let classify = |process: &Process| -> Option<&'static str> {
            ide_of(&process.name, || procs.cmdline(process.pid).unwrap_or_default())
        };
        let kinds: BTreeMap<u32, &'static str> =
            all.iter().filter_map(|p| Some((p.pid, classify(p)?))).collect();
        let home = self.platform.var("HOME");
        let mut found = Vec::new();
        for (&pid, &kind) in &kinds {
            let process = by_pid[&pid];
            if kinds.get(&process.ppid) == Some(&kind) {
                continue;
            }
            if self.host.uid.is_some() && procs.owner(pid) != self.host.uid {
                continue;
            }
            match procs.environ(pid, |name| name == "HOME") {
                Ok(env) if env.get("HOME").map(String::as_str) != home => continue,
                Err(EnvironError::Gone) => continue,
                _ => {}
            }
            found.push((process.clone(), kind.to_string()));
        }
        found
    }

    fn process_finding(&self, process: &Process, name: &str, named: bool) -> Finding {
        let procs = &self.host.procs;
        let started = procs.started_at(process);
        let started_text = started.map(utc).unwrap_or_else(|| "an unknown time".to_string());
        let label = format!("{name} (pid {}, started {started_text})", process.pid);
        let before = match (started, self.written_at) {
            (Some(started), Some(written)) => Some(started < written),
            _ => None,
        };
        let written_text = match (started, self.written_at) {
            (Some(started), Some(written)) => match written.duration_since(started) {
                Ok(gap) => format!(" at {} ({} after it started)", utc(written), span(gap)),
                Err(_) => format!(" at {}", utc(written)),
            },
            (None, Some(written)) => format!(" at {}", utc(written)),
            (_, None) => String::new(),
        };
        let restart = format!("restart {name} (quit it completely, then start it again)");
        let bad = if named { Severity::Fail } else { Severity::Warn };
        let env = procs.environ(process.pid, |n| n == vars::API_KEY);
        match env {
            Ok(env) => {
                let has = env.get(vars::API_KEY).map(ApiKey::verbatim).filter(|k| !k.is_empty());
                match (has, &self.expected) {
                    (Some(key), Some(expected))
                        if key.expose().trim() == expected.expose().trim() =>
                    {
                        Finding::new(
                            id::STALE_PROCESS,
                            Severity::Ok,
                            format!("{label} has the key"),
                        )
                        .detail(format!("Its environment holds {}.", Self::describe_key(&key)))
                    }
                    (Some(key), Some(expected)) => Finding::new(
                        id::STALE_PROCESS,
                        bad,
                        format!("{label} holds an old key"),
                    )
                    .detail(format!(
                        "Its environment holds {}, but the stored key is {}{written_text}: a \
                         program keeps the environment it was started with (FAQ scenario 2).",
                        Self::describe_key(&key),
                        Self::describe_key(expected)
                    ))
                    .fix(restart),
                    (Some(key), None) => Finding::new(
                        id::STALE_PROCESS,
                        Severity::Info,
                        format!("{label} has a key, and none is stored"),
                    )
                    .detail(format!(
                        "Its environment holds {}; no stored key to compare it with.",
                        Self::describe_key(&key)
                    )),
                    (None, None) => Finding::new(
                        id::STALE_PROCESS,
                        Severity::Info,
                        format!("{label} has no key, and none is stored"),
                    )
                    .detail("Restarting it will not help until a key is stored.")
                    .fix("dashkey set, then restart it"),
                    (None, Some(_)) if before != Some(false) => Finding::new(
                        id::STALE_PROCESS,
                        bad,
                        format!("{label} started before the key was stored"),
                    )
                    .detail(format!(
                        "Its environment has no DASHSCOPE_API_KEY: it started before the key was \
                         written{written_text}, and a program keeps the environment it was \
                         started with (FAQ scenario 2)."
                    ))
                    .fix(restart),
                    (None, Some(_)) => Finding::new(
                        id::STALE_PROCESS,
                        bad,
                        format!("{label} was started without the key"),
                    )
                    .detail(format!(
                        "It started after the key was written{written_text}, but its environment \
                         has no DASHSCOPE_API_KEY: whatever started it (a desktop launcher, a \
                         service, a shell that never loaded the key) did not have it."
                    ))
                    .fix(format!(
                        "start {name} from a terminal that has the key, or run dashkey set --gui \
                         and log in again so that desktop apps get it"
                    )),
                }
            }
            Err(error) => {
                let why = format!("dashkey cannot read its environment ({error})");
                match before {
                    Some(true) => Finding::new(
                        id::STALE_PROCESS,
                        Severity::Warn,
                        format!("{label} started before the key was stored"),
                    )
                    .detail(format!(
                        "{why}, but it started before the key was written{written_text}, so it \
                         cannot have it (FAQ scenario 2)."
                    ))
                    .fix(restart),
                    _ => Finding::new(
                        id::STALE_PROCESS,
                        Severity::Info,
                        format!("{label}: environment not readable"),
                    )
                    .detail(format!(
                        "{why}; {}",
                        if before == Some(false) {
                            "it started after the key was written, so it may have it"
                        } else {
                            "no time of writing is known to compare its start with"
                        }
                    ))
                    .fix("run dashkey doctor as the process's user (or root) to check it"),
                }
            }
        }
    }
}

/// Which IDE (or notebook server) a process is, from its name and, for interpreters, its
/// command line.
fn ide_of(name: &str, cmdline: impl FnOnce() -> Vec<String>) -> Option<&'static str> {
    let base = name.strip_suffix(".sh").unwrap_or(name);
    let known = match base {
        "code" | "code-insiders" | "code-oss" | "codium" | "vscodium" => Some("VS Code"),
        "cursor" | "Cursor" => Some("Cursor"),
        "windsurf" | "Windsurf" => Some("Windsurf"),
        "pycharm" | "pycharm64" => Some("PyCharm"),
        "idea" | "idea64" => Some("IntelliJ IDEA"),
        "webstorm" => Some("WebStorm"),
        "goland" => Some("GoLand"),
        "clion" => Some("CLion"),
        "rider" => Some("Rider"),
        "datagrip" => Some("DataGrip"),
        "phpstorm" => Some("PhpStorm"),
        "rubymine" => Some("RubyMine"),
        "jupyter" | "jupyter-lab" | "jupyter-noteboo" | "jupyter-notebook" | "jupyter-server" => {
            Some("Jupyter")
        }
        _ => None,
    };
    if known.is_some() {
        return known;
    }
    let interpreter = name == "java" || name == "node" || name.starts_with("python");
    if !interpreter {
        return None;
    }
    let args = cmdline();
    let any = |needle: &str| args.iter().any(|a| a.contains(needle));
    if name == "java" {
        // JetBrains IDEs started through their shell scripts run as `java`, named by a
        // platform prefix.
        let prefix = args.iter().find_map(|a| a.strip_prefix("-Didea.platform.prefix="));
        let ide = match prefix {
            Some("Python" | "PyCharmCore" | "PyCharmEdu") => "PyCharm",
            Some("WebStorm") => "WebStorm",
            Some("GoLand") => "GoLand",
            Some("CLion") => "CLion",
            Some("Rider") => "Rider",
            Some("DataGrip") => "DataGrip",
            Some("PhpStorm") => "PhpStorm",
            Some("Ruby") => "RubyMine",
            Some(_) => "IntelliJ IDEA",
            None if any("com.intellij.idea.Main") => "IntelliJ IDEA",
            None => return None,
        };
        return Some(ide);
    }
    if any(".vscode-server") {
        return Some("VS Code Server");
    }
    if any(".cursor-server") {
        return Some("Cursor Server");
    }
    let jupyter = args.iter().take(3).any(|a| {
        let base = a.rsplit('/').next().unwrap_or(a);
        base.starts_with("jupyter")
    });
    jupyter.then_some("Jupyter")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreters_are_classified_by_their_command_line() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(ide_of("pycharm.sh", Vec::new), Some("PyCharm"));
        assert_eq!(
            ide_of("java", || args(&["java", "-Didea.platform.prefix=Python", "x"])),
            Some("PyCharm")
        );
        assert_eq!(
            ide_of("java", || args(&["java", "com.intellij.idea.Main"])),
            Some("IntelliJ IDEA")
        );
        assert_eq!(ide_of("java", || args(&["java", "-jar", "app.jar"])), None);
        assert_eq!(
            ide_of("java", || args(&["java", "-Didea.platform.prefix=GoLand", "x"])),
            Some("GoLand")
        );
        assert_eq!(
            ide_of("python3", || args(&["/usr/bin/python3", "/usr/local/bin/jupyter-notebook"])),
            Some("Jupyter")
        );
        assert_eq!(
            ide_of("node", || args(&["/home/a/.vscode-server/bin/x/node"])),
            Some("VS Code Server")
        );
        assert_eq!(ide_of("python3", || args(&["python3", "app.py"])), None);
        assert_eq!(ide_of("sleep", || panic!("no command line needed")), None);
    }
}
