//! The Tripline engine: everything Tripline knows about Kubernetes applications, with no
//! window attached.
//!
//! Data flows in one direction through the modules:
//!
//! - [`template`] turns multi-document YAML into validated [`template::Manifest`]s, one
//!   [`template::Document`] per Kubernetes object, each keyed by its [`template::ResourceId`].
//! - [`tripline_validation`] holds Kubernetes objects to the API server's rules; the store
//!   applies it (with size limits) to every version before saving it, and the sandbox to every
//!   write.
//! - [`patch`] applies a patch (the seed's `{"resource":{…}}` body, a strategic merge patch,
//!   an RFC 7396 merge patch or an RFC 6902 JSON Patch) to a manifest and returns a new one.
//! - [`diff`] compares two manifests resource by resource and field by field.
//! - [`app`] describes applications: which cluster, which namespace, which source.
//! - [`release`] is the plain data of a release (how a deploy was asked for, what happened
//!   to each object), shared by the deploy engine and the store, which never imports the
//!   deploy engine.
//! - [`store`] keeps templates, their immutable versions and applications in SQLite; every
//!   write that makes a version or an application is one transaction.
//! - [`logging`] installs the one logger the command line and the desktop app share.
//! - [`api`] is the façade every front end calls: the command line (crate `tripline`), for
//!   one command or as a server, and the desktop app (`tripline-desktop`).
//!
//! Errors are per area (`template::Error`, `patch::Error`, …); [`error::ErrorBody`] is the one
//! shape they take when they cross a boundary (the CLI's `--json`, later HTTP and the UI).
//!
//! The engine depends on three Tripline crates: [`strategic_merge`] (patches merge as kubectl
//! merges them), [`tripline_validation`] (templates are held to the API server's rules) and
//! [`tripline_sandbox`] (the built-in cluster, re-exported as [`sandbox`]). It knows nothing of
//! a terminal or a window: argument parsing and printing live in the `tripline` crate.

pub mod api;
pub mod app;
pub mod cluster;
pub mod deploy;
pub mod diff;
pub mod error;
pub mod listener;
pub mod logging;
pub mod patch;
pub mod registry;
pub mod release;
pub mod secrets;
pub mod source;
pub mod store;
pub mod template;
pub mod trigger;

/// The built-in sandbox cluster (crate `tripline-sandbox`), re-exported so that front ends
/// start one without naming another crate.
pub use tripline_sandbox as sandbox;
