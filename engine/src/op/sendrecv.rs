//! `SEND` / `RECV` on a connected socket; on readiness backends, non-blocking
//! `send`/`recv` retried on readiness. A receive whose future was dropped
//! leaves what it got on the descriptor's rescue queue for the next one.
//! Sends never raise SIGPIPE: a peer that reset the connection yields
//! `EPIPE`/`ECONNRESET` (`MSG_NOSIGNAL`, or `SO_NOSIGPIPE` set at socket
//! creation on Apple platforms).

use super::{syscall_retry, Completion, Operation, Plan};
use crate::buf::{IoBuf, IoBufMut};
use crate::error::BufResult;
use crate::fd::descriptor::OpLease;
use crate::fd::rescue::{Datagram, Rescued};
use crate::fd::zero_copy::ZcPermit;
use crate::fd::Interest;
#[cfg(uring)]
use io_uring::{opcode, squeue};

/// Flags for every send.
#[cfg(not(target_vendor = "apple"))]
pub(crate) const NOSIGNAL: i32 = libc::MSG_NOSIGNAL;
/// Flags for every send (Apple: `SO_NOSIGPIPE` is set on the socket instead).
#[cfg(target_vendor = "apple")]
pub(crate) const NOSIGNAL: i32 = 0;

/// What a receive reads: a byte stream or one datagram. It decides what a
/// receive whose future was dropped leaves for the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Stream bytes; the receive fills the buffer from `at` and the bytes
    /// before `at` belong to the same read (`read_exact` keeps going).
    Stream { at: usize, waitall: bool },
    /// One datagram per receive (connected datagram sockets).
    Datagram,
}

pub(crate) struct Recv<B> {
    fd: OpLease,
    buf: B,
    flow: Flow,
}

impl<B: IoBufMut> Recv<B> {
    /// Receives stream bytes into `buf[at..]`; with `waitall` the kernel
    /// keeps receiving until the buffer is full, the peer closes or an error
    /// (`MSG_WAITALL`; a cancelled receive still reports what it got).
    pub(crate) fn stream(fd: OpLease, buf: B, at: usize, waitall: bool) -> Self {
        let at = at.min(buf.bytes_total());
        Recv {
            fd,
            buf,
            flow: Flow::Stream { at, waitall },
        }
    }

    /// Receives one datagram into `buf`.
    pub(crate) fn datagram(fd: OpLease, buf: B) -> Self {
        Recv {
            fd,
            buf,
            flow: Flow::Datagram,
        }
    }

    fn at(&self) -> usize {
        match self.flow {
            Flow::Stream { at, .. } => at,
            Flow::Datagram => 0,
        }
    }

    fn flags(&self) -> i32 {
        match self.flow {
            Flow::Stream { waitall: true, .. } => libc::MSG_WAITALL,
            _ => 0,
        }
    }
}

// SAFETY: the SQE and the syscall point at `buf`'s stable memory from `at`
// on, owned by `self`; `fd` keeps the socket open.
unsafe impl<B: IoBufMut> Operation for Recv<B> {
    type Output = BufResult<usize, B>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        let at = self.at();
        let len = (self.buf.bytes_total() - at).min(u32::MAX as usize) as u32;
        // SAFETY: `at <= bytes_total`, so the pointer stays inside the buffer.
        let ptr = unsafe { self.buf.stable_mut_ptr().add(at) };
        let e = opcode::Recv::new(target.raw(), ptr, len).flags(self.flags());
        target.apply(e.build())
    }

    fn plan(&self) -> Plan {
        Plan::Nonblocking(Interest::READABLE)
    }

    fn syscall(&mut self) -> Option<Completion> {
        let at = self.at();
        let (fd, len, flags) = (self.fd.raw(), self.buf.bytes_total() - at, self.flags());
        // SAFETY: `at <= bytes_total`, so the pointer stays inside the buffer.
        let ptr = unsafe { self.buf.stable_mut_ptr().add(at) };
        // SAFETY: `ptr` is valid for writes of `len` bytes, owned by `self`.
        // (A non-blocking socket returns what is there even with WAITALL.)
        syscall_retry(|| unsafe { libc::recv(fd, ptr.cast(), len, flags) })
    }

    #[cfg(feature = "sim")]
    fn simulate(
        &mut self,
        socket: &crate::sim::Socket,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Completion> {
        let at = self.at();
        crate::sim::ops::recv(socket, &mut self.buf, at, cx)
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    /// Yields the bytes received by this operation (not counting `at`).
    fn complete(self, c: Completion) -> BufResult<usize, B> {
        let at = self.at();
        let mut buf = self.buf;
        let res = c.io_result().map(|n| {
            // SAFETY: the kernel initialized `n` bytes from `at`, and the
            // caller had `..at` initialized.
            unsafe { buf.set_init(at + n as usize) };
            n as usize
        });
        (res, buf)
    }

    fn on_orphan_cqe(&mut self, c: &Completion) {
        let at = self.at();
        let got = c.result.max(0) as usize;
        // SAFETY: the kernel wrote `got` bytes from `at` (none on error) and
        // the read this belongs to had filled `..at`; all within the buffer.
        let bytes = unsafe { crate::buf::written(&self.buf, at + got) };
        let rescue = self.fd.rescue();
        match self.flow {
            Flow::Stream { .. } => {
                rescue.push_bytes(bytes);
                if let Some(errno) = c.lasting_errno() {
                    rescue.push(Rescued::Error(errno));
                }
            }
            Flow::Datagram if c.result >= 0 => rescue.push(Rescued::Datagram(Datagram {
                data: bytes.to_vec(),
                // A connected socket's datagrams come from its peer; a later
                // `recv_from` reports that sender.
                addr: rustix::net::getpeername(self.fd.borrow()).ok().flatten(),
                control: Vec::new(),
                flags: 0,
            })),
            Flow::Datagram => {}
        }
    }
}

pub(crate) struct Send<B> {
    fd: OpLease,
    buf: B,
    waitall: bool,
    /// `SEND_ZC` on a ring, holding the send's place in its stream's
    /// budget: the kernel sends from `buf`'s pages, and the operation ends
    /// (handing `buf` back, and the place) only with the notification that
    /// it let go of them.
    zero_copy: Option<ZcPermit>,
}

/// `IORING_SEND_ZC_REPORT_USAGE`: the notification says whether the kernel
/// copied after all (it always does on loopback).
#[cfg(uring)]
const ZC_REPORT_USAGE: u16 = 1 << 3;

impl<B: IoBuf> Send<B> {
    /// Sends `buf`'s initialized bytes; with `waitall` an io_uring `SEND`
    /// keeps sending until all are out (`MSG_WAITALL`, Linux 5.19: the
    /// kernel retries short sends itself). Readiness backends send what
    /// the socket takes and leave the loop to the caller.
    pub(crate) fn new(fd: OpLease, buf: B, waitall: bool) -> Self {
        Send {
            fd,
            buf,
            waitall,
            zero_copy: None,
        }
    }

    /// Sends with `IORING_OP_SEND_ZC` (Linux 6.0) on a ring, in the place
    /// `permit` holds in the stream's zero-copy budget.
    #[cfg(uring)]
    pub(crate) fn zero_copy(mut self, permit: ZcPermit) -> Self {
        self.zero_copy = Some(permit);
        self
    }
}

// SAFETY: the SQE and the syscall point at `buf`'s stable, initialized
// memory, owned by `self`; `fd` keeps the socket open.
unsafe impl<B: IoBuf> Operation for Send<B> {
    type Output = BufResult<usize, B>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        let len = self.buf.bytes_init().min(u32::MAX as usize) as u32;
        let flags = if self.waitall {
            NOSIGNAL | libc::MSG_WAITALL
        } else {
            NOSIGNAL
        };
        if self.zero_copy.is_some() {
            let e = opcode::SendZc::new(target.raw(), self.buf.stable_ptr(), len)
                .flags(flags)
                .zc_flags(ZC_REPORT_USAGE);
            return target.apply(e.build());
        }
        let e = opcode::Send::new(target.raw(), self.buf.stable_ptr(), len).flags(flags);
        target.apply(e.build())
    }

    fn plan(&self) -> Plan {
        Plan::Nonblocking(Interest::WRITABLE)
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (fd, ptr, len) = (self.fd.raw(), self.buf.stable_ptr(), self.buf.bytes_init());
        // SAFETY: `ptr` is valid for reads of `len` initialized bytes, owned by `self`.
        syscall_retry(|| unsafe { libc::send(fd, ptr.cast(), len, NOSIGNAL) })
    }

    #[cfg(feature = "sim")]
    fn simulate(
        &mut self,
        socket: &crate::sim::Socket,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Completion> {
        crate::sim::ops::send(socket, &self.buf, cx)
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> BufResult<usize, B> {
        (c.io_result().map(|n| n as usize), self.buf)
    }

    /// A zero-copy send's bytes are in the socket once its result is in:
    /// the write lock, which only orders them, can go before the
    /// notification. A plain reference keeps the descriptor open until then
    /// (and close waiting for it); if none can be taken (the descriptor is
    /// closing) the lock stays, as it would without this.
    fn release_lock(&mut self) -> Option<OpLease> {
        self.zero_copy.as_ref()?;
        let plain = self.fd.shared().incref().ok()?;
        Some(std::mem::replace(&mut self.fd, plain.into()))
    }
}
