//! `ringio_compat::udp::UdpFramed` (the `codec` feature): tokio-util codecs
//! over compat UDP sockets. `LinesCodec` lines go out one per datagram and
//! come back uppercased, with their senders, and a datagram of several lines
//! decodes into each of them in order; `BytesCodec` datagrams of up to 60 000
//! bytes go through a reader and a writer framed on one shared socket; and a
//! storm of `send`/`feed` futures dropped at random points, against a
//! receiver whose `next()` futures are dropped too, delivers exactly the
//! frames the codec encoded, each once, in order, one per datagram.

mod common;

use bytes::{Bytes, BytesMut};
use common::net::UdpSocket;
use common::{assert_bytes, flavours, joined, payload, poll_up_to, scaled, seed, XorShift};
use futures_util::{SinkExt, StreamExt};
use ringio_compat::udp::UdpFramed;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tokio_util::codec::{BytesCodec, Encoder, LinesCodec};

/// Datagrams sent but not yet received, at most: far below what a
/// loopback socket's receive buffer holds, so the kernel drops none.
const WINDOW: usize = 32;

async fn bound() -> (UdpSocket, SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

#[test]
fn lines_go_out_one_per_datagram_and_come_back_uppercased() {
    flavours(|| async {
        let ((client, client_addr), (server, server_addr)) = (bound().await, bound().await);
        let mut server = UdpFramed::new(server, LinesCodec::new());
        let echo = tokio::spawn(async move {
            while let Some(line) = server.next().await {
                let (line, from) = line.unwrap();
                if line == "quit" {
                    break;
                }
                server.send((line.to_uppercase(), from)).await.unwrap();
            }
        });

        let mut client = UdpFramed::new(client, LinesCodec::new());
        let mut rng = XorShift::new(3);
        for i in 0..1000 {
            let line: String = (0..rng.range(0, 200))
                .map(|_| (b'a' + rng.range(0, 25) as u8) as char)
                .collect();
            client.send((format!("{i} {line}"), server_addr)).await.unwrap();
            let (back, from) = client.next().await.unwrap().unwrap();
            assert_eq!(back, format!("{i} {}", line.to_uppercase()));
            assert_eq!(from, server_addr);
        }
        client.send(("quit".to_string(), server_addr)).await.unwrap();
        joined(echo.await);

        // One datagram of several lines: each line is a frame, the last one
        // without its newline too (a datagram is the codec's whole input).
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sender.send_to(b"one\ntwo\n\nthree", client_addr).await.unwrap();
        for want in ["one", "two", "", "three"] {
            let (line, from) = client.next().await.unwrap().unwrap();
            assert_eq!(line, want);
            assert_eq!(from, sender.local_addr().unwrap());
        }
        assert!(client.read_buffer().is_empty());
    });
}

#[test]
fn bytes_through_a_reader_and_a_writer_on_one_socket() {
    flavours(|| async {
        let (a, a_addr) = bound().await;
        let (b, b_addr) = bound().await;
        let a = Arc::new(a);
        let mut reader = UdpFramed::new(Arc::clone(&a), BytesCodec::new());
        let mut writer = UdpFramed::new(a, BytesCodec::new());
        let mut peer = UdpFramed::new(b, BytesCodec::new());
        let mut rng = XorShift::new(4);
        for round in 0..200 {
            let data = payload(round, rng.range(0, 60_000));
            writer.send((Bytes::from(data.clone()), b_addr)).await.unwrap();
            let (got, from) = peer.next().await.unwrap().unwrap();
            assert_bytes(&got, &data, "datagram at the peer");
            assert_eq!(from, a_addr);
            peer.send((got.freeze(), a_addr)).await.unwrap();
            let (back, from) = reader.next().await.unwrap().unwrap();
            assert_bytes(&back, &data, "datagram back at the reader");
            assert_eq!(from, b_addr);
        }
    });
}

/// `BytesCodec` that records every frame it encodes: what the receiver
/// must get, whatever happened to the futures that sent them.
#[derive(Clone, Default)]
struct Recording {
    encoded: Arc<Mutex<Vec<Bytes>>>,
}

impl Encoder<Bytes> for Recording {
    type Error = std::io::Error;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> std::io::Result<()> {
        self.encoded.lock().unwrap().push(item.clone());
        BytesCodec::new().encode(item, dst)
    }
}

/// The storm's last frame (its others are 8 bytes or more; an empty
/// datagram is no frame to `BytesCodec`).
const END: &[u8] = b"end";

/// How long the sender waits for the receiver to catch up before it
/// concludes that frames were lost.
const STALL: std::time::Duration = std::time::Duration::from_secs(5);

/// Sends dropped per storm at the CI size.
const SEND_DROPS: usize = 10_000;

/// 10^4 (times `RINGIO_STRESS`) `send` and `feed` futures polled 0 to 2
/// times and dropped, so some frames are never encoded, some are encoded
/// and left for the next `poll_ready` to send, and some are sent; the
/// receiver drops `next()` futures between polls too. It must receive
/// exactly the encoded frames, in order, each in its own datagram. The seed
/// is printed; `RINGIO_TEST_SEED` replays it.
#[test]
fn dropped_sends_and_receives_deliver_exactly_the_encoded_frames() {
    let seed = seed("dropped_sends_and_receives_deliver_exactly_the_encoded_frames");
    flavours(move || async move {
        let (tx, _) = bound().await;
        let (rx, rx_addr) = bound().await;
        let codec = Recording::default();
        let encoded = Arc::clone(&codec.encoded);
        let (received_tx, mut received) = watch::channel(0usize);
        let rounds = scaled(SEND_DROPS);

        let receiver = tokio::spawn(async move {
            let mut framed = UdpFramed::new(rx, BytesCodec::new());
            let mut rng = XorShift::new(!seed);
            let mut got = Vec::new();
            let mut dropped = 0;
            loop {
                let mut next = None;
                let finished = poll_up_to(
                    async {
                        next = framed.next().await;
                    },
                    rng.range(1, 3),
                )
                .await;
                if !finished {
                    dropped += 1;
                    continue;
                }
                let (frame, _from) = next.unwrap().unwrap();
                if frame[..] == END[..] {
                    break;
                }
                got.push(frame.freeze());
                received_tx.send_replace(got.len());
            }
            (got, dropped)
        });

        let mut framed = UdpFramed::new(tx, codec);
        let mut rng = XorShift::new(seed);
        for round in 0..rounds {
            // Keep the receiver within the window. A receiver that never
            // catches up has lost frames: stop, and let the comparison below
            // report the difference (a hang detector, not a timing).
            let sent = encoded.lock().unwrap().len();
            let caught_up = received.wait_for(|&got| sent <= got + WINDOW);
            if tokio::time::timeout(STALL, caught_up).await.is_err() {
                break;
            }
            let mut frame = (round as u64 + 1).to_le_bytes().to_vec();
            frame.extend(payload(round as u64, rng.range(0, 100)));
            let item = (Bytes::from(frame), rx_addr);
            let polls = rng.range(0, 2);
            if rng.one_in(2) {
                poll_up_to(framed.send(item), polls).await;
            } else {
                poll_up_to(framed.feed(item), polls).await;
            }
        }
        framed.flush().await.unwrap();
        framed.send((Bytes::from_static(END), rx_addr)).await.unwrap();

        let (got, dropped_receives) = joined(receiver.await);
        let encoded = encoded.lock().unwrap().clone();
        let encoded = &encoded[..encoded.len() - 1]; // less the end marker
        for (i, (got, want)) in got.iter().zip(encoded).enumerate() {
            assert_bytes(got, want, &format!("frame {i}"));
        }
        assert_eq!(got.len(), encoded.len(), "frames received against frames encoded");
        assert!(encoded.len() < rounds, "some sends were dropped before they encoded");
        eprintln!(
            "{} of {rounds} frames encoded and received; {dropped_receives} receives dropped",
            got.len()
        );
    });
}
