//! Smoke test.
use ringio::net::{TcpListener, TcpStream};

#[test]
fn nop_echo_file() {
    let rt = ringio_tests::runtime();
    rt.block_on(async {
        ringio::nop().await.unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let c = ringio::spawn(async move {
            let s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"hello".to_vec()).await.0.unwrap();
            let (n, buf) = s.read(Vec::with_capacity(16)).await;
            assert_eq!(&buf[..n.unwrap()], b"hello");
        });
        let (s, _) = l.accept().await.unwrap();
        let (n, buf) = s.read(Vec::with_capacity(16)).await;
        let n = n.unwrap();
        s.write_all(buf[..n].to_vec()).await.0.unwrap();
        c.await.unwrap();
        ringio::time::sleep(std::time::Duration::from_millis(5)).await;
        let p = std::env::temp_dir().join("ringio-smoke");
        let f = ringio::fs::File::create(&p).await.unwrap();
        f.write_all_at(b"abc".to_vec(), 0).await.0.unwrap();
        f.sync_all().await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), 3);
        f.close().await.unwrap();
        assert_eq!(std::os::fd::AsRawFd::as_raw_fd(&f), -1);
    });
    println!("{:?}", rt.stats());
}
