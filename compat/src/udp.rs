//! [`UdpFramed`]: datagrams through a tokio-util [`Decoder`]/[`Encoder`] on a
//! compat [`UdpSocket`] (feature `codec`), as a futures `Stream` + `Sink`.
//!
//! `tokio_util::udp::UdpFramed` works only on `tokio::net::UdpSocket` (it is
//! generic over `Borrow<tokio::net::UdpSocket>`, a concrete type), so it
//! cannot take a compat socket. This is the same type with the same rules
//! over [`UdpSocket::poll_recv_from`] and [`UdpSocket::poll_send_to`]: one
//! datagram is decoded at a time, each with its sender, and one encoded
//! datagram waits to be sent, which `poll_ready`, `poll_flush` and
//! `poll_close` send.
//!
//! Dropping a `next()` or `send()` future loses nothing that the framed
//! value took: a received datagram stays in it until every frame in it is
//! decoded, and a frame encoded by `start_send` goes out on the next
//! `poll_ready`/`poll_flush`. Only an item that `send()` never passed to
//! `start_send` goes with its future.

use crate::net::UdpSocket;
use bytes::BytesMut;
use futures_core::Stream;
use futures_sink::Sink;
use std::borrow::Borrow;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::ReadBuf;
use tokio_util::codec::{Decoder, Encoder};

/// The largest UDP payload (IPv4: 65 535 less the IP and UDP headers); a
/// receive buffer this size never truncates a datagram.
const MAX_DATAGRAM: usize = 65_507;
/// The encode buffer's first capacity (tokio-util's).
const INITIAL_WR_CAPACITY: usize = 8 * 1024;

/// A [`UdpSocket`] framed by a codec: a `Stream` of `(frame, sender)` and a
/// `Sink` of `(frame, destination)`, as `tokio_util::udp::UdpFramed`.
///
/// `T` is the socket or anything that borrows it (`Arc<UdpSocket>`, `&UdpSocket`),
/// so one socket can have a framed reader and a framed writer at once.
///
/// Each receive copies the datagram once, from a receive buffer that stays
/// initialized (so nothing is zeroed per datagram) into the codec's buffer.
///
/// # Examples
///
/// ```no_run
/// use futures_util::{SinkExt, StreamExt};
/// use ringio_compat::net::UdpSocket;
/// use ringio_compat::udp::UdpFramed;
/// use tokio_util::codec::LinesCodec;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let mut framed = UdpFramed::new(UdpSocket::bind("127.0.0.1:0").await?, LinesCodec::new());
/// framed.send(("ping".to_string(), "127.0.0.1:9000".parse()?)).await?;
/// if let Some(reply) = framed.next().await {
///     let (line, from) = reply?;
///     println!("{from}: {line}");
/// }
/// # Ok(()) }
/// ```
#[must_use = "sinks do nothing unless polled"]
#[derive(Debug)]
pub struct UdpFramed<C, T = UdpSocket> {
    socket: T,
    codec: C,
    /// Where a datagram lands; allocated and zeroed once, on the first receive.
    recv: Vec<u8>,
    /// The bytes of the datagram being decoded.
    rd: BytesMut,
    /// The sender of the datagram in `rd`, while it has bytes left to decode.
    current: Option<SocketAddr>,
    /// The encoded datagram waiting to be sent (when `!flushed`).
    wr: BytesMut,
    out_addr: SocketAddr,
    flushed: bool,
}

impl<C, T> Unpin for UdpFramed<C, T> {}

impl<C, T: Borrow<UdpSocket>> UdpFramed<C, T> {
    /// Frames `socket` with `codec`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use ringio_compat::udp::UdpFramed;
    /// use std::sync::Arc;
    /// use tokio_util::codec::BytesCodec;
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let socket = Arc::new(ringio_compat::net::UdpSocket::bind("127.0.0.1:0").await?);
    /// let reader = UdpFramed::new(Arc::clone(&socket), BytesCodec::new());
    /// let writer = UdpFramed::new(socket, BytesCodec::new());
    /// # drop((reader, writer)); Ok(()) }
    /// ```
    pub fn new(socket: T, codec: C) -> UdpFramed<C, T> {
        UdpFramed {
            socket,
            codec,
            recv: Vec::new(),
            rd: BytesMut::new(),
            current: None,
            wr: BytesMut::with_capacity(INITIAL_WR_CAPACITY),
            out_addr: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
            flushed: true,
        }
    }

    /// The socket.
    pub fn get_ref(&self) -> &T {
        &self.socket
    }

    /// The socket, mutably (reading or writing through it directly
    /// interleaves with the frames).
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.socket
    }

    /// The socket back; a frame not yet flushed and bytes not yet decoded
    /// are dropped.
    pub fn into_inner(self) -> T {
        self.socket
    }

    /// The codec.
    pub fn codec(&self) -> &C {
        &self.codec
    }

    /// The codec, mutably.
    pub fn codec_mut(&mut self) -> &mut C {
        &mut self.codec
    }

    /// The undecoded rest of the current datagram.
    pub fn read_buffer(&self) -> &BytesMut {
        &self.rd
    }

    /// The undecoded rest of the current datagram, mutably.
    pub fn read_buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.rd
    }
}

impl<C: Decoder, T: Borrow<UdpSocket>> Stream for UdpFramed<C, T> {
    type Item = Result<(C::Item, SocketAddr), C::Error>;

    /// The next frame and its sender. A datagram is decoded to the end
    /// (`decode_eof`, so a codec sees each datagram as a whole input) before
    /// the next is received. Never ends: a socket has no end of stream.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(from) = this.current {
                if let Some(frame) = this.codec.decode_eof(&mut this.rd)? {
                    return Poll::Ready(Some(Ok((frame, from))));
                }
                this.current = None;
                this.rd.clear();
            }
            if this.recv.is_empty() {
                this.recv = vec![0; MAX_DATAGRAM];
            }
            // Fully initialized, so `poll_recv_from` zeroes nothing.
            let mut buf = ReadBuf::new(&mut this.recv);
            let from = ready!(this.socket.borrow().poll_recv_from(cx, &mut buf))?;
            this.rd.extend_from_slice(buf.filled());
            this.current = Some(from);
        }
    }
}

impl<I, C: Encoder<I>, T: Borrow<UdpSocket>> Sink<(I, SocketAddr)> for UdpFramed<C, T> {
    type Error = C::Error;

    /// Sends the waiting datagram first, if there is one.
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), C::Error>> {
        self.poll_flush(cx)
    }

    /// Encodes `frame` as the next datagram, for `destination`.
    fn start_send(self: Pin<&mut Self>, (frame, destination): (I, SocketAddr)) -> Result<(), C::Error> {
        let this = self.get_mut();
        this.codec.encode(frame, &mut this.wr)?;
        this.out_addr = destination;
        this.flushed = false;
        Ok(())
    }

    /// Sends the waiting datagram. A datagram the socket took only part of
    /// is an error (`Other`), as in tokio-util; it is not sent again.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), C::Error>> {
        let this = self.get_mut();
        if this.flushed {
            return Poll::Ready(Ok(()));
        }
        let sent = ready!(this.socket.borrow().poll_send_to(cx, &this.wr, this.out_addr));
        let len = this.wr.len();
        this.wr.clear();
        this.flushed = true;
        match sent? {
            n if n == len => Poll::Ready(Ok(())),
            n => Poll::Ready(Err(
                io::Error::other(format!("sent {n} of a {len}-byte datagram")).into()
            )),
        }
    }

    /// Sends the waiting datagram; the socket stays open.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), C::Error>> {
        self.poll_flush(cx)
    }
}
