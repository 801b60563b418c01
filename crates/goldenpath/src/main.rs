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
        #[cfg(feature = "mimalloc")]
        allocator::tune(lifetime);
        #[cfg(not(feature = "mimalloc"))]
        let _ = lifetime;
    })
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
