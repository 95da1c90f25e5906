//! Bad conditions at the ring level: a full submission queue, completion-queue
//! overflow, a full fixed-file table. Each must degrade, never fail the caller
//! or lose a completion. These test the io_uring driver itself, so they force
//! that backend whatever `RINGIO_BACKEND` says (and skip where it is denied).

use ringio::net::UnixStream;

#[test]
fn full_submission_queue_is_drained_not_failed() {
    let Some(rt) = ringio_tests::uring(ringio::Runtime::builder().entries(4)) else {
        return;
    };
    rt.block_on(async {
        let tasks: Vec<_> = (0..500).map(|_| ringio::spawn(ringio::nop())).collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let stats = ringio_tests::settle().await;
        assert!(stats.sq_full_flushes > 0, "{stats:?}");
        assert_eq!(stats.completed, stats.submitted);
    });
}

#[test]
fn completion_queue_overflow_loses_nothing() {
    // CQ of 8 entries, hundreds of operations completing in one batch.
    let Some(rt) = ringio_tests::uring(ringio::Runtime::builder().entries(8).cq_entries(8)) else {
        return;
    };
    rt.block_on(async {
        let pairs: Vec<_> = (0..64).map(|_| UnixStream::pair().unwrap()).collect();
        // Park a read on every stream, then make them all complete at once.
        let pairs = std::rc::Rc::new(pairs);
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let pairs = pairs.clone();
                ringio::spawn(async move {
                    let (n, buf) = pairs[i].0.read(Vec::with_capacity(8)).await;
                    (n.unwrap(), buf)
                })
            })
            .collect();
        ringio::runtime::yield_now().await;
        for (_, b) in pairs.iter() {
            b.write_all(b"ok".to_vec()).await.0.unwrap();
        }
        let nops: Vec<_> = (0..256).map(|_| ringio::spawn(ringio::nop())).collect();
        for t in tasks {
            let (n, buf) = t.await.unwrap();
            assert_eq!(&buf[..n], b"ok");
        }
        for t in nops {
            t.await.unwrap().unwrap();
        }
        let stats = ringio_tests::settle().await;
        assert_eq!(stats.completed, stats.submitted, "{stats:?}");
        assert!(stats.cq_overflows > 0, "the test did not overflow the CQ: {stats:?}");
    });
}

#[test]
fn full_fixed_file_table_falls_back_to_plain_descriptors() {
    let Some(rt) = ringio_tests::uring(ringio::Runtime::builder().fixed_files(2)) else {
        return;
    };
    rt.block_on(async {
        let pairs: Vec<_> = (0..8).map(|_| UnixStream::pair().unwrap()).collect();
        let stats = ringio::runtime::stats().unwrap();
        assert_eq!(stats.fixed_in_use, 2);
        assert!(stats.fixed_table_full >= 14, "{stats:?}");
        for (a, b) in &pairs {
            a.write_all(b"ping".to_vec()).await.0.unwrap();
            let (res, buf) = b.read_exact(Vec::with_capacity(4)).await;
            res.unwrap();
            assert_eq!(buf, b"ping");
        }
        for (a, b) in &pairs {
            a.close().await.unwrap();
            b.close().await.unwrap();
        }
        assert_eq!(ringio::runtime::stats().unwrap().fixed_in_use, 0);
        // Freed slots are used again.
        let _again = UnixStream::pair().unwrap();
        assert_eq!(ringio::runtime::stats().unwrap().fixed_in_use, 2);
    });
}

#[test]
fn every_setup_mode_works() {
    for mode in [
        ringio::SetupMode::Defer,
        ringio::SetupMode::Coop,
        ringio::SetupMode::Plain,
    ] {
        let Some(rt) = ringio_tests::uring(ringio::Runtime::builder().setup_mode(mode)) else {
            return;
        };
        rt.block_on(async {
            for _ in 0..100 {
                ringio::nop().await.unwrap();
            }
            let (a, b) = UnixStream::pair().unwrap();
            a.write_all(b"m".to_vec()).await.0.unwrap();
            assert_eq!(b.read(Vec::with_capacity(1)).await.1, b"m");
        });
    }
}
