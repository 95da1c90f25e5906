//! A fixed-file table asked for with more slots than `RLIMIT_NOFILE` allows
//! (the kernel refuses it with `EMFILE`) is registered at the limit instead
//! of falling back to plain descriptors. Its own test binary: it lowers the
//! process's descriptor limit.

use ringio::net::UnixStream;

#[test]
fn a_table_larger_than_the_descriptor_limit_is_clamped_to_it() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    lim.current = Some(256);
    setrlimit(Resource::Nofile, lim).unwrap();
    let Some(rt) = ringio_tests::uring(ringio::Runtime::builder().fixed_files(4096)) else {
        return;
    };
    rt.block_on(async {
        let pairs: Vec<_> = (0..8).map(|_| UnixStream::pair().unwrap()).collect();
        let stats = ringio::runtime::stats().unwrap();
        assert_eq!(stats.fixed_table_full, 0, "{stats:?}");
        assert_eq!(stats.fixed_in_use, 16, "{stats:?}");
        for (a, b) in &pairs {
            a.write_all(b"ping".to_vec()).await.0.unwrap();
            let (res, buf) = b.read_exact(Vec::with_capacity(4)).await;
            res.unwrap();
            assert_eq!(buf, b"ping");
        }
    });
}
