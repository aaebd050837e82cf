//! `HKCU\Environment` through the `windows-registry` crate, and the settings broadcast.
#![allow(unsafe_code)]

use crate::edit::session::{SessionEnv, SessionError};

const STORE: &str = "Windows registry (HKCU\\Environment)";

struct Registry;

fn error(op: &'static str, name: &str, e: impl std::fmt::Display) -> SessionError {
    SessionError { op, name: name.to_string(), store: STORE, detail: e.to_string() }
}

impl SessionEnv for Registry {
    fn get(&self, name: &str) -> Result<Option<String>, SessionError> {
        let key = windows_registry::CURRENT_USER
            .open("Environment")
            .map_err(|e| error("read", name, e))?;
        Ok(key.get_string(name).ok())
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), SessionError> {
        // REG_SZ, written directly: never `setx`, which truncates at 1024 characters
        // and would put the value on a command line.
        let key = windows_registry::CURRENT_USER
            .create("Environment")
            .map_err(|e| error("open", name, e))?;
        key.set_string(name, value).map_err(|e| error("set", name, e))
    }

    fn remove(&mut self, name: &str) -> Result<(), SessionError> {
        let key = windows_registry::CURRENT_USER
            .create("Environment")
            .map_err(|e| error("open", name, e))?;
        match key.get_string(name) {
            Ok(_) => key.remove_value(name).map_err(|e| error("remove", name, e)),
            Err(_) => Ok(()),
        }
    }

    fn announce(&mut self) {
        use windows_sys::Win32::UI::WindowsAndMessaging::{
            HWND_BROADCAST, SMTO_ABORTIFHUNG, SendMessageTimeoutW, WM_SETTINGCHANGE,
        };
        // The timeout applies per window; a thread and a bounded wait cap the total.
        let (done, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let area: Vec<u16> = "Environment\0".encode_utf16().collect();
            let mut result = 0usize;
            unsafe {
                SendMessageTimeoutW(
                    HWND_BROADCAST,
                    WM_SETTINGCHANGE,
                    0,
                    area.as_ptr() as isize,
                    SMTO_ABORTIFHUNG,
                    1000,
                    &mut result,
                );
            }
            let _ = done.send(());
        });
        let _ = wait.recv_timeout(std::time::Duration::from_secs(3));
    }
}

pub fn native_session() -> Option<Box<dyn SessionEnv>> {
    Some(Box::new(Registry))
}
