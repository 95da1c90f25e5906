//! The event-ports core's tests, against the model in `model.rs`. Each scenario also runs against
//! `Naive`, a plain implementation with one deliberate mistake, and must fail there: that shows
//! the scenario can catch the mistake, not just that the core passes it.

use super::model::{Model, HUP, IN, OUT};
use super::*;
use std::error::Error;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

const READ: Interest = Interest::READABLE;
const WRITE: Interest = Interest::WRITABLE;
const BOTH: Interest = Interest::new(true, true);

/// The `Poller` operations, so one scenario can drive the core and `Naive`.
trait Backend: Send + Sync {
    fn add(&self, fd: RawFd, key: usize) -> io::Result<()>;
    fn arm(&self, fd: RawFd, key: usize, interest: Interest) -> io::Result<()>;
    fn delete(&self, fd: RawFd) -> io::Result<()>;
    fn wait(&self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()>;
    fn notify(&self) -> io::Result<()>;
}

impl<S: PortSys> Backend for Core<S> {
    fn add(&self, fd: RawFd, key: usize) -> io::Result<()> {
        Poller::add(self, fd, key)
    }
    fn arm(&self, fd: RawFd, key: usize, interest: Interest) -> io::Result<()> {
        Poller::arm(self, fd, key, interest)
    }
    fn delete(&self, fd: RawFd) -> io::Result<()> {
        Poller::delete(self, fd)
    }
    fn wait(&self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()> {
        Poller::wait(self, events, timeout)
    }
    fn notify(&self) -> io::Result<()> {
        Poller::notify(self)
    }
}

/// One deliberate mistake for `Naive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bug {
    /// After an event, re-associates every armed direction, the delivered one included.
    RearmDelivered,
    /// After an event, disarms the delivered direction but re-associates nothing.
    ForgetUndelivered,
    /// `arm` records the directions but trusts the `add`-time association to report them.
    ArmWithoutAssociate,
    /// Every `notify` sends a user event.
    NoNotifyDedupe,
}

/// The straightforward design (the key as user value, events checked against the key
/// registered for their descriptor) plus at most one `Bug`.
struct Naive {
    sys: Arc<Model>,
    bug: Option<Bug>,
    regs: Mutex<HashMap<RawFd, (usize, Interest)>>,
    notified: AtomicBool,
}

impl Naive {
    fn new(sys: &Arc<Model>, bug: Option<Bug>) -> Self {
        Self {
            sys: Arc::clone(sys),
            bug,
            regs: Mutex::default(),
            notified: AtomicBool::new(false),
        }
    }
}

impl Backend for Naive {
    fn add(&self, fd: RawFd, key: usize) -> io::Result<()> {
        self.sys.associate(fd, Interest::NONE, key)?;
        self.regs.lock().insert(fd, (key, Interest::NONE));
        Ok(())
    }

    fn arm(&self, fd: RawFd, key: usize, interest: Interest) -> io::Result<()> {
        let mut regs = self.regs.lock();
        let (_, armed) = regs.get_mut(&fd).ok_or_else(not_registered)?;
        let union = *armed | interest;
        if union != *armed && self.bug != Some(Bug::ArmWithoutAssociate) {
            self.sys.associate(fd, union, key)?;
        }
        *armed = union;
        Ok(())
    }

    fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.regs.lock().remove(&fd);
        self.sys.dissociate(fd).or_else(|err| {
            if err.raw_os_error() == Some(libc::ENOENT) {
                Ok(())
            } else {
                Err(err)
            }
        })
    }

    fn wait(&self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()> {
        let mut batch = Vec::new();
        self.sys.getn(&mut batch, timeout)?;
        let mut regs = self.regs.lock();
        for raw in batch {
            match raw.origin {
                Origin::Fd => {
                    let fd = raw.object as RawFd;
                    let Some((key, armed)) = regs.get_mut(&fd) else {
                        continue;
                    };
                    if *key != raw.user {
                        continue;
                    }
                    let ready = ready_from(raw.events).intersection(*armed);
                    let rest = if self.bug == Some(Bug::RearmDelivered) {
                        *armed
                    } else {
                        armed.difference(ready)
                    };
                    *armed = rest;
                    if !rest.is_empty() && self.bug != Some(Bug::ForgetUndelivered) {
                        self.sys.associate(fd, rest, *key)?;
                    }
                    if !ready.is_empty() {
                        events.push(Event::new(*key, ready));
                    }
                }
                Origin::User => self.notified.store(false, Ordering::SeqCst),
                Origin::Other => {}
            }
        }
        Ok(())
    }

    fn notify(&self) -> io::Result<()> {
        if self.bug == Some(Bug::NoNotifyDedupe) || !self.notified.swap(true, Ordering::SeqCst) {
            self.sys.send()?;
        }
        Ok(())
    }
}

type Verdict = Result<(), Box<dyn Error>>;
type Scenario = fn(&Arc<dyn Backend>, &Arc<Model>) -> Verdict;

fn ensure(ok: bool, what: impl Into<Box<dyn Error>>) -> Verdict {
    if ok {
        Ok(())
    } else {
        Err(what.into())
    }
}

/// Waits without blocking.
fn wait_now(backend: &Arc<dyn Backend>) -> io::Result<Vec<Event>> {
    let mut events = Vec::new();
    backend.wait(&mut events, Some(Duration::ZERO))?;
    Ok(events)
}

fn event(key: usize, ready: Interest) -> Event {
    Event::new(key, ready)
}

/// Runs `scenario` against the core, where it must pass, and against `Naive` with `bug`,
/// where it must fail.
fn passes_and_catches(scenario: Scenario, bug: Option<Bug>) {
    let model = Model::new();
    let core: Arc<dyn Backend> = Arc::new(Core::with_sys(Arc::clone(&model)));
    if let Err(err) = scenario(&core, &model) {
        panic!("the core failed: {err}");
    }
    let model = Model::new();
    let naive: Arc<dyn Backend> = Arc::new(Naive::new(&model, bug));
    match scenario(&naive, &model) {
        Ok(()) => panic!("the scenario did not catch the naive backend with {bug:?}"),
        Err(err) => eprintln!("caught the naive backend with {bug:?}: {err}"),
    }
}

/// (1) Arming READ on a readable descriptor yields one event; since nobody re-arms, later
/// waits see nothing although the descriptor stays readable (level-triggered).
fn one_event_per_arm(b: &Arc<dyn Backend>, m: &Arc<Model>) -> Verdict {
    m.open(3);
    m.set_ready(3, IN);
    b.add(3, 30)?;
    b.arm(3, 30, READ)?;
    let events = wait_now(b)?;
    ensure(events == [event(30, READ)], format!("first wait returned {events:?}"))?;
    for round in 0..3 {
        let events = wait_now(b)?;
        ensure(
            events.is_empty(),
            format!("wait {round} after delivery returned {events:?}: spinning"),
        )?;
    }
    ensure(
        m.associates() == 2,
        format!("{} port_associate calls, expected 2 (add, arm)", m.associates()),
    )?;
    ensure(m.live_association(3).is_none(), "READ was re-associated after delivery")
}

#[test]
fn delivered_direction_is_not_rearmed() {
    passes_and_catches(one_event_per_arm, Some(Bug::RearmDelivered));
}

/// (2) With READ and WRITE armed and only READ ready, READ is delivered and WRITE stays
/// armed, so it is delivered once the descriptor becomes writable.
fn undelivered_direction_stays_armed(b: &Arc<dyn Backend>, m: &Arc<Model>) -> Verdict {
    m.open(4);
    m.set_ready(4, IN);
    b.add(4, 40)?;
    b.arm(4, 40, BOTH)?;
    let events = wait_now(b)?;
    ensure(events == [event(40, READ)], format!("first wait returned {events:?}"))?;
    let events = wait_now(b)?;
    ensure(events.is_empty(), format!("second wait returned {events:?}"))?;
    m.set_ready(4, IN | OUT);
    let events = wait_now(b)?;
    ensure(
        events == [event(40, WRITE)],
        format!("the WRITE wakeup was lost: wait returned {events:?}"),
    )?;
    let events = wait_now(b)?;
    ensure(
        events.is_empty(),
        format!("wait after both deliveries returned {events:?}"),
    )
}

#[test]
fn undelivered_direction_is_reassociated() {
    passes_and_catches(undelivered_direction_stays_armed, Some(Bug::ForgetUndelivered));
}

/// (3) Readiness that arrives while nothing is armed is reported by the next arm.
fn readiness_before_arm(b: &Arc<dyn Backend>, m: &Arc<Model>) -> Verdict {
    m.open(5);
    b.add(5, 50)?;
    m.set_ready(5, IN | OUT);
    let events = wait_now(b)?;
    ensure(
        events.is_empty(),
        format!("nothing armed, yet wait returned {events:?}"),
    )?;
    b.arm(5, 50, WRITE)?;
    let events = wait_now(b)?;
    ensure(
        events == [event(50, WRITE)],
        format!("readiness before arm was lost: {events:?}"),
    )?;
    b.arm(5, 50, READ)?;
    let events = wait_now(b)?;
    ensure(
        events == [event(50, READ)],
        format!("readiness before the second arm was lost: {events:?}"),
    )
}

#[test]
fn readiness_before_arm_is_not_lost() {
    passes_and_catches(readiness_before_arm, Some(Bug::ArmWithoutAssociate));
}

/// (4) An event that `port_getn` returned before `delete` is ignored, including when the
/// descriptor number and the key are reused by a new registration before it is processed.
fn stale_events_are_ignored(b: &Arc<dyn Backend>, m: &Arc<Model>) -> Verdict {
    // Deleted and gone.
    m.open(6);
    m.set_ready(6, IN);
    b.add(6, 60)?;
    b.arm(6, 60, READ)?;
    let (b2, m2) = (Arc::clone(b), Arc::clone(m));
    m.after_next_getn(move || {
        b2.delete(6).expect("delete");
        m2.close(6);
    });
    let events = wait_now(b)?;
    ensure(
        events.is_empty(),
        format!("an event for a deleted descriptor was reported: {events:?}"),
    )?;

    // Deleted, closed, reopened with the same number and re-added under the same key, with
    // READ armed but not ready: the old READ event must not be reported to the new one.
    m.open(7);
    m.set_ready(7, IN);
    b.add(7, 70)?;
    b.arm(7, 70, READ)?;
    let (b2, m2) = (Arc::clone(b), Arc::clone(m));
    m.after_next_getn(move || {
        b2.delete(7).expect("delete");
        m2.close(7);
        m2.open(7);
        b2.add(7, 70).expect("add");
        b2.arm(7, 70, READ).expect("arm");
    });
    let events = wait_now(b)?;
    ensure(
        events.is_empty(),
        format!("a stale event reached the reused descriptor: {events:?}"),
    )?;
    ensure(
        m.live_association(7).map(|(mask, _)| mask) == Some(IN),
        "the new READ arm was lost",
    )?;
    m.set_ready(7, IN);
    let events = wait_now(b)?;
    ensure(
        events == [event(70, READ)],
        format!("the new descriptor's READ was not reported: {events:?}"),
    )
}

#[test]
fn stale_event_after_delete_is_ignored() {
    // Even without an injected bug, checking events by key alone fails the reuse case.
    passes_and_catches(stale_events_are_ignored, None);
}

/// (5) `notify` wakes a blocked `wait`, is not reported as a descriptor event, and a burst
/// of notifies leaves no backlog that would make later waits return at once.
fn notify_wakes_without_spinning(b: &Arc<dyn Backend>, m: &Arc<Model>) -> Verdict {
    // A descriptor under key 0, armed and not ready: a wakeup must not look like its event.
    m.open(8);
    b.add(8, 0)?;
    b.arm(8, 0, READ)?;

    for _ in 0..5 {
        b.notify()?;
    }
    ensure(m.sends() == 1, format!("5 notifies made {} port_send calls", m.sends()))?;
    let events = wait_now(b)?;
    ensure(events.is_empty(), format!("notify was reported as {events:?}"))?;
    ensure(
        m.queued() == 0,
        format!("{} events left queued: the next waits would spin", m.queued()),
    )?;

    let waiter = {
        let b = Arc::clone(b);
        thread::spawn(move || {
            let (mut events, start) = (Vec::new(), Instant::now());
            b.wait(&mut events, Some(Duration::from_secs(10)))
                .map(|()| (events, start.elapsed()))
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while m.blocked_in_getn() == 0 {
        ensure(Instant::now() < deadline, "the waiter never blocked")?;
        thread::sleep(Duration::from_millis(1));
    }
    b.notify()?;
    let (events, waited) = waiter.join().expect("waiter panicked")?;
    ensure(events.is_empty(), format!("notify was reported as {events:?}"))?;
    ensure(
        waited < Duration::from_secs(5),
        format!("notify did not wake the waiter ({waited:?})"),
    )?;
    ensure(
        m.user_events_retrieved() == 2,
        format!("{} user events retrieved", m.user_events_retrieved()),
    )?;
    ensure(m.sends() == 2, format!("{} port_send calls, expected 2", m.sends()))
}

#[test]
fn notify_wakes_wait_without_spinning() {
    passes_and_catches(notify_wakes_without_spinning, Some(Bug::NoNotifyDedupe));
}

/// The core over a fresh model, driven through `Backend` like the scenarios.
fn core() -> (Arc<Model>, Arc<dyn Backend>) {
    let model = Model::new();
    let core = Arc::new(Core::with_sys(Arc::clone(&model)));
    (model, core)
}

fn wait_core(core: &Arc<dyn Backend>, timeout: Option<Duration>) -> Vec<Event> {
    let mut events = Vec::new();
    core.wait(&mut events, timeout).expect("wait");
    events
}

#[test]
fn hangup_readies_every_armed_direction_once() {
    let (m, core) = core();
    m.open(3);
    core.add(3, 30).unwrap();
    core.arm(3, 30, READ).unwrap();
    m.set_ready(3, HUP);
    assert_eq!(wait_core(&core, Some(Duration::ZERO)), [event(30, READ)]);

    core.arm(3, 30, BOTH).unwrap();
    assert_eq!(wait_core(&core, Some(Duration::ZERO)), [event(30, BOTH)]);
    assert_eq!(m.live_association(3), None, "nothing is left to re-associate");
    assert_eq!(wait_core(&core, Some(Duration::ZERO)), []);
}

#[test]
fn interrupted_wait_blocks_again_only_when_untimed() {
    let (m, core) = core();
    m.open(3);
    core.add(3, 30).unwrap();
    core.arm(3, 30, READ).unwrap();
    m.set_ready(3, IN);
    m.interrupt_next_getn();
    assert_eq!(
        wait_core(&core, Some(Duration::from_secs(1))),
        [],
        "a timed wait returns on EINTR"
    );
    m.interrupt_next_getn();
    assert_eq!(
        wait_core(&core, None),
        [event(30, READ)],
        "an untimed wait retries after EINTR"
    );
}

#[test]
fn failed_arm_reports_directions_it_unarmed() {
    let (m, core) = core();
    m.open(3);
    core.add(3, 30).unwrap();
    core.arm(3, 30, READ).unwrap();
    m.fail_next_associate(libc::ENOMEM);
    let err = core.arm(3, 30, WRITE).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOMEM));
    // The failure dissociated the descriptor, so READ's waiter would hang: it is woken instead.
    assert_eq!(m.sends(), 1);
    assert_eq!(wait_core(&core, Some(Duration::ZERO)), [event(30, READ)]);
    assert_eq!(wait_core(&core, Some(Duration::ZERO)), []);
    core.arm(3, 30, READ).unwrap();
    assert_eq!(m.live_association(3).map(|(mask, _)| mask), Some(IN));
}

#[test]
fn failed_reassociation_reports_the_rest_as_ready() {
    let (m, core) = core();
    m.open(3);
    core.add(3, 30).unwrap();
    core.arm(3, 30, BOTH).unwrap();
    m.fail_next_associate(libc::ENOMEM);
    m.set_ready(3, IN);
    assert_eq!(wait_core(&core, Some(Duration::ZERO)), [event(30, BOTH)]);
    assert_eq!(wait_core(&core, Some(Duration::ZERO)), []);
}

#[test]
fn bookkeeping_errors_match_epoll() {
    let (m, core) = core();
    m.open(3);
    core.add(3, 30).unwrap();
    assert_eq!(core.add(3, 31).unwrap_err().raw_os_error(), Some(libc::EEXIST));
    assert_eq!(
        core.arm(3, 31, READ).unwrap_err().raw_os_error(),
        Some(libc::ENOENT),
        "wrong key"
    );
    assert_eq!(core.arm(4, 30, READ).unwrap_err().raw_os_error(), Some(libc::ENOENT));
    assert_eq!(core.delete(4).unwrap_err().raw_os_error(), Some(libc::ENOENT));
    assert_eq!(m.associates(), 1, "rejected calls make no system call");
    assert_eq!(
        core.add(5, 50).unwrap_err().raw_os_error(),
        Some(libc::EBADF),
        "not open"
    );
    assert_eq!(
        core.arm(5, 50, READ).unwrap_err().raw_os_error(),
        Some(libc::ENOENT),
        "failed add left no entry"
    );
}

#[test]
fn delete_after_delivery_succeeds() {
    let (m, core) = core();
    m.open(3);
    m.set_ready(3, IN);
    core.add(3, 30).unwrap();
    core.arm(3, 30, READ).unwrap();
    assert_eq!(wait_core(&core, Some(Duration::ZERO)), [event(30, READ)]);
    // The association was consumed, so port_dissociate fails with ENOENT: not an error here.
    core.delete(3).unwrap();
    core.add(3, 31).unwrap();
}

#[test]
fn other_sources_are_ignored() {
    let (m, core) = core();
    m.open(3);
    core.add(3, 30).unwrap();
    core.arm(3, 30, READ).unwrap();
    m.inject(RawEvent {
        origin: Origin::Other,
        object: 3,
        events: IN,
        user: 0,
    });
    assert_eq!(wait_core(&core, Some(Duration::ZERO)), []);
    assert_eq!(
        m.live_association(3).map(|(mask, _)| mask),
        Some(IN),
        "READ stays armed"
    );
}
