//! The race the fd mutex exists for: operations in flight on a descriptor that
//! is closed while they run, and new descriptors that get the same number at
//! once. The old operations must never touch the new descriptor, and `close`
//! must return only after the kernel finished with them.
//!
//! Run both with fixed files and with plain descriptor numbers: with plain
//! numbers an early `close(2)` would let the pending reads consume the new
//! socket's bytes, which the assertions below detect.

use ringio::net::UnixStream;
use std::os::fd::AsRawFd;
use std::rc::Rc;

fn race(slots: u32) {
    let _serial = ringio_tests::fd_serial();
    ringio_tests::runtime_with_fixed(slots).block_on(async {
        for round in 0..50 {
            let (a, a_peer) = UnixStream::pair().unwrap();
            let a = Rc::new(a);
            let old = a.as_raw_fd();
            // One read in the kernel, three waiting for the read lock, and a
            // write (never blocks, keeps a reference) racing the close.
            let readers: Vec<_> = (0..4)
                .map(|_| {
                    let a = a.clone();
                    ringio::spawn(async move { a.read(Vec::with_capacity(64)).await })
                })
                .collect();
            for _ in 0..3 {
                ringio::runtime::yield_now().await;
            }
            assert!(
                ringio::runtime::stats().unwrap().in_flight >= 1,
                "round {round}: no read in flight"
            );

            a.close().await.unwrap();

            // close returned: nothing of `a` may still be in the kernel.
            let stats = ringio::runtime::stats().unwrap();
            assert_eq!(stats.in_flight, 0, "round {round}: close returned with ops in flight");
            assert_eq!(a.as_raw_fd(), -1);

            // Reuse the number at once: new descriptors until one gets `old`.
            let mut fresh = Vec::new();
            let reused = loop {
                let (x, y) = UnixStream::pair().unwrap();
                if x.as_raw_fd() == old {
                    break (x, y);
                }
                if y.as_raw_fd() == old {
                    break (y, x);
                }
                fresh.push((x, y));
                assert!(fresh.len() < 64, "round {round}: number {old} never reused");
            };
            let (new, new_peer) = reused;
            new_peer.write_all(b"NEW".to_vec()).await.0.unwrap();
            let (res, buf) = new.read_exact(Vec::with_capacity(3)).await;
            res.unwrap();
            assert_eq!(buf, b"NEW", "round {round}: bytes of the new descriptor went elsewhere");

            for r in readers {
                let (res, buf) = r.await.unwrap();
                let err = res.expect_err("a read on a closed stream returned data");
                assert!(ringio::Error::is_closed(&err), "round {round}: {err:?}");
                assert!(buf.is_empty());
            }
            drop(a_peer);
        }
        ringio_tests::settle().await;
    });
}

#[test]
fn close_waits_for_in_flight_reads_with_fixed_files() {
    race(64);
}

#[test]
fn close_waits_for_in_flight_reads_with_plain_descriptors() {
    race(0);
}

#[test]
fn close_from_many_tasks_is_idempotent_and_all_wait() {
    let _serial = ringio_tests::fd_serial();
    ringio_tests::runtime().block_on(async {
        let (a, _peer) = UnixStream::pair().unwrap();
        let a = Rc::new(a);
        let reader = {
            let a = a.clone();
            ringio::spawn(async move { a.read(Vec::with_capacity(8)).await.0 })
        };
        ringio::runtime::yield_now().await;
        let closers: Vec<_> = (0..5)
            .map(|_| {
                let a = a.clone();
                ringio::spawn(async move {
                    a.close().await.unwrap();
                    ringio::runtime::stats().unwrap().in_flight
                })
            })
            .collect();
        for c in closers {
            assert_eq!(c.await.unwrap(), 0, "a closer returned while the read was in flight");
        }
        assert!(ringio::Error::is_closed(&reader.await.unwrap().unwrap_err()));
    });
}

/// A descriptor with no fixed slot, closed on a foreign thread while its
/// home runtime runs: the close's cancel (by number) reaches the home ring
/// through its remote queue, after the foreign thread let go of the number.
/// A descriptor that reuses the number at once, with a read waiting on the
/// home ring, must not be hit by that cancel.
#[test]
fn a_foreign_close_does_not_cancel_the_next_holder_of_the_number() {
    let _serial = ringio_tests::fd_serial();
    let rt = ringio_tests::runtime_with_fixed(0);
    rt.block_on(ringio::time::timeout(ringio_tests::STEP * 3, async {
        for round in 0..200 {
            let (a, _a_peer) = std::os::unix::net::UnixStream::pair().unwrap();
            let old = ringio::fd::Fd::new(a.into());
            old.set_nonblocking(true).unwrap();
            old.writable().await.unwrap(); // registers it with this runtime
            let number = old.raw();
            // Closed on another thread; this task waits without a turn.
            std::thread::spawn(move || drop(old)).join().unwrap();
            let (b, mut b_peer) = std::os::unix::net::UnixStream::pair().unwrap();
            let new = ringio::fd::Fd::new(b.into());
            new.set_nonblocking(true).unwrap();
            let reused = new.raw() == number;
            let read = ringio::spawn(async move {
                let (res, buf) = new.read(Vec::with_capacity(8)).await;
                (res.map(|n| buf[..n].to_vec()), new)
            });
            ringio::time::sleep(std::time::Duration::from_millis(2)).await;
            std::io::Write::write_all(&mut b_peer, b"ok").unwrap();
            let (res, _new) = read.await.unwrap();
            assert_eq!(
                res.unwrap_or_else(|e| panic!("round {round} (number reused: {reused}): {e}")),
                b"ok"
            );
        }
    }))
    .expect("hung");
}
