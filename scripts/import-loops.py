#!/usr/bin/env python3
"""Finds import loops between sibling modules of each crate (`make lint` runs it).

For every folder of a crate, the nodes are its direct children (a file, or a sub-folder with
everything below it) plus the folder's own `mod.rs`/`lib.rs`. A child that names an item of
a sibling (`use crate::a::b`, `super::b`, `crate::a::b::f()`) depends on that sibling. Any
strongly connected group of two or more siblings is a loop: the floors within the crate are
no longer one-way. `#[cfg(test)]` modules in their own files are skipped (tests may reach
anywhere). Prints each loop with one edge that forms it, and exits 1 when any exists.

Usage: scripts/import-loops.py [--report] [CRATE_DIR ...]
"""
import os
import re
import sys

CRATES = ["core", "engine", "app", "runner-image", "frontend"]
PATH_RE = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP_RE = re.compile(r"\buse\s+(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{", re.S)


def module_files(src):
    """Maps module path tuples to file paths, for every .rs under src."""
    mods = {}
    for root, _dirs, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(root, name), src)
            parts = rel[:-3].split(os.sep)
            if parts[-1] in ("mod", "lib", "main"):
                parts = parts[:-1]
            mods[tuple(parts)] = os.path.join(root, name)
    return mods


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def referenced_paths(text):
    """Yields (anchor, [segments]) for each crate/super/self path, expanding `use x::{a, b::c}`."""
    for m in PATH_RE.finditer(text):
        yield m.group(1), [s for s in m.group(2).split("::") if s]
    for m in USE_GROUP_RE.finditer(text):
        prefix = [s for s in m.group(2).split("::") if s]
        depth, i, start = 1, m.end(), m.end()
        items = []
        while i < len(text) and depth:
            c = text[i]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            if depth == 1 and c == "," or depth == 0:
                items.append(text[start:i])
                start = i + 1
            i += 1
        for item in items:
            first = item.strip().split("::")[0].split(" ")[0].strip("{} \n")
            if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", first) and first != "self":
                yield m.group(1), prefix + [first]


def resolve(module, is_folder_module, anchor, segs, mods):
    """The module path (tuple) a reference lands in: the longest existing module prefix."""
    if anchor == "crate":
        base = []
    else:
        base = list(module) if is_folder_module else list(module[:-1])
        if anchor == "super":
            base = base[:-1] if is_folder_module else base
            if not is_folder_module:
                pass
        while segs and segs[0] == "super":
            base = base[:-1]
            segs = segs[1:]
        if anchor == "self":
            base = list(module)
    full = base + segs
    for n in range(len(full), -1, -1):
        if tuple(full[:n]) in mods:
            return tuple(full[:n])
    return tuple()


def is_test_file(text):
    head = text.lstrip()
    return head.startswith("//! Tests") or "\n#![cfg(test)]" in text or head.startswith("#![cfg(test)]")


def loops_in(crate_dir):
    src = os.path.join(crate_dir, "src")
    mods = module_files(src)
    edges = set()
    for module, path in mods.items():
        text = strip_comments(open(path, encoding="utf-8").read())
        if is_test_file(text):
            continue
        # Inline test modules reach anywhere; cut them off.
        text = re.split(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)[0]
        folder_module = os.path.basename(path) in ("mod.rs", "lib.rs", "main.rs")
        for anchor, segs in referenced_paths(text):
            if anchor == "super" and not folder_module:
                # `super` of a file module is its parent folder's module.
                target = resolve(module[:-1], True, "self", segs, mods)
            elif anchor == "super":
                target = resolve(module[:-1], True, "self", segs, mods)
            elif anchor == "self":
                target = resolve(module, True, "self", segs, mods)
            else:
                target = resolve((), True, "crate", segs, mods)
            if target != module:
                edges.add((module, target))
    found = []
    folders = {m[:-1] for m in mods if m} | {()}
    for folder in sorted(folders):
        def child(m):
            if m[: len(folder)] != folder:
                return None
            return m[len(folder)] if len(m) > len(folder) else "<mod>"
        graph = {}
        witness = {}
        for a, b in edges:
            ca, cb = child(a), child(b)
            if ca is None or cb is None or ca == cb:
                continue
            graph.setdefault(ca, set()).add(cb)
            witness.setdefault((ca, cb), (a, b))
        for scc in strongly_connected(graph):
            if len(scc) > 1:
                found.append((folder, sorted(scc), graph, witness))
    return found


def strongly_connected(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    nodes = set(graph) | {b for bs in graph.values() for b in bs}

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    crates = args or [os.path.join(root, c) for c in CRATES]
    total = 0
    for crate in crates:
        for folder, scc, graph, witness in loops_in(crate):
            total += 1
            where = "/".join(folder) or "<crate root>"
            print(f"{os.path.basename(os.path.normpath(crate))}: loop in {where}: {' <-> '.join(scc)}")
            members = set(scc)
            for a in scc:
                for b in sorted(graph.get(a, ())):
                    if b in members:
                        src, dst = witness[(a, b)]
                        print(f"    {'::'.join(src) or 'crate'} uses {'::'.join(dst) or 'crate'}")
    print(f"import loops: {total}")
    sys.exit(1 if total else 0)


if __name__ == "__main__":
    main()
