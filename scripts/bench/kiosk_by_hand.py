"""The kiosk's E2E run as a user types it without the xtask (the benchmark's contender, not a test):
a fresh SQLite database migrated and seeded by the project's own script, the API and the front server
started by hand on fixed ports and polled until they answer, `npx playwright test` with the given
arguments, then both servers stopped. Playwright's JSON report says how many tests ran and failed:
the script fails when not every test ran or no browser was found, and writes the number that failed to
the file BENCH_FAILED names.

    python3 kiosk_by_hand.py PROJECT PYTHON TESTS [PLAYWRIGHT ARGS...]
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

API_PORT, WEB_PORT = 18431, 18432


def wait(url, process, deadline=60):
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer within {deadline} s")


def main(project, python, tests, args):
    began = time.perf_counter()
    api, web = project / "api", project / "web"
    env = {**os.environ, "RATELIMIT_ENABLE": "false", "E2E_TEST_MODE": "true"}
    (api / "db.sqlite3").unlink(missing_ok=True)
    for step in (["manage.py", "migrate", "--noinput", "-v", "0"], ["scripts/seed.py"]):
        subprocess.run([python, *step], cwd=api, env=env, check=True, stdout=subprocess.DEVNULL)
    servers = [
        subprocess.Popen([python, "manage.py", "runserver", f"127.0.0.1:{API_PORT}", "--noreload"], cwd=api, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True),
        subprocess.Popen(["node", "serve.mjs", "--port", str(WEB_PORT)], cwd=web,
                         env={**env, "API_TARGET": f"http://127.0.0.1:{API_PORT}"},
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True),
    ]
    try:
        wait(f"http://127.0.0.1:{API_PORT}/api/health/", servers[0])
        wait(f"http://127.0.0.1:{WEB_PORT}/", servers[1])
        ready = time.perf_counter() - began
        report = project / "target" / "by-hand.json"
        report.unlink(missing_ok=True)
        code = subprocess.run(["npx", "playwright", "test", "--reporter=json", *args], cwd=web,
                              env={**env, "E2E_BASE_URL": f"http://127.0.0.1:{WEB_PORT}",
                                   "PLAYWRIGHT_JSON_OUTPUT_NAME": str(report)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait()
    text = report.read_text()
    if "Executable doesn't exist" in text:
        raise SystemExit("Playwright found no browser: set PLAYWRIGHT_BROWSERS_PATH")
    stats = json.loads(text)["stats"]
    ran, failed = stats["expected"] + stats["unexpected"] + stats["flaky"], stats["unexpected"]
    print(f"servers ready after {ready:.2f} s; {ran} tests ran, {failed} failed; playwright exited {code}")
    if os.environ.get("BENCH_FAILED"):
        Path(os.environ["BENCH_FAILED"]).write_text(str(failed))
    return 0 if ran == tests else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4:]))
