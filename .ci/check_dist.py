"""Check what ``python -m build`` put in dist/: one wheel and one sdist, with everything in them.

The wheel must hold every module of every package of the source tree (each folder of
``skgmje/`` with an ``__init__.py``, such as ``skgmje/nn``) and the LICENSE under its
``.dist-info/licenses/``; the sdist must hold the LICENSE too. Prints the wheel's size and
files, and exits non-zero with the missing paths otherwise.

    python .ci/check_dist.py DIST_FOLDER REPOSITORY
"""

import sys
import tarfile
import zipfile
from pathlib import Path


def main(dist, repository):
    dist, repository = Path(dist), Path(repository)
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        return f"expected one wheel and one sdist in {dist}; found {wheels + sdists}"
    wheel, sdist = wheels[0], sdists[0]
    with zipfile.ZipFile(wheel) as archive:
        entries = archive.infolist()
    names = {entry.filename for entry in entries}
    print(f"{wheel.name}: {wheel.stat().st_size / 1024:.1f} KiB, {len(entries)} files")
    for entry in entries:
        print(f"  {entry.file_size:>8}  {entry.filename}")

    packages = sorted(
        path.parent.relative_to(repository)
        for path in (repository / "skgmje").rglob("__init__.py")
        if "__pycache__" not in path.parts
    )
    modules = sorted(
        path.relative_to(repository).as_posix()
        for package in packages
        for path in (repository / package).glob("*.py")
    )
    missing = [module for module in modules if module not in names]
    dist_info = next((name.split("/")[0] for name in names if ".dist-info/" in name), None)
    if dist_info is None or f"{dist_info}/licenses/LICENSE" not in names:
        missing.append("<name>.dist-info/licenses/LICENSE")
    with tarfile.open(sdist) as archive:
        sdist_names = archive.getnames()
    if not any(name.count("/") == 1 and name.endswith("/LICENSE") for name in sdist_names):
        missing.append(f"LICENSE in {sdist.name}")
    print(f"packages in the source tree: {', '.join(p.as_posix() for p in packages)}")
    if missing:
        return "missing from the distributions: " + ", ".join(missing)
    print(
        f"every one of the {len(modules)} modules and the LICENSE are in the wheel; "
        "the LICENSE is in the sdist"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
