//! `deploy-jobs wait`: follow the Jobs of a deploy in the cluster, after or while it is
//! applied. `targets` reads what to follow from a plan; `track` is the pure state of a wait;
//! `cluster` is the Kubernetes client (kube-rs), the only part that talks to the network;
//! `progress` is what a wait reports. Nothing here prints: the CLI does.
//!
//! This module is the only user of the Kubernetes client, so `render` and `plan` never
//! touch it: no runtime, no TLS set-up, no kubeconfig read on their path.

pub mod cluster;
pub mod progress;
pub mod targets;
pub mod track;

pub use progress::verdict_text;
pub use progress::{Failure, LogReport, Progress, Verdict};
pub use targets::{Followed, Gated, WaitList, default_timeout, from_plan_json};
