//! The process's allocator, and how a maintenance command asks it to hand
//! freed memory back to the system at once.
//!
//! mimalloc: with glibc's, the 5M-event backfill spent 4 s of system time
//! in mmap/munmap churn (BENCHMARKS.md). mimalloc keeps freed pages for
//! reuse and returns them after a second (v3's purge delay), which is
//! what a long-running worker wants. `pipec compact` instead frees a row group of up to 32 MiB
//! at a time, over and over, and what it held stays counted as its memory:
//! rewriting 1 GB of 10 MB files peaked at 364 MiB with the default
//! options and 241 MiB after [`return_freed_memory_at_once`] (debug build,
//! 2026-12-07, 32 MiB row groups), for about a fifth more time.

use libmimalloc_sys::{mi_option_set, mi_option_t};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc v3's option numbers (`mi_option_e` in its `mimalloc.h`): the
/// Rust bindings name v2's, which differ. The test below pins them by
/// their defaults.
const PURGE_DELAY: mi_option_t = 15;
const ARENA_EAGER_COMMIT: mi_option_t = 4;
const ALLOW_THP: mi_option_t = 43;

/// No transparent huge pages for this process. mimalloc asks for them on its
/// arenas, and a 2 MiB page counts whole once one byte of it is touched:
/// the 5M-event backfill peaked at 259–270 MiB with them and 183–186 MiB
/// without, in the same time (BENCHMARKS.md, 2026-12-08). mimalloc reads its
/// own option only when it starts, before `main`; the kernel's per-process
/// switch covers every mapping from here on, and the option stops mimalloc
/// asking for them (`madvise`) on new ones.
pub fn without_transparent_huge_pages() {
    // SAFETY: the option only changes how mimalloc advises new mappings;
    // PR_SET_THP_DISABLE takes no pointers and only sets a flag of the
    // process's memory map. A kernel without it refuses with EINVAL, which
    // leaves things as they were.
    unsafe {
        mi_option_set(ALLOW_THP, 0);
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Freed memory goes back to the system when it is freed, and arenas are
/// committed as they are used, not when they are reserved.
pub fn return_freed_memory_at_once() {
    // SAFETY: setting an option is allowed at any time, from any thread;
    // these two only change when memory is purged and committed.
    unsafe {
        mi_option_set(PURGE_DELAY, 0);
        mi_option_set(ARENA_EAGER_COMMIT, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libmimalloc_sys::mi_option_get;

    #[test]
    fn the_option_numbers_are_those_of_the_linked_mimalloc() {
        // SAFETY: reading an option has no effect.
        let (delay, eager, thp) = unsafe {
            (
                mi_option_get(PURGE_DELAY),
                mi_option_get(ARENA_EAGER_COMMIT),
                mi_option_get(ALLOW_THP),
            )
        };
        // The defaults in the vendored v3's src/options.c: a purge delay of
        // 1,000 ms (its header still says 10), eager commit on overcommit,
        // huge pages allowed.
        assert_eq!(
            (delay, eager, thp),
            (1000, 2, 1),
            "read from the environment? unset MIMALLOC_*"
        );
    }
}
