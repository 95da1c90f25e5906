//! Errors that used to be unclear now have their documented kind, on every
//! backend:
//!
//! * a `send_msg` cancelled by close fails with `ringio::Error::Closed`,
//!   not a bare `ECANCELED`;
//! * `incoming().next()` returns `None` once its listener is closed (it
//!   returned `Some(Err(ECANCELED))` on io_uring), whether it was waiting
//!   at the time or is called after;
//! * `EMFILE` while building a runtime is reported as `EMFILE`: with
//!   io_uring forced it read as `Unsupported("io_uring unavailable")`, and
//!   in automatic mode it silently produced an epoll runtime.
//!
//! `RLIMIT_NOFILE` is per process, so the EMFILE tests lower it in a child
//! process that re-executes this test binary (as `backend_fallback.rs` does),
//! to just above the descriptors already open.

use ringio::net::{TcpListener, UnixDatagram};
use ringio_tests::{run_child, runtime, watchdog, STEP};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

/// A `send_msg` blocked on a full Unix datagram socket, then closed.
#[test]
fn send_msg_cancelled_by_close_fails_with_closed() {
    watchdog("send_msg cancelled by close", LIMIT, |_| {
        runtime().block_on(async {
            let (a, _b) = UnixDatagram::pair().unwrap();
            // Fill the peer's queue until a send would block.
            // SAFETY: `a` keeps the descriptor open for the borrow's whole use.
            let raw = unsafe { std::os::fd::BorrowedFd::borrow_raw(a.as_raw_fd()) };
            let flags = rustix::net::SendFlags::DONTWAIT;
            while rustix::net::send(raw, &[0u8; 512], flags).is_ok() {}
            let a = Rc::new(a);
            let sender = ringio::spawn({
                let a = a.clone();
                async move { a.send_msg(vec![vec![1u8; 512]], Vec::new()).await.0 }
            });
            ringio::time::sleep(Duration::from_millis(10)).await;
            assert!(!sender.is_finished(), "send_msg did not block on a full socket");
            ringio::time::timeout(STEP, a.close())
                .await
                .expect("close hung")
                .unwrap();
            let err = ringio::time::timeout(STEP, sender)
                .await
                .expect("send_msg not cancelled")
                .unwrap()
                .expect_err("send_msg on a full socket completed");
            assert!(
                ringio::Error::is_closed(&err),
                "send_msg cancelled by close failed with {err:?} ({err}), not Error::Closed"
            );
        })
    });
}

/// `incoming().next()` is `None` once the listener is closed.
#[test]
fn incoming_ends_with_none_when_its_listener_closes() {
    watchdog("incoming().next() after close", LIMIT, |_| {
        runtime().block_on(async {
            let listener = Rc::new(TcpListener::bind("127.0.0.1:0").unwrap());
            let waiting = ringio::spawn({
                let listener = listener.clone();
                async move {
                    let mut incoming = listener.incoming();
                    incoming.next().await.map(|r| r.map(drop))
                }
            });
            ringio::time::sleep(Duration::from_millis(10)).await;
            listener.close().await.unwrap();
            let next = ringio::time::timeout(STEP, waiting)
                .await
                .expect("incoming().next() not woken by close")
                .unwrap();
            assert!(
                next.is_none(),
                "incoming().next() waiting when its listener closed returned {next:?}, not None"
            );
            let after = ringio::time::timeout(STEP, listener.incoming().next())
                .await
                .expect("incoming().next() on a closed listener hung")
                .map(|r| r.map(drop));
            assert!(
                after.is_none(),
                "incoming().next() on a closed listener returned {after:?}, not None"
            );
        })
    });
}

const CHILD_ENV: &str = "RINGIO_EMFILE_CHILD";
const CHILD_OK: &str = "emfile child: every runtime build under EMFILE reported EMFILE";
const CHILD_SKIP: &str = "emfile child: io_uring unavailable here";

/// In the child: builds runtimes with the descriptor limit at the lowest
/// free number and a few above it. Each build must either succeed (enough
/// room) or fail with `EMFILE`; in automatic mode a success must be on
/// io_uring, not a silent fallback to epoll. With no room at all it must fail.
fn emfile_child(forced: bool) {
    let build = || {
        if forced {
            ringio::Runtime::builder().backend(ringio::Backend::IoUring).build()
        } else {
            ringio::Runtime::new()
        }
    };
    let uring_here = ringio::Runtime::builder()
        .backend(ringio::Backend::IoUring)
        .build()
        .is_ok();
    if forced && !uring_here {
        println!("{CHILD_SKIP}");
        return;
    }
    let saved = getrlimit(Resource::Nofile);
    // The limit caps descriptor numbers: at the lowest free number, no new
    // descriptor fits.
    let lowest_free = std::fs::File::open("/dev/null").unwrap().as_raw_fd() as u64;
    let mut outcomes = Vec::new();
    for room in 0..8u64 {
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(lowest_free + room),
                maximum: saved.maximum,
            },
        )
        .unwrap();
        let built = build();
        setrlimit(Resource::Nofile, saved).unwrap();
        match built {
            Ok(rt) => {
                let backend = rt.backend();
                drop(rt);
                if uring_here {
                    assert_eq!(
                        backend,
                        ringio::Backend::IoUring,
                        "room for {room} descriptors: Runtime::new() fell back to {backend} instead of reporting EMFILE"
                    );
                }
                outcomes.push(format!("{room}: ok ({backend})"));
            }
            Err(e) => {
                assert_eq!(
                    e.raw_os_error(),
                    Some(libc::EMFILE),
                    "room for {room} descriptors (forced io_uring: {forced}): building a runtime failed with \
                     {e:?} ({e}), not EMFILE"
                );
                outcomes.push(format!("{room}: EMFILE"));
            }
        }
    }
    assert!(
        outcomes[0].ends_with("EMFILE"),
        "a runtime was built with no descriptor free"
    );
    println!("outcomes: {outcomes:?}");
    println!("{CHILD_OK}");
}

fn run_emfile(test: &str, forced: bool) {
    if std::env::var_os(CHILD_ENV).is_some() {
        return emfile_child(forced);
    }
    // No RINGIO_BACKEND in the child: automatic mode, or the builder's choice.
    let out = run_child(test, &[(CHILD_ENV, "1")], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stdout.contains(CHILD_SKIP) {
        eprintln!("skipped: io_uring unavailable here");
        return;
    }
    assert!(
        out.status.success() && stdout.contains(CHILD_OK),
        "child failed:\n{stdout}\n{stderr}"
    );
}

#[test]
fn emfile_with_io_uring_forced_is_reported_as_emfile() {
    run_emfile("emfile_with_io_uring_forced_is_reported_as_emfile", true);
}

#[test]
fn emfile_in_automatic_mode_is_reported_not_turned_into_epoll() {
    run_emfile("emfile_in_automatic_mode_is_reported_not_turned_into_epoll", false);
}
