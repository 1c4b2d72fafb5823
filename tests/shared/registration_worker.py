"""One process of the concurrency test: registers a range of people at once, then exits.

Usage: python -m tests.shared.registration_worker DATABASE_URL PROGRAM FIRST LAST
"""

from __future__ import annotations

import asyncio
import sys

from shared.app import Roundtable
from shared.program import load_program
from shared.settings import Settings
from tests.support import person


async def main(url: str, program_path: str, first: int, last: int) -> None:
    settings = Settings(_env_file=None, database_url=url)
    core = await Roundtable.open(settings, program=load_program(program_path), upgrade=False)
    try:
        replies = await asyncio.gather(
            *(core.register(person(f"p{i:03d}"), "workshop") for i in range(first, last))
        )
        failed = [r.text for r in replies if not r.ok]
        if failed:
            raise SystemExit(f"refused: {failed[:3]}")
    finally:
        await core.close()


if __name__ == "__main__":
    url, path, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    asyncio.run(main(url, path, first, last))
