//! Tokio compatibility layer for ringio (see issue 4); intentionally empty for now.
