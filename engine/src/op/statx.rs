//! `STATX` on an open descriptor (`AT_EMPTY_PATH`); on readiness backends,
//! `statx` (Linux) or `fstat` on the blocking pool.

use super::{syscall_retry, Completion, Operation, Plan};
use crate::fd::descriptor::OpLease;
#[cfg(uring)]
use io_uring::{opcode, squeue, types};
use std::io;
use std::mem::MaybeUninit;

/// What `File::metadata` reports, in a platform-neutral shape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawStat {
    pub len: u64,
    pub mode: u32,
    pub ino: u64,
    pub blksize: u32,
    pub mtime_sec: i64,
    pub mtime_nsec: u32,
    /// `stx_dio_mem_align` / `stx_dio_offset_align` (Linux 6.1,
    /// `STATX_DIOALIGN`); `None` where the kernel or filesystem did not say.
    pub dio_align: Option<(u32, u32)>,
}

/// The statx mask every ringio statx asks for.
#[cfg(target_os = "linux")]
pub(crate) const MASK: u32 = libc::STATX_BASIC_STATS | libc::STATX_BTIME | libc::STATX_DIOALIGN;

/// What a filled `statx` says, in ringio's shape.
#[cfg(target_os = "linux")]
pub(crate) fn from_statx(st: &libc::statx) -> RawStat {
    RawStat {
        len: st.stx_size,
        mode: u32::from(st.stx_mode),
        ino: st.stx_ino,
        blksize: st.stx_blksize,
        mtime_sec: st.stx_mtime.tv_sec,
        mtime_nsec: st.stx_mtime.tv_nsec,
        dio_align: (st.stx_mask & libc::STATX_DIOALIGN != 0).then_some((st.stx_dio_mem_align, st.stx_dio_offset_align)),
    }
}

/// What a filled `stat` says, in ringio's shape.
#[cfg(not(target_os = "linux"))]
#[allow(clippy::unnecessary_cast)] // field widths differ between platforms
pub(crate) fn from_stat(st: &libc::stat) -> RawStat {
    RawStat {
        len: st.st_size as u64,
        mode: st.st_mode as u32,
        ino: st.st_ino as u64,
        blksize: st.st_blksize as u32,
        mtime_sec: st.st_mtime as i64,
        #[cfg(not(target_os = "netbsd"))]
        mtime_nsec: st.st_mtime_nsec as u32,
        #[cfg(target_os = "netbsd")]
        mtime_nsec: st.st_mtimensec as u32,
        dio_align: None,
    }
}

pub(crate) struct Statx {
    fd: OpLease,
    #[cfg(target_os = "linux")]
    buf: Box<MaybeUninit<libc::statx>>,
    #[cfg(not(target_os = "linux"))]
    buf: Box<MaybeUninit<libc::stat>>,
}

impl Statx {
    pub(crate) fn new(fd: OpLease) -> Self {
        Statx {
            fd,
            buf: Box::new(MaybeUninit::uninit()),
        }
    }
}

/// The empty path `AT_EMPTY_PATH` needs, with a `'static` address.
#[cfg(target_os = "linux")]
const EMPTY_PATH: &std::ffi::CStr = c"";

// SAFETY: the SQE and the syscall point at `buf`, a box `self` owns (it stays
// put when `self` moves), and at a `'static` C string. STATX takes no fixed files,
// so it names the plain number, which `fd` keeps open.
unsafe impl Operation for Statx {
    type Output = io::Result<RawStat>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        opcode::Statx::new(
            types::Fd(self.fd.raw()),
            EMPTY_PATH.as_ptr(),
            self.buf.as_mut_ptr().cast(),
        )
        .flags(libc::AT_EMPTY_PATH)
        .mask(MASK)
        .build()
    }

    fn plan(&self) -> Plan {
        Plan::Blocking
    }

    fn syscall(&mut self) -> Option<Completion> {
        let fd = self.fd.raw();
        let buf = self.buf.as_mut_ptr();
        #[cfg(target_os = "linux")]
        // SAFETY: `buf` is valid for a whole `statx`, owned by `self`; `fd` is held open.
        let call = || unsafe { libc::statx(fd, EMPTY_PATH.as_ptr(), libc::AT_EMPTY_PATH, MASK, buf) as isize };
        #[cfg(not(target_os = "linux"))]
        // SAFETY: `buf` is valid for a whole `stat`, owned by `self`; `fd` is held open.
        let call = || unsafe { libc::fstat(fd, buf) as isize };
        syscall_retry(call)
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> io::Result<RawStat> {
        c.io_result()?;
        // SAFETY: a successful statx/fstat filled the whole struct.
        let st = unsafe { self.buf.assume_init_read() };
        #[cfg(target_os = "linux")]
        return Ok(from_statx(&st));
        #[cfg(not(target_os = "linux"))]
        return Ok(from_stat(&st));
    }
}
