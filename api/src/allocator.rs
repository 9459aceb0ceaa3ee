//! The allocator of every binary that links Outpost (the server, its test
//! and benchmark binaries), and its setting.
//!
//! glibc's malloc kept what bursts of large requests and password hashes
//! had used: the sync benchmark's server sat at 150-160 MiB after eight
//! 2 MiB pushes, against 85 MiB before them. mimalloc kept more (243 MiB):
//! it purges freed pages only from the thread that frees, and tokio's
//! workers go idle after a burst. jemalloc's background thread purges
//! them within seconds, whichever thread freed them.

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Starts jemalloc's background thread, which gives freed pages back to
/// the system over the following seconds (its decay). Best effort: a
/// build without it still works, holding more memory.
pub fn return_freed_memory() {
    if let Err(err) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(error = %err, "jemalloc's background thread did not start");
    }
}
