//! What every function does before it takes its first event: a failure here stops the process with
//! one line naming the problem, never a function that runs half-configured.

use std::fmt::Display;

/// The value, or the process exits with `error` on one line.
pub fn or_exit<T, E: Display>(result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            eprintln!("{error}");
            std::process::exit(1);
        }
    }
}
