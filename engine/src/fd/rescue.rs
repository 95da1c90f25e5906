//! `Rescue`: what the kernel delivered to read-side operations whose futures
//! were dropped, kept on the descriptor for the next read.
//!
//! On io_uring a receive, read or accept may complete after its future is
//! gone: the bytes are in the dropped operation's buffer, the connection is
//! already accepted. Throwing them away loses data, so the operation's
//! orphan handler moves them here instead, and every read-side operation on
//! the descriptor (stream reads, datagram receives, accepts, the `try_*`
//! calls) takes from here before it asks the kernel.
//!
//! Ordering comes from the fd mutex: read-side operations hold the
//! descriptor's read lock from before they are submitted until their last
//! completion is reaped, and an orphan handler runs before its operation's
//! lock is released. So whatever is rescued here is older than anything a
//! later read could receive, and handing it out first keeps a stream's bytes
//! in order.

use crate::sync::Mutex;
use rustix::net::SocketAddrAny;
use std::collections::VecDeque;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};

/// One thing a dropped read-side operation received.
pub(crate) enum Rescued {
    /// Bytes of a stream; the first `pos` were handed out already.
    Bytes { data: Vec<u8>, pos: usize },
    /// One whole datagram.
    Datagram(Datagram),
    /// A connection accepted for a future that is gone.
    Conn { fd: OwnedFd, peer: Option<SocketAddrAny> },
    /// An error a dropped stream read received (a reset, say): the kernel
    /// reports it once, so it is reported to the next read instead.
    Error(i32),
}

/// A datagram received for a dropped future.
pub(crate) struct Datagram {
    pub data: Vec<u8>,
    pub addr: Option<SocketAddrAny>,
    /// Ancillary data as the kernel wrote it (descriptors passed with
    /// `SCM_RIGHTS` stay open in it until delivered or dropped).
    pub control: Vec<u8>,
    /// `msg_flags` as received (`MSG_TRUNC`, `MSG_CTRUNC`, ...).
    pub flags: i32,
}

impl Drop for Datagram {
    fn drop(&mut self) {
        // Descriptors that arrived with the datagram belong to us now; one
        // that is never delivered must be closed, not leaked.
        if !self.control.is_empty() {
            crate::op::msg::close_passed_fds(&self.control);
        }
    }
}

/// The queue of rescued results of one descriptor.
#[derive(Default)]
pub(crate) struct Rescue {
    items: Mutex<VecDeque<Rescued>>,
    /// True while `items` may be non-empty, so the common case (nothing was
    /// ever rescued) costs one load and no lock.
    any: AtomicBool,
}

impl Rescue {
    /// Keeps `item` for the next read-side operation.
    pub(crate) fn push(&self, item: Rescued) {
        let mut items = self.items.lock();
        items.push_back(item);
        // Release (and the mutex): a reader that sees `true` sees the item.
        self.any.store(true, Ordering::Release);
    }

    /// Keeps bytes a dropped stream read received (nothing if empty).
    pub(crate) fn push_bytes(&self, data: &[u8]) {
        if !data.is_empty() {
            self.push(Rescued::Bytes {
                data: data.to_vec(),
                pos: 0,
            });
        }
    }

    fn is_empty(&self) -> bool {
        // Acquire: pairs with the Release in `push`.
        !self.any.load(Ordering::Acquire)
    }

    /// Whether anything is kept here.
    pub(crate) fn has_any(&self) -> bool {
        !self.is_empty()
    }

    /// Copies rescued stream bytes into `dst` (through `copy`, which writes
    /// a slice at an offset and returns how much it took), in order, up to
    /// `dst`'s room. `None` if nothing is rescued; a rescued error comes back
    /// alone, once, and only before any bytes.
    pub(crate) fn take_bytes(
        &self,
        room: usize,
        mut copy: impl FnMut(usize, &[u8]) -> usize,
    ) -> Option<io::Result<usize>> {
        if self.is_empty() {
            return None;
        }
        let mut items = self.items.lock();
        let mut done = 0;
        while done < room {
            match items.front_mut() {
                Some(Rescued::Bytes { data, pos }) => {
                    let n = copy(done, &data[*pos..]);
                    done += n;
                    *pos += n;
                    if *pos == data.len() {
                        items.pop_front();
                    }
                }
                Some(Rescued::Error(errno)) if done == 0 => {
                    let errno = *errno;
                    items.pop_front();
                    self.settle(&items);
                    return Some(Err(io::Error::from_raw_os_error(errno)));
                }
                _ => break,
            }
        }
        self.settle(&items);
        (done > 0).then_some(Ok(done))
    }

    /// The oldest rescued datagram (or error a dropped receive got), if any.
    pub(crate) fn take_datagram(&self) -> Option<Result<Datagram, io::Error>> {
        self.take_if(
            |item| matches!(item, Rescued::Datagram(_) | Rescued::Error(_)),
            |item| match item {
                Rescued::Datagram(d) => Some(Ok(d)),
                Rescued::Error(errno) => Some(Err(io::Error::from_raw_os_error(errno))),
                _ => None,
            },
        )
    }

    /// The oldest rescued connection, if any.
    pub(crate) fn take_conn(&self) -> Option<(OwnedFd, Option<SocketAddrAny>)> {
        self.take_if(
            |item| matches!(item, Rescued::Conn { .. }),
            |item| match item {
                Rescued::Conn { fd, peer } => Some((fd, peer)),
                _ => None,
            },
        )
    }

    /// Pops the front item if `wanted` says it is the right kind, and
    /// unpacks it with `unpack`.
    fn take_if<T>(&self, wanted: impl Fn(&Rescued) -> bool, unpack: impl FnOnce(Rescued) -> Option<T>) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let mut items = self.items.lock();
        if !items.front().is_some_and(wanted) {
            return None;
        }
        let taken = items.pop_front().and_then(unpack);
        self.settle(&items);
        taken
    }

    fn settle(&self, items: &VecDeque<Rescued>) {
        if items.is_empty() {
            // Relaxed: under the mutex, which orders it with the next `push`.
            self.any.store(false, Ordering::Relaxed);
        }
    }

    /// Drops everything rescued (the descriptor is being destroyed):
    /// rescued connections are closed with their listener.
    pub(crate) fn clear(&self) {
        let items = std::mem::take(&mut *self.items.lock());
        self.any.store(false, Ordering::Relaxed);
        drop(items);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy_into(dst: &mut Vec<u8>) -> impl FnMut(usize, &[u8]) -> usize + '_ {
        move |at, src| {
            let room = dst.capacity() - at;
            let n = src.len().min(room);
            dst.truncate(at);
            dst.extend_from_slice(&src[..n]);
            n
        }
    }

    #[test]
    fn bytes_come_back_in_order_across_chunks() {
        let r = Rescue::default();
        assert!(r.take_bytes(8, |_, _| 0).is_none());
        r.push_bytes(b"abc");
        r.push_bytes(b"defgh");
        let mut out = Vec::with_capacity(4);
        assert_eq!(r.take_bytes(4, copy_into(&mut out)).unwrap().unwrap(), 4);
        assert_eq!(out, b"abcd");
        let mut out = Vec::with_capacity(16);
        assert_eq!(r.take_bytes(16, copy_into(&mut out)).unwrap().unwrap(), 4);
        assert_eq!(out, b"efgh");
        assert!(r.take_bytes(16, |_, _| 0).is_none());
    }

    #[test]
    fn an_error_is_reported_once_and_after_the_bytes_before_it() {
        let r = Rescue::default();
        r.push_bytes(b"ab");
        r.push(Rescued::Error(libc::ECONNRESET));
        let mut out = Vec::with_capacity(8);
        assert_eq!(r.take_bytes(8, copy_into(&mut out)).unwrap().unwrap(), 2);
        let err = r.take_bytes(8, |_, _| 0).unwrap().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ECONNRESET));
        assert!(r.take_bytes(8, |_, _| 0).is_none());
    }

    #[test]
    fn connections_and_datagrams_are_taken_whole() {
        let r = Rescue::default();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        r.push(Rescued::Conn {
            fd: a.into(),
            peer: None,
        });
        assert!(r.take_datagram().is_none(), "a connection is not a datagram");
        assert!(r.take_conn().is_some());
        assert!(r.take_conn().is_none());
    }
}
