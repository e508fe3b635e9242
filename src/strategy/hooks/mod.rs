//! Helm hooks, the default strategy: each job is a hook at its events, weighted after the
//! previous job and the chart's own hooks, with hook copies of the Secrets and ConfigMaps
//! the release has not applied yet at those events, and an `exclusive` job's stop and start
//! steps around it.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, anyhow, bail};
use indexmap::IndexMap;
use serde_norway::{Mapping, Value};

use super::{Context, HookCopy, JobOutput, Prepared, job_object, user_annotations};
use super::{Strategy, Target};
use crate::documents::Documents;
pub mod exclusive;

use self::exclusive::STOP_OVERHEAD_SECONDS;
use crate::header::describe;
use crate::helm;
use crate::helm::deadline_within;
use crate::k8s::{PodSpec, RefKind};
use crate::names;
use crate::reuse;
use crate::spec::{Exclusive, Job, SpecError, TargetError, err};
use crate::{GENERATED_ANNOTATION, HOOK_ANNOTATION};

/// Events at which the release's ordinary resources do not exist (yet, or any more) with
/// this release's content: a job running then needs hook copies of what it references.
/// After install or upgrade, and before delete, the ordinary resources are there.
const COPY_EVENTS: &[&str] = &["pre-install", "pre-upgrade", "post-delete"];

/// Events at which the release's ordinary resources are not there: before the first apply,
/// and after they were deleted.
pub(crate) const ABSENT_EVENTS: &[(&str, &str)] = &[
    ("pre-install", "does not exist yet"),
    ("post-delete", "no longer exists"),
];

/// Kubernetes' default `terminationGracePeriodSeconds`.
const DEFAULT_GRACE_SECONDS: u64 = 30;

/// The pod-level deadline inside a Job's `deadline`. Past the Job-level deadline the Job
/// controller deletes the running pod, and its log with it, before Helm (or a user under
/// Argo CD) asks for it; past its own deadline the kubelet ends the pod and keeps it. So the
/// pod's deadline ends first, by the pod's start after the Job's (10 s) and its termination
/// grace period, and the Job then fails on the failed pod (`backoffLimit`), log intact. The
/// pod's deadline counts from the pod's start, so a short deadline keeps half of it.
pub(crate) fn pod_deadline(deadline: u64, grace: u64) -> u64 {
    let margin = grace + 10;
    if deadline > 2 * margin {
        deadline - margin
    } else {
        (deadline / 2).max(1)
    }
}

/// Jobs as Helm hooks, for Helm's `--timeout` of `timeout` seconds.
#[derive(Debug, Clone)]
pub struct Hooks {
    timeout: u64,
    /// The last weight used, and by which job (for messages).
    last_weight: Option<(i64, String)>,
}

impl Hooks {
    /// Refuses a `--timeout` that leaves a hook Job no time.
    pub fn new(timeout: u64) -> Result<Hooks> {
        helm::check_timeout(timeout, "a hook Job")?;
        Ok(Hooks::unchecked(timeout))
    }

    /// Without the `--timeout` check: Argo CD has no hook timeout of its own.
    pub(crate) fn unchecked(timeout: u64) -> Hooks {
        Hooks {
            timeout,
            last_weight: None,
        }
    }
}

impl Strategy for Hooks {
    fn target(&self) -> Target {
        Target::Helm
    }

    fn check(&self, job: &Job) -> Result<(), SpecError> {
        check_deadline(job, self.timeout)
    }

    fn default_deadline(&self) -> u64 {
        helm::deadline_within(self.timeout)
    }

    fn arrange(
        &mut self,
        docs: &dyn Documents,
        job: &Job,
        prepared: Prepared<'_>,
        ctx: &Context<'_>,
    ) -> Result<JobOutput> {
        let copies = copies_wanted(job, &prepared);
        let mut pod = prepared.pod.clone();
        let (job_name, namespace, labels, reused) = (
            &prepared.job_name,
            &prepared.namespace,
            &prepared.labels,
            &prepared.reused,
        );
        read_the_copies(&mut pod, &copies);

        let stop_targets = match &job.exclusive {
            Exclusive::None => None,
            _ => Some(
                exclusive::targets(docs, job)
                    .with_context(|| format!("{}.exclusive", job.path()))?,
            ),
        };

        // Weights: strictly increasing through the list, never tied. Before the Job: the stop
        // step's four objects (if exclusive), then the copies.
        let n = copies.len() as i64;
        let before = n + if stop_targets.is_some() { 4 } else { 0 };
        let after = i64::from(stop_targets.is_some());
        let weight = self.weight(job, &prepared, ctx, before, after)?;
        let stop = match stop_targets {
            None => None,
            Some(selection) => {
                let settings = exclusive::StopSettings {
                    job,
                    job_name,
                    namespace: namespace.clone(),
                    labels: labels.clone(),
                    first_weight: weight - before,
                    start_weight: weight + 1,
                    deadline: ctx.default_deadline,
                };
                let stop = exclusive::build(selection, &settings)
                    .with_context(|| format!("{}.exclusive", job.path()))?;
                Some(stop)
            }
        };
        let last = if stop.is_some() { weight + 1 } else { weight };
        let previous = match ctx.origin {
            Some(origin) => format!("deploy_jobs[{}] of {origin}", job.index),
            None => format!("deploy_jobs[{}]", job.index),
        };
        self.last_weight = Some((last, previous));
        if let Some(stop) = &stop {
            pod.containers
                .push(exclusive::restore_hint(job, stop, namespace.as_deref()));
        }

        reuse::check_container_names(&pod).with_context(|| reuse::container_name_key(job))?;
        reuse::check_local_waits(job, &pod, reused.as_ref())?;

        let (annotations, user_annotations) = hook_annotations(job, weight);
        let pod_annotations =
            hook_pod_annotations(&prepared, &pod, &user_annotations, stop.is_some());

        let deadline = job
            .spec
            .active_deadline_seconds
            .unwrap_or(ctx.default_deadline);
        set_pod_deadline(&mut pod, deadline);
        let object = job_object(job, &prepared, pod, annotations, pod_annotations, deadline)?;

        let copies = copy_objects(docs, job, copies, weight, namespace.as_deref())?;

        Ok(JobOutput {
            copies,
            object,
            weight,
            stop,
            external: prepared.external,
            reads_chart_hooks: prepared.reads_chart_hooks,
            source: prepared.reused.as_ref().map(|r| r.source.clone()),
            source_waited_for_readiness: prepared.source_waited_for_readiness,
            objects: Vec::new(),
            gate: None,
        })
    }
}

/// The pod reads the hook copies, not the ordinary Secrets and ConfigMaps they copy.
fn read_the_copies(pod: &mut PodSpec, copies: &[Wanted]) {
    let renames: BTreeMap<(RefKind, String), String> = copies
        .iter()
        .map(|(kind, original, name, _)| ((*kind, original.clone()), name.clone()))
        .collect();
    pod.for_each_reference(&mut |kind, name| {
        if let Some(new) = renames.get(&(kind, name.clone())) {
            *name = new.clone();
        }
    });
}

/// A pod deadline inside the Job's (see [`pod_deadline`]), so the pod and its log outlive it.
fn set_pod_deadline(pod: &mut PodSpec, deadline: u64) {
    let grace = pod
        .copied
        .get("terminationGracePeriodSeconds")
        .and_then(serde_norway::Value::as_u64)
        .unwrap_or(DEFAULT_GRACE_SECONDS);
    pod.active_deadline_seconds = Some(pod_deadline(deadline, grace));
}

/// The pod's annotations: the app's (see `reuse`) and the user's; with an `exclusive` stop
/// step's restore hint beside the migration, `kubectl logs job/NAME` shows the migration.
fn hook_pod_annotations(
    prepared: &Prepared<'_>,
    pod: &PodSpec,
    user: &IndexMap<String, String>,
    exclusive: bool,
) -> IndexMap<String, String> {
    let mut annotations =
        reuse::pod_annotations(prepared.reused.as_ref().and_then(|r| r.meta), pod, user);
    if exclusive {
        annotations
            .entry("kubectl.kubernetes.io/default-container".to_string())
            .or_insert_with(|| pod.containers[0].name.clone());
    }
    annotations
}

/// A Secret or ConfigMap to copy as a hook: its kind, its name, the copy's name and the
/// document that renders it.
type Wanted = (RefKind, String, String, usize);

/// The hook copies a job needs: at events where the release's ordinary resources are not
/// there, one for each Secret and ConfigMap the stream renders and the pod references.
fn copies_wanted(job: &Job, prepared: &Prepared<'_>) -> Vec<Wanted> {
    if !job.events.iter().any(|e| COPY_EVENTS.contains(&e.as_str())) {
        return Vec::new();
    }
    prepared
        .references
        .iter()
        .filter_map(|r| {
            let doc = r.rendered?;
            let name = names::fit(
                &format!("{}-{}-hook", r.name, job.name()),
                names::MAX_OBJECT_NAME,
            );
            Some((r.kind, r.name.clone(), name, doc))
        })
        .collect()
}

/// The copies as objects, weighted just before the Job.
fn copy_objects(
    docs: &dyn Documents,
    job: &Job,
    copies: Vec<Wanted>,
    weight: i64,
    namespace: Option<&str>,
) -> Result<Vec<HookCopy>> {
    let n = copies.len() as i64;
    copies
        .into_iter()
        .enumerate()
        .map(|(i, (kind, original, name, doc))| {
            let weight = weight - n + i as i64;
            let object = hook_copy(docs.value(doc)?, job, &name, namespace, weight)
                .with_context(|| docs.label(doc))?;
            Ok(HookCopy {
                kind,
                original,
                name,
                weight,
                object,
            })
        })
        .collect()
}

/// The Job's hook annotations (events, weight, delete and log policies, deploy-jobs' mark) and the user's own, which also go on the pod.
fn hook_annotations(
    job: &Job,
    weight: i64,
) -> (IndexMap<String, String>, IndexMap<String, String>) {
    let mut annotations = IndexMap::new();
    annotations.insert(HOOK_ANNOTATION.to_string(), job.events.join(","));
    annotations.insert(crate::WEIGHT_ANNOTATION.to_string(), weight.to_string());
    annotations.insert(
        crate::DELETE_ANNOTATION.to_string(),
        job.delete_policy.join(","),
    );
    // A log policy of the job's own replaces the default; validation refused every other
    // hook annotation, so the rest are the user's to put on the Job and its pod.
    let mut user_annotations = user_annotations(job);
    let log_policy = user_annotations
        .shift_remove(crate::LOG_ANNOTATION)
        .unwrap_or_else(|| "hook-failed".to_string());
    annotations.insert(crate::LOG_ANNOTATION.to_string(), log_policy);
    annotations.insert(GENERATED_ANNOTATION.to_string(), job.name().to_string());
    for (k, v) in &user_annotations {
        annotations.entry(k.clone()).or_insert_with(|| v.clone());
    }
    (annotations, user_annotations)
}

impl Hooks {
    /// The Job's weight: strictly increasing through the list, after the chart's hooks of
    /// its events, with room for the `before` hooks before it and the `after` hooks after it
    /// within Helm's 64-bit weights; an explicit `weight` is checked against all of that.
    fn weight(
        &self,
        job: &Job,
        prepared: &Prepared<'_>,
        ctx: &Context<'_>,
        before: i64,
        after: i64,
    ) -> Result<i64> {
        // The chart's own hooks of the job's events come first: the job may read them (a
        // Secret the chart creates as a hook), and its order among them must not rest on
        // Helm's tie-break by name.
        let chart_last = ctx
            .chart_hooks
            .iter()
            .filter(|h| h.runs_at(&job.events))
            .map(|h| h.weight)
            .max();
        let weight = match (job.spec.weight, self.last_weight.as_ref()) {
            (Some(w), Some((last, previous)))
                if w.checked_sub(before).is_none_or(|w| w <= *last) =>
            {
                bail!(
                    "{}.weight: {w} does not come after {previous}, whose last hook has weight {last}; weights must increase down the list, and this job needs {} of them (its stop step and hook copies, then its Job), so use at least {}",
                    job.path(),
                    before + 1,
                    last.saturating_add(before + 1)
                )
            }
            (Some(w), _) => w,
            (None, last) => {
                // After the previous job, else from 0; and after the chart's hooks.
                let after = |w: i64| w.checked_add(1);
                let first = match (last, chart_last) {
                    (Some((l, _)), c) => after((*l).max(c.unwrap_or(i64::MIN))),
                    (None, Some(c)) => after(c).map(|w| w.max(0)),
                    (None, None) => Some(0),
                };
                first.and_then(|f| f.checked_add(before)).ok_or_else(|| {
                        anyhow!(
                            "{}: no hook weight is left after {}; Helm reads hook weights as 64-bit integers, so give the jobs or hooks before it lower weights",
                            job.path(),
                            last.map_or("the chart's hooks", |(_, p)| p.as_str())
                        )
                    })?
            }
        };
        // Helm reads hook weights as Go ints (64-bit): every weight this job uses must fit,
        // never wrap around and reorder the hooks.
        if weight.checked_sub(before).is_none() || weight.checked_add(after).is_none() {
            bail!(
                "{}.weight: {weight} leaves no room for this job's {} hooks; Helm reads hook weights as 64-bit integers ({} to {}), so use a weight between {} and {}",
                job.path(),
                before + 1 + after,
                i64::MIN,
                i64::MAX,
                i64::MIN + before,
                i64::MAX - after
            );
        }
        // An explicit weight may not run the Job before a chart hook it reads (assigned ones
        // come after every chart hook of the job's events).
        if job.spec.weight.is_some()
            && let Some(hook) = prepared
                .reads_chart_hooks
                .iter()
                .map(|&i| &ctx.chart_hooks[i])
                .filter(|h| h.runs_at(&job.events))
                .max_by_key(|h| h.weight)
            && weight <= hook.weight
        {
            bail!(
                "{}.weight: {weight} does not come after {} (weight {}, a {} hook of the chart in {}), which the job reads: the Job would run before it exists; set `weight` to {} or more",
                job.path(),
                hook.id(),
                hook.weight,
                hook.events.join(","),
                hook.document,
                hook.weight.saturating_add(1)
            );
        }
        Ok(weight)
    }
}

/// Refuses a job whose deadline outlives Helm's `--timeout` of `timeout` seconds: Helm would
/// give up on it while it still runs, and the next deploy's `before-hook-creation` would
/// delete it mid-run. Jobs without a deadline get one that fits (see the planner).
///
/// The same holds for an `exclusive` job's stop step, whose Job runs `stopTimeoutSeconds`
/// plus the time its kubectl calls take.
fn check_deadline(job: &Job, timeout: u64) -> Result<(), SpecError> {
    if let Some(wait) = job.spec.stop_timeout_seconds
        && wait.saturating_add(STOP_OVERHEAD_SECONDS) > deadline_within(timeout)
    {
        return err(
            format!("{}.stopTimeoutSeconds", job.path()),
            TargetError::HelmTimeout {
                seconds: wait,
                overhead: Some(STOP_OVERHEAD_SECONDS),
                timeout,
            },
        );
    }
    let Some(deadline) = job.spec.active_deadline_seconds else {
        return Ok(());
    };
    if deadline <= deadline_within(timeout) {
        return Ok(());
    }
    err(
        format!("{}.activeDeadlineSeconds", job.path()),
        TargetError::HelmTimeout {
            seconds: deadline,
            overhead: None,
            timeout,
        },
    )
}

/// A hook copy of a rendered Secret or ConfigMap: same content, new name and hook annotations.
/// The copy is created in the Job's namespace, where the Job looks for it.
fn hook_copy(
    original: &Value,
    job: &Job,
    name: &str,
    namespace: Option<&str>,
    weight: i64,
) -> Result<Value> {
    let Value::Mapping(source) = original else {
        bail!("expected a mapping, found {}", describe(original));
    };
    let old_meta = source.get("metadata").and_then(Value::as_mapping);
    let mut meta = Mapping::new();
    meta.insert("name".into(), name.into());
    if let Some(ns) = namespace {
        meta.insert("namespace".into(), ns.into());
    }
    if let Some(labels) = old_meta.and_then(|m| m.get("labels")) {
        meta.insert("labels".into(), labels.clone());
    }
    let mut annotations = Mapping::new();
    if let Some(Value::Mapping(old)) = old_meta.and_then(|m| m.get("annotations")) {
        for (k, v) in old {
            let drop = k.as_str().is_some_and(|k| {
                k.starts_with("helm.sh/")
                    || k == crate::FILENAME_ANNOTATION
                    || k.starts_with("deploy-jobs.io/")
            });
            if !drop {
                annotations.insert(k.clone(), v.clone());
            }
        }
    }
    annotations.insert(HOOK_ANNOTATION.into(), job.events.join(",").into());
    annotations.insert(crate::WEIGHT_ANNOTATION.into(), weight.to_string().into());
    annotations.insert(
        crate::DELETE_ANNOTATION.into(),
        "before-hook-creation,hook-succeeded".into(),
    );
    annotations.insert(GENERATED_ANNOTATION.into(), job.name().into());
    meta.insert("annotations".into(), Value::Mapping(annotations));
    let mut copy = Mapping::new();
    for (k, v) in source {
        if k.as_str() == Some("metadata") {
            copy.insert(k.clone(), Value::Mapping(meta.clone()));
        } else {
            copy.insert(k.clone(), v.clone());
        }
    }
    if !copy.contains_key("metadata") {
        copy.insert("metadata".into(), Value::Mapping(meta));
    }
    Ok(Value::Mapping(copy))
}

#[cfg(test)]
mod tests {
    use super::pod_deadline;

    #[test]
    fn the_pod_ends_before_the_job_controller_would_delete_it() {
        // A pod past a Job-level deadline is deleted with its log (measured Dec 2026 with a
        // real kube-apiserver and controllers 1.36); its own deadline keeps it.
        assert_eq!(
            pod_deadline(240, 30),
            200,
            "start and the 30 s grace period fit"
        );
        assert_eq!(pod_deadline(1740, 30), 1700);
        assert_eq!(
            pod_deadline(240, 100),
            130,
            "a long grace period is waited for"
        );
        assert_eq!(pod_deadline(60, 30), 30, "a short deadline keeps half");
        assert_eq!(
            pod_deadline(1, 30),
            1,
            "never zero, which the API server refuses"
        );
        for deadline in 1..2000 {
            assert!(pod_deadline(deadline, 30) <= deadline);
        }
    }
}
