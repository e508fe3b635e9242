# deploy-jobs rollout: hold this Job's pod until each named workload has rolled out (gate
# mode, jobs that run after install or upgrade). The Job's activeDeadlineSeconds bounds it.
# Arguments: Kind/name of each workload, in this pod's namespace. JOB_NAME (if set) is this
# pod's Job.
# Uses only sh builtins, sleep and kubectl: what the default gateImage holds.
#
# "Rolled out" means what `kubectl rollout status` means by it: the rules below are those of
# DeploymentStatusViewer, StatefulSetStatusViewer and DaemonSetStatusViewer in
# k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go (repository kubernetes/kubectl,
# commit dee3483a3d6a; staging/src/k8s.io/kubectl/... in kubernetes/kubernetes), in the same
# order, with the fields read in one `kubectl get` per poll. Where kubectl fails (a Deployment past its
# progress deadline, an update strategy other than RollingUpdate) this step fails too. One
# difference: a workload that does not exist yet is waited for, where kubectl fails at once.
# A status count the API server leaves out is 0, as in the Go types.
set -u
ns=${POD_NAMESPACE:-default}

# Each sets $why to what the rollout still waits for (empty: rolled out) from $state, the
# fields of its kind, or fails as kubectl does.
deployment() {
  IFS='|' read -r generation observed progressing want replicas updated available <<EOF
$state
EOF
  updated=${updated:-0}
  if [ "${generation:-0}" -gt "${observed:-0}" ]; then
    why="its spec update is not observed yet"
  elif [ "$progressing" = ProgressDeadlineExceeded ]; then
    echo "deploy-jobs rollout: $target (namespace $ns) exceeded its progress deadline (condition Progressing, reason ProgressDeadlineExceeded), so kubectl rollout status fails and so does this Job. Why it is stuck: kubectl -n $ns describe $kind $name"
    if [ -n "${JOB_NAME:-}" ]; then
      echo "deploy-jobs rollout: a failed Job never runs again by itself. Once $target has rolled out, delete it: kubectl -n $ns delete job $JOB_NAME; the next apply of the release then creates it again and it runs."
    fi
    exit 1
  elif [ -n "$want" ] && [ "$updated" -lt "$want" ]; then
    why="$updated out of $want new replicas have been updated"
  elif [ "${replicas:-0}" -gt "$updated" ]; then
    why="$((replicas - updated)) old replicas are pending termination"
  elif [ "${available:-0}" -lt "$updated" ]; then
    why="${available:-0} of $updated updated replicas are available"
  else
    why=""
  fi
}

statefulset() {
  IFS='|' read -r strategy generation observed want ready rolling partition updated current update <<EOF
$state
EOF
  updated=${updated:-0}
  rolling_update_only "$strategy"
  if [ "${observed:-0}" -eq 0 ] || [ "${generation:-0}" -gt "$observed" ]; then
    why="its spec update is not observed yet"
  elif [ -n "$want" ] && [ "${ready:-0}" -lt "$want" ]; then
    why="$((want - ${ready:-0})) pods are not ready yet"
  elif [ -n "$rolling" ]; then
    # With spec.updateStrategy.rollingUpdate set (the API server sets it, with partition 0,
    # when the strategy is left out), kubectl compares counts, not revisions.
    if [ -n "$want" ] && [ -n "$partition" ] && [ "$updated" -lt $((want - partition)) ]; then
      why="partitioned roll out: $updated out of $((want - partition)) new pods have been updated"
    else
      why=""
    fi
  elif [ "$update" != "$current" ]; then
    why="rolling update: $updated pods at revision $update so far"
  else
    why=""
  fi
}

daemonset() {
  IFS='|' read -r strategy generation observed desired updated available <<EOF
$state
EOF
  desired=${desired:-0}
  rolling_update_only "$strategy"
  if [ "${generation:-0}" -gt "${observed:-0}" ]; then
    why="its spec update is not observed yet"
  elif [ "${updated:-0}" -lt "$desired" ]; then
    why="${updated:-0} out of $desired new pods have been updated"
  elif [ "${available:-0}" -lt "$desired" ]; then
    why="${available:-0} of $desired updated pods are available"
  else
    why=""
  fi
}

# kubectl rollout status refuses any other update strategy (OnDelete: pods change only
# when someone deletes them, which nothing here waits for).
rolling_update_only() {
  if [ "$1" != RollingUpdate ]; then
    echo "deploy-jobs rollout: $target (namespace $ns) has update strategy ${1:-none}, and kubectl rollout status waits only for the RollingUpdate strategy: this Job cannot tell when it has rolled out, and fails"
    exit 1
  fi
}

for target in "$@"; do
  kind=${target%%/*}
  name=${target#*/}
  case $kind in
    Deployment) fields='{.metadata.generation}|{.status.observedGeneration}|{.status.conditions[?(@.type=="Progressing")].reason}|{.spec.replicas}|{.status.replicas}|{.status.updatedReplicas}|{.status.availableReplicas}' ;;
    StatefulSet) fields='{.spec.updateStrategy.type}|{.metadata.generation}|{.status.observedGeneration}|{.spec.replicas}|{.status.readyReplicas}|{.spec.updateStrategy.rollingUpdate}|{.spec.updateStrategy.rollingUpdate.partition}|{.status.updatedReplicas}|{.status.currentRevision}|{.status.updateRevision}' ;;
    DaemonSet) fields='{.spec.updateStrategy.type}|{.metadata.generation}|{.status.observedGeneration}|{.status.desiredNumberScheduled}|{.status.updatedNumberScheduled}|{.status.numberAvailable}' ;;
    *)
      echo "deploy-jobs rollout: kubectl rollout status knows no $kind ($target)"
      exit 1
      ;;
  esac
  said=""
  while :; do
    if state=$(kubectl -n "$ns" get "$kind" "$name" -o "jsonpath=$fields" 2>&1); then
      case $kind in
        Deployment) deployment ;;
        StatefulSet) statefulset ;;
        DaemonSet) daemonset ;;
      esac
      if [ -z "$why" ]; then
        echo "deploy-jobs rollout: $target (namespace $ns) has rolled out"
        break
      fi
    else
      case $state in
        *NotFound* | *"not found"*) why="does not exist yet" ;;
        *) why="cannot be read: $state" ;;
      esac
    fi
    if [ "$why" != "$said" ]; then
      echo "deploy-jobs rollout: waiting for $target (namespace $ns): $why"
      said=$why
    fi
    sleep 5
  done
done
