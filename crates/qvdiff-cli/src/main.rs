#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (entry 15 of its option enum in both mimalloc versions
/// libmimalloc-sys bundles; the crate names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // Return freed pages to the OS after 10 ms. Measured on `qvdiff migrate` at 1000 tables
    // (median of 7): the bundled default kept up to 69 MB resident, 0 ms (purge at once) cost
    // 40 % more time in page faults and TLB flushes across threads, 10 ms kept 48 MB and the
    // best time.
    // (Transparent huge pages are off at build time, libmimalloc-sys's `no_thp`: with them the
    // kernel zeroes whole 2 MB pages of which a short run uses little. Measured on the 1000-table
    // benchmark, median of 7: the same times within noise, peak RSS of `migrate` 68-70 MB
    // instead of 47-55 MB, of a cold `check` 54-58 MB instead of 32-33 MB.)
    // SAFETY: sets a plain option before any thread is started; mimalloc reads it on each purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10) };
    qvdiff_cli::dialects::prepare_process();
    std::process::exit(qvdiff_cli::run(std::env::args_os()));
}
