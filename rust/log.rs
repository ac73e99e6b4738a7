// SPDX-License-Identifier: GPL-2.0

//! Log lines that name the driver at fault, rate-limited, and a trace event for every one.
//!
//! When the crate refuses something a driver asked for, the line names the driver's module (the
//! owner of the mapped file's `file_operations`), not this library, and the callback it happened
//! in: `rust_secretmem: mmap_prepare: set_flags: VM_WIPEONFORK may not be set by a driver (EINVAL)`.
//! Each call site prints at most one line every [`INTERVAL_MS`] milliseconds, so that a loop in
//! userspace cannot flood the log. As with `printk_ratelimited()`, the limit is per call site,
//! shared by every driver: one driver's refusals can hide another's line of the same kind for a
//! while. Every refusal also fires the trace event `mmap_prepare:refusal` (`rust/rmp_trace.h`),
//! which is not rate limited and costs a static branch while disabled: a driver author who needs
//! every reason enables it.

use crate::c_helpers::{rmp_trace_refusal, rmp_trace_refusal_enabled};
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

/// A `core::fmt::Write` into a fixed buffer that keeps what fits and always leaves room for a
/// terminating NUL.
struct Truncating<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for Truncating<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.buf.len().saturating_sub(self.len + 1);
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// The longest reason the trace event records (longer ones are cut).
const TRACE_REASON_MAX: usize = 192;

/// Fires `mmap_prepare:refusal` for the module `name` (NUL-terminated) with `args`, if enabled.
fn trace_refusal(name: &[u8], args: core::fmt::Arguments<'_>) {
    // SAFETY: Reads the event's static key.
    if !unsafe { rmp_trace_refusal_enabled() } {
        return;
    }
    let mut buf = [0u8; TRACE_REASON_MAX];
    let mut out = Truncating {
        buf: &mut buf,
        len: 0,
    };
    let _ = core::fmt::write(&mut out, args);
    let len = out.len;
    buf[len] = 0;
    // SAFETY: Both strings are NUL-terminated (`buf` above; `name` as `owner_name` returns it,
    // checked by the caller), and the event copies them.
    unsafe { rmp_trace_refusal(name.as_ptr(), buf.as_ptr()) };
}

/// Traces, and prints as the module owning `file` (rate-limited per call site), `args`.
pub(crate) fn warn_for_file(limit: &RateLimit, file: &File, args: core::fmt::Arguments<'_>) {
    let name = owner_name(file);
    if name.last() != Some(&0) {
        return;
    }
    trace_refusal(name, args);
    if !limit.allow() {
        return;
    }
    // SAFETY: `WARNING` is one of the format strings of `format_strings`, and `name` ends with
    // a NUL byte (checked above).
    unsafe { call_printk(&format_strings::WARNING, name, format_args!("{args}\n")) };
}

/// Runs `f` out of line, on a path the compiler lays out as rarely taken.
///
/// [`driver_warn!`] goes through it: formatting a warning inline would make the checks in front
/// of it (a compare and a branch when they pass) save registers and build the formatter's stack
/// frame on every call, refused or not.
#[cold]
#[inline(never)]
pub(crate) fn cold_path(f: impl FnOnce()) {
    f()
}

/// `driver_warn!(file, "callback", "fmt", args...)`: a rate-limited warning naming the module that
/// owns `file` (a `&File`) and the callback it happened in, and a `mmap_prepare:refusal` event.
/// `file` and the arguments are evaluated out of line, on a cold path (see [`cold_path`]).
macro_rules! driver_warn {
    ($file:expr, $callback:literal, $fmt:expr $(, $arg:expr)* $(,)?) => {{
        static LIMIT: $crate::log::RateLimit = $crate::log::RateLimit::new();
        $crate::log::cold_path(move || {
            $crate::log::warn_for_file(
                &LIMIT,
                $file,
                format_args!(concat!($callback, ": ", $fmt) $(, $arg)*),
            )
        })
    }};
}
pub(crate) use driver_warn;
