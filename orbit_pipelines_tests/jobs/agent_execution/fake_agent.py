"""A stand-in coding agent for the tests. Its prompt (last argument, `--prompt-file PATH`, or stdin)
holds a line `FAKE-AGENT: <behaviour>`:

    succeed      writes <category>.txt (the prompt's first line) into the working directory, exit 0
    fail         says why on stderr and exits 3 (a clean non-zero exit: the agent's answer)
    hang         ignores SIGTERM, starts a child in its process group, sleeps; both write their pids
    crash        kills itself with SIGKILL
    crash-once   crashes the first time (leaves a marker in the workdir), succeeds the next
    fail-until-fixed  like fail, until a file `fixed` exists in the working directory; then succeed
    flood        prints 100,000 lines (about 6 MB) and succeeds
    read-secret  writes the environment it got to env.json and succeeds
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path


def read_prompt() -> str:
    if "--prompt-file" in sys.argv:
        return Path(sys.argv[sys.argv.index("--prompt-file") + 1]).read_text()
    if len(sys.argv) > 1:
        return sys.argv[-1]
    return sys.stdin.read()


def succeed(prompt: str, category: str) -> None:
    Path(f"{category.lower()}.txt").write_text(prompt.splitlines()[0] + "\n")
    print(f"wrote {category.lower()}.txt")


def main() -> int:
    prompt = read_prompt()
    found = re.search(r"FAKE-AGENT: ([\w-]+)", prompt)
    behaviour = found.group(1) if found else "succeed"
    category = os.environ.get("ORBIT_PROMPT_CATEGORY", "PROMPT")
    print(f"fake agent: {behaviour} for {category}", flush=True)
    if behaviour == "succeed":
        succeed(prompt, category)
    elif behaviour == "fail":
        print("cannot do this: the schema conflicts with the existing migration", file=sys.stderr)
        return 3
    elif behaviour == "hang":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        Path("hang.pids").write_text(f"{os.getpid()} {child.pid}\n")
        print("thinking...", flush=True)
        time.sleep(600)
    elif behaviour == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    elif behaviour == "crash-once":
        marker = Path(f".crashed-{category}")
        if not marker.exists():
            marker.write_text("once\n")
            os.kill(os.getpid(), signal.SIGKILL)
        succeed(prompt, category)
    elif behaviour == "fail-until-fixed":
        if not Path("fixed").exists():
            print("the build is broken; fix it first", file=sys.stderr)
            return 3
        succeed(prompt, category)
    elif behaviour == "flood":
        out = sys.stdout
        for n in range(100_000):
            out.write(f"flood line {n:06d} of the fake agent's very long output\n")
        print("flood done")
    elif behaviour == "read-secret":
        Path("env.json").write_text(json.dumps(dict(os.environ)))
        print(f"secret visible: {'ORBIT_TEST_AGENT_SECRET' in os.environ}")
    else:
        print(f"unknown behaviour {behaviour}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
