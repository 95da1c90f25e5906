//! The store: segment files of records (`record.rs`), the in-memory index
//! rebuilt from them at start, recovery of a torn tail, and the writer task
//! that group-commits puts: every put waiting when a batch starts goes into
//! one aligned write and one `fdatasync`, and each is acknowledged only after
//! that `fdatasync` returned.
//!
//! Layout of the data directory:
//!
//! ```text
//! FORMAT                          "ringio-logstore 1" and the record alignment
//! seg-00000000000000000001.log    records with seq 1, 2, ... (the name is the first seq)
//! seg-00000000000000004711.log    the next segment, started when the previous was full
//! ```
//!
//! Durability argument. A batch is written at the end of the active segment
//! and made durable with `fdatasync` (which also persists the file size)
//! before any put in it is acknowledged and before the next batch is
//! written. A new segment's directory entry is made durable (`fsync` of the
//! directory) before anything in it is acknowledged. So at a crash, every
//! acknowledged record lies, intact, before the first damaged or missing
//! record of the last segment; recovery keeps the longest run of valid
//! records with consecutive sequence numbers and truncates the rest, which
//! can only hold records of the batch in flight (never acknowledged).

use crate::record::{self, HEADER};
use ringio::buf::AlignedBuf;
use ringio::fs::{self, FallocateFlags, File, OpenOptions};
use std::cell::RefCell;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use tokio::sync::{mpsc, oneshot};

/// How the store is opened.
#[derive(Debug, Clone)]
pub struct Config {
    pub dir: PathBuf,
    /// Size at which a segment is closed and the next one started.
    pub segment_bytes: u64,
    /// Upper bound on the bytes one group commit writes.
    pub max_batch_bytes: usize,
    /// Do not even try `O_DIRECT`.
    pub buffered: bool,
}

/// Where a record lives.
#[derive(Debug, Clone, Copy)]
struct Loc {
    segment: u32,
    offset: u64,
    len: u32,
}

struct Segment {
    first_seq: u64,
    file: File,
}

struct State {
    segments: Vec<Rc<Segment>>,
    /// `index[seq - 1]`: sequence numbers are dense.
    index: Vec<Loc>,
    /// Set when a write or sync failed: after a failed `fdatasync` the file's
    /// state is unknown, so the store refuses further puts.
    failed: Option<String>,
}

struct Pending {
    blob: Vec<u8>,
    ack: oneshot::Sender<io::Result<u64>>,
}

/// An open store. Single-threaded: it lives on one ringio runtime.
pub struct Store {
    dir: PathBuf,
    /// Every record starts at a multiple of this and is padded to it.
    align: usize,
    /// Alignment of the buffers (the direct-I/O memory alignment).
    mem_align: usize,
    direct: bool,
    cfg: Config,
    state: RefCell<State>,
    queue: mpsc::UnboundedSender<Pending>,
}

/// What the writer task owns: the queue of puts and the end of the log.
pub struct Writer {
    store: Rc<Store>,
    rx: mpsc::UnboundedReceiver<Pending>,
    /// Write offset in the last segment.
    end: u64,
    next_seq: u64,
}

const FORMAT: &str = "FORMAT";
const FORMAT_MAGIC: &str = "ringio-logstore 1";
/// Record alignment for a new store where direct I/O reports none.
const DEFAULT_ALIGN: usize = 4096;
/// Bytes read per step while scanning a segment at start.
const SCAN_CHUNK: usize = 1 << 20;

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn segment_name(first_seq: u64) -> String {
    format!("seg-{first_seq:020}.log")
}

impl Store {
    /// Opens (or creates) the store in `cfg.dir`: reads the format, opens
    /// every segment (with `O_DIRECT` unless unsupported or `cfg.buffered`),
    /// rebuilds the index and truncates a torn tail.
    pub async fn open(cfg: Config) -> io::Result<(Rc<Store>, Writer)> {
        fs::create_dir_all(&cfg.dir).await?;
        let (direct, probed) = probe_direct(&cfg).await;
        let align = read_or_create_format(&cfg.dir, probed.map(|a| a.offset())).await?;
        let mem_align = probed.map_or(DEFAULT_ALIGN, |a| a.memory()).max(align);
        if let Some(a) = probed {
            if align % a.offset() != 0 {
                return Err(invalid(format!(
                    "store alignment {align} is not a multiple of this filesystem's direct-I/O alignment {}",
                    a.offset()
                )));
            }
        }
        tracing::info!(dir = %cfg.dir.display(), direct, align, mem_align, "opening log store");
        let (tx, rx) = mpsc::unbounded_channel();
        let store = Rc::new(Store {
            dir: cfg.dir.clone(),
            align,
            mem_align,
            direct,
            cfg,
            state: RefCell::new(State {
                segments: Vec::new(),
                index: Vec::new(),
                failed: None,
            }),
            queue: tx,
        });
        let (end, next_seq) = store.recover().await?;
        let writer = Writer {
            store: store.clone(),
            rx,
            end,
            next_seq,
        };
        Ok((store, writer))
    }

    /// Whether segments are open with `O_DIRECT`.
    pub fn direct(&self) -> bool {
        self.direct
    }

    /// The highest durable sequence number (0: empty).
    pub fn last(&self) -> u64 {
        self.state.borrow().index.len() as u64
    }

    /// Appends `blob`; returns its sequence number once it is durable.
    pub async fn put(&self, blob: Vec<u8>) -> io::Result<u64> {
        if let Some(why) = &self.state.borrow().failed {
            return Err(io::Error::other(format!("store failed earlier: {why}")));
        }
        let (ack, done) = oneshot::channel();
        self.queue
            .send(Pending { blob, ack })
            .map_err(|_| io::Error::other("the writer has stopped"))?;
        done.await.map_err(|_| io::Error::other("the writer has stopped"))?
    }

    /// The record `seq`: a buffer holding the on-disk record, payload at
    /// `HEADER..HEADER + len`, checksum verified. `None` if no such record.
    pub async fn get(&self, seq: u64) -> io::Result<Option<(AlignedBuf, usize)>> {
        let (loc, segment) = {
            let st = self.state.borrow();
            let Some(loc) = seq.checked_sub(1).and_then(|i| st.index.get(i as usize)).copied() else {
                return Ok(None);
            };
            (loc, st.segments[loc.segment as usize].clone())
        };
        let size = record::size_on_disk(loc.len as usize, self.align);
        let buf = AlignedBuf::new(size, self.mem_align)?;
        let (res, buf) = segment.file.read_exact_at(buf, loc.offset).await;
        res?;
        match record::header(&buf) {
            Some(h) if h.seq == seq && h.len == loc.len as usize && record::verify(&h, &buf) => {
                Ok(Some((buf, loc.len as usize)))
            }
            _ => Err(invalid(format!("record {seq} failed its checksum on read"))),
        }
    }

    async fn open_segment(&self, path: &Path, create: bool) -> io::Result<File> {
        let mut o = OpenOptions::new();
        o.read(true).write(true).direct(self.direct);
        if create {
            o.create_new(true);
        }
        o.open(path).await
    }

    /// Scans every segment in order, filling the index; returns the write
    /// offset of the last segment and the next sequence number.
    async fn recover(&self) -> io::Result<(u64, u64)> {
        let mut firsts = Vec::new();
        // Listing a directory has no io_uring opcode; done once, at start.
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(seq) = name.strip_prefix("seg-").and_then(|r| r.strip_suffix(".log")) {
                firsts.push(
                    seq.parse::<u64>()
                        .map_err(|_| invalid(format!("bad segment name {name}")))?,
                );
            }
        }
        firsts.sort_unstable();
        if firsts.is_empty() {
            self.add_segment(1).await?;
            return Ok((0, 1));
        }
        let mut next_seq = firsts[0];
        if next_seq != 1 {
            return Err(invalid(format!("first segment starts at seq {next_seq}, not 1")));
        }
        let mut end = 0;
        for (i, &first) in firsts.iter().enumerate() {
            if first != next_seq {
                return Err(invalid(format!(
                    "segment {} starts at seq {first}, but the previous one ends before {next_seq}",
                    segment_name(first)
                )));
            }
            let path = self.dir.join(segment_name(first));
            let file = self.open_segment(&path, false).await?;
            let len = file.metadata().await?.len();
            let index = i as u32;
            let (valid_end, seq) = self.scan(&file, index, first, len).await?;
            if valid_end < len {
                if i + 1 < firsts.len() {
                    return Err(invalid(format!(
                        "{} is damaged at offset {valid_end} (of {len}) and is not the last segment",
                        path.display()
                    )));
                }
                tracing::warn!(
                    segment = %path.display(),
                    at = valid_end,
                    dropped = len - valid_end,
                    "torn tail after the last intact record: truncating (it was never acknowledged)"
                );
                file.set_len(valid_end).await?;
                file.sync_all().await?;
            }
            self.state
                .borrow_mut()
                .segments
                .push(Rc::new(Segment { first_seq: first, file }));
            next_seq = seq;
            end = valid_end;
        }
        tracing::info!(records = next_seq - 1, segments = firsts.len(), "index rebuilt");
        Ok((end, next_seq))
    }

    /// Reads the valid records of one segment into the index; returns where
    /// they end and the next sequence number.
    async fn scan(&self, file: &File, segment: u32, mut seq: u64, len: u64) -> io::Result<(u64, u64)> {
        let mut off = 0u64;
        let mut chunk = SCAN_CHUNK;
        while off < len {
            let want = chunk.min(self.round_up((len - off) as usize));
            let (filled, data) = read_full(file, AlignedBuf::new(want, self.mem_align)?, off).await?;
            let mut pos = 0;
            let mut need_more = false;
            while pos < filled {
                let Some(h) = record::header(&data[pos..filled]) else {
                    return Ok((off + pos as u64, seq));
                };
                if h.seq != seq {
                    return Ok((off + pos as u64, seq));
                }
                let size = record::size_on_disk(h.len, self.align);
                if pos + size > filled {
                    if off + (pos + size) as u64 > len {
                        return Ok((off + pos as u64, seq)); // runs past the end: torn
                    }
                    need_more = true;
                    break;
                }
                if !record::verify(&h, &data[pos..pos + HEADER + h.len]) {
                    return Ok((off + pos as u64, seq));
                }
                self.state.borrow_mut().index.push(Loc {
                    segment,
                    offset: off + pos as u64,
                    len: h.len as u32,
                });
                seq += 1;
                pos += size;
            }
            if need_more && pos == 0 {
                chunk = chunk.max(record::size_on_disk(record::MAX_PAYLOAD, self.align));
            }
            if filled == 0 {
                return Ok((off, seq));
            }
            off += pos as u64;
        }
        Ok((off, seq))
    }

    fn round_up(&self, n: usize) -> usize {
        n.div_ceil(self.align) * self.align
    }

    /// Creates the segment starting at `first_seq`, preallocates it, and
    /// makes its directory entry durable.
    async fn add_segment(&self, first_seq: u64) -> io::Result<()> {
        let path = self.dir.join(segment_name(first_seq));
        let file = self.open_segment(&path, true).await?;
        // Reserve the space without changing the size (which recovery reads).
        if let Err(err) = file
            .allocate(0, self.cfg.segment_bytes, FallocateFlags::KEEP_SIZE)
            .await
        {
            tracing::debug!(%err, "fallocate not supported here; the segment grows as written");
        }
        sync_dir(&self.dir).await?;
        tracing::debug!(segment = %path.display(), "new segment");
        self.state
            .borrow_mut()
            .segments
            .push(Rc::new(Segment { first_seq, file }));
        Ok(())
    }
}

impl Writer {
    /// Runs until every `Store` handle is gone: takes every put that is
    /// waiting, writes them as one batch, syncs once, acknowledges each.
    pub async fn run(mut self) {
        while let Some(first) = self.rx.recv().await {
            let mut bytes = record::size_on_disk(first.blob.len(), self.store.align);
            let mut batch = vec![first];
            while bytes < self.store.cfg.max_batch_bytes {
                match self.rx.try_recv() {
                    Ok(p) => {
                        bytes += record::size_on_disk(p.blob.len(), self.store.align);
                        batch.push(p);
                    }
                    Err(_) => break,
                }
            }
            let failed = self.store.state.borrow().failed.clone();
            let res = match failed {
                Some(why) => Err(io::Error::other(format!("store failed earlier: {why}"))),
                None => self.commit(&batch, bytes).await,
            };
            match res {
                Ok(first_seq) => {
                    for (i, p) in batch.into_iter().enumerate() {
                        let _ = p.ack.send(Ok(first_seq + i as u64));
                    }
                }
                Err(err) => {
                    tracing::error!(%err, "group commit failed; the store refuses further puts");
                    self.store
                        .state
                        .borrow_mut()
                        .failed
                        .get_or_insert_with(|| err.to_string());
                    for p in batch {
                        let _ = p.ack.send(Err(io::Error::new(err.kind(), err.to_string())));
                    }
                }
            }
        }
    }

    /// One group commit: returns the sequence number of the first put.
    async fn commit(&mut self, batch: &[Pending], bytes: usize) -> io::Result<u64> {
        let store = self.store.clone();
        if self.end > 0 && self.end + bytes as u64 > store.cfg.segment_bytes {
            store.add_segment(self.next_seq).await?;
            self.end = 0;
        }
        let segment = store.state.borrow().segments.last().expect("a segment").clone();
        debug_assert!(segment.first_seq <= self.next_seq);
        let mut buf = AlignedBuf::new(bytes, store.mem_align)?;
        let mut locs = Vec::with_capacity(batch.len());
        let index = store.state.borrow().segments.len() as u32 - 1;
        for (i, p) in batch.iter().enumerate() {
            locs.push(Loc {
                segment: index,
                offset: self.end + buf.len() as u64,
                len: p.blob.len() as u32,
            });
            record::encode(self.next_seq + i as u64, &p.blob, store.align, &mut buf);
        }
        let (res, _) = segment.file.write_all_at(buf, self.end).await;
        res?;
        // The one sync the whole batch shares.
        segment.file.sync_data().await?;
        store.state.borrow_mut().index.extend(locs);
        let first = self.next_seq;
        self.next_seq += batch.len() as u64;
        self.end += bytes as u64;
        Ok(first)
    }
}

/// Whether `O_DIRECT` works in `cfg.dir`, and its alignment, found with a
/// probe file; a filesystem without it (tmpfs before Linux 6.6, some FUSE)
/// gets buffered I/O, with the reason logged.
async fn probe_direct(cfg: &Config) -> (bool, Option<ringio::fs::DioAlignment>) {
    if cfg.buffered {
        tracing::info!("buffered I/O requested (--buffered)");
        return (false, None);
    }
    let probe = cfg.dir.join(".direct-probe");
    let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .direct(true)
        .open(&probe)
        .await;
    let result = match opened {
        Ok(f) => {
            let a = f.dio_alignment().await;
            let _ = f.close().await;
            a
        }
        Err(e) => Err(e),
    };
    let _ = fs::remove_file(&probe).await;
    match result {
        Ok(a) => (true, Some(a)),
        Err(err) => {
            tracing::warn!(%err, dir = %cfg.dir.display(), "O_DIRECT unavailable here; segments use buffered I/O (still fdatasync'd)");
            (false, None)
        }
    }
}

/// The record alignment: from `FORMAT`, or chosen now (the direct-I/O
/// offset alignment, at least 512) and written durably.
async fn read_or_create_format(dir: &Path, dio_offset: Option<usize>) -> io::Result<usize> {
    let path = dir.join(FORMAT);
    match fs::read_to_string(&path).await {
        Ok(text) => {
            let mut lines = text.lines();
            if lines.next() != Some(FORMAT_MAGIC) {
                return Err(invalid(format!(
                    "{} is not a ringio log store format file",
                    path.display()
                )));
            }
            lines
                .find_map(|l| l.strip_prefix("align "))
                .and_then(|n| n.trim().parse::<usize>().ok())
                .filter(|n| n.is_power_of_two() && *n >= 512)
                .ok_or_else(|| invalid(format!("{}: no valid `align` line", path.display())))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let align = dio_offset.unwrap_or(DEFAULT_ALIGN).max(512);
            let tmp = dir.join("FORMAT.tmp");
            let f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)
                .await?;
            f.write_all_at(format!("{FORMAT_MAGIC}\nalign {align}\n").into_bytes(), 0)
                .await
                .0?;
            f.sync_all().await?;
            f.close().await?;
            fs::rename(&tmp, &path).await?;
            sync_dir(dir).await?;
            Ok(align)
        }
        Err(e) => Err(e),
    }
}

async fn sync_dir(dir: &Path) -> io::Result<()> {
    let d = File::open_dir(dir).await?;
    let res = d.sync_all().await;
    d.close().await?;
    res
}

/// Reads into `buf` at `off` until it is full or the file ends; returns the
/// bytes read.
async fn read_full(file: &File, buf: AlignedBuf, off: u64) -> io::Result<(usize, AlignedBuf)> {
    let (res, buf) = file.read_at(buf, off).await;
    let n = res?;
    // One read of an aligned range returns all of it unless the file ends
    // inside it; a short read therefore means end of file.
    Ok((n, buf))
}
