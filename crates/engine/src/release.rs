//! The plain data of a release: how a deploy was asked for ([`Options`], with a scale
//! trigger's [`ScaleRequest`] or a write-back's [`BranchCommit`]) and what happened to each
//! object ([`ResourceOutcome`]).
//!
//! Both the deploy engine ([`crate::deploy`]) and the store that records releases use these
//! types; they live here, below both, so the store never depends on the layer that deploys.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::template::ResourceId;

/// How to deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Options {
    /// Take over fields other managers own instead of failing on conflicts.
    pub force_conflicts: bool,
    /// Wait for rollouts to finish.
    pub wait: bool,
    /// How long to wait for rollouts.
    #[serde(with = "millis")]
    #[cfg_attr(feature = "specta", specta(type = u64))]
    pub timeout: Duration,
    /// Fail a rollout as soon as one of its new pods has waited this long in a state it
    /// cannot leave by itself (`ImagePullBackOff`, `CrashLoopBackOff`, …), instead of at the
    /// timeout.
    #[serde(default = "default_stuck_after", with = "millis")]
    #[cfg_attr(feature = "specta", specta(type = u64))]
    pub stuck_after: Duration,
    /// Scale one workload instead of deploying the template (a scale trigger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<ScaleRequest>,
    /// A Git application: deploy this commit of another branch instead of the newest commit
    /// of the reference it tracks (an image trigger wrote the image to a branch of its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_commit: Option<BranchCommit>,
}

/// A commit on a branch a Git application does not track, to deploy once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct BranchCommit {
    /// The branch.
    pub branch: String,
    /// The commit's full id.
    pub commit: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            force_conflicts: false,
            wait: true,
            timeout: Duration::from_secs(300),
            stuck_after: default_stuck_after(),
            scale: None,
            branch_commit: None,
        }
    }
}

/// Which way to scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// More replicas (`type=scale_out`).
    ScaleOut,
    /// Fewer replicas (`type=scale_in`).
    ScaleIn,
}

/// A scale trigger's request (seeds 002 and 003).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ScaleRequest {
    /// The workload's kind.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Out or in.
    pub direction: Direction,
    /// By how many replicas (1 to 100).
    pub step: u32,
    /// Lower bound.
    pub min: Option<u32>,
    /// Upper bound.
    pub max: Option<u32>,
}

impl ScaleRequest {
    /// The replica count after scaling from `current`, within the bounds.
    pub fn target(&self, current: u32) -> u32 {
        let next = match self.direction {
            Direction::ScaleOut => current.saturating_add(self.step),
            Direction::ScaleIn => current.saturating_sub(self.step),
        };
        next.clamp(
            self.min.unwrap_or(0),
            self.max.unwrap_or(u32::MAX).max(self.min.unwrap_or(0)),
        )
    }
}

/// How long a new pod may wait in a stuck state before its rollout fails (the default).
pub const STUCK_AFTER: Duration = Duration::from_secs(60);

fn default_stuck_after() -> Duration {
    STUCK_AFTER
}

mod millis {
    use serde::{Deserialize as _, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Created (a namespace Tripline made for the application).
    Created,
    /// Server-side applied.
    Applied,
    /// Deleted because the new version no longer has it.
    Pruned,
    /// Left alone when pruning: someone else manages it now.
    Kept,
    /// Applying it failed.
    Failed,
}

/// One object's outcome in a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ResourceOutcome {
    /// The object, with its namespace resolved.
    pub id: ResourceId,
    /// What was done.
    pub action: Action,
    /// `metadata.generation` after applying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// A note (rollout result, why it was kept, the error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
