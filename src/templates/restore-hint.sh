# deploy-jobs: printed next to the migration's own log, so that when Helm shows the log of
# a failed migration it also shows how to bring the stopped app back.
# Arguments: pairs of Kind/name and namespace (empty: this pod's own) of each stopped workload.
# The printed command scales each back to its recorded count, then clears that count. It
# holds no double quote and no backslash: Helm 4 prints a hook's log through its slog
# handler, which escapes both (`\"`, `\\`), and users paste the command as Helm printed it.
# Go templates take a raw string in backquotes, so the annotation's key needs neither.
list=""
cmd=""
while [ $# -ge 2 ]; do
  target=$1
  ns=${2:-${POD_NAMESPACE:-default}}
  shift 2
  list="$list, $target (namespace $ns)"
  cmd="$cmd && kubectl -n $ns scale $target --replicas=\$(kubectl -n $ns get $target -o 'go-template={{index .metadata.annotations \`deploy-jobs.io/replicas-before-stop\`}}') && kubectl -n $ns annotate $target deploy-jobs.io/replicas-before-stop-"
done
echo "deploy-jobs: this job runs with these workloads stopped: ${list#, }"
echo "deploy-jobs: if it failed, they stay stopped (Helm marks the release failed). To restore service run:"
echo "  ${cmd# && }"
