//! `ringio::fd::Fd`, the handle for users' own descriptors: guards, close
//! (waiting, idempotent, concurrent, from other threads), drop, the typed
//! "closed" error on every call, and the ring operations (read, write at the
//! file position and at offsets, poll, async_io), with and without a fixed
//! slot.
//!
//! Every test holds `fd_serial()`: some check that a number was closed by
//! looking it up in `/proc/self/fd`, which a parallel test could refill.

use ringio::fd::{Fd, FdGuard, Interest};
use ringio::Backend;
use ringio_tests::{fd_serial, runtime, STEP};
use rustix::pipe::{pipe_with, PipeFlags};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

fn pipe() -> (OwnedFd, OwnedFd) {
    pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK).expect("pipe")
}

/// (device, inode): which file a descriptor is.
fn identity(fd: impl AsFd) -> (u64, u64) {
    let st = rustix::fs::fstat(fd).expect("fstat");
    (st.st_dev, st.st_ino)
}

fn is_open(raw: i32) -> bool {
    std::fs::symlink_metadata(format!("/proc/self/fd/{raw}")).is_ok()
}

fn assert_closed<T: std::fmt::Debug>(what: &str, res: io::Result<T>) {
    match res {
        Err(e) if ringio::Error::is_closed(&e) => {}
        other => panic!("{what} on a closed Fd: expected Error::Closed, got {other:?}"),
    }
}

#[test]
fn handle_and_guard_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Fd>();
    send_sync::<FdGuard>();
}

#[test]
fn guards_lend_the_adopted_descriptor_across_threads() {
    let _serial = fd_serial();
    let (r, _w) = pipe();
    let original = identity(&r);
    let fd = Fd::new(r);
    let guards: Vec<FdGuard> = (0..3).map(|_| fd.incref().unwrap()).collect();
    assert!(guards.iter().all(|g| g.raw() == fd.raw()));
    let seen: Vec<_> = guards
        .into_iter()
        .map(|g| std::thread::spawn(move || identity(&g)))
        .map(|t| t.join().unwrap())
        .collect();
    assert!(seen.iter().all(|id| *id == original));
}

#[test]
fn close_waits_for_guards_held_by_other_threads() {
    let _serial = fd_serial();
    let (r, _w) = pipe();
    let fd = Arc::new(Fd::new(r));
    let raw = fd.raw();
    let live = Arc::new(AtomicUsize::new(0));
    let holding = Arc::new(Barrier::new(4));
    let holders: Vec<_> = (0..3)
        .map(|i| {
            let (guard, live, holding) = (fd.incref().unwrap(), live.clone(), holding.clone());
            live.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                holding.wait();
                std::thread::sleep(Duration::from_millis(10 + 5 * i));
                assert!(is_open(guard.raw()), "descriptor closed under a live guard");
                live.fetch_sub(1, Ordering::SeqCst);
                drop(guard);
            })
        })
        .collect();
    holding.wait();
    runtime().block_on(async {
        fd.close().await.unwrap();
        assert_eq!(live.load(Ordering::SeqCst), 0, "close returned while guards were alive");
        assert!(!is_open(raw), "close returned before closing the number");
    });
    holders.into_iter().for_each(|t| t.join().unwrap());
}

#[test]
fn close_from_many_tasks_and_threads_is_idempotent() {
    let _serial = fd_serial();
    let (r, _w) = pipe();
    let fd = Arc::new(Fd::new(r));
    let guard = fd.incref().unwrap();
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let fd = fd.clone();
            std::thread::spawn(move || runtime().block_on(fd.close()))
        })
        .collect();
    runtime().block_on(async {
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let fd = fd.clone();
                ringio::spawn(async move { fd.close().await })
            })
            .collect();
        ringio::time::sleep(Duration::from_millis(5)).await;
        assert!(fd.is_closed());
        assert!(is_open(guard.raw()), "closed while a guard was alive");
        drop(guard);
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        fd.close().await.unwrap(); // again, after the fact
    });
    for t in threads {
        t.join().unwrap().unwrap();
    }
}

#[test]
fn every_call_on_a_closed_handle_is_a_typed_error() {
    let _serial = fd_serial();
    runtime().block_on(async {
        let (r, _w) = pipe();
        let fd = Fd::new(r);
        fd.close().await.unwrap();
        assert_eq!(fd.raw(), -1);
        assert!(fd.is_closed());
        assert_closed("incref", fd.incref());
        assert_closed("read", fd.read(Vec::with_capacity(8)).await.0);
        assert_closed("write", fd.write(b"x".to_vec()).await.0);
        assert_closed("read_at", fd.read_at(Vec::with_capacity(8), 0).await.0);
        assert_closed("write_at", fd.write_at(b"x".to_vec(), 0).await.0);
        assert_closed("poll", fd.poll(Interest::READABLE).await);
        assert_closed("readable", fd.readable().await);
        assert_closed("writable", fd.writable().await);
        assert_closed("async_io", fd.async_io(Interest::READABLE, |_| Ok(())).await);
        assert_closed("set_nonblocking", fd.set_nonblocking(true));
        let err = fd.incref().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotConnected);
        assert_eq!(ringio::Error::of(&err), Some(&ringio::Error::Closed));
        fd.close().await.unwrap();
    });
}

#[test]
fn dropped_handle_is_closed_by_its_last_guard() {
    let _serial = fd_serial();
    let (r, _w) = pipe();
    let original = identity(&r);
    let fd = Fd::new(r);
    let (a, b) = (fd.incref().unwrap(), fd.incref().unwrap());
    let raw = a.raw();
    drop(fd);
    assert!(is_open(raw), "closed while guards were alive");
    drop(a);
    assert_eq!(identity(&b), original);
    drop(b);
    assert!(!is_open(raw), "the last guard did not close the descriptor");
}

/// Reads and writes at the file position, and readiness, on a pipe.
fn pipe_io(fixed: bool) {
    let _serial = fd_serial();
    let rt = runtime();
    let backend = rt.backend();
    rt.block_on(async {
        let (r, w) = pipe();
        let adopt = if fixed { Fd::with_fixed_slot } else { Fd::new };
        let (r, w) = (adopt(r), adopt(w));
        let expect_slot = fixed && backend == Backend::IoUring;
        // The ring fills the slot with the first batch it submits.
        ringio::runtime::yield_now().await;
        assert_eq!(r.fixed_slot().is_some(), expect_slot, "fixed slot on {backend}");

        assert!(w
            .poll(Interest::READABLE | Interest::WRITABLE)
            .await
            .unwrap()
            .is_writable());
        let reader = ringio::spawn(async move {
            let (n, buf) = r.read(Vec::with_capacity(16)).await;
            (n.unwrap(), buf, r)
        });
        ringio::time::sleep(Duration::from_millis(2)).await;
        let (n, _) = w.write(b"ping".to_vec()).await;
        assert_eq!(n.unwrap(), 4);
        let (n, buf, r) = reader.await.unwrap();
        assert_eq!(&buf[..n], b"ping");

        w.write(b"pong".to_vec()).await.0.unwrap();
        let ready = r.poll(Interest::READABLE).await.unwrap();
        assert!(ready.is_readable());
        let mut bytes = [0u8; 8];
        let n = r
            .async_io(Interest::READABLE, |fd| Ok(rustix::io::read(fd, &mut bytes)?))
            .await
            .unwrap();
        assert_eq!(&bytes[..n], b"pong");

        // End of stream once the writer is closed.
        w.close().await.unwrap();
        r.readable().await.unwrap();
        assert_eq!(r.read(Vec::with_capacity(4)).await.0.unwrap(), 0);
        r.close().await.unwrap();
    });
}

#[test]
fn pipe_io_with_plain_numbers() {
    pipe_io(false);
}

#[test]
fn pipe_io_with_a_fixed_slot() {
    pipe_io(true);
}

#[test]
fn async_io_waits_until_the_call_stops_blocking() {
    let _serial = fd_serial();
    runtime().block_on(async {
        let (r, w) = pipe();
        let r = Fd::new(r);
        let writer = ringio::spawn(async move {
            ringio::time::sleep(Duration::from_millis(10)).await;
            rustix::io::write(&w, b"late").unwrap();
            w
        });
        let mut bytes = [0u8; 8];
        let mut calls = 0;
        let n = r
            .async_io(Interest::READABLE, |fd| {
                calls += 1;
                Ok(rustix::io::read(fd, &mut bytes)?)
            })
            .await
            .unwrap();
        assert_eq!(&bytes[..n], b"late");
        assert!(calls >= 2, "the first call should have said WouldBlock");
        drop(writer.await.unwrap());
    });
}

/// A task waits on `op`; another thread, on its own runtime, closes the
/// handle. The wait must end with `Closed` and `close` return, promptly:
/// the operation is cancelled on its own ring although the closer is not
/// on that ring.
fn close_from_another_thread_cancels(fixed: bool) {
    let _serial = fd_serial();
    runtime().block_on(async {
        let (r, _w) = pipe();
        let fd = Arc::new(if fixed { Fd::with_fixed_slot(r) } else { Fd::new(r) });
        let poller = {
            let fd = fd.clone();
            ringio::spawn(async move { fd.readable().await })
        };
        let reader = {
            let fd = fd.clone();
            ringio::spawn(async move { fd.read(Vec::with_capacity(8)).await })
        };
        ringio::time::sleep(Duration::from_millis(5)).await;
        let closer = {
            let fd = fd.clone();
            std::thread::spawn(move || runtime().block_on(fd.close()))
        };
        let polled = ringio::time::timeout(STEP, poller)
            .await
            .expect("poll not cancelled by close");
        assert_closed("pending readable", polled.unwrap());
        let (res, buf) = ringio::time::timeout(STEP, reader)
            .await
            .expect("read not cancelled")
            .unwrap();
        assert_closed("pending read", res);
        assert_eq!(buf.capacity(), 8, "the buffer comes back");
        // The closer waits for the descriptor's destruction, which for a
        // fixed slot happens on this ring: keep it turning, don't block it.
        while !closer.is_finished() {
            ringio::time::sleep(Duration::from_millis(1)).await;
        }
        closer.join().unwrap().unwrap();
        assert_eq!(fd.raw(), -1);
    });
}

#[test]
fn close_from_another_thread_cancels_pending_operations() {
    close_from_another_thread_cancels(false);
}

#[test]
fn close_from_another_thread_cancels_pending_operations_on_a_fixed_slot() {
    close_from_another_thread_cancels(true);
}

#[test]
fn blocking_descriptors_are_refused_only_where_they_would_stall_the_runtime() {
    let _serial = fd_serial();
    let rt = runtime();
    let backend = rt.backend();
    rt.block_on(async {
        let (r, w) = pipe_with(PipeFlags::CLOEXEC).unwrap(); // blocking
        rustix::io::write(&w, b"data").unwrap();
        let fd = Fd::new(r);
        let (res, buf) = fd.read(Vec::with_capacity(2)).await;
        match backend {
            Backend::IoUring => assert_eq!(&buf[..res.unwrap()], b"da"),
            _ => assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput),
        }
        fd.set_nonblocking(true).unwrap();
        let (res, buf) = fd.read(Vec::with_capacity(8)).await;
        assert!(buf[..res.unwrap()].ends_with(b"ta"));
    });
}

#[test]
fn regular_files_read_and_write_at_the_position_and_at_offsets() {
    let _serial = fd_serial();
    let path = std::env::temp_dir().join(format!("ringio-fd-handle-{}", std::process::id()));
    runtime().block_on(async {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        let fd = Fd::new(file.into());
        fd.write(b"hello ".to_vec()).await.0.unwrap();
        fd.write(b"world".to_vec()).await.0.unwrap(); // after the first: the position moved
        fd.write_at(b"W".to_vec(), 6).await.0.unwrap();
        let (n, buf) = fd.read_at(Vec::with_capacity(32), 0).await;
        assert_eq!(&buf[..n.unwrap()], b"hello World");
        fd.close().await.unwrap();
    });
    std::fs::remove_file(&path).unwrap();
}
