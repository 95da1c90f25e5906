//! The TCP side: one task per connection, reading requests through a small
//! buffer (`Conn`) and answering them in order (protocol in `protocol.rs`).

use crate::protocol::{self, ERROR, GET, LAST, NOT_FOUND, OK, PUT};
use crate::record::HEADER;
use crate::store::Store;
use ringio::buf::IoBuf;
use ringio::net::{TcpListener, TcpStream};
use std::io;
use std::rc::Rc;

/// Accepts connections forever, one task each.
pub async fn serve(listener: TcpListener, store: Rc<Store>) -> io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let store = store.clone();
        ringio::spawn(async move {
            let mut conn = Conn::new(stream);
            match conn.run(&store).await {
                Ok(()) => tracing::debug!(%peer, "client left"),
                Err(err) => {
                    tracing::debug!(%peer, %err, "connection ended with an error");
                    let msg = err.to_string().into_bytes();
                    let mut resp = vec![ERROR];
                    resp.extend_from_slice(&(msg.len() as u32).to_le_bytes());
                    resp.extend_from_slice(&msg);
                    let _ = conn.stream.write_all(resp).await;
                }
            }
            let _ = conn.stream.close().await;
        });
    }
}

/// A connection with a read buffer, so a request's small fields do not each
/// cost a receive.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    pos: usize,
}

const READ_BUF: usize = 64 * 1024;

impl Conn {
    fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            buf: Vec::with_capacity(READ_BUF),
            pos: 0,
        }
    }

    /// Makes `n` unread bytes available; `Ok(false)` at a clean end of stream
    /// before any of them.
    async fn fill(&mut self, n: usize) -> io::Result<bool> {
        while self.buf.len() - self.pos < n {
            if self.pos > 0 {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            if self.buf.capacity() < n {
                self.buf.reserve(n - self.buf.len());
            }
            let (start, cap) = (self.buf.len(), self.buf.capacity().max(READ_BUF));
            self.buf.reserve(cap - start);
            let cap = self.buf.capacity();
            let buf = std::mem::take(&mut self.buf);
            let (res, slice) = self.stream.read(buf.slice(start..cap)).await;
            self.buf = slice.into_inner();
            match res? {
                0 if self.buf.is_empty() => return Ok(false),
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                _ => {}
            }
        }
        Ok(true)
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        s
    }

    async fn run(&mut self, store: &Store) -> io::Result<()> {
        loop {
            if !self.fill(1).await? {
                return Ok(());
            }
            match self.take(1)[0] {
                PUT => {
                    self.fill(4).await?;
                    let len = u32::from_le_bytes(self.take(4).try_into().unwrap()) as usize;
                    if len > protocol::MAX_BLOB {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("blob of {len} bytes exceeds the limit of {}", protocol::MAX_BLOB),
                        ));
                    }
                    self.fill(len).await?;
                    let blob = self.take(len).to_vec();
                    let seq = store.put(blob).await?;
                    let mut resp = Vec::with_capacity(9);
                    resp.push(OK);
                    resp.extend_from_slice(&seq.to_le_bytes());
                    self.stream.write_all(resp).await.0?;
                }
                GET => {
                    self.fill(8).await?;
                    let seq = u64::from_le_bytes(self.take(8).try_into().unwrap());
                    match store.get(seq).await? {
                        None => self.stream.write_all(vec![NOT_FOUND]).await.0?,
                        Some((mut record, len)) => {
                            // The response header goes right before the
                            // payload, over the end of the record header, so
                            // the aligned buffer is sent as it was read.
                            record[HEADER - 5] = OK;
                            record[HEADER - 4..HEADER].copy_from_slice(&(len as u32).to_le_bytes());
                            let (res, _) = self.stream.write_all(record.slice(HEADER - 5..HEADER + len)).await;
                            res?;
                        }
                    }
                }
                LAST => {
                    let mut resp = vec![OK];
                    resp.extend_from_slice(&store.last().to_le_bytes());
                    self.stream.write_all(resp).await.0?;
                }
                other => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("unknown request type {other:#04x}"),
                    ))
                }
            }
        }
    }
}
