//! The gate mode's promises, held over generated charts rather than fixtures, and checked on
//! what the cluster would read (the rendered objects and their annotations), not on the
//! planner's own data:
//!
//! 1. Nothing that runs pods of the new version starts before the jobs it must wait for have
//!    succeeded: every object that runs the app's image is gated by every job that runs
//!    before the app, or `plan` names it, with the reason, as not held by that job.
//! 2. The wait graph has no cycle: gates, the jobs' order, the rollouts they follow and the
//!    databases they wait for, as read back from the rendered stream.
//! 3. A job's name changes exactly when what it runs or reads changes: not when another
//!    job, a checksum or timestamp annotation, its deadline, the chart's version label or the
//!    rest of the chart changes.

mod common;

use std::collections::BTreeMap;

use deploy_jobs::{Options, Target, render};
use proptest::prelude::*;
use serde_norway::Value;

const APP: &str = "registry.example.com/shop:2.0.0";
const APP_OLD_TAG: &str = "registry.example.com/shop:1.9.0";
const OTHER: &str = "docker.io/library/redis:7";
const KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "CronJob",
    "Job",
    "Rollout",
    "Pod",
];

#[derive(Debug, Clone)]
struct Workload {
    kind: &'static str,
    image: &'static str,
    /// Runs as its own ServiceAccount, else as `default`.
    account: bool,
}

#[derive(Debug, Clone)]
struct JobGen {
    /// Reuses the container of this workload (taken modulo the reusable ones).
    reuse: Option<usize>,
    wait_db: bool,
    post: bool,
}

#[derive(Debug, Clone)]
struct Chart {
    workloads: Vec<Workload>,
    jobs: Vec<JobGen>,
}

fn workload() -> impl Strategy<Value = Workload> {
    (
        prop::sample::select(KINDS),
        prop::sample::select(&[APP, APP_OLD_TAG, OTHER][..]),
        any::<bool>(),
    )
        .prop_map(|(kind, image, account)| Workload {
            kind,
            image,
            account,
        })
}

fn chart() -> impl Strategy<Value = Chart> {
    (
        prop::collection::vec(workload(), 0..5),
        prop::collection::vec(
            (prop::option::of(0usize..6), any::<bool>(), any::<bool>()),
            1..4,
        ),
    )
        .prop_map(|(mut workloads, jobs)| {
            // The web Deployment every chart has.
            workloads.insert(
                0,
                Workload {
                    kind: "Deployment",
                    image: APP,
                    account: true,
                },
            );
            let jobs = jobs
                .into_iter()
                .map(|(reuse, wait_db, post)| JobGen {
                    reuse,
                    wait_db,
                    post,
                })
                .collect();
            Chart { workloads, jobs }
        })
}

impl Chart {
    fn name(i: usize, w: &Workload) -> String {
        format!("shop-{}-{i}", w.kind.to_lowercase())
    }

    /// The workload a job reuses: one `kubectl rollout status` follows for a job after the
    /// app, else any that deploy-jobs reuses from (not a Rollout).
    fn reused(&self, job: &JobGen) -> Option<usize> {
        let ok: Vec<usize> = (0..self.workloads.len())
            .filter(|&i| {
                let k = self.workloads[i].kind;
                if job.post {
                    ["Deployment", "StatefulSet", "DaemonSet"].contains(&k)
                } else {
                    k != "Rollout"
                }
            })
            .collect();
        job.reuse.map(|r| ok[r % ok.len()])
    }

    fn stream(&self, annotations: &str, deadline: u64, commands: &[&str]) -> String {
        let mut out = String::from(
            "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: shop-db\n  labels: {app.kubernetes.io/instance: shop}\nstringData:\n  DATABASE_URL: postgres://db/shop\n",
        );
        out.push_str("---\napiVersion: v1\nkind: Service\nmetadata:\n  name: db\nspec:\n  selector: {app: db}\n  ports: [{port: 5432}]\n");
        out.push_str(&object(
            "StatefulSet",
            "apps/v1",
            "db",
            "docker.io/library/postgres:17",
            "postgres",
            "app: db",
            "",
            false,
        ));
        for (i, w) in self.workloads.iter().enumerate() {
            let api = match w.kind {
                "CronJob" | "Job" => "batch/v1",
                "Rollout" => "argoproj.io/v1alpha1",
                "Pod" => "v1",
                _ => "apps/v1",
            };
            out.push_str(&object(
                w.kind,
                api,
                &Chart::name(i, w),
                w.image,
                &format!("c{i}"),
                &format!("app: w{i}"),
                annotations,
                w.account,
            ));
        }
        out.push_str("---\napiVersion: deploy-jobs/v1\nkind: DeployJobs\nmetadata:\n  name: shop\ndeploy_jobs:\n");
        for (j, job) in self.jobs.iter().enumerate() {
            out.push_str(&format!("  - name: job{j}\n"));
            match self.reused(job) {
                Some(i) => out.push_str(&format!("    container: c{i}\n")),
                None => out.push_str("    image: registry.example.com/migrations:1.0\n"),
            }
            let command = commands.get(j).copied().unwrap_or("migrate");
            out.push_str(&format!("    command: [{command}]\n"));
            if job.wait_db {
                out.push_str("    waitFor: [\"db:5432\"]\n");
            }
            if job.post {
                out.push_str("    when: post-install,post-upgrade\n");
            }
            if j == self.jobs.len() - 1 {
                out.push_str(&format!("    activeDeadlineSeconds: {deadline}\n"));
            }
        }
        out
    }
}

/// One object of the chart, with its pods where its kind keeps them.
#[allow(clippy::too_many_arguments)]
fn object(
    kind: &str,
    api: &str,
    name: &str,
    image: &str,
    container: &str,
    labels: &str,
    annotations: &str,
    account: bool,
) -> String {
    let account = if account {
        format!("serviceAccountName: {name}\n")
    } else {
        String::new()
    };
    let pod = format!(
        "{account}containers:\n- name: {container}\n  image: {image}\n  envFrom: [{{secretRef: {{name: shop-db}}}}]\n"
    );
    let indent = |text: &str, n: usize| {
        text.lines()
            .map(|l| format!("{}{l}\n", " ".repeat(n)))
            .collect::<String>()
    };
    let meta = format!(
        "metadata:\n  labels: {{{labels}, app.kubernetes.io/instance: shop, helm.sh/chart: shop-1.0.0}}\n  annotations: {{checksum/config: abc{annotations}}}\n"
    );
    let template = format!("{meta}spec:\n{}", indent(&pod, 2));
    let spec = match kind {
        "Pod" => {
            return format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\nspec:\n{}",
                indent(&pod, 2)
            );
        }
        "CronJob" => format!(
            "schedule: '0 * * * *'\njobTemplate:\n  spec:\n    template:\n{}",
            indent(&template, 6)
        ),
        "Job" => format!("template:\n{}", indent(&template, 2)),
        _ => format!(
            "selector:\n  matchLabels: {{{labels}}}\ntemplate:\n{}",
            indent(&template, 2)
        ),
    };
    format!(
        "---\napiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n  labels: {{app.kubernetes.io/instance: shop}}\nspec:\n{}",
        indent(&spec, 2)
    )
}

fn gate(stream: &str) -> Result<(Vec<Value>, Value), String> {
    let options = Options {
        target: Target::Gate,
        ..Options::default()
    };
    let rendered = render(stream.as_bytes(), &options).map_err(|e| format!("{e:#}"))?;
    let text: String = rendered.stream.pieces().collect();
    let report = deploy_jobs::report::Report::of(rendered.plan.as_ref().expect("a plan"));
    Ok((
        common::documents(&text),
        serde_json::from_value(serde_json::to_value(report).unwrap()).unwrap(),
    ))
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

fn pod_template(v: &Value) -> Option<&Value> {
    at(v, &["spec", "jobTemplate", "spec", "template"]).or_else(|| at(v, &["spec", "template"]))
}

fn annotation<'a>(v: &'a Value, path: &[&str], key: &str) -> Option<&'a str> {
    at(v, path)?
        .get("metadata")?
        .get("annotations")?
        .get(key)?
        .as_str()
}

fn split(list: Option<&str>) -> Vec<String> {
    list.unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The generated Jobs: name -> (job name in the list, after, follows).
fn jobs(docs: &[Value]) -> BTreeMap<String, (String, Vec<String>, Vec<String>)> {
    docs.iter()
        .filter(|d| d["kind"] == "Job" && annotation(d, &[], "deploy-jobs.io/job").is_some())
        .map(|d| {
            (
                d["metadata"]["name"].as_str().unwrap().to_string(),
                (
                    annotation(d, &[], "deploy-jobs.io/job")
                        .unwrap()
                        .to_string(),
                    split(annotation(d, &[], "deploy-jobs.io/after")),
                    split(annotation(d, &[], "deploy-jobs.io/follows")),
                ),
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn the_app_is_held_and_the_wait_graph_has_no_cycle(chart in chart()) {
        let stream = chart.stream("", 240, &[]);
        let (docs, report) = match gate(&stream) {
            Ok(out) => out,
            // What the gate mode refuses, it refuses with a reason, never a panic.
            Err(e) => {
                prop_assert!(e.contains("deploy_jobs["), "an error names the job: {e}");
                return Ok(());
            }
        };
        let jobs = jobs(&docs);
        let gating: Vec<&String> = jobs.iter().filter(|(_, j)| j.2.is_empty() && !chart.jobs[j.0[3..].parse::<usize>().unwrap()].post).map(|(n, _)| n).collect();
        // (1) Every object that runs the app's image (one a job reuses, or any when none
        // does), for every job that runs before the app.
        let repo = |image: &str| image.rsplit_once(':').map_or(image.to_string(), |(r, _)| r.to_string());
        let app: Vec<String> = chart.jobs.iter().filter_map(|j| chart.reused(j)).map(|i| repo(chart.workloads[i].image)).collect();
        for (i, w) in chart.workloads.iter().enumerate() {
            if !app.is_empty() && !app.contains(&repo(w.image)) {
                continue;
            }
            let name = Chart::name(i, w);
            let doc = docs.iter().find(|d| d["metadata"]["name"] == name.as_str() && d["kind"] == w.kind).expect("every object passes through");
            let held = split(pod_template(doc).and_then(|t| t["metadata"]["annotations"]["deploy-jobs.io/gate-jobs"].as_str()));
            for job in &gating {
                let list_name = &jobs[*job].0;
                let not_held = report["gate"].as_sequence().unwrap().iter()
                    .find(|g| g["job"].as_str() == Some(list_name)).unwrap()["notHeld"]
                    .as_sequence().cloned().unwrap_or_default();
                let named = not_held.iter().find(|n| n["object"].as_str() == Some(&format!("{}/{name}", w.kind)));
                prop_assert!(
                    held.contains(job) || named.is_some(),
                    "{}/{name} runs the app and is neither held by {job} nor named by plan\n{stream}", w.kind
                );
                if let Some(n) = named {
                    let why = n["reason"].as_str().unwrap();
                    prop_assert!(why.contains("bare Pod") || why.contains("the job waits for it"), "{why}");
                }
            }
        }
        // (2) The wait graph, as the cluster reads it, has no cycle.
        let mut edges: Vec<(String, String)> = Vec::new();
        for d in &docs {
            let id = format!("{}/{}", d["kind"].as_str().unwrap_or_default(), d["metadata"]["name"].as_str().unwrap_or_default());
            if let Some(t) = pod_template(d) {
                for job in split(t["metadata"]["annotations"]["deploy-jobs.io/gate-jobs"].as_str()) {
                    edges.push((id.clone(), format!("Job/{job}")));
                }
            }
        }
        for (name, (list_name, after, follows)) in &jobs {
            let me = format!("Job/{name}");
            for a in after { edges.push((me.clone(), format!("Job/{a}"))); }
            for f in follows { edges.push((me.clone(), f.clone())); }
            if chart.jobs[list_name[3..].parse::<usize>().unwrap()].wait_db {
                edges.push((me.clone(), "StatefulSet/db".to_string()));
            }
        }
        let nodes: Vec<&String> = edges.iter().flat_map(|(a, b)| [a, b]).collect();
        for start in nodes {
            let mut seen: Vec<&String> = Vec::new();
            let mut todo: Vec<&String> = edges.iter().filter(|(a, _)| a == start).map(|(_, b)| b).collect();
            while let Some(n) = todo.pop() {
                prop_assert!(n != start, "a cycle through {start}\n{edges:?}\n{stream}");
                if !seen.contains(&n) {
                    seen.push(n);
                    todo.extend(edges.iter().filter(|(a, _)| a == n).map(|(_, b)| b));
                }
            }
        }
        // (3a) A Job's pod template names no other Job: what it waits for may change.
        for d in docs.iter().filter(|d| d["kind"] == "Job" && annotation(d, &[], "deploy-jobs.io/job").is_some()) {
            let own = d["metadata"]["name"].as_str().unwrap_or_default();
            let template = serde_json::to_string(&d["spec"]["template"]).unwrap();
            for other in jobs.keys().filter(|n| *n != own) {
                prop_assert!(!template.contains(other.as_str()), "{own}'s pod names {other}");
            }
        }
    }

    #[test]
    fn a_jobs_name_changes_exactly_when_what_it_runs_or_reads_changes(chart in chart(), stamp in 1_000_000_000u64..2_000_000_000) {
        let names = |stream: &str| -> Option<Vec<String>> {
            let (docs, _) = gate(stream).ok()?;
            let mut by_job: Vec<(String, String)> = jobs(&docs).into_iter().map(|(n, j)| (j.0, n)).collect();
            by_job.sort();
            Some(by_job.into_iter().map(|(_, n)| n).collect())
        };
        let Some(before) = names(&chart.stream("", 240, &[])) else { return Ok(()) };
        // Nothing of any job's own.
        for (what, stream) in [
            ("a timestamp annotation", chart.stream(&format!(", timestamp: '{stamp}'"), 240, &[])),
            ("the last job's deadline", chart.stream("", 250, &[])),
            ("the chart's version label", chart.stream("", 240, &[]).replace("shop-1.0.0", "shop-1.0.1")),
            ("a checksum annotation", chart.stream("", 240, &[]).replace("checksum/config: abc", "checksum/config: abd")),
        ] {
            prop_assert_eq!(names(&stream), Some(before.clone()), "{} renamed a Job", what);
        }
        // Only the changed job, when there are several: the others keep their names.
        let changed: Vec<&str> = vec!["migrate"; chart.jobs.len() - 1].into_iter().chain(["migrate-v2"]).collect();
        if let Some(after) = names(&chart.stream("", 240, &changed)) {
            let last = before.len() - 1;
            prop_assert_eq!(&after[..last], &before[..last], "a later job's change renamed an earlier one");
            prop_assert_ne!(&after[last], &before[last], "the changed job kept its name");
        }
        let first_changed: Vec<&str> = ["migrate-v2"].into_iter().chain(vec!["migrate"; chart.jobs.len() - 1]).collect();
        if let Some(after) = names(&chart.stream("", 240, &first_changed)) {
            prop_assert_ne!(&after[0], &before[0], "the changed job kept its name");
            prop_assert_eq!(&after[1..], &before[1..], "an earlier job's change renamed a later one (the chain)");
        }
        // What a job reads: the Secret every reused container reads.
        let secret = chart.stream("", 240, &[]).replace("postgres://db/shop", "postgres://db/shop2");
        let readers: Vec<bool> = {
            let mut js: Vec<(usize, bool)> = chart.jobs.iter().enumerate().map(|(i, j)| (i, chart.reused(j).is_some())).collect();
            js.sort_by_key(|(i, _)| format!("job{i}"));
            js.into_iter().map(|(_, r)| r).collect()
        };
        if let Some(after) = names(&secret) {
            for (i, reads) in readers.iter().enumerate() {
                prop_assert_eq!(after[i] != before[i], *reads, "job {} reads the Secret: {}", i, reads);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Names near Kubernetes' limits: every generated name fits (63 characters for a Job,
    /// whose pods get a label of its name; 253 for the rest), the Job's ends with its hash,
    /// and three chained jobs stay apart.
    #[test]
    fn generated_names_fit_and_keep_their_hash(prefix in "[a-z][a-z0-9-]{0,60}[a-z0-9]", job in "[a-z][a-z0-9-]{0,50}[a-z0-9]") {
        let chart = Chart {
            workloads: vec![Workload { kind: "Deployment", image: APP, account: true }],
            jobs: vec![JobGen { reuse: Some(0), wait_db: false, post: false }; 3],
        };
        let stream = chart
            .stream("", 240, &["a", "b", "c"])
            .replace("metadata:\n  name: shop\ndeploy_jobs:", &format!("metadata:\n  name: {prefix}\ndeploy_jobs:"))
            .replace("name: job", &format!("name: {job}-"));
        let (docs, _) = gate(&stream).map_err(TestCaseError::fail)?;
        let jobs = jobs(&docs);
        prop_assert_eq!(jobs.len(), 3, "three distinct Jobs");
        for name in jobs.keys() {
            prop_assert!(name.len() <= 63, "{} is {} characters", name, name.len());
            let hash = name.rsplit('-').next().unwrap();
            prop_assert!(hash.len() == 10 && hash.bytes().all(|b| b.is_ascii_hexdigit()), "{name} ends with its hash");
        }
        for d in &docs {
            let name = d["metadata"]["name"].as_str().unwrap_or_default();
            prop_assert!(name.len() <= 253 && !name.ends_with('-'), "{}", name);
        }
        // The chain: each Job after the first names the one just before it in the list.
        let mut by_list: Vec<(&String, &String, &Vec<String>)> =
            jobs.iter().map(|(n, j)| (&j.0, n, &j.1)).collect();
        by_list.sort_by_key(|(list_name, ..)| list_name.rsplit('-').next().unwrap().to_string());
        prop_assert!(by_list[0].2.is_empty(), "the first job waits for no Job");
        for k in 1..by_list.len() {
            prop_assert_eq!(by_list[k].2, &vec![by_list[k - 1].1.clone()], "job {} runs after job {}", k, k - 1);
        }
    }
}
