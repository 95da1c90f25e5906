//! `ACCEPT`, single-shot (with the peer address) and multishot (Linux 5.19);
//! on readiness backends, `accept4` retried on readability. Accepted sockets
//! are close-on-exec and non-blocking; one accepted for a dropped future
//! waits on the listener's rescue queue for the next accept (and is closed
//! with the listener), never lost or leaked.

#[cfg(uring)]
use super::Target;
use super::{Completion, Operation, Plan};
use crate::fd::descriptor::OpLease;
use crate::fd::rescue::Rescued;
use crate::fd::Interest;
#[cfg(uring)]
use io_uring::{opcode, squeue};
use libc::sockaddr_storage as SocketAddrStorage;
use rustix::net::SocketAddrAny;
#[cfg(not(target_vendor = "apple"))]
use rustix::net::SocketFlags;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};

#[cfg(uring)]
const FLAGS: i32 = libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;

pub(crate) struct Accept {
    fd: OpLease,
    /// Where the kernel writes the peer's address and its length: boxed, so
    /// it stays put when the operation moves (into the driver, if dropped).
    addr: Box<PeerAddr>,
    /// The peer address when the readiness path accepted.
    peer: Option<SocketAddrAny>,
}

/// A socket address buffer and its length, as `accept4` fills them.
pub(crate) struct PeerAddr {
    storage: MaybeUninit<SocketAddrStorage>,
    len: libc::socklen_t,
}

impl PeerAddr {
    fn new() -> Box<PeerAddr> {
        Box::new(PeerAddr {
            storage: MaybeUninit::uninit(),
            len: size_of::<SocketAddrStorage>() as libc::socklen_t,
        })
    }

    fn read(&self) -> Option<SocketAddrAny> {
        read_addr(&self.storage, self.len)
    }
}

impl Accept {
    pub(crate) fn new(fd: OpLease) -> Self {
        Accept {
            fd,
            addr: PeerAddr::new(),
            peer: None,
        }
    }
}

/// `accept4(fd, CLOEXEC | NONBLOCK)` as a completion (`None`: would block).
pub(crate) fn accept_nonblocking(listener: BorrowedFd<'_>) -> (Option<Completion>, Option<SocketAddrAny>) {
    loop {
        #[cfg(not(target_vendor = "apple"))]
        let accepted = rustix::net::acceptfrom_with(listener, SocketFlags::CLOEXEC | SocketFlags::NONBLOCK);
        #[cfg(target_vendor = "apple")]
        let accepted = rustix::net::acceptfrom(listener).and_then(|(sock, peer)| {
            crate::net::prepare_socket(&sock)
                .map_err(|e| rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::IO))?;
            Ok((sock, peer))
        });
        return match accepted {
            Ok((sock, peer)) => (
                Some(Completion {
                    result: sock.into_raw_fd(),
                    flags: 0,
                }),
                peer,
            ),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::WOULDBLOCK => (None, None),
            Err(e) => (
                Some(Completion {
                    result: -e.raw_os_error(),
                    flags: 0,
                }),
                None,
            ),
        };
    }
}

// SAFETY: the SQE points at the address buffer and its length in `addr`, a
// box `self` owns (it stays put when `self` moves); `fd` keeps the listener
// open.
unsafe impl Operation for Accept {
    type Output = io::Result<(OwnedFd, Option<SocketAddrAny>)>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        let PeerAddr { storage, len } = &mut *self.addr;
        let e = opcode::Accept::new(target.raw(), storage.as_mut_ptr().cast(), len).flags(FLAGS);
        target.apply(e.build())
    }

    fn plan(&self) -> Plan {
        Plan::Nonblocking(Interest::READABLE)
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (c, peer) = accept_nonblocking(self.fd.borrow());
        self.peer = peer;
        c
    }

    #[cfg(feature = "sim")]
    fn simulate(
        &mut self,
        socket: &crate::sim::Socket,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Completion> {
        crate::sim::ops::accept(socket, &mut self.peer, cx)
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> io::Result<(OwnedFd, Option<SocketAddrAny>)> {
        let fd = accepted_fd(&c)?;
        let peer = match self.peer {
            Some(peer) => Some(peer),
            None => self.addr.read(),
        };
        Ok((fd, peer))
    }

    fn on_orphan_cqe(&mut self, c: &Completion) {
        rescue_conn(&self.fd, c, self.addr.read());
    }
}

/// Keeps a connection accepted for a dropped future for the next accept.
fn rescue_conn(listener: &OpLease, c: &Completion, peer: Option<SocketAddrAny>) {
    if let Ok(fd) = accepted_fd(c) {
        listener.rescue().push(Rescued::Conn { fd, peer });
    }
}

/// Multishot accept: one CQE per connection until cancelled or failed. Its
/// data stays in the driver; the listener reference (`fd`, usually its read
/// lock) goes when the last CQE is reaped, while `listener` still reaches
/// the rescue queue for connections nobody took.
pub(crate) struct AcceptMulti {
    fd: Option<OpLease>,
    listener: crate::fd::descriptor::Descriptor,
}

impl AcceptMulti {
    pub(crate) fn new(fd: OpLease) -> Self {
        AcceptMulti {
            listener: fd.shared().clone(),
            fd: Some(fd),
        }
    }
}

// SAFETY: no pointers; `fd` keeps the listener open until the last CQE.
unsafe impl Operation for AcceptMulti {
    type Output = ();

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        // Armed while `fd` is held: it goes only with the last CQE.
        let target = self.fd.as_ref().map_or(Target::fd(-1), OpLease::target);
        target.apply(opcode::AcceptMulti::new(target.raw()).flags(FLAGS).build())
    }

    fn plan(&self) -> Plan {
        Plan::Nonblocking(Interest::READABLE)
    }

    fn syscall(&mut self) -> Option<Completion> {
        match &self.fd {
            Some(fd) => accept_nonblocking(fd.borrow()).0,
            None => Some(Completion::errno(libc::EBADF)),
        }
    }

    fn fd(&self) -> Option<&OpLease> {
        self.fd.as_ref()
    }

    fn take_fd(&mut self) -> Option<OpLease> {
        self.fd.take()
    }

    fn complete(self, _c: Completion) {}

    fn on_orphan_cqe(&mut self, c: &Completion) {
        if let Ok(fd) = accepted_fd(c) {
            self.listener.rescue().push(Rescued::Conn { fd, peer: None });
        }
    }
}

/// The descriptor an accept completion carries.
pub(crate) fn accepted_fd(c: &Completion) -> io::Result<OwnedFd> {
    let raw = c.io_result()? as i32;
    // SAFETY: the kernel created `raw` for this accept; the completion is
    // consumed once, so nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Reads a kernel-filled socket address; `None` for an unnamed peer.
pub(crate) fn read_addr(addr: &MaybeUninit<SocketAddrStorage>, len: libc::socklen_t) -> Option<SocketAddrAny> {
    if (len as usize) < size_of::<libc::sa_family_t>() + 1 || len as usize > size_of::<SocketAddrStorage>() {
        return None;
    }
    // SAFETY: the kernel wrote `len` bytes of a valid socket address, and `len`
    // is within the storage's size (checked above, so `read` cannot panic).
    Some(unsafe { SocketAddrAny::read(addr.as_ptr().cast(), len) })
}
