# deploy-jobs gate: hold this pod until each named Job has succeeded (gate mode).
# Arguments: the seconds to wait for each Job before giving up (0: no limit; in a workload's
# pod the kubelet then restarts this container, with backoff), the gated workload as
# Kind/name (empty in a Job's own pod), then the Job names, in the order they run.
# Uses only sh builtins, date, sleep and kubectl: what the default gateImage holds.
set -u
limit=$1
workload=$2
shift 2
ns=${POD_NAMESPACE:-default}
for job in "$@"; do
  start=$(date +%s)
  said=""
  while :; do
    if state=$(kubectl -n "$ns" get job "$job" -o 'jsonpath={.status.conditions[?(@.status=="True")].type}' 2>&1); then
      case " $state " in
        *" Complete "*)
          echo "deploy-jobs gate: Job $job (namespace $ns) succeeded"
          break
          ;;
        *" Failed "*)
          echo "deploy-jobs gate: Job $job (namespace $ns) failed; its log: kubectl -n $ns logs job/$job"
          exit 1
          ;;
      esac
      why="is running"
    else
      case $state in
        *NotFound* | *"not found"* | *Forbidden* | *forbidden*)
          # Gone, or no longer readable: if the workload's current template no longer waits
          # for it, a newer release replaced it (and pruned it), and this is an old pod.
          if [ -n "$workload" ] && listed=$(kubectl -n "$ns" get "${workload%%/*}" "${workload#*/}" -o 'jsonpath={.spec.template.metadata.annotations.deploy-jobs\.io/gate-jobs}' 2>&1); then
            case ",$listed," in
              *",$job,"*) ;;
              *)
                echo "deploy-jobs gate: Job $job (namespace $ns) is gone and $workload no longer waits for it (it waits for: ${listed:-nothing}): a newer release replaced it; this pod passes"
                exit 0
                ;;
            esac
          fi
          why="is not created yet"
          ;;
        *)
          why="cannot be read: $state"
          ;;
      esac
    fi
    now=$(date +%s)
    if [ "$limit" -gt 0 ] && [ $((now - start)) -ge "$limit" ]; then
      echo "deploy-jobs gate: gave up after ${limit}s: Job $job (namespace $ns) $why; this container fails and the kubelet retries it. Check that the Job was applied with the release: kubectl -n $ns get job $job"
      exit 1
    fi
    if [ "$why" != "$said" ]; then
      echo "deploy-jobs gate: waiting for Job $job (namespace $ns), which $why"
      said=$why
    fi
    sleep 5
  done
done
echo "deploy-jobs gate: every Job this pod waits for has succeeded"
