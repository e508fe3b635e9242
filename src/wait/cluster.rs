//! The Kubernetes side of a wait, over kube-rs: one watch per Job (by name, so a Role may
//! restrict it with `resourceNames`), one watch of the pods of each namespace, the migration
//! container's log streamed with `follow`, and reads of the gated objects until they have
//! rolled out. kube-runtime's watcher resumes a watch that ends from its last
//! resourceVersion and lists again after `410 Gone`; `track` decides what it all means.
//! Progress goes to the caller's closure: nothing here prints.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures::stream::{self, LocalBoxStream, SelectAll};
use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, LogParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config};
use serde::de::DeserializeOwned;

use super::progress::{Progress, Verdict};
use super::targets::{Gated, WaitList};
use super::track::{Action, Change, JOB_NAME_LABELS, Observation, TAIL_LINES, Tracker};

/// What the RBAC of the identity running `wait` must allow; said when the cluster refuses.
pub const RBAC_NEEDED: &str = "deploy-jobs wait needs, in the release namespace: get, list and watch on jobs; list and watch on pods; get on pods/log; get on the gated Deployments, StatefulSets, DaemonSets and ReplicaSets";

/// How to reach the cluster and how long to wait.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Where Jobs without a namespace of their own run; default: the kubeconfig context's.
    pub namespace: Option<String>,
    /// How long the whole wait may take.
    pub timeout: Option<Duration>,
    /// How often a gated object is read while it rolls out.
    pub poll: Duration,
}

/// A client the way `kubectl` finds one: `$KUBECONFIG` or `~/.kube/config` (its current
/// context, or `context`), with exec credential plugins (EKS, GKE, AKS), else the pod's
/// in-cluster ServiceAccount.
pub async fn connect(context: Option<&str>) -> Result<Client> {
    let config = match context {
        Some(name) => {
            let options = kube::config::KubeConfigOptions {
                context: Some(name.to_owned()),
                ..Default::default()
            };
            Config::from_kubeconfig(&options)
                .await
                .with_context(|| format!("reading the kubeconfig for context `{name}`"))?
        }
        None => Config::infer()
            .await
            .context("finding the cluster (no kubeconfig, and not running in a pod)")?,
    };
    Client::try_from(config).context("setting up the Kubernetes client")
}

type Observations = LocalBoxStream<'static, Result<Observation>>;

/// Follows `targets` until they end or the timeout runs out; tells `say` each step, with
/// what is still pending.
pub async fn follow(
    client: Client,
    targets: WaitList,
    options: &Options,
    say: &mut dyn FnMut(&Progress, Vec<String>),
) -> Result<Verdict> {
    let release_ns = options
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    let namespaces: Vec<String> = targets
        .jobs
        .iter()
        .map(|t| t.namespace.clone().unwrap_or_else(|| release_ns.clone()))
        .collect();
    let mut streams = watches(&client, &targets, &namespaces);
    let mut tracker = Tracker::new(targets.clone(), namespaces.clone());
    let deadline = options.timeout.map(|t| tokio::time::Instant::now() + t);
    loop {
        if let Some(verdict) = tracker.verdict() {
            return Ok(verdict);
        }
        let next = match deadline {
            Some(at) => match tokio::time::timeout_at(at, streams.next()).await {
                Ok(next) => next,
                Err(_) => return Ok(Verdict::TimedOut(tracker.pending())),
            },
            None => streams.next().await,
        };
        let observation = next.ok_or_else(|| anyhow!("every watch ended"))??;
        for action in tracker.observe(observation) {
            match action {
                Action::Say(progress) => say(&progress, tracker.pending()),
                read => streams.extend(reads(&client, &targets, &namespaces, options, read)),
            }
        }
    }
}

/// A watch per Job, by name, and one of the pods of each namespace.
fn watches(client: &Client, targets: &WaitList, namespaces: &[String]) -> SelectAll<Observations> {
    let mut streams = SelectAll::new();
    for (i, (target, ns)) in targets.jobs.iter().zip(namespaces).enumerate() {
        let api: Api<Job> = Api::namespaced(client.clone(), ns);
        let config = watcher::Config::default().fields(&format!("metadata.name={}", target.name));
        let what = format!("Job {} in namespace {ns}", target.name);
        streams.push(watch(api, config, what, move |c| Observation::Job(i, c)));
    }
    let mut pod_namespaces = namespaces.to_vec();
    pod_namespaces.sort();
    pod_namespaces.dedup();
    for ns in pod_namespaces {
        streams.push(pod_watch(client, targets, namespaces, ns));
    }
    streams
}

/// The reads an action asks for: a log to stream, a log's tail, the gated objects.
fn reads(
    client: &Client,
    targets: &WaitList,
    namespaces: &[String],
    options: &Options,
    action: Action,
) -> Vec<Observations> {
    let pods = |job: usize| Api::<Pod>::namespaced(client.clone(), &namespaces[job]);
    match action {
        Action::Say(_) => Vec::new(),
        Action::StreamLog {
            job,
            pod,
            container,
        } => vec![log_lines(pods(job), job, pod, container)],
        Action::ReadTail {
            job,
            pod,
            container,
        } => vec![tail(pods(job), job, pod, container)],
        Action::FollowRollouts(workloads) => workloads
            .into_iter()
            .map(|w| {
                // A gated object is in the namespace of the Job that gates it.
                let i = targets.jobs.iter().position(|t| t.gates.contains(&w));
                let ns = namespaces[i.unwrap_or(0)].clone();
                rollout_reads(client.clone(), ns, w, options.poll)
            })
            .collect(),
    }
}

/// The pods of a namespace: only the followed Jobs' pods in hook mode; in gate mode all of
/// them, since the gated objects' pods carry no label of ours to select on.
fn pod_watch(
    client: &Client,
    targets: &WaitList,
    namespaces: &[String],
    ns: String,
) -> Observations {
    let mut config = watcher::Config::default();
    if !targets.gate {
        let names: Vec<&str> = (targets.jobs.iter().zip(namespaces))
            .filter(|(_, n)| **n == ns)
            .map(|(t, _)| t.name.as_str())
            .collect();
        config = config.labels(&format!("{} in ({})", JOB_NAME_LABELS[1], names.join(",")));
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let what = format!("pods in namespace {ns}");
    watch(api, config, what, move |c| Observation::Pods(ns.clone(), c))
}

/// A watch as observations. Forbidden and Unauthorized end the wait (retrying cannot help),
/// and so does a cluster that cannot be reached before the first list (a wrong kubeconfig
/// would otherwise look like Jobs not created yet). Anything else (a dropped connection,
/// `410 Gone`) is said once and the watcher goes on, with backoff.
fn watch<K>(
    api: Api<K>,
    config: watcher::Config,
    what: String,
    wrap: impl Fn(Change<Box<K>>) -> Observation + 'static,
) -> Observations
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let (mut listed, mut said) = (false, false);
    watcher(api, config)
        .default_backoff()
        .filter_map(move |event| {
            let out = match event {
                Err(err) => {
                    let observed = watch_error(&what, err, listed);
                    let quiet = said && matches!(observed, Ok(Observation::Interrupted(_)));
                    said = true;
                    (!quiet).then_some(observed)
                }
                Ok(event) => {
                    said = false;
                    listed |= matches!(event, watcher::Event::InitDone);
                    change(event).map(|c| Ok(wrap(c)))
                }
            };
            futures::future::ready(out)
        })
        .boxed_local()
}

fn change<K>(event: watcher::Event<K>) -> Option<Change<Box<K>>> {
    match event {
        watcher::Event::Init => None,
        watcher::Event::InitDone => Some(Change::Listed),
        watcher::Event::InitApply(k) | watcher::Event::Apply(k) => Some(Change::Seen(Box::new(k))),
        watcher::Event::Delete(k) => Some(Change::Gone(Box::new(k))),
    }
}

fn watch_error(what: &str, err: watcher::Error, listed: bool) -> Result<Observation> {
    let status = match &err {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => match e {
            kube::Error::Api(status) => Some(status.as_ref().clone()),
            _ => None,
        },
        watcher::Error::WatchError(status) => Some(status.as_ref().clone()),
        watcher::Error::NoResourceVersion => None,
    };
    match status {
        Some(s) if s.code == 401 || s.code == 403 => bail!(
            "reading {what}: {} ({}): {}\n{RBAC_NEEDED}",
            s.reason,
            s.code,
            s.message
        ),
        Some(s) if s.code == 410 => Ok(Observation::Interrupted(format!(
            "the watch of {what} expired (410 Gone: {}): listing again",
            s.message
        ))),
        None if !listed => Err(anyhow!(err)).with_context(|| {
            format!("reading {what}: the Kubernetes API cannot be reached (check the kubeconfig's server and context)")
        }),
        _ => Ok(Observation::Interrupted(format!(
            "the watch of {what} was interrupted ({err}): resuming"
        ))),
    }
}

/// The container's log with `follow=true`, line by line, then its end.
fn log_lines(api: Api<Pod>, job: usize, pod: String, container: String) -> Observations {
    let params = LogParams {
        follow: true,
        container: Some(container),
        ..LogParams::default()
    };
    stream::once(async move { api.log_stream(&pod, &params).await })
        .flat_map(move |opened| match opened {
            Ok(reader) => reader
                .lines()
                .map(move |line| {
                    Ok(match line {
                        Ok(line) => Observation::Log(job, line),
                        Err(e) => Observation::LogEnded(job, Some(e.to_string())),
                    })
                })
                .chain(stream::once(
                    async move { Ok(Observation::LogEnded(job, None)) },
                ))
                .boxed_local(),
            Err(e) => {
                let error = Some(describe(&e));
                stream::once(async move { Ok(Observation::LogEnded(job, error)) }).boxed_local()
            }
        })
        .boxed_local()
}

/// The last lines of a failed container's log; `None` when its pod is gone.
fn tail(api: Api<Pod>, job: usize, pod: String, container: String) -> Observations {
    let params = LogParams {
        container: Some(container),
        tail_lines: Some(TAIL_LINES),
        ..LogParams::default()
    };
    stream::once(async move {
        let read = match api.logs(&pod, &params).await {
            Ok(text) => Ok(Some(text)),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(describe(&e)),
        };
        Ok(Observation::Tail(job, read))
    })
    .boxed_local()
}

/// Reads a gated object now and then every `poll`, for as long as the wait lasts.
fn rollout_reads(client: Client, ns: String, w: Gated, poll: Duration) -> Observations {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("apps", "v1", &w.kind));
    let api: Api<DynamicObject> = Api::namespaced_with(client, &ns, &resource);
    stream::unfold(true, move |first| {
        let (api, w, ns) = (api.clone(), w.clone(), ns.clone());
        async move {
            if !first {
                tokio::time::sleep(poll).await;
            }
            let read = match api.get_opt(&w.name).await {
                Ok(object) => {
                    let value = object.map(|o| serde_json::to_value(o).unwrap_or_default());
                    Ok(Observation::Gated(w, value))
                }
                Err(kube::Error::Api(s)) if s.code == 401 || s.code == 403 => Err(anyhow!(
                    "reading {w} in namespace {ns}: {} ({}): {}\n{RBAC_NEEDED}",
                    s.reason,
                    s.code,
                    s.message
                )),
                Err(e) => Ok(Observation::Interrupted(format!(
                    "reading {w} failed ({}): trying again",
                    describe(&e)
                ))),
            };
            Some((read, false))
        }
    })
    .boxed_local()
}

fn describe(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(s) => format!("{} ({}): {}", s.reason, s.code, s.message),
        other => other.to_string(),
    }
}
