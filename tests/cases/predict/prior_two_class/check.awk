# Prints "ID ok" when the record's probs are within 1e-12 of the hand-computed
# ones (want: "id:p(accept):p(reject),..."), else the numbers.
function field(re, s) { return match(s, re) ? substr(s, RSTART, RLENGTH) : "" }
BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) { split(w[i], f, ":"); pa[f[1]] = f[2]; pr[f[1]] = f[3] } }
{
    id = field("\"id\":\"[^\"]*\"", $0); gsub(/"id":|"/, "", id)
    pacc = field("\"accept\":[^,}]*", $0); sub(/"accept":/, "", pacc)
    r = field("\"reject\":[^,}]*", $0); sub(/"reject":/, "", r)
    d1 = pacc - pa[id]; d2 = r - pr[id]
    print id ((d1 < 1e-12 && -d1 < 1e-12 && d2 < 1e-12 && -d2 < 1e-12) ? " ok" : ": " pacc " " r)
}
