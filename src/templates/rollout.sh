# deploy-jobs rollout: hold this Job's pod until each named workload has rolled out (gate
# mode, jobs that run after install or upgrade). The Job's activeDeadlineSeconds bounds it.
# Arguments: Kind/name of each workload, in this pod's namespace.
# Uses only sh builtins, sleep and kubectl: what the default gateImage holds.
set -u
ns=${POD_NAMESPACE:-default}
for target in "$@"; do
  kind=${target%%/*}
  name=${target#*/}
  case $kind in
    DaemonSet) fields='{.metadata.generation}|{.status.observedGeneration}|{.status.desiredNumberScheduled}|{.status.updatedNumberScheduled}|{.status.numberAvailable}||' ;;
    *) fields='{.metadata.generation}|{.status.observedGeneration}|{.spec.replicas}|{.status.updatedReplicas}|{.status.availableReplicas}|{.status.currentRevision}|{.status.updateRevision}' ;;
  esac
  said=""
  while :; do
    if state=$(kubectl -n "$ns" get "$kind" "$name" -o "jsonpath=$fields" 2>&1); then
      IFS='|' read -r generation observed want updated available current update <<EOF2
$state
EOF2
      [ -n "$want" ] || want=0
      if [ "${observed:-0}" -ge "${generation:-1}" ] && [ "${updated:-0}" -eq "$want" ] && [ "${available:-0}" -eq "$want" ] && [ "$current" = "$update" ]; then
        echo "deploy-jobs rollout: $target (namespace $ns) has rolled out"
        break
      fi
      why="has ${updated:-0} of $want pods updated and ${available:-0} available"
    else
      case $state in
        *NotFound* | *"not found"*) why="does not exist yet" ;;
        *) why="cannot be read: $state" ;;
      esac
    fi
    if [ "$why" != "$said" ]; then
      echo "deploy-jobs rollout: waiting for $target (namespace $ns), which $why"
      said=$why
    fi
    sleep 5
  done
done
