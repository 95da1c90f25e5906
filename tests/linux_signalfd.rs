//! `SignalFd`: signals received as data, including while the runtime is
//! parked in the kernel, with the sender's identity; try_recv; close.
//!
//! Signals here are sent to one thread (`pthread_kill`), the test's own,
//! which blocked them first: a signal sent to the process could land on
//! another test thread of this binary, which does not block it.
#![cfg(target_os = "linux")]

use ringio::linux::{Signal, SignalFd};
use ringio_tests::{runtime, STEP};
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

/// Sends `signal` to the thread `thread` (a `pthread_self()` value).
fn send_to_thread(thread: libc::pthread_t, signal: Signal) {
    // SAFETY: `thread` is a live thread of this process (the caller's test
    // thread, which outlives the call); `pthread_kill` has no other
    // preconditions, and the thread blocks `signal`, so it stays pending.
    let rc = unsafe { libc::pthread_kill(thread, signal.as_raw()) };
    assert_eq!(rc, 0, "pthread_kill: {}", std::io::Error::from_raw_os_error(rc));
}

fn this_thread() -> libc::pthread_t {
    // SAFETY: `pthread_self` has no preconditions.
    unsafe { libc::pthread_self() }
}

#[test]
fn a_signal_pending_before_recv_is_received_with_its_sender() {
    let signals = SignalFd::new(&[Signal::USR1, Signal::USR2]).unwrap();
    assert!(signals.try_recv().unwrap().is_none());
    send_to_thread(this_thread(), Signal::USR2);
    send_to_thread(this_thread(), Signal::USR1);
    runtime().block_on(async {
        let mut got = vec![signals.recv().await.unwrap(), signals.recv().await.unwrap()];
        got.sort_by_key(|info| info.signal().as_raw());
        assert_eq!(got[0].signal(), Signal::USR1);
        assert_eq!(got[1].signal(), Signal::USR2);
        for info in got {
            assert_eq!(info.pid(), std::process::id());
            assert_eq!(info.code(), libc::SI_TKILL);
        }
        assert!(signals.try_recv().unwrap().is_none());
    });
}

/// The runtime waits in the kernel; a signal sent from another thread must
/// wake it.
#[test]
fn a_signal_arriving_later_wakes_the_runtime() {
    let signals = SignalFd::new(&[Signal::USR1]).unwrap();
    let me = this_thread();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        send_to_thread(me, Signal::USR1);
    });
    runtime().block_on(async {
        let info = ringio::time::timeout(STEP, signals.recv()).await.expect("not woken");
        assert_eq!(info.unwrap().signal(), Signal::USR1);
    });
    sender.join().unwrap();
}

#[test]
fn close_fails_a_pending_recv_and_is_idempotent() {
    let signals = Rc::new(SignalFd::new(&[Signal::USR2]).unwrap());
    runtime().block_on(async {
        let pending = {
            let signals = signals.clone();
            ringio::spawn(async move { signals.recv().await })
        };
        ringio::runtime::yield_now().await;
        signals.close().await.unwrap();
        signals.close().await.unwrap();
        let res = ringio::time::timeout(STEP, pending).await.expect("recv not cancelled");
        assert!(ringio::Error::is_closed(&res.unwrap().unwrap_err()));
        assert!(ringio::Error::is_closed(&signals.try_recv().unwrap_err()));
        assert_eq!(signals.fd().raw(), -1);
    });
}

/// The signal mask a child process starts with.
fn child_blocked_mask(command: &mut Command) -> u64 {
    let out = command.args(["SigBlk", "/proc/self/status"]).output().unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    let hex = line.trim().trim_start_matches("SigBlk:").trim();
    u64::from_str_radix(hex, 16).unwrap()
}

#[test]
fn children_inherit_the_mask_unless_spawned_through_unblock_in_child() {
    let signals = SignalFd::new(&[Signal::USR2]).unwrap();
    let bit = 1u64 << (Signal::USR2.as_raw() - 1);
    let inherited = child_blocked_mask(&mut Command::new("grep"));
    assert_ne!(
        inherited & bit,
        0,
        "std resets the child's mask now: update the SignalFd docs"
    );
    let reset = child_blocked_mask(signals.unblock_in_child(&mut Command::new("grep")));
    assert_eq!(reset & bit, 0, "SIGUSR2 still blocked in the child: {reset:#x}");
}

#[test]
fn signals_have_names_and_numbers() {
    assert_eq!(Signal::from_raw(libc::SIGTERM), Some(Signal::TERM));
    assert_eq!(Signal::TERM.to_string(), "SIGTERM");
    assert_eq!(Signal::from_raw(0), None);
    assert_eq!(
        Signal::from_raw(libc::SIGRTMAX()),
        None,
        "realtime signals are not offered"
    );
}
