//! The command line, declared once: parsing, `--help`, completions and the man page all come
//! from these types.

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Examples:
  dashkey set                    paste the key once; every shell, desktop app and SDK finds it
  dashkey status                 where is my key, and which copy does each SDK use?
  eval \"$(dashkey env)\"          load it into this terminal only
  dashkey unset                  remove everything dashkey wrote
  dashkey status --json          the same, for scripts
  dashkey verify                 does DashScope accept the key, and in which region?
  dashkey doctor                 why does my program not get the key, and what is the fix?
  dashkey completions bash > ~/.local/share/bash-completion/completions/dashkey

Exit status: 0 fine, 1 a problem was found, 2 bad usage or input, 3 an I/O failure.
The key is never printed unless you ask for it with --reveal.";

/// Make a DashScope (Alibaba Cloud Model Studio) API key work everywhere, and say exactly
/// why when it does not.
#[derive(Debug, Parser)]
#[command(name = "dashkey", version, about, long_about = None, after_help = AFTER_HELP)]
#[command(propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Store the key for every shell, desktop session and SDK of this user.
    #[command(after_help = "\
Examples:
  dashkey set                                  paste at a hidden prompt
  printf '%s' \"$KEY\" | dashkey set --stdin     from a pipe or a secret manager
  dashkey set --region ap-southeast-1          a Singapore key: also write its base URLs
  dashkey set --dry-run                        show the diff (key masked), write nothing
  dashkey set --migrate                        also remove old `export DASHSCOPE_API_KEY=...` lines

The key goes into files dashkey owns (0600) and the SDKs' ~/.dashscope/api_key; startup files
get only a guarded line that loads dashkey's file, so the key never lands in your dotfiles.")]
    Set(SetArgs),

    /// Remove everything `dashkey set` wrote, restoring edited files byte for byte.
    #[command(after_help = "\
Examples:
  dashkey unset             remove hooks, dashkey's files, the SDK key file it wrote, desktop entries
  dashkey unset --dry-run   show what would be removed")]
    Unset(UnsetArgs),

    /// Print the stored key as assignments for one shell (this terminal only).
    #[command(after_help = "\
Examples:
  eval \"$(dashkey env)\"                 bash, zsh, sh, ksh
  dashkey env --shell fish | source      fish
  dashkey env --shell pwsh | Invoke-Expression
  dashkey env --reveal                   show it on the screen")]
    Env(EnvArgs),

    /// Show every copy of the key and which one each official SDK would use.
    #[command(after_help = "\
Examples:
  dashkey status            masked values, sources, base URLs and regions
  dashkey status --json     a stable JSON document (see README: \"status --json schema\")
  dashkey status --reveal   show full keys (only do this on a screen nobody else sees)

Exit status: 0 when the Python, Java and Node SDKs all find a non-empty key, 1 otherwise.")]
    Status(StatusArgs),

    /// Ask DashScope whether the key works, in every region at once.
    #[command(after_help = "\
Checks the key the Python SDK would use (environment variable, then key files), or the key
piped on standard input with --stdin, against every region at the same time: a key works in
exactly one region, and every other region rejects it as if it were wrong. No tokens are spent
(the check lists models). Region endpoints can be changed or added in
$XDG_CONFIG_HOME/dashkey/config.toml:

  [regions.ap-southeast-1]
  endpoint = \"https://gateway.example.com\"

Examples:
  dashkey verify                          every region, one line each, and the conclusion
  dashkey verify --region ap-southeast-1  only Singapore
  printf '%s' \"$KEY\" | dashkey verify --stdin
  dashkey verify --json                   a stable JSON document (schema_version 1)

Environment: DASHKEY_HTTP_TIMEOUT_MS (time per request, default 10000), HTTPS_PROXY, NO_PROXY.

Exit status: 0 accepted in some region, 1 rejected by every region that answered (or no key),
2 bad usage or input, 3 could not tell (no region answered about the key).")]
    Verify(VerifyArgs),

    /// Say why a program does not get a working key, and how to fix it.
    #[command(after_help = "\
Checks this environment against the stored key, running IDEs (or --pid), systemd units,
supervisord programs, sudo, base URLs, the key's value, key files, startup files and what each
SDK would use, and prints each finding with one line of why and one line of fix.

Examples:
  dashkey doctor                              everything that can be checked offline
  dashkey doctor --pid 4242                   also: does process 4242 have the key?
  dashkey doctor --systemd myapp              also: does the unit myapp.service provide it?
  dashkey doctor --systemd myapp --user       ... a user unit
  dashkey doctor --supervisord worker         also: does supervisord give it to worker?
  dashkey doctor --online                     also: is the key accepted where it is sent?
  dashkey doctor --json                       {\"findings\":[{id, severity, title, detail, fix}]}

Severities: ok, info, warn, fail. Exit status: 0 when nothing is fail, 1 otherwise,
2 bad usage. The key is never printed.")]
    Doctor(DoctorArgs),

    /// Print a completion script for a shell.
    #[command(after_help = "\
Examples:
  dashkey completions bash > ~/.local/share/bash-completion/completions/dashkey
  dashkey completions zsh  > \"${fpath[1]}/_dashkey\"
  dashkey completions fish > ~/.config/fish/completions/dashkey.fish")]
    Completions {
        /// The shell to write completions for.
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff) on standard output.
    #[command(after_help = "Example:\n  dashkey man > ~/.local/share/man/man1/dashkey.1")]
    Man,
}

/// Options of `dashkey status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print a JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    /// Show full key values instead of masked ones.
    #[arg(long)]
    pub reveal: bool,
}

/// Options of `dashkey set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// Read the key from standard input instead of a hidden prompt.
    #[arg(long)]
    pub stdin: bool,
    /// Also write this region's base URLs (cn-beijing, ap-southeast-1, us-east-1, cn-hongkong).
    #[arg(long, value_name = "ID")]
    pub region: Option<String>,
    /// Also write OPENAI_API_KEY and OPENAI_BASE_URL, for the OpenAI SDK with Qwen models.
    #[arg(long)]
    pub openai_compatible: bool,
    /// Stop writing OPENAI_API_KEY and OPENAI_BASE_URL that an earlier set wrote.
    #[arg(long, conflicts_with = "openai_compatible")]
    pub no_openai_compatible: bool,
    /// Only hook these shells (repeatable): bash, zsh, fish, sh, ksh, mksh, tcsh, nu, pwsh.
    #[arg(long = "shell", value_name = "NAME")]
    pub shells: Vec<String>,
    /// Do not touch any shell startup file.
    #[arg(long)]
    pub no_modify_rc: bool,
    /// Write the desktop session file even when no desktop session is detected.
    #[arg(long)]
    pub gui: bool,
    /// Remove existing DASHSCOPE_API_KEY assignments from startup files (after a 0600 backup).
    #[arg(long)]
    pub migrate: bool,
    /// Print a unified diff of every change (key masked) and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the list of changes as JSON.
    #[arg(long)]
    pub json: bool,
    /// Refused: a key on the command line leaks into `ps` and shell history.
    #[arg(long = "key", hide = true, value_name = "KEY")]
    pub key_option: Option<String>,
    /// Refused, for the same reason.
    #[arg(hide = true, value_name = "KEY", num_args = 0..)]
    pub key_on_argv: Vec<String>,
}

/// Options of `dashkey unset`.
#[derive(Debug, Args)]
pub struct UnsetArgs {
    /// Print a unified diff of every change and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the list of changes as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `dashkey env`.
#[derive(Debug, Args)]
pub struct EnvArgs {
    /// The shell syntax: sh, bash, zsh, fish, csh, tcsh, nu, pwsh or cmd (default: from $SHELL).
    #[arg(long, value_name = "NAME")]
    pub shell: Option<String>,
    /// Allow printing the key to a terminal.
    #[arg(long)]
    pub reveal: bool,
}

/// Options of `dashkey doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Also check this running process (repeatable).
    #[arg(long = "pid", value_name = "PID")]
    pub pids: Vec<u32>,
    /// Also check this systemd unit (repeatable; `app` means `app.service`).
    #[arg(long = "systemd", value_name = "UNIT")]
    pub systemd: Vec<String>,
    /// Look the --systemd units up in the user manager's directories only.
    #[arg(long, requires = "systemd")]
    pub user: bool,
    /// Also check this supervisord program (repeatable).
    #[arg(long = "supervisord", value_name = "PROGRAM")]
    pub supervisord: Vec<String>,
    /// supervisord's configuration file (default: the running supervisord's, else its default
    /// locations).
    #[arg(short = 'c', long = "supervisord-conf", value_name = "FILE", requires = "supervisord")]
    pub supervisord_conf: Option<std::path::PathBuf>,
    /// Also ask DashScope, in every region, whether the key works where it is sent.
    #[arg(long)]
    pub online: bool,
    /// Print {"findings":[…]} as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Options of `dashkey verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Check only this region (a built-in id such as ap-southeast-1, or one from config.toml).
    #[arg(long, value_name = "ID", conflicts_with = "base_url")]
    pub region: Option<String>,
    /// Check only this endpoint: https://host, or a base URL ending in /api/v1 or
    /// /compatible-mode/v1 (plain http only for loopback hosts).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Read the key from standard input instead of the environment and key files.
    #[arg(long)]
    pub stdin: bool,
    /// Print a JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}
