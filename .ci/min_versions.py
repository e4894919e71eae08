"""The `>=` floors that setup.cfg declares, as exact pins (used by min_versions.sh).

    python .ci/min_versions.py setup.cfg          # prints name==version lines
    python .ci/min_versions.py setup.cfg --check  # exits 1 unless installed == floors

Only the packages whose floors CI verifies are read: keras, tensorflow and numpy
from install_requires, keras-tuner from the `tune` extra. Each must carry a
`>=` floor that names a real release (e.g. `tensorflow>=2.16.1`, not `>=2.16`,
which pip would read as the non-existent 2.16.0).
"""

import configparser
import re
import sys
from importlib import metadata

CHECKED = {
    # setup.cfg name: (section key, name installed in the job)
    "keras": ("install_requires", "keras"),
    "tensorflow": ("install_requires", "tensorflow-cpu"),
    "numpy": ("install_requires", "numpy"),
    "keras-tuner": ("tune", "keras-tuner"),
}


def floors(path):
    config = configparser.ConfigParser()
    if not config.read(path):
        raise SystemExit(f"{path}: not found")
    lines = {
        "install_requires": config["options"]["install_requires"],
        "tune": config["options.extras_require"]["tune"],
    }
    found = {}
    for name, (section, installed) in CHECKED.items():
        pattern = rf"^\s*{re.escape(name)}\s*>=\s*([0-9][0-9.]*)\s*(?:#.*)?$"
        match = re.search(pattern, lines[section], flags=re.MULTILINE)
        if match is None:
            raise SystemExit(
                f"{path}: no `{name}>=VERSION` line in {section}; "
                "the minimum-versions job needs every checked package to have a floor"
            )
        found[installed] = match.group(1)
    return found


def main(argv):
    path = argv[1] if len(argv) > 1 else "setup.cfg"
    wanted = floors(path)
    if "--check" not in argv:
        for name, version in wanted.items():
            print(f"{name}=={version}")
        return 0
    wrong = []
    for name, version in wanted.items():
        got = metadata.version(name)
        if got != version:
            wrong.append(f"{name} {got} (floor {version})")
    if wrong:
        print("not at the declared floor: " + ", ".join(wrong), file=sys.stderr)
        return 1
    print("installed at the floors: " + ", ".join(f"{n} {v}" for n, v in wanted.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
