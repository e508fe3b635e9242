# deploy-jobs: after the release's apply, end the stop that came before the migration.
# Workloads whose manifests leave replicas out (an autoscaler owns them) are scaled back to
# the count recorded when they were stopped; the apply itself set the others' replicas.
# Either way the recorded count goes: it belongs to that stop, and a later one must not
# bring back an app someone scaled to zero since.
# Arguments: triples of Kind/name, namespace (empty: this pod's own) and `restore` or `clear`.
set -u
key=deploy-jobs.io/replicas-before-stop
while [ $# -ge 3 ]; do
  target=$1
  ns=${2:-${POD_NAMESPACE:-default}}
  mode=$3
  shift 3
  kind=${target%%/*}
  name=${target#*/}
  if ! state=$(kubectl -n "$ns" get "$kind" "$name" -o 'jsonpath={.spec.replicas}|{.metadata.annotations.deploy-jobs\.io/replicas-before-stop}' 2>&1); then
    case $state in
      *NotFound* | *"not found"*)
        echo "deploy-jobs start: $target does not exist in namespace $ns: nothing to start"
        continue
        ;;
      *)
        echo "deploy-jobs start: FAILED: cannot read $target: $state"
        exit 1
        ;;
    esac
  fi
  current=${state%%|*}
  before=${state#*|}
  if [ -z "$before" ]; then
    echo "deploy-jobs start: $target was not stopped by deploy-jobs: left as it is"
    continue
  fi
  if [ "$mode" = clear ]; then
    echo "deploy-jobs start: $target has the $current replicas its manifest sets"
  elif [ "$current" = 0 ]; then
    if ! out=$(kubectl -n "$ns" scale "$kind" "$name" --replicas="$before" 2>&1); then
      echo "deploy-jobs start: FAILED: cannot scale $target back to $before replicas: $out"
      exit 1
    fi
    echo "deploy-jobs start: scaled $target back to $before replicas"
  else
    echo "deploy-jobs start: $target already has $current replicas"
  fi
  if ! out=$(kubectl -n "$ns" annotate "$kind" "$name" "$key-" 2>&1); then
    echo "deploy-jobs start: FAILED: cannot clear the recorded count on $target: $out"
    exit 1
  fi
  echo "deploy-jobs start: cleared the replica count recorded on $target"
done
