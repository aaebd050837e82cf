//! The stored variables, rendered for the systems a shell never reaches: containers,
//! Kubernetes, CI, service managers, other shells.
//!
//! Each format follows its consumer's own rules, which differ in ways that break keys:
//! `docker run --env-file` keeps quotes as part of the value while compose strips them;
//! systemd expands `%` specifiers; supervisord expands `%(ENV_X)s`; a Kubernetes Secret wants
//! a DNS-1123 name. Every value is rendered so that the consumer reads back exactly the
//! bytes dashkey stored, or the value is refused with a reason.

use std::fmt;

use crate::shell::{Dialect, QuoteError, quote_nuon};

/// The formats `dashkey export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// POSIX shell `export NAME='v'`.
    Sh,
    /// fish `set -gx NAME 'v'`.
    Fish,
    /// csh/tcsh `setenv NAME 'v'`.
    Csh,
    /// nushell `$env.NAME = r#'v'#`.
    Nu,
    /// PowerShell `$env:NAME = 'v'`.
    PowerShell,
    /// Windows cmd `set "NAME=v"`.
    Cmd,
    /// A `.env` file as python-dotenv and compose read it (quoted when needed).
    Dotenv,
    /// `docker run --env-file`: `NAME=v`, never quoted (Docker keeps quotes literally).
    DockerEnv,
    /// A compose `env_file` snippet, plus the env file itself.
    Compose,
    /// A systemd drop-in with `Environment=` lines.
    Systemd,
    /// A supervisord `environment=` line.
    Supervisord,
    /// A Kubernetes Secret manifest.
    K8sSecret,
    /// The commands that store the key as a GitHub Actions secret (no secret in the output).
    GithubActions,
    /// A JSON object.
    Json,
}

impl Format {
    /// Every format, in `--help` order.
    pub const ALL: [Format; 14] = [
        Format::Sh,
        Format::Fish,
        Format::Csh,
        Format::Nu,
        Format::PowerShell,
        Format::Cmd,
        Format::Dotenv,
        Format::DockerEnv,
        Format::Compose,
        Format::Systemd,
        Format::Supervisord,
        Format::K8sSecret,
        Format::GithubActions,
        Format::Json,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Sh => "sh",
            Format::Fish => "fish",
            Format::Csh => "csh",
            Format::Nu => "nu",
            Format::PowerShell => "powershell",
            Format::Cmd => "cmd",
            Format::Dotenv => "dotenv",
            Format::DockerEnv => "docker-env",
            Format::Compose => "compose",
            Format::Systemd => "systemd",
            Format::Supervisord => "supervisord",
            Format::K8sSecret => "k8s-secret",
            Format::GithubActions => "github-actions",
            Format::Json => "json",
        }
    }

    /// Parses a format name (shell names such as `bash` or `pwsh` are accepted too).
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name).or(match name {
            "bash" | "zsh" | "ksh" | "dash" | "posix" => Some(Format::Sh),
            "tcsh" => Some(Format::Csh),
            "pwsh" | "ps1" => Some(Format::PowerShell),
            "env" | ".env" => Some(Format::Dotenv),
            "kubernetes" | "k8s" => Some(Format::K8sSecret),
            _ => None,
        })
    }

    /// Whether the rendering contains the key (and so must not land on a terminal unasked).
    pub fn contains_secret(self) -> bool {
        self != Format::GithubActions
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Options some formats take.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Name of the Kubernetes Secret, the GitHub secret prefix, or the compose env file.
    pub name: Option<String>,
    /// Kubernetes namespace.
    pub namespace: Option<String>,
}

/// Why a value or option cannot be exported in a format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// A shell dialect refuses the value.
    #[error(transparent)]
    Quote(#[from] QuoteError),
    /// A value the format cannot carry.
    #[error("{name} cannot be exported as {format}: the value contains {what}")]
    Value {
        /// The variable.
        name: String,
        /// The format.
        format: &'static str,
        /// What is in the way (never the value).
        what: &'static str,
    },
    /// A Kubernetes name or namespace that the API server would refuse.
    #[error(
        "'{0}' is not a valid Kubernetes name: use lowercase letters, digits, '-' and '.', \
         starting and ending with a letter or digit, at most 253 characters"
    )]
    BadName(String),
}

/// Renders the variables in a format.
///
/// # Errors
///
/// [`ExportError`] when a value or option cannot be represented.
pub fn render(
    format: Format,
    vars: &[(&str, &str)],
    options: &ExportOptions,
) -> Result<String, ExportError> {
    let refuse = |name: &str, what| {
        Err(ExportError::Value { name: name.to_string(), format: format.name(), what })
    };
    let mut out = String::new();
    match format {
        Format::Sh | Format::Fish | Format::Csh | Format::Nu | Format::PowerShell | Format::Cmd => {
            let dialect = match format {
                Format::Sh => Dialect::Posix,
                Format::Fish => Dialect::Fish,
                Format::Csh => Dialect::Csh,
                Format::Nu => Dialect::Nu,
                Format::PowerShell => Dialect::PowerShell,
                _ => Dialect::Cmd,
            };
            for (name, value) in vars {
                out.push_str(&dialect.assignment(name, value)?);
                out.push('\n');
            }
        }
        Format::Dotenv => {
            for (name, value) in vars {
                if value.contains(['\n', '\r']) {
                    return refuse(name, "a line break");
                }
                out.push_str(&format!("{name}={}\n", dotenv_value(value)));
            }
        }
        Format::DockerEnv | Format::Compose => {
            if format == Format::Compose {
                let file = options.name.as_deref().unwrap_or("dashscope.env");
                out.push_str(&format!(
                    "# In docker-compose.yml, give the service this env file (keep it out of git):\n\
                     #   services:\n\
                     #     app:\n\
                     #       env_file:\n\
                     #         - {file}\n"
                ));
            }
            for (name, value) in vars {
                if value.contains(['\n', '\r']) {
                    return refuse(name, "a line break");
                }
                if value.starts_with([' ', '\t']) || value.ends_with([' ', '\t']) {
                    return refuse(name, "surrounding spaces, which Docker strips");
                }
                out.push_str(&format!("{name}={value}\n"));
            }
        }
        Format::Systemd => {
            out.push_str(
                "# A systemd drop-in: save as /etc/systemd/system/UNIT.d/50-dashkey.conf (0600),\n\
                 # or let `dashkey service install --systemd UNIT` keep the key in its own file.\n\
                 [Service]\n",
            );
            for (name, value) in vars {
                if value.contains(['\n', '\r']) {
                    return refuse(name, "a line break");
                }
                out.push_str(&format!(
                    "Environment=\"{}\"\n",
                    systemd_escape(&format!("{name}={value}"))
                ));
            }
        }
        Format::Supervisord => {
            let mut pairs = Vec::new();
            for (name, value) in vars {
                if value.contains(['\n', '\r']) {
                    return refuse(name, "a line break");
                }
                pairs.push(format!("{name}={}", supervisord_value(value)));
            }
            out.push_str(&format!("environment={}\n", pairs.join(",")));
        }
        Format::K8sSecret => {
            let name = options.name.as_deref().unwrap_or("dashscope");
            check_k8s_name(name)?;
            out.push_str("apiVersion: v1\nkind: Secret\nmetadata:\n");
            out.push_str(&format!("  name: {name}\n"));
            if let Some(namespace) = &options.namespace {
                check_k8s_name(namespace)?;
                out.push_str(&format!("  namespace: {namespace}\n"));
            }
            out.push_str("type: Opaque\nstringData:\n");
            for (name, value) in vars {
                // A JSON string is a valid YAML double-quoted scalar.
                out.push_str(&format!("  {name}: {}\n", quote_nuon(value)));
            }
        }
        Format::GithubActions => {
            out.push_str(
                "# Store the key as a repository secret: gh reads it from standard input,\n\
                 # so it is never on a command line. Base URLs are not secret: plain variables.\n",
            );
            for (name, value) in vars {
                if is_secret_var(name) {
                    out.push_str(&format!(
                        "dashkey run -- sh -c 'printf %s \"${name}\" | gh secret set {name}'\n"
                    ));
                } else {
                    out.push_str(&format!(
                        "gh variable set {name} --body {}\n",
                        crate::shell::quote_posix(value)
                    ));
                }
            }
            out.push_str("\n# Then, in the workflow:\n#   env:\n");
            for (name, _) in vars {
                let scope = if is_secret_var(name) { "secrets" } else { "vars" };
                out.push_str(&format!("#     {name}: ${{{{ {scope}.{name} }}}}\n"));
            }
        }
        Format::Json => {
            let map: serde_json::Map<String, serde_json::Value> = vars
                .iter()
                .map(|(n, v)| ((*n).to_string(), serde_json::Value::String((*v).to_string())))
                .collect();
            out = serde_json::to_string_pretty(&map).expect("strings always serialize");
            out.push('\n');
        }
    }
    Ok(out)
}

fn is_secret_var(name: &str) -> bool {
    name == crate::vars::API_KEY || name == crate::vars::OPENAI_API_KEY
}

/// dotenv: bare when every character is plain, else single quotes (no escapes inside).
fn dotenv_value(value: &str) -> String {
    let plain = !value.is_empty()
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "._~+/=:-@%,".contains(c));
    if plain {
        value.to_string()
    } else if !value.contains('\'') {
        format!("'{value}'")
    } else {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// systemd quoting inside `Environment="…"`: `%` specifiers doubled, `\` and `"` escaped.
pub fn systemd_escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('%', "%%")
}

/// supervisord: double-quoted (its parser uses shell-like splitting) with `%` doubled,
/// because it expands `%(ENV_X)s` in the value.
pub fn supervisord_value(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"").replace('%', "%%"))
}

fn check_k8s_name(name: &str) -> Result<(), ExportError> {
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if valid { Ok(()) } else { Err(ExportError::BadName(name.to_string())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VARS: [(&str, &str); 2] =
        [("DASHSCOPE_API_KEY", "sk-abc"), ("DASHSCOPE_HTTP_BASE_URL", "https://h/api/v1")];

    fn render_default(format: Format) -> String {
        render(format, &VARS, &ExportOptions::default()).unwrap()
    }

    #[test]
    fn every_format_renders_and_parses_its_name() {
        for format in Format::ALL {
            assert_eq!(Format::from_name(format.name()), Some(format));
            let text = render_default(format);
            assert!(text.contains("DASHSCOPE_HTTP_BASE_URL"), "{format}");
            assert_eq!(text.contains("sk-abc"), format.contains_secret(), "{format}");
        }
    }

    #[test]
    fn docker_env_is_never_quoted_and_refuses_what_docker_would_change() {
        assert!(render_default(Format::DockerEnv).contains("DASHSCOPE_API_KEY=sk-abc\n"));
        let error = render(Format::DockerEnv, &[("X", " a")], &ExportOptions::default());
        assert!(error.is_err());
    }

    #[test]
    fn systemd_and_supervisord_escape_their_specifiers() {
        assert_eq!(systemd_escape("a%b\"c\\"), "a%%b\\\"c\\\\");
        assert_eq!(supervisord_value("50%"), "\"50%%\"");
    }

    #[test]
    fn kubernetes_names_are_checked() {
        let options = ExportOptions { name: Some("Bad_Name".into()), namespace: None };
        assert_eq!(
            render(Format::K8sSecret, &VARS, &options),
            Err(ExportError::BadName("Bad_Name".into()))
        );
        let options = ExportOptions { name: Some("qwen".into()), namespace: Some("ml".into()) };
        let text = render(Format::K8sSecret, &VARS, &options).unwrap();
        assert!(text.contains("  name: qwen\n  namespace: ml\n"));
    }

    #[test]
    fn github_actions_never_contains_the_key_and_reads_stdin() {
        let text = render_default(Format::GithubActions);
        assert!(text.contains("| gh secret set DASHSCOPE_API_KEY"));
        assert!(text.contains("${{ secrets.DASHSCOPE_API_KEY }}"));
    }
}
