//! `IORING_OP_NOP`: a round trip through the ring and nothing else.

use super::{Completion, Operation, Plan};
#[cfg(uring)]
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct Nop;

// SAFETY: the SQE carries no pointers and no descriptor.
unsafe impl Operation for Nop {
    type Output = io::Result<()>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        opcode::Nop::new().build()
    }

    fn plan(&self) -> Plan {
        Plan::Immediate
    }

    fn syscall(&mut self) -> Option<Completion> {
        Some(Completion { result: 0, flags: 0 })
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.io_result().map(drop)
    }
}
