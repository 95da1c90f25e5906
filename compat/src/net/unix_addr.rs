//! [`SocketAddr`], the address of a Unix socket as
//! `tokio::net::unix::SocketAddr`: std's address underneath (a path, an
//! abstract name or no name), with conversions from and to std's address and
//! from the engine's [`ringio::net::UnixSocketAddr`] (which knows paths only,
//! so an abstract name the engine reports arrives unnamed).

use std::fmt;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr as StdSocketAddr;
use std::path::Path;

/// The address of a Unix socket, as `tokio::net::unix::SocketAddr`.
///
/// # Examples
///
/// ```
/// use ringio_compat::net::unix::SocketAddr;
///
/// let std_addr = std::os::unix::net::SocketAddr::from_pathname("/tmp/app.sock")?;
/// let addr = SocketAddr::from(std_addr);
/// assert_eq!(addr.as_pathname(), Some(std::path::Path::new("/tmp/app.sock")));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct SocketAddr(StdSocketAddr);

impl SocketAddr {
    /// An address with no name (a socketpair's, an unbound client's).
    ///
    /// # Examples
    ///
    /// ```
    /// let addr = ringio_compat::net::unix::SocketAddr::unnamed();
    /// assert!(addr.is_unnamed());
    /// ```
    pub fn unnamed() -> SocketAddr {
        SocketAddr(unnamed_std())
    }

    /// True if the socket has neither a path nor an abstract name.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let (a, _b) = ringio_compat::net::UnixStream::pair()?;
    /// assert!(a.local_addr()?.is_unnamed());
    /// # Ok(()) }
    /// ```
    pub fn is_unnamed(&self) -> bool {
        self.0.is_unnamed()
    }

    /// The filesystem path, if the socket is bound to one.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let listener = ringio_compat::net::UnixListener::bind("/tmp/app.sock")?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some("/tmp/app.sock".as_ref()));
    /// # Ok(()) }
    /// ```
    pub fn as_pathname(&self) -> Option<&Path> {
        self.0.as_pathname()
    }

    /// The name in Linux's abstract namespace, if the address has one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    ///
    /// let std_addr = std::os::unix::net::SocketAddr::from_abstract_name(b"ringio")?;
    /// let addr = ringio_compat::net::unix::SocketAddr::from(std_addr);
    /// assert_eq!(addr.as_abstract_name(), Some(&b"ringio"[..]));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn as_abstract_name(&self) -> Option<&[u8]> {
        self.0.as_abstract_name()
    }
}

/// std's unnamed address. std has no constructor for it, but
/// `from_pathname` fails only for a path that is too long or holds a NUL,
/// and an empty path makes an address of no name (`unnamed_round_trips`
/// in the tests checks that).
fn unnamed_std() -> StdSocketAddr {
    StdSocketAddr::from_pathname("").expect("an empty path is neither too long nor holds a NUL")
}

impl fmt::Debug for SocketAddr {
    /// As std's (and so tokio's): `"/tmp/app.sock" (pathname)`, `(unnamed)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for SocketAddr {
    /// Equal if both have the same path, the same abstract name, or no name.
    fn eq(&self, other: &SocketAddr) -> bool {
        self.as_pathname() == other.as_pathname()
            && self.as_abstract_name() == other.as_abstract_name()
            && self.is_unnamed() == other.is_unnamed()
    }
}

impl Eq for SocketAddr {}

impl From<StdSocketAddr> for SocketAddr {
    /// Wraps std's address; nothing is lost.
    ///
    /// ```
    /// let std_addr = std::os::unix::net::SocketAddr::from_pathname("/tmp/a.sock")?;
    /// let addr: ringio_compat::net::unix::SocketAddr = std_addr.into();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn from(addr: StdSocketAddr) -> SocketAddr {
        SocketAddr(addr)
    }
}

impl From<SocketAddr> for StdSocketAddr {
    /// Unwraps std's address; nothing is lost.
    ///
    /// ```
    /// let addr = ringio_compat::net::unix::SocketAddr::unnamed();
    /// let std_addr: std::os::unix::net::SocketAddr = addr.into();
    /// assert!(std_addr.is_unnamed());
    /// ```
    fn from(addr: SocketAddr) -> StdSocketAddr {
        addr.0
    }
}

impl From<ringio::net::UnixSocketAddr> for SocketAddr {
    /// The engine's address: its path, or no name.
    ///
    /// ```
    /// let addr = ringio_compat::net::unix::SocketAddr::from(ringio::net::UnixSocketAddr::unnamed());
    /// assert!(addr.is_unnamed());
    /// ```
    fn from(addr: ringio::net::UnixSocketAddr) -> SocketAddr {
        // A path the kernel reported fits a `sockaddr_un` and holds no NUL,
        // so `from_pathname` takes it.
        let std_addr = addr
            .as_pathname()
            .and_then(|path| StdSocketAddr::from_pathname(path).ok())
            .unwrap_or_else(unnamed_std);
        SocketAddr(std_addr)
    }
}
