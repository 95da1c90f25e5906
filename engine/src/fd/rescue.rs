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
//!
//! A `recv_multi` stream whose receive ended while it still held buffers
//! unread (the group ran dry, the reader fell behind) hands those buffers
//! over here whole, before its lock goes: the stream takes them back
//! without a copy when it arms again, any other read copies from them, and
//! a stream dropped meanwhile turns them into bytes so that the group gets
//! its buffers back ([`Rescue::detach_buffers`]).

use crate::buf::BufRingBuf;

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
    /// A buffer group's buffer of a stream's bytes, received by a
    /// `recv_multi` whose receive ended before its stream took it; the first
    /// `pos` bytes were handed out already.
    Buffer { buf: BufRingBuf, pos: usize },
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

    /// Keeps buffers a `recv_multi` received and did not hand out, in order
    /// (see the module docs). Takes the queue's lock only: safe with the
    /// driver's state borrowed (nothing is dropped or woken).
    pub(crate) fn push_buffers(&self, bufs: impl IntoIterator<Item = BufRingBuf>) {
        let mut items = self.items.lock();
        let before = items.len();
        items.extend(bufs.into_iter().map(|buf| Rescued::Buffer { buf, pos: 0 }));
        if items.len() > before {
            // Release (and the mutex): as in `push`.
            self.any.store(true, Ordering::Release);
        }
    }

    /// The oldest rescued item, if it is a whole buffer (none of its bytes
    /// handed out): the stream that received it takes it back as it is.
    pub(crate) fn take_buffer(&self) -> Option<BufRingBuf> {
        self.take_if(
            |item| matches!(item, Rescued::Buffer { pos: 0, .. }),
            |item| match item {
                Rescued::Buffer { buf, .. } => Some(buf),
                _ => None,
            },
        )
    }

    /// Turns every rescued buffer into bytes of its own, in place, and hands
    /// the buffers back to the caller (to drop outside the driver's state:
    /// the group gets them back). For a `recv_multi` stream that is
    /// dropped, whose buffers nobody would take back whole.
    pub(crate) fn detach_buffers(&self) -> Vec<BufRingBuf> {
        if self.is_empty() {
            return Vec::new();
        }
        let mut spent = Vec::new();
        for item in self.items.lock().iter_mut() {
            if let Rescued::Buffer { buf, pos } = item {
                let data = buf[*pos..].to_vec();
                let Rescued::Buffer { buf, .. } = std::mem::replace(item, Rescued::Bytes { data, pos: 0 }) else {
                    unreachable!("matched as a buffer just above")
                };
                spent.push(buf);
            }
        }
        spent
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
        // Group buffers read to their end go back to their group once the
        // lock is let go (giving one back may wake a task); bytes of our own
        // are dropped in place.
        let mut spent = Vec::new();
        let mut done = 0;
        while done < room {
            let (src, pos) = match items.front_mut() {
                Some(Rescued::Bytes { data, pos }) => (&data[..], pos),
                Some(Rescued::Buffer { buf, pos }) => (&buf[..], pos),
                Some(Rescued::Error(errno)) if done == 0 => {
                    let errno = *errno;
                    items.pop_front();
                    self.settle(&items);
                    return Some(Err(io::Error::from_raw_os_error(errno)));
                }
                _ => break,
            };
            let n = copy(done, &src[*pos..]);
            done += n;
            *pos += n;
            if *pos == src.len() {
                if let Some(Rescued::Buffer { buf, .. }) = items.pop_front() {
                    spent.push(buf);
                }
            } else if n == 0 {
                break; // `copy` took nothing: the destination is full
            }
        }
        self.settle(&items);
        drop(items);
        drop(spent);
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
    fn buffers_are_taken_back_whole_read_in_place_or_detached_into_bytes() {
        let r = Rescue::default();
        let own = |b: &[u8]| BufRingBuf::own(b.to_vec());
        r.push_buffers([own(b"abc"), own(b"def"), own(b"gh")]);
        assert_eq!(&r.take_buffer().expect("a whole buffer")[..], b"abc");
        // A plain read copies from a buffer in place; once it is partly
        // read it is no longer taken back whole.
        let mut out = Vec::with_capacity(2);
        assert_eq!(r.take_bytes(2, copy_into(&mut out)).unwrap().unwrap(), 2);
        assert_eq!(out, b"de");
        assert!(r.take_buffer().is_none(), "a partly read buffer");
        // Detached: the buffers come back, their unread bytes stay, in order.
        assert_eq!(r.detach_buffers().len(), 2);
        assert!(r.take_buffer().is_none(), "no buffers left");
        let mut out = Vec::with_capacity(16);
        assert_eq!(r.take_bytes(16, copy_into(&mut out)).unwrap().unwrap(), 3);
        assert_eq!(out, b"fgh");
        assert!(!r.has_any());
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
