#!/usr/bin/env bash
# Start the action server, the Rasa server and the ticket API (or `rasa shell` with --shell);
# Ctrl-C stops them all. Called by `make run` / `make shell`, which set MODEL.
# ALIMAIL_PROFILE=production (`make run-production`): PostgreSQL tracker store, Redis lock store,
# PostgreSQL tickets, RASA_PROCESSES Rasa servers and ACTION_PROCESSES action server workers;
# every setting from the environment, with the defaults below (README, "Settings").
set -euo pipefail
cd "$(dirname "$0")/.."

: "${MODEL:?set MODEL to the trained model (make run does)}"
RASA_HOST=${RASA_HOST:-127.0.0.1}
RASA_PORT=${RASA_PORT:-5005}
ACTION_HOST=${ACTION_HOST:-127.0.0.1}
ACTION_PORT=${ACTION_PORT:-5055}
TICKETS_API_PORT=${TICKETS_API_PORT:-5056}
# The ticket API's own address: exposing Rasa (RASA_HOST) must not expose the tickets.
TICKETS_API_HOST=${TICKETS_API_HOST:-127.0.0.1}
RASA=".venv/bin/python -m tools.serve"
mkdir -p build/logs var

# endpoints.yml names port 5055; a different ACTION_PORT, or ACTION_SERVER_TOKEN, gets its own endpoints
# file. With the token, Rasa sends it on every action call: the file names the variable, which Rasa
# substitutes when it starts, never the value.
ENDPOINTS=endpoints.yml
if [ "$ACTION_PORT" != 5055 ] || [ "$ACTION_HOST" != 127.0.0.1 ] || [ -n "${ACTION_SERVER_TOKEN:-}" ]; then
  ENDPOINTS=build/endpoints.local.yml
  sed "s#http://localhost:5055/webhook#http://$ACTION_HOST:$ACTION_PORT/webhook#" endpoints.yml > "$ENDPOINTS"
  if [ -n "${ACTION_SERVER_TOKEN:-}" ]; then
    sed -i '/^action_endpoint:$/a\  headers:\n    Authorization: Bearer ${ACTION_SERVER_TOKEN}' "$ENDPOINTS"
  fi
fi

# Who may reach what (SECURITY.md): REST on an interface other than loopback needs REST_API_TOKEN, the
# action server there or in the production profile needs ACTION_SERVER_TOKEN. Checked before anything starts.
.venv/bin/python -m tools.serve preflight --interface "$RASA_HOST" --action-host "$ACTION_HOST" \
  --credentials credentials.yml

PROFILE=${ALIMAIL_PROFILE:-embedded}
case "$PROFILE" in
  embedded) ;;
  production)
    # endpoints.production.yml takes everything from the environment (Rasa refuses unset variables).
    ENDPOINTS=endpoints.production.yml
    export TRACKER_DB_HOST=${TRACKER_DB_HOST:-127.0.0.1} TRACKER_DB_PORT=${TRACKER_DB_PORT:-5432} \
      TRACKER_DB_NAME=${TRACKER_DB_NAME:-alimail} TRACKER_DB_USER=${TRACKER_DB_USER:-postgres} \
      TRACKER_DB_PASSWORD=${TRACKER_DB_PASSWORD:-} \
      REDIS_HOST=${REDIS_HOST:-127.0.0.1} REDIS_PORT=${REDIS_PORT:-6379} REDIS_DB=${REDIS_DB:-1} \
      REDIS_PASSWORD=${REDIS_PASSWORD:-} REDIS_KEY_PREFIX=${REDIS_KEY_PREFIX:-alimail} \
      ACTION_SERVER_URL=${ACTION_SERVER_URL:-http://$ACTION_HOST:$ACTION_PORT/webhook}
    RASA_PROCESSES=${RASA_PROCESSES:-2}
    ACTION_PROCESSES=${ACTION_PROCESSES:-2}
    for setting in "RASA_PROCESSES=$RASA_PROCESSES" "ACTION_PROCESSES=$ACTION_PROCESSES"; do
      [[ "${setting#*=}" =~ ^[1-9][0-9]?$ ]] || { echo "$setting: must be a number from 1 to 99" >&2; exit 2; }
    done
    # The action server is stateless: several Sanic workers share its one port (Rasa knows one URL).
    export ACTION_SERVER_SANIC_WORKERS=$ACTION_PROCESSES
    # Refuse now, with the reason, rather than start servers on an unreachable store.
    .venv/bin/python -m tools.check_stores --endpoints "$ENDPOINTS" --require-shared || {
      echo "Not starting: fix the store(s) above (production profile; see README \"Production profile\")." >&2
      exit 1
    }
    ;;
  *) echo "ALIMAIL_PROFILE must be embedded (the default) or production, not '$PROFILE'" >&2; exit 2 ;;
esac
# The ticket database by the one rule of core/settings.py (production profile: the tracker
# database unless TICKETS_DB_URL is set); an invalid setting stops here, with its name.
TICKETS_DB_URL=$(.venv/bin/python -m core.settings tickets-db-url)
export TICKETS_DB_URL

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

$RASA actions --actions actions --host "$ACTION_HOST" --port "$ACTION_PORT" > build/logs/actions.log 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  curl -fsS "http://$ACTION_HOST:$ACTION_PORT/health" >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat build/logs/actions.log; echo "action server failed to start" >&2; exit 1; }
  sleep 0.5
done
echo "Action server: http://$ACTION_HOST:$ACTION_PORT (log: build/logs/actions.log)"

if [ "${1:-}" != "--shell" ]; then
  .venv/bin/python -m tickets.api --host "$TICKETS_API_HOST" --port "$TICKETS_API_PORT" > build/logs/tickets-api.log 2>&1 &
  pids+=($!)
fi

if [ "${1:-}" = "--shell" ]; then
  $RASA shell --model "$MODEL" --endpoints "$ENDPOINTS"
  exit 0
fi

if [ "$PROFILE" = production ]; then
  # RASA_PROCESSES servers on consecutive ports, each a single process (SANIC_WORKERS=1 unless set):
  # each can be health-checked and restarted alone, and a failed start ends with exit 1, which
  # Sanic's multi-worker mode does not give (it exits 0 when its workers die).
  export SANIC_WORKERS=${SANIC_WORKERS:-1}
  rasa_pids=()
  for ((i = 0; i < RASA_PROCESSES; i++)); do
    port=$((RASA_PORT + i))
    $RASA run --model "$MODEL" --interface "$RASA_HOST" --port "$port" \
      --credentials credentials.yml --endpoints "$ENDPOINTS" > "build/logs/rasa-$port.log" 2>&1 &
    pids+=($!)
    rasa_pids+=($!)
  done
  echo "Starting $RASA_PROCESSES Rasa servers (loading the model takes a little while)..."
  for ((i = 0; i < RASA_PROCESSES; i++)); do
    port=$((RASA_PORT + i))
    for ((tries = 0; ; tries++)); do
      curl -fsS "http://$RASA_HOST:$port/" >/dev/null 2>&1 && break
      kill -0 "${rasa_pids[$i]}" 2>/dev/null && ((tries < 600)) || {
        tail -50 "build/logs/rasa-$port.log"; echo "Rasa on port $port failed to start" >&2; exit 1; }
      sleep 0.5
    done
  done
  cat <<MSG

The assistant is running (production profile).
  Rasa servers:  $(for ((i = 0; i < RASA_PROCESSES; i++)); do printf 'http://%s:%s ' "$RASA_HOST" $((RASA_PORT + i)); done)
                 (logs: build/logs/rasa-PORT.log). Put a load balancer in front of them (sticky for
                 /socket.io/, the web chat); any of them answers any conversation.
  Action server: $ACTION_SERVER_URL   ($ACTION_PROCESSES workers; log: build/logs/actions.log)
  Ticket API:    http://$TICKETS_API_HOST:$TICKETS_API_PORT/tickets   (needs TICKETS_API_TOKENS; log: build/logs/tickets-api.log)
  Trackers:      PostgreSQL $TRACKER_DB_HOST:$TRACKER_DB_PORT/$TRACKER_DB_NAME   Locks: Redis $REDIS_HOST:$REDIS_PORT/$REDIS_DB
  Tickets:       $(sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#' <<<"$TICKETS_DB_URL")
Press Ctrl-C to stop them all.
MSG
  wait -n "${pids[@]}" || true
  echo "A server stopped; see build/logs/. Stopping the others." >&2
  exit 1
fi

$RASA run --model "$MODEL" --interface "$RASA_HOST" --port "$RASA_PORT" \
  --credentials credentials.yml --endpoints "$ENDPOINTS" > build/logs/rasa.log 2>&1 &
pids+=($!)
rasa_pid=$!
echo "Starting Rasa (loading the model takes a little while)..."
for _ in $(seq 1 240); do
  curl -fsS "http://$RASA_HOST:$RASA_PORT/" >/dev/null 2>&1 && break
  kill -0 "$rasa_pid" 2>/dev/null || { tail -50 build/logs/rasa.log; echo "Rasa failed to start" >&2; exit 1; }
  sleep 0.5
done
curl -fsS "http://$RASA_HOST:$RASA_PORT/" >/dev/null 2>&1 || {
  tail -50 build/logs/rasa.log; echo "Rasa did not answer within 120 s" >&2; exit 1; }
cat <<MSG

The assistant is running.
  Rasa server:   http://$RASA_HOST:$RASA_PORT   (log: build/logs/rasa.log)
  REST channel:  http://$RASA_HOST:$RASA_PORT/webhooks/rest/webhook
  Web chat:      http://$RASA_HOST:$RASA_PORT/webhooks/socketio/webchat/   (widget: .../webchat/widget.js)
  Ticket API:    http://$TICKETS_API_HOST:$TICKETS_API_PORT/tickets   (needs TICKETS_API_TOKENS; log: build/logs/tickets-api.log)
  Tickets:       $(sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#' <<<"$TICKETS_DB_URL")   (staff: .venv/bin/python -m tickets.cli list)
  Try:  curl -s -XPOST http://$RASA_HOST:$RASA_PORT/webhooks/rest/webhook \\
          -H 'Content-Type: application/json' -d '{"sender": "me", "message": "I forgot my password"}'
Press Ctrl-C to stop them all.
MSG
wait -n "${pids[@]}"
echo "A server stopped; see build/logs/. Stopping the other." >&2
