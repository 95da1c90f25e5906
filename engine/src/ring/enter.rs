//! `Enter`: the one `io_uring_enter` call a turn makes, through a registered
//! ring descriptor where the kernel has them (`IORING_REGISTER_RING_FDS`,
//! Linux 5.18), which spares the kernel a descriptor-table lookup per call.
//!
//! Registered ring descriptors live in the calling thread's own table, so
//! only a ring one thread drives (a runtime's) registers; a hosted ring,
//! turned from whichever thread the host runs, uses its plain descriptor.
//! `RINGIO_URING_RING_FD=0` turns registration off, to measure it.

use io_uring::IoUring;
use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

const IORING_ENTER_GETEVENTS: u32 = 1;
const IORING_ENTER_EXT_ARG: u32 = 8;
const IORING_ENTER_REGISTERED_RING: u32 = 16;
const IORING_REGISTER_RING_FDS: u32 = 20;
const IORING_UNREGISTER_RING_FDS: u32 = 21;

/// `struct io_uring_rsrc_update`.
#[repr(C)]
struct RsrcUpdate {
    offset: u32,
    resv: u32,
    data: u64,
}

/// `struct io_uring_getevents_arg` (`IORING_ENTER_EXT_ARG`, Linux 5.11).
#[repr(C)]
struct GeteventsArg {
    sigmask: u64,
    sigmask_sz: u32,
    min_wait_usec: u32,
    ts: u64,
}

/// `struct __kernel_timespec`.
#[repr(C)]
struct KernelTimespec {
    tv_sec: i64,
    tv_nsec: i64,
}

/// How this ring enters the kernel; see the module docs.
#[derive(Debug)]
pub(crate) struct Enter {
    /// The registered index, or the ring's descriptor.
    fd: i32,
    /// `IORING_ENTER_REGISTERED_RING` when `fd` is an index.
    flags: u32,
}

impl Enter {
    /// For `ring`; registers its descriptor if `register` and the kernel
    /// and `RINGIO_URING_RING_FD` allow.
    pub(crate) fn new(ring: &IoUring, register: bool) -> Enter {
        let raw = ring.as_raw_fd();
        let plain = Enter { fd: raw, flags: 0 };
        if !register || std::env::var("RINGIO_URING_RING_FD").is_ok_and(|v| v == "0") {
            return plain;
        }
        let mut update = RsrcUpdate {
            offset: u32::MAX, // any free entry
            resv: 0,
            data: raw as u64,
        };
        // SAFETY: `update` is a valid `io_uring_rsrc_update` the kernel
        // reads and writes (the chosen index) during the call only.
        let res = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                raw,
                IORING_REGISTER_RING_FDS,
                &mut update as *mut RsrcUpdate,
                1,
            )
        };
        if res != 1 {
            tracing::debug!(err = %io::Error::last_os_error(), "no registered ring descriptor (Linux 5.18)");
            return plain;
        }
        Enter {
            fd: update.offset as i32,
            flags: IORING_ENTER_REGISTERED_RING,
        }
    }

    /// Whether the ring descriptor is registered.
    pub(crate) fn is_registered(&self) -> bool {
        self.flags != 0
    }

    /// Gives the registered index back (on the thread that registered it;
    /// the kernel drops it anyway when that thread exits).
    pub(crate) fn unregister(&mut self, ring: &IoUring) {
        if !self.is_registered() {
            return;
        }
        let mut update = RsrcUpdate {
            offset: self.fd as u32,
            resv: 0,
            data: 0,
        };
        // SAFETY: as in `new`.
        let res = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                ring.as_raw_fd(),
                IORING_UNREGISTER_RING_FDS,
                &mut update as *mut RsrcUpdate,
                1,
            )
        };
        if res != 1 {
            tracing::debug!(err = %io::Error::last_os_error(), "unregistering the ring descriptor failed");
        }
        *self = Enter {
            fd: ring.as_raw_fd(),
            flags: 0,
        };
    }

    /// Submits `to_submit` SQEs and, with `wait`, waits for one completion
    /// (at most `timeout`); always processes pending completions
    /// (`GETEVENTS`, which also runs deferred task work).
    pub(crate) fn enter(&self, to_submit: u32, wait: bool, timeout: Option<Duration>) -> io::Result<usize> {
        let mut flags = self.flags | IORING_ENTER_GETEVENTS;
        let ts = timeout.map(|d| KernelTimespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: i64::from(d.subsec_nanos()),
        });
        let arg = ts.as_ref().map(|ts| GeteventsArg {
            sigmask: 0,
            sigmask_sz: 0,
            min_wait_usec: 0,
            ts: ts as *const KernelTimespec as u64,
        });
        let (arg_ptr, arg_size) = match &arg {
            Some(arg) => {
                flags |= IORING_ENTER_EXT_ARG;
                (arg as *const GeteventsArg as usize, size_of::<GeteventsArg>())
            }
            None => (0, 0),
        };
        let min_complete = u32::from(wait);
        // SAFETY: `arg_ptr` is null or points at a `GeteventsArg` (whose `ts`
        // points at a timespec) that lives on this stack frame for the call;
        // the kernel only reads them. The ring's SQ/CQ memory is the kernel's
        // and ours by the io_uring protocol.
        let res = unsafe {
            libc::syscall(
                libc::SYS_io_uring_enter,
                self.fd,
                to_submit,
                min_complete,
                flags,
                arg_ptr,
                arg_size,
            )
        };
        if res < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(res as usize)
        }
    }
}
