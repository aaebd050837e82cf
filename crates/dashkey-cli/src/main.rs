//! The `dashkey` command. It maps arguments to library calls and owns every sentence the
//! user reads; the `dashkey` library does the reasoning.

mod changes;
mod cli;
mod clients;
mod contexts;
mod doctor;
mod exit;
mod export;
mod keyinput;
mod output;
mod run;
mod service;
mod set;
mod shellenv;
mod spinner;
mod status;
mod unset;
mod verify;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command};
use crate::exit::{Exit, Failure, Outcome};

fn main() -> ExitCode {
    if keyinput::key_in_arguments(std::env::args_os()) {
        return report(keyinput::refuse_argv(&keyinput::subcommand(std::env::args_os())));
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return parse_error(&error),
    };
    match run(cli) {
        Ok(exit) => exit.into(),
        Err(failure) => report(failure),
    }
}

/// Prints an error and returns its exit status. Errors name their cause in their own
/// message, so the chain of sources is not printed again. The message is scrubbed of anything
/// key-like first, whatever it quotes.
fn report(Failure { exit, error }: Failure) -> ExitCode {
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
fn parse_error(error: &clap::Error) -> ExitCode {
    let text = keyinput::scrub(&error.render().ansi().to_string());
    if error.use_stderr() {
        anstream::eprint!("{text}");
    } else {
        anstream::print!("{text}");
    }
    ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2))
}

fn run(cli: Cli) -> Outcome {
    let platform = dashkey::Platform::current();
    let writes = match &cli.command {
        Command::Set(_) => Some("set"),
        Command::Unset(_) => Some("unset"),
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
        Command::Status(args) => status::run(&platform, &args),
        Command::Clients(args) => clients::list(&args),
        Command::Verify(args) => verify::run(&platform, &args),
        Command::Doctor(args) => doctor::run(&platform, &args),
        Command::Completions { shell } => {
            let mut command = Cli::command();
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut command, "dashkey", &mut out);
            out.flush()?;
            Ok(Exit::Ok)
        }
        Command::Man => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            out.flush()?;
            Ok(Exit::Ok)
        }
    }
}
