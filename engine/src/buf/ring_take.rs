//! Which buffers of a group a reaped receive CQE hands over, and the pieces
//! of incrementally consumed buffers.
//!
//! What the kernel committed (took out of the ring) for a CQE that names
//! buffer `bid` (`IORING_CQE_F_BUFFER`), read from `io_kbuf_commit` and
//! `io_bundle_nbufs` (Linux 6.18):
//!
//! | result | plain ring | bundle | incremental ring |
//! |---|---|---|---|
//! | `n > 0` | `bid` | `ceil(n / buf_len)` buffers from consecutive entries, the first `bid` | `n` bytes of `bid` at its fill mark; the buffer is the kernel's no more without `IORING_CQE_F_BUF_MORE` |
//! | `0` (end of stream) | `bid` | none (zero segments) | none (zero bytes) |
//! | `< 0` | none from 6.12 on (a negative length commits nothing); `bid` before | none | none |
//!
//! A buffer the kernel did not commit is still in the ring; giving it back
//! would put its id there twice, and two receives could then write into one
//! buffer. So only committed buffers become [`BufRingBuf`]s. The plain
//! ring's failure cell rests on the 6.12 rework of `io_kbuf_commit`, and
//! the probe for incremental rings says which side of it a kernel is on;
//! the other cells without bytes are taken to commit nothing, which, were
//! it wrong for some kernel, would leak a buffer rather than share one.
//!
//! The kernel consumes ring entries in order and, under its ring lock,
//! commits a receive's buffers and posts its CQE in one step, so CQEs are
//! reaped in the order their buffers left the ring. That is what makes the
//! producer's record of which id it wrote at which entry (`Producer`) still
//! right for a bundle's entries when its CQE is reaped: an entry is written
//! again only once the tail comes round to it, and the buffers the kernel
//! took from the bundle's first entry on are all still out (their CQEs are
//! this one and later ones), so the tail is at most `count` past that entry.

use super::ring::Pool;
use super::ring_buf::BufRingBuf;
use crate::op::Completion;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// In a buffer's piece state: the kernel has finished with the buffer (a
/// CQE without `IORING_CQE_F_BUF_MORE` named it). The low bits count its
/// pieces out.
const KERNEL_DONE: u32 = 1 << 31;

/// Per buffer of an incremental group: how many pieces of it are out, and
/// whether the kernel still fills it; and how many bytes the kernel filled.
///
/// Who may write a buffer's bytes: each piece owns its own range, which the
/// kernel wrote before the CQE that named it and never writes again (it
/// only moves forward, from the fill mark); the rest, from the fill mark
/// on, is the kernel's until its final CQE. The buffer goes back to the
/// ring, for the kernel to write from its start again, only when the kernel
/// has finished with it and no piece is left.
pub(crate) struct Pieces {
    state: Box<[AtomicU32]>,
    /// Bytes of the buffer the kernel filled since it was last given back.
    /// Written on the ring's owner thread as CQEs are reaped, and reset by
    /// whoever gives the buffer back (nobody else touches it then).
    filled: Box<[AtomicU32]>,
}

impl Pieces {
    pub(super) fn new(count: usize) -> Pieces {
        let zeroed = || (0..count).map(|_| AtomicU32::new(0)).collect();
        Pieces {
            state: zeroed(),
            filled: zeroed(),
        }
    }
}

impl Pool {
    /// Appends to `out`, in order, the buffers that the reaped CQE `c`
    /// hands over (see the module docs), and counts them out of the group.
    /// Returns how many it appended.
    ///
    /// # Safety
    ///
    /// `c` is a CQE of a receive that selected from this group's ring, on
    /// the ring's owner thread, passed here once, in the order CQEs are
    /// reaped; and the receive was a bundle exactly if the group says
    /// `bundles`.
    pub(crate) unsafe fn take_received(self: &Arc<Self>, c: &Completion, out: &mut VecDeque<BufRingBuf>) -> usize {
        let Some(bid) = io_uring::cqueue::buffer_select(c.flags) else {
            return 0;
        };
        let buf_len = self.buf_len();
        match c.result {
            n if n < 0 && (self.keeps_failed || self.bundles || self.pieces.is_some()) => 0,
            0 if self.bundles || self.pieces.is_some() => 0,
            n if self.pieces.is_some() => {
                let more = io_uring::cqueue::buffer_more(c.flags);
                // SAFETY: the caller's contract.
                out.push_back(unsafe { self.take_piece(bid, n as u32, more) });
                1
            }
            n if self.bundles && n as usize > buf_len => {
                let mut left = n as usize;
                let producer = self.producer().expect("bundles only on a ring");
                let first = producer.entry_of[bid as usize] as usize;
                debug_assert_eq!(producer.bid_at[first], bid, "a bundle's first entry holds its buffer");
                let mask = self.count() - 1;
                let mut taken = 0;
                while left > 0 {
                    let this = producer.bid_at[(first + taken) & mask];
                    let len = left.min(buf_len);
                    // SAFETY: the kernel committed the bundle's buffers, the
                    // ones at its consecutive entries (which still name them:
                    // module docs), and wrote `n` bytes across them, in order;
                    // each is taken once, here.
                    out.push_back(unsafe { BufRingBuf::from_group(self.clone(), this, len) });
                    left -= len;
                    taken += 1;
                }
                drop(producer);
                self.picked(taken);
                taken
            }
            n => {
                self.picked(1);
                // SAFETY: the kernel committed buffer `bid` for this CQE
                // and wrote `n` bytes (none for an end of stream) into it.
                out.push_back(unsafe { BufRingBuf::from_group(self.clone(), bid, n.max(0) as usize) });
                1
            }
        }
    }

    /// The piece of incremental buffer `bid` that a CQE filled with `n`
    /// bytes; `more`: the kernel goes on filling the buffer.
    ///
    /// # Safety
    ///
    /// As [`Pool::take_received`], for a CQE with a positive result.
    unsafe fn take_piece(self: &Arc<Self>, bid: u16, n: u32, more: bool) -> BufRingBuf {
        let pieces = self.pieces.as_ref().expect("an incremental group");
        // Relaxed: only the owner thread moves the mark while the kernel
        // fills the buffer; the reset before the buffer went back reached
        // us through the ring (Release tail, the kernel, the CQE).
        let offset = pieces.filled[bid as usize].fetch_add(n, Ordering::Relaxed);
        let add = if more { 1 } else { 1 | KERNEL_DONE };
        // AcqRel: pairs with `release_piece`, so the last one to let go of
        // the buffer sees the other's writes.
        let before = pieces.state[bid as usize].fetch_add(add, Ordering::AcqRel);
        if before == 0 {
            // No piece out and the kernel filling it: counted home until now.
            self.picked(1);
        }
        debug_assert!(offset as usize + n as usize <= self.buf_len());
        // SAFETY: the kernel wrote these `n` bytes at the buffer's fill mark
        // before this CQE and moves on past them; the piece owns them alone
        // (see `Pieces`).
        unsafe { BufRingBuf::piece(self.clone(), bid, offset as usize, n as usize) }
    }

    /// A piece of incremental buffer `bid` was dropped: the buffer goes back
    /// to the ring if it was the last and the kernel is done with it, or
    /// counts as home again if the kernel still fills it.
    ///
    /// # Safety
    ///
    /// The caller held a piece of buffer `bid` and gives up all access to it.
    pub(super) unsafe fn release_piece(&self, bid: u16) {
        let pieces = self.pieces.as_ref().expect("an incremental group");
        let state = &pieces.state[bid as usize];
        // AcqRel: see `take_piece`.
        match state.fetch_sub(1, Ordering::AcqRel) {
            1 => self.counted_home(),
            before if before == KERNEL_DONE | 1 => {
                // Ours alone now: the kernel is done and no piece is left.
                // Relaxed: the ring's Release tail publishes the resets.
                state.store(0, Ordering::Relaxed);
                pieces.filled[bid as usize].store(0, Ordering::Relaxed);
                // SAFETY: nobody holds any of the buffer (above).
                unsafe { self.give_back(bid) };
            }
            _ => {}
        }
    }
}
