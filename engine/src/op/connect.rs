//! `CONNECT` a socket to an address held in the operation.

use super::{Completion, Operation, Target};
use crate::fd::shared::FdHold;
use crate::ring::Driver;
use io_uring::{opcode, squeue};
use rustix::net::SocketAddrAny;
use std::io;

pub(crate) struct Connect {
    _fd: FdHold,
    target: Target,
    addr: SocketAddrAny,
}

impl Connect {
    pub(crate) fn new(fd: FdHold, addr: SocketAddrAny, driver: &Driver) -> Self {
        Connect {
            target: fd.target(driver),
            _fd: fd,
            addr,
        }
    }
}

// SAFETY: the SQE points at `addr`, inside `self` (kept boxed by the driver);
// `_fd` keeps the socket open.
unsafe impl Operation for Connect {
    type Output = io::Result<()>;

    fn entry(&mut self) -> squeue::Entry {
        let e = opcode::Connect::new(self.target.raw(), self.addr.as_ptr().cast(), self.addr.addr_len());
        self.target.apply(e.build())
    }

    fn complete(self: Box<Self>, c: Completion) -> io::Result<()> {
        c.io_result().map(drop)
    }
}
