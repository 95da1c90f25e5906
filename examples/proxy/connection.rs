//! One client connection: pick an upstream, copy both ways, and end it the
//! way its first ending says: both sides done, a reset (passed on to the
//! other side as a reset), idleness, or the drain deadline.

use crate::accept::Core;
use crate::bufring;
use crate::config::Copy;
use crate::stats::Stats;
use ringio::buf::{IoBuf, IoBufMut};
use ringio::io::{copy_bidirectional_with_size, splice_bidirectional, AsyncReadOwned, AsyncWriteOwned};
use ringio::net::TcpStream;
use ringio::BufResult;
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::task::Poll;
use std::time::{Duration, Instant};

pub async fn handle(client: TcpStream, core: Rc<Core>) {
    core.open.set(core.open.get() + 1);
    Stats::add(&core.stats.active, 1);
    proxy(&client, &core).await;
    let _ = client.close().await;
    core.stats.active.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    core.open.set(core.open.get() - 1);
    core.ended.notify_waiters();
}

async fn proxy(client: &TcpStream, core: &Core) {
    let (upstream, addr) = match core.upstreams.connect(core.config.connect_timeout()).await {
        Ok(up) => up,
        Err(e) => {
            Stats::add(&core.stats.upstream_failures, 1);
            tracing::warn!(%e, "no upstream answered; closing the client");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let last = Cell::new(Instant::now());
    let from_client = Tracked {
        stream: client,
        last: &last,
        bytes: &core.stats.bytes_up,
        fin_sent: Cell::new(false),
    };
    let from_upstream = Tracked {
        stream: &upstream,
        last: &last,
        bytes: &core.stats.bytes_down,
        fin_sent: Cell::new(false),
    };
    let pump = async {
        match core.config.copy {
            Copy::Buffers => {
                let size = core.config.buffer_kib.max(1) * 1024;
                copy_bidirectional_with_size(&from_client, &from_upstream, size).await
            }
            // The bytes never reach user space, so neither the idle clock
            // nor the byte counters see them until the end: with splice the
            // idle timeout counts from the connection's start.
            Copy::Splice => {
                let (up, down) = splice_bidirectional(client, &upstream).await?;
                Stats::add(&core.stats.bytes_up, up);
                Stats::add(&core.stats.bytes_down, down);
                Ok((up, down))
            }
            Copy::Bufring => {
                let ring = core.ring.as_ref().expect("--copy bufring makes each core's ring");
                bufring::copy_bidirectional(&from_client, &from_upstream, ring).await
            }
        }
    };
    let mut cut = core.cut.clone();
    let ending = race(
        pump,
        race(idle(&last, core.config.idle_timeout()), cut.wait_for(|cut| *cut)),
    )
    .await;
    match ending {
        Either::Left(Ok((up, down))) => tracing::debug!(%addr, up, down, "connection done"),
        Either::Left(Err(e)) if is_reset(&e) => {
            // One side reset: make the other see a reset too, not an end.
            Stats::add(&core.stats.resets, 1);
            tracing::debug!(%addr, %e, "reset; passing it on");
            let _ = client.set_linger(Some(Duration::ZERO));
            let _ = upstream.set_linger(Some(Duration::ZERO));
        }
        Either::Left(Err(e)) => tracing::debug!(%addr, %e, "connection failed"),
        Either::Right(Either::Left(())) => {
            Stats::add(&core.stats.idle_closes, 1);
            tracing::debug!(%addr, "idle; closing");
        }
        Either::Right(Either::Right(_)) => tracing::debug!(%addr, "cut at the drain deadline"),
    }
    let _ = upstream.close().await;
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionAborted
    )
}

/// Resolves once nothing was read either way for `timeout`.
async fn idle(last: &Cell<Instant>, timeout: Duration) {
    loop {
        let deadline = last.get() + timeout;
        if Instant::now() >= deadline {
            return;
        }
        ringio::time::sleep_until(deadline).await;
    }
}

/// A stream that notes when it last delivered bytes, and counts them.
pub struct Tracked<'a> {
    pub stream: &'a TcpStream,
    last: &'a Cell<Instant>,
    bytes: &'a AtomicU64,
    /// `shutdown_write` ran: our FIN is out.
    fin_sent: Cell<bool>,
}

impl Tracked<'_> {
    /// `n` bytes arrived: the connection is not idle.
    pub fn delivered(&self, n: usize) {
        self.last.set(Instant::now());
        Stats::add(self.bytes, n as u64);
    }

    /// Whether an end of stream on this side is really a reset (see
    /// `AsyncReadOwned::read` below).
    pub fn ended_by_reset(&self) -> bool {
        !self.fin_sent.get() && reset_by_peer(self.stream)
    }
}

impl AsyncReadOwned for Tracked<'_> {
    async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        let (res, buf) = self.stream.read(buf).await;
        match res {
            Ok(n @ 1..) => self.delivered(n),
            // A reset reported to the other direction's send leaves this
            // direction's read an end of stream: passing that on as a FIN
            // would hide the reset from the other side.
            Ok(0) if self.ended_by_reset() => return (Err(io::ErrorKind::ConnectionReset.into()), buf),
            _ => {}
        }
        (res, buf)
    }
}

/// Whether a connection that has not sent its own FIN ended by a reset: its
/// TCP state is `CLOSE`, where the peer's FIN leaves `CLOSE_WAIT`. (Once we
/// sent ours, an orderly end also reaches `CLOSE`, via `TIME_WAIT`.)
fn reset_by_peer(stream: &TcpStream) -> bool {
    const TCP_CLOSE: u8 = 7; // include/net/tcp_states.h
    let mut info = std::mem::MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the stream is open while we hold a reference to it (nothing in
    // this task closes it meanwhile), and the kernel writes at most `len`
    // bytes into `info`, which is that large and zero-initialized.
    let rc = unsafe {
        libc::getsockopt(
            std::os::fd::AsRawFd::as_raw_fd(stream),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    // SAFETY: zero-initialized, and filled by the kernel where it succeeded.
    rc == 0 && unsafe { info.assume_init() }.tcpi_state == TCP_CLOSE
}

impl AsyncWriteOwned for Tracked<'_> {
    fn write<B: IoBuf>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        self.stream.write(buf)
    }

    fn write_all<B: IoBuf>(&self, buf: B) -> impl Future<Output = BufResult<(), B>> {
        self.stream.write_all(buf)
    }

    async fn shutdown_write(&self) -> io::Result<()> {
        self.fin_sent.set(true);
        AsyncWriteOwned::shutdown_write(self.stream).await
    }
}

pub enum Either<A, B> {
    Left(A),
    Right(B),
}

/// The output of whichever of `a` and `b` finishes first (`a` if both are
/// ready at once); the other is dropped, which every ringio operation
/// allows at any point.
pub async fn race<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let (mut a, mut b) = (pin!(a), pin!(b));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(x) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(x));
        }
        if let Poll::Ready(y) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(y));
        }
        Poll::Pending
    })
    .await
}
