//! `Target`: the descriptor an SQE names, either a fixed-file slot of the
//! submitting ring or a plain descriptor number.

#[cfg(uring)]
use io_uring::{squeue, types};

/// The descriptor an SQE operates on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target {
    raw: i32,
    fixed: bool,
}

impl Target {
    /// A plain descriptor number.
    pub(crate) fn fd(raw: i32) -> Self {
        Target { raw, fixed: false }
    }

    /// A slot of the submitting ring's fixed-file table.
    #[cfg(uring)]
    pub(crate) fn fixed(slot: u32) -> Self {
        Target {
            raw: slot as i32,
            fixed: true,
        }
    }

    #[cfg(uring)]
    pub(crate) fn is_fixed(self) -> bool {
        self.fixed
    }

    #[cfg(uring)]
    /// The value for the opcode builder's `fd` argument; [`Target::apply`]
    /// then marks the entry as using a fixed file if needed.
    pub(crate) fn raw(self) -> types::Fd {
        types::Fd(self.raw)
    }

    #[cfg(uring)]
    /// Sets `IOSQE_FIXED_FILE` on `entry` when the target is a slot.
    pub(crate) fn apply(self, entry: squeue::Entry) -> squeue::Entry {
        if self.fixed {
            entry.flags(squeue::Flags::FIXED_FILE)
        } else {
            entry
        }
    }
}
