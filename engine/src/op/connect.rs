//! `CONNECT` a socket to an address held in the operation; on readiness
//! backends, a non-blocking `connect`, then `SO_ERROR` once writable.

use super::{Completion, Operation, Plan};
use crate::fd::descriptor::OpLease;
use crate::fd::Interest;
#[cfg(uring)]
use io_uring::{opcode, squeue};
use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::net::SocketAddrAny;
use std::io;

pub(crate) struct Connect {
    fd: OpLease,
    /// Boxed: the SQE points at it, and the operation may move.
    addr: Box<SocketAddrAny>,
    in_progress: bool,
}

impl Connect {
    pub(crate) fn new(fd: OpLease, addr: SocketAddrAny) -> Self {
        Connect {
            fd,
            addr: Box::new(addr),
            in_progress: false,
        }
    }
}

fn done(res: Result<(), Errno>) -> Option<Completion> {
    Some(Completion {
        result: res.err().map_or(0, |e| -e.raw_os_error()),
        flags: 0,
    })
}

// SAFETY: the SQE points at `addr`, a box `self` owns (it stays put when
// `self` moves); `fd` keeps the socket open.
unsafe impl Operation for Connect {
    type Output = io::Result<()>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        let e = opcode::Connect::new(target.raw(), self.addr.as_ptr().cast(), self.addr.addr_len());
        target.apply(e.build())
    }

    fn plan(&self) -> Plan {
        Plan::Nonblocking(Interest::WRITABLE)
    }

    fn syscall(&mut self) -> Option<Completion> {
        let sock = self.fd.borrow();
        if self.in_progress {
            // Finished only once writable; then SO_ERROR holds the outcome.
            let mut fds = [PollFd::new(&sock, PollFlags::OUT)];
            let now = rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 };
            match rustix::event::poll(&mut fds, Some(&now)) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return done(Err(e)),
            }
            return match rustix::net::sockopt::socket_error(sock) {
                Ok(res) => done(res),
                Err(e) => done(Err(e)),
            };
        }
        loop {
            return match rustix::net::connect(sock, &*self.addr) {
                Ok(()) => done(Ok(())),
                Err(Errno::INTR) => continue,
                Err(Errno::INPROGRESS) | Err(Errno::AGAIN) => {
                    self.in_progress = true;
                    None
                }
                Err(e) => done(Err(e)),
            };
        }
    }

    #[cfg(feature = "sim")]
    fn simulate(
        &mut self,
        socket: &crate::sim::Socket,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Completion> {
        crate::sim::ops::connect(socket, &self.addr, cx)
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.io_result().map(drop)
    }
}
