// SPDX-License-Identifier: GPL-2.0

//! Log lines that name the driver at fault, rate-limited.
//!
//! When the crate refuses something a driver asked for, the line names the driver's module (the
//! owner of the mapped file's `file_operations`), not this library, and the callback it happened
//! in: `rust_secretmem: mmap_prepare: set_flags: VM_WIPEONFORK may not be set by a driver (EINVAL)`. Each call
//! site prints at most one line every [`INTERVAL_MS`] milliseconds, so that a loop in userspace
//! cannot flood the log. As with `printk_ratelimited()`, the limit is per call site, shared by
//! every driver: one driver's refusals can hide another's line of the same kind for a while.

use kernel::{
    bindings,
    fs::File,
    print::{call_printk, format_strings},
    sync::atomic::{Atomic, Relaxed},
    time::msecs_to_jiffies,
};

/// Minimum time between two lines of one call site.
pub(crate) const INTERVAL_MS: u32 = 5000;

/// The rate limit of one call site.
pub(crate) struct RateLimit {
    /// `jiffies` when the last line was printed, plus one (0: never).
    last: Atomic<usize>,
}

impl RateLimit {
    pub(crate) const fn new() -> Self {
        Self {
            last: Atomic::new(0),
        }
    }

    /// Whether a line may be printed now; if so, the interval starts again.
    pub(crate) fn allow(&self) -> bool {
        // SAFETY: `jiffies` is a word-sized counter the timer interrupt updates; C reads it the
        // same way (`READ_ONCE`).
        let now = unsafe { core::ptr::read_volatile(&raw const bindings::jiffies) } as usize;
        let interval = msecs_to_jiffies(INTERVAL_MS) as usize;
        let last = self.last.load(Relaxed);
        if last != 0 && now.wrapping_sub(last.wrapping_sub(1)) < interval {
            return false;
        }
        // One winner when several CPUs race here.
        self.last
            .cmpxchg(last, now.wrapping_add(1), Relaxed)
            .is_ok()
    }
}

/// The name of the module that owns `file`'s operations, NUL-terminated (`"kernel"` if built in).
pub(crate) fn owner_name(file: &File) -> &[u8] {
    #[cfg(CONFIG_MODULES)]
    {
        // SAFETY: `file` is a valid open file, whose `f_op` is set for its whole life; its owner
        // module cannot be unloaded while one of its files is open (`fops_get()` in `open`).
        let owner = unsafe { (*(*file.as_ptr()).f_op).owner };
        if !owner.is_null() {
            // SAFETY: `owner` is a live module (see above). Its `name` is a NUL-terminated
            // array that never changes after load.
            let name = unsafe { &(*owner).name };
            // The kernel's `c_char` is `u8` on every architecture (`-funsigned-char`).
            let bytes: &[u8] = &name[..];
            let len = bytes
                .iter()
                .position(|&b| b == 0)
                .map_or(bytes.len(), |n| n + 1);
            return &bytes[..len];
        }
    }
    let _ = file;
    b"kernel\0"
}

/// Prints a warning, as the module owning `file` (rate-limited per call site).
pub(crate) fn warn_for_file(limit: &RateLimit, file: &File, args: core::fmt::Arguments<'_>) {
    if !limit.allow() {
        return;
    }
    let name = owner_name(file);
    if name.last() != Some(&0) {
        return;
    }
    // SAFETY: `WARNING` is one of the format strings of `format_strings`, and `name` ends with
    // a NUL byte (checked above).
    unsafe { call_printk(&format_strings::WARNING, name, args) };
}

/// `driver_warn!(file, "callback", "fmt", args...)`: a rate-limited warning naming the module that
/// owns `file` (a `&File`) and the callback it happened in.
macro_rules! driver_warn {
    ($file:expr, $callback:literal, $fmt:expr $(, $arg:expr)* $(,)?) => {{
        static LIMIT: $crate::log::RateLimit = $crate::log::RateLimit::new();
        $crate::log::warn_for_file(
            &LIMIT,
            $file,
            format_args!(concat!($callback, ": ", $fmt, "\n") $(, $arg)*),
        )
    }};
}
pub(crate) use driver_warn;
