//! The Flux recipe in `examples/flux/` (the book's `docs/src/deployers.md`, "Flux"): its CI step run with the
//! real helm and deploy-jobs and a stand-in `flux` that records what it would push, and its
//! two manifests checked against the Flux CRDs' schemas for every field they use.
//!
//! No Flux runs here and CI cannot fetch, so the schema facts below are taken from the CRDs
//! themselves (not vendored), each with its source:
//! - `Kustomization`: fluxcd/kustomize-controller
//!   `config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml` (commit 186fb3b2,
//!   Aug 2026), version v1: spec requires interval, prune, sourceRef; sourceRef requires kind
//!   (OCIRepository | GitRepository | Bucket | ExternalArtifact) and name; durations match
//!   `^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`; targetNamespace is 1-63 characters.
//!   `docs/spec/v1/kustomizations.md`: `wait: true` health-checks every reconciled object
//!   (then `healthChecks` is ignored), Jobs included; a directory without a
//!   kustomization.yaml gets one generated for all its manifests.
//! - `OCIRepository`: fluxcd/source-controller
//!   `config/crd/bases/source.toolkit.fluxcd.io_ocirepositories.yaml` (commit 39b711b1, Jul
//!   2026), version v1 (served, storage): spec requires interval and url (`^oci://.*$`); ref
//!   holds digest, semver, semverFilter or tag.
//! - `flux push artifact URL:TAG --path --source --revision` and `flux tag artifact URL:TAG
//!   --tag`: fluxcd/flux2 `cmd/flux/push_artifact.go`, `cmd/flux/tag_artifact.go`.

mod common;

use std::path::Path;
use std::process::Command;

use serde_norway::Value;

fn example(name: &str) -> Value {
    let text =
        std::fs::read_to_string(common::repo_root().join("examples/flux").join(name)).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// Seconds of a Flux (Go) duration as the CRDs' pattern admits it.
fn duration(text: &str) -> f64 {
    let mut total = 0.0;
    let mut rest = text;
    assert!(!rest.is_empty(), "an empty duration");
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or_else(|| panic!("`{text}` has a number without a unit"));
        let number: f64 = rest[..end]
            .parse()
            .unwrap_or_else(|_| panic!("`{text}` is not a duration"));
        rest = &rest[end..];
        let (unit, scale) = [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)]
            .into_iter()
            .find(|(unit, _)| rest.starts_with(unit))
            .unwrap_or_else(|| panic!("`{text}` has a unit Flux does not take"));
        total += number * scale;
        rest = &rest[unit.len()..];
    }
    total
}

/// Every key of `map` is one the CRD defines at that place, and the required ones are there.
fn keys(map: &Value, at: &str, allowed: &[&str], required: &[&str]) {
    let map = map
        .as_mapping()
        .unwrap_or_else(|| panic!("{at} is a mapping"));
    for key in map.keys() {
        let key = key.as_str().unwrap();
        assert!(
            allowed.contains(&key),
            "{at}.{key} is not a field of the CRD"
        );
    }
    for key in required {
        assert!(map.contains_key(*key), "{at}.{key} is required by the CRD");
    }
}

fn metadata(doc: &Value, kind: &str, api_version: &str) {
    assert_eq!(doc["apiVersion"], api_version);
    assert_eq!(doc["kind"], kind);
    keys(
        doc,
        kind,
        &["apiVersion", "kind", "metadata", "spec"],
        &["metadata", "spec"],
    );
    keys(
        &doc["metadata"],
        "metadata",
        &["name", "namespace"],
        &["name"],
    );
}

#[test]
fn the_flux_manifests_use_only_fields_of_the_flux_crds() {
    let source = example("source.yaml");
    metadata(&source, "OCIRepository", "source.toolkit.fluxcd.io/v1");
    let spec = &source["spec"];
    keys(
        spec,
        "OCIRepository.spec",
        &[
            "certSecretRef",
            "ignore",
            "insecure",
            "interval",
            "layerSelector",
            "provider",
            "proxySecretRef",
            "ref",
            "secretRef",
            "serviceAccountName",
            "suspend",
            "timeout",
            "url",
            "verify",
        ],
        &["interval", "url"],
    );
    assert!(spec["url"].as_str().unwrap().starts_with("oci://"));
    duration(spec["interval"].as_str().unwrap());
    keys(
        &spec["ref"],
        "OCIRepository.spec.ref",
        &["digest", "semver", "semverFilter", "tag"],
        &[],
    );

    let sync = example("sync.yaml");
    metadata(&sync, "Kustomization", "kustomize.toolkit.fluxcd.io/v1");
    let spec = &sync["spec"];
    keys(
        spec,
        "Kustomization.spec",
        &[
            "buildMetadata",
            "commonMetadata",
            "components",
            "decryption",
            "deletionPolicy",
            "dependsOn",
            "force",
            "healthCheckExprs",
            "healthChecks",
            "ignore",
            "ignoreMissingComponents",
            "images",
            "interval",
            "kubeConfig",
            "namePrefix",
            "nameSuffix",
            "patches",
            "path",
            "postBuild",
            "prune",
            "retryInterval",
            "serviceAccountName",
            "sourceRef",
            "suspend",
            "targetNamespace",
            "timeout",
            "wait",
        ],
        &["interval", "prune", "sourceRef"],
    );
    keys(
        &spec["sourceRef"],
        "Kustomization.spec.sourceRef",
        &["apiVersion", "kind", "name", "namespace"],
        &["kind", "name"],
    );
    for field in ["interval", "retryInterval", "timeout"] {
        if let Some(text) = spec[field].as_str() {
            duration(text);
        }
    }
    let namespace = spec["targetNamespace"].as_str().unwrap();
    assert!((1..=63).contains(&namespace.len()));

    // The two fit together, and with the CI step's tag.
    assert_eq!(spec["sourceRef"]["kind"], "OCIRepository");
    assert_eq!(spec["sourceRef"]["name"], source["metadata"]["name"]);
    assert_eq!(
        sync["metadata"]["namespace"], source["metadata"]["namespace"],
        "a sourceRef without namespace means the Kustomization's"
    );
    assert_eq!(spec["prune"], true, "old Jobs leave with the artifact");
    assert_eq!(
        spec["wait"], true,
        "every object is health-checked: a failed Job fails the reconciliation"
    );
    assert!(
        spec.get("healthChecks").is_none(),
        "ignored when wait is set (docs/spec/v1/kustomizations.md)"
    );
}

/// A `flux` that records its arguments, one call a line.
fn flux_stand_in(dir: &Path) {
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> {}\n",
        dir.join("flux-calls").display()
    );
    std::fs::write(dir.join("flux"), script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("flux"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The book's CI command line (its Flux block in `docs/src/deployers.md`), run with `extra`
/// appended.
fn run_ci(work: &Path, values: &str) -> std::process::Output {
    let readme =
        std::fs::read_to_string(common::repo_root().join("docs/src/deployers.md")).unwrap();
    let line = readme
        .lines()
        .position(|l| l.starts_with("examples/flux/ci.sh "))
        .expect("the book runs the CI step");
    let lines: Vec<&str> = readme.lines().collect();
    let command =
        format!("{}\n{}", lines[line], lines[line + 1]).replace("values-production.yaml", values);
    flux_stand_in(work);
    let helm = common::tool("helm4").parent().unwrap().to_path_buf();
    let bin = Path::new(common::BIN).parent().unwrap().to_path_buf();
    let home = work.join(".helm");
    Command::new("dash")
        .args(["-ec", &command])
        .current_dir(common::repo_root())
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}:{}:/usr/bin:/bin",
                work.display(),
                helm.display(),
                bin.display()
            ),
        )
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("OUT_DIR", work.join("artifact"))
        .env("SOURCE", "https://git.example.com/platform/shop.git")
        .env(
            "REVISION",
            "main@sha1:0123456789abcdef0123456789abcdef01234567",
        )
        .output()
        .unwrap()
}

#[test]
fn the_flux_ci_step_pushes_the_gate_mode_render_tagged_for_the_oci_repository() {
    let work = tempfile::tempdir().unwrap();
    let out = run_ci(work.path(), "values-production.yaml");
    let log = common::succeeded(out, "examples/flux/ci.sh as the book runs it");
    assert!(
        log.contains("Gate mode"),
        "the plan is in the build log:\n{log}"
    );

    let artifact = work.path().join("artifact");
    let files: Vec<String> = std::fs::read_dir(&artifact)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files,
        ["shop.yaml"],
        "only the manifests go into the artifact"
    );
    let docs = common::documents(&std::fs::read_to_string(artifact.join("shop.yaml")).unwrap());
    let jobs: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "Job").collect();
    assert!(!jobs.is_empty());
    assert!(
        docs.iter().all(|d| d["kind"] != "DeployJobs"),
        "the DeployJobs document never reaches Flux"
    );
    assert!(
        jobs.iter()
            .all(|j| j["metadata"]["annotations"].get("helm.sh/hook").is_none()),
        "ordinary Jobs, which Flux applies and health-checks"
    );
    // Flux waits longer than any Job may run.
    let timeout = duration(example("sync.yaml")["spec"]["timeout"].as_str().unwrap());
    for job in &jobs {
        let deadline = job["spec"]["activeDeadlineSeconds"].as_u64().unwrap() as f64;
        assert!(
            timeout > deadline,
            "{}: deadline {deadline}s, but Flux gives up after {timeout}s",
            common::id(job)
        );
    }

    let calls = std::fs::read_to_string(work.path().join("flux-calls")).unwrap();
    let source = example("source.yaml");
    let url = source["spec"]["url"].as_str().unwrap();
    let tag = source["spec"]["ref"]["tag"].as_str().unwrap();
    let pushed = format!("{url}:0123456789ab");
    assert_eq!(
        calls,
        format!(
            "push artifact {pushed} --path={} --source=https://git.example.com/platform/shop.git --revision=main@sha1:0123456789abcdef0123456789abcdef01234567\ntag artifact {pushed} --tag {tag}\n",
            artifact.display()
        ),
        "pushed where source.yaml pulls from, tagged as it pulls"
    );
}

#[test]
fn the_flux_ci_step_fails_with_helms_message_and_pushes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let out = run_ci(work.path(), "values-missing.yaml");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a failed helm template fails the build"
    );
    assert!(
        stderr.contains("values-missing.yaml"),
        "with Helm's message: {stderr}"
    );
    assert!(
        !work.path().join("flux-calls").exists(),
        "nothing is pushed for Flux to apply"
    );
}
