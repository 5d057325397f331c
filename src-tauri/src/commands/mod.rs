//! The commands the UI calls, by domain, each a few lines over the engine's façade
//! ([`tripline_engine::api::Tripline`]).
//! Errors cross as [`ErrorBody`] (`{code, message, details?}`); no command returns a secret
//! except a trigger URL that a person asked to see or copy.

pub mod apps;
pub mod clusters;
pub mod listener;
pub mod records;
pub mod registry;
pub mod releases;
pub mod settings;
pub mod sources;
pub mod templates;
pub mod triggers;

pub use tripline_engine::error::ErrorBody;

/// What commands return.
pub type Result<T, E = ErrorBody> = std::result::Result<T, E>;
