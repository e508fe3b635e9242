//! What `container:` copies, read back by real kubectl 1.35 (`annotate --local`, offline):
//! Kubernetes tools read YAML 1.1, so the generated Jobs of the container-reuse golden cases
//! must come back from kubectl exactly as deploy-jobs meant them (the copied pod settings,
//! the native sidecar before the wait-for step, the app's container name, the merged env),
//! and the facts each case is about are checked on kubectl's reading, not on ours.

mod common;

use std::fs;

use serde_json::Value as Json;

/// The golden cases of issue 10's container items, and of issue 17's defect classes.
const CASES: &[&str] = &[
    "args-only-keep-the-container-command",
    "env-override-wins-over-every-duplicate",
    "container-keeps-its-name-for-resource-references",
    "container-names-an-init-container",
    "pod-settings-and-native-sidecars-come-along",
    "classic-sidecar-listed-runs-as-native",
    // issue 17's classes
    "init-containers-that-fill-the-apps-volumes-come-along",
    "pull-secrets-of-the-apps-service-account",
    "per-pod-and-csi-volumes-come-along",
    "resources-kept-for-resource-field-references",
    "windows-pod-keeps-its-os-and-nodes",
    "security-context-set-by-the-job",
];

/// The generated documents of a case's expected output, as deploy-jobs meant them (JSON),
/// and as real kubectl reads them.
fn read_back(case: &str) -> (Vec<Json>, Vec<Json>) {
    let text = fs::read_to_string(
        common::repo_root()
            .join("testdata")
            .join(case)
            .join("expected.yaml"),
    )
    .expect("the golden output exists");
    // The generated documents' own text, as Helm or kubectl would receive it.
    let mut stream = String::new();
    let mut ours = Vec::new();
    for doc in deploy_jobs::stream::split(text.as_bytes()).unwrap() {
        let value: serde_norway::Value = match serde_norway::from_str(doc.yaml()) {
            Ok(v) => v,
            Err(_) => continue, // an input passed through, not ours
        };
        if value["metadata"]["annotations"][deploy_jobs::GENERATED_ANNOTATION].is_string() {
            stream.push_str("---\n");
            stream.push_str(doc.yaml());
            ours.push(serde_json::to_value(value).expect("YAML maps to JSON"));
        }
    }
    assert!(!ours.is_empty(), "{case}: no generated documents");
    let theirs = common::kubectl_reads(&stream);
    (ours, theirs)
}

fn job<'a>(docs: &'a [Json], name: &str) -> &'a Json {
    docs.iter()
        .find(|d| d["kind"] == "Job" && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no Job {name}"))
}

fn names(list: &Json) -> Vec<&str> {
    list.as_array()
        .map(|l| l.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default()
}

#[test]
fn kubectl_reads_the_generated_objects_as_meant() {
    for case in CASES {
        let (ours, theirs) = read_back(case);
        assert_eq!(
            ours, theirs,
            "{case}: kubectl 1.35 reads the generated objects differently from what deploy-jobs meant"
        );
    }
}

#[test]
fn kubectl_sees_the_app_program_env_and_name() {
    let (_, docs) = read_back("args-only-keep-the-container-command");
    let c = &job(&docs, "shop-migrate")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["command"],
        serde_json::json!(["/app/shop"]),
        "args alone keep the app's command"
    );
    assert_eq!(c["args"][0], "migrate");
    let c = &job(&docs, "shop-check")["spec"]["template"]["spec"]["containers"][0];
    assert!(
        c.get("args").is_none(),
        "command alone drops the app's args: {c}"
    );

    let (_, docs) = read_back("env-override-wins-over-every-duplicate");
    let env = &job(&docs, "shop-migrate")["spec"]["template"]["spec"]["containers"][0]["env"];
    let hosts: Vec<&Json> = env
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "DB_HOST")
        .collect();
    assert_eq!(hosts.len(), 1, "one DB_HOST, the job's: {env}");
    assert_eq!(hosts[0]["value"], "postgres-primary");

    let (_, docs) = read_back("container-keeps-its-name-for-resource-references");
    let spec = &job(&docs, "shop-migrate")["spec"]["template"]["spec"];
    assert_eq!(names(&spec["containers"]), ["app"]);
    assert_eq!(
        spec["volumes"][0]["downwardAPI"]["items"][0]["resourceFieldRef"]["containerName"], "app",
        "the downward API volume still names a container the pod runs"
    );
}

#[test]
fn kubectl_sees_the_pod_settings_and_the_native_sidecar_first() {
    let (_, docs) = read_back("pod-settings-and-native-sidecars-come-along");
    let template = &job(&docs, "shop-migrate")["spec"]["template"];
    let spec = &template["spec"];
    for key in [
        "hostAliases",
        "dnsPolicy",
        "dnsConfig",
        "runtimeClassName",
        "enableServiceLinks",
        "priorityClassName",
    ] {
        assert!(spec.get(key).is_some(), "{key} is copied: {spec}");
    }
    assert_eq!(spec["enableServiceLinks"], false);
    assert!(spec["affinity"].get("nodeAffinity").is_some());
    assert!(
        spec["affinity"].get("podAntiAffinity").is_none(),
        "anti-affinity to the app is dropped"
    );
    assert!(spec.get("topologySpreadConstraints").is_none());
    assert_eq!(
        names(&spec["initContainers"]),
        ["cloud-sql-proxy", "wait-for"],
        "the database proxy starts before the wait-for step; the app's own init step is not copied"
    );
    assert_eq!(spec["initContainers"][0]["restartPolicy"], "Always");
    assert_eq!(
        names(&spec["containers"]),
        ["app"],
        "the classic sidecar is not copied"
    );
    let app = &spec["containers"][0];
    for key in ["ports", "readinessProbe", "livenessProbe", "lifecycle"] {
        assert!(app.get(key).is_none(), "{key} is not copied: {app}");
    }
    let (_, docs) = read_back("classic-sidecar-listed-runs-as-native");
    let listed = &job(&docs, "shop-migrate")["spec"]["template"]["spec"];
    assert_eq!(
        names(&listed["initContainers"]),
        ["cloud-sql-proxy", "wait-for"]
    );
    assert_eq!(
        listed["initContainers"][0]["restartPolicy"], "Always",
        "a listed classic sidecar runs as a native one, so the Job completes"
    );
    assert_eq!(names(&listed["containers"]), ["app"]);

    let annotations = &template["metadata"]["annotations"];
    assert_eq!(annotations["sidecar.istio.io/nativeSidecar"], "true");
    assert_eq!(
        annotations["vault.hashicorp.com/agent-pre-populate-only"],
        "true"
    );
    assert!(
        annotations
            .get("kubectl.kubernetes.io/default-container")
            .is_none()
    );
    let labels = &template["metadata"]["labels"];
    assert_eq!(labels["azure.workload.identity/use"], "true");
    assert!(
        labels.get("app.kubernetes.io/name").is_none(),
        "the label that would put the pod behind the app's Service is dropped: {labels}"
    );
}

#[test]
fn helm4_installs_the_job_with_the_proxy_sidecar_as_a_hook() {
    // The golden case's input as a chart of its own, rendered by real Helm 4.1.4 through the
    // plugin: the Job Helm will run (HOOKS) has the database proxy as a native sidecar before
    // the wait-for step, the app's DNS settings, and the native-sidecar request to meshes.
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("shop");
    fs::create_dir_all(chart.join("templates")).unwrap();
    fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
    )
    .unwrap();
    let input = fs::read_to_string(
        common::repo_root().join("testdata/pod-settings-and-native-sidecars-come-along/input.yaml"),
    )
    .unwrap();
    let template: String = input
        .lines()
        .filter(|l| !l.starts_with("# Source:"))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(chart.join("templates/all.yaml"), template).unwrap();

    let helm = common::Helm::with_plugin();
    let out = helm.ok(&[
        "install",
        "shop",
        chart.to_str().unwrap(),
        "--dry-run=client",
        "--post-renderer",
        "deploy-jobs",
    ]);
    let (hooks, _) = common::sections(&out);
    let docs = common::documents(&hooks);
    let job = docs
        .iter()
        .find(|d| d["kind"].as_str() == Some("Job"))
        .expect("Helm lists the Job as a hook");
    let spec = &job["spec"]["template"]["spec"];
    let init: Vec<&str> = spec["initContainers"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(init, ["cloud-sql-proxy", "wait-for"], "{hooks}");
    assert_eq!(
        spec["initContainers"][0]["restartPolicy"].as_str(),
        Some("Always")
    );
    assert_eq!(spec["dnsPolicy"].as_str(), Some("None"));
    assert_eq!(
        job["spec"]["template"]["metadata"]["annotations"]["sidecar.istio.io/nativeSidecar"]
            .as_str(),
        Some("true")
    );
}
