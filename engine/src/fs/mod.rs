//! Files and the filesystem, on the ring: [`File`] with positional
//! owned-buffer I/O (buffered or `O_DIRECT`, with [`DioAlignment`] checks),
//! [`OpenOptions`] (including `openat2` resolve rules), [`Metadata`] from
//! `statx`, directory and name operations with the names `std::fs` uses
//! ([`create_dir`], [`remove_file`], [`rename`], [`hard_link`], [`symlink`],
//! [`metadata`], ...), whole-file [`read`] and [`write()`], and, on Linux,
//! `splice` from a file to a socket ([`File::splice_to`]).
//!
//! Every operation is an io_uring opcode whose minimum kernel its docs state;
//! where the running kernel lacks one (`IORING_REGISTER_PROBE`), it runs on
//! the blocking pool instead, as on the readiness backends. Errors carry the
//! `io::ErrorKind` std reports for the same failure (`NotFound`,
//! `AlreadyExists`, `DirectoryNotEmpty`, ...).

mod dio;
mod dir;
mod file;
#[cfg(target_os = "linux")]
mod flags;
mod metadata;
mod names;
mod open_options;
mod path;
#[cfg(target_os = "linux")]
mod splice;
mod stat;
mod whole;

pub use dio::DioAlignment;
pub use dir::{create_dir, create_dir_all, remove_dir};
pub use file::File;
#[cfg(target_os = "linux")]
pub use flags::{Advice, FallocateFlags, RenameFlags, ResolveFlags, SyncRangeFlags};
pub use metadata::Metadata;
#[cfg(target_os = "linux")]
pub use names::rename_with;
pub use names::{hard_link, remove_file, rename, symlink};
pub use open_options::OpenOptions;
pub use stat::{metadata, symlink_metadata};
pub use whole::{read, read_to_string, write};
