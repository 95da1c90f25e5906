//! `SENDMSG` / `RECVMSG`: scatter/gather, an optional peer address and
//! ancillary (control) data, for datagram sockets. A datagram received for a
//! dropped future is rescued whole, ancillary data included.

use super::accept::read_addr;
use super::sendrecv::NOSIGNAL;
use super::{syscall_retry, Completion, Operation, Plan};
use crate::buf::{IoBuf, IoBufMut};
use crate::fd::descriptor::OpLease;
use crate::fd::rescue::{Datagram, Rescued};
use crate::fd::Interest;
#[cfg(uring)]
use io_uring::{opcode, squeue};
use libc::sockaddr_storage as SocketAddrStorage;
use rustix::net::SocketAddrAny;
use std::io;
use std::mem::MaybeUninit;

/// What a received message carried besides its payload.
#[derive(Debug, Clone)]
pub(crate) struct RecvMeta {
    pub bytes: usize,
    pub addr: Option<SocketAddrAny>,
    pub control_len: usize,
    pub flags: i32,
}

pub(crate) struct SendMsg<B> {
    fd: OpLease,
    bufs: Vec<B>,
    control: Vec<u8>,
    /// Boxed, like `msg`: the SQE points at both, and the operation may move.
    addr: Option<Box<SocketAddrAny>>,
    iovecs: Vec<libc::iovec>,
    msg: Box<libc::msghdr>,
}

impl<B: IoBuf> SendMsg<B> {
    pub(crate) fn new(fd: OpLease, bufs: Vec<B>, control: Vec<u8>, addr: Option<SocketAddrAny>) -> Self {
        let iovecs = bufs
            .iter()
            .map(|b| libc::iovec {
                iov_base: b.stable_ptr() as *mut _,
                iov_len: b.bytes_init(),
            })
            .collect();
        // SAFETY: msghdr is plain old data; all-zero is a valid empty header.
        let msg = Box::new(unsafe { std::mem::zeroed() });
        SendMsg {
            fd,
            bufs,
            control,
            addr: addr.map(Box::new),
            iovecs,
            msg,
        }
    }
}

// SAFETY: the raw pointers in `msg` and `iovecs` point into memory `self`
// owns (`bufs`, `control`, `addr`, `iovecs`), all `Send`; they travel with it.
unsafe impl<B: Send> Send for SendMsg<B> {}

// SAFETY: as for `SendMsg`.
unsafe impl<B: Send> Send for RecvMsg<B> {}

// SAFETY: the SQE points at `msg`, a box `self` owns, which points at the
// heap memory of `iovecs`, `control` and the boxed `addr`, all owned by
// `self`, unchanged after `entry`, and staying put when `self` moves; the
// iovecs point at the buffers' stable memory. `fd` keeps the socket open.
unsafe impl<B: IoBuf> Operation for SendMsg<B> {
    type Output = (io::Result<usize>, Vec<B>, Vec<u8>);

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        self.prepare();
        let e = opcode::SendMsg::new(target.raw(), &*self.msg).flags(NOSIGNAL as u32);
        target.apply(e.build())
    }

    fn plan(&self) -> Plan {
        Plan::Nonblocking(Interest::WRITABLE)
    }

    fn syscall(&mut self) -> Option<Completion> {
        self.prepare();
        let (fd, msg) = (self.fd.raw(), &*self.msg as *const libc::msghdr);
        // SAFETY: `msg` and everything it points to are owned by `self`.
        syscall_retry(|| unsafe { libc::sendmsg(fd, msg, NOSIGNAL) })
    }

    #[cfg(feature = "sim")]
    fn simulate(
        &mut self,
        socket: &crate::sim::Socket,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Completion> {
        crate::sim::ops::send_msg(socket, &self.bufs, &self.control, self.addr.as_deref(), cx)
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> (io::Result<usize>, Vec<B>, Vec<u8>) {
        (c.io_result().map(|n| n as usize), self.bufs, self.control)
    }
}

impl<B: IoBuf> SendMsg<B> {
    /// Points `msg` at the iovecs, control data and address, all in `self`.
    fn prepare(&mut self) {
        self.msg.msg_iov = self.iovecs.as_mut_ptr();
        self.msg.msg_iovlen = self.iovecs.len() as _;
        if !self.control.is_empty() {
            self.msg.msg_control = self.control.as_mut_ptr().cast();
            self.msg.msg_controllen = self.control.len() as _;
        }
        if let Some(addr) = &self.addr {
            self.msg.msg_name = addr.as_ptr() as *mut _;
            self.msg.msg_namelen = addr.addr_len();
        }
    }
}

pub(crate) struct RecvMsg<B> {
    fd: OpLease,
    bufs: Vec<B>,
    control: Vec<u8>,
    /// Boxed, like `msg`: the kernel writes into both, and the operation may move.
    addr: Box<MaybeUninit<SocketAddrStorage>>,
    iovecs: Vec<libc::iovec>,
    msg: Box<libc::msghdr>,
}

impl<B: IoBufMut> RecvMsg<B> {
    /// `control` is received into up to its capacity.
    pub(crate) fn new(fd: OpLease, mut bufs: Vec<B>, control: Vec<u8>) -> Self {
        let iovecs = bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.stable_mut_ptr().cast(),
                iov_len: b.bytes_total(),
            })
            .collect();
        // SAFETY: msghdr is plain old data; all-zero is a valid empty header.
        let msg = Box::new(unsafe { std::mem::zeroed() });
        RecvMsg {
            fd,
            bufs,
            control,
            addr: Box::new(MaybeUninit::uninit()),
            iovecs,
            msg,
        }
    }
}

// SAFETY: as for `SendMsg`; the kernel writes into the buffers, `control`'s
// spare capacity and the boxed `addr`, all heap memory owned by `self`.
unsafe impl<B: IoBufMut> Operation for RecvMsg<B> {
    type Output = (io::Result<RecvMeta>, Vec<B>, Vec<u8>);

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        self.prepare();
        target.apply(opcode::RecvMsg::new(target.raw(), &mut *self.msg).build())
    }

    fn plan(&self) -> Plan {
        Plan::Nonblocking(Interest::READABLE)
    }

    fn syscall(&mut self) -> Option<Completion> {
        self.prepare();
        let (fd, msg) = (self.fd.raw(), &mut *self.msg as *mut libc::msghdr);
        // SAFETY: `msg` and the memory it points to are owned by `self`.
        syscall_retry(|| unsafe { libc::recvmsg(fd, msg, 0) })
    }

    #[cfg(feature = "sim")]
    fn simulate(
        &mut self,
        socket: &crate::sim::Socket,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Completion> {
        crate::sim::ops::recv_msg(socket, &mut self.bufs, &mut self.addr, &mut self.msg, cx)
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn on_orphan_cqe(&mut self, c: &Completion) {
        let rescue = self.fd.rescue();
        if c.result < 0 {
            if let Some(errno) = c.lasting_errno() {
                rescue.push(Rescued::Error(errno));
            }
            return;
        }
        let mut left = c.result as usize;
        let mut data = Vec::with_capacity(left);
        for b in &self.bufs {
            let filled = left.min(b.bytes_total());
            // SAFETY: the kernel filled the iovecs in order, `filled` bytes of
            // this one, within its capacity.
            data.extend_from_slice(unsafe { crate::buf::written(b, filled) });
            left -= filled;
        }
        #[allow(clippy::unnecessary_cast)] // `size_t` on glibc, `socklen_t` on musl
        let control_len = (self.msg.msg_controllen as usize).min(self.control.capacity());
        // SAFETY: the kernel wrote `msg_controllen` bytes of control data into
        // the vector's capacity (clamped above).
        let control = unsafe { std::slice::from_raw_parts(self.control.as_ptr(), control_len) }.to_vec();
        rescue.push(Rescued::Datagram(Datagram {
            data,
            addr: read_addr(&self.addr, self.msg.msg_namelen),
            control,
            flags: self.msg.msg_flags,
        }));
    }

    fn complete(self, c: Completion) -> (io::Result<RecvMeta>, Vec<B>, Vec<u8>) {
        let mut this = self;
        let res = c.io_result().map(|n| {
            let mut left = n as usize;
            for b in this.bufs.iter_mut() {
                let filled = left.min(b.bytes_total());
                // SAFETY: the kernel filled the iovecs in order.
                unsafe { b.set_init(filled) };
                left -= filled;
            }
            // `msg_controllen` is `size_t` on glibc and `socklen_t` on musl.
            #[allow(clippy::unnecessary_cast)]
            let control_len = (this.msg.msg_controllen as usize).min(this.control.capacity());
            this.control.clear();
            // SAFETY: the kernel wrote `msg_controllen` bytes of control data
            // into the vector's capacity (clamped above).
            unsafe { this.control.set_len(control_len) };
            RecvMeta {
                bytes: n as usize,
                addr: read_addr(&this.addr, this.msg.msg_namelen),
                control_len,
                flags: this.msg.msg_flags,
            }
        });
        (res, this.bufs, this.control)
    }
}

impl<B: IoBufMut> RecvMsg<B> {
    /// Points `msg` at the iovecs, the control buffer's capacity and the
    /// address storage, all in `self`.
    fn prepare(&mut self) {
        self.msg.msg_iov = self.iovecs.as_mut_ptr();
        self.msg.msg_iovlen = self.iovecs.len() as _;
        if self.control.capacity() > 0 {
            self.msg.msg_control = self.control.as_mut_ptr().cast();
            self.msg.msg_controllen = self.control.capacity() as _;
        }
        self.msg.msg_name = self.addr.as_mut_ptr().cast();
        self.msg.msg_namelen = size_of::<SocketAddrStorage>() as _;
    }
}

/// Closes the descriptors an `SCM_RIGHTS` message in `control` carries: they
/// were installed in this process when the datagram was received, and nobody
/// will ever take them.
pub(crate) fn close_passed_fds(control: &[u8]) {
    // SAFETY: msghdr is plain old data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_control = control.as_ptr() as *mut _;
    msg.msg_controllen = control.len() as _;
    // SAFETY: `msg` describes `control`, which outlives the walk; the CMSG
    // macros only read the headers inside `msg_controllen` bytes.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: CMSG_FIRSTHDR/NXTHDR return headers wholly inside `control`.
        let (level, kind, len) = unsafe { ((*cmsg).cmsg_level, (*cmsg).cmsg_type, (*cmsg).cmsg_len as usize) };
        if level == libc::SOL_SOCKET && kind == libc::SCM_RIGHTS {
            // SAFETY: as above; the data follows the header within `cmsg_len`.
            let data = unsafe { libc::CMSG_DATA(cmsg) };
            // The data runs to the header's `cmsg_len`, clamped to the buffer
            // (a truncated message, MSG_CTRUNC, may claim more).
            let end = (cmsg as usize)
                .saturating_add(len)
                .min(control.as_ptr() as usize + control.len());
            let count = end.saturating_sub(data as usize) / size_of::<libc::c_int>();
            for i in 0..count {
                // SAFETY: `i < count` descriptors lie in the data; it may be unaligned.
                let fd = unsafe { data.cast::<libc::c_int>().add(i).read_unaligned() };
                // SAFETY: the kernel installed `fd` for this message; nothing else owns it.
                drop(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
            }
        }
        // SAFETY: `cmsg` is a valid header inside `msg`'s control buffer.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
}
