#!/usr/bin/env python3
"""Self-check of server.py: starts it on a free port, embeds a few sentences over HTTP and checks
that the answers are sensible. Prints the cosines; exits non-zero on any failure.

Run with the virtualenv's Python (it starts the server with the same interpreter):
    .venv/bin/python check.py
"""

from __future__ import annotations

import hashlib
import json
import math
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
# sentence-transformers/all-MiniLM-L6-v2's own files at its revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41.
UPSTREAM_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
STARTUP_TIMEOUT = 120  # seconds; loading the model takes about a second on an idle machine

failures: list[str] = []


def check(ok: bool, what: str) -> None:
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def post(base: str, path: str, body: bytes | dict) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def embed(base: str, texts: list[str]) -> list[list[float]]:
    status, resp = post(base, "/embeddings", {"model": "all-MiniLM-L6-v2", "input": texts})
    if status != 200:
        raise RuntimeError(f"POST /v1/embeddings: {status} {resp}")
    return [d["embedding"] for d in sorted(resp["data"], key=lambda d: d["index"])]


def cos(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def start_server() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, str(HERE / "server.py"), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        first = lines.get(timeout=STARTUP_TIMEOUT)
    except queue.Empty:
        proc.kill()
        raise RuntimeError(f"the server printed nothing in {STARTUP_TIMEOUT} s")
    prefix = "listening on "
    if not first.startswith(prefix):
        proc.kill()
        raise RuntimeError(f"unexpected first line from the server: {first!r} (exit {proc.poll()})")
    return proc, first[len(prefix):].strip()


def check_files() -> None:
    """The packaged files are upstream's, byte for byte (the package is a third party's wrapper)."""
    sys.path.insert(0, str(HERE))
    sys.dont_write_bytecode = True  # no __pycache__ left in the work tree
    from server import model_dir  # the same lookup the server makes

    path = model_dir()
    for name, want in UPSTREAM_SHA256.items():
        got = hashlib.sha256((path / name).read_bytes()).hexdigest()
        check(got == want, f"{name} is upstream's (sha256 {got[:16]}...)")


def main() -> int:
    check_files()
    started = time.perf_counter()
    proc, base = start_server()
    print(f"server up at {base} in {time.perf_counter() - started:.1f} s")
    try:
        # The protocol.
        status, resp = post(base, "/embeddings", {"model": "m", "input": "When are you open on Sunday?"})
        check(status == 200, f"a single string gives 200 (got {status})")
        check(resp.get("object") == "list" and resp.get("model") == "m"
              and [d.get("index") for d in resp.get("data", [])] == [0]
              and resp["data"][0].get("object") == "embedding",
              "the response is an OpenAI embeddings list that echoes the model")
        usage = resp.get("usage", {})
        check(usage.get("prompt_tokens") == usage.get("total_tokens") and (usage.get("prompt_tokens") or 0) > 2,
              f"usage counts the tokens ({usage})")
        v = resp["data"][0]["embedding"]
        norm = math.sqrt(sum(x * x for x in v))
        check(len(v) == 384, f"384 dimensions (got {len(v)})")
        check(abs(norm - 1.0) < 1e-4, f"unit norm (got {norm:.6f})")

        for body, want, what in [
            (b"not json", 400, "a body that is not JSON"),
            ({"model": "m"}, 400, "no input"),
            ({"model": "m", "input": []}, 400, "an empty input list"),
            ({"model": "m", "input": [1, 2, 3]}, 400, "token arrays"),
            ({"model": "m", "input": ["x"] * 257}, 400, "257 inputs"),
            (b"x" * ((1 << 20) + 1), 413, "a body over 1 MiB"),
        ]:
            status, resp = post(base, "/embeddings", body)
            check(status == want and isinstance(resp.get("error", {}).get("message"), str),
                  f"{what} gives {want} with an error message (got {status})")
        status, resp = post(base, "/embeddingz", {"input": "x"})
        check(status == 404, f"another path gives 404 (got {status})")

        # The meaning.
        sunday, sunday_para, bread = "When are you open on Sunday?", "what time do you open sundays", "Do you sell gluten-free bread?"
        coeliac, cakes, where = "I'm coeliac, what can I eat?", "Do you have gluten-free cakes?", "Where is the shop?"
        sentences = [sunday, sunday_para, bread, coeliac, cakes, where]
        e = dict(zip(sentences, embed(base, sentences)))
        pairs = [(sunday, sunday), (sunday, sunday_para), (sunday, bread), (coeliac, cakes), (coeliac, where)]
        c = {}
        print("cosines:")
        for a, b in pairs:
            c[a, b] = cos(e[a], e[b])
            print(f"  {c[a, b]:7.4f}  {a!r} ~ {b!r}")
        check(abs(c[sunday, sunday] - 1.0) < 1e-5, "a sentence's cosine with itself is 1")
        check(c[sunday, sunday_para] > c[sunday, bread] + 0.3,
              "the Sunday paraphrase is clearly closer than the bread question")
        check(c[sunday, sunday_para] > 0.6, "the Sunday paraphrase is close in absolute terms (> 0.6)")
        check(c[sunday, bread] < 0.35, "the bread question is far from the Sunday one (< 0.35)")
        check(c[coeliac, cakes] > c[coeliac, where], "coeliac is closer to gluten-free cakes than to where the shop is")

        # The published similarity matrix for this model (sentence-transformers' quickstart).
        ref = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
        r = embed(base, ref)
        got = [round(cos(r[0], r[1]), 4), round(cos(r[0], r[2]), 4), round(cos(r[1], r[2]), 4)]
        want = [0.6660, 0.1046, 0.1411]
        check(all(abs(g - w) < 1e-3 for g, w in zip(got, want)),
              f"reproduces the published similarities {want} (got {got})")

        # Batching pads to the longest input; every vector must match the sentence sent alone.
        batch_texts = ["hi", sunday, "Can I order a birthday cake for Saturday with my daughter's name on it "
                       "in blue icing, and do you deliver to the next town over on weekends?", "long " * 400]
        together = embed(base, batch_texts)
        diff = max(abs(x - y) for t, row in zip(batch_texts, together) for x, y in zip(row, embed(base, [t])[0]))
        check(diff < 1e-5, f"a padded batch gives each sentence's own vector (max abs diff {diff:.1e})")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
