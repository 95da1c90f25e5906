//! `File::splice_to`: send part of a file to a TCP socket through a pipe
//! (file -> pipe -> socket, `IORING_OP_SPLICE`), so the bytes never pass
//! through user memory: the serve-a-file path of a storage or HTTP server.

use super::File;
use crate::driver::fallback::submit_or_pool;
use crate::fd::mutex::Access;
use crate::fd::Interest;
use crate::net::TcpStream;
use crate::op::poll::PollReady;
use crate::op::splice::{Pipe, Splice};
use std::io;
use std::sync::Arc;

/// How much of the file one round moves through the pipe (the pipe is grown
/// to this where `/proc/sys/fs/pipe-max-size` allows).
const PIPE_BYTES: usize = 1 << 20;

impl File {
    /// Sends `len` bytes of this file, starting at `offset`, to `stream`,
    /// without copying them through user memory: each round splices up to a
    /// pipe's worth from the file into a private pipe, then from the pipe
    /// into the socket (`IORING_OP_SPLICE`, Linux 5.7). Returns how many
    /// bytes were sent: fewer than `len` only if the file ends first.
    ///
    /// The stream's write lock is held throughout, so no other write on
    /// `stream` lands in the middle. On readiness backends (and rings
    /// without the opcode) the file side runs `splice(2)` on the blocking
    /// pool, and the socket side a non-blocking `splice(2)` retried on
    /// the socket's readiness.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Closed`] if either is closed; `BrokenPipe` /
    /// `ConnectionReset` if the peer goes away; `InvalidInput` if this file
    /// cannot be spliced (a directory, an `O_DIRECT` file on some
    /// filesystems). Bytes already sent stay sent.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use ringio::fs::File;
    /// use ringio::net::TcpListener;
    /// ringio::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:8080")?;
    ///     let (stream, _) = listener.accept().await?;
    ///     let file = File::open("/var/www/big.iso").await?;
    ///     let len = file.metadata().await?.len();
    ///     let sent = file.splice_to(&stream, 0, len).await?;
    ///     assert_eq!(sent, len);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn splice_to(&self, stream: &TcpStream, offset: u64, len: u64) -> io::Result<u64> {
        let socket = stream.handle();
        let file_driver = self.fd.driver()?;
        let socket_driver = socket.driver()?;
        let lock = Arc::new(socket.lock(Access::Write).await?);
        let pipe = Pipe::new(PIPE_BYTES)?;
        let mut sent = 0u64;
        while sent < len {
            let want = (len - sent).min(pipe.capacity() as u64) as u32;
            let r = self.fd.incref()?;
            let fill = Splice::into_pipe(r.into(), pipe.clone(), offset + sent, want);
            let filled = submit_or_pool(&file_driver, Splice::CODE, fill).await?;
            if filled == 0 {
                break; // end of file
            }
            let mut left = filled;
            while left > 0 {
                let drain = Splice::out_of_pipe(lock.clone().into(), pipe.clone(), left as u32);
                match submit_or_pool(&socket_driver, Splice::CODE, drain).await {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => left -= n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // The socket buffer is full (io_uring does not wait
                    // for a socket inside SPLICE): wait until it drains.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        let wait = PollReady::level(lock.clone().into(), Interest::WRITABLE);
                        socket_driver.submit(wait).await?;
                    }
                    Err(e) => return Err(e),
                }
            }
            sent += filled as u64;
        }
        Ok(sent)
    }
}
