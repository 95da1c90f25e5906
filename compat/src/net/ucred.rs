//! [`UCred`], the credentials of the process at the other end of a Unix
//! stream, as `tokio::net::unix::UCred`, read with `SO_PEERCRED` (Linux
//! records them at `connect(2)`/`socketpair(2)` time).

use super::lend::Lend;
use std::io;

/// A user ID, as `tokio::net::unix::uid_t`.
///
/// # Examples
///
/// ```no_run
/// # fn run() -> std::io::Result<()> {
/// let (a, _b) = ringio_compat::net::UnixStream::pair()?;
/// let uid: ringio_compat::net::unix::uid_t = a.peer_cred()?.uid();
/// # let _ = uid; Ok(()) }
/// ```
#[allow(non_camel_case_types)]
pub type uid_t = u32;

/// A group ID, as `tokio::net::unix::gid_t`.
///
/// # Examples
///
/// ```no_run
/// # fn run() -> std::io::Result<()> {
/// let (a, _b) = ringio_compat::net::UnixStream::pair()?;
/// let gid: ringio_compat::net::unix::gid_t = a.peer_cred()?.gid();
/// # let _ = gid; Ok(()) }
/// ```
#[allow(non_camel_case_types)]
pub type gid_t = u32;

/// A process ID, as `tokio::net::unix::pid_t`.
///
/// # Examples
///
/// ```no_run
/// # fn run() -> std::io::Result<()> {
/// let (a, _b) = ringio_compat::net::UnixStream::pair()?;
/// let pid: Option<ringio_compat::net::unix::pid_t> = a.peer_cred()?.pid();
/// # let _ = pid; Ok(()) }
/// ```
#[allow(non_camel_case_types)]
pub type pid_t = i32;

/// The credentials of a peer process, as `tokio::net::unix::UCred`; see
/// [`UnixStream::peer_cred`](super::UnixStream::peer_cred).
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let (a, _b) = ringio_compat::net::UnixStream::pair()?;
/// let cred: ringio_compat::net::unix::UCred = a.peer_cred()?;
/// assert_eq!(cred.pid(), Some(std::process::id() as i32));
/// # Ok(()) }
/// ```
#[derive(Copy, Clone, Eq, PartialEq, Hash, Debug)]
pub struct UCred {
    pid: Option<pid_t>,
    uid: uid_t,
    gid: gid_t,
}

impl UCred {
    /// The peer's (effective) user ID.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let (a, _b) = ringio_compat::net::UnixStream::pair()?;
    /// let uid = a.peer_cred()?.uid();
    /// # let _ = uid; Ok(()) }
    /// ```
    pub fn uid(&self) -> uid_t {
        self.uid
    }

    /// The peer's (effective) group ID.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let (a, _b) = ringio_compat::net::UnixStream::pair()?;
    /// let gid = a.peer_cred()?.gid();
    /// # let _ = gid; Ok(()) }
    /// ```
    pub fn gid(&self) -> gid_t {
        self.gid
    }

    /// The peer's process ID; on Linux always `Some`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let (a, _b) = ringio_compat::net::UnixStream::pair()?;
    /// assert_eq!(a.peer_cred()?.pid(), Some(std::process::id() as i32));
    /// # Ok(()) }
    /// ```
    pub fn pid(&self) -> Option<pid_t> {
        self.pid
    }
}

/// `SO_PEERCRED` of an engine socket.
pub(crate) fn peer_cred(socket: &impl Lend) -> io::Result<UCred> {
    let cred = socket.lend(|fd| Ok(rustix::net::sockopt::socket_peercred(fd)?))?;
    Ok(UCred {
        pid: Some(cred.pid.as_raw_pid()),
        uid: cred.uid.as_raw(),
        gid: cred.gid.as_raw(),
    })
}
