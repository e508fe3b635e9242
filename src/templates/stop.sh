# deploy-jobs: stop workloads so that the next job has the database to itself.
# Arguments: the seconds this step may wait for pods to go, the seconds Helm needs on top of
# that (the Job's kubectl calls and a margin), then triples of Kind/name, namespace (empty: this pod's own)
# and pod selector.
# Uses only sh builtins, date, sleep and kubectl: what the default stopImage holds.
set -u
limit=$1
overhead=$2
shift 2
key=deploy-jobs.io/replicas-before-stop
checked=""
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

# First read every target, so that a denial, an error or a too slow shutdown stops the deploy
# before anything is stopped.
while [ $# -ge 3 ]; do
  target=$1
  ns=${2:-${POD_NAMESPACE:-default}}
  selector=$3
  shift 3
  kind=${target%%/*}
  name=${target#*/}
  if ! state=$(kubectl -n "$ns" get "$kind" "$name" -o 'jsonpath={.spec.replicas}|{.spec.template.spec.terminationGracePeriodSeconds}|{.spec.podManagementPolicy}|{.metadata.annotations.deploy-jobs\.io/replicas-before-stop}' 2>&1); then
    case $state in
      *NotFound* | *"not found"*)
        echo "deploy-jobs stop: $target does not exist in namespace $ns yet (first install): nothing to stop"
        continue
        ;;
      *Forbidden* | *forbidden*)
        fail "not allowed to read $target in namespace $ns ($state). The job's ServiceAccount lacks RBAC for it: check that the Role deploy-jobs generated was not changed or blocked by an admission policy."
        ;;
      *)
        fail "cannot read $target in namespace $ns: $state"
        ;;
    esac
  fi
  IFS='|' read -r replicas grace policy recorded <<EOF
$state
EOF
  [ -n "$replicas" ] || replicas=1
  [ -n "$grace" ] || grace=30
  # Pods go in parallel, except an OrderedReady StatefulSet's: one after the other.
  pods=1
  if [ "$kind" = StatefulSet ] && [ "$policy" != Parallel ] && [ "$replicas" -gt 1 ]; then
    pods=$replicas
  fi
  need=$((grace * pods + 10))
  if [ "$need" -gt "$limit" ]; then
    if [ "$pods" -gt 1 ]; then how="$pods pods one after the other, ${grace}s grace period each"; else how="a ${grace}s grace period"; fi
    fail "$target may need ${need}s to stop ($how), longer than this step waits (${limit}s); nothing was stopped. Set stopTimeoutSeconds: $need on the job and run helm with --timeout $((need + overhead))s or more"
  fi
  checked="$checked
$target $ns $selector $replicas $recorded"
done

# Then stop them.
while read -r target ns selector replicas recorded; do
  [ -n "$target" ] || continue
  kind=${target%%/*}
  name=${target#*/}
  if [ "$replicas" = 0 ] && [ -n "$recorded" ]; then
    # Stopped earlier (a run whose migration failed, or another exclusive job of this
    # deploy): keep the count recorded then, not 0.
    replicas=$recorded
    echo "deploy-jobs stop: $target is already stopped; it had $replicas replicas before deploy-jobs stopped it"
  else
    if ! out=$(kubectl -n "$ns" annotate --overwrite "$kind" "$name" "$key=$replicas" 2>&1); then
      fail "cannot record the replica count of $target: $out"
    fi
    if ! out=$(kubectl -n "$ns" scale "$kind" "$name" --replicas=0 2>&1); then
      fail "cannot scale $target to 0 replicas: $out"
    fi
    echo "deploy-jobs stop: scaled $target from $replicas to 0 replicas"
  fi
  restore="$restore && kubectl -n $ns scale $kind/$name --replicas=$replicas && kubectl -n $ns annotate $kind/$name $key-"
  stopped="$stopped
$target $ns $selector"
done <<EOF
$checked
EOF

# Wait for the pods that can still reach the database: those the workload owns that have
# not finished (Completed pods of a Job sharing the labels, or Evicted ones, never go).
start=$(date +%s)
while read -r target ns selector; do
  [ -n "$target" ] || continue
  kind=${target%%/*}
  name=${target#*/}
  while :; do
    if ! listed=$(kubectl -n "$ns" get pods -l "$selector" --field-selector=status.phase!=Succeeded,status.phase!=Failed -o 'jsonpath={range .items[*]}{.metadata.name} {.metadata.ownerReferences[?(@.controller==true)].kind}/{.metadata.ownerReferences[?(@.controller==true)].name}{"\n"}{end}' 2>&1); then
      fail "cannot list the pods of $target: $listed"
    fi
    live=""
    count=0
    while read -r pod owner; do
      [ -n "$pod" ] || continue
      case $kind/$owner in
        StatefulSet/StatefulSet/"$name") ;;
        # A Deployment's ReplicaSets are NAME-HASH, and the hash has no dash.
        Deployment/ReplicaSet/"$name"-*)
          case ${owner#ReplicaSet/"$name"-} in
            *-*) continue ;;
          esac
          ;;
        *) continue ;;
      esac
      live="$live $pod"
      count=$((count + 1))
    done <<EOF
$listed
EOF
    [ "$count" = 0 ] && break
    if [ $(($(date +%s) - start)) -ge "$limit" ]; then
      fail "$count pod(s) of $target did not terminate within ${limit}s:$live"
    fi
    echo "deploy-jobs stop: waiting for $count pod(s) of $target to terminate"
    sleep 2
  done
  echo "deploy-jobs stop: $target has no pods left"
done <<EOF
$stopped
EOF
echo "deploy-jobs stop: done; the next job has the database to itself"
