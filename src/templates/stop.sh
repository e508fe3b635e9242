# deploy-jobs: stop workloads so that the next job has the database to itself.
# Arguments: seconds to wait for their pods to go, then pairs of Kind/name and pod selector.
set -u
timeout=$1
shift
stopped=""
restore=""

fail() {
  echo "deploy-jobs stop: FAILED: $1"
  if [ -n "$restore" ]; then
    echo "deploy-jobs stop: some workloads are already stopped. To restore service run:"
    echo "  ${restore# && }"
  fi
  exit 1
}

while [ $# -ge 2 ]; do
  target=$1
  selector=$2
  shift 2
  kind=${target%%/*}
  name=${target#*/}
  if ! state=$(kubectl get "$kind" "$name" -o 'jsonpath={.spec.replicas} {.metadata.annotations.deploy-jobs\.io/replicas-before-stop}' 2>&1); then
    case $state in
      *NotFound* | *"not found"*)
        echo "deploy-jobs stop: $target does not exist yet (first install): nothing to stop"
        continue
        ;;
      *Forbidden* | *forbidden*)
        fail "not allowed to read $target ($state). The job's ServiceAccount lacks RBAC for it: check that the Role deploy-jobs generated was not changed or blocked by an admission policy."
        ;;
      *)
        fail "cannot read $target: $state"
        ;;
    esac
  fi
  replicas=${state%% *}
  recorded=${state#"$replicas"}
  recorded=${recorded# }
  [ -n "$replicas" ] || replicas=1
  if [ "$replicas" = 0 ] && [ -n "$recorded" ]; then
    # Stopped earlier (a run whose migration failed, or another exclusive job of this
    # deploy): keep the count recorded then, not 0.
    replicas=$recorded
    echo "deploy-jobs stop: $target is already stopped; it had $replicas replicas before deploy-jobs stopped it"
  else
    if ! out=$(kubectl annotate --overwrite "$kind" "$name" "deploy-jobs.io/replicas-before-stop=$replicas" 2>&1); then
      fail "cannot record the replica count of $target: $out"
    fi
    if ! out=$(kubectl scale "$kind" "$name" --replicas=0 2>&1); then
      fail "cannot scale $target to 0 replicas: $out"
    fi
    echo "deploy-jobs stop: scaled $target from $replicas to 0 replicas"
  fi
  restore="$restore && kubectl -n ${POD_NAMESPACE:-default} scale $kind/$name --replicas=$replicas"
  stopped="$stopped
$target $selector"
done

start=$(date +%s)
echo "$stopped" | while read -r target selector; do
  [ -n "$target" ] || continue
  while :; do
    if ! pods=$(kubectl get pods -l "$selector" -o name 2>&1); then
      fail "cannot list the pods of $target: $pods"
    fi
    [ -z "$pods" ] && break
    if [ $(($(date +%s) - start)) -ge "$timeout" ]; then
      fail "pods of $target did not terminate within ${timeout}s: $(echo $pods)"
    fi
    echo "deploy-jobs stop: waiting for $(echo "$pods" | wc -l) pod(s) of $target to terminate"
    sleep 2
  done
  echo "deploy-jobs stop: $target has no pods left"
done || exit 1
echo "deploy-jobs stop: done; the next job has the database to itself"
