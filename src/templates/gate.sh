# deploy-jobs gate: hold this pod until every Job its workload waits for has succeeded (gate
# mode). Arguments: the seconds to wait for each Job before giving up (0: no limit; in a
# workload's pod the kubelet then restarts this container, with backoff), the gated workload
# as kubectl names it, Kind/name (empty in a Job's own pod), then the Job names, in the order
# they run. In a Job's own pod, JOB_NAME (if set) is that Job.
# Uses only sh builtins, date, sleep and kubectl: what the default gateImage holds.
#
# A pod waits for the Jobs its own template names. A Job that is gone (or no longer readable)
# never lets it pass: if the workload's current template still names the Job, it is not
# created yet; if not, a newer release replaced it, and the pod waits for the Jobs the
# workload names now instead, reading that list again until it has seen each of them succeed.
# An empty list means the workload is no longer gated. A failed Job fails the gate at once,
# unless the workload no longer names it: then it was replaced too.
set -u
limit=$1
workload=$2
shift 2
ns=${POD_NAMESPACE:-default}
jobs=$(IFS=,; printf '%s' "$*")
# Whether $jobs is still this pod's own list; otherwise it came from $workload.
own=yes

# Sets $state to the types of the Job's true conditions, or to kubectl's error.
read_job() {
  state=$(kubectl -n "$ns" get job "$1" -o 'jsonpath={.status.conditions[?(@.status=="True")].type}' 2>&1)
}

# Sets $listed to the Jobs the workload's current pod template waits for, or to kubectl's
# error. The template is at spec.template, or a CronJob's at spec.jobTemplate.spec.template:
# an object has one of the two, and kubectl prints nothing for the other.
read_list() {
  listed=$(kubectl -n "$ns" get "${workload%%/*}" "${workload#*/}" -o 'jsonpath={.spec.template.metadata.annotations.deploy-jobs\.io/gate-jobs}{.spec.jobTemplate.spec.template.metadata.annotations.deploy-jobs\.io/gate-jobs}' 2>&1)
}

# Job $1 failed. A later Job of the list ($rest) waits for it and fails with it: name those
# that failed in the command that runs them again (only those: deleting a Job that succeeded
# would run it again, and one still running would be killed; the kubelet runs this gate
# again, which names a Job that failed since).
failed() {
  again=$1
  more=$rest
  while [ -n "$more" ]; do
    later=${more%%,*}
    more=${more#*,}
    if [ -n "$later" ] && read_job "$later"; then
      case " $state " in *" Failed "*) again="$again $later" ;; esac
    fi
  done
  echo "deploy-jobs gate: Job $1 (namespace $ns) failed; its log: kubectl -n $ns logs job/$1"
  if [ -n "$workload" ]; then
    which="it"
    [ "$again" = "$1" ] || which="it and the Jobs after it that failed with it"
    echo "deploy-jobs gate: a failed Job never runs again by itself. Once the cause is fixed, delete $which: kubectl -n $ns delete job $again"
  elif [ -n "${JOB_NAME:-}" ]; then
    echo "deploy-jobs gate: this pod's Job fails with it. A failed Job never runs again by itself. Once the cause is fixed, delete them: kubectl -n $ns delete job $again $JOB_NAME"
  else
    echo "deploy-jobs gate: this pod's Job fails with it. A failed Job never runs again by itself. Once the cause is fixed, delete it: kubectl -n $ns delete job $again; and delete this pod's Job too (kubectl -n $ns get jobs shows it failed)"
  fi
  echo "deploy-jobs gate: the next apply of the release (helm upgrade --install; kubectl apply; flux reconcile kustomization NAME, or flux reconcile helmrelease NAME --force) then creates it again and it runs; gated pods wait for it meanwhile. A change to what the Job runs makes a new Job instead, which needs no delete."
  exit 1
}

while :; do
  rest=$jobs,
  while [ -n "$rest" ]; do
    job=${rest%%,*}
    rest=${rest#*,}
    [ -n "$job" ] || continue
    start=$(date +%s)
    said=""
    while :; do
      # What happened to the Job, when that may mean a newer release replaced it.
      gone=""
      if read_job "$job"; then
        case " $state " in
          *" Complete "*)
            echo "deploy-jobs gate: Job $job (namespace $ns) succeeded"
            break
            ;;
          *" Failed "*)
            [ -n "$workload" ] || failed "$job"
            gone="failed"
            ;;
        esac
        why="is running"
      else
        case $state in
          *NotFound* | *"not found"*)
            gone="is gone"
            why="is not created yet"
            ;;
          *Forbidden* | *forbidden*)
            # The Role that lets this pod read the Job comes with the Job's release: not
            # applied yet, or pruned with the Job.
            gone="is gone"
            why="cannot be read by this pod (Forbidden): the Role that grants it is not applied yet, or was removed with the Job"
            ;;
          *)
            why="cannot be read: $state"
            ;;
        esac
      fi
      if [ -n "$gone" ] && [ -n "$workload" ]; then
        if read_list; then
          case ",$listed," in
            *",$job,"*) ;;
            ",,")
              echo "deploy-jobs gate: Job $job (namespace $ns) $gone and $workload waits for no Job any more: this pod passes"
              exit 0
              ;;
            *)
              echo "deploy-jobs gate: Job $job (namespace $ns) $gone and $workload no longer waits for it: a newer release replaced it; this pod waits for the Jobs $workload waits for now: $listed"
              jobs=$listed
              own=""
              continue 3
              ;;
          esac
        else
          why="$why, and $workload cannot be read to tell whether a newer release replaced it: $listed"
        fi
        # Still what the workload waits for (or it cannot tell): a failure is final.
        [ "$gone" != failed ] || failed "$job"
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
  if [ -n "$own" ]; then
    echo "deploy-jobs gate: every Job this pod waits for has succeeded"
    exit 0
  fi
  # The list came from the workload: pass only if that is still what it waits for.
  start=$(date +%s)
  said=""
  until read_list; do
    now=$(date +%s)
    if [ "$limit" -gt 0 ] && [ $((now - start)) -ge "$limit" ]; then
      echo "deploy-jobs gate: gave up after ${limit}s: $workload cannot be read to tell whether it still waits for $jobs: $listed; this container fails and the kubelet retries it"
      exit 1
    fi
    if [ -z "$said" ]; then
      echo "deploy-jobs gate: waiting to read $workload, to tell whether it still waits for $jobs: $listed"
      said=yes
    fi
    sleep 5
  done
  case $listed in
    "$jobs")
      echo "deploy-jobs gate: every Job $workload waits for has succeeded"
      exit 0
      ;;
    "")
      echo "deploy-jobs gate: $workload waits for no Job any more: this pod passes"
      exit 0
      ;;
  esac
  echo "deploy-jobs gate: $workload now waits for: $listed"
  jobs=$listed
done
