"""Run standalone:  python -m orbit_pipelines.local.veryfi_emulator --port 8765"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Optional

from orbit_pipelines.local.veryfi_emulator.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_CLIENT_ID,
    DEFAULT_USERNAME,
    VeryfiEmulator,
)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run the local Veryfi API EMULATOR (not Veryfi).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--username", default=DEFAULT_USERNAME)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--client-secret", default=None)
    parser.add_argument("--strict-signatures", action="store_true")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each process call")
    parser.add_argument("--posts-per-second", type=int, default=None, help="account limit: 429 beyond it")
    parser.add_argument("--posts-per-minute", type=int, default=None, help="account limit: 429 beyond it")
    parser.add_argument("--requests-per-second", type=int, default=None, help="account limit: 429 beyond it")
    args = parser.parse_args(argv)
    emulator = VeryfiEmulator(
        args.host,
        args.port,
        args.client_id,
        args.username,
        args.api_key,
        client_secret=args.client_secret,
        strict_signatures=args.strict_signatures,
    )
    emulator.faults.latency = args.latency
    emulator.set_rate_limit(args.posts_per_second, args.posts_per_minute, args.requests_per_second)
    emulator.start()
    print("Veryfi API EMULATOR (local stand-in, not the real Veryfi service)")
    print(f"  base URL:      {emulator.base_url}")
    print(f"  documents:     {emulator.documents_url}")
    print(f"  CLIENT-ID:     {emulator.client_id}")
    print(f"  username:      {emulator.username}")
    print(f"  API key:       {emulator.api_key}")
    if any(emulator.limiter.limits.windows("POST")):
        print(f"  rate limits:   {emulator.limiter.limits} (429 with Retry-After beyond them)")
    if emulator.client_secret:
        print(
            f"  client secret: {emulator.client_secret}"
            f" ({'strict' if emulator.strict_signatures else 'shape-checked'} signatures)"
        )
    print("Press Ctrl+C to stop.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
