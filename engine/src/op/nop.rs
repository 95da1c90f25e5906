//! `IORING_OP_NOP`: a round trip through the ring and nothing else.

use super::{Completion, Operation};
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct Nop;

// SAFETY: the SQE carries no pointers and no descriptor.
unsafe impl Operation for Nop {
    type Output = io::Result<()>;

    fn entry(&mut self) -> squeue::Entry {
        opcode::Nop::new().build()
    }

    fn complete(self: Box<Self>, c: Completion) -> io::Result<()> {
        c.io_result().map(drop)
    }
}
