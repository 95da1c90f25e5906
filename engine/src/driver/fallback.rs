//! Running an operation whose opcode the ring's kernel lacks: the same
//! operation's `syscall()` on the blocking pool, as the readiness backends run
//! it. Owns the per-process opcode cache (`IORING_REGISTER_PROBE`, asked once
//! per opcode) and [`submit_or_pool`], the one entry point file and directory
//! operations use, so a missing opcode is never an error, only slower.
//!
//! `RINGIO_URING_NO_OPCODES=FTRUNCATE,SPLICE,...` (names as in
//! `IORING_OP_<NAME>`, or numbers) makes the cache answer "unsupported" for
//! those opcodes: how the tests run the fallback on a kernel that has them.

use crate::driver::Driver;
use crate::op::{Completion, Operation};
use crate::readiness::pool::{self, Slot};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Runs `data` where it belongs: an SQE on a ring whose kernel has `opcode`,
/// the blocking pool on a ring that lacks it, and the readiness backend's own
/// plan (the pool, for file operations) elsewhere. Every path holds the
/// operation's fd-mutex reference until its syscall or CQE is done.
pub(crate) async fn submit_or_pool<T: Operation>(driver: &Driver, opcode: u8, data: T) -> T::Output {
    match driver {
        #[cfg(uring)]
        Driver::Ring(ring) if !ring_has(ring, opcode) => Pooled::new(data).await,
        _ => {
            let _ = opcode;
            driver.submit(data).await
        }
    }
}

/// An operation on the blocking pool regardless of the runtime's backend.
pub(crate) struct Pooled<T: Operation> {
    state: State<T>,
}

enum State<T: Operation> {
    Idle(Box<T>),
    Queued(Arc<Slot<T>>),
    Done,
}

impl<T: Operation> Pooled<T> {
    pub(crate) fn new(data: T) -> Self {
        Pooled {
            state: State::Idle(Box::new(data)),
        }
    }
}

impl<T: Operation> Future for Pooled<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let this = self.get_mut();
        match std::mem::replace(&mut this.state, State::Done) {
            State::Idle(data) => match pool::submit(data, cx) {
                Ok(slot) => {
                    this.state = State::Queued(slot);
                    Poll::Pending
                }
                // The queue is full; the pool wakes us when it has room.
                Err(data) => {
                    this.state = State::Idle(data);
                    Poll::Pending
                }
            },
            State::Queued(slot) => match slot.poll_result(cx) {
                Poll::Ready((data, c)) => Poll::Ready(finish(*data, c)),
                Poll::Pending => {
                    this.state = State::Queued(slot);
                    Poll::Pending
                }
            },
            State::Done => panic!("Pooled polled after completion"),
        }
    }
}

fn finish<T: Operation>(data: T, c: Completion) -> T::Output {
    data.complete(c)
}

// ----- the opcode cache ------------------------------------------------------

#[cfg(uring)]
use std::sync::atomic::{AtomicU8, Ordering};

#[cfg(uring)]
const UNKNOWN: u8 = 0;
#[cfg(uring)]
const ABSENT: u8 = 1;
#[cfg(uring)]
const PRESENT: u8 = 2;

/// What the probe said about each opcode. Every ring of a process runs on the
/// same kernel, so one answer serves them all; `Relaxed` is enough because the
/// value is the whole message (a racing second probe writes the same answer).
#[cfg(uring)]
static OPCODES: [AtomicU8; 256] = [const { AtomicU8::new(UNKNOWN) }; 256];

/// Whether `ring`'s kernel has `opcode`. A probe that cannot run here (a
/// `SINGLE_ISSUER` ring refuses registrations from threads other than its
/// owner) answers "no" for this call without caching it: the operation then
/// runs on the pool, which is always correct.
#[cfg(uring)]
pub(crate) fn ring_has(ring: &crate::ring::Driver, opcode: u8) -> bool {
    match OPCODES[opcode as usize].load(Ordering::Relaxed) {
        PRESENT => return true,
        ABSENT => return false,
        _ => {}
    }
    if denied_by_env(opcode) {
        OPCODES[opcode as usize].store(ABSENT, Ordering::Relaxed);
        return false;
    }
    match ring.probe(opcode) {
        Ok(yes) => {
            if !yes {
                tracing::debug!(
                    opcode,
                    "io_uring opcode unavailable; its operations run on the blocking pool"
                );
            }
            OPCODES[opcode as usize].store(if yes { PRESENT } else { ABSENT }, Ordering::Relaxed);
            yes
        }
        Err(err) => {
            tracing::debug!(%err, opcode, "io_uring opcode probe failed here; this call runs on the blocking pool");
            false
        }
    }
}

/// The opcodes named by `RINGIO_URING_NO_OPCODES`, for tests of the fallback.
#[cfg(uring)]
fn denied_by_env(opcode: u8) -> bool {
    use io_uring::opcode as op;
    let Ok(list) = std::env::var("RINGIO_URING_NO_OPCODES") else {
        return false;
    };
    let names: &[(&str, u8)] = &[
        ("FALLOCATE", op::Fallocate::CODE),
        ("FADVISE", op::Fadvise::CODE),
        ("SYNC_FILE_RANGE", op::SyncFileRange::CODE),
        ("FTRUNCATE", op::Ftruncate::CODE),
        ("STATX", op::Statx::CODE),
        ("MKDIRAT", op::MkDirAt::CODE),
        ("UNLINKAT", op::UnlinkAt::CODE),
        ("RENAMEAT", op::RenameAt::CODE),
        ("LINKAT", op::LinkAt::CODE),
        ("SYMLINKAT", op::SymlinkAt::CODE),
        ("OPENAT2", op::OpenAt2::CODE),
        ("SPLICE", op::Splice::CODE),
        ("TEE", op::Tee::CODE),
    ];
    list.split(',').map(str::trim).any(|item| {
        item.parse::<u8>().ok() == Some(opcode)
            || names
                .iter()
                .any(|(name, code)| *code == opcode && item.eq_ignore_ascii_case(name))
    })
}
