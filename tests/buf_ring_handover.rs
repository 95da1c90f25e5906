//! A `recv_multi` whose receive ends while it still holds buffers unread
//! (the group ran dry, the reader fell `max_unread` behind) lets the
//! stream's read lock go at that last completion; the bytes it holds are
//! older than anything a read could receive from then on. So they go to
//! the stream's rescue queue first, whole: a read made meanwhile gets them
//! first and in order, the stream takes them back when it arms again, and a
//! stream dropped meanwhile turns them into bytes so that its group gets
//! its buffers back. (The compat layer's completion reads disarm and re-arm
//! receives this way; before, such a read took newer bytes first and the
//! older ones were lost behind the next receive.) io_uring only: a
//! readiness backend receives only when asked, so nothing queues.
//!
//! Every wait is on an event (the receive leaving the kernel, a future
//! completing), bounded by a watchdog; none relies on a delay.

use ringio_tests::{
    group_all_home as all_home, recv_drain as drain, recv_next as next, runtime, until, watchdog, GroupMode, Pattern,
    StreamCheck, Transport, STEP,
};
use std::io::Write;

const BUF: usize = 512;
/// Bytes written: 64 buffers' worth, more than any group here holds.
const TOTAL: usize = 64 * BUF;

/// How a receive is made to end with buffers unread: a group of 4 that the
/// bytes overfill (`ENOBUFS`), or a larger group and a cap of 2 unread (the
/// driver cancels it).
#[derive(Debug, Clone, Copy)]
enum End {
    Dry,
    Cap,
}

impl End {
    fn group(self, mode: GroupMode, id: u16) -> ringio::buf::BufRing {
        let count = match self {
            End::Dry => 4,
            End::Cap => 32,
        };
        mode.build(id, count, BUF).unwrap()
    }

    fn max_unread(self) -> usize {
        match self {
            End::Dry => 64,
            End::Cap => 2,
        }
    }
}

/// Every mode, transport and way to end, each with a group id of its own.
fn cases(test: u16) -> impl Iterator<Item = (u16, GroupMode, Transport, End)> {
    let mut id = test * 64;
    GroupMode::ALL.into_iter().flat_map(move |mode| {
        [Transport::Tcp, Transport::Unix].into_iter().flat_map(move |t| {
            [End::Dry, End::Cap].into_iter().map(move |end| {
                id += 1;
                (id, mode, t, end)
            })
        })
    })
}

fn on_uring() -> bool {
    let uring = ringio::runtime::backend() == Some(ringio::Backend::IoUring);
    if !uring {
        eprintln!("skipped: only io_uring receives ahead of the reader");
    }
    uring
}

/// One case set up to the point both tests start from: more written than
/// the group or the cap lets the receive hold, the receive armed and one
/// buffer taken, and the receive out of the kernel (it ended with buffers
/// queued and not taken).
struct Ended {
    what: String,
    group: ringio::buf::BufRing,
    stream: ringio_tests::AnyStream,
    peer: ringio_tests::StdStream,
    check: StreamCheck,
    rx: ringio::net::RecvMulti<'static>,
}

impl Ended {
    async fn new(id: u16, mode: GroupMode, transport: Transport, end: End) -> Ended {
        let what = format!("{mode:?} {transport:?} {end:?}");
        let group = end.group(mode, id);
        let (stream, mut peer) = transport.pair();
        let mut check = StreamCheck::new(id.into());
        let mut rx = stream.recv_multi(&group).max_unread(end.max_unread()).into_owned();
        let base = ringio::runtime::stats().unwrap().in_flight;
        peer.write_all(&Pattern::new(id.into()).take(TOTAL)).unwrap();
        let first = next(&mut rx, &what)
            .await
            .expect("end of stream before the first chunk");
        check.push(&first);
        drop(first);
        until(|| ringio::runtime::stats().unwrap().in_flight <= base).await;
        Ended {
            what,
            group,
            stream,
            peer,
            check,
            rx,
        }
    }
}

#[test]
fn a_read_after_the_receive_ended_gets_its_unread_buffers_first() {
    watchdog("a read between a receive's end and its re-arm", STEP * 8, |_| {
        runtime().block_on(async {
            if !on_uring() {
                return;
            }
            for (id, mode, transport, end) in cases(1) {
                let Ended {
                    what,
                    group,
                    stream,
                    peer,
                    mut check,
                    mut rx,
                } = Ended::new(id, mode, transport, end).await;
                // Its lock is free: a plain read runs now, and must see the
                // bytes the receive queued, not the newer ones in the socket.
                let (res, buf) = stream.read(vec![0; 3 * BUF]).await;
                let n = res.unwrap_or_else(|e| panic!("{what}: read: {e}"));
                assert!(n > 0, "{what}: end of stream");
                check.push(&buf[..n]);
                // The stream goes on where the read stopped.
                drop(peer);
                drain(&mut rx, &mut check, &what).await;
                check.assert_exactly(TOTAL as u64, &what);
                drop(rx);
                all_home(&group, &what).await;
            }
        })
    });
}

#[test]
fn a_stream_dropped_after_its_receive_ended_gives_every_buffer_back() {
    watchdog(
        "a recv_multi dropped between its receive's end and its re-arm",
        STEP * 8,
        |_| {
            runtime().block_on(async {
                if !on_uring() {
                    return;
                }
                for (id, mode, transport, end) in cases(2) {
                    let Ended {
                        what,
                        group,
                        stream,
                        peer,
                        mut check,
                        rx,
                    } = Ended::new(id, mode, transport, end).await;
                    assert!(group.available() < group.count(), "{what}: nothing queued");
                    // Nobody takes the queued buffers back whole now: they are
                    // bytes on the stream, and the group has them all again
                    // while the stream is still open and unread.
                    drop(rx);
                    all_home(&group, &what).await;
                    // The next receive starts with those bytes, in order.
                    drop(peer);
                    let mut rx = stream.recv_multi(&group).max_unread(end.max_unread());
                    drain(&mut rx, &mut check, &what).await;
                    check.assert_exactly(TOTAL as u64, &what);
                    drop(rx);
                    all_home(&group, &what).await;
                }
            })
        },
    );
}
