#!/usr/bin/env bash
# usage: bench/shapes.sh
# tally-parse on more shapes of the wide metro export (bench/wide.sh's file, `tally-bench
# metro-data`), each side by side with Miller and `zcat | wc -l` in interleaved rounds (ROUNDS,
# default 3): the export as made; doubled quotes in the operator names of two thirds of the rows
# ("上海""申通""地铁集团", "浦东新区""公共交通"); a CR LF inside the quoted operator name of a
# third of the rows; the whole export in GB18030, declared so; its rows in random order. The
# shapes are made from the export with sed, iconv, shuf and gzip -6, once, under $DATA/shapes.
# Goals (issue "Parse at the decompression floor", on any CSV feed shape): tally-parse no slower
# than zcat | wc -l; at least 8x faster than Miller.
source "$(dirname "$0")/lib.sh"
require mlr iconv
build_release tally-parse
ROUNDS=${ROUNDS:-3}
ensure_metro
SHAPES=$DATA/shapes
make_shape() { # make_shape NAME FILTER...: $SHAPES/NAME/metro-20261101.csv.gz from the export through FILTER
    local name=$1; shift
    mkdir -p "$SHAPES/$name"
    make_once "$SHAPES/$name" "$METRO_ROWS" bash -c "zcat '$METRO' | $* | gzip -6 > '$SHAPES/$name/metro-20261101.csv.gz'"
}
make_shape doubled "sed 's/\"上海申通地铁集团\"/\"上海\"\"申通\"\"地铁集团\"/; s/\"浦东新区公共交通\"/\"浦东新区\"\"公共交通\"/'"
make_shape line-break "sed 's/\"上海申通地铁集团\"/\"上海申通\\r\\n地铁集团\"/'"
make_shape gb18030 "iconv -f UTF-8 -t GB18030"
# The rows in random order (the header first): keys out of order, so every key is looked up in the
# key set, where keys in order are only written down.
make_shape shuffled "(sed -u 1q; shuf)"
# The GB18030 shape's declaration: bench/metro's, with the encoding it is written in.
mkdir -p "$SHAPES/gb18030-declaration"
cp "$METRO_SCHEMAS/metro.schema.json" "$SHAPES/gb18030-declaration/"
sed 's/"encoding": "utf-8"/"encoding": "gb18030"/' "$METRO_SCHEMAS/metro.feed.json" > "$SHAPES/gb18030-declaration/metro.feed.json"
grep -q '"encoding": "gb18030"' "$SHAPES/gb18030-declaration/metro.feed.json"

times=$(mktemp)
trap 'rm -f "$times"' EXIT
run() { # run SHAPE TOOL COMMAND: one timed run, "SHAPE TOOL seconds" appended to $times
    local shape=$1 tool=$2; shift 2
    /usr/bin/time -f "$shape $tool %e" -a -o "$times" bash -c "$*" >/dev/null 2>&1
}
for round in $(seq "$ROUNDS"); do
    for shape in export doubled line-break gb18030 shuffled; do
        f=$SHAPES/$shape/metro-20261101.csv.gz; schemas=$METRO_SCHEMAS
        [ "$shape" = export ] && f=$METRO
        [ "$shape" = gb18030 ] && schemas=$SHAPES/gb18030-declaration
        run "$shape" tally "'$BIN/tally-parse' --schemas '$schemas' --feed metro '$f' > /dev/null"
        run "$shape" miller "mlr --gzin --icsv --ojsonl cat '$f' > /dev/null"
        run "$shape" zcat "zcat '$f' | wc -l"
    done
done
{
    echo "$(machine_line)"
    echo
    echo "Files: the wide export ($METRO_ROWS rows, \`tally-bench metro-data\`) and four shapes made from it (bench/shapes.sh). $ROUNDS rounds, each running every command in turn; medians in seconds."
    echo
    python3 - "$times" <<'PY'
import sys, statistics, collections
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    shape, tool, secs = line.split()
    d[(shape, tool)].append(float(secs))
m = {k: statistics.median(v) for k, v in d.items()}
names = {"export": "the wide export", "doubled": "doubled quotes in two thirds of the rows",
         "line-break": "a CR LF inside quotes in a third of the rows", "gb18030": "the export in GB18030, declared so",
         "shuffled": "its rows in random order (keys out of order)"}
print("| shape | tally-parse | Miller | zcat \\| wc -l | Miller / tally | tally / zcat |")
print("|---|---|---|---|---|---|")
for s in ["export", "doubled", "line-break", "gb18030", "shuffled"]:
    t, mlr, z = m[(s, "tally")], m[(s, "miller")], m[(s, "zcat")]
    print(f"| {names[s]} | {t:.2f} | {mlr:.2f} | {z:.2f} | **{mlr / t:.1f}x** | **{t / z:.2f}x** |")
print()
print("Goals: Miller / tally at least 8x, tally / zcat at most 1x.")
PY
    echo
    echo "Command: \`bench/shapes.sh\` (ROUNDS=$ROUNDS)."
} | write_section shapes
sed -n '/<!-- shapes:begin -->/,/<!-- shapes:end -->/p' "$ROOT/BENCHMARKS.md"
