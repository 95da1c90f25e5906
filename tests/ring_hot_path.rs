//! The owner thread's hot path allocates nothing (issue 10): in steady state
//! a `nop`, a stream `write` and a stream `read` on the ring's own thread
//! make no heap allocation at all, counted by a counting global allocator.
//!
//! Only allocations made on the test's own thread while a measurement is on
//! are counted, so the harness's threads and the warm-up (the first slot
//! chunk, the scheduler's queues) do not show. Runs on io_uring; the
//! readiness backends make no such promise and are not measured here.

use ringio::net::{TcpListener, TcpStream, UnixStream};
use ringio_tests::{uring, STEP};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    /// Whether this thread's allocations are being counted.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// Allocations (and reallocations) this thread made while counting.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn note_alloc() {
    // `try_with`: a thread being torn down has no locals left to count in.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every method forwards to `System` unchanged; the counting touches
// only const-initialized thread locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        // SAFETY: the caller's contract for `alloc` is `System::alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc();
        // SAFETY: `ptr` came from this allocator, which is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, which is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations this thread makes while running `rounds` awaits of `op`.
async fn allocations_in<F, Fut>(rounds: u32, mut op: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    ALLOCS.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    for _ in 0..rounds {
        op().await;
    }
    COUNTING.with(|on| on.set(false));
    ALLOCS.with(Cell::get)
}

const WARM_UP: u32 = 1_000;
const MEASURED: u32 = 10_000;

/// Runs `op` to warm up, then counts, and asserts that it allocated nothing.
async fn assert_allocation_free<F, Fut>(what: &str, mut op: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..WARM_UP {
        op().await;
    }
    let n = allocations_in(MEASURED, op).await;
    assert_eq!(
        n, 0,
        "{what}: {n} allocations in {MEASURED} operations on the owner thread"
    );
}

/// The counter itself works: a `Vec` allocation inside a measurement counts.
#[test]
fn the_counter_sees_an_allocation() {
    let Some(rt) = uring(&mut ringio::Runtime::builder()) else {
        return;
    };
    let n = rt.block_on(allocations_in(10, || async {
        std::hint::black_box(Vec::<u8>::with_capacity(16));
    }));
    assert_eq!(n, 10);
}

#[test]
fn nop_allocates_nothing() {
    let Some(rt) = uring(&mut ringio::Runtime::builder()) else {
        return;
    };
    rt.block_on(ringio::time::timeout(STEP, async {
        assert_allocation_free("nop", || async { ringio::nop().await.expect("nop") }).await;
    }))
    .expect("nop rounds hung");
}

/// One 64-byte write and the read that takes it, both with owned buffers
/// that go around and around.
async fn ping<S: Stream>(a: &S, b: &S, out: &mut Option<Vec<u8>>, inp: &mut Option<Vec<u8>>) {
    let (n, buf) = a.send(out.take().expect("buffer")).await;
    assert_eq!(n.expect("write"), 64);
    *out = Some(buf);
    let (n, mut buf) = b.recv(inp.take().expect("buffer")).await;
    assert_eq!(n.expect("read"), 64);
    buf.clear();
    *inp = Some(buf);
}

/// The two stream types under test.
trait Stream {
    async fn send(&self, buf: Vec<u8>) -> (std::io::Result<usize>, Vec<u8>);
    async fn recv(&self, buf: Vec<u8>) -> (std::io::Result<usize>, Vec<u8>);
}

impl Stream for UnixStream {
    async fn send(&self, buf: Vec<u8>) -> (std::io::Result<usize>, Vec<u8>) {
        self.write(buf).await
    }
    async fn recv(&self, buf: Vec<u8>) -> (std::io::Result<usize>, Vec<u8>) {
        self.read(buf).await
    }
}

impl Stream for TcpStream {
    async fn send(&self, buf: Vec<u8>) -> (std::io::Result<usize>, Vec<u8>) {
        self.write(buf).await
    }
    async fn recv(&self, buf: Vec<u8>) -> (std::io::Result<usize>, Vec<u8>) {
        self.read(buf).await
    }
}

async fn streams_allocate_nothing<S: Stream>(what: &str, a: S, b: S) {
    let mut out = Some(vec![7u8; 64]);
    let mut inp = Some(Vec::with_capacity(64));
    for _ in 0..WARM_UP {
        ping(&a, &b, &mut out, &mut inp).await;
    }
    let n = {
        let (out, inp) = (std::cell::RefCell::new(out), std::cell::RefCell::new(inp));
        allocations_in(MEASURED, || async {
            let (mut o, mut i) = (out.borrow_mut().take(), inp.borrow_mut().take());
            ping(&a, &b, &mut o, &mut i).await;
            (*out.borrow_mut(), *inp.borrow_mut()) = (o, i);
        })
        .await
    };
    assert_eq!(
        n, 0,
        "{what}: {n} allocations in {MEASURED} write+read pairs on the owner thread"
    );
}

#[test]
fn unix_read_and_write_allocate_nothing() {
    let Some(rt) = uring(&mut ringio::Runtime::builder()) else {
        return;
    };
    rt.block_on(ringio::time::timeout(STEP, async {
        let (a, b) = UnixStream::pair().expect("socketpair");
        streams_allocate_nothing("unix stream", a, b).await;
    }))
    .expect("unix rounds hung");
}

#[test]
fn tcp_read_and_write_allocate_nothing() {
    let Some(rt) = uring(&mut ringio::Runtime::builder()) else {
        return;
    };
    rt.block_on(ringio::time::timeout(STEP, async {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        let (client, accepted) = futures_join(TcpStream::connect(addr), listener.accept()).await;
        let client = client.expect("connect");
        let (server, _) = accepted.expect("accept");
        client.set_nodelay(true).expect("nodelay");
        streams_allocate_nothing("tcp stream", client, server).await;
    }))
    .expect("tcp rounds hung");
}

/// Awaits two futures on one task (connect and accept need each other).
async fn futures_join<A: std::future::Future, B: std::future::Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none() {
            if let std::task::Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let std::task::Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    (ra.take().expect("a"), rb.take().expect("b"))
}
