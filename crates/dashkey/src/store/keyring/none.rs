//! An OS without a keyring dashkey can use: every call says so.

use crate::edit::keyring::KeyringError;

pub(super) const NAME: &str = "the OS keyring";

fn none() -> KeyringError {
    KeyringError::Unavailable("dashkey has no keyring backend for this OS".to_string())
}

pub(super) fn get(_: &str, _: &str) -> Result<Option<String>, KeyringError> {
    Err(none())
}

pub(super) fn set(_: &str, _: &str, _: &str) -> Result<(), KeyringError> {
    Err(none())
}

pub(super) fn delete(_: &str, _: &str) -> Result<(), KeyringError> {
    Err(none())
}
