//! Short cfg aliases for the backends, so code says `#[cfg(kqueue)]` instead
//! of repeating lists of target operating systems.

fn main() {
    println!("cargo:rustc-check-cfg=cfg(uring, epoll, kqueue, evport)");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    match os.as_str() {
        "linux" | "android" => {
            println!("cargo:rustc-cfg=uring");
            println!("cargo:rustc-cfg=epoll");
        }
        "macos" | "ios" | "tvos" | "watchos" | "visionos" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" => {
            println!("cargo:rustc-cfg=kqueue")
        }
        "illumos" | "solaris" => println!("cargo:rustc-cfg=evport"),
        _ => {}
    }
}
