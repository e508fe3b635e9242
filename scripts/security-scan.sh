#!/usr/bin/env bash
# Security scan (checkov's Kubernetes checks) of what deploy-jobs itself writes: the
# hardened wait-for initContainer, the ServiceAccount, Role, RoleBinding, stop and start
# Jobs of an `exclusive` job, and the gate mode's gate and rollout containers with their
# ServiceAccount, Roles and RoleBindings. The migration container is the app's own (image, env,
# security context are the chart's choices), so it is not judged here.
#
# Each check left out is one deploy-jobs cannot or should not decide; the reasons are below.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.cache/checkov
if [ ! -x "$venv/bin/checkov" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check checkov==3.3.30
fi
cargo build --release --locked --quiet
# Offline: do not fetch check guidelines from the vendor (only adds tracebacks here).
export BC_SKIP_MAPPING=TRUE
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

target/release/deploy-jobs render < testdata/helm3-source-comments/input.yaml > "$work/out.yaml"
"$venv/bin/python" - "$work/out.yaml" "$work/wait.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
job = next(d for d in docs if d["kind"] == "Job" and "deploy-jobs.io/job" in d["metadata"]["annotations"])
pod = job["spec"]["template"]["spec"]
# A Job whose only container is the generated wait-for container, so that every finding
# is about what deploy-jobs wrote.
pod["containers"] = pod.pop("initContainers")
for key in ("volumes", "imagePullSecrets", "securityContext"):
    pod.pop(key, None)
yaml.safe_dump(job, open(sys.argv[2], "w"))
PY
target/release/deploy-jobs render --values testdata/exclusive-all-stops-every-workload/values.yaml \
  < testdata/exclusive-all-stops-every-workload/input.yaml > "$work/exclusive-out.yaml"
"$venv/bin/python" - "$work/exclusive-out.yaml" "$work/exclusive.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
ours = [d for d in docs if d["metadata"].get("name", "").endswith(("-stop", "-start"))]
assert [d["kind"] for d in ours] == ["ServiceAccount", "Role", "RoleBinding", "Job", "Job"], ours
yaml.safe_dump_all(ours, open(sys.argv[2], "w"))
PY

target/release/deploy-jobs render --target gate < testdata/gate-two-jobs-run-in-list-order/input.yaml \
  > "$work/gate-out.yaml"
target/release/deploy-jobs render --target gate < testdata/gate-post-job-runs-after-the-rollout/input.yaml \
  > "$work/rollout-out.yaml"
"$venv/bin/python" - "$work/gate-out.yaml" "$work/rollout-out.yaml" "$work/gate.yaml" <<'PY'
import sys, yaml
docs = [d for f in sys.argv[1:3] for d in yaml.safe_load_all(open(f)) if d]
ours = [d for d in docs if d["kind"] in ("ServiceAccount", "Role", "RoleBinding")]
# Each generated gate or rollout container alone in a Job, with its own volumes: what
# deploy-jobs adds to the app's pods and to the jobs' pods.
for d in docs:
    if d["kind"] not in ("Deployment", "Job"):
        continue
    pod = d["spec"]["template"]["spec"]
    for c in pod.get("initContainers", []):
        if c["name"] in ("deploy-jobs-gate", "deploy-jobs-rollout"):
            ours.append({
                "apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": d["metadata"]["name"] + "-" + c["name"]},
                "spec": {"template": {"spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [c],
                    "volumes": [v for v in pod["volumes"] if v["name"].startswith("deploy-jobs-gate")],
                }}},
            })
assert sum(d["kind"] == "Job" for d in ours) == 3, [d["metadata"]["name"] for d in ours]
yaml.safe_dump_all(ours, open(sys.argv[3], "w"))
PY

# CKV_K8S_43 image digest: the default image is pinned by tag (no way to verify a digest
#   offline); set `waitImage: busybox@sha256:...` to pin by digest.
# CKV_K8S_15 pull policy Always: with a pinned image IfNotPresent is right, and Always would
#   make every deploy depend on the registry.
# CKV_K8S_29 pod security context (wait-for only): the pod-level context is shared with the
#   migration container and copied from the app; imposing one could break the app's image.
#   The stop and start pods are deploy-jobs' own and do get one, so it is checked there.
# CKV_K8S_21 default namespace: the namespace is Helm's release namespace.
# CKV2_K8S_6 NetworkPolicy: a cluster policy, not part of a Job.
skip=CKV_K8S_43,CKV_K8S_15,CKV_K8S_21,CKV2_K8S_6
"$venv/bin/checkov" -f "$work/wait.yaml" --framework kubernetes --compact --quiet \
  --skip-check "$skip,CKV_K8S_29"
# CKV_K8S_38 service account token mounted: the stop and start steps call the API server
#   with it; that is their whole job, and their Role is limited to the named workloads.
"$venv/bin/checkov" -f "$work/exclusive.yaml" --framework kubernetes --compact --quiet \
  --skip-check "$skip,CKV_K8S_38"
# The gate and rollout containers read their Job and workloads with the token projected into
# them alone (CKV_K8S_38 is about the pod-wide automount, which stays off).
"$venv/bin/checkov" -f "$work/gate.yaml" --framework kubernetes --compact --quiet \
  --skip-check "$skip,CKV_K8S_38"
