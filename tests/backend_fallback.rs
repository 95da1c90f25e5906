//! io_uring made unavailable for real, the way a container does it: a child
//! process installs a seccomp filter that answers `io_uring_setup` with
//! `EPERM`, then runs an echo and a file read on a default runtime. The
//! runtime must pick epoll by itself, work, and report it; forcing io_uring
//! there must fail with a clear, typed error.

use ringio::net::{TcpListener, TcpStream};
use std::process::Command;

const CHILD_ENV: &str = "RINGIO_SECCOMP_CHILD";
const CHILD_OK: &str = "seccomp child: fell back to epoll and worked";

/// `io_uring_setup`'s number is the same on every Linux architecture (425).
const SYS_IO_URING_SETUP: u32 = 425;

/// Installs `io_uring_setup -> EPERM` for this process (all threads).
fn deny_io_uring() {
    const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let filter = [
        // A = seccomp_data.nr
        libc::sock_filter {
            code: BPF_LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 0,
        },
        libc::sock_filter {
            code: BPF_JEQ_K,
            jt: 0,
            jf: 1,
            k: SYS_IO_URING_SETUP,
        },
        libc::sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        },
        libc::sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        },
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut _,
    };
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only.
    assert_eq!(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }, 0);
    // SAFETY: `prog` points at `filter`, both alive for the call; the kernel copies the program.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &prog as *const libc::sock_fprog,
        )
    };
    assert_eq!(rc, 0, "seccomp: {}", std::io::Error::last_os_error());
}

fn child() {
    deny_io_uring();
    // Forcing io_uring is a clear error, not a panic or a silent fallback.
    let err = ringio::Runtime::builder()
        .backend(ringio::Backend::IoUring)
        .build()
        .err()
        .expect("io_uring denied");
    assert_eq!(err.kind(), std::io::ErrorKind::Unsupported, "{err}");
    assert!(matches!(ringio::Error::of(&err), Some(ringio::Error::Unsupported(why)) if why.contains("denied")));

    let rt = ringio::Runtime::new().expect("automatic fallback");
    assert_eq!(rt.backend(), ringio::Backend::Epoll);
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let c = ringio::spawn(async move {
            let s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"echo me".to_vec()).await.0.unwrap();
            let (res, buf) = s.read_exact(Vec::with_capacity(7)).await;
            res.unwrap();
            buf
        });
        let (s, _) = l.accept().await.unwrap();
        let (res, buf) = s.read_exact(Vec::with_capacity(7)).await;
        res.unwrap();
        s.write_all(buf).await.0.unwrap();
        assert_eq!(c.await.unwrap(), b"echo me");

        let path = std::env::temp_dir().join(format!("ringio-seccomp-{}", std::process::id()));
        std::fs::write(&path, b"file contents").unwrap();
        let f = ringio::fs::File::open(&path).await.unwrap();
        let (res, buf) = f.read_exact_at(Vec::with_capacity(13), 0).await;
        res.unwrap();
        assert_eq!(buf, b"file contents");
        f.close().await.unwrap();
        std::fs::remove_file(&path).unwrap();
    });
    println!("{CHILD_OK}");
}

#[test]
fn seccomp_denied_io_uring_falls_back_to_epoll() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return child();
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "seccomp_denied_io_uring_falls_back_to_epoll",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env_remove("RINGIO_BACKEND")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(CHILD_OK),
        "child failed:\n{stdout}\n{stderr}"
    );
}
