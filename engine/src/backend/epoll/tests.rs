//! The epoll core's tests.
//!
//! The scenarios of the `Poller` contract run on the model of epoll (`model.rs`) everywhere, and
//! on Linux against the real epoll as well, on a Unix socket pair: the same expectations hold for
//! both, which is also how the model is checked against the kernel. Every core's system calls go
//! through [`Counted`], which counts the `epoll_ctl` calls and the events the kernel reports, so
//! a core that makes a call per wait, or leaves a registration that the kernel reports at every
//! wait (a spin, though the core drops each event), fails even where each wait looks right.
//! Tests that need the model's hooks (stale events, failing calls) and the model's own fidelity
//! checks come after.

use super::model::{Model, HANG};
use super::*;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

const READ: Interest = Interest::READABLE;
const WRITE: Interest = Interest::WRITABLE;
const BOTH: Interest = Interest::new(true, true);
/// The key the scenarios register their descriptor under.
const KEY: usize = 42;
/// No events.
const NOTHING: [Event; 0] = [];

/// An [`EpollSys`] that counts the `epoll_ctl` calls made through it and the descriptor events
/// its `wait`s report.
struct Counted<S> {
    sys: S,
    ctls: AtomicUsize,
    reported: AtomicUsize,
}

impl<S: EpollSys> EpollSys for Counted<S> {
    fn open() -> io::Result<Self> {
        Ok(Counted {
            sys: S::open()?,
            ctls: AtomicUsize::new(0),
            reported: AtomicUsize::new(0),
        })
    }
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sys.as_fd()
    }
    fn add(&self, fd: RawFd, mask: Mask, data: u64) -> io::Result<()> {
        self.ctls.fetch_add(1, Relaxed);
        self.sys.add(fd, mask, data)
    }
    fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.ctls.fetch_add(1, Relaxed);
        self.sys.delete(fd)
    }
    fn wait(&self, timeout: Option<Duration>, mut on_fired: impl FnMut(Fired)) -> io::Result<()> {
        self.sys.wait(timeout, |fired| {
            if let Fired::Fd { .. } = fired {
                self.reported.fetch_add(1, Relaxed);
            }
            on_fired(fired);
        })
    }
    fn wake(&self) -> io::Result<()> {
        self.sys.wake()
    }
}

/// A kernel to run a scenario on: a core, and one end (`fd`) of a connected stream whose
/// readiness the scenario changes through the other end. A fresh `fd` is writable and has
/// nothing to read.
trait Kernel: Sync {
    /// The system calls under the counting wrapper.
    type Sys: EpollSys;
    /// Which kernel, for failure messages.
    const NAME: &'static str;
    /// The core under test.
    fn core(&self) -> &Core<Counted<Self::Sys>>;
    /// The descriptor the scenario registers.
    fn fd(&self) -> RawFd;
    /// The peer sends a byte: `fd` becomes readable.
    fn peer_sends(&self);
    /// `fd` reads everything there is: it is no longer readable.
    fn drain(&self);
    /// `fd` writes until the stream is full: it is no longer writable.
    fn fill(&self);
    /// The peer reads everything there is: `fd` is writable again.
    fn peer_drains(&self);
    /// The peer shuts down its writing half: `fd` reads the end of the stream (`EPOLLRDHUP`).
    fn peer_shuts_down(&self);
    /// The peer closes its end: `fd` is hung up.
    fn peer_closes(&self);
    /// Returns once a `wait` on another thread is blocked, or (on the real kernel, which cannot
    /// tell) has had time to block.
    fn until_blocked(&self);

    /// `epoll_ctl` calls so far.
    fn ctls(&self) -> usize {
        self.core().sys.ctls.load(Relaxed)
    }

    /// One `wait` that does not block.
    fn wait_now(&self) -> Vec<Event> {
        let mut events = Vec::new();
        self.core().wait(&mut events, Some(Duration::ZERO)).expect("wait");
        events
    }

    /// Checks that a `wait` that does not block delivers `expected`.
    fn expect_events(&self, expected: &[Event], why: &str) {
        assert_eq!(self.wait_now(), expected, "{}: {why}", Self::NAME);
    }

    /// Checks the number of `epoll_ctl` calls so far.
    fn expect_ctls(&self, expected: usize, why: &str) {
        assert_eq!(self.ctls(), expected, "{}: {why}", Self::NAME);
    }

    /// Checks that a `wait` finds nothing at all, not even an event the core drops: the kernel
    /// has nothing pending, so a blocking wait would block.
    fn assert_quiet(&self, why: &str) {
        let before = self.core().sys.reported.load(Relaxed);
        assert_eq!(self.wait_now(), NOTHING, "{}: {why}", Self::NAME);
        let dropped = self.core().sys.reported.load(Relaxed) - before;
        assert_eq!(
            dropped,
            0,
            "{}: {why}: the kernel reported {dropped} event(s)",
            Self::NAME
        );
    }

    /// A `wait` of up to `HANG` on another thread while `meanwhile` runs on this one, and how
    /// long it took.
    fn wait_while(&self, meanwhile: impl FnOnce()) -> (Vec<Event>, Duration) {
        thread::scope(|s| {
            let waiter = s.spawn(|| {
                let (mut events, start) = (Vec::new(), Instant::now());
                self.core().wait(&mut events, Some(HANG)).expect("wait");
                (events, start.elapsed())
            });
            meanwhile();
            waiter.join().expect("waiter panicked")
        })
    }
}

/// The model, with `FD` open.
struct OnModel {
    core: Core<Counted<Arc<Model>>>,
    model: Arc<Model>,
}

impl OnModel {
    const FD: RawFd = 7;

    fn new() -> OnModel {
        let core = <Core<Counted<Arc<Model>>> as Poller>::new().expect("model core");
        let model = Arc::clone(&core.sys.sys);
        model.open(Self::FD, Mask::OUT);
        OnModel { core, model }
    }

    /// A wakeup of `FD` (the peer did something) that changes its readiness with `f`.
    fn wake_up(&self, f: impl FnOnce(&mut Mask)) {
        self.model.wake_up(Self::FD, f);
    }
}

impl Kernel for OnModel {
    type Sys = Arc<Model>;
    const NAME: &'static str = "model";

    fn core(&self) -> &Core<Counted<Arc<Model>>> {
        &self.core
    }
    fn fd(&self) -> RawFd {
        Self::FD
    }
    fn peer_sends(&self) {
        self.wake_up(|ready| *ready |= Mask::IN);
    }
    fn drain(&self) {
        // Its own read wakes the peer, not it. The end of the stream stays readable.
        self.model.quietly(Self::FD, |ready| {
            if !ready.contains(Mask::RDHUP) {
                ready.remove(Mask::IN);
            }
        });
    }
    fn fill(&self) {
        self.model.quietly(Self::FD, |ready| ready.remove(Mask::OUT));
    }
    fn peer_drains(&self) {
        self.wake_up(|ready| *ready |= Mask::OUT);
    }
    fn peer_shuts_down(&self) {
        self.wake_up(|ready| *ready |= Mask::IN | Mask::RDHUP);
    }
    fn peer_closes(&self) {
        self.wake_up(|ready| *ready |= Mask::IN | Mask::RDHUP | Mask::HUP);
    }
    fn until_blocked(&self) {
        self.model.until_blocked();
    }
}

fn ready(ready: Interest) -> Event {
    Event::new(KEY, ready)
}

/// An event for `ready`, `closed` of it for good.
fn for_good(ready: Interest, closed: Interest) -> Event {
    Event {
        key: KEY,
        ready,
        closed,
    }
}

/// Adds `k`'s descriptor under `KEY`.
fn add<K: Kernel>(k: &K) {
    k.core().add(k.fd(), KEY).expect("add");
}

fn arm<K: Kernel>(k: &K, interest: Interest) {
    k.core().arm(k.fd(), KEY, interest).expect("arm");
}

/// Adding a ready descriptor reports it once, and then nothing while its readiness stays: a
/// fresh stream is writable, and stays so, but no wait after the first reports it.
fn reported_once_at_add<K: Kernel>(k: &K) {
    add(k);
    k.expect_events(&[ready(WRITE)], "the readiness at the add");
    for _ in 0..3 {
        k.assert_quiet("a descriptor that stays ready");
    }
    k.expect_ctls(1, "one call, the add");
}

#[test]
fn readiness_at_add_is_reported_once() {
    reported_once_at_add(&OnModel::new());
    #[cfg(epoll)]
    reported_once_at_add(&linux::OnLinux::new());
}

/// Each wakeup is one event, even one that finds the descriptor ready already (more data): the
/// driver may have cleared the direction since the last event, and needs to hear of it again.
fn each_wakeup<K: Kernel>(k: &K) {
    add(k);
    k.expect_events(&[ready(WRITE)], "the readiness at the add");
    for round in 0..3 {
        k.peer_sends();
        k.expect_events(&[ready(BOTH)], &format!("the peer's send {round}"));
        k.assert_quiet("one event per wakeup");
    }
    k.expect_ctls(1, "one call, the add");
}

#[test]
fn each_wakeup_is_one_event() {
    each_wakeup(&OnModel::new());
    #[cfg(epoll)]
    each_wakeup(&linux::OnLinux::new());
}

/// `arm` is free: the registration reports every wakeup whatever is armed.
fn arm_free<K: Kernel>(k: &K) {
    add(k);
    k.expect_events(&[ready(WRITE)], "the readiness at the add");
    for interest in [READ, WRITE, BOTH, Interest::NONE] {
        arm(k, interest);
    }
    k.assert_quiet("arming reported nothing");
    k.expect_ctls(1, "arming made no call");
    k.peer_sends();
    k.expect_events(&[ready(BOTH)], "the send");
}

#[test]
fn arming_makes_no_call() {
    arm_free(&OnModel::new());
    #[cfg(epoll)]
    arm_free(&linux::OnLinux::new());
}

/// Readiness that comes back after the descriptor was drained is reported: nothing is lost
/// between a drain and the next wakeup.
fn after_a_drain<K: Kernel>(k: &K) {
    k.fill();
    add(k);
    k.assert_quiet("neither readable nor writable");
    k.peer_sends();
    k.expect_events(&[ready(READ)], "the send");
    k.drain();
    k.assert_quiet("its own read is no wakeup");
    k.peer_sends();
    k.expect_events(&[ready(READ)], "the send after the drain");
    k.peer_drains();
    k.expect_events(&[ready(BOTH)], "the room the peer made (and the unread byte)");
    k.assert_quiet("all reported");
}

#[test]
fn readiness_after_a_drain_is_reported() {
    after_a_drain(&OnModel::new());
    #[cfg(epoll)]
    after_a_drain(&linux::OnLinux::new());
}

/// A hang-up readies both directions for good, once, and the registration does not spin on it.
fn hang_up<K: Kernel>(k: &K) {
    k.fill();
    add(k);
    k.assert_quiet("neither readable nor writable");
    k.peer_closes();
    k.expect_events(&[for_good(BOTH, BOTH)], "the hang-up");
    for _ in 0..3 {
        k.assert_quiet("the hang-up was reported");
    }
}

#[test]
fn hang_up_readies_both_directions_once() {
    hang_up(&OnModel::new());
    #[cfg(epoll)]
    hang_up(&linux::OnLinux::new());
}

/// A descriptor hung up before it is added is reported at the add, once.
fn hung_up_at_add<K: Kernel>(k: &K) {
    k.peer_closes();
    add(k);
    k.expect_events(&[for_good(BOTH, BOTH)], "the hang-up, at the add");
    k.assert_quiet("the registration reports the hang-up once");
    k.expect_ctls(1, "the add");
}

#[test]
fn hang_up_before_add_is_reported_once() {
    hung_up_at_add(&OnModel::new());
    #[cfg(epoll)]
    hung_up_at_add(&linux::OnLinux::new());
}

/// The peer's shutdown readies reading (the end of the stream) for good, and not writing.
fn peer_shutdown<K: Kernel>(k: &K) {
    k.fill();
    add(k);
    k.peer_shuts_down();
    k.expect_events(&[for_good(READ, READ)], "the end of the stream");
    k.assert_quiet("the shutdown was reported");
    k.peer_drains();
    k.expect_events(
        &[for_good(BOTH, READ)],
        "the room the peer made (and the end of the stream)",
    );
}

#[test]
fn peer_shutdown_readies_reading() {
    peer_shutdown(&OnModel::new());
    #[cfg(epoll)]
    peer_shutdown(&linux::OnLinux::new());
}

/// A deleted descriptor reports nothing; it can be added again, and reports under its new key.
fn delete_then_add<K: Kernel>(k: &K) {
    k.fill();
    add(k);
    k.core().delete(k.fd()).expect("delete");
    k.peer_sends();
    k.peer_drains();
    k.assert_quiet("a deleted descriptor reported");
    k.core().add(k.fd(), KEY + 1).expect("add again");
    let key = KEY + 1;
    k.expect_events(&[Event::new(key, BOTH)], "the new registration, at its add");
    k.expect_ctls(3, "add, delete, add");
}

#[test]
fn deleted_descriptor_reports_nothing() {
    delete_then_add(&OnModel::new());
    #[cfg(epoll)]
    delete_then_add(&linux::OnLinux::new());
}

/// `notify` ends a blocked wait with no event and leaves the registration alone.
fn notify_wakes<K: Kernel>(k: &K) {
    k.fill();
    add(k);
    let (events, waited) = k.wait_while(|| {
        k.until_blocked();
        k.core().notify().expect("notify");
    });
    assert_eq!(events, NOTHING, "{}: notify was reported as an event", K::NAME);
    assert!(
        waited < HANG / 2,
        "{}: notify did not end the wait ({waited:?})",
        K::NAME
    );
    k.peer_sends();
    k.expect_events(&[ready(READ)], "the registration was disturbed");
}

#[test]
fn notify_wakes_a_blocked_wait_without_an_event() {
    notify_wakes(&OnModel::new());
    #[cfg(epoll)]
    notify_wakes(&linux::OnLinux::new());
}

/// A burst of notifies is one wakeup: it leaves nothing behind that would end later waits.
fn notifies_burst<K: Kernel>(k: &K) {
    for _ in 0..100 {
        k.core().notify().expect("notify");
    }
    let mut events = Vec::new();
    let start = Instant::now();
    k.core().wait(&mut events, Some(HANG)).expect("wait");
    assert!(
        start.elapsed() < HANG / 2,
        "{}: the notifies did not end the wait",
        K::NAME
    );
    assert_eq!(events, NOTHING, "{}", K::NAME);
    let start = Instant::now();
    k.core()
        .wait(&mut events, Some(Duration::from_millis(50)))
        .expect("wait");
    assert!(
        start.elapsed() >= Duration::from_millis(40),
        "{}: a burst of notifies ended more than one wait",
        K::NAME
    );
}

#[test]
fn notifies_coalesce() {
    notifies_burst(&OnModel::new());
    #[cfg(epoll)]
    notifies_burst(&linux::OnLinux::new());
}

/// Readiness ends a blocked wait.
fn readiness_wakes<K: Kernel>(k: &K) {
    k.fill();
    add(k);
    let (events, _) = k.wait_while(|| {
        k.until_blocked();
        k.peer_drains();
    });
    assert_eq!(events, [ready(WRITE)], "{}", K::NAME);
}

#[test]
fn readiness_wakes_a_blocked_wait() {
    readiness_wakes(&OnModel::new());
    #[cfg(epoll)]
    readiness_wakes(&linux::OnLinux::new());
}

// What follows needs the model: its hooks, its failures, its view of the registration.

fn errno(result: io::Result<()>) -> Option<i32> {
    result.err().and_then(|err| err.raw_os_error())
}

#[test]
fn registration_asks_for_both_directions_edge_triggered() {
    let k = OnModel::new();
    add(&k);
    let (mask, _) = k.model.registration(OnModel::FD).expect("registered");
    assert_eq!(mask, Mask::REGISTERED | Mask::ERR | Mask::HUP);
}

#[test]
fn stale_event_after_delete_and_reuse_is_ignored() {
    // The event `epoll_wait` returned is processed after the descriptor was deleted, closed,
    // opened again under the same number (not ready for anything) and added under the same key.
    let k = Arc::new(OnModel::new());
    k.fill();
    add(&*k);
    k.peer_sends();
    let again = Arc::clone(&k);
    k.model.after_next_wait(move || {
        again.core.delete(OnModel::FD).expect("delete");
        again.model.close(OnModel::FD);
        again.model.open(OnModel::FD, Mask::empty());
        add(&*again);
    });
    assert_eq!(k.wait_now(), NOTHING, "a stale event reached the new registration");
    k.assert_quiet("the new registration has nothing to report");
    k.peer_sends();
    assert_eq!(k.wait_now(), [ready(READ)], "the new registration reports for itself");
}

#[test]
fn stale_event_after_delete_is_ignored() {
    let k = Arc::new(OnModel::new());
    add(&*k);
    let again = Arc::clone(&k);
    k.model.after_next_wait(move || {
        again.core.delete(OnModel::FD).expect("delete");
        again.model.close(OnModel::FD);
    });
    assert_eq!(k.wait_now(), NOTHING);
}

#[test]
fn failed_add_changes_nothing() {
    let k = OnModel::new();
    k.model.fail_next_ctl(libc::ENOMEM);
    assert_eq!(errno(k.core.add(OnModel::FD, KEY)), Some(libc::ENOMEM));
    assert_eq!(k.model.registration(OnModel::FD), None);
    assert_eq!(
        errno(k.core.delete(OnModel::FD)),
        Some(libc::ENOENT),
        "no entry was left"
    );
    add(&k);
    assert_eq!(k.wait_now(), [ready(WRITE)]);
}

#[test]
fn bookkeeping_errors_match_epoll() {
    let k = OnModel::new();
    add(&k);
    let core = &k.core;
    let fd = OnModel::FD;
    assert_eq!(errno(core.add(fd, KEY + 1)), Some(libc::EEXIST));
    assert_eq!(errno(core.delete(fd + 1)), Some(libc::ENOENT));
    assert_eq!(errno(core.add(-1, KEY)), Some(libc::EBADF));
    assert_eq!(k.ctls(), 1, "rejected calls make no system call");
    assert_eq!(errno(core.add(fd + 1, KEY)), Some(libc::EBADF), "not open");
    assert_eq!(
        errno(core.delete(fd + 1)),
        Some(libc::ENOENT),
        "the failed add left no entry"
    );
    core.delete(fd).expect("delete");
    assert_eq!(errno(core.delete(fd)), Some(libc::ENOENT));
}

#[test]
fn event_with_no_direction_is_dropped() {
    // Only a mask with no readiness bit at all (none the core asks for) maps to no direction.
    let k = OnModel::new();
    add(&k);
    let (_, data) = k.model.registration(OnModel::FD).expect("registered");
    let mut events = Vec::new();
    process(&mut k.core.state.lock(), data, Mask::ET, &mut events);
    assert_eq!(events, NOTHING);
    process(&mut k.core.state.lock(), data, Mask::ERR, &mut events);
    assert_eq!(events, [ready(BOTH)], "an error readies both directions");
}

/// The model, driven directly, behaves as epoll does where the core's design depends on it, so
/// that the core's passing the scenarios above means something.
mod model_fidelity {
    use super::*;

    const FD: RawFd = 3;

    fn model(ready: Mask) -> Arc<Model> {
        let model = Model::new();
        model.open(FD, ready);
        model
    }

    fn wait_now(model: &Arc<Model>) -> Vec<Fired> {
        let mut fired = Vec::new();
        model.wait(Some(Duration::ZERO), |f| fired.push(f)).expect("wait");
        fired
    }

    fn fd(data: u64, mask: Mask) -> Fired {
        Fired::Fd { data, mask }
    }

    #[test]
    fn edge_triggered_registration_reports_once_per_wakeup() {
        let model = model(Mask::IN);
        model.add(FD, Mask::IN | Mask::ET, 1).expect("add");
        assert_eq!(wait_now(&model), [fd(1, Mask::IN)], "the poll at the add");
        assert_eq!(wait_now(&model), []);
        model.quietly(FD, |ready| *ready |= Mask::OUT);
        assert_eq!(wait_now(&model), [], "a change without a wakeup");
        model.wake_up(FD, |_| {});
        assert_eq!(wait_now(&model), [fd(1, Mask::IN)], "a wakeup, ready already");
    }

    #[test]
    fn hang_up_is_reported_whatever_the_mask() {
        let model = model(Mask::HUP);
        model.add(FD, Mask::ET, 1).expect("add");
        assert_eq!(wait_now(&model), [fd(1, Mask::HUP)]);
        assert_eq!(wait_now(&model), []);
    }

    #[test]
    fn a_queued_event_is_polled_again_when_reported() {
        let model = model(Mask::IN);
        model.add(FD, Mask::IN | Mask::ET, 1).expect("add");
        // No longer ready by the time of the wait: dropped.
        model.quietly(FD, |ready| *ready = Mask::empty());
        assert_eq!(wait_now(&model), []);
        // Ready for more by then: reported with what it is ready for at the wait.
        model.wake_up(FD, |ready| *ready = Mask::IN);
        model.quietly(FD, |ready| *ready |= Mask::OUT);
        assert_eq!(model.queued(), 1);
        assert_eq!(wait_now(&model), [fd(1, Mask::IN)], "OUT is not asked for");
    }

    #[test]
    #[should_panic(expected = "edge-triggered registrations only")]
    fn level_triggered_registrations_are_refused() {
        let model = model(Mask::IN);
        let _ = model.add(FD, Mask::IN, 1);
    }

    #[test]
    fn wakes_coalesce_until_reported() {
        let model = model(Mask::empty());
        model.wake().expect("wake");
        model.wake().expect("wake");
        assert_eq!(wait_now(&model), [Fired::Wakeup]);
        assert_eq!(wait_now(&model), []);
        assert_eq!(model.wakeups(), 1);
    }
}

/// The real epoll, on a Unix socket pair.
#[cfg(epoll)]
mod linux {
    use super::*;
    use std::io::{ErrorKind, Read, Write};
    use std::net::Shutdown;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::sync::Mutex;

    /// `ours` is the descriptor under test; `peer` is `None` once closed.
    pub(super) struct OnLinux {
        core: Core<Counted<RustixEpoll>>,
        ours: UnixStream,
        peer: Mutex<Option<UnixStream>>,
    }

    impl OnLinux {
        pub(super) fn new() -> OnLinux {
            let (ours, peer) = UnixStream::pair().expect("socketpair");
            ours.set_nonblocking(true).expect("nonblocking");
            peer.set_nonblocking(true).expect("nonblocking");
            OnLinux {
                core: Poller::new().expect("epoll"),
                ours,
                peer: Mutex::new(Some(peer)),
            }
        }

        fn peer<R>(&self, f: impl FnOnce(&mut UnixStream) -> R) -> R {
            f(self.peer.lock().unwrap().as_mut().expect("peer closed"))
        }
    }

    /// Reads `from` until it would block or ends.
    fn read_all(mut from: &UnixStream) {
        let mut buf = [0u8; 65536];
        loop {
            match from.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(err) if err.kind() == ErrorKind::WouldBlock => return,
                Err(err) => panic!("read: {err}"),
            }
        }
    }

    impl Kernel for OnLinux {
        type Sys = RustixEpoll;
        const NAME: &'static str = "Linux";

        fn core(&self) -> &Core<Counted<RustixEpoll>> {
            &self.core
        }
        fn fd(&self) -> RawFd {
            self.ours.as_raw_fd()
        }
        fn peer_sends(&self) {
            self.peer(|peer| peer.write_all(b"x")).expect("send");
        }
        fn drain(&self) {
            read_all(&self.ours);
        }
        fn fill(&self) {
            let buf = [0u8; 65536];
            loop {
                match (&self.ours).write(&buf) {
                    Ok(_) => {}
                    Err(err) if err.kind() == ErrorKind::WouldBlock => return,
                    Err(err) => panic!("write: {err}"),
                }
            }
        }
        fn peer_drains(&self) {
            self.peer(|peer| read_all(peer));
        }
        fn peer_shuts_down(&self) {
            self.peer(|peer| peer.shutdown(Shutdown::Write)).expect("shutdown");
        }
        fn peer_closes(&self) {
            drop(self.peer.lock().unwrap().take());
        }
        fn until_blocked(&self) {
            thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn mask_bits_are_linux_values() {
        use rustix::event::epoll::EventFlags;
        let pairs = [
            (Mask::IN, EventFlags::IN),
            (Mask::OUT, EventFlags::OUT),
            (Mask::ERR, EventFlags::ERR),
            (Mask::HUP, EventFlags::HUP),
            (Mask::RDHUP, EventFlags::RDHUP),
            (Mask::ET, EventFlags::ET),
        ];
        for (ours, linux) in pairs {
            assert_eq!(ours.bits(), linux.bits(), "{ours:?}");
        }
    }

    #[test]
    fn notify_with_the_counter_at_its_maximum_still_wakes() {
        let k = OnLinux::new();
        let max = u64::MAX - 1;
        rustix::io::write(&k.core.sys.sys.eventfd, &max.to_ne_bytes()).expect("fill the counter");
        // Report the wakeup that filling queued, so only the next one can end the wait below.
        let mut events = Vec::new();
        k.core.wait(&mut events, Some(Duration::ZERO)).expect("wait");
        k.core.notify().expect("notify");
        let start = Instant::now();
        k.core.wait(&mut events, Some(HANG)).expect("wait");
        assert!(start.elapsed() < HANG / 2, "the notify was lost");
    }
}
