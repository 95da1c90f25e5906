//! 10,000 sequential connect/accept/close cycles end with the same number of
//! open descriptors and an empty fixed-file table.

use ringio::net::{TcpListener, TcpStream};

#[test]
fn ten_thousand_connect_accept_close_cycles() {
    let _serial = ringio_tests::fd_serial();
    let rt = ringio_tests::runtime();
    let before = ringio_tests::open_fds();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let fixed_before = ringio::runtime::stats().unwrap().fixed_in_use;
        for i in 0..10_000u32 {
            let client = ringio::spawn(async move { TcpStream::connect(addr).await.unwrap() });
            let (server, _) = listener.accept().await.unwrap();
            let client = client.await.unwrap();
            if i % 2 == 0 {
                server.close().await.unwrap();
                client.close().await.unwrap();
            } else {
                // Dropping closes too, without blocking.
                drop(server);
                drop(client);
            }
        }
        let stats = ringio_tests::settle().await;
        assert_eq!(stats.fixed_in_use, fixed_before, "fixed slots leaked: {stats:?}");
        listener.close().await.unwrap();
    });
    assert_eq!(ringio_tests::open_fds(), before);
}
