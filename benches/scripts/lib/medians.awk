# Medians over rounds of results.tsv (round, workload, contender, target,
# rps, p50, p99, cpu%, cpu us/req, errors, runq%, lag), one row per workload
# and contender, with ratios against the contender named tokio.
function median(s,    n, i, j, t, a) {
    n = split(s, a, " ")
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    spread = (n > 1) ? sprintf("%.2f..%.2f", a[1], a[n]) : "-"
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function add(key, v) { vals[key] = (key in vals) ? vals[key] " " v : v }
{
    w = $2; c = $3
    if (!(w in wseen)) { wseen[w] = 1; ws[++nw] = w; target[w] = $4 }
    if (!((w, c) in cseen)) { cseen[w, c] = 1; cs[w] = cs[w] " " c }
    add(w SUBSEP c SUBSEP "rps", $5); add(w SUBSEP c SUBSEP "p50", $6); add(w SUBSEP c SUBSEP "p99", $7)
    add(w SUBSEP c SUBSEP "cpu", $8); add(w SUBSEP c SUBSEP "cpr", $9); add(w SUBSEP c SUBSEP "rq", $11)
}
END {
    printf "%-15s %-13s %9s %8s %8s %6s %10s %13s %8s %8s %7s\n", "workload", "contender", "req/s", "p50 us", "p99 us",
        "CPU %", "CPU us/req", "(min..max)", "rps/tok", "cpu/tok", "runq %"
    for (i = 1; i <= nw; i++) {
        w = ws[i]
        n = split(substr(cs[w], 2), cl, " ")
        trps = ""; tcpr = ""
        for (j = 1; j <= n; j++) if (cl[j] == "tokio") {
            trps = median(vals[w SUBSEP "tokio" SUBSEP "rps"]); tcpr = median(vals[w SUBSEP "tokio" SUBSEP "cpr"])
        }
        for (j = 1; j <= n; j++) {
            k = w SUBSEP cl[j]
            rps = median(vals[k SUBSEP "rps"]); p50 = median(vals[k SUBSEP "p50"]); p99 = median(vals[k SUBSEP "p99"])
            cpu = median(vals[k SUBSEP "cpu"]); rq = median(vals[k SUBSEP "rq"])
            cpr = median(vals[k SUBSEP "cpr"]); cspread = spread
            r1 = (trps > 0) ? sprintf("%.2fx", rps / trps) : "-"
            r2 = (tcpr > 0) ? sprintf("%.2fx", cpr / tcpr) : "-"
            printf "%-15s %-13s %9.0f %8.1f %8.1f %6.1f %10.2f %13s %8s %8s %7.1f\n", w, cl[j], rps, p50, p99, cpu,
                cpr, cspread, r1, r2, rq
        }
    }
    print ""
    print "CPU % and CPU us/req: the server process (all threads), from /proc/<pid>/task/*/schedstat over the window."
    print "runq %: time the server was runnable but not running (wake-up delays make ~0.5% normal; more: something"
    print "        else ran on its CPU)."
    print "rps/tok: req/s over tokio (> 1: more). cpu/tok: CPU us per request over tokio (< 1: cheaper)."
    print "At a fixed rate (*-rate) req/s is the target for every contender, so cpu/tok is the comparison;"
    print "closed-loop workloads (*-Nc) saturate the server: compare req/s and latency."
}
