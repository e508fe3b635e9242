# deploy-jobs: the start of the gate and rollout containers in a gate-mode Job's own pod.
# What the Job waits for (the Job before it in the list, the workloads it follows) is read
# from the Job's own annotations: a Job's pod template can never change, and it names
# nothing but what the Job runs, so that the Job's name, a hash of it, changes exactly when
# what it runs or reads does.
# Argument: gate or rollout. JOB_NAME is this pod's Job (from the label the Job controller
# sets). Sets the positional parameters for the script that follows.
set -u
ns=${POD_NAMESPACE:-default}
mode=$1
case $mode in
  gate) key='deploy-jobs\.io/after' ;;
  *) key='deploy-jobs\.io/follows' ;;
esac
tries=0
until value=$(kubectl -n "$ns" get job "$JOB_NAME" -o "jsonpath={.metadata.annotations.$key}" 2>&1); do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    echo "deploy-jobs $mode: cannot read this pod's Job $JOB_NAME (namespace $ns): $value"
    exit 1
  fi
  sleep 5
done
IFS=,
set -f
if [ "$mode" = gate ]; then
  set -- 0 "" $value
else
  set -- $value
fi
set +f
unset IFS
