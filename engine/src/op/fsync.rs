//! `FSYNC`, with or without `IORING_FSYNC_DATASYNC`.

use super::{Completion, Operation, Target};
use crate::fd::shared::FdHold;
use crate::ring::Driver;
use io_uring::{opcode, squeue, types::FsyncFlags};
use std::io;

pub(crate) struct Fsync {
    _fd: FdHold,
    target: Target,
    data_only: bool,
}

impl Fsync {
    pub(crate) fn new(fd: FdHold, data_only: bool, driver: &Driver) -> Self {
        Fsync {
            target: fd.target(driver),
            _fd: fd,
            data_only,
        }
    }
}

// SAFETY: no pointers; `_fd` keeps the descriptor open.
unsafe impl Operation for Fsync {
    type Output = io::Result<()>;

    fn entry(&mut self) -> squeue::Entry {
        let flags = if self.data_only {
            FsyncFlags::DATASYNC
        } else {
            FsyncFlags::empty()
        };
        self.target
            .apply(opcode::Fsync::new(self.target.raw()).flags(flags).build())
    }

    fn complete(self: Box<Self>, c: Completion) -> io::Result<()> {
        c.io_result().map(drop)
    }
}
