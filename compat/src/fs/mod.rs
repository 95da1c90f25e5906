//! Files with `tokio::fs`'s names: [`File`], [`OpenOptions`], and the free
//! functions (`read`, `write`, `read_dir`, `metadata`, ...). Those ringio
//! runs on the ring are in `ops`; the rest go to tokio's blocking pool, as
//! in tokio.

mod blocking;
mod dir_builder;
mod file;
mod file_std;
mod file_times;
mod open_options;
mod ops;
mod read_dir;

pub use blocking::{
    canonicalize, copy, metadata, read_link, remove_dir_all, set_permissions, symlink_metadata, try_exists,
};
pub use dir_builder::DirBuilder;
pub use file::File;
pub use file_times::FileTimes;
pub use open_options::OpenOptions;
pub use ops::{
    create_dir, create_dir_all, hard_link, read, read_to_string, remove_dir, remove_file, rename, symlink, write,
};
pub use read_dir::{read_dir, DirEntry, ReadDir};
