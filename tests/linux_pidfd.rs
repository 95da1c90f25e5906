//! `PidFd`: exit codes and signals, processes that cannot be waited for
//! (already reaped, not a child) failing at once instead of hanging,
//! concurrent and repeated waits, cancel-safety, and close during a wait.
#![cfg(target_os = "linux")]

use ringio::linux::{PidFd, Signal};
use ringio_tests::{poll_once, runtime, STEP};
use std::future::Future;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

fn sh(script: &str) -> PidFd {
    PidFd::from_child(Command::new("sh").args(["-c", script]).spawn().unwrap()).unwrap()
}

#[test]
fn wait_returns_the_exit_code() {
    runtime().block_on(async {
        let pidfd = sh("sleep 0.01; exit 3");
        let status = ringio::time::timeout(STEP, pidfd.wait()).await.unwrap().unwrap();
        assert_eq!(status.code(), Some(3));
        assert_eq!(pidfd.wait().await.unwrap(), status, "the status is remembered");
        assert_eq!(pidfd.try_wait().unwrap(), Some(status));
    });
}

#[test]
fn send_signal_terminates_and_wait_reports_the_signal() {
    runtime().block_on(async {
        let pidfd = sh("exec sleep 10");
        assert_eq!(pidfd.try_wait().unwrap(), None);
        pidfd.send_signal(Signal::TERM).unwrap();
        let status = ringio::time::timeout(STEP, pidfd.wait()).await.unwrap().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGTERM));
        let err = pidfd.send_signal(Signal::TERM).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH), "the process is gone");
    });
}

#[test]
fn opening_a_pid_that_was_already_reaped_fails() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let err = PidFd::open(pid).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
}

/// The pidfd was opened first, then somebody else collected the status:
/// waiting must fail at once, not wait forever for an exit already past.
#[test]
fn waiting_on_a_process_reaped_elsewhere_fails_at_once() {
    runtime().block_on(async {
        let mut child = Command::new("true").spawn().unwrap();
        let pidfd = PidFd::open(child.id()).unwrap();
        child.wait().unwrap();
        let res = ringio::time::timeout(STEP, pidfd.wait()).await.expect("wait hung");
        let err = res.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        assert!(err.to_string().contains("already"), "{err}");
        assert_eq!(pidfd.try_wait().unwrap_err().kind(), io::ErrorKind::NotFound);
    });
}

#[test]
fn waiting_on_a_process_that_is_not_a_child_fails_at_once() {
    runtime().block_on(async {
        let parent = PidFd::open(std::os::unix::process::parent_id()).unwrap();
        let res = ringio::time::timeout(STEP, parent.wait()).await.expect("wait hung");
        assert_eq!(res.unwrap_err().kind(), io::ErrorKind::NotFound);
    });
}

#[test]
fn invalid_pids_are_refused() {
    assert_eq!(PidFd::open(0).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    assert_eq!(PidFd::open(u32::MAX).unwrap_err().kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn concurrent_waiters_all_get_the_status() {
    runtime().block_on(async {
        let pidfd = Rc::new(sh("sleep 0.03; exit 4"));
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let pidfd = pidfd.clone();
                ringio::spawn(async move { pidfd.wait().await })
            })
            .collect();
        for w in waiters {
            let status = ringio::time::timeout(STEP, w).await.unwrap().unwrap().unwrap();
            assert_eq!(status.code(), Some(4));
        }
    });
}

/// A wait dropped while it waits reaps nothing: the next wait gets the
/// status.
#[test]
fn a_dropped_wait_reaps_nothing() {
    runtime().block_on(async {
        let pidfd = sh("sleep 0.01; exit 5");
        assert!(!poll_once(pidfd.wait()).await, "exited too soon for the test");
        let status = ringio::time::timeout(STEP, pidfd.wait()).await.unwrap();
        assert_eq!(status.unwrap().code(), Some(5));
    });
}

/// A wait whose kernel side completed (the process exited) but that was
/// dropped before it was polled again, as a `select!` does with the branch
/// that lost, must not have reaped the process.
#[test]
fn a_wait_dropped_after_the_exit_was_seen_reaps_nothing() {
    runtime().block_on(async {
        let pidfd = sh("sleep 0.01; exit 6");
        let mut wait = Box::pin(pidfd.wait());
        let ready = std::future::poll_fn(|cx| std::task::Poll::Ready(wait.as_mut().poll(cx).is_ready())).await;
        assert!(!ready, "exited too soon for the test");
        // The process exits and the runtime reaps the wait's completion, but
        // the wait itself is not polled again.
        ringio::time::sleep(Duration::from_millis(60)).await;
        drop(wait);
        let status = ringio::time::timeout(STEP, pidfd.wait()).await.unwrap();
        assert_eq!(status.unwrap().code(), Some(6));
    });
}

#[test]
fn close_fails_a_pending_wait_and_leaves_the_process_alone() {
    runtime().block_on(async {
        let pidfd = Rc::new(sh("exec sleep 10"));
        let pid = pidfd.pid();
        let waiter = {
            let pidfd = pidfd.clone();
            ringio::spawn(async move { pidfd.wait().await })
        };
        ringio::time::sleep(Duration::from_millis(5)).await;
        ringio::time::timeout(STEP, pidfd.close())
            .await
            .expect("close hung")
            .unwrap();
        let res = ringio::time::timeout(STEP, waiter).await.expect("wait not cancelled");
        assert!(ringio::Error::is_closed(&res.unwrap().unwrap_err()));
        assert!(ringio::Error::is_closed(&pidfd.send_signal(Signal::KILL).unwrap_err()));
        assert!(ringio::Error::is_closed(&pidfd.wait().await.unwrap_err()));
        pidfd.close().await.unwrap();

        // Still running, and still ours to reap.
        let again = PidFd::open(pid).unwrap();
        assert_eq!(again.try_wait().unwrap(), None);
        again.send_signal(Signal::KILL).unwrap();
        assert_eq!(again.wait().await.unwrap().signal(), Some(libc::SIGKILL));
    });
}
