#!/usr/bin/env bash
# Print the path of a working Python 3.10 (rasa 3.6 does not run on 3.11+).
# Tries PYTHON310, `python3.10` on PATH, then pyenv's and the system's installs.
set -u
candidates=("${PYTHON310:-}" python3.10)
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
for dir in "$root"/versions/3.10*; do candidates+=("$dir/bin/python3.10"); done
candidates+=(/usr/bin/python3.10 /usr/local/bin/python3.10)
for py in "${candidates[@]}"; do
  [ -n "$py" ] || continue
  if "$py" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
    command -v "$py" 2>/dev/null || echo "$py"
    exit 0
  fi
done
echo "No Python 3.10 found: install it (e.g. pyenv install 3.10) or set PYTHON310=/path/to/python3.10" >&2
exit 1
