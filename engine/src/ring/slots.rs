//! `Slots`: the arena of [`Slot`]s one ring's operations use, recycled, so
//! that an operation costs no allocation in steady state.
//!
//! Slots live in chunks that double in size (64, 128, 256, ... slots) and are
//! never moved or freed before the arena is dropped, so a `&Slot` handed to a
//! future stays valid while the future keeps the driver alive, on any thread.
//! Free slots are kept on the owner thread's own list (no atomic operation at
//! all) and on a lock-free stack (a Treiber stack with an ABA tag) that any
//! thread may push to and pop from: foreign threads allocate and release
//! there, and the owner refills its list from it. Growing takes a mutex; it
//! happens only when every slot is in use.

use super::lifecycle::{Slot, Ticket};
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Mutex;

/// Slots in the first chunk; chunk `k` holds `FIRST << k`.
const FIRST: u32 = 64;
/// Chunks: `FIRST * (2^CHUNKS - 1)` slots at most, about 2^31.
const CHUNKS: usize = 25;
/// "No slot" in the free stack's links and head.
const NIL: u32 = u32::MAX;

/// The arena; see the module docs.
pub(crate) struct Slots {
    chunks: [AtomicPtr<Slot>; CHUNKS],
    /// The free stack's head: `(tag << 32) | index`, the tag bumped on every
    /// change so that a stale head never compares equal (ABA).
    free: AtomicU64,
    /// Serializes growth.
    grow: Mutex<usize>,
}

/// Where slot `index` lives: its chunk and its offset in it.
fn locate(index: u32) -> (usize, usize) {
    let biased = u64::from(index) + u64::from(FIRST);
    let chunk = (63 - biased.leading_zeros()) as usize - FIRST.trailing_zeros() as usize;
    (chunk, (biased - (u64::from(FIRST) << chunk)) as usize)
}

fn chunk_len(chunk: usize) -> usize {
    (FIRST as usize) << chunk
}

impl Slots {
    pub(crate) fn new() -> Slots {
        Slots {
            chunks: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
            free: AtomicU64::new(u64::from(NIL)),
            grow: Mutex::new(0),
        }
    }

    /// The slot at `index`, which must have been handed out by this arena.
    pub(crate) fn get(&self, index: u32) -> &Slot {
        let (chunk, offset) = locate(index);
        // Acquire: pairs with the Release that published the chunk, so its
        // slots are initialized when seen.
        let base = self.chunks[chunk].load(Ordering::Acquire);
        assert!(
            !base.is_null() && offset < chunk_len(chunk),
            "slot {index} was never allocated"
        );
        // SAFETY: `base` points at `chunk_len(chunk)` initialized slots (a
        // leaked boxed slice, published above), freed only when `self` is
        // dropped, which the `&self` borrow rules out; `offset` is in bounds.
        unsafe { &*base.add(offset) }
    }

    /// Slots in use now (a statistic; walks the arena).
    pub(crate) fn live(&self) -> usize {
        let mut live = 0;
        for chunk in 0..CHUNKS {
            // Acquire: as in `get`.
            let base = self.chunks[chunk].load(Ordering::Acquire);
            if base.is_null() {
                break;
            }
            let first = (FIRST as usize * ((1 << chunk) - 1)) as u32;
            live += (first..first + chunk_len(chunk) as u32)
                .filter(|&i| self.get(i).in_use())
                .count();
        }
        live
    }

    /// Takes a free slot from the shared stack (any thread), growing the
    /// arena if there is none.
    pub(crate) fn alloc(&self) -> Ticket {
        loop {
            if let Some(index) = self.pop() {
                return self.get(index).start(index);
            }
            self.add_chunk();
        }
    }

    /// Puts slot `index` (reset by its last user) back on the shared stack.
    pub(crate) fn free(&self, index: u32) {
        let slot = self.get(index);
        // Relaxed loads: the CAS validates the head; Release on success
        // publishes the slot's reset state and link to the next popper.
        let mut head = self.free.load(Ordering::Relaxed);
        loop {
            slot.next_free.store(head as u32, Ordering::Relaxed);
            let new = ((head >> 32).wrapping_add(1) << 32) | u64::from(index);
            match self
                .free
                .compare_exchange_weak(head, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }

    /// Pops a free slot off the shared stack.
    pub(crate) fn pop(&self) -> Option<u32> {
        // Acquire: pairs with the Release of the `free` that pushed the head,
        // so its link and reset state are visible.
        let mut head = self.free.load(Ordering::Acquire);
        loop {
            let index = head as u32;
            if index == NIL {
                return None;
            }
            // A stale read is possible (the slot may have been popped and
            // pushed again meanwhile): the tag in the CAS catches it.
            let next = self.get(index).next_free.load(Ordering::Relaxed);
            let new = ((head >> 32).wrapping_add(1) << 32) | u64::from(next);
            match self
                .free
                .compare_exchange_weak(head, new, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => return Some(index),
                Err(now) => head = now,
            }
        }
    }

    /// Adds the next chunk and pushes its slots on the free stack (unless
    /// another thread grew the arena meanwhile).
    fn add_chunk(&self) {
        let mut grown = self.grow.lock().unwrap_or_else(|p| p.into_inner());
        // Relaxed: a hint; if someone pushed slots meanwhile we take those.
        if self.free.load(Ordering::Relaxed) as u32 != NIL {
            return;
        }
        let chunk = *grown;
        assert!(chunk < CHUNKS, "more than 2^31 operations in flight on one ring");
        let slots: Box<[Slot]> = (0..chunk_len(chunk)).map(|_| Slot::default()).collect();
        let base = Box::into_raw(slots).cast::<Slot>();
        // Release: the initialized slots are visible to whoever loads the
        // pointer (`get`).
        self.chunks[chunk].store(base, Ordering::Release);
        *grown += 1;
        let first = (FIRST as usize * ((1 << chunk) - 1)) as u32;
        for index in (first..first + chunk_len(chunk) as u32).rev() {
            self.free(index);
        }
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        for (chunk, ptr) in self.chunks.iter_mut().enumerate() {
            let base = *ptr.get_mut();
            if !base.is_null() {
                // SAFETY: `base` came from `Box::into_raw` of a boxed slice of
                // `chunk_len(chunk)` slots in `add_chunk`, and is freed once,
                // here; `&mut self` means no slot reference is left.
                drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(base, chunk_len(chunk))) });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_map_onto_doubling_chunks() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(63), (0, 63));
        assert_eq!(locate(64), (1, 0));
        assert_eq!(locate(191), (1, 127));
        assert_eq!(locate(192), (2, 0));
    }

    #[test]
    fn slots_are_recycled_and_the_arena_grows() {
        let slots = Slots::new();
        let tickets: Vec<Ticket> = (0..300).map(|_| slots.alloc()).collect();
        let mut indices: Vec<u32> = tickets.iter().map(|t| t.index).collect();
        indices.sort_unstable();
        indices.dedup();
        assert_eq!(indices.len(), 300, "every live slot is distinct");
        for t in &tickets {
            slots.get(t.index).reset();
            slots.free(t.index);
        }
        let again = slots.alloc();
        assert!(again.index < 300, "a freed slot is reused before the arena grows");
        assert_ne!(
            again.generation,
            tickets.iter().find(|t| t.index == again.index).unwrap().generation
        );
    }

    #[test]
    fn threads_share_the_free_stack() {
        let slots = std::sync::Arc::new(Slots::new());
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let slots = slots.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        let t = slots.alloc();
                        slots.get(t.index).reset();
                        slots.free(t.index);
                    }
                })
            })
            .collect();
        workers.into_iter().for_each(|w| w.join().unwrap());
        let mut live = std::collections::HashSet::new();
        while let Some(i) = slots.pop() {
            assert!(live.insert(i), "slot {i} on the free stack twice");
        }
    }
}
