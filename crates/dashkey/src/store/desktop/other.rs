//! Every other OS: no session store outside files (Linux uses environment.d).

use super::SessionEnv;

pub fn native_session() -> Option<Box<dyn SessionEnv>> {
    None
}
