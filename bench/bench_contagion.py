"""Friend-contagion benchmark: locality of the incremental push and speed of the global solve.

    .venv/bin/python bench/bench_contagion.py            # 10k and 100k members (~1-2 min)
    .venv/bin/python bench/bench_contagion.py --full     # + 1M members / 10M friendships

Graphs are Chung-Lu with Pareto(1.5) weights (heavy-tailed, average degree ~20, hubs of
thousands of friends). Bases ~ N(650, 90) clipped to [350, 950]; base changes ~ N(0, 30) points at
uniformly random members. Prints figures; asserts nothing about time (STYLE §14).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scoring.contagion.engine import Params, base_changed
from scoring.contagion.solve import baseline_iterate, baseline_matrix, build_graph, solve_graph
from scoring.contagion.stores import ArrayStore

AVG_DEGREE = 20


def chung_lu(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Undirected heavy-tailed graph on 0..n-1 with ~AVG_DEGREE·n/2 distinct friendships."""
    rng = np.random.default_rng(seed)
    w = rng.pareto(1.5, n) + 1.0
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    m = n * AVG_DEGREE // 2
    u = np.searchsorted(cdf, rng.random(m))
    v = np.searchsorted(cdf, rng.random(m))
    keep = u != v
    return u[keep], v[keep]


def deviations(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    return np.clip(rng.normal(650, 90, n), 350, 950) - 650


def stats(xs: list[int]) -> str:
    a = np.asarray(xs)
    return f"mean {a.mean():8.1f}  p99 {np.percentile(a, 99):8.0f}  max {a.max():8d}"


def locality(n: int, events: int, seed: int = 1) -> None:
    u, v = chung_lu(n, seed)
    graph = build_graph(np.arange(n), (u, v))
    d = deviations(n, seed)
    start = solve_graph(graph, d, tol=1e-4).s
    print(f"\n== {n:,} members, {graph.n_edges:,} friendships, max degree {int(graph.deg.max()):,}")
    rng = np.random.default_rng(seed + 2)
    members = rng.integers(0, n, events).tolist()
    shifts = rng.normal(0, 30, events).tolist()
    for eps in (1.0, 0.1, 0.01):
        # budget off: measure the true work; then how many calls the default budget would cut
        params = Params(eps=eps, budget=10**9)
        store = ArrayStore(graph, d, s=start)
        touched, visits, pushes = [], [], 0
        t0 = time.perf_counter()
        for m, delta in zip(members, shifts, strict=True):
            rep = base_changed(store, m, delta, params)
            touched.append(rep.nodes_touched)
            visits.append(rep.edge_visits)
            pushes += rep.pushes
        dt = time.perf_counter() - t0
        over = sum(x > Params().budget for x in visits)
        print(f"  eps={eps:<5} nodes touched {stats(touched)}")
        print(f"             edge visits   {stats(visits)}   over default budget "
              f"{Params().budget:,}: {over}/{events}")
        print(f"             {events} base changes in {dt:6.2f} s = {1e3 * dt / events:6.2f} ms "
              f"each, {pushes / dt:,.0f} pushes/s, max |r| {np.abs(store.r).max():.3g}")


def _peak_mb() -> float:
    """Peak RSS of this process in MB. Linux keeps ru_maxrss across fork+exec (a spawned child
    reports the parent's peak when that is higher), so read the fresh address space's VmHWM and
    fall back to getrusage elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _solve_child(path: str, which: str, tol: float, repeats: int, out: mp.Queue) -> None:
    data = np.load(path)
    u, v, d = data["u"], data["v"], data["d"]
    n = d.size
    ids = np.arange(n)
    best_build, best_solve, iters = float("inf"), float("inf"), 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        if which == "credo":
            graph = build_graph(ids, (u, v))
            t1 = time.perf_counter()
            iters = solve_graph(graph, d, tol=tol).iterations
            del graph
        else:
            p = baseline_matrix(ids, (u, v))
            t1 = time.perf_counter()
            _, iters = baseline_iterate(p, d, tol=tol)
            del p
        t2 = time.perf_counter()
        best_build = min(best_build, t1 - t0)
        best_solve = min(best_solve, t2 - t1)
    out.put((best_build, best_solve, iters, _peak_mb()))


def full_solve(n: int, repeats: int, seed: int = 1) -> None:
    u, v = chung_lu(n, seed)
    d = deviations(n, seed)
    ctx = mp.get_context("spawn")  # fresh process each: peak RSS per solver, not cumulative
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "graph.npz")
        np.savez(path, u=u, v=v, d=d)
        print(f"\n== full solve, {n:,} members, {u.size:,} friendship rows "
              f"(input arrays {2 * u.nbytes / 2**20:.0f} MB), best of {repeats}")
        for tol in (1e-2, 1e-6):
            rows = {}
            for which in ("credo", "baseline"):
                q: mp.Queue = ctx.Queue()
                p = ctx.Process(target=_solve_child, args=(path, which, tol, repeats, q))
                p.start()
                rows[which] = q.get()
                p.join()
            cb, cs, ci, cm = rows["credo"]
            bb, bs, bi, bm = rows["baseline"]
            print(f"  tol {tol:g} (‖r‖∞):  credo  build {cb:5.2f} s + CG     {cs:5.2f} s "
                  f"({ci:2d} it), peak {cm:5.0f} MB")
            print(f"              plain  build {bb:5.2f} s + Jacobi {bs:5.2f} s ({bi:2d} it), "
                  f"peak {bm:5.0f} MB")
            print(f"              ratio plain/credo: solve {bs / cs:4.1f}x, build {bb / cb:4.1f}x, "
                  f"end to end {(bb + bs) / (cb + cs):4.1f}x")

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also 1M members / 10M friendships")
    parser.add_argument("--events", type=int, default=300, help="base changes per ε")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    sizes = [10_000, 100_000] + ([1_000_000] if args.full else [])
    for n in sizes:
        locality(n, args.events)
    full_solve(100_000, repeats=3)
    if args.full:
        full_solve(1_000_000, repeats=2)
    print(f"\nbench process peak RSS {_peak_mb():.0f} MB (graphs, stores, locality runs)")


if __name__ == "__main__":
    main()
