# Checks the "top" of each predict record against its own pred and probs:
# min(K, classes) distinct labels, probabilities the very text of probs,
# non-increasing, equal ones in label order with pred first, top[0] = pred.
# Prints "ID ok" or "ID: what is wrong". Usage: awk -v K=2 -f check.awk
function field(re, s) { return match(s, re) ? substr(s, RSTART, RLENGTH) : "" }
{
    id = field("\"id\":\"[^\"]*\"", $0); gsub(/"id":|"/, "", id)
    pred = field("\"pred\":\"[^\"]*\"", $0); gsub(/"pred":|"/, "", pred)
    probs = field("\"probs\":\\{[^}]*\\}", $0); gsub(/"probs":\{|\}|"/, "", probs)
    nc = split(probs, kv, ","); delete p; delete order
    for (i = 1; i <= nc; i++) { split(kv[i], a, ":"); p[a[1]] = a[2]; order[a[1]] = i }
    top = field("\"top\":\\[[^]]*\\]", $0); gsub(/"top":\[|\]|\{|\}|"label":|"prob":|"/, "", top)
    nt = split(top, t, ",") / 2
    bad = ""; delete seen
    if (nt != (K < nc ? K : nc)) bad = bad " length " nt
    for (j = 1; j <= nt; j++) {
        l = t[2 * j - 1]; v = t[2 * j]
        if (l in seen) bad = bad " repeats " l
        seen[l] = 1
        if (!(l in p) || p[l] != v) bad = bad " prob of " l
        if (j > 1 && v + 0 > pv + 0) bad = bad " not decreasing at " j
        if (j > 1 && v + 0 == pv + 0 && pl != pred && order[l] < order[pl]) bad = bad " tie order at " j
        pl = l; pv = v
    }
    if (t[1] != pred) bad = bad " top[0] is not pred"
    print id (bad == "" ? " ok" : ":" bad)
}
