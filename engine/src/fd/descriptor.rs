//! The engine's record of one open descriptor and the three ways to hold it.
//!
//! * [`Descriptor`]: the number, its fd mutex, its fixed-file slot and its
//!   rescue queue, shared by everything below;
//! * [`Lease`]: one reference that keeps the number open (and, taken with an
//!   [`Access`], holds its read or write lock) until dropped;
//! * [`OpLease`]: what an operation holds from SQE push to CQE reap, its own
//!   lease or a share of one that `write_all`/`read_exact` keep across parts;
//! * [`Handle`]: the owner inside every engine type, whose `close` (or drop)
//!   runs the close protocol.
//!
//! Publicly, [`Fd`](super::Fd) is a handle and [`FdGuard`](super::FdGuard) a
//! lease; nothing else of this module is exported.
//!
//! Close protocol (Go's `FD.Close` with wakers):
//! 1. `incref_and_close` sets the closed bit, so no new operation starts and
//!    every task waiting for the read/write lock wakes with "closed";
//! 2. every operation still in the kernel on this descriptor is cancelled;
//! 3. the last reference to go (an operation's CQE being reaped, or the closer's
//!    own) destroys: it unregisters the fixed slot, and only then closes the
//!    number, and signals `destroyed`;
//! 4. `close().await` returns once `destroyed` is set.
//!
//! So a descriptor number is never closed, and cannot be reused, while any
//! operation that names it is pending.

use crate::driver::Driver;
use crate::fd::mutex::{Access, FdMutex};
use crate::fd::rescue::Rescue;
use crate::fd::zero_copy::ZcBudget;
use crate::op::Target;
use crate::readiness::{self, Source};
#[cfg(uring)]
use crate::ring;
#[cfg(uring)]
use crate::ring::fixed::{FixedSlot, Registered};
use crate::sync::event::Event;
use crate::Error;
use std::io;
use std::os::fd::BorrowedFd;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{fence, AtomicU8, Ordering, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};

/// A descriptor shared by its handle and the operations in flight on it.
#[derive(Clone)]
pub(crate) struct Descriptor {
    inner: Arc<Inner>,
}

struct Inner {
    mutex: FdMutex,
    /// The number, valid while any reference is held.
    raw: RawFd,
    /// The descriptor itself; taken (and closed) by `destroy`.
    owned: Mutex<Option<OwnedFd>>,
    /// Where the descriptor is registered with a runtime's backend: set at
    /// adoption when a runtime is current, else by the first operation.
    registration: OnceLock<Registration>,
    /// Whether the descriptor takes a fixed-file slot when it registers with
    /// a ring (engine handles except bound ones; `ringio::fd::Fd` only on
    /// request).
    fixed: bool,
    /// Whether a close on the ring's own thread is submitted at once rather
    /// than with the next turn's submissions (see [`Descriptor::bound`]).
    prompt_close: bool,
    /// Who may close the number: see [`Handle::lend_fd`].
    lending: AtomicU8,
    /// What read-side operations whose futures were dropped received; the
    /// next read takes from here first (see [`crate::fd::rescue`]).
    rescue: Rescue,
    destroyed: Event,
    /// Zero-copy sends in flight on the stream, made on its first one.
    zero_copy: OnceLock<Box<ZcBudget>>,
}

/// [`Inner::lending`]: neither lent nor explicitly closed yet.
const OPEN: u8 = 0;
/// Lent for the handle's life ([`Handle::lend_fd`]): closed only by its drop.
const LENT: u8 = 1;
/// An explicit close began: it can no longer be lent.
const CLOSING: u8 = 2;

/// A ring-registered descriptor's source in its ring's poller, once its
/// first readiness wait asked (`None` inside: the poller refused it, or it
/// was closing).
#[cfg(uring)]
type PollerSource = OnceLock<Option<Arc<Source>>>;

/// A descriptor's registration with the backend of the runtime that adopted it.
enum Registration {
    /// Not registered (no driver was current): nothing was ever in flight.
    Plain,
    /// Its home ring, and where its fixed-file slot stands (none, being
    /// registered by the ring, or a slot). Operations from any thread are
    /// submitted to the home ring, so close can cancel them all there. A
    /// hosted ring with a poller (`ring::waits`) registers the descriptor
    /// there on its first readiness wait.
    #[cfg(uring)]
    Ring(ring::Driver, FixedSlot, PollerSource),
    /// Registered with a readiness poller.
    /// (`None`: the poller refuses this kind of descriptor, e.g. a regular
    /// file on epoll; its operations run on the blocking pool.)
    Source(readiness::Driver, Option<Arc<Source>>),
    /// Registered with the simulated backend: the simulated socket this
    /// descriptor stands for (`None`: a real descriptor, such as a file).
    #[cfg(feature = "sim")]
    Sim(crate::sim::Driver, Option<crate::sim::Socket>),
}

impl Registration {
    /// Registers `raw` with `driver`'s backend: its ring (asking for a fixed
    /// slot if `fixed`; see [`Descriptor::register`]) or its poller (without a
    /// source if the poller refuses this kind of descriptor).
    fn new(driver: &Driver, raw: RawFd, fixed: bool) -> Registration {
        #[cfg(not(uring))]
        let _ = fixed; // only a ring has fixed slots
        match driver {
            #[cfg(uring)]
            Driver::Ring(d) => {
                let slot = if fixed { FixedSlot::pending() } else { FixedSlot::none() };
                Registration::Ring(d.clone(), slot, OnceLock::new())
            }
            Driver::Ready(d) => match d.register(raw) {
                Ok(source) => Registration::Source(d.clone(), Some(source)),
                Err(err) => {
                    tracing::debug!(%err, fd = raw, "not registered with the poller");
                    Registration::Source(d.clone(), None)
                }
            },
            #[cfg(feature = "sim")]
            Driver::Sim(d) => Registration::Sim(d.clone(), d.adopt(raw)),
        }
    }
}

impl Descriptor {
    /// Adopts `fd`, registering it with the current runtime's backend: a slot
    /// of the ring's fixed-file table when one is free, or the poller.
    pub(crate) fn new(fd: OwnedFd) -> Descriptor {
        Descriptor::adopt(fd, true)
    }

    /// Adopts `fd`; with `fixed` false it never takes a fixed-file slot (its
    /// operations name the plain number), but is still registered with a
    /// readiness poller.
    pub(crate) fn adopt(fd: OwnedFd, fixed: bool) -> Descriptor {
        Descriptor::adopt_as(fd, fixed, false)
    }

    /// Adopts a socket that holds an address others may want as soon as it
    /// is dropped: a listener's port, a datagram socket's. Its close, once
    /// nothing is in flight on it, happens before the drop returns, as
    /// with std and tokio: dropping a listener and binding its port again
    /// works, and a datagram to a dropped socket's port is refused. So it
    /// takes no fixed slot (whose registration and release are ring
    /// operations that a turn would have to reap first), and on the ring's
    /// own thread its close is submitted at once (one `io_uring_enter`)
    /// instead of with the next turn's batch. Streams, many and short-lived,
    /// keep the batch.
    pub(crate) fn bound(fd: OwnedFd) -> Descriptor {
        Descriptor::adopt_as(fd, false, true)
    }

    fn adopt_as(fd: OwnedFd, fixed: bool, prompt_close: bool) -> Descriptor {
        let shared = Descriptor {
            inner: Arc::new(Inner {
                mutex: FdMutex::new(),
                raw: fd.as_raw_fd(),
                owned: Mutex::new(Some(fd)),
                registration: OnceLock::new(),
                fixed,
                prompt_close,
                lending: AtomicU8::new(OPEN),
                rescue: Rescue::default(),
                destroyed: Event::new(),
                zero_copy: OnceLock::new(),
            }),
        };
        if let Ok(driver) = Driver::current() {
            shared.register(&driver);
        }
        shared
    }

    /// Registers the descriptor with `driver` unless it is registered
    /// already. A ring then fills a fixed slot for it (with a `FILES_UPDATE`
    /// in its next batch); operations use the plain number until it has.
    fn register(&self, driver: &Driver) -> &Registration {
        if let Some(r) = self.inner.registration.get() {
            return r;
        }
        let fresh = Registration::new(driver, self.inner.raw, self.inner.fixed);
        let won = self.inner.registration.set(fresh).is_ok();
        let registration = self.inner.registration.get().expect("set above");
        #[cfg(uring)]
        if let (true, Registration::Ring(home, fixed, _)) = (won, registration) {
            if fixed.get().is_none() && self.inner.fixed && !home.register_fixed(self.inner.raw, self.clone()) {
                fixed.registered(None);
            }
        }
        let _ = won;
        registration
    }

    /// [`Self::register`] for a descriptor already shared, which a close on
    /// another thread may be racing. Under a reference held until the
    /// registration is published, so that `destroy` (which undoes it: a
    /// poller entry, a fixed slot) runs after and sees it, and the number it
    /// names stays this file's meanwhile. `Error::Closed` once closing has
    /// begun.
    fn register_late(&self, driver: &Driver) -> io::Result<&Registration> {
        let _open = self.incref()?;
        let registration = self.register(driver);
        self.cancel_if_closing();
        Ok(registration)
    }

    /// Called after publishing a registration or a poller source under a
    /// reference taken before close began: close's cancel
    /// (`cancel_in_flight`) may have looked before it existed, so if close
    /// has begun, the cancel is repeated here. SeqCst fences here and there:
    /// either that cancel saw what was published, or this sees the mark.
    fn cancel_if_closing(&self) {
        fence(SeqCst);
        if self.inner.mutex.is_closed() {
            self.cancel_in_flight();
        }
    }

    /// The ring's registration of this descriptor ended, in `slot` or not
    /// at all (called by the ring once its `FILES_UPDATE` completed). If the
    /// last reference went meanwhile, the close continues here.
    #[cfg(uring)]
    pub(crate) fn registered(&self, slot: Option<u32>) {
        let Some(Registration::Ring(home, fixed, _)) = self.inner.registration.get() else {
            return;
        };
        if !fixed.registered(slot) {
            return; // still referenced: operations now name the slot
        }
        let Some(fd) = self.take_owned() else { return };
        let this = self.clone();
        let prompt = self.inner.prompt_close;
        home.close_descriptor(slot, fd, prompt, Box::new(move || this.inner.destroyed.set()));
    }

    /// The number itself (for a registration to put in a fixed slot).
    pub(crate) fn raw(&self) -> RawFd {
        self.inner.raw
    }

    fn take_owned(&self) -> Option<OwnedFd> {
        self.inner.owned.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The readiness driver and poller registration, once the descriptor is
    /// registered with a poller: a readiness backend's, or its hosted
    /// ring's (joined here, on the first call; see `ring::waits`).
    pub(crate) fn ready_source(&self) -> Option<(&readiness::Driver, &Arc<Source>)> {
        match self.inner.registration.get()? {
            Registration::Source(driver, Some(source)) => Some((driver, source)),
            #[cfg(uring)]
            Registration::Ring(home, _, joined) => {
                let poller = home.poller()?;
                let source = match joined.get() {
                    Some(source) => source.as_ref()?,
                    None => self.join(poller, joined)?,
                };
                Some((poller, source))
            }
            _ => None,
        }
    }

    /// Whether the descriptor's home is a hosted ring with a poller, which
    /// its readiness waits go through (see `ring::waits`).
    pub(crate) fn waits_on_ring_poller(&self) -> bool {
        match self.inner.registration.get() {
            #[cfg(uring)]
            Some(Registration::Ring(home, ..)) => home.poller().is_some(),
            _ => false,
        }
    }

    /// Registers the descriptor with its ring's poller, once (`joined`).
    /// Under a reference held until the source is published: `destroy`,
    /// which takes it out of the poller again, cannot run before it sees
    /// it. `None` once closing has begun, or if the poller refused it.
    #[cfg(uring)]
    fn join<'a>(&self, poller: &readiness::Driver, joined: &'a PollerSource) -> Option<&'a Arc<Source>> {
        let _open = self.incref().ok()?;
        let source = joined
            .get_or_init(|| match poller.register(self.inner.raw) {
                Ok(source) => Some(source),
                Err(err) => {
                    tracing::debug!(%err, fd = self.inner.raw, "not registered with the ring's poller");
                    None
                }
            })
            .as_ref()?;
        self.cancel_if_closing();
        Some(source)
    }

    /// The driver an operation on this descriptor is submitted to: the one it
    /// is registered with (registering it with the current runtime's driver
    /// on first use), so that close finds every operation in flight.
    pub(crate) fn driver(&self) -> io::Result<Driver> {
        let registration = match self.inner.registration.get() {
            Some(r) => r,
            None => self.register_late(&Driver::current()?)?,
        };
        match registration {
            #[cfg(uring)]
            Registration::Ring(home, ..) => Ok(Driver::Ring(home.clone())),
            Registration::Source(driver, _) => Ok(Driver::Ready(driver.clone())),
            #[cfg(feature = "sim")]
            Registration::Sim(driver, _) => Ok(Driver::Sim(driver.clone())),
            Registration::Plain => Driver::current(),
        }
    }

    /// True once closing has begun.
    pub(crate) fn is_closed(&self) -> bool {
        self.inner.mutex.is_closed()
    }

    /// The simulated socket this descriptor stands for, if any.
    #[cfg(feature = "sim")]
    pub(crate) fn sim_socket(&self) -> Option<crate::sim::Socket> {
        match self.inner.registration.get()? {
            Registration::Sim(_, socket) => socket.clone(),
            _ => None,
        }
    }

    /// Where this descriptor keeps what dropped reads received.
    pub(crate) fn rescue(&self) -> &Rescue {
        &self.inner.rescue
    }

    /// The descriptor number, or -1 once closing has begun.
    pub(crate) fn raw_fd(&self) -> RawFd {
        if self.inner.mutex.is_closed() {
            -1
        } else {
            self.inner.raw
        }
    }

    /// The fixed slot, once registered.
    pub(crate) fn fixed_slot(&self) -> Option<u32> {
        match self.inner.registration.get().unwrap_or(&Registration::Plain) {
            #[cfg(uring)]
            Registration::Ring(_, fixed, _) => fixed.get(),
            _ => None,
        }
    }

    /// The stream's zero-copy budget (see [`super::zero_copy`]).
    pub(crate) fn zc_budget(&self) -> &ZcBudget {
        self.inner.zero_copy.get_or_init(Box::default)
    }

    /// Takes a plain reference (positional file I/O, socket options, ...).
    pub(crate) fn incref(&self) -> io::Result<Lease> {
        self.inner.mutex.incref()?;
        Ok(Lease {
            fd: self.clone(),
            access: None,
        })
    }

    /// Takes the read or write lock (plus a reference), waiting for the
    /// current holder, so that a byte stream's reads (or writes) stay in order.
    pub(crate) async fn lock(&self, access: Access) -> io::Result<Lease> {
        // Uncontended fast path: no waiter registration, no future state.
        if !self.inner.mutex.try_rwlock(access)? {
            self.inner.mutex.rwlock(access).await?;
        }
        Ok(Lease {
            fd: self.clone(),
            access: Some(access),
        })
    }

    /// Takes the read or write lock if it is free right now (`None` if another
    /// reader or writer holds it).
    pub(crate) fn try_lock(&self, access: Access) -> io::Result<Option<Lease>> {
        Ok(self.inner.mutex.try_rwlock(access)?.then(|| Lease {
            fd: self.clone(),
            access: Some(access),
        }))
    }

    /// Steps 1-4 of the close protocol; idempotent, and concurrent callers all
    /// return once the descriptor is really closed.
    pub(crate) async fn close(&self) -> io::Result<()> {
        self.start_close();
        self.inner.destroyed.wait().await;
        Ok(())
    }

    /// Steps 1-3 without waiting: what dropping a handle does. Never blocks.
    pub(crate) fn start_close(&self) {
        if self.inner.mutex.incref_and_close().is_err() {
            return; // Already closing.
        }
        self.cancel_in_flight();
        if self.inner.mutex.decref() {
            self.destroy();
        }
    }

    fn cancel_in_flight(&self) {
        // Pairs with `cancel_if_closing`'s: a registration or poller source
        // published after this looked repeats this cancel.
        fence(SeqCst);
        match self.inner.registration.get().unwrap_or(&Registration::Plain) {
            #[cfg(uring)]
            // By number: the kernel matches operations by the file they
            // resolved to, so this reaches those that name the fixed slot
            // too (and ones submitted before the slot was filled).
            Registration::Ring(home, _, joined) => {
                home.cancel_fd(Target::fd(self.inner.raw));
                // Joined only under a reference taken before close began; a
                // join still under way repeats this (`cancel_if_closing`).
                if let Some(Some(source)) = joined.get() {
                    source.cancel();
                }
            }
            Registration::Source(_, source) => source.iter().for_each(|s| s.cancel()),
            #[cfg(feature = "sim")]
            Registration::Sim(_, socket) => socket.iter().for_each(crate::sim::Socket::cancel),
            // Never used with a driver: nothing can be in flight.
            Registration::Plain => {}
        }
    }

    /// Runs when the last reference of a closed descriptor goes.
    fn destroy(&self) {
        // Connections accepted for dropped futures go with their listener.
        self.inner.rescue.clear();
        match self.inner.registration.get().unwrap_or(&Registration::Plain) {
            #[cfg(uring)]
            Registration::Ring(home, fixed, joined) => {
                // Out of the poller while the number is still this file's.
                if let (Some(poller), Some(Some(source))) = (home.poller(), joined.get()) {
                    poller.deregister(source);
                }
                match fixed.release() {
                    // The ring's registration finishes the close (`registered`).
                    Registered::Pending => {}
                    // Closed on the ring, behind the close's cancel by number
                    // (see `ring::Driver::close_descriptor`).
                    Registered::Slot(slot) => self.release_on(home, Some(slot)),
                    Registered::No => self.release_on(home, None),
                }
            }
            Registration::Source(driver, Some(source)) => {
                driver.deregister(source);
                self.close_now();
            }
            #[cfg(feature = "sim")]
            Registration::Sim(_, Some(socket)) => {
                socket.destroy();
                self.close_now();
            }
            _ => self.close_now(),
        }
    }

    #[cfg(uring)]
    fn release_on(&self, home: &ring::Driver, slot: Option<u32>) {
        let Some(fd) = self.take_owned() else { return };
        let this = self.clone();
        let prompt = self.inner.prompt_close;
        home.close_descriptor(slot, fd, prompt, Box::new(move || this.inner.destroyed.set()));
    }

    fn close_now(&self) {
        drop(self.take_owned());
        self.inner.destroyed.set();
    }
}

/// A reference to a descriptor that keeps it open (and, with `access`, holds
/// its read or write lock) until dropped. Operations keep one inside their
/// data, so it is released when their CQE is reaped.
pub(crate) struct Lease {
    fd: Descriptor,
    access: Option<Access>,
}

impl Lease {
    /// The descriptor as an SQE names it: its fixed slot once its home ring
    /// registered it (every operation goes to the home ring), else its
    /// plain number, which this reference keeps open.
    pub(crate) fn target(&self) -> Target {
        match self.fd.fixed_slot() {
            #[cfg(uring)]
            Some(slot) => Target::fixed(slot),
            _ => Target::fd(self.fd.inner.raw),
        }
    }

    /// The poller registration, on readiness backends.
    pub(crate) fn source(&self) -> Option<&Arc<Source>> {
        match self.fd.inner.registration.get()? {
            Registration::Source(_, source) => source.as_ref(),
            _ => None,
        }
    }

    /// The poller registration whose readiness a non-blocking attempt
    /// reports to: a readiness backend's, or the one a hosted ring's
    /// poller made for the descriptor's waits (if one has been made).
    pub(crate) fn wait_source(&self) -> Option<&Arc<Source>> {
        match self.fd.inner.registration.get()? {
            #[cfg(uring)]
            Registration::Ring(_, _, joined) => joined.get()?.as_ref(),
            _ => self.source(),
        }
    }

    /// The number; valid for synchronous syscalls while `self` lives.
    pub(crate) fn raw(&self) -> RawFd {
        self.fd.inner.raw
    }

    /// Where this descriptor keeps what dropped reads received.
    pub(crate) fn rescue(&self) -> &Rescue {
        &self.fd.inner.rescue
    }

    /// True once closing has begun.
    pub(crate) fn is_closed(&self) -> bool {
        self.fd.inner.mutex.is_closed()
    }

    /// The shared descriptor this reference is to.
    pub(crate) fn shared(&self) -> &Descriptor {
        &self.fd
    }

    /// A borrowed view of the descriptor for rustix calls.
    pub(crate) fn borrow(&self) -> std::os::fd::BorrowedFd<'_> {
        // SAFETY: this reference keeps the descriptor open (it is closed only
        // after the last reference is dropped), and the borrow cannot outlive `self`.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(self.fd.inner.raw) }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let last = match self.access {
            None => self.fd.inner.mutex.decref(),
            Some(access) => self.fd.inner.mutex.rwunlock(access),
        };
        if last {
            self.fd.destroy();
        }
    }
}

/// What an operation holds to keep its descriptor open: its own reference, or
/// a share of one that a longer procedure (`write_all`, `read_exact`) keeps
/// across several operations so the stream lock is held throughout, and is
/// released only when the last in-flight share is reaped.
pub(crate) enum OpLease {
    Own(Lease),
    Shared(std::sync::Arc<Lease>),
}

impl OpLease {
    fn get(&self) -> &Lease {
        match self {
            OpLease::Own(r) => r,
            OpLease::Shared(r) => r,
        }
    }

    pub(crate) fn target(&self) -> Target {
        self.get().target()
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.get().raw()
    }

    pub(crate) fn source(&self) -> Option<&Arc<Source>> {
        self.get().source()
    }

    pub(crate) fn borrow(&self) -> std::os::fd::BorrowedFd<'_> {
        self.get().borrow()
    }

    pub(crate) fn rescue(&self) -> &Rescue {
        self.get().rescue()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.get().is_closed()
    }

    pub(crate) fn shared(&self) -> &Descriptor {
        self.get().shared()
    }

    /// The simulated socket the descriptor stands for, if any.
    #[cfg(feature = "sim")]
    pub(crate) fn sim_socket(&self) -> Option<crate::sim::Socket> {
        self.get().fd.sim_socket()
    }
}

impl From<Lease> for OpLease {
    fn from(r: Lease) -> OpLease {
        OpLease::Own(r)
    }
}

impl From<std::sync::Arc<Lease>> for OpLease {
    fn from(r: std::sync::Arc<Lease>) -> OpLease {
        OpLease::Shared(r)
    }
}

/// The owning handle inside every engine type (`TcpStream`, `File`, ...):
/// dropping it starts the close protocol without blocking.
pub(crate) struct Handle {
    fd: Descriptor,
}

impl Handle {
    pub(crate) fn new(fd: OwnedFd) -> Handle {
        Handle {
            fd: Descriptor::new(fd),
        }
    }

    /// Adopts `fd`, with a fixed-file slot only if `fixed` (see [`Descriptor::adopt`]).
    pub(crate) fn adopt(fd: OwnedFd, fixed: bool) -> Handle {
        Handle {
            fd: Descriptor::adopt(fd, fixed),
        }
    }

    /// Adopts a listener or datagram socket, closed promptly (see [`Descriptor::bound`]).
    pub(crate) fn bound(fd: OwnedFd) -> Handle {
        Handle {
            fd: Descriptor::bound(fd),
        }
    }

    /// Starts the close protocol without waiting (steps 1-3).
    pub(crate) fn start_close(&self) {
        self.fd.start_close();
    }

    /// Lends the descriptor for as long as this handle lives: from the first
    /// call on, an explicit close ([`Handle::claim_close`]) is refused with
    /// [`Error::Lent`], so the number closes only when the handle drops,
    /// which a borrow of the handle rules out. That makes a `BorrowedFd`
    /// tied to `&self` sound, which is what `AsFd` needs.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if an explicit close came first.
    pub(crate) fn lend_fd(&self) -> io::Result<BorrowedFd<'_>> {
        let lending = &self.fd.inner.lending;
        // AcqRel: orders this against a close claimed on another thread.
        match lending.compare_exchange(OPEN, LENT, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) | Err(LENT) => {}
            Err(_) => return Err(Error::Closed.into()),
        }
        // SAFETY: only `claim_close` (refused from now on) or the handle's
        // drop starts the close of a handle's descriptor, and the drop
        // cannot happen while `self` is borrowed, so the number stays open
        // (it is never -1: it came from an `OwnedFd`) for the borrow's
        // lifetime, which is `self`'s.
        Ok(unsafe { BorrowedFd::borrow_raw(self.fd.inner.raw) })
    }

    /// What every explicit `close` of a handle calls first: refuses if the
    /// descriptor is lent ([`Handle::lend_fd`]), else rules out a later lend.
    pub(crate) fn claim_close(&self) -> io::Result<()> {
        let lending = &self.fd.inner.lending;
        match lending.compare_exchange(OPEN, CLOSING, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) | Err(CLOSING) => Ok(()),
            Err(_) => Err(Error::Lent.into()),
        }
    }

    /// True once closing has begun.
    pub(crate) fn is_closed(&self) -> bool {
        self.fd.inner.mutex.is_closed()
    }

    /// The fixed-file slot, if the descriptor has one.
    pub(crate) fn fixed_slot(&self) -> Option<u32> {
        self.fd.fixed_slot()
    }

    pub(crate) fn incref(&self) -> io::Result<Lease> {
        self.fd.incref()
    }

    pub(crate) async fn lock(&self, access: Access) -> io::Result<Lease> {
        self.fd.lock(access).await
    }

    pub(crate) async fn close(&self) -> io::Result<()> {
        self.claim_close()?;
        self.fd.close().await
    }

    pub(crate) fn try_lock(&self, access: Access) -> io::Result<Option<Lease>> {
        self.fd.try_lock(access)
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.raw_fd()
    }

    /// The driver to submit this descriptor's operations to (see [`Descriptor::driver`]).
    pub(crate) fn driver(&self) -> io::Result<Driver> {
        self.fd.driver()
    }

    /// The shared descriptor (for operations that outlive a borrow of the handle).
    pub(crate) fn shared(&self) -> &Descriptor {
        &self.fd
    }

    /// The simulated socket this handle's descriptor stands for, if any
    /// (registering it with the current runtime first, as an operation would).
    #[cfg(feature = "sim")]
    pub(crate) fn sim(&self) -> Option<crate::sim::Socket> {
        let _ = self.fd.driver();
        self.fd.sim_socket()
    }

    /// Runs `f` on the descriptor under a reference (for synchronous syscalls
    /// such as `getsockname` or `setsockopt`).
    pub(crate) fn with<R>(
        &self,
        f: impl FnOnce(std::os::fd::BorrowedFd<'_>) -> rustix::io::Result<R>,
    ) -> io::Result<R> {
        let r = self.fd.incref()?;
        Ok(f(r.borrow())?)
    }

    /// [`Handle::with`] for a call that reports `io::Error`s itself.
    pub(crate) fn with_io<R>(&self, f: impl FnOnce(std::os::fd::BorrowedFd<'_>) -> io::Result<R>) -> io::Result<R> {
        let r = self.fd.incref()?;
        f(r.borrow())
    }

    /// [`Handle::with_io`] for a non-blocking call of the caller's own: its
    /// `WouldBlock` clears the readiness for `interest` on a readiness
    /// backend, as the engine's own attempts do (`readiness::source`).
    pub(crate) fn try_io<R>(
        &self,
        interest: crate::fd::Interest,
        f: impl FnOnce(std::os::fd::BorrowedFd<'_>) -> io::Result<R>,
    ) -> io::Result<R> {
        let r = self.fd.incref()?;
        crate::net::ready::attempt(&r, interest, || f(r.borrow()))
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.fd.start_close();
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fd")
            .field("raw", &self.fd.raw_fd())
            .field("fixed", &self.fd.fixed_slot())
            .field("refs", &self.fd.inner.mutex.refs())
            .finish()
    }
}
