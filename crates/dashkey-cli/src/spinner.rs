//! A spinner on stderr while the network is asked, so that a ten-second timeout does not look
//! like a hang. Only on a terminal: a pipe or a log file gets no control characters.

use std::io::{IsTerminal, Write};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::Duration;

const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const TICK: Duration = Duration::from_millis(80);

/// Spins until dropped, then erases its line.
pub struct Spinner {
    running: Option<(Sender<()>, JoinHandle<()>)>,
}

impl Spinner {
    /// Starts spinning with `message` when stderr is a terminal (and not a dumb one).
    pub fn start(message: String) -> Spinner {
        let dumb = std::env::var_os("TERM").is_some_and(|term| term == "dumb");
        if dumb || !std::io::stderr().is_terminal() {
            return Spinner { running: None };
        }
        let (stop, stopped) = mpsc::channel();
        let thread = thread::spawn(move || {
            for frame in FRAMES.iter().cycle() {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r{frame} {message}");
                let _ = err.flush();
                drop(err);
                match stopped.recv_timeout(TICK) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        });
        Spinner { running: Some((stop, thread)) }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }
}
