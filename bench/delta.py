#!/usr/bin/env python
"""Reads pipec's Delta and plain tables for bench/run's Delta stage, with
the `deltalake` package and pyarrow: never through pipec.

Usage:
  delta.py rows FORMAT TABLE_DIR EXPECTED   exits 1 unless the table (plain
                                            or delta) holds EXPECTED rows
  delta.py files DATA_DIR...                prints `NAME VALUE` lines: each
                                            table's live files, bytes and
                                            (Delta) commits
  delta.py compacted TABLE_DIR MIN_COMMITS TARGET_BYTES EXPECTED_ROWS
                                            after `pipec compact`: exits 1
                                            unless the rows are all there,
                                            the log has an OPTIMIZE commit
                                            and at least MIN_COMMITS
                                            commits; prints the files per
                                            partition directory against
                                            the target size's bound
  delta.py blobs COUNT                      COUNT JSON events of about 1 KB
                                            of random text, for
                                            bench/compaction.pipe
"""
import base64
import json
import math
import os
import random
import sys
from collections import defaultdict


def is_delta(path):
    return os.path.isdir(os.path.join(path, "_delta_log"))


def count_rows(fmt, path):
    if fmt == "delta":
        from deltalake import DeltaTable

        return DeltaTable(path).to_pyarrow_dataset().count_rows()
    import pyarrow.dataset as ds

    # pyarrow skips names starting with `.` or `_`: hidden files of
    # writes not yet committed are not rows.
    return ds.dataset(path, format="parquet").count_rows()


def live_files(path):
    """(relative path, bytes) of the files a reader reads now."""
    if is_delta(path):
        from deltalake import DeltaTable

        import pyarrow as pa

        actions = pa.table(DeltaTable(path).get_add_actions(flatten=True)).to_pydict()
        return list(zip(actions["path"], actions["size_bytes"]))
    files = []
    for root, dirs, names in os.walk(path):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        for name in names:
            if name.endswith(".parquet") and not name.startswith((".", "_")):
                full = os.path.join(root, name)
                files.append((os.path.relpath(full, path), os.path.getsize(full)))
    return files


def files(data_dirs):
    for data_dir in data_dirs:
        prefix = os.path.basename(data_dir.rstrip("/")).replace("-", "_")
        for table in sorted(os.listdir(data_dir)):
            path = os.path.join(data_dir, table)
            if not os.path.isdir(path) or table.startswith((".", "_")) or table in ("checkpoints", "dead_letters"):
                continue
            live = live_files(path)
            print(f"{prefix}_{table}_files {len(live)}")
            print(f"{prefix}_{table}_bytes {sum(size for _, size in live)}")
            if is_delta(path):
                from deltalake import DeltaTable

                print(f"{prefix}_{table}_commits {DeltaTable(path).version() + 1}")


def compacted(path, min_commits, target, expected):
    from deltalake import DeltaTable

    table = DeltaTable(path)
    rows = table.to_pyarrow_dataset().count_rows()
    operations = [c.get("operation") for c in table.history()]
    commits = table.version() + 1
    by_directory = defaultdict(list)
    for file, size in live_files(path):
        by_directory[os.path.dirname(file)].append(size)
    worst = max(
        (len(sizes), math.ceil(sum(sizes) / target), directory or ".")
        for directory, sizes in by_directory.items()
    )
    name = os.path.basename(path.rstrip("/"))
    print(
        f"{name}: {rows} rows, {commits} commits, {operations.count('OPTIMIZE')} OPTIMIZE; "
        f"{sum(map(len, by_directory.values()))} live files in {len(by_directory)} directories, "
        f"at most {worst[0]} in one ({worst[2]}: the target size allows {worst[1]})"
    )
    failures = []
    if rows != expected:
        failures.append(f"{rows} rows, expected {expected}")
    if "OPTIMIZE" not in operations:
        failures.append("no OPTIMIZE commit in the log")
    if commits < min_commits:
        failures.append(f"{commits} commits, expected at least {min_commits}")
    for directory, sizes in by_directory.items():
        allowed = max(1, math.ceil(sum(sizes) / target))
        if len(sizes) > allowed:
            # Reported, not fatal: a layout short of its goal is a figure.
            print(f"{name}: {directory or '.'} has {len(sizes)} files; the target size allows {allowed}")
    if failures:
        sys.exit(f"delta.py: {name}: " + "; ".join(failures))


def blobs(count):
    rng = random.Random(25)
    out = sys.stdout
    for i in range(count):
        payload = base64.b64encode(rng.randbytes(750)).decode()
        out.write(json.dumps({"id": f"blob-{i:09d}", "payload": payload}) + "\n")


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "rows":
        fmt, path, expected = args
        rows = count_rows(fmt, path)
        if rows != int(expected):
            sys.exit(f"delta.py: {path} holds {rows} rows, expected {expected}")
    elif command == "files":
        files(args)
    elif command == "compacted":
        compacted(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif command == "blobs":
        blobs(int(args[0]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
