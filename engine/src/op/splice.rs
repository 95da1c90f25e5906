//! `IORING_OP_SPLICE` (Linux 5.7) between a descriptor the engine manages (a
//! file or a socket) and one end of a private pipe: the two halves of
//! file -> pipe -> socket, which sends file pages without copying them
//! through user memory. On readiness backends (and rings without the
//! opcode), `splice(2)`: on the blocking pool for the file side, and
//! non-blocking, retried on the socket's readiness, for the socket side.

use super::{syscall_retry, Completion, Operation, Plan};
use crate::fd::descriptor::OpLease;
use crate::fd::Interest;
#[cfg(uring)]
use io_uring::{opcode, squeue, types};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

/// The pipe a splice goes through. Operations hold an `Arc` of it, so its
/// descriptors stay open until the last CQE that names them is reaped, even
/// if the future that started the splice is dropped.
pub(crate) struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    capacity: usize,
}

impl Pipe {
    /// A non-blocking, close-on-exec pipe, grown to `want` bytes where the
    /// kernel allows (`/proc/sys/fs/pipe-max-size`, 1 MiB by default).
    pub(crate) fn new(want: usize) -> io::Result<Arc<Pipe>> {
        use rustix::pipe::{fcntl_getpipe_size, fcntl_setpipe_size, pipe_with, PipeFlags};
        let (read, write) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        if let Err(err) = fcntl_setpipe_size(&write, want) {
            tracing::debug!(%err, want, "could not grow the splice pipe; using its default size");
        }
        let capacity = fcntl_getpipe_size(&write)?;
        Ok(Arc::new(Pipe { read, write, capacity }))
    }

    /// How many bytes the pipe holds.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Which way the bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// From the held descriptor (a file, at an offset) into the pipe.
    IntoPipe,
    /// From the pipe into the held descriptor (a socket).
    OutOfPipe,
    /// From the held socket into the pipe (which must be empty: "would
    /// block" then means the socket has nothing).
    FromSocket,
}

pub(crate) struct Splice {
    /// The file (into the pipe) or the socket (out of it).
    fd: OpLease,
    pipe: Arc<Pipe>,
    direction: Direction,
    /// File offset for [`Direction::IntoPipe`]; unused (-1) otherwise.
    offset: i64,
    len: u32,
}

impl Splice {
    /// Moves up to `len` bytes at `offset` of the file `fd` into `pipe`.
    pub(crate) fn into_pipe(fd: OpLease, pipe: Arc<Pipe>, offset: u64, len: u32) -> Self {
        Splice {
            fd,
            pipe,
            direction: Direction::IntoPipe,
            offset: offset as i64,
            len,
        }
    }

    /// Moves up to `len` bytes from the socket `fd` into the (empty) `pipe`.
    pub(crate) fn from_socket(fd: OpLease, pipe: Arc<Pipe>, len: u32) -> Self {
        Splice {
            fd,
            pipe,
            direction: Direction::FromSocket,
            offset: -1,
            len,
        }
    }

    /// Moves up to `len` bytes out of `pipe` into the socket `fd`.
    pub(crate) fn out_of_pipe(fd: OpLease, pipe: Arc<Pipe>, len: u32) -> Self {
        Splice {
            fd,
            pipe,
            direction: Direction::OutOfPipe,
            offset: -1,
            len,
        }
    }

    #[cfg(uring)]
    pub(crate) const CODE: u8 = opcode::Splice::CODE;
}

/// `SPLICE_F_MOVE` is a hint; `SPLICE_F_NONBLOCK` keeps the pipe side from
/// blocking (the socket is non-blocking by itself), so a full socket buffer
/// is an `EAGAIN` to wait out, never a blocked io-wq worker.
const FLAGS: u32 = libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK;

// SAFETY: no memory pointers; `fd` keeps the file or socket open and the
// `Arc<Pipe>` in `self` (kept by the driver until the last CQE) keeps both
// pipe descriptors open.
unsafe impl Operation for Splice {
    type Output = io::Result<usize>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        match self.direction {
            Direction::IntoPipe => {
                let out = types::Fd(self.pipe.write.as_raw_fd());
                let e = if target.is_fixed() {
                    let slot = types::Fixed(target.raw().0 as u32);
                    opcode::Splice::new(slot, self.offset, out, -1, self.len)
                } else {
                    opcode::Splice::new(target.raw(), self.offset, out, -1, self.len)
                };
                e.flags(FLAGS).build()
            }
            Direction::OutOfPipe => {
                let input = types::Fd(self.pipe.read.as_raw_fd());
                let e = opcode::Splice::new(input, -1, target.raw(), -1, self.len).flags(FLAGS);
                target.apply(e.build())
            }
            Direction::FromSocket => {
                let out = types::Fd(self.pipe.write.as_raw_fd());
                let e = if target.is_fixed() {
                    let slot = types::Fixed(target.raw().0 as u32);
                    opcode::Splice::new(slot, -1, out, -1, self.len)
                } else {
                    opcode::Splice::new(target.raw(), -1, out, -1, self.len)
                };
                e.flags(FLAGS).build()
            }
        }
    }

    fn plan(&self) -> Plan {
        match self.direction {
            Direction::IntoPipe => Plan::Blocking,
            Direction::OutOfPipe => Plan::Nonblocking(Interest::WRITABLE),
            Direction::FromSocket => Plan::Nonblocking(Interest::READABLE),
        }
    }

    fn syscall(&mut self) -> Option<Completion> {
        let len = self.len as usize;
        match self.direction {
            Direction::IntoPipe => {
                let (file, pipe) = (self.fd.raw(), self.pipe.write.as_raw_fd());
                let mut offset = self.offset as libc::loff_t;
                let off: *mut libc::loff_t = &mut offset;
                // SAFETY: both descriptors are held open (`fd`, `pipe`); `off`
                // points at a local that outlives the call.
                let c = syscall_retry(|| unsafe { libc::splice(file, off, pipe, std::ptr::null_mut(), len, FLAGS) });
                // The pipe was empty, so "would block" cannot mean it is full:
                // report it as an error rather than a readiness wait.
                Some(c.unwrap_or(Completion {
                    result: -libc::EAGAIN,
                    flags: 0,
                }))
            }
            Direction::OutOfPipe => {
                let (pipe, socket) = (self.pipe.read.as_raw_fd(), self.fd.raw());
                let null = std::ptr::null_mut();
                // SAFETY: both descriptors are held open (`pipe`, `fd`); no offsets.
                syscall_retry(|| unsafe { libc::splice(pipe, null, socket, null, len, FLAGS) })
            }
            Direction::FromSocket => {
                let (socket, pipe) = (self.fd.raw(), self.pipe.write.as_raw_fd());
                let null = std::ptr::null_mut();
                // SAFETY: both descriptors are held open (`fd`, `pipe`); no offsets.
                syscall_retry(|| unsafe { libc::splice(socket, null, pipe, null, len, FLAGS) })
            }
        }
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> io::Result<usize> {
        c.io_result().map(|n| n as usize)
    }
}
