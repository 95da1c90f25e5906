//! `tokio_util::codec` framing over compat streams: thousands of lines of
//! varying length, one of them far larger than any read buffer, go through a
//! server using `Framed<TcpStream, LinesCodec>` and a client using
//! `FramedRead`/`FramedWrite` over owned halves, and come back uppercased, in
//! order, each exactly once; closing the client's sink ends both streams.

mod common;

use common::net::{TcpListener, TcpStream};
use common::{flavours, joined, XorShift};
use futures_util::{stream, SinkExt, StreamExt};
use tokio_util::codec::{Framed, FramedRead, FramedWrite, LinesCodec, LinesCodecError};

const LINES: usize = 5000;

/// `count` lines of lowercase letters, digits and spaces, 0 to 300 bytes
/// long, except one of 200 000 bytes in the middle.
fn lines(seed: u64, count: usize) -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789 ";
    let mut rng = XorShift::new(seed);
    (0..count)
        .map(|i| {
            let len = if i == count / 2 { 200_000 } else { rng.range(0, 300) };
            (0..len)
                .map(|_| ALPHABET[rng.range(0, ALPHABET.len() - 1)] as char)
                .collect()
        })
        .collect()
}

#[test]
fn lines_come_back_uppercased() {
    flavours(|| async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut framed = Framed::new(stream, LinesCodec::new());
            let mut echoed = 0;
            while let Some(line) = framed.next().await {
                framed.send(line.unwrap().to_uppercase()).await.unwrap();
                echoed += 1;
            }
            SinkExt::<String>::close(&mut framed).await.unwrap();
            echoed
        });

        let (read, write) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut sink = FramedWrite::new(write, LinesCodec::new());
        let mut source = FramedRead::new(read, LinesCodec::new());
        let sent = lines(7, LINES);
        let send = async {
            let mut lines = stream::iter(sent.clone().into_iter().map(Ok::<_, LinesCodecError>));
            sink.send_all(&mut lines).await.unwrap();
            SinkExt::<String>::close(&mut sink).await.unwrap();
        };
        let receive = async {
            let mut received = Vec::new();
            while let Some(line) = source.next().await {
                received.push(line.unwrap());
            }
            received
        };
        let ((), received) = tokio::join!(send, receive);

        assert_eq!(received.len(), LINES, "lines received");
        for (i, (got, sent)) in received.iter().zip(&sent).enumerate() {
            assert!(
                *got == sent.to_uppercase(),
                "line {i} ({} bytes) came back wrong",
                sent.len()
            );
        }
        assert_eq!(joined(server.await), LINES, "lines echoed");
    });
}
