#!/usr/bin/python3
"""The layers point one way: every #include "FOLDER/..." in a layer's sources, and every xbar
library a layer's CMake targets link, is of a layer at or below its own, in the order of the
README's layout table (base/ at 1 ... python/ at 12). The order is read from that table, so the
README and this check cannot drift apart.

    check_layers.py SOURCE_DIR [--dot GRAPH.dot]

--dot also checks the arrows of `cmake --graphviz=GRAPH.dot` (a target -> what it links).
Prints every arrow that points up and exits 1 if there is one.
"""
import argparse
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"/]+)/', re.M)
TARGET = re.compile(r"\b(?:add_library|add_executable|pybind11_add_module)\(\s*([\w-]+)")
LINKS = re.compile(r"\btarget_link_libraries\(\s*([\w-]+)([^)]*)\)", re.S)
SOURCES = (".cpp", ".hpp", ".h", ".hpp.in")


def layer_order(readme):
    """folder -> layer number, from the README's layout table rows `| N | `folder/` | ... |`."""
    with open(readme, encoding="utf-8") as f:
        rows = re.findall(r"^\|\s*(\d+)\s*\|\s*`([\w-]+)/`\s*\|", f.read(), re.M)
    if not rows:
        sys.exit(f"check_layers: {readme}: no layout table rows '| N | `folder/` | ... |'")
    return {folder: int(n) for n, folder in rows}


def targets_and_links(source_dir, order):
    """target -> folder, and (target, linked target) pairs, from each layer's CMakeLists.txt."""
    owner, links = {}, []
    for folder in order:
        path = os.path.join(source_dir, folder, "CMakeLists.txt")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            text = re.sub(r"#.*", "", f.read())
        owner.update({t: folder for t in TARGET.findall(text)})
        links += [(t, dep) for t, deps in LINKS.findall(text) for dep in deps.split()]
    return owner, links


def upward(order, lower_folder, upper_folder):
    return order[lower_folder] > order[upper_folder]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source_dir")
    ap.add_argument("--dot", help="a `cmake --graphviz` file to check as well")
    args = ap.parse_args()
    order = layer_order(os.path.join(args.source_dir, "README.md"))
    wrong, files, arrows = [], 0, 0
    for folder in order:
        for root, _, names in os.walk(os.path.join(args.source_dir, folder)):
            for name in sorted(n for n in names if n.endswith(SOURCES)):
                path = os.path.join(root, name)
                files += 1
                with open(path, encoding="utf-8") as f:
                    for included in INCLUDE.findall(f.read()):
                        if included in order and upward(order, included, folder):
                            wrong.append(f"{os.path.relpath(path, args.source_dir)} (layer {order[folder]}) "
                                         f"includes {included}/ (layer {order[included]})")
    owner, links = targets_and_links(args.source_dir, order)
    if args.dot:
        with open(args.dot, encoding="utf-8") as f:
            dot = f.read()
        names = dict(re.findall(r'"(node\d+)"\s*\[\s*label\s*=\s*"([^"]+)"', dot))
        links = [(names[a], names[b]) for a, b in re.findall(r'"(node\d+)"\s*->\s*"(node\d+)"', dot)]
    for target, dep in links:
        if target in owner and dep in owner:
            arrows += 1
            if upward(order, owner[dep], owner[target]):
                wrong.append(f"target {target} ({owner[target]}/, layer {order[owner[target]]}) links {dep} "
                             f"({owner[dep]}/, layer {order[owner[dep]]})")
    for line in wrong:
        print(f"check_layers: upward: {line}")
    print(f"check_layers: {files} source files and {arrows} library arrows of {len(order)} layers: "
          f"{len(wrong)} pointing up")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
