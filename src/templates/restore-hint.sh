# deploy-jobs: printed next to the migration's own log, so that when Helm shows the log of
# a failed migration it also shows how to bring the stopped app back.
# Arguments: Kind/name of each stopped workload.
ns=${POD_NAMESPACE:-default}
echo "deploy-jobs: this job runs with these workloads stopped: $*"
echo "deploy-jobs: if it failed, they stay stopped (Helm marks the release failed). To restore service run:"
cmd=""
for target in "$@"; do
  cmd="$cmd && kubectl -n $ns scale $target --replicas=\"\$(kubectl -n $ns get $target -o jsonpath='{.metadata.annotations.deploy-jobs\.io/replicas-before-stop}')\""
done
echo "  ${cmd# && }"
