//! deploy-jobs: injects safe, ordered Helm hook Jobs (database migrations and other one-off
//! deploy commands) into a rendered manifest stream.
//!
//! The pipeline is `stream::split` -> `header` (what each document is) -> `spec` (the
//! `deploy_jobs` configuration) -> `plan` (what each job needs) -> `strategy` (how its order is
//! enforced: Helm hooks, Argo CD, or in-cluster gates) -> `render` (append and join, each
//! generated document written by `yaml` so YAML 1.1 and 1.2 read it alike). The
//! library does no I/O and never prints; the binary's `cli` module does that. `wait` is the
//! exception that proves it: it follows a deploy in the cluster (the only module with a
//! network client), and hands what it sees to the CLI to print.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod documents;
pub mod facts;
pub mod generate;
pub mod header;
pub mod helm;
pub mod images;
pub mod k8s;
pub mod names;
pub mod plan;
pub mod pod_fields;
pub mod pod_security;
pub mod rbac;
pub mod render;
pub mod report;
pub mod reuse;
pub mod schema;
pub mod script;
pub mod spec;
pub mod strategy;
pub mod stream;
pub mod typed;
#[cfg(feature = "wait")]
pub mod wait;
pub mod yaml;

pub use render::{Options, Rendered, ValuesFile, render};
pub use strategy::{Target, argocd};

pub use facts::{
    DELETE_ANNOTATION, FILENAME_ANNOTATION, GENERATED_ANNOTATION, HOOK_ANNOTATION, LOG_ANNOTATION,
    SPEC_HASH_ANNOTATION, WEIGHT_ANNOTATION,
};
