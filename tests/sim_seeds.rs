//! The simulated backend over many seeds: determinism (same seed, same
//! trace), and consumers under random faults.
