"""`python -m bench._emulator_child REGION`: the emulator in a process of its own.

Prints the emulator's environment as one JSON line on stdout once it answers,
then serves until its stdin closes (the parent leaving), and stops.
"""

from __future__ import annotations

import json
import sys

from runbook.demo.emulator import Emulator


def main() -> None:
    region = sys.argv[1] if len(sys.argv) > 1 else "us-east-1"
    with Emulator(region=region) as emu:
        print(json.dumps(emu.environ()), flush=True)
        sys.stdin.read()  # until EOF


if __name__ == "__main__":
    main()
