//! The kqueue core's tests, against the model of kqueue in `model.rs`.

use super::model::{FakeFd, Model};
use super::*;
use std::thread;

/// A descriptor the tests open in the model.
const FD: RawFd = 7;
/// The key the tests register `FD` under.
const KEY: usize = 42;
/// No events.
const NOTHING: [Event; 0] = [];

/// A backend over a fresh model, with `FD` open in state `state` and
/// added under `KEY`.
fn backend(state: FakeFd) -> Core<Model> {
    let kq = Core::with_sys(Model::default());
    kq.sys.open(FD, state);
    kq.add(FD, KEY).expect("add");
    kq
}

/// One `wait` that does not block.
fn poll(kq: &Core<Model>) -> Vec<Event> {
    let mut events = Vec::new();
    kq.wait(&mut events, Some(Duration::ZERO)).expect("wait");
    events
}

/// An event for `KEY` ready for `ready`.
fn ready(ready: Interest) -> Event {
    Event::new(KEY, ready)
}

/// Both directions.
fn both() -> Interest {
    Interest::READABLE | Interest::WRITABLE
}

const READABLE: FakeFd = FakeFd {
    readable: true,
    writable: false,
    reader_gone: false,
};
const IDLE: FakeFd = FakeFd {
    readable: false,
    writable: false,
    reader_gone: false,
};

#[test]
fn add_arms_nothing() {
    let kq = backend(FakeFd {
        readable: true,
        writable: true,
        reader_gone: false,
    });
    assert_eq!(poll(&kq), NOTHING);
    assert!(kq.sys.log().is_empty());
    assert_eq!(
        kq.add(-1, KEY).map_err(|e| e.raw_os_error()),
        Err(Some(Errno::BADF.raw_os_error()))
    );
}

#[test]
fn arm_read_on_ready_fd_fires_once() {
    let kq = backend(READABLE);
    kq.arm(FD, KEY, Interest::READABLE).expect("arm");
    assert_eq!(poll(&kq), [ready(Interest::READABLE)]);
    // Still readable but not armed again: nothing, however often we look.
    assert_eq!(poll(&kq), NOTHING);
    assert_eq!(poll(&kq), NOTHING);
    assert!(kq.sys.knotes().is_empty());
}

#[test]
fn undelivered_direction_stays_armed() {
    let kq = backend(READABLE);
    kq.arm(FD, KEY, both()).expect("arm");
    assert_eq!(poll(&kq), [ready(Interest::READABLE)]);
    assert_eq!(poll(&kq), NOTHING);
    assert_eq!(kq.sys.knotes(), [(FD, Filter::Write)]);
    kq.sys.set(FD, |fd| fd.writable = true);
    assert_eq!(poll(&kq), [ready(Interest::WRITABLE)]);
    assert_eq!(poll(&kq), NOTHING);
}

#[test]
fn arming_write_leaves_armed_read_alone() {
    let kq = backend(IDLE);
    kq.arm(FD, KEY, Interest::READABLE).expect("arm read");
    kq.arm(FD, KEY, Interest::WRITABLE).expect("arm write");
    let arm = ChangeOp::ArmOnce { key: KEY };
    assert_eq!(
        kq.sys.log(),
        [
            Change {
                fd: FD,
                filter: Filter::Read,
                op: arm
            },
            Change {
                fd: FD,
                filter: Filter::Write,
                op: arm
            }
        ]
    );
    kq.sys.set(FD, |fd| fd.writable = true);
    assert_eq!(poll(&kq), [ready(Interest::WRITABLE)]);
    kq.sys.set(FD, |fd| fd.readable = true);
    assert_eq!(poll(&kq), [ready(Interest::READABLE)]);
}

#[test]
fn arm_with_no_interest_makes_no_change() {
    let kq = backend(READABLE);
    kq.arm(FD, KEY, Interest::NONE).expect("arm");
    assert!(kq.sys.log().is_empty());
    assert_eq!(poll(&kq), NOTHING);
}

#[test]
fn delete_removes_pending_interest() {
    // READ is ready (its knote would fire at the next wait), WRITE is not.
    let kq = backend(READABLE);
    kq.arm(FD, KEY, both()).expect("arm");
    kq.delete(FD).expect("delete");
    kq.sys.set(FD, |fd| fd.writable = true);
    assert_eq!(poll(&kq), NOTHING);
    assert!(kq.sys.knotes().is_empty());
}

#[test]
fn delete_ignores_directions_already_gone() {
    let kq = backend(READABLE);
    kq.delete(FD).expect("delete of a descriptor never armed");
    kq.arm(FD, KEY, Interest::READABLE).expect("arm");
    assert_eq!(poll(&kq), [ready(Interest::READABLE)]);
    kq.delete(FD).expect("delete after the one-shot knote fired");
}

#[test]
fn kernel_errors_are_reported() {
    let kq = backend(IDLE);
    let unknown = FD + 1;
    let err = |r: io::Result<()>| r.map_err(|e| e.raw_os_error());
    assert_eq!(
        err(kq.arm(unknown, KEY, Interest::READABLE)),
        Err(Some(Errno::BADF.raw_os_error()))
    );
    assert_eq!(err(kq.delete(unknown)), Err(Some(Errno::BADF.raw_os_error())));
}

#[test]
fn notify_wakes_a_blocked_wait_without_an_event() {
    let kq = backend(IDLE);
    kq.arm(FD, KEY, Interest::READABLE).expect("arm");
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            let mut events = Vec::new();
            kq.wait(&mut events, None).map(|()| events)
        });
        kq.sys.until_blocked();
        kq.notify().expect("notify");
        assert_eq!(waiter.join().expect("waiter panicked").expect("wait"), NOTHING);
    });
    assert_eq!(kq.sys.wakeups(), 1);
    // The armed READ was not disturbed by the wakeup.
    kq.sys.set(FD, |fd| fd.readable = true);
    assert_eq!(poll(&kq), [ready(Interest::READABLE)]);
}

#[test]
fn notifies_coalesce() {
    let kq = backend(IDLE);
    for _ in 0..100 {
        kq.notify().expect("notify");
    }
    let mut events = Vec::new();
    kq.wait(&mut events, None).expect("wait");
    assert_eq!(events, NOTHING);
    assert_eq!(kq.sys.wakeups(), 1);
    // The burst was one wakeup: the next wait finds nothing to wake it.
    assert_eq!(poll(&kq), NOTHING);
    assert_eq!(kq.sys.wakeups(), 1);
}

#[test]
fn wakeup_is_not_reported_among_fd_events() {
    let kq = backend(READABLE);
    kq.arm(FD, KEY, Interest::READABLE).expect("arm");
    kq.notify().expect("notify");
    assert_eq!(poll(&kq), [ready(Interest::READABLE)]);
    assert_eq!(kq.sys.wakeups(), 1);
}

#[test]
fn readiness_before_arm_is_not_lost() {
    let kq = backend(IDLE);
    kq.sys.set(FD, |fd| fd.readable = true);
    assert_eq!(poll(&kq), NOTHING);
    kq.arm(FD, KEY, Interest::READABLE).expect("arm");
    assert_eq!(poll(&kq), [ready(Interest::READABLE)]);
    // Readiness that comes back while disarmed is seen by the next arm.
    kq.sys.set(FD, |fd| fd.readable = false);
    kq.sys.set(FD, |fd| fd.readable = true);
    assert_eq!(poll(&kq), NOTHING);
    kq.arm(FD, KEY, Interest::READABLE).expect("arm again");
    assert_eq!(poll(&kq), [ready(Interest::READABLE)]);
}

#[test]
fn readiness_wakes_a_blocked_wait() {
    let kq = backend(IDLE);
    kq.arm(FD, KEY, Interest::WRITABLE).expect("arm");
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            let mut events = Vec::new();
            kq.wait(&mut events, None).map(|()| events)
        });
        kq.sys.until_blocked();
        kq.sys.set(FD, |fd| fd.writable = true);
        assert_eq!(
            waiter.join().expect("waiter panicked").expect("wait"),
            [ready(Interest::WRITABLE)]
        );
    });
}

#[test]
fn write_refused_with_epipe_is_reported_ready_once() {
    let kq = backend(FakeFd {
        reader_gone: true,
        ..IDLE
    });
    kq.arm(FD, KEY, both()).expect("arm");
    assert_eq!(poll(&kq), [ready(Interest::WRITABLE)]);
    assert_eq!(poll(&kq), NOTHING);
    // READ got its knote as usual.
    assert_eq!(kq.sys.knotes(), [(FD, Filter::Read)]);
}

#[test]
fn write_refused_with_epipe_wakes_a_blocked_wait() {
    let kq = backend(FakeFd {
        reader_gone: true,
        ..IDLE
    });
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            let mut events = Vec::new();
            kq.wait(&mut events, None).map(|()| events)
        });
        kq.sys.until_blocked();
        kq.arm(FD, KEY, Interest::WRITABLE).expect("arm");
        let mut events = waiter.join().expect("waiter panicked").expect("wait");
        // The waiter was blocked, so the trigger woke it and the event
        // waits for the next turn (or it already saw the event itself).
        if events.is_empty() {
            events = poll(&kq);
        }
        assert_eq!(events, [ready(Interest::WRITABLE)]);
    });
}

#[test]
fn delete_drops_a_refused_direction() {
    let kq = backend(FakeFd {
        reader_gone: true,
        ..IDLE
    });
    kq.arm(FD, KEY, Interest::WRITABLE).expect("arm");
    kq.delete(FD).expect("delete");
    assert_eq!(poll(&kq), NOTHING);
}

#[test]
fn write_knote_attached_before_the_reader_closes_fires() {
    let kq = backend(IDLE);
    kq.arm(FD, KEY, Interest::WRITABLE).expect("arm");
    assert_eq!(poll(&kq), NOTHING);
    kq.sys.set(FD, |fd| fd.reader_gone = true);
    assert_eq!(poll(&kq), [ready(Interest::WRITABLE)]);
    assert_eq!(poll(&kq), NOTHING);
}
