//! `splice_bidirectional`: a proxy's byte pump between two TCP streams
//! through a pair of pipes (socket -> pipe -> socket, `splice(2)`), so the
//! bytes never pass through user memory.
//!
//! Cancel rule, the same as [`super::copy`]'s: dropping the future loses
//! nothing and duplicates nothing. Each round has two halves:
//! - **fill**: one non-blocking `splice` from the source into an empty pipe,
//!   run inside `poll`, after a cancellable readiness wait (the ring's
//!   `POLL_ADD`, or epoll); a drop before it returned moved nothing;
//! - **drain**: what the fill moved goes from the pipe into the destination,
//!   under its write lock. Once started it always finishes: a dropped drain
//!   goes on as a background task of the destination's runtime, ahead of
//!   any later write to it.
//!
//! Bytes that dropped reads left on the source (its rescue queue) are sent
//! first, so the order on the wire is the order the source received.
//! Empty pipes are kept per thread for the next connection.

use super::copy::{pass_end, try_join};
use crate::driver::Driver;
use crate::fd::descriptor::Descriptor;
use crate::fd::mutex::Access;
use crate::fd::Interest;
use crate::net::TcpStream;
use crate::op::splice::{Pipe, Splice};
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Bytes a pipe is grown to (where `pipe-max-size` allows), and so the most
/// one round moves.
const PIPE_BYTES: usize = 256 * 1024;
/// Empty pipes kept per thread.
const POOL: usize = 64;

thread_local! {
    static PIPES: RefCell<Vec<Arc<Pipe>>> = const { RefCell::new(Vec::new()) };
}

/// An empty pipe from this thread's pool, or a new one.
fn take_pipe() -> io::Result<Arc<Pipe>> {
    match PIPES.with(|p| p.borrow_mut().pop()) {
        Some(pipe) => Ok(pipe),
        None => Pipe::new(PIPE_BYTES),
    }
}

/// Gives back a pipe known to be empty (every fill was drained), unless an
/// operation still holds it.
fn give_back(pipe: Arc<Pipe>) {
    if Arc::strong_count(&pipe) == 1 {
        PIPES.with(|p| {
            let mut pool = p.borrow_mut();
            if pool.len() < POOL {
                pool.push(pipe);
            }
        });
    }
}

/// Copies both ways between `a` and `b` through pipes, until both
/// directions reached end of stream (passing each on with
/// [`TcpStream::shutdown_write`]); returns `(a to b, b to a)` bytes. The
/// first error of either direction ends both.
///
/// On io_uring and epoll alike, each round is a readiness wait and a
/// `splice(2)` into a pipe, then `splice(2)`s from the pipe into the other
/// socket. See the module docs for what a dropped future leaves behind.
///
/// # Examples
///
/// ```no_run
/// # async fn f(client: ringio::net::TcpStream) -> std::io::Result<()> {
/// let upstream = ringio::net::TcpStream::connect("127.0.0.1:8080").await?;
/// let (up, down) = ringio::io::splice_bidirectional(&client, &upstream).await?;
/// println!("{up} bytes up, {down} down, none through user memory");
/// # Ok(()) }
/// ```
pub async fn splice_bidirectional(a: &TcpStream, b: &TcpStream) -> io::Result<(u64, u64)> {
    try_join(one_way(a, b), one_way(b, a)).await
}

async fn one_way(src: &TcpStream, dst: &TcpStream) -> io::Result<u64> {
    let src_driver = src.handle().driver()?;
    let dst_fd = dst.handle().shared().clone();
    let mut total = 0u64;
    loop {
        let read = src.handle().lock(Access::Read).await?;
        // What dropped reads of the source left comes first.
        let mut rescued = Vec::new();
        if let Some(res) = read.rescue().take_bytes(PIPE_BYTES, |_, bytes| {
            rescued.extend_from_slice(bytes);
            bytes.len()
        }) {
            drop(read);
            let n = res?;
            dst.write_all(rescued).await.0?;
            total += n as u64;
            continue;
        }
        let pipe = take_pipe()?;
        let fill = Splice::from_socket(read.into(), pipe.clone(), pipe.capacity() as u32);
        let n = src_driver.submit_nonblocking(fill, Interest::READABLE).await?;
        if n == 0 {
            give_back(pipe);
            pass_end(dst).await?;
            return Ok(total);
        }
        Drain::start(dst_fd.clone(), pipe.clone(), n)?.await?;
        give_back(pipe);
        total += n as u64;
    }
}

/// Moves `left` bytes from `pipe` into `dst` under its write lock; if
/// dropped, finishes in the background of `dst`'s runtime.
struct Drain {
    task: Option<Pin<Box<dyn Future<Output = io::Result<()>> + Send>>>,
    driver: Driver,
}

impl Drain {
    fn start(dst: Descriptor, pipe: Arc<Pipe>, left: usize) -> io::Result<Drain> {
        let driver = dst.driver()?;
        let ring = driver.clone();
        let task = Box::pin(async move {
            let lock = Arc::new(dst.lock(Access::Write).await?);
            let mut left = left;
            while left > 0 {
                let out = Splice::out_of_pipe(lock.clone().into(), pipe.clone(), left.min(u32::MAX as usize) as u32);
                match ring.submit_nonblocking(out, Interest::WRITABLE).await {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => left -= n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        });
        Ok(Drain {
            task: Some(task),
            driver,
        })
    }
}

impl Future for Drain {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let task = self.task.as_mut().expect("Drain polled after completion");
        let out = task.as_mut().poll(cx);
        if out.is_ready() {
            self.task = None;
        }
        out
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            self.driver.spawn_background(Box::pin(async move {
                if let Err(err) = task.await {
                    tracing::debug!(%err, "a dropped splice's drain failed in the background");
                }
            }));
        }
    }
}
