//! `dashkey unset`: remove every trace of `dashkey set`, restoring edited files byte for byte.

use dashkey::Platform;
use dashkey::shell::{Probes, Shell};
use dashkey::store;

use crate::changes;
use crate::cli::UnsetArgs;
use crate::exit::{Exit, Outcome};
use crate::output::{DIM, paint};

pub fn run(platform: &Platform, args: &UnsetArgs) -> Outcome {
    if let Some(name) = &args.profile {
        return crate::profiles::remove(platform, name, args);
    }
    // Always locked (a dry run excepted): a `set` running now may be creating the directory.
    let _lock = if args.dry_run { None } else { Some(store::lock(platform)?) };
    if let Some(locked) = &_lock {
        changes::print_note_list(platform, &locked.notes);
    }
    let probes = Probes::ask(platform, &Shell::ALL);
    let mut session = dashkey::store::desktop::native_session();
    let plan = store::plan_unset(platform, &probes, session.as_deref())?;
    if args.dry_run {
        changes::print_dry_run(platform, &plan, args.json)?;
        return Ok(Exit::Ok);
    }
    let applied = store::apply(&plan, session.as_deref_mut())?;
    if args.json {
        changes::print_report(&plan, false)?;
    } else if plan.is_empty() {
        anstream::println!("dashkey has nothing stored for this user; nothing changed.");
    } else {
        changes::heading("Removed the DashScope API key that dashkey stored");
        changes::print_applied(platform, &plan, &applied);
        anstream::println!(
            "{}",
            paint(DIM, "Terminals and programs already running keep the key until restarted.")
        );
    }
    changes::print_notes(platform, &plan);
    Ok(Exit::Ok)
}
