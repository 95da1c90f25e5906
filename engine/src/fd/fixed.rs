//! The fixed-file slot allocator: which slots of a ring's sparse file table are
//! free. Pure bookkeeping; the driver does the `register_files_update` calls.

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
