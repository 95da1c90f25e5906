//! Fixed files: which slots of a ring's sparse file table are free
//! ([`FixedTable`]), and where a descriptor's registration stands
//! ([`FixedSlot`]).
//!
//! Registering and unregistering cost no syscall of their own: the driver
//! does both with `IORING_OP_FILES_UPDATE` (Linux 5.6) in the next batch it
//! submits anyway. A descriptor's operations use its plain number until the
//! registration's completion says the slot holds it, and the slot goes back
//! to the table only when the completion of its unregistration is reaped,
//! so no SQE ever names a slot that holds another file, and the close
//! protocol (no number closed while an SQE names it) is unchanged.

use std::sync::atomic::{AtomicU32, Ordering};

/// Where one descriptor's fixed-file registration stands.
#[derive(Debug)]
pub(crate) struct FixedSlot(AtomicU32);

/// No slot: the table was full, registration failed, or it was never asked.
const NONE: u32 = u32::MAX;
/// A `FILES_UPDATE` is in flight; operations use the plain number meanwhile.
const PENDING: u32 = u32::MAX - 1;
/// Still pending, and the descriptor's last reference went meanwhile: the
/// registration's completion unregisters it again.
const RELEASE: u32 = u32::MAX - 2;

/// What [`FixedSlot::release`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Registered {
    /// No slot: close the number now.
    No,
    /// Registration in flight: its completion will release.
    Pending,
    /// In this slot: unregister it.
    Slot(u32),
}

impl FixedSlot {
    /// A descriptor without a slot (or that did not ask for one).
    pub(crate) fn none() -> FixedSlot {
        FixedSlot(AtomicU32::new(NONE))
    }

    /// A descriptor whose registration was just submitted.
    pub(crate) fn pending() -> FixedSlot {
        FixedSlot(AtomicU32::new(PENDING))
    }

    /// The slot to name in an SQE, once registration completed.
    pub(crate) fn get(&self) -> Option<u32> {
        // Acquire: pairs with the Release in `registered`: an SQE that names
        // the slot is built after the registration's completion was reaped.
        let v = self.0.load(Ordering::Acquire);
        (v < RELEASE).then_some(v)
    }

    /// The registration's completion: `Some(slot)` on success. Returns
    /// `true` if the descriptor was released meanwhile (the caller then
    /// unregisters `slot`, or just frees it on failure).
    pub(crate) fn registered(&self, slot: Option<u32>) -> bool {
        let new = slot.unwrap_or(NONE);
        // Release: see `get`. AcqRel: the releaser's store is seen.
        self.0.swap(new, Ordering::AcqRel) == RELEASE
    }

    /// The descriptor's last reference went: what to unregister.
    pub(crate) fn release(&self) -> Registered {
        // AcqRel: against `registered`'s swap; exactly one of the two sees
        // the other's value.
        match self
            .0
            .compare_exchange(PENDING, RELEASE, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Registered::Pending,
            Err(NONE) => Registered::No,
            Err(slot) => {
                self.0.store(NONE, Ordering::Release);
                Registered::Slot(slot)
            }
        }
    }
}

/// Free-list allocator over `capacity` slots, lowest never-used slot first.
#[derive(Debug)]
pub(crate) struct FixedTable {
    capacity: u32,
    next_unused: u32,
    free: Vec<u32>,
}

impl FixedTable {
    pub(crate) fn new(capacity: u32) -> Self {
        FixedTable {
            capacity,
            next_unused: 0,
            free: Vec::new(),
        }
    }

    pub(crate) fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Slots handed out and not yet freed.
    pub(crate) fn in_use(&self) -> u32 {
        self.next_unused - self.free.len() as u32
    }

    /// A free slot, or `None` when the table is full.
    pub(crate) fn alloc(&mut self) -> Option<u32> {
        if let Some(slot) = self.free.pop() {
            return Some(slot);
        }
        if self.next_unused < self.capacity {
            self.next_unused += 1;
            return Some(self.next_unused - 1);
        }
        None
    }

    /// Returns `slot` to the table.
    pub(crate) fn free(&mut self, slot: u32) {
        debug_assert!(
            slot < self.next_unused && !self.free.contains(&slot),
            "double free of slot {slot}"
        );
        self.free.push(slot);
    }
}

#[cfg(test)]
mod tests {
    use super::FixedTable;

    #[test]
    fn allocates_every_slot_once_then_reports_full() {
        let mut t = FixedTable::new(3);
        let mut got: Vec<u32> = (0..3).map(|_| t.alloc().unwrap()).collect();
        got.sort();
        assert_eq!(got, [0, 1, 2]);
        assert_eq!(t.alloc(), None);
        assert_eq!(t.in_use(), 3);
    }

    #[test]
    fn freed_slots_are_reused() {
        let mut t = FixedTable::new(2);
        let a = t.alloc().unwrap();
        let _b = t.alloc().unwrap();
        t.free(a);
        assert_eq!(t.in_use(), 1);
        assert_eq!(t.alloc(), Some(a));
        assert_eq!(t.alloc(), None);
    }

    #[test]
    fn empty_table_is_always_full() {
        assert_eq!(FixedTable::new(0).alloc(), None);
    }
}
