//! Creating a ring: setup flags with graceful fallback, the feature and opcode
//! probe, the typed error when io_uring cannot be used, and the probe of
//! the optional receive features (bundles, incremental buffer rings).

#[cfg(uring)]
use crate::error::Error;
#[cfg(uring)]
use io_uring::types::{self, CancelBuilder};
#[cfg(uring)]
use io_uring::{opcode, IoUring, Probe};
#[cfg(uring)]
use std::io;
#[cfg(uring)]
use std::os::fd::RawFd;

/// Which `io_uring_setup` flags the ring asks for.
///
/// The default, [`SetupMode::Defer`], is the fastest on kernels that have it;
/// the others exist so the choice can be measured (`RINGIO_URING_SETUP=defer|coop|plain`)
/// and as fallbacks: ringio steps down `Defer -> Coop -> Plain` when the kernel
/// rejects a flag with `EINVAL`.
///
/// # Examples
///
/// ```no_run
/// let rt = ringio::Runtime::builder().setup_mode(ringio::SetupMode::Coop).build().unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupMode {
    /// `SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG | SUBMIT_ALL` (Linux 6.1): completions
    /// are posted only when the owner thread enters the kernel, so no IPIs interrupt it.
    Defer,
    /// `SINGLE_ISSUER | COOP_TASKRUN | TASKRUN_FLAG | SUBMIT_ALL` (Linux 6.0; COOP alone 5.19).
    Coop,
    /// No optional flags (Linux 5.11 is the floor for the features ringio needs).
    Plain,
}

impl SetupMode {
    pub(crate) fn from_env() -> Option<SetupMode> {
        match std::env::var("RINGIO_URING_SETUP").ok()?.as_str() {
            "defer" => Some(SetupMode::Defer),
            "coop" => Some(SetupMode::Coop),
            "plain" => Some(SetupMode::Plain),
            other => {
                tracing::warn!(value = other, "ignoring unknown RINGIO_URING_SETUP (defer|coop|plain)");
                None
            }
        }
    }

    #[cfg(uring)]
    fn weaker(self) -> Option<SetupMode> {
        match self {
            SetupMode::Defer => Some(SetupMode::Coop),
            SetupMode::Coop => Some(SetupMode::Plain),
            SetupMode::Plain => None,
        }
    }
}

/// What a driver is built with.
#[derive(Debug, Clone)]
pub(crate) struct RingConfig {
    pub entries: u32,
    pub cq_entries: Option<u32>,
    pub fixed_files: u32,
    pub mode: SetupMode,
    /// Driven by another executor: no single issuer, no deferred or
    /// cooperative task work (the host may sleep in its own wait, where only a
    /// signal-style notification reaches it).
    pub hosted: bool,
    /// Hosted, and only ever turned by one thread (the first to turn it):
    /// `SINGLE_ISSUER | DEFER_TASKRUN`, created disabled (`R_DISABLED`) and
    /// enabled by that first turn, announced through an eventfd.
    pub pinned: bool,
    /// A pinned ring's host watches the eventfd edge-triggered, so turns
    /// need not drain it (`Builder::edge_triggered_host`).
    pub edge_triggered_host: bool,
    /// A hosted ring that is not pinned waits for readiness through a
    /// poller of its own (`ring::waits`) rather than with `POLL_ADD`s.
    pub poller_waits: bool,
}

#[cfg(uring)]
/// Opcodes the engine cannot work without; a kernel missing one gets the
/// readiness backend instead.
const REQUIRED: &[(u8, &str)] = &[
    (opcode::Nop::CODE, "NOP"),
    (opcode::Read::CODE, "READ"),
    (opcode::Write::CODE, "WRITE"),
    (opcode::Readv::CODE, "READV"),
    (opcode::Writev::CODE, "WRITEV"),
    (opcode::Fsync::CODE, "FSYNC"),
    (opcode::Statx::CODE, "STATX"),
    (opcode::OpenAt::CODE, "OPENAT"),
    (opcode::Accept::CODE, "ACCEPT"),
    (opcode::Connect::CODE, "CONNECT"),
    (opcode::Send::CODE, "SEND"),
    (opcode::Recv::CODE, "RECV"),
    (opcode::SendMsg::CODE, "SENDMSG"),
    (opcode::RecvMsg::CODE, "RECVMSG"),
    (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
    (opcode::Shutdown::CODE, "SHUTDOWN"),
];

#[cfg(uring)]
/// Creates the ring, stepping down the setup flags on `EINVAL`, and checks the
/// features and opcodes ringio relies on.
///
/// # Errors
///
/// [`Error::Unsupported`] when `io_uring_setup` is denied (`EPERM` from seccomp or
/// `kernel.io_uring_disabled`, `ENOSYS`) or a required feature or opcode is
/// missing; other failures (`EMFILE`, `ENOMEM`) as the kernel reported them.
pub(crate) fn build_ring(config: &RingConfig) -> io::Result<(IoUring, SetupMode)> {
    // A hosted ring's host sleeps in its own wait, where cooperative task
    // work would never run and deferred work runs only if the ring signals
    // an eventfd and one thread enters for it: so `Plain`, or `Defer` for a
    // pinned one, whose step down is straight to `Plain`.
    let mut mode = match (config.hosted, config.pinned) {
        (false, _) => config.mode,
        (true, false) => SetupMode::Plain,
        (true, true) => SetupMode::Defer,
    };
    // IORING_SETUP_NO_SQARRAY (Linux 6.6): the kernel takes SQEs in ring
    // order, without the indirection array. RINGIO_URING_NO_SQARRAY=0 turns
    // it off, to measure it; a kernel without it steps down.
    let mut no_sqarray = !std::env::var("RINGIO_URING_NO_SQARRAY").is_ok_and(|v| v == "0");
    let ring = loop {
        let mut builder = IoUring::builder();
        if let Some(cq) = config.cq_entries {
            builder.setup_cqsize(cq);
        }
        if no_sqarray {
            builder.setup_no_sqarray();
        }
        match mode {
            SetupMode::Defer => {
                builder
                    .setup_single_issuer()
                    .setup_defer_taskrun()
                    .setup_taskrun_flag()
                    .setup_submit_all();
                if config.hosted {
                    // The submitter is whichever thread enables it.
                    builder.setup_r_disabled();
                }
            }
            SetupMode::Coop => {
                builder
                    .setup_single_issuer()
                    .setup_coop_taskrun()
                    .setup_taskrun_flag()
                    .setup_submit_all();
            }
            SetupMode::Plain => {}
        }
        match builder.build(config.entries) {
            Ok(ring) => break ring,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && no_sqarray => {
                tracing::debug!("IORING_SETUP_NO_SQARRAY rejected (Linux 6.6); using the SQ array");
                no_sqarray = false;
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && config.hosted && mode == SetupMode::Defer => {
                tracing::debug!("DEFER_TASKRUN rejected for a pinned hosted ring (Linux 6.1); using plain flags");
                mode = SetupMode::Plain;
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => match mode.weaker() {
                Some(weaker) => {
                    tracing::debug!(?mode, ?weaker, "io_uring setup flags rejected, stepping down");
                    mode = weaker;
                }
                None => {
                    return Err(Error::Unsupported(format!("io_uring_setup rejects even plain flags ({e})")).into())
                }
            },
            Err(e) => return Err(unsupported(&e)),
        }
    };
    let params = ring.params();
    if !params.is_feature_nodrop() {
        return Err(Error::Unsupported("kernel lacks IORING_FEAT_NODROP (Linux 5.5)".into()).into());
    }
    if !params.is_feature_ext_arg() {
        return Err(Error::Unsupported("kernel lacks IORING_FEAT_EXT_ARG (Linux 5.11)".into()).into());
    }
    let mut probe = Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| unsupported(&e))?;
    if let Some((_, name)) = REQUIRED.iter().find(|(code, _)| !probe.is_supported(*code)) {
        return Err(Error::Unsupported(format!("kernel lacks opcode IORING_OP_{name}")).into());
    }
    tracing::debug!(?mode, no_sqarray, "io_uring set up");
    Ok((ring, mode))
}

#[cfg(uring)]
/// `io_uring_setup`'s error as the caller should see it: a denial (seccomp,
/// `kernel.io_uring_disabled`, no such syscall) is [`Error::Unsupported`],
/// which lets a runtime fall back to readiness; anything else (`EMFILE`,
/// `ENOMEM`, ...) is a resource problem reported as it is, since the
/// readiness backend would not be better off.
fn unsupported(err: &io::Error) -> io::Error {
    let why = match err.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => {
            format!("io_uring_setup denied ({err}): seccomp or kernel.io_uring_disabled")
        }
        Some(libc::ENOSYS) => format!("io_uring_setup not implemented by this kernel ({err})"),
        _ => return io::Error::from_raw_os_error(err.raw_os_error().unwrap_or(libc::EIO)),
    };
    Error::Unsupported(why).into()
}

#[cfg(uring)]
/// `close` cancels a descriptor's operations with `IORING_ASYNC_CANCEL_FD`
/// (5.19) and `_FD_FIXED` (6.0); without them it would wait forever. A kernel
/// that rejects the flags (`EINVAL`) gets the readiness backend instead.
pub(crate) fn probe_fd_cancel(ring: &mut IoUring, fixed: bool, fd: RawFd) -> io::Result<()> {
    let target = if fixed {
        CancelBuilder::fd(types::Fixed(0))
    } else {
        CancelBuilder::fd(types::Fd(fd))
    };
    let entry = opcode::AsyncCancel2::new(target.all())
        .build()
        .user_data(super::driver::CANCEL_TOKEN);
    // SAFETY: a cancel request carries no pointers; the ring is not shared yet.
    unsafe { ring.submission().push(&entry) }.map_err(|_| io::Error::other("fresh submission queue is full"))?;
    ring.submit_and_wait(1)?;
    let result = ring.completion().next().map(|cqe| cqe.result());
    match result {
        Some(r) if r == -libc::EINVAL => Err(crate::error::Error::Unsupported(
            "kernel lacks fd-targeted cancellation (IORING_ASYNC_CANCEL_FD_FIXED, Linux 6.0)".into(),
        )
        .into()),
        Some(_) => Ok(()), // ENOENT: nothing to cancel, as expected
        None => Err(io::Error::other("no completion for the cancel probe")),
    }
}

/// Receive features a ring's buffer groups may use, probed when the ring is
/// built; each can be turned off for tests and measurements
/// (`RINGIO_BUNDLES=0`, `RINGIO_BUF_INC=0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RecvFeatures {
    /// `IORING_RECVSEND_BUNDLE` on multishot receives (Linux 6.10; the
    /// setup parameters' `IORING_FEAT_RECVSEND_BUNDLE`): one CQE may fill
    /// several buffers.
    pub bundles: bool,
    /// `IOU_PBUF_RING_INC` buffer rings (Linux 6.12): the kernel fills one
    /// buffer over several receives.
    pub incremental: bool,
    /// A failed receive leaves the buffer its CQE names in the ring:
    /// `io_kbuf_commit` commits nothing for a negative result since the
    /// rework that brought incremental rings (6.12), so the probe for those
    /// tells; older kernels consumed it. Not overridable: it is what the
    /// kernel does.
    #[cfg(uring)]
    pub keeps_failed: bool,
}

#[cfg(uring)]
/// Probes [`RecvFeatures`]: bundles from the setup parameters, incremental
/// consumption by registering a one-entry ring with the flag under a
/// scratch group id and unregistering it at once (`EINVAL`: not here).
pub(crate) fn probe_recv_features(ring: &IoUring) -> RecvFeatures {
    let off = |var: &str| std::env::var(var).is_ok_and(|v| v == "0");
    let bundles = ring.params().is_feature_recvsend_bundle();
    let incremental = probe_buf_ring_inc(ring);
    let features = RecvFeatures {
        bundles: bundles && !off("RINGIO_BUNDLES"),
        incremental: incremental && !off("RINGIO_BUF_INC"),
        keeps_failed: incremental,
    };
    tracing::debug!(
        kernel_bundles = bundles,
        kernel_incremental = incremental,
        ?features,
        "receive features probed"
    );
    features
}

#[cfg(uring)]
fn probe_buf_ring_inc(ring: &IoUring) -> bool {
    /// The scratch group: registered and gone before any user group exists.
    const PROBE_GROUP: u16 = u16::MAX;
    let Ok(entries) = crate::buf::RingEntries::new(1) else {
        return false;
    };
    let flags = io_uring::types::IOU_PBUF_RING_INC as u16;
    // SAFETY: `entries` is a zeroed page-aligned ring of one entry naming no
    // buffer (length 0), so the kernel has nothing to write; it outlives the
    // registration, which ends below before `entries` drops.
    let res = unsafe {
        ring.submitter()
            .register_buf_ring_with_flags(entries.addr(), 1, PROBE_GROUP, flags)
    };
    match res {
        Ok(()) => {
            if let Err(err) = ring.submitter().unregister_buf_ring(PROBE_GROUP) {
                // The kernel may still read the entry: keep it for good.
                tracing::warn!(%err, "could not unregister the probe buffer ring; leaking a page");
                std::mem::forget(entries);
            }
            true
        }
        Err(err) => {
            tracing::debug!(%err, "no incremental buffer rings (IOU_PBUF_RING_INC, Linux 6.12)");
            false
        }
    }
}
