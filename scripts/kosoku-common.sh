# Sourced by scripts/autobahn.sh and scripts/autobahn-client.sh: the kosoku
# venv and launcher, a free loopback port, and the case selection both runs
# use.

root=$PWD
venv=${VENV:-$root/.venv}
if [ ! -x "$venv/bin/kosoku" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet kosoku
fi

# kosoku through scripts/kosoku_launcher.py, which fixes its Python 3 bug in
# the permessage-deflate groups 12 and 13.
kosoku=("$venv/bin/python" "$root/scripts/kosoku_launcher.py")

# Every group, 1-13: 517 cases. AUTOBAHN_CASES narrows it for a quick look,
# e.g. AUTOBAHN_CASES='12.1.*' (the results then differ from the committed
# ones, and the check says so).
cases=()
read -r -a globs <<<"${AUTOBAHN_CASES:-}"
for glob in "${globs[@]}"; do
  cases+=(-i "$glob")
done

free_port() {
  "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to 5 s for something to listen on 127.0.0.1:$1.
wait_port() {
  for _ in $(seq 50); do
    (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
