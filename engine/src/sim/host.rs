//! Hosts: each has its own 127.x.y.z address, its sockets and its tasks.
//! A host can crash (its sockets reset, its tasks dropped) and restart.
//!
//! Tasks belong to the host whose task spawned them: a [`Tagged`] future
//! marks the host current while it is polled (so sockets it creates are the
//! host's) and drops the task's future once the host crashed.

use super::net::{Kind, Net, State};
use std::cell::Cell;
use std::future::Future;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// One simulated machine.
pub(crate) struct Host {
    pub ip: Ipv4Addr,
    pub alive: bool,
    /// Bumped by each crash: tasks of an older epoch are dropped.
    pub epoch: u64,
    /// Where the next ephemeral port search starts (drawn at first use).
    pub next_port: Option<u16>,
    /// Wakers of the host's tasks, woken on a crash.
    pub tasks: slab::Slab<Option<Waker>>,
}

impl Host {
    pub(crate) fn new(ip: Ipv4Addr) -> Host {
        Host {
            ip,
            alive: true,
            epoch: 0,
            next_port: None,
            tasks: slab::Slab::new(),
        }
    }
}

thread_local! {
    /// The host whose task is being polled on this thread.
    static CURRENT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Makes a host current until dropped (also when a poll panics), then
/// restores the previous one.
struct Enter(Option<usize>);

impl Enter {
    /// `None` keeps the current host (an untagged task inherits it).
    fn host(host: Option<usize>) -> Enter {
        Enter(CURRENT.with(|c| c.replace(host.or(c.get()))))
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// The host of the task being polled (the first host outside any task).
pub(crate) fn current() -> usize {
    CURRENT.with(Cell::get).unwrap_or(0)
}

impl State {
    /// Adds a host; its index is its id.
    pub(crate) fn add_host(&mut self, ip: Ipv4Addr) -> usize {
        if let Some(h) = self.hosts.iter().position(|h| h.ip == ip) {
            return h;
        }
        self.hosts.push(Host::new(ip));
        self.hosts.len() - 1
    }

    /// Crashes `host`: every socket of it is reset (its peers see
    /// `ECONNRESET`), its addresses are free at once, and its tasks are
    /// dropped at their next poll.
    pub(crate) fn crash(&mut self, host: usize) {
        let ip = self.hosts[host].ip;
        self.log(format_args!("crash {ip}"));
        let h = &mut self.hosts[host];
        h.alive = false;
        h.epoch += 1;
        for (_, waker) in h.tasks.iter_mut() {
            self.wake.extend(waker.take());
        }
        let ids: Vec<u64> = self
            .sockets
            .iter()
            .filter(|(_, s)| s.host == host)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.release_addr(id);
            let sock = self.sockets.get_mut(&id).expect("listed");
            match &mut sock.kind {
                Kind::Stream(s) => {
                    let tell_peer = s.phase == super::stream::Phase::Connected && !s.dead;
                    self.reset(id, libc::ECONNRESET);
                    if tell_peer {
                        self.push_segment(id, super::stream::Segment::Rst);
                    }
                }
                Kind::Listener(l) => {
                    l.dead = true;
                    self.wake_all(id);
                }
                Kind::Dgram(d) => {
                    d.dead = true;
                    d.queue.clear();
                    self.wake_all(id);
                }
            }
        }
    }

    /// Brings a crashed `host` back (its tasks are started again by the
    /// caller).
    pub(crate) fn restart(&mut self, host: usize) {
        let ip = self.hosts[host].ip;
        self.log(format_args!("restart {ip}"));
        self.hosts[host].alive = true;
    }

    /// Registers (or refreshes) the waker of task `slot` of `host`; `false`
    /// if the host crashed since epoch `epoch`.
    fn track(&mut self, host: usize, epoch: u64, slot: &mut Option<usize>, waker: &Waker) -> bool {
        let h = &mut self.hosts[host];
        if h.epoch != epoch {
            return false;
        }
        match slot.and_then(|s| h.tasks.get_mut(s)) {
            Some(Some(w)) if w.will_wake(waker) => {}
            Some(w) => *w = Some(waker.clone()),
            None => *slot = Some(h.tasks.insert(Some(waker.clone()))),
        }
        true
    }
}

/// Which host a task belongs to, and its slot in the host's task table.
struct Tag {
    net: Arc<Net>,
    host: usize,
    epoch: u64,
    slot: Option<usize>,
}

impl Tag {
    fn release(&mut self) {
        if let Some(slot) = self.slot.take() {
            let host = self.host;
            self.net.with(|st| {
                st.hosts[host].tasks.try_remove(slot);
            });
        }
    }
}

/// A task's future, bound to a host (or to none, outside a simulation).
pub(crate) struct Tagged<F> {
    tag: Option<Tag>,
    /// `None` once dropped by a crash.
    inner: Option<F>,
}

impl<F: Future> Tagged<F> {
    /// Binds `future` to `host` of `net`, as of the host's current epoch.
    pub(crate) fn new(net: Arc<Net>, host: usize, future: F) -> Tagged<F> {
        let epoch = net.with(|st| st.hosts[host].epoch);
        Tagged {
            tag: Some(Tag {
                net,
                host,
                epoch,
                slot: None,
            }),
            inner: Some(future),
        }
    }

    /// Binds `future` to the current host, if a simulation runs here.
    pub(crate) fn inherit(future: F) -> Tagged<F> {
        match (super::driver::current_net(), CURRENT.with(Cell::get)) {
            (Some(net), Some(host)) => Tagged::new(net, host, future),
            _ => Tagged {
                tag: None,
                inner: Some(future),
            },
        }
    }
}

impl<F: Future> Future for Tagged<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of
        // `self`, only polled through a pin and dropped in place (assigning
        // `None`); `tag` is not pinned and only accessed by reference.
        let this = unsafe { self.get_unchecked_mut() };
        let host = match &mut this.tag {
            Some(tag) => {
                let (host, epoch) = (tag.host, tag.epoch);
                let slot = &mut tag.slot;
                if !tag.net.with(|st| st.track(host, epoch, slot, cx.waker())) {
                    // The host crashed: the task dies with it.
                    this.inner = None;
                    tag.release();
                    return Poll::Pending;
                }
                Some(host)
            }
            None => None,
        };
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Pending;
        };
        let _current = Enter::host(host);
        // SAFETY: `inner` is pinned along with `self` (see above).
        let result = unsafe { Pin::new_unchecked(inner) }.poll(cx);
        // A finished future is dropped with the task, as without the tag.
        if let (true, Some(tag)) = (result.is_ready(), &mut this.tag) {
            tag.release();
        }
        result
    }
}

impl<F> Drop for Tagged<F> {
    fn drop(&mut self) {
        if let Some(tag) = &mut self.tag {
            tag.release();
        }
    }
}
