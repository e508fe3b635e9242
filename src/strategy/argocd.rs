//! `render --target argocd`: output that behaves under Argo CD as it does under Helm.
//!
//! Argo CD renders charts with `helm template` and maps Helm hook annotations itself, but
//! it ignores `pre-rollback`, `post-rollback` and `test`. Argo CD 3 runs PreDelete and
//! PostDelete hooks when the Application is deleted (argoproj/argo-cd
//! `docs/user-guide/sync-waves.md`, `controller/hook.go`), so `pre-delete` and `post-delete`
//! map to those. The rest are refused, as is a job that would run in both phases (Argo CD cannot tell an install
//! from an upgrade, so `post-install,pre-upgrade` would run twice per sync), and every
//! generated document gets Argo CD's own annotations (which take
//! precedence over Helm's once present): the hook phase, a sync wave equal to the Helm
//! weight, and a delete policy that always includes BeforeHookCreation, so that the Job of
//! an earlier sync is deleted and the hook runs again instead of being skipped.

use anyhow::Result;
use serde_norway::{Mapping, Value};

use super::hooks::Hooks;
use super::{Context, JobOutput, Prepared};
use super::{Strategy, Target};
use crate::documents::Documents;
use crate::spec::{self, Job, SpecError, TargetError, err};
use crate::{DELETE_ANNOTATION, HOOK_ANNOTATION, WEIGHT_ANNOTATION};

use crate::facts::{ARGOCD_DELETE_POLICY, ARGOCD_HOOK, ARGOCD_PHASES as PHASES, ARGOCD_SYNC_WAVE};

/// Helm hooks with Argo CD's annotations; Argo CD has no hook timeout, so the deadline alone
/// bounds a job.
#[derive(Debug, Clone)]
pub struct ArgoCd {
    hooks: Hooks,
}

impl ArgoCd {
    pub fn new() -> ArgoCd {
        ArgoCd {
            hooks: Hooks::unchecked(crate::helm::DEFAULT_TIMEOUT),
        }
    }
}

impl Default for ArgoCd {
    fn default() -> ArgoCd {
        ArgoCd::new()
    }
}

impl Strategy for ArgoCd {
    fn target(&self) -> Target {
        Target::ArgoCd
    }

    fn check(&self, job: &Job) -> Result<(), SpecError> {
        check(job)
    }

    fn default_deadline(&self) -> u64 {
        spec::DEFAULT_DEADLINE
    }

    fn arrange(
        &mut self,
        docs: &dyn Documents,
        job: &Job,
        prepared: Prepared<'_>,
        ctx: &Context<'_>,
    ) -> Result<JobOutput> {
        self.hooks.arrange(docs, job, prepared, ctx)
    }

    fn annotate(&self, annotations: &mut Mapping) {
        annotate(annotations);
    }
}

/// Refuses a job whose events Argo CD would not run the way Helm does.
pub fn check(job: &Job) -> Result<(), SpecError> {
    for event in &job.events {
        if !PHASES.iter().any(|(e, _)| e == event) {
            return err(
                format!("{}.when", job.path()),
                TargetError::ArgoEvent(event.clone()),
            );
        }
    }
    let phases = |wanted: &str| -> Vec<String> {
        job.events
            .iter()
            .filter(|e| {
                PHASES
                    .iter()
                    .any(|(event, phase)| event == e && *phase == wanted)
            })
            .cloned()
            .collect()
    };
    let (pre, post) = (phases("PreSync"), phases("PostSync"));
    if !pre.is_empty() && !post.is_empty() {
        return err(
            format!("{}.when", job.path()),
            TargetError::ArgoTwice {
                events: job.events.clone(),
                pre,
                post,
            },
        );
    }
    Ok(())
}

/// Adds Argo CD's annotations, derived from the Helm ones already set.
pub fn annotate(annotations: &mut Mapping) {
    let get = |key: &str| {
        annotations
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut phases: Vec<&str> = Vec::new();
    for event in get(HOOK_ANNOTATION).split(',') {
        if let Some((_, phase)) = PHASES.iter().find(|(e, _)| *e == event.trim())
            && !phases.contains(phase)
        {
            phases.push(phase);
        }
    }
    let mut policies = vec!["BeforeHookCreation"];
    for policy in get(DELETE_ANNOTATION).split(',') {
        let mapped = match policy.trim() {
            "hook-succeeded" => "HookSucceeded",
            "hook-failed" => "HookFailed",
            _ => continue,
        };
        policies.push(mapped);
    }
    let wave = get(WEIGHT_ANNOTATION);
    annotations.insert(ARGOCD_HOOK.into(), phases.join(",").into());
    annotations.insert(ARGOCD_DELETE_POLICY.into(), policies.join(",").into());
    annotations.insert(
        ARGOCD_SYNC_WAVE.into(),
        (if wave.is_empty() {
            "0".to_string()
        } else {
            wave
        })
        .into(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_events_waves_and_policies() {
        let mut a = Mapping::new();
        a.insert(HOOK_ANNOTATION.into(), "pre-install,pre-upgrade".into());
        a.insert(WEIGHT_ANNOTATION.into(), "-3".into());
        a.insert(
            DELETE_ANNOTATION.into(),
            "before-hook-creation,hook-succeeded".into(),
        );
        annotate(&mut a);
        assert_eq!(a[ARGOCD_HOOK], "PreSync");
        assert_eq!(a[ARGOCD_SYNC_WAVE], "-3");
        assert_eq!(a[ARGOCD_DELETE_POLICY], "BeforeHookCreation,HookSucceeded");
    }

    #[test]
    fn delete_events_become_argo_cds_delete_hooks() {
        for (event, phase) in [("pre-delete", "PreDelete"), ("post-delete", "PostDelete")] {
            let mut a = Mapping::new();
            a.insert(HOOK_ANNOTATION.into(), event.into());
            annotate(&mut a);
            assert_eq!(
                a[ARGOCD_HOOK], phase,
                "Argo CD 3 runs {event} jobs as {phase}"
            );
        }
    }

    #[test]
    fn before_hook_creation_is_always_there() {
        let mut a = Mapping::new();
        a.insert(HOOK_ANNOTATION.into(), "post-upgrade".into());
        a.insert(DELETE_ANNOTATION.into(), "hook-failed".into());
        annotate(&mut a);
        assert_eq!(a[ARGOCD_HOOK], "PostSync");
        assert_eq!(
            a[ARGOCD_DELETE_POLICY], "BeforeHookCreation,HookFailed",
            "an old Job must never make Argo CD skip the hook"
        );
    }
}
