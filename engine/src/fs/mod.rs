//! Files: [`File`] with positional owned-buffer I/O, [`OpenOptions`], and
//! [`Metadata`] from `statx`.

mod file;
mod metadata;
mod open_options;

pub use file::File;
pub use metadata::Metadata;
pub use open_options::OpenOptions;
