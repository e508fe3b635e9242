//! deploy-jobs: injects safe, ordered Helm hook Jobs (database migrations and other one-off
//! deploy commands) into a rendered manifest stream.
//!
//! The pipeline is `stream::split` -> `header` (what each document is) -> `spec` (the
//! `deploy_jobs` configuration) -> `plan` (what each job needs) -> `order` (how its order is
//! enforced: Helm hooks, Argo CD, or in-cluster gates) -> `render` (append and join, each
//! generated document written by `yaml` so YAML 1.1 and 1.2 read it alike). The
//! library does no I/O and never prints; the binary's `cli` module does that. `wait` is the
//! exception that proves it: it follows a deploy in the cluster (the only module with a
//! network client), and hands what it sees to the CLI to print.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod documents;
pub mod exclusive;
pub mod generate;
pub mod header;
pub mod helm;
pub mod k8s;
pub mod names;
pub mod order;
pub mod plan;
pub mod rbac;
pub mod render;
pub mod report;
pub mod reuse;
pub mod schema;
pub mod script;
pub mod spec;
pub mod stream;
pub mod typed;
#[cfg(feature = "wait")]
pub mod wait;
pub mod yaml;

pub use order::{Target, argocd};
pub use render::{Options, Rendered, ValuesFile, render};

/// Marks a document as a Helm hook and lists its events.
pub const HOOK_ANNOTATION: &str = "helm.sh/hook";
pub const WEIGHT_ANNOTATION: &str = "helm.sh/hook-weight";
pub const DELETE_ANNOTATION: &str = "helm.sh/hook-delete-policy";
/// Helm 3.18+ and 4 print the logs of a hook's containers on these outcomes.
pub const LOG_ANNOTATION: &str = "helm.sh/hook-output-log-policy";
/// Helm 4 names each document's template file with this annotation.
pub const FILENAME_ANNOTATION: &str = "postrenderer.helm.sh/postrender-filename";
/// Set on every generated document (the job it belongs to), so a rerun recognises it.
pub const GENERATED_ANNOTATION: &str = "deploy-jobs.io/job";
/// sha256 of the generated Job's resolved spec.
pub const SPEC_HASH_ANNOTATION: &str = "deploy-jobs.io/spec-sha256";
