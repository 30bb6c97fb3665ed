"""`python -m service_kit`: run the app whose package SERVICE_PACKAGE names, as `python -m
<package>` would (the image's command: apps/Dockerfile sets SERVICE_PACKAGE from its PACKAGE
build argument, since an exec-form CMD cannot expand one)."""

import os
import runpy
import sys

PACKAGE_VARIABLE = "SERVICE_PACKAGE"


def main() -> int:
    package = os.environ.get(PACKAGE_VARIABLE, "").strip()
    if not package.isidentifier():
        print(f"{PACKAGE_VARIABLE} must name the app's package, not {package!r}", file=sys.stderr)
        return 2
    runpy.run_module(package, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
