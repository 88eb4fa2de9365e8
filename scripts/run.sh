#!/usr/bin/env bash
# Start the action server, the Rasa server and the ticket API (or `rasa shell` with --shell);
# Ctrl-C stops them all. Called by `make run` / `make shell`, which set MODEL.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${MODEL:?set MODEL to the trained model (make run does)}"
RASA_HOST=${RASA_HOST:-127.0.0.1}
RASA_PORT=${RASA_PORT:-5005}
ACTION_HOST=${ACTION_HOST:-127.0.0.1}
ACTION_PORT=${ACTION_PORT:-5055}
TICKETS_API_PORT=${TICKETS_API_PORT:-5056}
RASA=.venv/bin/rasa
mkdir -p build/logs var

# endpoints.yml names port 5055; a different ACTION_PORT gets its own endpoints file.
ENDPOINTS=endpoints.yml
if [ "$ACTION_PORT" != 5055 ] || [ "$ACTION_HOST" != 127.0.0.1 ]; then
  ENDPOINTS=build/endpoints.local.yml
  sed "s#http://localhost:5055/webhook#http://$ACTION_HOST:$ACTION_PORT/webhook#" endpoints.yml > "$ENDPOINTS"
fi

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

SANIC_HOST=$ACTION_HOST "$RASA" run actions --actions actions --port "$ACTION_PORT" \
  > build/logs/actions.log 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  curl -fsS "http://$ACTION_HOST:$ACTION_PORT/health" >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat build/logs/actions.log; echo "action server failed to start" >&2; exit 1; }
  sleep 0.5
done
echo "Action server: http://$ACTION_HOST:$ACTION_PORT (log: build/logs/actions.log)"

if [ "${1:-}" != "--shell" ]; then
  .venv/bin/python -m tickets.api --host "$RASA_HOST" --port "$TICKETS_API_PORT" > build/logs/tickets-api.log 2>&1 &
  pids+=($!)
fi

if [ "${1:-}" = "--shell" ]; then
  "$RASA" shell --model "$MODEL" --endpoints "$ENDPOINTS"
  exit 0
fi

"$RASA" run --model "$MODEL" --interface "$RASA_HOST" --port "$RASA_PORT" \
  --credentials credentials.yml --endpoints "$ENDPOINTS" > build/logs/rasa.log 2>&1 &
pids+=($!)
echo "Starting Rasa (loading the model takes a little while)..."
for _ in $(seq 1 240); do
  curl -fsS "http://$RASA_HOST:$RASA_PORT/" >/dev/null 2>&1 && break
  kill -0 "${pids[1]}" 2>/dev/null || { tail -50 build/logs/rasa.log; echo "Rasa failed to start" >&2; exit 1; }
  sleep 0.5
done
cat <<MSG

The assistant is running.
  Rasa server:   http://$RASA_HOST:$RASA_PORT   (log: build/logs/rasa.log)
  REST channel:  http://$RASA_HOST:$RASA_PORT/webhooks/rest/webhook
  Web chat:      http://$RASA_HOST:$RASA_PORT/webhooks/socketio/webchat/   (widget: .../webchat/widget.js)
  Ticket API:    http://$RASA_HOST:$TICKETS_API_PORT/tickets   (needs TICKETS_API_TOKEN; log: build/logs/tickets-api.log)
  Tickets:       ${TICKETS_DB_URL:-sqlite:///var/tickets.sqlite3}   (staff: .venv/bin/python -m tickets.cli list)
  Try:  curl -s -XPOST http://$RASA_HOST:$RASA_PORT/webhooks/rest/webhook \\
          -H 'Content-Type: application/json' -d '{"sender": "me", "message": "I forgot my password"}'
Press Ctrl-C to stop them all.
MSG
wait -n "${pids[@]}"
echo "A server stopped; see build/logs/. Stopping the other." >&2
