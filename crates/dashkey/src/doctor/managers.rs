//! FAQ scenario 3: a program started by systemd or supervisord never reads a shell startup
//! file, so it has the key only if the manager's configuration gives it. The configuration is
//! read the way the manager reads it (see `crate::world::units` and `crate::world::supervisord`), and the verdict names the line
//! that provides the key, or the command that adds it: `dashkey service install`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::edit::fsx;
use crate::key::{ApiKey, ValueProblem};
use crate::shell;
use crate::store::{KeyCopy, PlaceKind};
use crate::vars;
use crate::world::Location;
use crate::world::procs::Process;
use crate::world::supervisord::{self, EnvironmentError, ExpandError, SupervisorConfig};
use crate::world::units::{self, EnvFileState, SystemdUnit, UnitOrigin};

use super::{Context, Finding, Severity, id};

/// Where supervisord gives a program the key: value, where it comes from, and the file and
/// raw `environment=` text when it is written in the configuration.
struct SupervisedValue {
    value: String,
    origin: String,
    written: Option<(Location, String)>,
}

impl Context<'_> {
    /// The verdict on the value a service manager gives its program.
    fn service_value(
        &self,
        id: &'static str,
        what: &str,
        value: &str,
        origin: &str,
        fix: &str,
    ) -> Finding {
        let key = ApiKey::verbatim(value);
        if key.is_empty() {
            return Finding::new(
                id,
                Severity::Fail,
                format!("{what} sets DASHSCOPE_API_KEY empty"),
            )
            .detail(format!(
                "{origin} sets it to an empty value: the Python and Java SDKs send an empty \
                     key (401), the Node SDK reports it missing."
            ))
            .fix(fix);
        }
        let unusable = key.problems().into_iter().find(|problem| {
            !matches!(
                problem,
                ValueProblem::UnknownPrefix
                    | ValueProblem::SurroundingWhitespace
                    | ValueProblem::ByteOrderMark
            )
        });
        if let Some(problem) = unusable {
            return Finding::new(id, Severity::Fail, format!("{what} gives an unusable key"))
                .detail(format!("{origin}: {problem}."))
                .fix(fix);
        }
        match &self.expected {
            Some(expected) if expected.expose().trim() != value.trim() => Finding::new(
                id,
                Severity::Warn,
                format!("{what} gives another key than the stored one"),
            )
            .detail(format!(
                "{origin} sets {}, but the stored key is {}: the service runs with an old or \
                 different key.",
                Self::describe_key(&key),
                Self::describe_key(expected)
            ))
            .fix(fix),
            _ => Finding::new(id, Severity::Ok, format!("{what} provides the key"))
                .detail(format!("{origin} sets {}.", Self::describe_key(&key))),
        }
    }

    // -- systemd -------------------------------------------------------------------------

    pub(super) fn check_systemd(&self, requested: &str, out: &mut Vec<Finding>) {
        let scope = if self.options.systemd_user { Some(true) } else { None };
        let name = units::unit_name(requested);
        let unit = match units::find_unit(self.platform, &name, scope) {
            Ok(Some(unit)) => unit,
            Ok(None) => return out.push(self.no_such_unit(&name)),
            Err(error) => {
                return out.push(
                    Finding::new(
                        id::SERVICE_SYSTEMD,
                        Severity::Warn,
                        format!("cannot read the unit {name}"),
                    )
                    .detail(error.to_string())
                    .fix("run dashkey doctor as root to read it"),
                );
            }
        };
        let user = if unit.user { " --user" } else { "" };
        let what = format!("the systemd unit {name}{}", if unit.user { " (user)" } else { "" });
        let fix = format!("dashkey service install --systemd {name}{user}");
        if unit.masked {
            return out.push(
                Finding::new(id::SERVICE_SYSTEMD, Severity::Fail, format!("{what} is masked"))
                    .detail(format!(
                        "{} is empty or a link to /dev/null: the unit cannot start.",
                        self.show(&unit.path)
                    ))
                    .fix(format!("systemctl{user} unmask {name}")),
            );
        }
        let variable = unit.variable(vars::API_KEY);
        for file in &variable.files {
            out.extend(env_file_finding(&name, &what, file, &fix));
        }
        let finding = match (&variable.value, variable.unset, variable.passed) {
            (_, true, _) => Finding::new(
                id::SERVICE_SYSTEMD,
                Severity::Fail,
                format!("{what} removes DASHSCOPE_API_KEY"),
            )
            .detail("UnsetEnvironment= names it, so its processes never have it.")
            .fix(fix),
            (Some((value, origin)), _, _) => {
                let origin = match origin {
                    UnitOrigin::Environment(at) => format!("Environment= in {at}"),
                    UnitOrigin::EnvironmentFile(at) => format!("the environment file {at}"),
                };
                self.service_value(id::SERVICE_SYSTEMD, &what, value, &origin, &fix)
            }
            (None, _, true) => Finding::new(
                id::SERVICE_SYSTEMD,
                Severity::Warn,
                format!("{what} takes DASHSCOPE_API_KEY from the service manager"),
            )
            .detail(
                "PassEnvironment= names it, so it has the key only if the manager's own \
                 environment does (systemctl show-environment), which dashkey cannot see.",
            )
            .fix(fix),
            (None, _, false) => match unit.variable(vars::API_KEY_FILE_PATH).value {
                // `service install --credential`: the key file is systemd's credential.
                Some((path, UnitOrigin::Environment(at))) if path.starts_with("%d/") => {
                    Finding::new(
                        id::SERVICE_SYSTEMD,
                        Severity::Info,
                        format!("{what} gives the key as a systemd credential"),
                    )
                    .detail(format!(
                        "Environment= in {at} sets DASHSCOPE_API_KEY_FILE_PATH={path} (inside \
                         $CREDENTIALS_DIRECTORY), which the Python and Java SDKs read; Node, the \
                         OpenAI SDKs and other clients that read only DASHSCOPE_API_KEY get no \
                         key from it."
                    ))
                    .fix(format!("for those clients: {fix}"))
                }
                _ => self.unit_without_key(&unit, &what, fix),
            },
        };
        out.push(finding);
    }

    fn no_such_unit(&self, name: &str) -> Finding {
        let mut dirs = units::unit_search_path(self.platform, false);
        dirs.extend(units::unit_search_path(self.platform, true));
        let dirs: Vec<String> =
            shell::dedup(dirs).iter().filter(|d| d.is_dir()).map(|d| self.show(d)).collect();
        let looked =
            if dirs.is_empty() { "no existing directory".to_string() } else { dirs.join(", ") };
        Finding::new(id::SERVICE_SYSTEMD, Severity::Fail, format!("no systemd unit named {name}"))
            .detail(format!("Looked in {looked}."))
            .fix(format!(
                "check the name: systemctl list-unit-files '{}*'",
                name.trim_end_matches(".service")
            ))
    }

    /// A unit that sets nothing: a user unit may still get the key from the user manager,
    /// which reads the desktop session file at login.
    fn unit_without_key(&self, unit: &SystemdUnit, what: &str, fix: String) -> Finding {
        let session = self.copy(PlaceKind::DesktopSession).and_then(KeyCopy::value);
        match session {
            Some(key) if unit.user && !key.is_empty() => Finding::new(
                id::SERVICE_SYSTEMD,
                Severity::Info,
                format!("{what} gets the key from the user manager"),
            )
            .detail(format!(
                "The user manager reads the desktop session file (environment.d, {}) at login \
                 and hands it to every user unit; a manager started before it was written needs \
                 a new login (or systemctl --user daemon-reexec).",
                Self::describe_key(key)
            )),
            _ => Finding::new(
                id::SERVICE_SYSTEMD,
                Severity::Fail,
                format!("{what} does not provide DASHSCOPE_API_KEY"),
            )
            .detail(format!(
                "A service never reads shell startup files, and neither {} nor its drop-ins set \
                 the variable with Environment= or EnvironmentFile= (FAQ scenario 3).",
                self.show(&unit.path)
            ))
            .fix(fix),
        }
    }

    // -- supervisord ---------------------------------------------------------------------

    pub(super) fn check_supervisord(&self, program: &str, out: &mut Vec<Finding>) {
        let what = format!("the supervisord program {program}");
        let Some((config_path, process)) = self.locate_supervisord(program) else {
            return out.push(
                Finding::new(
                    id::SERVICE_SUPERVISORD,
                    Severity::Fail,
                    "cannot find supervisord's configuration",
                )
                .detail(
                    "No running supervisord defines this program, and none of supervisord's \
                     default files (supervisord.conf here, /etc/supervisord.conf, \
                     /etc/supervisor/supervisord.conf) exists.",
                )
                .fix(format!(
                    "dashkey doctor --supervisord {program} -c /path/to/supervisord.conf"
                )),
            );
        };
        let default_conf =
            [Path::new("/etc/supervisor/supervisord.conf"), Path::new("/etc/supervisord.conf")]
                .contains(&config_path.as_path());
        let fix = if default_conf {
            format!("dashkey service install --supervisord {program}")
        } else {
            format!("dashkey service install --supervisord {program} -c {}", config_path.display())
        };
        // supervisord's own environment, when it runs and can be read (see locate_supervisord
        // for why every variable is kept).
        let (sup_env, sup_env_error) = match &process {
            Some(process) => match self.host.procs.environ(process.pid, |_| true) {
                Ok(env) => (Some(env), None),
                Err(error) => (
                    None,
                    Some(format!(
                        "cannot read the environment of supervisord (pid {}): {error}",
                        process.pid
                    )),
                ),
            },
            None => (None, Some("supervisord is not running".to_string())),
        };
        let lookup = |name: &str| sup_env.as_ref().and_then(|env| env.get(name).cloned());
        let config = match SupervisorConfig::read(&config_path, &lookup) {
            Ok(config) => config,
            Err(error) => {
                return out.push(
                    Finding::new(
                        id::SERVICE_SUPERVISORD,
                        Severity::Fail,
                        format!(
                            "cannot read supervisord's configuration {}",
                            config_path.display()
                        ),
                    )
                    .detail(error.to_string())
                    .fix(format!(
                        "dashkey doctor --supervisord {program} -c /path/to/supervisord.conf"
                    )),
                );
            }
        };
        let Some(section) = config.program_section(program) else {
            let files: Vec<String> = config.files.iter().map(|f| f.display().to_string()).collect();
            let known = config.programs();
            let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
            return out.push(
                Finding::new(
                    id::SERVICE_SUPERVISORD,
                    Severity::Fail,
                    format!("no program {program} in {}", config_path.display()),
                )
                .detail(format!("Read {}; programs defined: {known}.", files.join(", ")))
                .fix(format!(
                    "dashkey doctor --supervisord <program> -c {}",
                    config_path.display()
                )),
            );
        };

        // The child's environment: supervisord's, then [supervisord] environment=, then the
        // program's environment= (whose %(ENV_X)s also sees the [supervisord] ones).
        let global = config.environment("supervisord", &lookup);
        let global_pairs = global.as_deref().unwrap_or_default();
        let with_global = |name: &str| {
            let set = global_pairs.iter().rev().find(|(k, _, _)| k == name);
            set.map(|(_, v, _)| v.clone()).or_else(|| lookup(name))
        };
        let own = config.environment(section, &with_global);
        for result in [&global, &own] {
            if let Err(error) = result {
                let unknown = sup_env.is_none()
                    && matches!(error, EnvironmentError::Expand(ExpandError::Undefined(name))
                        if name.starts_with("ENV_"));
                let finding = if unknown {
                    Finding::new(
                        id::SERVICE_SUPERVISORD,
                        Severity::Warn,
                        format!("{what} takes the key from supervisord's environment"),
                    )
                    .detail(format!(
                        "Its environment= uses {error}, which comes from the environment \
                         supervisord is started with, and {}.",
                        sup_env_error.clone().unwrap_or_default()
                    ))
                } else {
                    Finding::new(
                        id::SERVICE_SUPERVISORD,
                        Severity::Fail,
                        format!("supervisord refuses the environment= of {program}"),
                    )
                    .detail(format!("{error}: supervisord will not load this configuration."))
                };
                return out.push(finding.fix(fix));
            }
        }
        let raw = |section: &str| {
            config.value(section, "environment").map(|v| v.text.clone()).unwrap_or_default()
        };
        let pick = |pairs: &[(String, String, Location)], label: &str, section: &str| {
            let (_, value, at) = pairs.iter().rev().find(|(k, _, _)| k == vars::API_KEY)?;
            Some(SupervisedValue {
                value: value.clone(),
                origin: format!("{label} in {at}"),
                written: Some((at.clone(), raw(section))),
            })
        };
        let own = own.unwrap_or_default();
        let found = pick(&own, "environment=", section)
            .or_else(|| pick(global_pairs, "[supervisord] environment=", "supervisord"))
            .or_else(|| {
                let process = process.as_ref()?;
                let value = sup_env.as_ref()?.get(vars::API_KEY)?.clone();
                let origin = format!("supervisord's own environment (pid {})", process.pid);
                Some(SupervisedValue { value, origin, written: None })
            });
        let Some(found) = found else {
            let unreadable = process.is_some() && sup_env.is_none();
            let (severity, own) = match &sup_env_error {
                Some(error) if unreadable => (
                    Severity::Warn,
                    format!(
                        "dashkey cannot tell whether supervisord's own environment has it ({error})"
                    ),
                ),
                Some(error) => (
                    Severity::Fail,
                    format!("it gets only what supervisord is started with ({error})"),
                ),
                None => {
                    (Severity::Fail, "supervisord's own environment does not have it".to_string())
                }
            };
            return out.push(
                Finding::new(
                    id::SERVICE_SUPERVISORD,
                    severity,
                    format!("{what} does not get DASHSCOPE_API_KEY"),
                )
                .detail(format!(
                    "Neither [{section}] nor [supervisord] in {} sets it in environment=, and \
                     {own}: a supervised program never reads shell startup files (FAQ scenario \
                     3).",
                    config_path.display()
                ))
                .fix(fix),
            );
        };
        // A key written literally (not through %(ENV_X)s) into a file others can read.
        if let Some((at, raw)) = &found.written
            && !raw.contains("%(ENV_")
            && !found.value.is_empty()
            && let Some(mode) = std::fs::metadata(&at.file).ok().as_ref().and_then(fsx::mode)
            && fsx::readable_by_others(mode)
        {
            out.push(
                Finding::new(
                    id::KEY_FILE_PERMS,
                    Severity::Warn,
                    format!("other users can read {} (mode {mode:04o})", at.file.display()),
                )
                .detail(format!(
                    "It holds the key for {program} in plain text; keep such files 0600."
                ))
                .fix(format!("chmod 600 {}", at.file.display())),
            );
        }
        out.push(self.service_value(
            id::SERVICE_SUPERVISORD,
            &what,
            &found.value,
            &found.origin,
            &fix,
        ));
    }

    /// The configuration supervisord uses for `program`, and the running supervisord that
    /// uses it: `-c` given to the doctor, else the first running supervisord whose
    /// configuration defines the program, else supervisord's default locations.
    fn locate_supervisord(&self, program: &str) -> Option<(PathBuf, Option<Process>)> {
        let procs = &self.host.procs;
        let running: Vec<(Process, PathBuf)> = procs
            .list()
            .into_iter()
            // supervisord is a Python script: its name, or the interpreter's.
            .filter(|process| process.name == "supervisord" || process.name.starts_with("python"))
            .filter_map(|process| {
                let args = procs.cmdline(process.pid)?;
                let script =
                    args.iter().take(2).any(|a| a.rsplit('/').next() == Some("supervisord"));
                if process.name != "supervisord" && !script {
                    return None;
                }
                let cwd = procs.cwd(process.pid).unwrap_or_else(|| PathBuf::from("/"));
                let config = match supervisord::supervisor_config_argument(&args) {
                    Some(path) => cwd.join(path),
                    None => {
                        let exe =
                            args.iter().find(|a| a.ends_with("supervisord")).map(PathBuf::from);
                        supervisord::supervisor_default_paths(exe.as_deref(), &cwd)
                            .into_iter()
                            .find(|p| p.exists())?
                    }
                };
                Some((process, config))
            })
            .collect();
        if let Some(path) = &self.options.supervisord_config {
            let path = self.platform.resolve_path(&path.display().to_string());
            let process =
                running.iter().find(|(_, config)| same_file(config, &path)).map(|(p, _)| p.clone());
            return Some((path, process));
        }
        for (process, config) in &running {
            // `%(ENV_X)s` may name any variable of supervisord's environment, so all of it is
            // read; values are only compared, never shown.
            let env: Option<BTreeMap<String, String>> = procs.environ(process.pid, |_| true).ok();
            let lookup = |name: &str| env.as_ref().and_then(|e| e.get(name).cloned());
            let read = SupervisorConfig::read(config, &lookup);
            if read.is_ok_and(|c| c.program_section(program).is_some()) {
                return Some((config.clone(), Some(process.clone())));
            }
        }
        supervisord::supervisor_default_paths(None, self.platform.cwd())
            .into_iter()
            .find(|p| p.is_file())
            .map(|p| (p, None))
    }
}

/// What is wrong with one `EnvironmentFile=` of a unit, if anything.
fn env_file_finding(name: &str, what: &str, file: &units::EnvFile, fix: &str) -> Option<Finding> {
    match &file.state {
        EnvFileState::Missing if !file.optional => Some(
            Finding::new(
                id::SERVICE_SYSTEMD,
                Severity::Fail,
                format!("{what} names an environment file that does not exist"),
            )
            .detail(format!(
                "EnvironmentFile={} ({}) has no '-' prefix, so the unit fails to start without \
                 it.",
                file.path.display(),
                file.at
            ))
            .fix(fix),
        ),
        EnvFileState::Unreadable(kind) => Some(
            Finding::new(
                id::SERVICE_SYSTEMD,
                Severity::Warn,
                format!("cannot read {}, an environment file of {name}", file.path.display()),
            )
            .detail(format!("{}: {kind}; the key may be in it.", file.at))
            .fix("run dashkey doctor as root to read it"),
        ),
        EnvFileState::Refused(refusal) => Some(
            Finding::new(
                id::SERVICE_SYSTEMD,
                Severity::Warn,
                format!("did not read {}, an environment file of {name}", file.path.display()),
            )
            .detail(format!(
                "{}: {refusal}, so dashkey did not open it; the key may be in it.",
                file.at
            ))
            .fix(format!("make {} a regular file (or remove the line)", file.path.display())),
        ),
        EnvFileState::Read { value: Some((value, _)), mode: Some(mode) }
            if fsx::readable_by_others(*mode) && !value.is_empty() =>
        {
            Some(
                Finding::new(
                    id::KEY_FILE_PERMS,
                    Severity::Warn,
                    format!("other users can read {} (mode {mode:04o})", file.path.display()),
                )
                .detail(format!("It holds the key for {name}; keep such files 0600."))
                .fix(format!("chmod 600 {}", file.path.display())),
            )
        }
        _ => None,
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}
