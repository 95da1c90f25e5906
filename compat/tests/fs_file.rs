//! compat `File`: a create/write/flush/sync/read round trip through
//! `set_len` (shrinking and zero-extending), `metadata`, `sync_data`,
//! read-only and append opens; every `SeekFrom` form with the positions it
//! returns; and reads abandoned by `select!` (against a yield or a timer) that
//! lose no data and leave the cursor where the bytes read say it is.

mod common;

use common::fs::{File, OpenOptions};
use common::{assert_bytes, flavours, payload, write_chunked, TempPath, XorShift};
use std::io::SeekFrom;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

async fn read_all(file: &mut File) -> Vec<u8> {
    let mut data = Vec::new();
    file.read_to_end(&mut data).await.unwrap();
    data
}

#[test]
fn write_sync_truncate_extend_and_read_back() {
    flavours(|| async {
        let path = TempPath::new("round-trip");
        let data = payload(1, 1 << 20);

        let mut file = File::create(&path).await.unwrap();
        write_chunked(&mut file, &data, 1).await;
        file.flush().await.unwrap();
        file.sync_all().await.unwrap();
        assert_eq!(file.metadata().await.unwrap().len(), data.len() as u64);
        drop(file);

        let mut file = OpenOptions::new().read(true).write(true).open(&path).await.unwrap();
        assert_bytes(&read_all(&mut file).await, &data, "file contents");

        file.set_len(1000).await.unwrap();
        assert_eq!(file.metadata().await.unwrap().len(), 1000);
        assert_eq!(file.seek(SeekFrom::Start(0)).await.unwrap(), 0);
        assert_bytes(&read_all(&mut file).await, &data[..1000], "after shrinking");

        file.set_len(5000).await.unwrap();
        assert_eq!(file.seek(SeekFrom::End(0)).await.unwrap(), 5000);
        file.write_all(b"tail").await.unwrap();
        file.flush().await.unwrap();
        file.sync_data().await.unwrap();
        let mut want = data[..1000].to_vec();
        want.resize(5000, 0);
        want.extend_from_slice(b"tail");
        assert_eq!(file.seek(SeekFrom::Start(0)).await.unwrap(), 0);
        assert_bytes(&read_all(&mut file).await, &want, "after extending and appending");
        drop(file);

        let mut file = File::options().append(true).open(&path).await.unwrap();
        file.write_all(b" and more").await.unwrap();
        file.flush().await.unwrap();
        drop(file);
        want.extend_from_slice(b" and more");

        let mut file = File::open(&path).await.unwrap();
        assert_bytes(&read_all(&mut file).await, &want, "read-only reopen");
        let written = async {
            file.write_all(b"x").await?;
            file.flush().await
        };
        assert!(written.await.is_err(), "wrote through a read-only handle");
    });
}

#[test]
fn seek_from_start_current_and_end() {
    flavours(|| async {
        let path = TempPath::new("seek");
        let data = payload(2, 10_000);
        let len = data.len() as u64;
        let mut file = File::create(&path).await.unwrap();
        file.write_all(&data).await.unwrap();
        file.flush().await.unwrap();
        drop(file);

        let mut file = File::open(&path).await.unwrap();
        let mut byte = [0; 1];
        let mut expect_at = async |file: &mut File, pos: u64| {
            file.read_exact(&mut byte).await.unwrap();
            assert_eq!(byte[0], data[pos as usize], "byte at {pos}");
        };
        assert_eq!(file.seek(SeekFrom::Start(100)).await.unwrap(), 100);
        expect_at(&mut file, 100).await;
        assert_eq!(file.seek(SeekFrom::Current(0)).await.unwrap(), 101);
        assert_eq!(file.seek(SeekFrom::Current(-51)).await.unwrap(), 50);
        expect_at(&mut file, 50).await;
        assert_eq!(file.seek(SeekFrom::Current(4000)).await.unwrap(), 4051);
        expect_at(&mut file, 4051).await;
        assert_eq!(file.seek(SeekFrom::End(-1)).await.unwrap(), len - 1);
        expect_at(&mut file, len - 1).await;
        assert_eq!(file.read(&mut byte).await.unwrap(), 0, "read at the end");
        assert_eq!(file.seek(SeekFrom::End(-2000)).await.unwrap(), len - 2000);
        let mut rest = Vec::new();
        file.read_to_end(&mut rest).await.unwrap();
        assert_bytes(&rest, &data[data.len() - 2000..], "last 2000 bytes");
        assert_eq!(file.seek(SeekFrom::Start(len + 100)).await.unwrap(), len + 100);
        assert_eq!(file.read(&mut byte).await.unwrap(), 0, "read past the end");
        assert!(
            file.seek(SeekFrom::Current(-(len as i64) - 1000)).await.is_err(),
            "seek before byte 0"
        );
    });
}

#[test]
fn reads_cancelled_by_select_lose_nothing() {
    flavours(|| async {
        let path = TempPath::new("cancelled-reads");
        let data = payload(3, 4 << 20);
        std::fs::write(&path, &data).unwrap();

        let mut file = File::open(&path).await.unwrap();
        let mut rng = XorShift::new(3);
        let mut buf = vec![0; 16 * 1024];
        let mut got = Vec::with_capacity(data.len());
        loop {
            let len = rng.range(1, buf.len());
            let by_timer = rng.one_in(4);
            let cancel = async move {
                if by_timer {
                    tokio::time::sleep(Duration::from_micros(100)).await;
                } else {
                    tokio::task::yield_now().await;
                }
            };
            tokio::select! {
                n = file.read(&mut buf[..len]) => match n.unwrap() {
                    0 => break,
                    n => got.extend_from_slice(&buf[..n]),
                },
                () = cancel => {}
            }
        }
        assert_bytes(&got, &data, "file read through cancelled reads");
        assert_eq!(file.seek(SeekFrom::Current(0)).await.unwrap(), data.len() as u64);
    });
}
