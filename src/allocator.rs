//! The engine's allocator: mimalloc, set to give freed pages back at once.
//!
//! Measured on the many-slow-streams benchmarks (bench/paced.mjs, bench/open-streams.mjs):
//! against glibc's malloc, mimalloc took about 5-10% off the process CPU of 1,000 paced streams
//! (malloc and free were 8% of the engine thread's profile). Two settings decide its memory:
//! - transparent huge pages off (the crate's `no_thp` feature). With them, 10,000 open streams
//!   cost 46 KB each instead of 34.5: the kernel backed mimalloc's arenas with 2 MB pages.
//! - purge delay 0. mimalloc returns freed pages to the OS lazily, on a later allocation by the
//!   same thread; an engine thread that goes idle (streams waiting for their next token) never
//!   gets there, and what the streams' set-up freed stays resident. With the delay at 0, an open
//!   stream costs 31.5 KB instead of 33.1, at no CPU cost the paced benchmark could see.

use libmimalloc_sys::{mi_option_set, mi_option_t};

#[global_allocator]
static ENGINE_ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v2's `mimalloc.h` (the sys crate names no constant for it).
const MI_OPTION_PURGE_DELAY: mi_option_t = 15;

/// Sets the allocator's options. mimalloc's option setter is not thread-safe: call it once,
/// before the engine's threads start (the addon's module init does).
pub fn configure() {
    // SAFETY: called from module init, before any engine thread exists.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use libmimalloc_sys::{mi_option_eager_commit_delay, mi_option_get};

    #[test]
    fn configure_sets_the_purge_delay_to_zero() {
        // mimalloc.h lists purge_delay right after eager_commit_delay, which the sys crate names.
        assert_eq!(MI_OPTION_PURGE_DELAY, mi_option_eager_commit_delay + 1);
        configure();
        // SAFETY: reads a process-wide option.
        assert_eq!(unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) }, 0);
    }
}
