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
declare -A role_of=()  # pid -> the part it runs, for saying which part stopped
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}" "${!role_of[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
# Ctrl-C or a TERM ends the script (the supervisor's loop must not go on), and the exit stops every part.
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# What each part is called, where it logs, how it is started (at first and again) and checked.
describe() {
  case "$1" in
    actions) echo "action server (log: build/logs/actions.log)" ;;
    tickets-api) echo "ticket API (log: build/logs/tickets-api.log)" ;;
    rasa-*) echo "Rasa server on port ${1#rasa-} (log: build/logs/$1.log)" ;;
    rasa) echo "Rasa server (log: build/logs/rasa.log)" ;;
  esac
}
log_of() { case "$1" in rasa-* | rasa | actions | tickets-api) echo "build/logs/$1.log" ;; esac; }
rasa_port() { case "$1" in rasa) echo "$RASA_PORT" ;; *) echo "${1#rasa-}" ;; esac; }
launch() {  # start part $1 in the background (appending to its log); LAUNCHED is its pid
  case "$1" in
    actions) $RASA actions --actions actions --host "$ACTION_HOST" --port "$ACTION_PORT" >> build/logs/actions.log 2>&1 & ;;
    tickets-api) .venv/bin/python -m tickets.api --host "$TICKETS_API_HOST" --port "$TICKETS_API_PORT" >> build/logs/tickets-api.log 2>&1 & ;;
    rasa | rasa-*) $RASA run --model "$MODEL" --interface "$RASA_HOST" --port "$(rasa_port "$1")" \
      --credentials credentials.yml --endpoints "$ENDPOINTS" >> "build/logs/$1.log" 2>&1 & ;;
  esac
  LAUNCHED=$!
}
health_url() {
  case "$1" in
    actions) echo "http://$ACTION_HOST:$ACTION_PORT/health" ;;
    tickets-api) echo "http://$TICKETS_API_HOST:$TICKETS_API_PORT/health" ;;
    rasa | rasa-*) echo "http://$RASA_HOST:$(rasa_port "$1")/" ;;
  esac
}
start() {  # the first start of part $1, with a fresh log
  : > "$(log_of "$1")"
  launch "$1"
  pids+=("$LAUNCHED")
  role_of[$LAUNCHED]=$1
}

start actions
for _ in $(seq 1 120); do
  curl -fsS "http://$ACTION_HOST:$ACTION_PORT/health" >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat build/logs/actions.log; echo "action server failed to start" >&2; exit 1; }
  sleep 0.5
done
echo "Action server: http://$ACTION_HOST:$ACTION_PORT (log: build/logs/actions.log)"

# The staff ticket API refuses every request until a token is set (503): without one it is not started
# (a listener nobody can use, and 54 MB less); staff use `tickets.cli` or set TICKETS_API_TOKENS.
if [ -n "${TICKETS_API_TOKENS:-}${TICKETS_API_TOKEN:-}" ]; then
  TICKETS_API_LINE="http://$TICKETS_API_HOST:$TICKETS_API_PORT/tickets   (log: build/logs/tickets-api.log)"
  [ "${1:-}" = "--shell" ] || start tickets-api
else
  TICKETS_API_LINE="not started: set TICKETS_API_TOKENS to serve it (README, Tickets)"
fi

# Which part stopped, with its exit code and the end of its log (make run stops the others then).
report_stopped() {  # $1: pid, $2: exit code
  local role=${role_of[$1]:-?}
  echo "$(date +%T) The $(describe "$role") stopped (pid $1, exit code $2). Its last lines:" >&2
  tail -15 "$(log_of "$role")" >&2 || true
}
# Supervision of the production profile (README, "When a part fails"): a part that exits is started
# again (after 1 s, doubling to at most 30 s while it keeps failing, e.g. Rasa refusing to start while
# PostgreSQL is down); one that does not answer its health check for 30 s is stopped and started again.
supervise() {
  declare -A since=() delay=() failures=() checked=() restart_at=()
  local pid role code now grace
  for pid in "${!role_of[@]}"; do since[$pid]=$SECONDS; done
  while true; do
    sleep 1
    for role in "${!restart_at[@]}"; do  # parts waiting to be started again
      ((SECONDS >= restart_at[$role])) || continue
      unset "restart_at[$role]"
      launch "$role"
      role_of[$LAUNCHED]=$role
      since[$LAUNCHED]=$SECONDS
    done
    for pid in "${!role_of[@]}"; do
      role=${role_of[$pid]}
      if ! kill -0 "$pid" 2>/dev/null; then
        code=0; wait "$pid" 2>/dev/null || code=$?
        report_stopped "$pid" "$code"
        # A part that ran for 60 s or more starts again at once; one that keeps failing waits longer.
        if ((SECONDS - ${since[$pid]} >= 60)); then delay[$role]=1; else delay[$role]=$(( ${delay[$role]:-0} * 2 )); fi
        ((delay[$role] >= 1)) || delay[$role]=1
        ((delay[$role] <= 30)) || delay[$role]=30
        echo "$(date +%T) Starting the $(describe "$role") again in ${delay[$role]}s." >&2
        unset "role_of[$pid]"
        restart_at[$role]=$((SECONDS + delay[$role]))
        continue
      fi
      now=$SECONDS
      ((now - ${checked[$pid]:-0} >= 10)) || continue
      checked[$pid]=$now
      case "$role" in rasa-*) grace=300 ;; *) grace=60 ;; esac  # loading the model takes a while
      ((now - ${since[$pid]} >= grace)) || continue
      if curl -fsS --max-time 5 "$(health_url "$role")" >/dev/null 2>&1; then
        failures[$pid]=0
      else
        failures[$pid]=$(( ${failures[$pid]:-0} + 1 ))
        if ((failures[$pid] == 3)); then
          echo "$(date +%T) The $(describe "$role") did not answer its health check for 30 s: restarting it." >&2
          kill -TERM "$pid" 2>/dev/null || true
          kill -CONT "$pid" 2>/dev/null || true  # a stopped process only sees TERM once continued
        elif ((failures[$pid] > 3)); then
          kill -KILL "$pid" 2>/dev/null || true  # still there 10 s later
        fi
      fi
    done
  done
}

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
    start "rasa-$port"
    rasa_pids+=("$LAUNCHED")
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
  Ticket API:    $TICKETS_API_LINE
  Trackers:      PostgreSQL $TRACKER_DB_HOST:$TRACKER_DB_PORT/$TRACKER_DB_NAME   Locks: Redis $REDIS_HOST:$REDIS_PORT/$REDIS_DB
  Tickets:       $(sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#' <<<"$TICKETS_DB_URL")
  Health:        GET /ready on each Rasa server and the action server (each dependency; README)
A part that stops is started again, one that hangs is restarted (messages here). Press Ctrl-C to stop them all.
MSG
  pids=()  # from here the supervisor follows the parts by role_of (their pids change on restarts)
  supervise
fi

start rasa
rasa_pid=$LAUNCHED
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
  Ticket API:    $TICKETS_API_LINE
  Tickets:       $(sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#' <<<"$TICKETS_DB_URL")   (staff: .venv/bin/python -m tickets.cli list)
  Try:  curl -s -XPOST http://$RASA_HOST:$RASA_PORT/webhooks/rest/webhook \\
          -H 'Content-Type: application/json' -d '{"sender": "me", "message": "I forgot my password"}'
  Health:        http://$RASA_HOST:$RASA_PORT/ready   (each dependency: model, action server, stores)
Press Ctrl-C to stop them all. (make run is for developers and restarts nothing: to run as a service,
see deploy/systemd and the README, "Running as a service".)
MSG
wait -n "${pids[@]}" || true
for pid in "${pids[@]}"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    code=0; wait "$pid" 2>/dev/null || code=$?
    report_stopped "$pid" "$code"
  fi
done
echo "Stopping the others." >&2
exit 1
