//! `MemFd`: size, positional I/O on the runtime, seals and what they
//! forbid, read-only maps of sealed files, writable maps, unmapping on drop,
//! mappings outliving the descriptor, close.
#![cfg(target_os = "linux")]

use ringio::linux::{MemFd, MemFdFlags, Seals};
use ringio_tests::runtime;
use std::io;

const FROZEN: Seals = Seals::WRITE.union(Seals::SHRINK).union(Seals::GROW).union(Seals::SEAL);

/// Lines of `/proc/self/maps` that map the memfd called `name`.
fn mappings_of(name: &str) -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let needle = format!("/memfd:{name} ");
    maps.lines().filter(|l| l.contains(&needle)).count()
}

#[test]
fn size_and_positional_io() {
    runtime().block_on(async {
        let memfd = MemFd::new("ringio-size-io").unwrap();
        assert_eq!(memfd.len().unwrap(), 0);
        memfd.fd().write_at(b"hello".to_vec(), 3).await.0.unwrap();
        assert_eq!(memfd.len().unwrap(), 8);
        memfd.set_len(10).unwrap();
        let (n, buf) = memfd.fd().read_at(Vec::with_capacity(16), 0).await;
        assert_eq!(&buf[..n.unwrap()], b"\0\0\0hello\0\0");
        memfd.set_len(4).unwrap();
        assert_eq!(memfd.len().unwrap(), 4);
    });
}

#[test]
fn seals_are_reported_and_enforced() {
    runtime().block_on(async {
        let memfd = MemFd::new("ringio-seals").unwrap();
        memfd.set_len(8).unwrap();
        assert_eq!(memfd.seals().unwrap(), Seals::empty());
        memfd.seal(Seals::GROW | Seals::SHRINK).unwrap();
        assert_eq!(memfd.seals().unwrap(), Seals::GROW | Seals::SHRINK);
        assert_eq!(memfd.set_len(16).unwrap_err().raw_os_error(), Some(libc::EPERM));
        assert_eq!(memfd.set_len(4).unwrap_err().raw_os_error(), Some(libc::EPERM));

        memfd.seal(Seals::WRITE).unwrap();
        let (res, _) = memfd.fd().write_at(b"x".to_vec(), 0).await;
        assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EPERM));

        memfd.seal(Seals::SEAL).unwrap();
        assert_eq!(memfd.seal(Seals::EXEC).unwrap_err().raw_os_error(), Some(libc::EPERM));
    });
}

#[test]
fn sealing_must_be_allowed_at_creation() {
    let memfd = MemFd::with_flags("ringio-unsealable", MemFdFlags::empty()).unwrap();
    assert_eq!(memfd.seals().unwrap(), Seals::SEAL);
    assert_eq!(memfd.seal(Seals::WRITE).unwrap_err().raw_os_error(), Some(libc::EPERM));
}

#[test]
fn a_read_only_map_needs_the_write_and_shrink_seals() {
    runtime().block_on(async {
        let memfd = MemFd::new("ringio-map-ro").unwrap();
        memfd.fd().write_at(b"sealed bytes".to_vec(), 0).await.0.unwrap();
        assert_eq!(memfd.map().unwrap_err().kind(), io::ErrorKind::InvalidInput);
        memfd.seal(Seals::WRITE).unwrap();
        assert_eq!(memfd.map().unwrap_err().kind(), io::ErrorKind::InvalidInput);
        memfd.seal(Seals::SHRINK).unwrap();
        let region = memfd.map().unwrap();
        assert_eq!(&region[..], b"sealed bytes");
    });
}

#[test]
fn writes_through_a_writable_map_land_in_the_file() {
    runtime().block_on(async {
        let memfd = MemFd::new("ringio-map-rw").unwrap();
        memfd.set_len(6).unwrap();
        memfd.seal(Seals::SHRINK).unwrap();
        // SAFETY: this memfd is private to the test: nothing else maps or
        // writes it while `region` lives, and it cannot shrink (sealed).
        let mut region = unsafe { memfd.map_mut() }.unwrap();
        region.copy_from_slice(b"mapped");
        assert_eq!(
            memfd.seal(Seals::WRITE).unwrap_err().raw_os_error(),
            Some(libc::EBUSY),
            "a writable mapping exists"
        );
        drop(region);
        let (n, buf) = memfd.fd().read_at(Vec::with_capacity(8), 0).await;
        assert_eq!(&buf[..n.unwrap()], b"mapped");
        memfd.seal(Seals::WRITE).unwrap();
        // SAFETY: as above; the call is refused anyway (sealed against writes).
        let refused = unsafe { memfd.map_mut() }.unwrap_err();
        assert_eq!(refused.raw_os_error(), Some(libc::EPERM));
    });
}

#[test]
fn regions_are_unmapped_on_drop_and_outlive_the_descriptor() {
    let name = format!("ringio-unmap-{}", std::process::id());
    runtime().block_on(async {
        let memfd = MemFd::new(&name).unwrap();
        memfd.fd().write_at(b"kept".to_vec(), 0).await.0.unwrap();
        memfd.seal(FROZEN).unwrap();
        let (a, b) = (memfd.map().unwrap(), memfd.map().unwrap());
        assert_eq!(mappings_of(&name), 2);
        drop(a);
        assert_eq!(mappings_of(&name), 1);
        memfd.close().await.unwrap();
        assert_eq!(&b[..], b"kept", "a mapping stays valid after close");
        drop(b);
        assert_eq!(mappings_of(&name), 0);
    });
}

#[test]
fn an_empty_file_maps_to_an_empty_slice() {
    let memfd = MemFd::new("ringio-empty").unwrap();
    memfd.seal(FROZEN).unwrap();
    assert!(memfd.map().unwrap().is_empty());
}

#[test]
fn every_call_after_close_fails_with_closed() {
    runtime().block_on(async {
        let memfd = MemFd::new("ringio-closed").unwrap();
        memfd.close().await.unwrap();
        memfd.close().await.unwrap();
        assert_eq!(memfd.fd().raw(), -1);
        for err in [
            memfd.len().unwrap_err(),
            memfd.set_len(1).unwrap_err(),
            memfd.seal(Seals::GROW).unwrap_err(),
            memfd.seals().unwrap_err(),
            memfd.map().unwrap_err(),
            memfd.fd().read_at(Vec::with_capacity(1), 0).await.0.unwrap_err(),
        ] {
            assert!(ringio::Error::is_closed(&err), "{err:?}");
        }
    });
}
