#!/usr/bin/env bash
# Executes every notebook in this folder headless, with the GoNB kernel, and fails if any fails.
#
#   examples/notebooks/run.sh            execute each *.ipynb into a temporary folder (the repository
#                                        is left as it was): what CI runs
#   examples/notebooks/run.sh --update   execute each *.ipynb and write the outputs back into it:
#                                        run this before committing a changed notebook
#   examples/notebooks/run.sh X.ipynb    only the notebooks named (either mode)
#
# Needs: Go, jupyter nbconvert with nbclient and ipykernel (Debian: jupyter-nbconvert
# python3-nbclient python3-ipykernel), and GoNB with goimports, which this script installs from
# the repository's tools/ module when they are not on PATH.
#
# A notebook fails when nbconvert reports an error (a cell that does not compile, a failed `go get`,
# a cell that runs longer than NB_CELL_TIMEOUT seconds, the whole notebook longer than NB_TIMEOUT
# seconds) and also when any cell's program or shell command exits non-zero: GoNB v0.11.1 shows a
# panic or a non-zero exit only as a last stderr line "exit status N" and does not mark the cell as
# failed, so this script reads the executed notebook for that line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
NB_TIMEOUT=${NB_TIMEOUT:-900}
NB_CELL_TIMEOUT=${NB_CELL_TIMEOUT:-600}

update=false
names=()
for arg in "$@"; do
	case "$arg" in
	--update) update=true ;;
	-h | --help)
		sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	-*)
		echo "run.sh: unknown flag $arg" >&2
		exit 2
		;;
	*) names+=("$arg") ;;
	esac
done

cd "$here"
notebooks=()
if [ ${#names[@]} -gt 0 ]; then
	for n in "${names[@]}"; do
		n=$(basename "$n")
		[ -f "$n" ] || { echo "run.sh: no notebook $here/$n" >&2; exit 2; }
		notebooks+=("$n")
	done
else
	shopt -s nullglob
	notebooks=(*.ipynb)
	shopt -u nullglob
fi
if [ ${#notebooks[@]} -eq 0 ]; then
	echo "run.sh: no notebooks in $here: nothing to run"
	exit 0
fi

# GoNB, and the goimports it calls, come from the repository's tools module at pinned versions.
gobin=$(go env GOBIN)
[ -n "$gobin" ] || gobin=$(go env GOPATH)/bin
export PATH="$gobin:$PATH"
if ! command -v gonb >/dev/null || ! command -v goimports >/dev/null; then
	echo "run.sh: installing gonb and goimports from $root/tools"
	(cd "$root/tools" && go install github.com/janpfeifer/gonb golang.org/x/tools/cmd/goimports)
fi
# Registers (or refreshes) the "gonb" kernel for this user. --force_deps: gopls only serves
# auto-completion in a browser and is not needed to execute notebooks.
gonb --install --force_deps >/dev/null 2>&1 || { echo "run.sh: gonb --install failed" >&2; gonb --install --force_deps; exit 1; }

jupyter=${JUPYTER:-jupyter}
if ! "$jupyter" nbconvert --version >/dev/null 2>&1; then
	echo "run.sh: jupyter nbconvert is missing; on Debian: apt-get install jupyter-nbconvert python3-nbclient python3-ipykernel" >&2
	exit 1
fi

out=$(mktemp -d "${TMPDIR:-/tmp}/shears-notebooks.XXXXXX")
trap 'rm -rf "$out"' EXIT

# check prints the cells of an executed notebook whose outputs end in GoNB's report of a failed
# program or shell command, and exits 1 if there is any.
check() {
	python3 - "$1" <<'EOF'
import json, re, sys
bad = re.compile(r"^(exit status \d+|signal: [\w ]+)$", re.M)
nb = json.load(open(sys.argv[1]))
failed = False
for i, cell in enumerate(nb.get("cells", []), 1):
    for o in cell.get("outputs", []):
        text = o.get("text", "")
        if isinstance(text, list):
            text = "".join(text)
        if o.get("output_type") == "error" or (o.get("name") == "stderr" and bad.search(text)):
            failed = True
            print("--- cell %d (execution %s) failed:" % (i, cell.get("execution_count")))
            print(text if text else "%s: %s" % (o.get("ename"), o.get("evalue")))
sys.exit(1 if failed else 0)
EOF
}

failed=()
for nb in "${notebooks[@]}"; do
	start=$SECONDS
	log="$out/${nb%.ipynb}.log"
	echo "--- notebook $nb"
	rc=0
	timeout --kill-after=30 "$NB_TIMEOUT" "$jupyter" nbconvert --to notebook --execute \
		--ExecutePreprocessor.kernel_name=gonb \
		--ExecutePreprocessor.timeout="$NB_CELL_TIMEOUT" \
		--ExecutePreprocessor.startup_timeout=120 \
		--ExecutePreprocessor.record_timing=False \
		--output-dir "$out" "$nb" </dev/null >"$log" 2>&1 || rc=$?
	if [ $rc -eq 0 ] && ! check "$out/$nb"; then
		rc=1
	fi
	if [ $rc -ne 0 ]; then
		[ $rc -eq 124 ] && echo "notebook $nb: timed out after ${NB_TIMEOUT}s"
		# The kernel's own log lines (klog: "I1122 03:43:49.18 ...") are noise here.
		grep -vE '^[IWE][0-9]{4} ' "$log" | tail -n 60 || true
		echo "FAIL notebook $nb ($((SECONDS - start))s)"
		failed+=("$nb")
		continue
	fi
	if $update; then
		cp "$out/$nb" "$here/$nb"
	fi
	echo "ok   notebook $nb ($((SECONDS - start))s)"
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "notebooks: $((${#notebooks[@]} - ${#failed[@]})) passed, ${#failed[@]} failed (${failed[*]})"
	exit 1
fi
echo "notebooks: ${#notebooks[@]} passed, 0 failed"
