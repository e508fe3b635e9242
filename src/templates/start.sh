# deploy-jobs: bring back workloads stopped before a migration whose manifests do not set
# replicas (an autoscaler owns them), from the count recorded when they were stopped.
# Arguments: Kind/name of each.
set -u
for target in "$@"; do
  kind=${target%%/*}
  name=${target#*/}
  if ! before=$(kubectl get "$kind" "$name" -o 'jsonpath={.metadata.annotations.deploy-jobs\.io/replicas-before-stop}' 2>&1); then
    case $before in
      *NotFound* | *"not found"*)
        echo "deploy-jobs start: $target does not exist: nothing to start"
        continue
        ;;
      *)
        echo "deploy-jobs start: FAILED: cannot read $target: $before"
        exit 1
        ;;
    esac
  fi
  if [ -z "$before" ]; then
    echo "deploy-jobs start: $target was not stopped by deploy-jobs: left as it is"
    continue
  fi
  if ! current=$(kubectl get "$kind" "$name" -o 'jsonpath={.spec.replicas}' 2>&1); then
    echo "deploy-jobs start: FAILED: cannot read $target: $current"
    exit 1
  fi
  if [ "$current" = 0 ]; then
    if ! out=$(kubectl scale "$kind" "$name" --replicas="$before" 2>&1); then
      echo "deploy-jobs start: FAILED: cannot scale $target back to $before replicas: $out"
      exit 1
    fi
    echo "deploy-jobs start: scaled $target back to $before replicas"
  else
    echo "deploy-jobs start: $target already has $current replicas"
  fi
  if ! out=$(kubectl annotate "$kind" "$name" deploy-jobs.io/replicas-before-stop- 2>&1); then
    echo "deploy-jobs start: FAILED: cannot clear the recorded count on $target: $out"
    exit 1
  fi
done
