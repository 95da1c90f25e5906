//! `STATX` on an open descriptor (`AT_EMPTY_PATH`).

use super::{Completion, Operation};
use crate::fd::shared::FdHold;
use io_uring::{opcode, squeue, types};
use std::io;
use std::mem::MaybeUninit;

pub(crate) struct Statx {
    fd: FdHold,
    buf: MaybeUninit<libc::statx>,
}

impl Statx {
    pub(crate) fn new(fd: FdHold) -> Self {
        Statx {
            fd,
            buf: MaybeUninit::uninit(),
        }
    }
}

/// The empty path `AT_EMPTY_PATH` needs, with a `'static` address.
const EMPTY_PATH: &std::ffi::CStr = c"";

// SAFETY: the SQE points at `buf` (inside `self`, which the driver keeps boxed)
// and at a `'static` C string. STATX takes no fixed files, so it names the
// plain number, which `fd` keeps open.
unsafe impl Operation for Statx {
    type Output = io::Result<libc::statx>;

    fn entry(&mut self) -> squeue::Entry {
        opcode::Statx::new(
            types::Fd(self.fd.raw()),
            EMPTY_PATH.as_ptr(),
            self.buf.as_mut_ptr().cast(),
        )
        .flags(libc::AT_EMPTY_PATH)
        .mask(libc::STATX_BASIC_STATS | libc::STATX_BTIME)
        .build()
    }

    fn complete(self: Box<Self>, c: Completion) -> io::Result<libc::statx> {
        c.io_result()?;
        // SAFETY: a successful STATX filled the whole struct.
        Ok(unsafe { self.buf.assume_init() })
    }
}
