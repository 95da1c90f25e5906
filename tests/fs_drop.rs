//! File and directory operations whose futures are dropped mid-flight (a
//! `select!` or timeout abandoning them): `close` still waits for them, and
//! nothing they created leaks. Its own binary, so counting descriptors is not
//! disturbed by other tests.

use ringio::fs::{Advice, FallocateFlags, File, OpenOptions, SyncRangeFlags};

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ringio-drop-{}-{name}", std::process::id()))
}

async fn rw(path: &std::path::Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .await
        .unwrap()
}

#[test]
fn dropped_operations_keep_close_waiting_and_leak_nothing() {
    let _serial = ringio_tests::fd_serial();
    let path = temp_path("drop");
    let dir = std::env::temp_dir().join(format!("ringio-ops-{}-dropdir", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    ringio_tests::runtime().block_on(async {
        let baseline = ringio_tests::open_fds();
        for _ in 0..20 {
            let f = rw(&path).await;
            // Each future polled once (submitted, or queued on the pool), then dropped.
            ringio_tests::poll_once(f.allocate(0, 1 << 20, FallocateFlags::empty())).await;
            ringio_tests::poll_once(f.set_len(4096)).await;
            ringio_tests::poll_once(f.sync_range(0, 0, SyncRangeFlags::WRITE)).await;
            ringio_tests::poll_once(f.advise(0, 0, Advice::WillNeed)).await;
            ringio_tests::poll_once(ringio::fs::create_dir(&dir)).await;
            ringio_tests::poll_once(ringio::fs::metadata(&path)).await;
            ringio_tests::poll_once(OpenOptions::new().read(true).open(&path)).await;
            // close waits for whatever the kernel or the pool still runs.
            let closing = ringio::time::timeout(ringio_tests::STEP, f.close()).await;
            closing.expect("close hung behind a dropped operation").unwrap();
            let _ = std::fs::remove_dir(&dir);
        }
        ringio_tests::settle().await;
        // Opened descriptors of dropped opens are closed when they complete.
        let deadline = std::time::Instant::now() + ringio_tests::STEP;
        while ringio_tests::open_fds() > baseline && std::time::Instant::now() < deadline {
            ringio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(
            ringio_tests::open_fds(),
            baseline,
            "a dropped operation leaked a descriptor"
        );
    });
    std::fs::remove_file(&path).unwrap();
}
