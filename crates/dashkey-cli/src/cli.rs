//! The command line, declared once: parsing, `--help`, completions and the man page all come
//! from these types.

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Examples:
  dashkey set                    paste the key once; every shell, desktop app and SDK finds it
  dashkey status                 where is my key, and which copy does each SDK use?
  dashkey status --json          the same, for scripts
  dashkey verify                 does DashScope accept the key, and in which region?
  dashkey doctor                 why does my program not get the key, and what is the fix?
  dashkey run -- python app.py   a program started without a shell (cron, IDE, service)
  eval \"$(dashkey env)\"          load it into this terminal only
  dashkey key                    the key alone, for helper commands (Claude Code's apiKeyHelper)
  dashkey unset                  remove everything dashkey wrote
  dashkey completions bash > ~/.local/share/bash-completion/completions/dashkey

Exit status: 0 fine, 1 a problem was found, 2 bad usage or input, 3 an I/O failure.
The key is never printed unless you ask for it with --reveal.";

/// Make a DashScope (Alibaba Cloud Model Studio) API key work everywhere, and say exactly
/// why when it does not.
#[derive(Debug, Parser)]
#[command(name = "dashkey", version, after_help = AFTER_HELP)]
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
  dashkey set --region ap-southeast-1          insist on a region (checked online unless --offline)
  dashkey set --dry-run                        show the diff (key masked), write nothing
  dashkey set --migrate                        also remove old `export DASHSCOPE_API_KEY=...` lines

Before writing, the key is checked with DashScope in every region at once; the region that
accepts it decides the base URLs written beside it. A rejected key is not stored; if DashScope
cannot be reached, set warns and stores the key unchecked.

The key goes into files dashkey owns (0600) and the SDKs' ~/.dashscope/api_key; startup files
get only a guarded line that loads dashkey's file, so the key never lands in your dotfiles.")]
    Set(SetArgs),

    /// Show the stored key's region, or move it to another region for every shell.
    #[command(after_help = "\
Examples:
  dashkey region                   print the stored region
  dashkey region ap-southeast-1    rewrite the base URLs beside the stored key
  dashkey region us-east-1 --dry-run")]
    Region(RegionArgs),

    /// Run a command with the stored key in its environment (cron, IDEs, services).
    #[command(after_help = "\
Examples:
  dashkey run -- python app.py                 from cron, an IDE, anywhere without a shell
  dashkey run --region us-east-1 -- node app.js
The exit status is the command's; on Unix dashkey is replaced by the command.")]
    Run(RunArgs),

    /// Run a command through sudo, keeping only the DashScope variables (not `sudo -E`).
    #[command(after_help = "\
Examples:
  dashkey sudo -- python app.py
  dashkey sudo -u svc -- python /srv/app.py")]
    Sudo(SudoArgs),

    /// Print or write the stored key for containers, Kubernetes, CI, services and shells.
    #[command(after_help = "\
Formats: sh fish csh nu powershell cmd dotenv docker-env compose systemd supervisord
         k8s-secret github-actions json
Examples:
  dashkey export --format docker-env --output dashscope.env && docker run --env-file dashscope.env IMAGE
  dashkey export --format compose --output dashscope.env     writes the file, prints the env_file snippet
  dashkey export --format k8s-secret --name qwen | kubectl apply -f -
  dashkey export --format github-actions                     the gh commands (no secret on screen)
Files are written 0600. On a terminal, formats holding the key need --reveal.")]
    Export(ExportArgs),

    /// Give a systemd unit, a supervisord program or your cron jobs the key, or take it back.
    #[command(after_help = "\
Examples:
  sudo \"$(command -v dashkey)\" service install --systemd app
                                  /etc/dashkey/app.service.env + a drop-in (sudo's PATH may not
                                  have dashkey: give it its full path)
  sudo \"$(command -v dashkey)\" service install --systemd app --credential
                                  the key as a systemd credential, out of the unit's environment
  dashkey service install --systemd app --user        a user unit
  dashkey service install --supervisord app -c /etc/supervisor/supervisord.conf
  dashkey service install --cron                      the region's URLs atop your crontab (no key)
  dashkey service install --cron --with-key           the key too, for Node and OpenAI-style jobs
  dashkey service uninstall --systemd app             restores every file byte for byte
  dashkey service uninstall --cron                    your crontab as it was (gone if it was)
  dashkey service list
`dashkey set` with a new key rewrites every installed service's copy.")]
    Service(ServiceArgs),

    /// Remove everything `dashkey set` wrote, restoring edited files byte for byte.
    #[command(after_help = "\
Examples:
  dashkey unset             remove hooks, dashkey's files, the SDK key file it wrote, desktop entries
  dashkey unset --dry-run   show what would be removed")]
    Unset(UnsetArgs),

    /// Make a stored profile the one every new shell, desktop session and SDK file gets.
    #[command(after_help = "\
Examples:
  printf '%s' \"$KEY\" | dashkey set --stdin --profile work    store a second key as `work`
  dashkey use work                                          new shells get `work` from now on
  dashkey use default                                       back to the unnamed key")]
    Use(UseArgs),

    /// List the stored profiles: masked key, fingerprint, kind, region, which is in use.
    Profiles(ProfilesArgs),

    /// Make this directory tree use a profile; bash, zsh and fish switch on cd.
    #[command(after_help = "\
Examples:
  cd ~/work/project && dashkey link work    writes ./.dashkey-profile (the name only, no secret)
  dashkey unlink                            removes it

The link file holds one line, the profile's name, so it is safe to commit. Interactive bash,
zsh and fish shells switch the DashScope variables to the linked profile when they enter the
tree and back when they leave it, without starting any process; other shells get it through
`dashkey run`. The nearest link file above the working directory wins; --profile beats it.
run, env, export, key, verify, status, doctor and region follow it.")]
    Link(LinkArgs),

    /// Remove the link file `dashkey link` wrote in this directory.
    Unlink(UnlinkArgs),

    /// Print the stored key as assignments for one shell (this terminal only).
    #[command(after_help = "\
Examples:
  eval \"$(dashkey env)\"                 bash, zsh, sh, ksh
  dashkey env --shell fish | source      fish
  dashkey env --shell pwsh | Invoke-Expression
  dashkey env --reveal                   show it on the screen")]
    Env(EnvArgs),

    /// Print the stored key alone on one line, for programs that run a helper command.
    #[command(after_help = "\
For programs that get a secret by running a command: Claude Code's apiKeyHelper,
credential-process style hooks, scripts. It prints the key `dashkey run` and `dashkey env`
hand over, and nothing else.

Examples:
  {\"apiKeyHelper\": \"dashkey key\"}        Claude Code's settings.json
  curl -H \"Authorization: Bearer $(dashkey key)\" ...
  dashkey key --reveal                   show it on the screen

Exit status: 0 printed, 1 no key is stored, 2 standard output is a terminal (without --reveal).")]
    Key(KeyArgs),

    /// Show every copy of the key and which one each official SDK would use.
    #[command(after_help = "\
Examples:
  dashkey status            masked values, sources, base URLs and regions
  dashkey status --json     a stable JSON document (see README: \"status --json schema\")
  dashkey status --reveal   show full keys (only do this on a screen nobody else sees)

Exit status: 0 when the Python, Java and Node SDKs all find a non-empty key, 1 otherwise.")]
    Status(StatusArgs),

    /// List the clients dashkey knows: where each reads the key and the base URL.
    #[command(after_help = "\
Examples:
  dashkey clients                      id, what it is, key and URL variables, URL style
  dashkey clients --json
  dashkey status --client litellm      what LiteLLM would send from here, and where
  dashkey doctor --client openai       why the openai client fails, and the fix")]
    Clients(ClientsArgs),

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
  dashkey verify --wait-all               wait for every region's answer

Once a region accepts the key, the others get 400 ms more; a region silent then is shown as
\"no answer yet\" and verify ends (a key works in one region only, so the others could only
reject it). --wait-all waits for every region, each up to the timeout.

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
  dashkey doctor --project [DIR]              the project's URLs, keys, .env files (DIR: .)
  dashkey doctor --json                       {\"findings\":[{id, severity, title, detail, fix}]}

Severities: ok, info, warn, fail. Exit status: 0 when nothing is fail, 1 otherwise,
2 bad usage. The key is never printed.")]
    Doctor(DoctorArgs),

    /// Print a completion script for a shell.
    #[command(after_help = "\
Examples:
  dashkey completions bash > ~/.local/share/bash-completion/completions/dashkey
  dashkey completions zsh  > \"${fpath[1]}/_dashkey\"
  dashkey completions fish > ~/.config/fish/completions/dashkey.fish
  dashkey completions nushell | save -f ($nu.default-config-dir | path join completions-dashkey.nu)
      then in config.nu:  source completions-dashkey.nu")]
    Completions {
        /// The shell to write completions for.
        shell: CompletionShell,
    },

    /// Print the man page (roff) on standard output, or write every page with --output.
    #[command(after_help = "\
Examples:
  dashkey man > ~/.local/share/man/man1/dashkey.1
  dashkey man --output ~/.local/share/man/man1    dashkey.1 and a page per subcommand
                                                  (dashkey-set.1, …), which dashkey.1 names")]
    Man(ManArgs),
}

/// The shells `dashkey completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    #[value(name = "powershell")]
    PowerShell,
    /// nushell (`nu`).
    #[value(alias = "nu")]
    Nushell,
}

/// Options of `dashkey man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write dashkey.1 and one page per subcommand (dashkey-set.1, …) into this directory
    /// instead of printing dashkey.1.
    #[arg(long, value_name = "DIR")]
    pub output: Option<std::path::PathBuf>,
}

/// Options of `dashkey clients`.
#[derive(Debug, Args)]
pub struct ClientsArgs {
    /// Print {"clients":[…]} as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Options of `dashkey link`.
#[derive(Debug, Args)]
pub struct LinkArgs {
    /// The profile this directory tree uses (see `dashkey profiles`).
    #[arg(value_name = "NAME")]
    pub name: String,
}

/// Options of `dashkey unlink`.
#[derive(Debug, Args)]
pub struct UnlinkArgs {}

/// Options of `dashkey status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Show which key this profile holds beside the rest (default: the linked one, else the
    /// one in use).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Show only what this client (see `dashkey clients`) would send, and where.
    #[arg(long, value_name = "ID")]
    pub client: Option<String>,
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
    /// Take the key from DASHSCOPE_API_KEY in dashkey's own environment (what an old
    /// `export DASHSCOPE_API_KEY=…` line in ~/.bashrc set), never from the command line.
    #[arg(long, conflicts_with = "stdin")]
    pub from_env: bool,
    /// Write the key dashkey already stores again, with no prompt and no online check (its
    /// stored region is kept unless --region is given): to add --gui, --migrate or a shell.
    #[arg(long, conflicts_with_all = ["stdin", "from_env"])]
    pub keep_key: bool,
    /// The key's region (cn-beijing, ap-southeast-1, us-east-1, cn-hongkong, or one from
    /// config.toml); by default it is found online.
    #[arg(long, value_name = "ID")]
    pub region: Option<String>,
    /// Do not check the key with DashScope before storing it.
    #[arg(long)]
    pub offline: bool,
    /// The key's workspace: write its dedicated host ({ID}.{region}.maas.aliyuncs.com, also in
    /// eu-central-1 and ap-northeast-1) and DASHSCOPE_WORKSPACE_ID / DASHSCOPE_WORKSPACE, and
    /// check the key there. Kept by later sets of the same profile.
    #[arg(long, value_name = "ID")]
    pub workspace: Option<String>,
    /// Stop writing the workspace an earlier set stored (back to the public hosts).
    #[arg(long, conflicts_with = "workspace")]
    pub no_workspace: bool,
    /// Also write the generic variables this client reads (repeatable; see `dashkey
    /// clients`): OPENAI_API_KEY and OPENAI_BASE_URL for openai and qwen-code, ALIBABA_* for
    /// langchain-js and ai-sdk, AI_DASHSCOPE_API_KEY for spring-ai, ANTHROPIC_* for
    /// claude-code. Refused when such a variable already holds another value, unless --force.
    #[arg(long = "client", value_name = "ID")]
    pub clients: Vec<String>,
    /// With --client: write a generic variable even where another value is set (this
    /// environment, a startup file, ./.env); dashkey's value then shadows it until `unset`.
    #[arg(long)]
    pub force: bool,
    /// The same as `--client openai` (kept for scripts written before --client).
    #[arg(long, hide = true)]
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
    #[arg(long, conflicts_with = "no_desktop")]
    pub gui: bool,
    /// Write no desktop session file (Linux: ~/.config/environment.d/60-dashkey.conf, which
    /// feeds desktop apps, IDEs and systemd user services; macOS: the LaunchAgent; Windows:
    /// HKCU\Environment and WSLENV), and take back what an earlier set wrote. Later sets keep
    /// to it until --gui.
    #[arg(long)]
    pub no_desktop: bool,
    /// Remove existing DASHSCOPE_API_KEY assignments from startup files (after a 0600 backup).
    #[arg(long)]
    pub migrate: bool,
    /// Store the key as this named profile (a plain word; `default` is the unnamed key). A
    /// profile not in use gets only its own file: `dashkey use NAME` switches to it.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Where the key itself lives: `file` (dashkey's env files and the SDK key file, the
    /// default) or `keyring` (the OS keyring: no file holds the key; new shells load it by
    /// running `dashkey env`). Later sets keep the store until --store says otherwise.
    #[arg(long, value_name = "STORE", value_parser = ["file", "keyring"])]
    pub store: Option<String>,
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
    /// Remove only this profile (not the one in use); without it, everything goes.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Print a unified diff of every change and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the list of changes as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `dashkey use`.
#[derive(Debug, Args)]
pub struct UseArgs {
    /// The profile.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Print a unified diff of every change (key masked) and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the list of changes as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `dashkey profiles`.
#[derive(Debug, Args)]
pub struct ProfilesArgs {
    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `dashkey env`.
#[derive(Debug, Args)]
pub struct EnvArgs {
    /// The profile (default: the linked one, else the one in use; see `dashkey profiles`).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The shell syntax: sh, bash, zsh, fish, csh, tcsh, nu, pwsh or cmd (default: from $SHELL).
    #[arg(long, value_name = "NAME")]
    pub shell: Option<String>,
    /// Allow printing the key to a terminal.
    #[arg(long)]
    pub reveal: bool,
}

/// Options of `dashkey key`.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The profile (default: the linked one, else the one in use).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Allow printing the key to a terminal.
    #[arg(long)]
    pub reveal: bool,
}

/// Options of `dashkey doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Check against this profile's key (default: the linked one, else the one in use).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
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
    /// Check a project's code, configuration and .env files instead (default: this
    /// directory); nothing in it is changed.
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = ".",
          conflicts_with_all = ["pids", "systemd", "supervisord"])]
    pub project: Option<std::path::PathBuf>,
    /// Also check what this client (see `dashkey clients`) would send, and where.
    #[arg(long, value_name = "ID")]
    pub client: Option<String>,
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
    #[arg(long, conflicts_with = "profile")]
    pub stdin: bool,
    /// Check this stored profile's key instead of the one the SDK would use.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// With --stdin: the pasted key's workspace; check it on that workspace's dedicated hosts
    /// (with --region, that region's only), as `set --workspace ID` would.
    #[arg(long, value_name = "ID", requires = "stdin", conflicts_with = "base_url")]
    pub workspace: Option<String>,
    /// Print a JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    /// Wait for every region's answer, each up to the timeout, instead of ending 400 ms after
    /// a region accepts the key.
    #[arg(long)]
    pub wait_all: bool,
}

/// Options of `dashkey region`.
#[derive(Debug, Args)]
pub struct RegionArgs {
    /// The region: cn-beijing, ap-southeast-1, us-east-1, cn-hongkong, or one from config.toml.
    #[arg(value_name = "ID")]
    pub id: Option<String>,
    /// The profile whose region to show or move (default: the linked one, else the one in use).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Print a unified diff of every change and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON: the stored region, or the list of changes.
    #[arg(long)]
    pub json: bool,
}

/// Options of `dashkey run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The profile (default: the linked one, else the one in use; see `dashkey profiles`).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Use this region's base URLs instead of the stored ones.
    #[arg(long, value_name = "ID")]
    pub region: Option<String>,
    /// The command and its arguments.
    #[arg(required = true, last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Options of `dashkey sudo`.
#[derive(Debug, Args)]
pub struct SudoArgs {
    /// sudo's options, then `--`, then the command.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<String>,
}

/// Options of `dashkey export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The profile (default: the linked one, else the one in use; see `dashkey profiles`).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The format (see below).
    #[arg(long, short, value_name = "FORMAT")]
    pub format: String,
    /// Write to this file (0600) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// The Kubernetes Secret's name (default dashscope), or the compose env file's name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The Kubernetes namespace.
    #[arg(long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Allow printing the key to a terminal.
    #[arg(long)]
    pub reveal: bool,
}

/// Options of `dashkey service`.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ServiceCommand,
}

/// `dashkey service` subcommands.
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Give the service the stored key.
    Install(ServiceTarget),
    /// Take it back, restoring every file byte for byte.
    Uninstall(ServiceTarget),
    /// List the services that have the key.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Which service, and how.
#[derive(Debug, Args)]
pub struct ServiceTarget {
    /// A systemd unit (`.service` is added when no type is given).
    #[arg(long, value_name = "UNIT", conflicts_with_all = ["supervisord", "cron"])]
    pub systemd: Option<String>,
    /// A user unit (`systemctl --user`).
    #[arg(long, requires = "systemd")]
    pub user: bool,
    /// Hand the key to the unit as a systemd credential (LoadCredential=, a 0600 file holding
    /// only the key) with DASHSCOPE_API_KEY_FILE_PATH=%d/dashscope_api_key, so the key is never
    /// in the unit's environment. The Python and Java SDKs read it; clients that read only
    /// the variable (Node, OpenAI-style) need the plain hand-off.
    #[arg(long, requires = "systemd")]
    pub credential: bool,
    /// Write system units under this directory instead of / (like `systemctl --root`).
    #[arg(long, value_name = "DIR", requires = "systemd")]
    pub root: Option<std::path::PathBuf>,
    /// A supervisord program (`[program:NAME]`).
    #[arg(long, value_name = "PROGRAM", conflicts_with = "cron")]
    pub supervisord: Option<String>,
    /// Your crontab (through `crontab`): the region's variables for every job, in a marker
    /// block at the top. The SDK key file gives the Python and Java SDKs the key.
    #[arg(long)]
    pub cron: bool,
    /// With --cron: put the key itself in the crontab too (Node and OpenAI-style clients
    /// read only the variable).
    #[arg(long, requires = "cron")]
    pub with_key: bool,
    /// supervisord's configuration (default: where supervisord looks).
    #[arg(short = 'c', long = "configuration", value_name = "FILE", requires = "supervisord")]
    pub config: Option<std::path::PathBuf>,
    /// With install: give the service this profile's key and keep it there, through that
    /// profile's rotations and `dashkey use` of another (default: follow the profile in use).
    /// With uninstall: take it back only if it keeps this profile (refused otherwise).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Print a unified diff of every change (key masked) and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}
