//! What the planner and its strategies read of the stream: the [`Documents`] it is given,
//! and the workloads and selectors in it. Shared below `plan`, `exclusive` and `order`, so
//! that none of them imports another for these.

use anyhow::Result;
use indexmap::IndexMap;
use serde_norway::Value;

use crate::header::Header;

pub use crate::facts::WORKLOAD_KINDS;

/// Read access to the documents of the stream, parsing them only when asked.
pub trait Documents {
    /// Number of documents.
    fn count(&self) -> usize;
    /// The header of document `i`, or `None` for a document without content.
    fn header(&self, i: usize) -> Option<&Header>;
    /// The raw text of document `i`.
    fn raw(&self, i: usize) -> &str;
    /// Document `i` parsed in full; errors already carry the document's context.
    fn value(&self, i: usize) -> Result<&Value>;
    /// `chart/templates/x.yaml`, or `document 3` when the stream names no file.
    fn label(&self, i: usize) -> String;
    /// Whether document `i` is skipped for planning (the configuration, generated output).
    fn ignored(&self, i: usize) -> bool;
    /// Whether the text of document `i` could hold a pod template at all
    /// ([`could_hold_pods`]). Every search for workloads asks it of every document, so an
    /// implementation works it out once per document.
    fn could_hold_pods(&self, i: usize) -> bool;
}

/// Whether a document's text names `containers`, as every pod template does: only then is
/// it worth parsing to look for one. A vectorised search, since it reads through every
/// ConfigMap and custom resource of the stream.
pub fn could_hold_pods(raw: &str) -> bool {
    static CONTAINERS: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new("containers"));
    CONTAINERS.find(raw.as_bytes()).is_some()
}

/// The workloads the stream renders as ordinary resources (hooks and ignored documents left
/// out): document index, header and kind. The kinds of [`WORKLOAD_KINDS`], and any other
/// object with a pod template (an Argo Rollout, a custom resource), found by its shape.
pub fn workloads<'a>(
    docs: &'a dyn Documents,
) -> impl Iterator<Item = (usize, &'a Header, &'a str)> + 'a {
    (0..docs.count()).filter_map(move |i| {
        let header = docs.header(i)?;
        let kind = header.kind.as_deref()?;
        if docs.ignored(i) || header.is_hook() {
            return None;
        }
        let has_pods = || {
            // Parsed only when its text could hold a pod template at all.
            docs.could_hold_pods(i)
                && docs
                    .value(i)
                    .is_ok_and(|v| matches!(Pods::of(kind, v), Some(Pods::Template(_))))
        };
        (WORKLOAD_KINDS.contains(&kind) || has_pods()).then_some((i, header, kind))
    })
}

/// Whether a document's selector selects pods with these labels. An empty selector selects
/// nothing here: Services without one route to no pods, and workloads must have one.
pub fn selector_matches(header: &Header, labels: &IndexMap<String, String>) -> bool {
    if header.selector.is_empty() && header.selector_expressions.is_empty() {
        return false;
    }
    // A pod has a handful of labels, and this runs for every selector of the stream: a
    // look along them costs less than hashing the key.
    let get = |key: &str| {
        labels
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    };
    let labels_ok = header
        .selector
        .iter()
        .all(|(k, v)| get(k).map(String::as_str) == Some(v));
    let expressions_ok = header.selector_expressions.iter().all(|r| {
        let value = get(&r.key);
        match r.operator.as_str() {
            "In" => value.is_some_and(|v| r.values.contains(v)),
            "NotIn" => value.is_none_or(|v| !r.values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_ok && expressions_ok
}

/// The workloads behind a job's `waitFor` targets, with how the job reaches each
/// (`waitFor db:5432, Service/db`): a Service named by the host (`db`, `db.ns`,
/// `db.ns.svc.cluster.local`, or `db-0.db-headless` for one pod of a StatefulSet) whose
/// selector matches the workload's pod template.
pub fn waited_for(
    docs: &dyn Documents,
    wait_for: &[(String, u16)],
) -> Result<Vec<(usize, String)>> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for (host, port) in wait_for {
        let labels: Vec<&str> = host.split('.').collect();
        let mut services: Vec<&str> = vec![labels[0]];
        // `pod-0.service`: a StatefulSet pod's own name, under its headless Service.
        if let Some(second) = labels.get(1)
            && labels[0]
                .rsplit_once('-')
                .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        {
            services.push(second);
        }
        for s in 0..docs.count() {
            let Some(sh) = docs.header(s) else { continue };
            let named = sh.name.as_deref().is_some_and(|n| services.contains(&n));
            if docs.ignored(s) || sh.is_hook() || !sh.is_kind("Service") || !named {
                continue;
            }
            for (i, _, kind) in workloads(docs) {
                let template_labels: IndexMap<String, String> = pod_template(kind, docs.value(i)?)
                    .and_then(|t| t.get("metadata")?.get("labels")?.as_mapping())
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| {
                                Some((k.as_str()?.to_string(), v.as_str()?.to_string()))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if selector_matches(sh, &template_labels) && !out.iter().any(|(w, _)| *w == i) {
                    out.push((
                        i,
                        format!(
                            "waitFor {host}:{port} reaches it through Service/{}",
                            sh.name.as_deref().unwrap_or_default()
                        ),
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// Where an object keeps the pods it runs, read from its shape rather than a list of kinds
/// (a Deployment, a Job, an Argo Rollouts `Rollout` or any other custom resource with
/// `spec.template`; a CronJob's `spec.jobTemplate.spec.template`; a bare Pod's `spec`), so
/// that a kind nobody listed is still seen running pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pods {
    /// A pod template (`metadata` and `spec`) at this path: new pods come from it.
    Template(&'static [&'static str]),
    /// A bare Pod: its spec is the pod's, and cannot change once it is created.
    Bare,
}

/// Path of a CronJob's pod template.
pub const CRONJOB_TEMPLATE: &[&str] = &["spec", "jobTemplate", "spec", "template"];
/// Path of the pod template of every other kind that has one.
pub const TEMPLATE: &[&str] = &["spec", "template"];

impl Pods {
    /// How this object runs pods, if it does: a pod template is a mapping whose `spec` has
    /// `containers`.
    pub fn of(kind: &str, value: &Value) -> Option<Pods> {
        let has_containers = |spec: Option<&Value>| {
            spec.and_then(|s| s.get("containers"))
                .is_some_and(Value::is_sequence)
        };
        if kind == "Pod" {
            return has_containers(value.get("spec")).then_some(Pods::Bare);
        }
        [CRONJOB_TEMPLATE, TEMPLATE]
            .into_iter()
            .find(|path| has_containers(at(value, path).and_then(|t| t.get("spec"))))
            .map(Pods::Template)
    }

    /// The pod spec of `value`.
    pub fn spec<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        match self {
            Pods::Template(path) => at(value, path)?.get("spec"),
            Pods::Bare => value.get("spec"),
        }
    }

    /// The pod's `metadata`: the template's, or the bare Pod's own.
    pub fn metadata<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        match self {
            Pods::Template(path) => at(value, path)?.get("metadata"),
            Pods::Bare => value.get("metadata"),
        }
    }
}

/// The value at a path of mapping keys.
pub fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(*key))
}

/// The pod template of a workload that has one.
fn pod_template<'a>(kind: &str, value: &'a Value) -> Option<&'a Value> {
    match Pods::of(kind, value)? {
        Pods::Template(path) => at(value, path),
        Pods::Bare => None,
    }
}
