//! The `goldenpath` binary; everything lives in `gp-cli`.

// mimalloc rather than the C library's allocator: a deploy, a teardown or
// a docs check makes and frees many small values (journal rows, YAML and
// JSON nodes), where the C library's allocator spent a fifth of a DNS
// teardown (BENCHMARKS.md, issue 40). The `mimalloc` feature, on by
// default.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gp_cli::run_with(|lifetime| {
        huge_pages::tune(lifetime);
        #[cfg(feature = "mimalloc")]
        allocator::tune(lifetime);
    })
}

/// Transparent huge pages, per process.
mod huge_pages {
    /// A command that exits when done takes no transparent huge pages
    /// (`PR_SET_THP_DISABLE`, whatever the system's setting): the kernel
    /// zeroes each 2 MiB page in full on its first touch, for a heap of a
    /// few MiB. Run right after other work (the Python docs validator), a
    /// docs check took 46.0 ms with huge pages and 37.8 ms without (median
    /// of 60 alternating runs); back to back, the same (BENCHMARKS.md,
    /// issue 40).
    /// The flag is the process's and its children's (`terraform`, `git`,
    /// which run as briefly). `serve` keeps the system's setting.
    pub(crate) fn tune(lifetime: gp_cli::Lifetime) {
        #[cfg(target_os = "linux")]
        if lifetime == gp_cli::Lifetime::Command {
            // SAFETY: `prctl` with `PR_SET_THP_DISABLE` takes plain
            // numbers and sets one flag of this process; no memory is
            // passed.
            #[allow(unsafe_code)]
            unsafe {
                libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = lifetime;
    }

    #[cfg(all(test, target_os = "linux"))]
    mod tests {
        #[allow(unsafe_code)]
        fn disabled() -> std::ffi::c_int {
            // SAFETY: reads one flag of this process.
            unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) }
        }

        #[test]
        fn a_command_takes_no_huge_pages_and_a_server_keeps_the_systems_setting() {
            // `tune` never clears the flag, so the server first. Nothing
            // else in this test binary sets it.
            assert_eq!(
                disabled(),
                0,
                "the test process starts with huge pages allowed"
            );
            super::tune(gp_cli::Lifetime::Server);
            assert_eq!(disabled(), 0);
            super::tune(gp_cli::Lifetime::Command);
            assert_eq!(disabled(), 1);
        }
    }
}

#[cfg(feature = "mimalloc")]
mod allocator {
    /// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e`, the
    /// same in mimalloc 2 and 3; libmimalloc-sys names no constant for it).
    /// The test below reads its default through this number.
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

    /// A command that exits when done never gives freed memory back to the
    /// system while it runs (`purge_delay` -1): the system takes it all at
    /// exit, and each purge was an `madvise` that every thread's view of
    /// memory must follow. A teardown of 1,000 DNS records made ~80 of
    /// them, 2.2 ms of its 85 (BENCHMARKS.md, issue 40). `serve` keeps
    /// mimalloc's default and returns memory while it runs.
    pub(crate) fn tune(lifetime: gp_cli::Lifetime) {
        if lifetime == gp_cli::Lifetime::Command {
            // SAFETY: `mi_option_set` takes any option and value; the
            // option is a plain number mimalloc reads when it purges.
            #[allow(unsafe_code)]
            unsafe {
                libmimalloc_sys::mi_option_set(PURGE_DELAY, -1);
            }
        }
    }

    #[cfg(test)]
    mod tests {
        #[allow(unsafe_code)]
        fn purge_delay() -> std::ffi::c_long {
            // SAFETY: reads an option's value; no memory is touched.
            unsafe { libmimalloc_sys::mi_option_get(super::PURGE_DELAY) }
        }

        #[test]
        fn a_command_never_purges_and_a_server_keeps_the_default() {
            // mimalloc 3's default purge delay is 1,000 ms (2's: 10): the
            // number names that option, not another.
            let default = purge_delay();
            assert!(default == 1000 || default == 10, "{default}");
            super::tune(gp_cli::Lifetime::Server);
            assert_eq!(purge_delay(), default);
            super::tune(gp_cli::Lifetime::Command);
            assert_eq!(purge_delay(), -1);
        }
    }
}
