//! compat `File`'s tokio surface beyond reads and writes: a vectored write
//! takes every slice; `Debug` reads as tokio's; `from_std`/`From` keep the
//! std file's position; raw descriptors round-trip; `into_std` and
//! `try_into_std` hand over a file at the caller's position after the
//! write in flight; `try_clone` (which keeps the buffer size), `set_times`
//! (with tokio's `FileTimes` or std's), `metadata` as std's type, and
//! `set_max_buf_size`, which caps reads as well as writes.

mod common;

use common::fs::{File, FileTimes};
use common::{assert_bytes, flavours, payload, TempPath};
use std::io::{IoSlice, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWrite, AsyncWriteExt};

#[test]
fn vectored_write_takes_every_slice() {
    flavours(|| async {
        let path = TempPath::new("vectored");
        let mut file = File::create(&path).await.unwrap();
        let parts = [IoSlice::new(b"first slice, "), IoSlice::new(b"second slice")];
        assert!(file.is_write_vectored());
        let n = file.write_vectored(&parts).await.unwrap();
        assert_eq!(n, 25);
        file.flush().await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first slice, second slice");
    });
}

#[test]
fn debug_reads_as_tokio() {
    flavours(|| async {
        let path = TempPath::new("debug");
        std::fs::write(&path, b"x").unwrap();
        let file = File::open(&path).await.unwrap();
        let text = format!("{file:?}");
        assert!(text.starts_with("tokio::fs::File { std: File { fd:"), "{text}");
        assert!(text.contains("read: true"), "{text}");
    });
}

#[test]
fn std_and_raw_fd_round_trips() {
    flavours(|| async {
        let path = TempPath::new("std");
        let data = payload(3, 100_000);
        std::fs::write(&path, &data).unwrap();

        // `from_std` starts where the std file was.
        let mut std_file = std::fs::File::open(&path).unwrap();
        std_file.seek(SeekFrom::Start(10)).unwrap();
        let mut file = File::from_std(std_file);
        let mut head = [0; 10];
        file.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, &data[10..20]);

        // `into_std` hands over the caller's position (not the read-ahead's).
        let mut std_file = file.into_std().await;
        let mut next = [0; 10];
        std_file.read_exact(&mut next).unwrap();
        assert_eq!(&next, &data[20..30]);

        // `From` and raw descriptors.
        let file: File = std_file.into();
        let raw = file.as_raw_fd();
        assert!(raw >= 0);
        let mut std_file = file.try_into_std().expect("nothing in flight");
        let raw = std_file.as_raw_fd();
        std_file.seek(SeekFrom::Start(0)).unwrap();
        let fd = std_file.into_raw_fd();
        // SAFETY: `fd` came from `into_raw_fd` just above and nothing else owns it.
        let mut file = unsafe { File::from_raw_fd(fd) };
        assert_eq!(file.as_raw_fd(), raw);
        let mut all = Vec::new();
        file.read_to_end(&mut all).await.unwrap();
        assert_bytes(&all, &data, "read through an adopted descriptor");
    });
}

#[test]
fn into_std_waits_for_the_write_in_flight() {
    flavours(|| async {
        let path = TempPath::new("into-std");
        let data = payload(4, 1 << 20);
        let mut file = File::create(&path).await.unwrap();
        file.write_all(&data).await.unwrap(); // the last chunk may still be in flight
        let mut std_file = file.into_std().await;
        assert_eq!(std_file.stream_position().unwrap(), data.len() as u64);
        std_file.write_all(b"tail").unwrap();
        let mut want = data.clone();
        want.extend_from_slice(b"tail");
        assert_bytes(&std::fs::read(&path).unwrap(), &want, "file after into_std");
    });
}

#[test]
fn try_clone_set_times_and_max_buf_size() {
    flavours(|| async {
        let path = TempPath::new("clone");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map(File::from_std)
            .unwrap();
        file.set_max_buf_size(1000);
        let data = payload(5, 5000);
        // With a 1000-byte buffer, one write takes at most 1000 bytes.
        assert_eq!(file.write(&data).await.unwrap(), 1000);
        file.write_all(&data[1000..]).await.unwrap();
        file.flush().await.unwrap();

        let mut clone = file.try_clone().await.unwrap();
        clone.seek(SeekFrom::Start(0)).await.unwrap();
        let mut all = Vec::new();
        clone.read_to_end(&mut all).await.unwrap();
        assert_bytes(&all, &data, "read through the clone");

        let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        file.set_times(std::fs::FileTimes::new().set_modified(when).set_accessed(when))
            .await
            .unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), when);
    });
}

#[test]
fn clone_keeps_the_buffer_size_and_reads_are_capped_by_it() {
    flavours(|| async {
        let path = TempPath::new("capped");
        let data = payload(9, 64 * 1024);
        std::fs::write(&path, &data).unwrap();
        let mut file = File::open(&path).await.unwrap();
        // A large read first, so that the file's buffer has grown past the
        // size set below: the cap must hold anyway.
        let mut big = vec![0; 32 * 1024];
        assert_eq!(file.read(&mut big).await.unwrap(), big.len());
        file.set_max_buf_size(7);
        let mut buf = [0; 1024];
        assert_eq!(file.read(&mut buf).await.unwrap(), 7);
        assert_bytes(&buf[..7], &data[32 * 1024..32 * 1024 + 7], "a capped read");

        let clone = file.try_clone().await.unwrap();
        assert_eq!(clone.max_buf_size(), 7);
    });
}

#[test]
#[should_panic(expected = "`max_buf_size` must be greater than 0")]
fn a_zero_buffer_size_panics_as_with_tokio() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let path = TempPath::new("zero-buf");
        std::fs::write(&path, b"x").unwrap();
        let mut file = File::open(&path).await.unwrap();
        file.set_max_buf_size(0);
    });
}

#[test]
fn metadata_is_std_and_file_times_set_both_times() {
    flavours(|| async {
        let path = TempPath::new("times");
        let mut file = File::create(&path).await.unwrap();
        file.write_all(b"twelve bytes").await.unwrap();
        // Whole seconds: every filesystem keeps those exactly.
        let accessed = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
        let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(1_500_000_000);
        file.set_times(FileTimes::new().set_accessed(accessed).set_modified(modified))
            .await
            .unwrap();
        // After the write in flight: its bytes count in the length.
        let meta: std::fs::Metadata = file.metadata().await.unwrap();
        assert_eq!(meta.len(), 12);
        assert!(meta.is_file());
        assert_eq!(meta.accessed().unwrap(), accessed);
        assert_eq!(meta.modified().unwrap(), modified);
        // `Permissions` and `MetadataExt` are std's, as from tokio.
        let mut perms = meta.permissions();
        perms.set_mode(0o600);
        file.set_permissions(perms).await.unwrap();
        assert_eq!(file.metadata().await.unwrap().mode() & 0o777, 0o600);
        assert_eq!(meta.ino(), std::fs::metadata(&path).unwrap().ino());
    });
}

#[test]
fn as_fd_borrows_the_open_descriptor() {
    flavours(|| async {
        let path = TempPath::new("as-fd");
        std::fs::write(&path, b"four").unwrap();
        let file = File::open(&path).await.unwrap();
        let fd = file.as_fd();
        assert_eq!(fd.as_raw_fd(), file.as_raw_fd());
        // A duplicate of the borrowed descriptor is the same open file.
        let dup = std::fs::File::from(fd.try_clone_to_owned().unwrap());
        assert_eq!(dup.metadata().unwrap().len(), 4);
    });
}
