//! Cancel safety of compat TCP reads and writes.
//!
//! A read future dropped while it waits (the losing branch of a `select!`
//! against a timer or a yield) must neither lose nor duplicate a byte: the
//! writer here sends each chunk only after the reader has caught up and then
//! abandoned a waiting read, so every chunk lands on a stream whose last read
//! was cancelled mid-wait. And `poll_write` must put on the wire exactly the
//! bytes its `Ready(Ok(n))` results reported, even when the caller offers a
//! different buffer after `Pending` or gives up after `Pending`.

mod common;

use common::net::TcpStream;
use common::{assert_bytes, flavours, joined, payload, tcp_pair, XorShift};
use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

/// What abandons a waiting read.
#[derive(Clone, Copy)]
enum Cancel {
    /// A short `tokio::time::sleep`.
    Timer,
    /// `tokio::task::yield_now`: the read is polled, then dropped on the next turn.
    Yield,
}

impl Cancel {
    async fn fire(self) {
        match self {
            Cancel::Timer => tokio::time::sleep(Duration::from_micros(100)).await,
            Cancel::Yield => tokio::task::yield_now().await,
        }
    }
}

/// How long the writer below waits for the reader to catch up before it
/// concludes that bytes were lost (a hang detector, not a timing check).
const STALL: Duration = Duration::from_secs(5);

/// Sends `chunks` chunks of 1 byte to 8 KiB from a spawned task; after each
/// one the writer waits until the reader has received everything so far and
/// then cancelled a read. The reader (this task) reads into buffers of
/// pseudo-random length in a `select!` against `cancel` until EOF. Checks the
/// bytes, and that at least one read per chunk was cancelled.
///
/// A reader that lost or duplicated bytes never catches up exactly; after
/// [`STALL`] the writer ends the stream instead of waiting forever, so the
/// comparison reports the difference.
async fn reads_cancelled_by<R, W>(mut reader: R, mut writer: W, cancel: Cancel, chunks: usize, seed: u64)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    // The number of bytes the reader had received when it last cancelled a read.
    let (caught_up, mut caught_up_rx) = watch::channel(0);
    let write = tokio::spawn(async move {
        let mut rng = XorShift::new(seed);
        let mut sent = Vec::new();
        for _ in 0..chunks {
            let chunk = payload(rng.next_u64(), rng.range(1, 8192));
            writer.write_all(&chunk).await.unwrap();
            sent.extend_from_slice(&chunk);
            let total = sent.len();
            let caught_up = caught_up_rx.wait_for(|&received| received == total);
            if tokio::time::timeout(STALL, caught_up).await.is_err() {
                break;
            }
        }
        writer.shutdown().await.unwrap();
        sent
    });

    let mut rng = XorShift::new(!seed);
    let mut buf = vec![0; 8192];
    let mut received = Vec::new();
    let mut cancelled = 0;
    loop {
        let len = rng.range(1, buf.len());
        tokio::select! {
            n = reader.read(&mut buf[..len]) => {
                let n = n.unwrap();
                if n == 0 {
                    break;
                }
                received.extend_from_slice(&buf[..n]);
            }
            () = cancel.fire() => {
                cancelled += 1;
                caught_up.send_replace(received.len());
            }
        }
    }
    let sent = joined(write.await);
    assert_bytes(&received, &sent, "bytes read through cancelled reads");
    assert!(cancelled >= chunks, "{cancelled} reads cancelled for {chunks} chunks");
}

#[test]
fn reads_cancelled_by_a_timer_lose_nothing() {
    flavours(|| async {
        let (writer, reader) = tcp_pair().await;
        reads_cancelled_by(reader, writer, Cancel::Timer, 1000, 1).await;
    });
}

#[test]
fn reads_on_an_owned_half_cancelled_by_a_yield_lose_nothing() {
    flavours(|| async {
        let (writer, reader) = tcp_pair().await;
        let (reader, _keep) = reader.into_split();
        let (_keep_too, writer) = writer.into_split();
        reads_cancelled_by(reader, writer, Cancel::Yield, 3000, 2).await;
    });
}

/// How many times the writer below sees `Pending` before it gives up.
const PENDINGS: usize = 4;

/// Writes from two buffers, each used cyclically, in chunks of up to 64 KiB:
/// the buffer offered to `poll_write` switches after every `Pending`, and the
/// writer stops at the `PENDINGS`th `Pending` without writing that chunk.
/// Publishes `(Pending count, bytes reported)` at each `Pending`; returns the
/// bytes `Ready(Ok(n))` reported, in order.
async fn write_alternating(stream: &mut TcpStream, bufs: [&[u8]; 2], full: &watch::Sender<(usize, usize)>) -> Vec<u8> {
    let mut reported = Vec::new();
    let mut offsets = [0; 2];
    let mut current = 0;
    let mut pendings = 0;
    poll_fn(|cx| loop {
        let (buf, at) = (bufs[current], offsets[current]);
        let offered = &buf[at..buf.len().min(at + 64 * 1024)];
        match Pin::new(&mut *stream).poll_write(cx, offered) {
            Poll::Ready(Ok(n)) => {
                assert!(
                    0 < n && n <= offered.len(),
                    "poll_write reported {n} of {} bytes",
                    offered.len()
                );
                reported.extend_from_slice(&offered[..n]);
                offsets[current] = (at + n) % buf.len();
            }
            Poll::Ready(Err(e)) => panic!("poll_write: {e}"),
            Poll::Pending => {
                pendings += 1;
                current = 1 - current;
                full.send_replace((pendings, reported.len()));
                return if pendings == PENDINGS {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                };
            }
        }
    })
    .await;
    reported
}

#[test]
fn poll_write_sends_exactly_what_it_reported() {
    flavours(|| async {
        let (mut writer, mut reader) = tcp_pair().await;
        let (a, b) = (payload(1, 1 << 20), payload(2, (1 << 20) + 17));
        let (full, mut full_rx) = watch::channel((0, 0));
        // The peer reads nothing until the writer first sees `Pending`; after
        // each `Pending` it drains what had been reported, so the writer fills
        // the socket again.
        let read = tokio::spawn(async move {
            let mut received = Vec::new();
            let mut buf = vec![0; 64 * 1024];
            for pending in 1..PENDINGS {
                let (_, written) = *full_rx.wait_for(|&(pendings, _)| pendings >= pending).await.unwrap();
                while received.len() < written {
                    let n = reader.read(&mut buf).await.unwrap();
                    assert_ne!(n, 0, "EOF after {} of {written} reported bytes", received.len());
                    received.extend_from_slice(&buf[..n]);
                }
            }
            reader.read_to_end(&mut received).await.unwrap();
            received
        });
        let reported = write_alternating(&mut writer, [&a, &b], &full).await;
        writer.shutdown().await.unwrap();
        assert_bytes(
            &joined(read.await),
            &reported,
            "bytes on the wire vs. bytes poll_write reported",
        );
    });
}
