# deploy-jobs: wait until every target accepts TCP connections. The Job's
# activeDeadlineSeconds bounds the wait.
for target in {% for target in targets %}{{ target | shell_quote }} {% endfor %}; do
  host="${target%:*}"
  port="${target##*:}"
  tries=0
  until nc -z -w 2 "$host" "$port" 2>/dev/null; do
    if [ $((tries % 15)) -eq 0 ]; then
      echo "deploy-jobs: waiting for $target to accept connections"
    fi
    tries=$((tries + 1))
    sleep 2
  done
  echo "deploy-jobs: $target accepts connections"
done
