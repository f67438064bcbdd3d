#!/usr/bin/env bash
# Make sure what the tests talk to is there: redis-server and redis-cli (for the cluster the tests build),
# argon2 and oathtool (independent implementations the interop tests compare against), Chromium and
# its driver (the portal's browser tests), Node.js (the sidecar's client in another language),
# and one Redis answering on 127.0.0.1:6379.
set -euo pipefail

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-tools)
command -v argon2 >/dev/null 2>&1 || need_apt+=(argon2)
command -v oathtool >/dev/null 2>&1 || need_apt+=(oathtool)  # an independent TOTP implementation for the interop tests
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # tests/portal drive it headless
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)  # examples/node: the independent client the sidecar tests run
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  mkdir -p /tmp/verifykit-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/verifykit-redis --logfile /tmp/verifykit-redis/redis.log
  for _ in $(seq 50); do
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
    sleep 0.1
  done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null
echo "services: redis on 127.0.0.1:6379 answers"
