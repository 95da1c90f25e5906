//! Files with `tokio::fs`'s names: [`File`] and [`OpenOptions`].

mod file;
mod file_std;
mod open_options;

pub use file::File;
pub use open_options::OpenOptions;
