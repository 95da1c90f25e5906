//! A reactor's buffer group for completion reads, and the streams that
//! read from it; what keeps one slow reader from starving the others.
//!
//! The engine stops a stream's multishot receive once `max_unread` buffers
//! wait unread, but only when it reaps the completion that crossed the cap:
//! a stream with a large backlog can fill many more buffers before the stop
//! lands, up to the whole group. So after each turn the driving task checks
//! the group, and when fewer than a quarter of its buffers are home it
//! disarms the receive of every stream nobody is reading (no task waits on
//! its read side). Disarming is the engine's cancel rule: what the receive
//! held goes to the descriptor's rescue queue (heap memory, about what the
//! kernel's receive buffer would have held), every buffer goes back to the
//! group, and the stream's next read takes the rescued bytes first, in
//! order, before arming again.

use super::completion::CompletionReads;
use ringio::buf::BufRing;
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// One reactor's completion-read group (see the module docs).
#[derive(Debug)]
pub(crate) struct ReadGroup {
    pub(crate) group: BufRing,
    pub(crate) max_unread: usize,
    streams: Mutex<Streams>,
}

#[derive(Debug, Default)]
struct Streams {
    list: Vec<Weak<CompletionReads>>,
    /// The list's length after its last clean-up of dropped streams.
    kept: usize,
}

impl ReadGroup {
    pub(crate) fn new(group: BufRing, max_unread: usize) -> ReadGroup {
        ReadGroup {
            group,
            max_unread,
            streams: Mutex::new(Streams::default()),
        }
    }

    /// The read side of a new stream of this group, listed for `relieve`.
    pub(crate) fn stream(self: &Arc<Self>) -> Arc<CompletionReads> {
        let reads = Arc::new(CompletionReads::new(self.group.clone(), self.max_unread));
        let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        // Dropped streams leave once the list doubled: amortized O(1).
        if streams.list.len() >= (2 * streams.kept).max(64) {
            streams.list.retain(|s| s.strong_count() > 0);
            streams.kept = streams.list.len();
        }
        streams.list.push(Arc::downgrade(&reads));
        reads
    }

    /// Under pressure (under a quarter of the buffers home), disarms the
    /// receives of the streams nobody is reading. Cheap otherwise.
    pub(crate) fn relieve(&self) {
        if self.group.available() >= self.group.count() / 4 {
            return;
        }
        let idle: Vec<Arc<CompletionReads>> = {
            let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
            streams.list.retain(|s| s.strong_count() > 0);
            streams.kept = streams.list.len();
            streams.list.iter().filter_map(Weak::upgrade).collect()
        };
        let mut disarmed = 0;
        for reads in idle {
            disarmed += usize::from(reads.disarm_if_idle());
        }
        if disarmed > 0 {
            tracing::debug!(
                disarmed,
                available = self.group.available(),
                "read buffers short: receives of idle streams disarmed"
            );
        }
    }
}
