//! No panic reaches the user as a backtrace.
//!
//! sled 0.34 panics on some damaged files (a truncated segment indexes out of bounds) instead of
//! returning an error. [`catch`] runs such code with the panic hook silenced on this thread and
//! turns a panic into its message, so the store can say "the store is damaged" and exit 5.
//! [`install`] sets the hook once, at start-up; without it (a benchmark using the library) a
//! caught panic is still caught, only printed by the default hook first.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};

thread_local! {
    /// Set while [`catch`] runs: the hook records instead of printing.
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    /// What the hook recorded: the message and where it was raised.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the hook: silent (recording) inside [`catch`], the default hook elsewhere.
pub fn install() {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if CATCHING.with(Cell::get) {
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", short_path(l.file()), l.line()))
                .unwrap_or_default();
            let text = format!("{}{at}", payload_text(info.payload()));
            CAUGHT.with(|c| *c.borrow_mut() = Some(text));
        } else {
            default(info);
        }
    }));
}

/// Runs `work`; a panic inside it comes back as `Err(message)`.
pub fn catch<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    let outer = CATCHING.with(|c| c.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(work));
    CATCHING.with(|c| c.set(outer));
    result.map_err(|payload| {
        CAUGHT
            .with(|c| c.borrow_mut().take())
            .unwrap_or_else(|| payload_text(payload.as_ref()))
    })
}

/// The last three components of a source path (`sled-0.34.7/src/serialization.rs`): the
/// crate and the file, without the build machine's folders.
fn short_path(file: &str) -> &str {
    let cut = file
        .rmatch_indices(['/', '\\'])
        .nth(2)
        .map_or(0, |(i, _)| i + 1);
    &file[cut..]
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_comes_back_as_its_message_and_the_rest_runs_on() {
        install();
        let caught = catch(|| -> u32 { panic!("index out of bounds: the len is 3") });
        let message = caught.unwrap_err();
        assert!(
            message.starts_with("index out of bounds: the len is 3 at "),
            "{message}"
        );
        assert_eq!(catch(|| 7), Ok(7));
        assert_eq!(
            short_path("/root/.cargo/registry/src/index/sled-0.34.7/src/serialization.rs"),
            "sled-0.34.7/src/serialization.rs"
        );
        assert_eq!(short_path("lib.rs"), "lib.rs");
        // Nested: the inner catch leaves the outer one catching.
        let outer = catch(|| {
            let inner = catch(|| panic!("inner"));
            assert!(inner.is_err());
            panic!("outer")
        });
        assert!(outer.unwrap_err().starts_with("outer"));
    }
}
