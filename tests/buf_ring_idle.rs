//! What an idle connection costs in user-space heap while it waits to
//! receive (issue 11): with `recv_multi` on a shared group, no receive
//! buffer at all, so well under 1 KB; with a plain `read`, the buffer it
//! waits with (16 KiB here, tokio's usual size) plus the same overhead.
//!
//! Measured with a counting global allocator: live heap bytes after
//! `CONNS` tasks each wait in `next()` (or `read`), minus before, per
//! connection. The task and its future count; the sockets and the kernel's
//! side (socket buffers, the ring's request) do not. The figures are
//! printed; the test fails if an idle `recv_multi` holds 1 KiB or more.

use ringio::buf::BufRing;
use ringio_tests::{runtime, until, watchdog, Transport, STEP};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::Arc;

struct Counting;

/// Live heap bytes of the whole process.
static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: every method forwards to `System` unchanged; the counting is one
// atomic add, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Relaxed);
        // SAFETY: the caller's contract for `alloc` is `System::alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Relaxed);
        // SAFETY: `ptr` came from this allocator, which is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Relaxed);
        // SAFETY: `ptr` came from this allocator, which is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const CONNS: usize = 1000;

/// Live heap bytes per connection while `CONNS` tasks wait, each made by
/// `wait` on its own idle stream.
fn per_idle_connection<F, Fut>(what: &'static str, wait: F) -> i64
where
    F: Fn(Arc<ringio_tests::AnyStream>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    ringio_tests::raise_nofile_limit();
    watchdog(what, STEP * 2, move |_| {
        runtime().block_on(async move {
            let pairs: Vec<_> = (0..CONNS)
                .map(|_| {
                    let (stream, peer) = Transport::Unix.pair();
                    (Arc::new(stream), peer)
                })
                .collect();
            // Warm up the arena and the run queue to their size first.
            let base = ringio::runtime::stats().unwrap().in_flight;
            let mut tasks = Vec::with_capacity(CONNS);
            for round in 0..2 {
                let before = LIVE.load(Relaxed);
                tasks.extend(pairs.iter().map(|(s, _)| ringio::spawn(wait(s.clone()))));
                until(|| ringio::runtime::stats().unwrap().in_flight >= base + CONNS as u64).await;
                let per = (LIVE.load(Relaxed) - before) / CONNS as i64;
                if round == 1 {
                    eprintln!("{what}: {per} bytes of heap per idle connection");
                    tasks.iter().for_each(|t| t.abort());
                    return per;
                }
                tasks.drain(..).for_each(|t| t.abort());
                until(|| ringio::runtime::stats().unwrap().in_flight == base).await;
            }
            unreachable!()
        })
    })
}

#[test]
fn an_idle_recv_multi_holds_no_receive_buffer() {
    let group = Arc::new(std::sync::OnceLock::new());
    let g = group.clone();
    let multi = per_idle_connection("recv_multi", move |stream| {
        let g = g.clone();
        async move {
            let group: &BufRing = g.get_or_init(|| BufRing::new(0, 256, 16 * 1024).unwrap());
            let group = group.clone();
            let mut rx = stream.recv_multi(&group);
            let _ = rx.next().await;
        }
    });
    let plain = per_idle_connection("read(16 KiB)", |stream| async move {
        let _ = stream.read(Vec::with_capacity(16 * 1024)).await;
    });
    eprintln!("idle connection: recv_multi {multi} B, read with a 16 KiB buffer {plain} B");
    assert!(multi < 1024, "an idle recv_multi holds {multi} bytes of heap");
    assert!(plain > 16 * 1024, "the plain read's buffer was not counted");
}
