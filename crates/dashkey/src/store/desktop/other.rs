//! Every other OS: no session store outside files (Linux uses environment.d).

use crate::edit::session::SessionEnv;

pub fn native_session() -> Option<Box<dyn SessionEnv>> {
    None
}
