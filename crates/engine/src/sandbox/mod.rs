//! The built-in sandbox cluster (being written).
