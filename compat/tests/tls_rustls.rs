//! TLS over compat TCP streams with tokio-rustls on the ring provider: a
//! self-signed certificate made in the test by rcgen, a handshake on TLS 1.3
//! and on TLS 1.2 (checked), 600 KB echoed through the session and verified,
//! and a clean `close_notify` in both directions.

mod common;

use common::net::{TcpListener, TcpStream};
use common::{assert_bytes, exchange, flavours, joined, payload};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio_rustls::rustls::pki_types::{PrivatePkcs8KeyDer, ServerName};
use tokio_rustls::rustls::version::{TLS12, TLS13};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// A server and a client that speak only `version` and trust one fresh
/// certificate for `localhost`.
fn endpoints(version: &'static SupportedProtocolVersion) -> (TlsAcceptor, TlsConnector) {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let certified = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());

    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key.into())
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (
        TlsAcceptor::from(Arc::new(server)),
        TlsConnector::from(Arc::new(client)),
    )
}

fn echo_through_tls(version: &'static SupportedProtocolVersion, seed: u64) {
    flavours(move || async move {
        let (acceptor, connector) = endpoints(version);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let tls = acceptor.accept(tcp).await.unwrap();
            let (mut reader, mut writer) = tokio::io::split(tls);
            tokio::io::copy(&mut reader, &mut writer).await.unwrap();
            writer.shutdown().await.unwrap();
        });

        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, tcp).await.unwrap();
        assert_eq!(tls.get_ref().1.protocol_version(), Some(version.version));
        let data = payload(seed, 600_000);
        let (reader, writer) = tokio::io::split(tls);
        let echoed = exchange(reader, writer, &data, seed).await;
        assert_bytes(&echoed, &data, "echo through TLS");
        joined(server.await);
    });
}

#[test]
fn tls13_echo() {
    echo_through_tls(&TLS13, 1);
}

#[test]
fn tls12_echo() {
    echo_through_tls(&TLS12, 2);
}
