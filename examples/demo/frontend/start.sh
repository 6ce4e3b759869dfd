#!/bin/sh
# Like `npm run dev`: a shell wrapper that does not exec, so the server is its grandchild.
cd "$(dirname "$0")" || exit 1
echo "frontend: starting dev server on port $PORT"
python3 devserver.py
