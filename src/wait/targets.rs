//! What `deploy-jobs wait` follows, read from a plan: the JSON of `plan -o json`, whether the
//! CLI read it from a file or computed it from the same rendered stream. Exact Job names, in
//! list order, and in gate mode the objects each Job gates: nothing is guessed from labels, so
//! a Job of another release is never followed. The cluster side lives in `cluster`.

use std::fmt;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// One Job to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followed {
    /// The job's name in the `deploy_jobs` list.
    pub job: String,
    /// The Job object's name in the cluster.
    pub name: String,
    /// Where the plan put it; `None` means the release namespace (`--namespace`, else the
    /// kubeconfig context's).
    pub namespace: Option<String>,
    /// Gate mode: the objects whose new pods wait for this Job.
    pub gates: Vec<Gated>,
    /// Its `activeDeadlineSeconds`, where the plan says.
    pub deadline: Option<u64>,
}

/// A gated object, `Kind/name` as `plan` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gated {
    pub kind: String,
    pub name: String,
}

impl fmt::Display for Gated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// Everything a wait follows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WaitList {
    /// In the order the jobs run.
    pub jobs: Vec<Followed>,
    /// Gate mode: the Jobs are ordinary resources that the app's pods wait for.
    pub gate: bool,
}

impl WaitList {
    /// Every gated object, once, in first-seen order.
    pub fn workloads(&self) -> Vec<Gated> {
        let mut out: Vec<Gated> = Vec::new();
        for w in self.jobs.iter().flat_map(|j| &j.gates) {
            if !out.contains(w) {
                out.push(w.clone());
            }
        }
        out
    }
}

#[derive(Deserialize)]
struct PlanJson {
    #[serde(default)]
    events: Vec<EventJson>,
    #[serde(default)]
    gate: Vec<GateJson>,
}

#[derive(Deserialize)]
struct EventJson {
    hooks: Vec<HookJson>,
}

#[derive(Deserialize)]
struct HookJson {
    kind: String,
    name: String,
    job: Option<String>,
    #[serde(rename = "activeDeadlineSeconds")]
    deadline: Option<u64>,
}

#[derive(Deserialize)]
struct GateJson {
    job: String,
    name: String,
    namespace: Option<String>,
    #[serde(default)]
    gates: Vec<String>,
    #[serde(rename = "activeDeadlineSeconds")]
    deadline: Option<u64>,
}

/// Reads the plan's JSON (`plan -o json`). Gate mode follows `gate[]`; hook mode follows the
/// hook Jobs of `events[]` (each Job once, in execution order).
pub fn from_plan_json(text: &str) -> Result<WaitList> {
    let plan: PlanJson = serde_json::from_str(text)
        .context("not the JSON of `deploy-jobs plan -o json` (expected `events` and `gate`)")?;
    if !plan.gate.is_empty() {
        let jobs = plan
            .gate
            .into_iter()
            .map(|g| {
                let gates = g.gates.iter().map(|w| workload(w)).collect::<Result<_>>()?;
                Ok(Followed {
                    job: g.job,
                    name: g.name,
                    namespace: g.namespace,
                    gates,
                    deadline: g.deadline,
                })
            })
            .collect::<Result<_>>()?;
        return Ok(WaitList { jobs, gate: true });
    }
    let mut jobs: Vec<Followed> = Vec::new();
    for hook in plan.events.into_iter().flat_map(|e| e.hooks) {
        let Some(job) = hook.job.filter(|_| hook.kind == "Job") else {
            continue;
        };
        if !jobs.iter().any(|t| t.name == hook.name) {
            jobs.push(Followed {
                job,
                name: hook.name,
                namespace: None,
                gates: Vec::new(),
                deadline: hook.deadline,
            });
        }
    }
    Ok(WaitList { jobs, gate: false })
}

/// How long a wait may take when `--timeout` is not given: every Job's deadline (in gate mode
/// the last Job's deadline already counts the ones before it; hooks run one after the
/// other), plus ten minutes for the rollouts, a Deployment's default progress deadline.
pub fn default_timeout(targets: &WaitList) -> u64 {
    let deadlines = targets.jobs.iter().map(|j| j.deadline.unwrap_or(0));
    let jobs = if targets.gate {
        deadlines.max().unwrap_or(0)
    } else {
        deadlines.sum()
    };
    jobs + ROLLOUT_ALLOWANCE
}

/// A Deployment's default `progressDeadlineSeconds`.
pub const ROLLOUT_ALLOWANCE: u64 = 600;

fn workload(text: &str) -> Result<Gated> {
    match text.split_once('/') {
        Some((kind, name)) if !kind.is_empty() && !name.is_empty() => Ok(Gated {
            kind: kind.into(),
            name: name.into(),
        }),
        _ => bail!("gated object `{text}` is not `Kind/name`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_plan_gives_names_namespaces_and_gates_in_order() {
        let targets = from_plan_json(
            r#"{"events":[],"gate":[
              {"job":"migrate","name":"shop-migrate-df1f823366","namespace":null,
               "gates":["Deployment/shop-web","CronJob/shop-cleanup"]},
              {"job":"index","name":"shop-index-61a6e1f29a","namespace":"search",
               "gates":["Deployment/shop-web"],"after":"shop-migrate-df1f823366"}]}"#,
        )
        .unwrap();
        assert!(targets.gate);
        let names: Vec<_> = targets.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["shop-migrate-df1f823366", "shop-index-61a6e1f29a"]);
        assert_eq!(targets.jobs[1].namespace.as_deref(), Some("search"));
        let gated: Vec<_> = targets.workloads().iter().map(|w| w.to_string()).collect();
        assert_eq!(gated, ["Deployment/shop-web", "CronJob/shop-cleanup"]);
        assert_eq!(
            default_timeout(&targets),
            ROLLOUT_ALLOWANCE,
            "no deadline in this plan: only the rollouts' allowance"
        );
    }

    #[test]
    fn hook_plan_follows_each_hook_job_once_and_nothing_else() {
        let targets = from_plan_json(
            r#"{"events":[
              {"event":"pre-install","hooks":[
                 {"weight":0,"kind":"Secret","name":"shop-env-migrate","readBy":["migrate"]},
                 {"weight":1,"kind":"Job","name":"shop-migrate","job":"migrate"}]},
              {"event":"pre-upgrade","hooks":[
                 {"weight":1,"kind":"Job","name":"shop-migrate","job":"migrate"}]}],
              "disabled":[],"warnings":[]}"#,
        )
        .unwrap();
        assert!(!targets.gate);
        assert_eq!(
            targets.jobs.len(),
            1,
            "a Job in two events is followed once"
        );
        assert_eq!(targets.jobs[0].name, "shop-migrate");
    }

    #[test]
    fn other_json_is_refused_with_what_was_expected() {
        let err = from_plan_json("[1,2]").unwrap_err();
        assert!(format!("{err:#}").contains("plan -o json"), "{err:#}");
        let err =
            from_plan_json(r#"{"gate":[{"job":"a","name":"b","namespace":null,"gates":["web"]}]}"#)
                .unwrap_err();
        assert!(format!("{err:#}").contains("Kind/name"), "{err:#}");
    }
}
