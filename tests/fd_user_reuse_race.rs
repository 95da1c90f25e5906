//! The race `ringio::fd::Fd` exists for, with users' own descriptors: threads
//! hold guards and keep using the descriptor while another thread closes (or
//! drops) the handle, and the number is reused the moment it is free. No
//! guard may ever see the new file behind its number, and `close` may return
//! only once every guard is gone.
//!
//! Each guard thread checks, again and again for a few milliseconds, that
//! `fstat` on its borrowed descriptor still names the original pipe
//! (device, inode). The main thread reuses the number with `/dev/null` as
//! soon as the kernel will hand it out. A `close` that did not wait for the
//! guards fails the `live == 0` check at once, and lets the guards see
//! `/dev/null` (or `EBADF`).

use ringio::fd::Fd;
use ringio_tests::{fd_serial, runtime, STEP};
use rustix::pipe::{pipe_with, PipeFlags};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

const ROUNDS: usize = 20;
const GUARDS: usize = 4;
/// How long each guard keeps checking.
const HOLD: Duration = Duration::from_millis(4);

type Identity = (u64, u64);

fn identity(fd: impl AsFd) -> rustix::io::Result<Identity> {
    let st = rustix::fs::fstat(fd)?;
    Ok((st.st_dev, st.st_ino))
}

/// Opens `/dev/null` until it gets the number `old` (filling lower free
/// numbers on the way); waits while `old` is still taken, letting `rt` run
/// (a fixed slot is released on the ring's own thread). Returns the new
/// descriptor and the fillers, to be kept open while the guards check.
fn reuse(rt: &ringio::Runtime, old: i32) -> (File, Vec<File>) {
    let deadline = Instant::now() + STEP;
    let mut fillers = Vec::new();
    loop {
        let f = File::open("/dev/null").unwrap();
        let n = f.as_raw_fd();
        if n == old {
            return (f, fillers);
        }
        if n < old {
            fillers.push(f);
        } else {
            drop(f);
            assert!(Instant::now() < deadline, "number {old} never came free");
            rt.block_on(ringio::runtime::yield_now());
        }
    }
}

/// How the handle goes away while the guards are alive.
#[derive(Clone, Copy, Debug)]
enum End {
    Close,
    Drop,
}

fn race(fixed: bool, end: End) {
    let _serial = fd_serial();
    let rt = runtime();
    for round in 0..ROUNDS {
        let (r, _w): (OwnedFd, OwnedFd) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK).unwrap();
        let original = identity(&r).unwrap();
        let fd = rt.block_on(async {
            if fixed {
                Fd::with_fixed_slot(r)
            } else {
                Fd::new(r)
            }
        });
        let old = fd.raw();
        let live = Arc::new(AtomicUsize::new(GUARDS));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let holding = Arc::new(Barrier::new(GUARDS + 1));
        let threads: Vec<_> = (0..GUARDS)
            .map(|_| {
                let guard = fd.incref().unwrap();
                let (live, failures, holding) = (live.clone(), failures.clone(), holding.clone());
                std::thread::spawn(move || {
                    holding.wait();
                    let until = Instant::now() + HOLD;
                    while Instant::now() < until {
                        match identity(&guard) {
                            Ok(id) if id == original => {}
                            other => failures
                                .lock()
                                .unwrap()
                                .push(format!("round {round}: guard saw {other:?}")),
                        }
                    }
                    live.fetch_sub(1, Ordering::SeqCst);
                    drop(guard);
                })
            })
            .collect();
        holding.wait();
        let live_when_closed = match end {
            End::Close => {
                rt.block_on(fd.close()).unwrap();
                assert_eq!(fd.raw(), -1);
                live.load(Ordering::SeqCst)
            }
            End::Drop => {
                drop(fd);
                0
            }
        };
        let reused = reuse(&rt, old);
        threads.into_iter().for_each(|t| t.join().unwrap());
        let failures = failures.lock().unwrap();
        assert!(
            failures.is_empty(),
            "fixed: {fixed}, {end:?}: {:?}",
            &failures[..failures.len().min(3)]
        );
        assert_eq!(
            live_when_closed, 0,
            "round {round}: close returned while guards were alive"
        );
        drop(reused);
    }
}

#[test]
fn close_waits_for_guards_and_the_number_is_reused_only_after() {
    race(false, End::Close);
}

#[test]
fn close_waits_for_guards_with_a_fixed_slot() {
    race(true, End::Close);
}

#[test]
fn dropped_handle_keeps_the_number_until_the_last_guard() {
    race(false, End::Drop);
}

#[test]
fn dropped_handle_with_a_fixed_slot_keeps_the_number_until_the_last_guard() {
    race(true, End::Drop);
}
