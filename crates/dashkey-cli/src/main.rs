//! The `dashkey` command. It maps arguments to library calls and owns every sentence the
//! user reads; the `dashkey` library does the reasoning.
// The C entry point instead of Rust's start-up: see `main`.
#![cfg_attr(not(test), no_main)]

/// Appends a line to a report being built in a `String` (see `output::print`); writing
/// to a `String` cannot fail.
macro_rules! outln {
    ($out:expr) => {
        $out.push('\n')
    };
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

mod changes;
mod cli;
mod clients;
mod contexts;
mod doctor;
mod exit;
mod export;
mod key;
mod keyinput;
mod output;
mod profiles;
mod run;
mod service;
mod set;
mod shellenv;
mod spinner;
mod status;
mod unset;
mod verify;

use std::io::Write;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command};
use crate::exit::{Exit, Failure, Outcome};

/// The process's entry, called by the C library. Rust's own start-up would first ask the C
/// library for the main thread's stack bounds (`pthread_getattr_np` reads and `sscanf`s all of
/// `/proc/self/maps`: about 100k instructions, a tenth of `status`) only to name a stack
/// overflow in its message; a stack overflow is still stopped by the guard page, as a plain
/// SIGSEGV. What dashkey relies on from that start-up is kept here: SIGPIPE is ignored (a
/// closed pipe is a write error, as before), a panic exits 101, and stdout is flushed.
#[allow(unsafe_code)] // `no_mangle`: the C library must find `main` by name
#[cfg_attr(not(test), unsafe(no_mangle))]
pub extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    dashkey::platform::ignore_broken_pipe_signal();
    let code = std::panic::catch_unwind(dashkey_main).unwrap_or(101);
    let _ = std::io::stdout().lock().flush();
    code.into()
}

fn dashkey_main() -> u8 {
    if let Some(args) = plain_status(std::env::args_os().skip(1)) {
        return finish(run(Cli { command: Command::Status(args) }));
    }
    if keyinput::key_in_arguments(std::env::args_os()) {
        return report(keyinput::refuse_argv(&keyinput::subcommand(std::env::args_os())));
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return parse_error(&error),
    };
    finish(run(cli))
}

fn finish(outcome: Outcome) -> u8 {
    match outcome {
        Ok(exit) => exit.into(),
        Err(failure) => report(failure),
    }
}

/// The running binary, canonical: how every printed `sudo` command names dashkey, because
/// sudo searches only its `secure_path`, which rarely holds `~/.cargo/bin`.
pub fn program_path() -> Option<std::path::PathBuf> {
    std::env::current_exe().and_then(std::fs::canonicalize).ok()
}

/// `sudo /abs/path/dashkey`, quoted for a POSIX shell: the start of every `sudo` command
/// dashkey prints.
pub fn sudo_dashkey() -> String {
    match program_path() {
        Some(path) => format!("sudo {}", dashkey::shell::word_posix(&path.display().to_string())),
        None => "sudo dashkey".to_string(),
    }
}

/// `dashkey status` with nothing but its own flags, read without building the whole command
/// line definition (which costs more than the rest of `status` together). Anything else
/// (help, a typo, a repeated flag) is left to clap, so the answer is always clap's.
fn plain_status(mut args: impl Iterator<Item = std::ffi::OsString>) -> Option<cli::StatusArgs> {
    if args.next()? != "status" {
        return None;
    }
    let mut status = cli::StatusArgs { json: false, reveal: false, client: None, profile: None };
    for arg in args {
        let flag = match arg.to_str()? {
            "--json" => &mut status.json,
            "--reveal" => &mut status.reveal,
            _ => return None,
        };
        if std::mem::replace(flag, true) {
            return None;
        }
    }
    Some(status)
}

/// Prints an error and returns its exit status. Errors name their cause in their own
/// message, so the chain of sources is not printed again. The message is scrubbed of anything
/// key-like first, whatever it quotes.
fn report(Failure { exit, error }: Failure) -> u8 {
    let label = output::paint(output::FAIL, "error:");
    let message = keyinput::scrub(&error.to_string());
    anstream::eprintln!("{label} {message}");
    exit.into()
}

/// Refuses a writing command whose home is unusable (HOME unset, empty or relative) or
/// would get root-owned files or the wrong user's key (under sudo).
fn check_home(platform: &dashkey::Platform, command: &str) -> Result<(), Failure> {
    use dashkey::platform::HomeProblem;
    let Err(problem) = platform.writable_home() else {
        return Ok(());
    };
    let fix_home = "set HOME to your home directory (for example `export HOME=/home/you`) and run \
                    it again";
    let message = match &problem {
        HomeProblem::Unset => {
            format!("HOME is not set, so there is no home to write into: {fix_home}")
        }
        HomeProblem::Empty => {
            format!("HOME is empty, so there is no home to write into: {fix_home}")
        }
        HomeProblem::Relative { home } => format!(
            "HOME is the relative path `{}`, which would put files wherever this runs: {fix_home}",
            home.display()
        ),
        HomeProblem::SudoInUserHome { user, home, .. } => format!(
            "refusing to run `dashkey {command}` as root in {user}'s home ({}): the files root \
             creates there (~/.config/dashkey, ~/.dashscope) would be owned by root, and {user}'s \
             programs and `dashkey unset` could not read or remove them. Run it as {user}, \
             without sudo:  dashkey {command}",
            home.display()
        ),
        HomeProblem::SudoInOtherHome { user, home, .. } => format!(
            "refusing to run `dashkey {command}` under sudo: it would act for root in {}, not for \
             {user}. For {user}, run it without sudo:  dashkey {command}\n  For root, log in as \
             root (`su -`) and run it there",
            home.display()
        ),
    };
    Err(Failure { exit: Exit::Usage, error: anyhow::anyhow!("{message}; nothing was changed") })
}

/// Says which home a reading command uses when HOME does not say.
fn note_home(platform: &dashkey::Platform) {
    if let Some(home) = platform.home_fallback() {
        let why = if platform.var("HOME").is_some() { "empty" } else { "not set" };
        anstream::eprintln!(
            "note: HOME is {why}; using {}, this account's home in the user database",
            home.display()
        );
    }
}

/// Shows clap's own message (help, version, or a usage error) re-rendered without any
/// key-like argument it would quote, with clap's exit status.
fn parse_error(error: &clap::Error) -> u8 {
    let text = keyinput::scrub(&error.render().ansi().to_string());
    if error.use_stderr() {
        anstream::eprint!("{text}");
    } else {
        anstream::print!("{text}");
    }
    u8::try_from(error.exit_code()).unwrap_or(2)
}

fn run(cli: Cli) -> Outcome {
    let platform = dashkey::Platform::current();
    let writes = match &cli.command {
        Command::Set(_) => Some("set"),
        Command::Unset(_) => Some("unset"),
        Command::Use(_) => Some("use"),
        Command::Region(args) if args.id.is_some() => Some("region"),
        _ => None,
    };
    match writes {
        Some(command) => check_home(&platform, command)?,
        None => note_home(&platform),
    }
    match cli.command {
        Command::Set(args) => set::run(&platform, &args),
        Command::Region(args) => set::region(&platform, &args),
        Command::Run(args) => run::run(&platform, &args),
        Command::Sudo(args) => run::sudo(&platform, &args),
        Command::Export(args) => export::run(&platform, &args),
        Command::Service(args) => service::run(&platform, &args),
        Command::Unset(args) => unset::run(&platform, &args),
        Command::Env(args) => shellenv::run(&platform, &args),
        Command::Use(args) => profiles::switch(&platform, &args),
        Command::Profiles(args) => profiles::list(&platform, &args),
        Command::Link(args) => profiles::link(&platform, &args),
        Command::Unlink(args) => profiles::unlink(&platform, &args),
        Command::Key(args) => key::run(&platform, &args),
        Command::Status(args) => status::run(&platform, &args),
        Command::Clients(args) => clients::list(&args),
        Command::Verify(args) => verify::run(&platform, &args),
        Command::Doctor(args) => doctor::run(&platform, &args),
        Command::Completions { shell } => completions(shell),
        Command::Man(args) => man(&args),
    }
}

/// `dashkey completions SHELL`: clap's generators, and nushell's from its own crate.
fn completions(shell: cli::CompletionShell) -> Outcome {
    use clap_complete::Shell as Clap;
    use cli::CompletionShell as S;
    let mut command = Cli::command();
    let mut out = std::io::stdout().lock();
    match shell {
        S::Bash => clap_complete::generate(Clap::Bash, &mut command, "dashkey", &mut out),
        S::Zsh => clap_complete::generate(Clap::Zsh, &mut command, "dashkey", &mut out),
        S::Fish => clap_complete::generate(Clap::Fish, &mut command, "dashkey", &mut out),
        S::Elvish => clap_complete::generate(Clap::Elvish, &mut command, "dashkey", &mut out),
        S::PowerShell => {
            clap_complete::generate(Clap::PowerShell, &mut command, "dashkey", &mut out);
        }
        S::Nushell => {
            clap_complete::generate(
                clap_complete_nushell::Nushell,
                &mut command,
                "dashkey",
                &mut out,
            );
        }
    }
    out.flush()?;
    Ok(Exit::Ok)
}

/// `dashkey man`: the main page on stdout, or every page (the main one names the
/// subcommands' pages, `dashkey-set(1)` …) written into a directory.
fn man(args: &cli::ManArgs) -> Outcome {
    // As clap_mangen's generate_to builds it: display names `dashkey-set`, and no page for
    // clap's `help` subcommand (which the main page then does not name either).
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let Some(dir) = &args.output else {
        let mut out = std::io::stdout().lock();
        clap_mangen::Man::new(command).render(&mut out)?;
        out.flush()?;
        return Ok(Exit::Ok);
    };
    if !dir.is_dir() {
        return Err(Failure {
            exit: Exit::Usage,
            error: anyhow::anyhow!("{} is not a directory: create it first", dir.display()),
        });
    }
    // The pages clap_mangen's generate_to would write, each written atomically.
    let mut pages = vec![command];
    let mut at = 0;
    while at < pages.len() {
        let page = pages[at].clone();
        let man = clap_mangen::Man::new(page.clone());
        let path = dir.join(man.get_filename());
        let mut roff = Vec::new();
        man.render(&mut roff)?;
        dashkey::edit::fsx::write_atomic(&path, &roff, 0o644)?;
        anstream::println!("{}", path.display());
        pages.extend(page.get_subcommands().filter(|sub| !sub.is_hide_set()).cloned());
        at += 1;
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_status_path_reads_what_clap_reads_and_leaves_the_rest_to_clap() {
        let lists: [&[&str]; 10] = [
            &["status"],
            &["status", "--json"],
            &["status", "--reveal"],
            &["status", "--json", "--reveal"],
            &["status", "--reveal", "--json"],
            &["status", "--json", "--json"],
            &["status", "--help"],
            &["status", "--jso"],
            &["status", "extra"],
            &["doctor"],
        ];
        for list in lists {
            let fast = plain_status(list.iter().map(std::ffi::OsString::from));
            let clap = Cli::try_parse_from(std::iter::once("dashkey").chain(list.iter().copied()));
            match (fast, clap) {
                (Some(fast), Ok(Cli { command: Command::Status(slow) })) => {
                    assert_eq!((fast.json, fast.reveal), (slow.json, slow.reveal), "{list:?}");
                }
                (Some(_), other) => panic!("{list:?}: clap says {other:?}"),
                (None, _) => assert!(
                    !matches!(list, ["status"] | ["status", "--json" | "--reveal"]),
                    "{list:?} must take the plain path"
                ),
            }
        }
    }
}
