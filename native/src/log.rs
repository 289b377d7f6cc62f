//! Minimal diagnostics on stderr. The core only speaks up when something needs a human (an
//! unexpected database error in a background loop); `TASKER_NATIVE_LOG=debug` adds connection
//! losses and recoveries, `TASKER_NATIVE_LOG=off` silences it.

use std::sync::OnceLock;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Off,
    Warn,
    Debug,
}

fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| match std::env::var("TASKER_NATIVE_LOG").as_deref() {
        Ok("off") | Ok("0") | Ok("none") => Level::Off,
        Ok("debug") | Ok("trace") => Level::Debug,
        _ => Level::Warn,
    })
}

pub fn warn(message: &str) {
    if level() >= Level::Warn {
        eprintln!("[tasker-native] warning: {message}");
    }
}

pub fn debug(message: &str) {
    if level() >= Level::Debug {
        eprintln!("[tasker-native] {message}");
    }
}
