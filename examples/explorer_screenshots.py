"""Screenshots of the demo's explorer page (docs/images/explore_*.png), in headless Chromium.

    anycapture demo --out anycapture-demo
    python examples/explorer_screenshots.py anycapture-demo/index.html docs/images

Needs playwright and a chromium on PATH (Debian's ``chromium``); no browser is downloaded.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def main(index: Path, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("no chromium on PATH (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 900}, device_scale_factor=1)
        page.goto(index.resolve().as_uri())
        page.wait_for_function("window.anycapture && anycapture.ids().length === 2")
        text, vision = page.evaluate("anycapture.ids()")
        shots = [
            (text, "explore_tokens.png", {"view": "tokens", "layer": 2, "head": "mean", "query": 4, "all_heads": True}),
            (text, "explore_matrix.png", {"view": "matrix", "layer": 2, "head": 5, "query": 4}),
            (text, "explore_model.png", {"view": "model", "layer": 2, "head": 5}),
            (vision, "explore_patches.png", {"view": "patches", "head": "rollout", "query": 0, "scale": "row"}),
        ]
        for explorer, name, state in shots:
            page.evaluate("([id, s]) => anycapture.get(id).select(s)", [explorer, state])
            page.wait_for_timeout(100)
            page.locator(f"#{explorer}").screenshot(path=str(out / name))
            print(f"wrote {out / name}")
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
