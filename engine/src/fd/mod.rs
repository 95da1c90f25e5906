//! Descriptor lifecycle: the fd mutex, the fixed-file slot allocator, and the
//! shared handle that ties a descriptor to both.
pub(crate) mod fixed;
pub(crate) mod mutex;
pub(crate) mod shared;
